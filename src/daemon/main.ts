// `clusterd`: create a cluster (init) or run a node in the foreground (start).
// Settings come from flags, or a YAML/JSON file given with --config (flags win); they are
// validated once, all errors at once, then frozen.

import { performance as perfHooks } from 'node:perf_hooks';
import { Command, InvalidArgumentError } from 'commander';
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { createRequire } from 'node:module';
import { hostname, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { z } from 'zod';
import { applyUpdate, checkName } from '../core/config.js';
import { logReadMax } from '../core/limits.js';
import { ClusterError, clusterError, ok, type Result } from '../core/errors.js';
import { judgeEtcdTiming, timingDefaults, validateTiming, type Timing } from '../core/timing.js';
import { admissionDefaults, eventStreamDefaults, httpDefaults, startApi, type ApiSecurity } from '../api/server.js';
import {
  authFiles, createAuthDir, createCa, credentialPath, defaultAuthDir, issueNodeCert, listCredentialFiles, mkdirPrivate, newToken, parseCredentialFile,
  tokenSha256, writeCredentialFile, writePrivate,
} from '../api/auth-files.js';
import { tlsFetch } from '../api/tls-fetch.js';
import { agentCheckPeer } from '../api/agent-check-routes.js';
import { MonitorClient } from '../monitor/client.js';
import { leadsSession, raiseSessionGroup, sessionGroupNice, setThreadNice, threadNice } from '../monitor/priority.js';
import { monoMs } from '../monitor/protocol.js';
import { parseQuorumSpec, openStore, storeOptionsFromEnv, type QuorumSpec, type StoreOptions } from '../store/index.js';
import type { QuorumStore } from '../store/types.js';
import { checkpointingDefaults } from '../core/checkpoint-policy.js';
import { ClusterNode, type Clock } from '../node/node.js';
import { LocalDb } from '../node/local-db.js';
import { youngGenerationFor } from '../node/heap-flags.js';
import { startMemoryRelease } from '../node/memory-release.js';
import { quorumLogCommand, rebuildUnopenableStore } from '../node/quorum-log.js';
import { clearSectorCommand, type ClearSectorOptions } from '../node/disk-command.js';
import { etcdTimingCheck } from '../store/etcd.js';
import { readEtcdRaftTiming } from '../store/etcd-timing.js';
import { workerHeartbeat } from '../node/heartbeat.js';
import { heartbeatSocketPath, installTestHooks } from '../node/test-hooks.js';
import { migrateStore } from '../store/migrate.js';
import { notifySystemd } from './systemd.js';
import { exitStatusOf } from './start-env.js';
import { clusterdVersion } from '../core/version.js';
import { securePrivateDir, tightenModes } from '../store/secure-dir.js';

/** Where a node keeps its data when --data-dir is not given (deploy/'s unit: StateDirectory=clusterd). */
export const defaultDataRoot = '/var/lib/clusterd';

/**
 * Everything clusterd writes is its own: files 0600, directories 0700 (SQLite's -wal and -shm
 * files take the database file's mode). Returns the umask clusterd was started with: resources
 * get that one back (monitor.ts), their files are theirs to share.
 */
function privateUmask(): number {
  return process.umask(0o077);
}

/** Checks a dir: quorum store's directory (init creates it 0700), and tightens what an older clusterd left in it. */
function secureQuorumDir(spec: string, create: boolean): void {
  const parsed = parseQuorumSpec(spec);
  if (!parsed.ok || parsed.value.kind !== 'dir') return;
  const dir = securePrivateDir(parsed.value.path, 'quorum directory', create);
  if (!dir.ok) fail(dir.error);
  tightenModes(dir.value, 1);
}

export const realClock: Clock = {
  nowMs: monoMs, // the host's monotonic clock, which the heartbeat thread and the monitor share
  wallMs: () => Date.now(),
  localHour: () => new Date().getHours(),
  setInterval: (fn, ms) => { const t = setInterval(fn, ms); return () => clearInterval(t); },
  setTimeout: (fn, ms) => { const t = setTimeout(fn, ms); return () => clearTimeout(t); },
  loopBusyMs: () => perfHooks.eventLoopUtilization().active,
};

const settingsSchema = z.object({
  quorum: z.string(),
  node: z.string().default(hostname()),
  listen: z.string().default('127.0.0.1:7400'),
  dataDir: z.string().optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
  /** Where the cluster CA and node token are (default: QUORUM/auth for a dir store). */
  authDir: z.string().optional(),
  /** HTTPS: true, false, or by the listen address (on unless loopback). */
  tls: z.boolean().optional(),
  /** More names (DNS or IP) this node is reached by: its certificate and Host check accept them. */
  tlsNames: z.array(z.string()).default([]),
  /** /metrics needs a viewer credential. */
  metricsAuth: z.boolean().default(false),
  /** etcd's election timeout as the operator set it on the members (checked when a member's command line does not show it). */
  etcdElectionTimeoutMs: z.number().int().positive().optional(),
  timing: z.object({
    heartbeatIntervalMs: z.number().int().positive().default(timingDefaults.heartbeatIntervalMs),
    leaseTtlMs: z.number().int().positive().default(timingDefaults.leaseTtlMs),
    selfFenceMs: z.number().int().positive().default(timingDefaults.selfFenceMs),
    shutdownPendingTimeoutMs: z.number().int().positive().default(timingDefaults.shutdownPendingTimeoutMs),
    decisionStallMs: z.number().int().positive().default(timingDefaults.decisionStallMs),
  }).strict().default({ ...timingDefaults }),
  checkpointing: z.object({
    logResetBytes: z.number().int().min(1024).default(checkpointingDefaults.logResetBytes),
    checkpointIntervalMs: z.number().int().min(1000).default(checkpointingDefaults.checkpointIntervalMs),
  }).strict().default({ ...checkpointingDefaults }),
  eventStream: z.object({
    keepaliveMs: z.number().int().min(100).default(eventStreamDefaults.keepaliveMs),
    stallMs: z.number().int().min(100).default(eventStreamDefaults.stallMs),
    streamsMax: z.number().int().min(1).default(eventStreamDefaults.streamsMax),
  }).strict().default({ ...eventStreamDefaults }),
  admission: z.object({
    writesInFlightMax: z.number().int().min(1).default(admissionDefaults.writesInFlightMax),
    appliesInFlightMax: z.number().int().min(1).default(admissionDefaults.appliesInFlightMax),
  }).strict().default({ ...admissionDefaults }),
  http: z.object({
    requestTimeoutMs: z.number().int().min(100).default(httpDefaults.requestTimeoutMs),
  }).strict().default({ ...httpDefaults }),
}).strict();

export type Settings = z.infer<typeof settingsSchema> & { timing: Timing };

/**
 * An event's data as log fields: group, resource, epoch, code... each a JSON field of its own, so
 * that log tools filter on them. `node` is the logging node (pino's base field): an event's own
 * node field is logged as `subjectNode`.
 */
function eventFields(data: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!data) return {};
  const { node, ...rest } = data;
  return node === undefined ? rest : { ...rest, subjectNode: node };
}

function fail(e: ClusterError): never {
  process.stderr.write(`${e.format()}\n`);
  process.exit(exitStatusOf(e));
}

function intArg(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer of milliseconds');
  return n;
}

export function loadSettings(flags: Record<string, unknown>): Settings {
  let file: Record<string, unknown> = {};
  if (typeof flags.config === 'string') {
    let text: string;
    try { text = readFileSync(flags.config, 'utf8'); } catch (e) {
      fail(clusterError('BAD_CONFIG', `cannot read config file ${flags.config}: ${(e as Error).message}`));
    }
    // The YAML parser is loaded only for a --config file: most nodes start from flags alone.
    const { parse: parseYaml } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
    try { file = (parseYaml(text) ?? {}) as Record<string, unknown>; } catch (e) {
      fail(clusterError('BAD_CONFIG', `config file ${flags.config} is not valid YAML: ${(e as Error).message}`));
    }
  }
  const timing = { ...(file.timing as object ?? {}) } as Record<string, unknown>;
  const map: [string, keyof Timing][] = [['heartbeatInterval', 'heartbeatIntervalMs'], ['leaseTtl', 'leaseTtlMs'], ['selfFence', 'selfFenceMs'], ['shutdownTimeout', 'shutdownPendingTimeoutMs'], ['decisionStall', 'decisionStallMs']];
  for (const [flag, key] of map) if (flags[flag] !== undefined) timing[key] = flags[flag];
  const checkpointing = { ...(file.checkpointing as object ?? {}) } as Record<string, unknown>;
  if (flags.logResetSize !== undefined) checkpointing.logResetBytes = flags.logResetSize;
  if (flags.checkpointInterval !== undefined) checkpointing.checkpointIntervalMs = flags.checkpointInterval;
  const merged = { ...file, timing, checkpointing } as Record<string, unknown>;
  for (const k of ['quorum', 'node', 'listen', 'dataDir', 'logLevel', 'authDir', 'tls', 'metricsAuth']) if (flags[k] !== undefined) merged[k] = flags[k];
  if (flags.etcdElectionTimeout !== undefined) merged.etcdElectionTimeoutMs = flags.etcdElectionTimeout;
  if (flags.tlsName !== undefined) merged.tlsNames = flags.tlsName;
  const parsed = settingsSchema.safeParse(merged);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.') || '(settings)'}: ${i.message}`);
    fail(clusterError('BAD_CONFIG', `invalid settings${flags.config ? ` in ${flags.config}` : ''}: ${lines.join('; ')}`, 'clusterd start --help lists the settings'));
  }
  const t = validateTiming(parsed.data.timing);
  if (!t.ok) fail(t.error);
  const n = checkName('node', parsed.data.node);
  if (!n.ok) fail(n.error);
  return Object.freeze({ ...parsed.data, timing: t.value });
}

/** The machine's address resources see as ${CLUSTERD_NODE_ADDRESS}: the --listen host, unless it is a wildcard. */
function nodeAddress(host: string): { address?: string } {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  return bare === '' || bare === '0.0.0.0' || bare === '::' ? {} : { address: bare };
}

function parseListen(listen: string): { host: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(listen);
  if (!m || Number(m[2]) > 65535) fail(clusterError('BAD_CONFIG', `--listen ${listen} is not HOST:PORT`, 'for example --listen 127.0.0.1:7401'));
  return { host: m[1]!, port: Number(m[2]) };
}

/**
 * The environment clusterd reads, read once and validated like the other settings (its variable
 * names are part of the interface): the fallback data directory's parent, the test switches, and
 * the etcd key prefix; the etcd TLS and auth files (store/etcd-config.ts) are read from it only
 * for an etcd store.
 */
const environmentSchema = z.object({
  TMPDIR: z.string().min(1).optional(),
  CLUSTERD_FREEZE_SNAPSHOTS: z.enum(['', '0', '1']).optional(),
  CLUSTERD_TEST_HOOKS: z.enum(['', '0', '1']).optional(),
  CLUSTERD_ETCD_PREFIX: z.union([z.literal(''), z.string().regex(/^\/(.*\/)?$/, 'must start and end with /')]).optional(),
});

interface Environment {
  tmpDir: string;
  freezeSnapshots: boolean;
  testHooks: boolean;
  /** The whole environment, for the etcd variables (store/index.ts storeOptionsFromEnv, when an etcd store is made). */
  raw: NodeJS.ProcessEnv;
}

let environmentRead: Environment | null = null;

function environment(): Environment {
  if (environmentRead) return environmentRead;
  const raw = process.env;
  const r = environmentSchema.safeParse(raw);
  if (!r.success) {
    fail(clusterError('BAD_CONFIG', `environment: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      'CLUSTERD_FREEZE_SNAPSHOTS and CLUSTERD_TEST_HOOKS take 0 or 1; CLUSTERD_ETCD_PREFIX starts and ends with / (for example /clusterd/prod/)'));
  }
  const e = r.data;
  environmentRead = {
    tmpDir: e.TMPDIR ?? '/tmp', freezeSnapshots: e.CLUSTERD_FREEZE_SNAPSHOTS === '1', testHooks: e.CLUSTERD_TEST_HOOKS === '1', raw,
  };
  return environmentRead;
}

/** The store options the environment gives a store of `spec` (store/index.ts): the etcd prefix, TLS and auth for etcd, nothing for dir. */
function storeOptions(spec: QuorumSpec): StoreOptions {
  try {
    return storeOptionsFromEnv(spec, environment().raw);
  } catch (err) {
    return fail(err instanceof ClusterError ? err : clusterError('BAD_CONFIG', String(err)));
  }
}

async function openOrFail(spec: string): Promise<QuorumStore> {
  const parsed = parseQuorumSpec(spec);
  if (!parsed.ok) fail(parsed.error);
  return openStore(parsed.value, storeOptions(parsed.value));
}

/** Refuse to start if another live clusterd uses this node name: its lease counter still moves. */
async function checkNameFree(store: QuorumStore, node: string, timing: Timing): Promise<void> {
  const first = (await store.readLeases()).find((l) => l.node === node);
  if (!first || first.state === 'stopped' || first.state === 'fenced') return;
  const until = performance.now() + timing.leaseTtlMs;
  while (performance.now() < until) {
    await new Promise((r) => setTimeout(r, timing.heartbeatIntervalMs));
    const now = (await store.readLeases()).find((l) => l.node === node);
    if (now && (now.counter !== first.counter || now.incarnation !== first.incarnation)) {
      fail(clusterError('NODE_NAME_IN_USE', `another clusterd is running as node '${node}' on ${store.location}`, 'stop it first, or pick another --node name'));
    }
  }
}

const loopbackRe = /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/i;
export const isLoopback = (host: string): boolean => loopbackRe.test(host);

/**
 * A new cluster and its trust: the CA and node token in the auth directory, and an admin
 * credential (token shown to nobody else: only its hash goes into the cluster configuration,
 * through the quorum log) in the credential file of the user who ran init.
 */
async function runInit(opts: { quorum: string; cluster: string; authDir?: string; endpoints: string; user?: string; authOnly?: boolean }): Promise<void> {
  if (opts.authOnly) return runInitAuthOnly(opts);
  privateUmask();
  const store = await openOrFail(opts.quorum);
  secureQuorumDir(opts.quorum, true);
  const name = checkName('cluster', opts.cluster);
  if (!name.ok) fail(name.error);
  const authDir = resolveAuthDir(opts.quorum, opts.authDir);
  const user = opts.user ?? userInfo().username;
  const userOk = checkName('user', user);
  if (!userOk.ok) fail(userOk.error);
  const r = await store.init(opts.cluster, Date.now());
  if (!r.ok) {
    await store.close();
    if (r.error.code === 'CLUSTER_EXISTS' && !hasAuth(authDir)) {
      fail(clusterError('CLUSTER_EXISTS', `${r.error.message}, without a cluster CA in ${authDir}`, authOnlyHint(opts.quorum, opts.authDir)));
    }
    fail(r.error);
  }
  const token = newToken();
  const appended = await store.appendLog(0, 0, [{ op: 'credential-set', user, role: 'admin', tokenSha256: tokenSha256(token), createdWallMs: Date.now() }]);
  await store.close();
  if (!appended.ok) fail(appended.error);
  try {
    await createAuthDir(authDir, opts.cluster);
  } catch (e) {
    fail(clusterError('BAD_CONFIG', `cannot create the cluster CA in ${authDir}: ${(e as Error).message}`, 'clusterd init needs openssl and a writable auth directory'));
  }
  const file = credentialPath(process.env, opts.cluster);
  const endpoints = opts.endpoints.split(',').map((e) => e.trim()).filter(Boolean);
  writeCredentialFile(file, { cluster: opts.cluster, endpoints, token, role: 'admin', user, ca: readFileSync(join(authDir, authFiles.caCert), 'utf8') });
  process.stdout.write(`created cluster '${opts.cluster}' in ${store.location}\n`
    + `cluster CA and node token: ${authDir} (keep it private)\n`
    + `admin credential for ${user}: ${file} (the cluster CLI finds it by itself)\n`
    + (opts.quorum.startsWith('dir:')
      ? `start nodes on this machine with: clusterd start --quorum ${opts.quorum}${opts.authDir ? ` --auth-dir ${authDir}` : ''} --node NAME --listen 127.0.0.1:PORT\n`
      : `on each machine (after copying the auth directory there, or clusterd cert issue): clusterd start --quorum ${opts.quorum} --auth-dir DIR --node NAME --listen MACHINE_ADDRESS:7400 (HTTPS; see deploy/README.md)\n`));
}

/** Whether `dir` holds any of the cluster's trust (its CA or node token). */
function hasAuth(dir: string): boolean {
  return existsSync(join(dir, authFiles.caCert)) || existsSync(join(dir, authFiles.nodeToken));
}

function authOnlyHint(quorum: string, authDirFlag: string | undefined): string {
  return `a cluster made before clusterd had credentials: with its nodes stopped, run once clusterd init --auth-only --quorum ${quorum}${authDirFlag ? ` --auth-dir ${authDirFlag}` : ''} `
    + '(it makes the CA, the node token and an admin credential for you; groups and resources are left as they are)';
}

/**
 * `clusterd init --auth-only`: the trust of an existing cluster that has none (made before
 * clusterd had credentials): the CA and node token in the auth directory, and an admin
 * credential for the user. The cluster's configuration gains only that credential's hash.
 */
async function runInitAuthOnly(opts: { quorum: string; authDir?: string; endpoints: string; user?: string }): Promise<void> {
  privateUmask();
  const store = await openOrFail(opts.quorum);
  secureQuorumDir(opts.quorum, false);
  const authDir = resolveAuthDir(opts.quorum, opts.authDir);
  const user = opts.user ?? userInfo().username;
  const userOk = checkName('user', user);
  if (!userOk.ok) fail(userOk.error);
  if (hasAuth(authDir)) {
    await store.close();
    fail(clusterError('AUTH_EXISTS', `${authDir} holds the cluster's CA or node token already: --auth-only would replace the trust every node and credential relies on`,
      'to add a user: cluster credentials add USER --role ROLE; to rotate the CA: README, Security (Rotating certificates)'));
  }
  const opened = await store.open();
  if (!opened.ok) { await store.close(); fail(opened.error); }
  const cluster = opened.value.clusterName;
  // The auth directory given may be empty while the cluster's trust lives in another one: a
  // configuration that holds credentials was made with a CA, and a second CA would split it.
  const users = await credentialUsers(store);
  if (!users.ok || users.value.length > 0) {
    await store.close();
    if (!users.ok) fail(users.error);
    fail(clusterError('AUTH_EXISTS', `cluster '${cluster}' in ${store.location} holds credentials already (${users.value.join(', ')}), though ${authDir} holds no CA: its trust lives in another auth directory, and --auth-only would make a second CA that no node or credential trusts`,
      `give --auth-dir with the cluster's auth directory (on a machine that runs its nodes, or a copy of clusterd cert issue); to add a user: cluster credentials add USER --role ROLE`));
  }
  try {
    await createAuthDir(authDir, cluster);
  } catch (e) {
    await store.close();
    fail(clusterError('BAD_CONFIG', `cannot create the cluster CA in ${authDir}: ${(e as Error).message}`, 'clusterd init needs openssl and a writable auth directory'));
  }
  const token = newToken();
  const update = { op: 'credential-set' as const, user, role: 'admin' as const, tokenSha256: tokenSha256(token), createdWallMs: Date.now() };
  // Appended under the current coordinator term after the current head: a node that runs meanwhile can move either, so retry.
  let appended = await store.appendLog((await store.readCoordinator()).term, await store.logHead(), [update]);
  for (let attempt = 0; !appended.ok && (appended.error.code === 'SEQ_CONFLICT' || appended.error.code === 'STALE_TERM') && attempt < 10; attempt++) {
    appended = await store.appendLog((await store.readCoordinator()).term, await store.logHead(), [update]);
  }
  await store.close();
  if (!appended.ok) {
    for (const f of [authFiles.caCert, authFiles.caKey, authFiles.nodeToken]) rmSync(join(authDir, f), { force: true });
    fail(appended.error);
  }
  const file = credentialPath(process.env, cluster);
  const endpoints = opts.endpoints.split(',').map((e) => e.trim()).filter(Boolean);
  writeCredentialFile(file, { cluster, endpoints, token, role: 'admin', user, ca: readFileSync(join(authDir, authFiles.caCert), 'utf8') });
  process.stdout.write(`cluster '${cluster}' in ${store.location} has credentials now; its groups and resources are unchanged\n`
    + `cluster CA and node token: ${authDir} (keep it private)\n`
    + `admin credential for ${user}: ${file} (the cluster CLI finds it by itself)\n`);
}

/** The users with a credential in the cluster's configuration: the store's checkpoint with its log folded in. */
async function credentialUsers(store: QuorumStore): Promise<Result<string[]>> {
  const cp = await store.readCheckpoint();
  if (!cp.ok) return cp;
  let config = cp.value?.config ?? null;
  if (!config) return ok([]);
  for (let after = cp.value!.seq; ;) {
    const page = await store.readLog(after, logReadMax);
    if (!page.ok) return page;
    for (const r of page.value) {
      const next = applyUpdate(config, r.update);
      if (next.ok) config = next.value;
    }
    if (page.value.length < logReadMax) break;
    after = page.value[page.value.length - 1]!.seq;
  }
  return ok(Object.keys(config.credentials ?? {}).sort());
}

function resolveAuthDir(quorum: string, flag: string | undefined): string {
  const dir = flag ?? defaultAuthDir(quorum);
  if (!dir) fail(clusterError('BAD_CONFIG', `the quorum store ${quorum} has no place for the cluster CA`, 'give --auth-dir DIR (a private directory on this machine; see README, Security)'));
  return resolve(dir);
}

function readAuth(dir: string, file: string): string {
  try {
    return readFileSync(join(dir, file), 'utf8');
  } catch (e) {
    fail(clusterError('BAD_CONFIG', `cannot read ${join(dir, file)}: ${(e as Error).message}`,
      'clusterd init creates the auth directory (QUORUM/auth for a dir store); on another machine copy the files of clusterd cert issue and give --auth-dir DIR'));
  }
}

/** What the API needs for authentication and TLS, from the auth directory; refuses a non-loopback listen without TLS. */
async function apiSecurity(s: Settings, listenHost: string, dataDir: string): Promise<ApiSecurity> {
  const authDir = resolveAuthDir(s.quorum, s.authDir);
  if (!hasAuth(authDir)) {
    fail(clusterError('AUTH_MISSING', `${authDir} holds no cluster CA and no node token: this node cannot authenticate requests`,
      `${authOnlyHint(s.quorum, s.authDir)}; a node on another machine: copy there the directory clusterd cert issue writes and give --auth-dir DIR`));
  }
  const nodeToken = readAuth(authDir, authFiles.nodeToken).trim();
  const ca = readAuth(authDir, authFiles.caCert);
  const loopback = isLoopback(listenHost);
  const tlsOn = s.tls ?? !loopback;
  if (!tlsOn && !loopback) {
    fail(clusterError('TLS_REQUIRED', `--listen ${s.listen} is not a loopback address and TLS is off: tokens would cross the network in clear`,
      'drop --no-tls (nodes serve HTTPS with a certificate of the cluster CA), or listen on 127.0.0.1'));
  }
  const auth = { nodeToken, names: s.tlsNames, metricsAuth: s.metricsAuth };
  if (!tlsOn) return { auth, tls: null, nodeFetch: tlsFetch({ ca }) };
  let key: string;
  let cert: string;
  if (existsSync(join(authDir, authFiles.nodeCert)) && existsSync(join(authDir, authFiles.nodeKey))) {
    key = readAuth(authDir, authFiles.nodeKey);
    cert = readAuth(authDir, authFiles.nodeCert);
  } else if (existsSync(join(authDir, authFiles.caKey))) {
    const tlsDir = join(dataDir, 'tls');
    mkdirPrivate(tlsDir);
    const names = ['localhost', s.node, ...s.tlsNames.filter((n) => !isIp(n))];
    const ips = ['127.0.0.1', '::1', ...(isIp(listenHost) && listenHost !== '0.0.0.0' && listenHost !== '::' ? [listenHost] : []), ...s.tlsNames.filter(isIp)];
    if (!isIp(listenHost)) names.push(listenHost);
    try {
      await issueNodeCert(authDir, s.node, names, ips, join(tlsDir, 'node.key'), join(tlsDir, 'node.crt'));
    } catch (e) {
      fail(clusterError('TLS_NOT_CONFIGURED', `cannot issue this node's certificate from the CA in ${authDir}: ${(e as Error).message}`, 'check that openssl is installed and the auth directory is readable'));
    }
    key = readFileSync(join(tlsDir, 'node.key'), 'utf8');
    cert = readFileSync(join(tlsDir, 'node.crt'), 'utf8');
  } else {
    fail(clusterError('TLS_NOT_CONFIGURED', `TLS is on but ${authDir} has neither ${authFiles.nodeCert}/${authFiles.nodeKey} nor the CA key to issue them`,
      `on the machine with the CA: clusterd cert issue --auth-dir CA_DIR --node ${s.node} --host HOST --out DIR, then copy DIR here and give --auth-dir DIR`));
  }
  return { auth, tls: { key, cert, ca }, nodeFetch: tlsFetch({ ca, cert, key }) };
}

const isIp = (h: string): boolean => /^\d+\.\d+\.\d+\.\d+$/.test(h) || h.includes(':');

/** `clusterd cert issue`: the files one node of another machine needs (CA cert, its cert and key, the node token). */
async function runCertIssue(o: { authDir: string; node: string; host?: string; out: string }): Promise<void> {
  const authDir = resolve(o.authDir);
  const out = resolve(o.out);
  const hosts = (o.host ?? '').split(',').map((h) => h.trim()).filter(Boolean);
  mkdirPrivate(out);
  try {
    await issueNodeCert(authDir, o.node, ['localhost', o.node, ...hosts.filter((h) => !isIp(h))], ['127.0.0.1', '::1', ...hosts.filter(isIp)], join(out, authFiles.nodeKey), join(out, authFiles.nodeCert));
  } catch (e) {
    fail(clusterError('TLS_NOT_CONFIGURED', `cannot issue a certificate from ${authDir}: ${(e as Error).message}`, 'give the auth directory clusterd init made (with ca.key)'));
  }
  writePrivate(join(out, authFiles.caCert), readAuth(authDir, authFiles.caCert));
  writePrivate(join(out, authFiles.nodeToken), readAuth(authDir, authFiles.nodeToken));
  process.stdout.write(`wrote ${out}: ${authFiles.caCert}, ${authFiles.nodeCert}, ${authFiles.nodeKey}, ${authFiles.nodeToken}\n`
    + `copy it to ${o.node} (keep it private: mode 0700) and start there with --auth-dir DIR\n`);
}

/**
 * How much higher than other work clusterd runs (nice steps; the heartbeat thread runs at the
 * highest priority, heartbeat-worker.ts). The decision loop needs little CPU, in bursts (a large
 * apply, a thousand agent results), but a loop that cannot get a core for decisionStallMs is
 * fenced: on a host whose two cores are saturated by other work (load 30), a normal-priority
 * thread got about a fifteenth of a core, and a burst of 300 ms of CPU took over 4 s. Where the
 * kernel schedules sessions as groups (autogroup), the cores are shared among sessions first:
 * clusterd's session (clusterd and its resource monitor, which start resources in sessions of
 * their own) is raised, and inside it the decision loop and the monitor keep equal shares (the
 * monitor's starts are on the path to Online too) when clusterd leads its session, as under systemd.
 * Elsewhere (no autogroup, or a clusterd started from a shell) the decision loop's thread is raised;
 * the resource monitor it forks sets itself back before it starts anything.
 */
const clusterdRaise = 10;

/**
 * `clusterd cert rotate-ca`: a new cluster CA in the auth directory. The old CA (and a node
 * certificate it signed there) is moved aside, and this user's credential files that trusted the
 * old CA trust the new one. The nodes read the CA at start: stop them all before, start them after.
 */
async function runRotateCa(o: { authDir: string }): Promise<void> {
  privateUmask();
  // The new CA key is written here: refused when another user could read or swap it (owner, mode, symlink).
  const secured = securePrivateDir(resolve(o.authDir), 'auth directory');
  if (!secured.ok) fail(secured.error);
  const authDir = secured.value;
  if (!existsSync(join(authDir, authFiles.caKey)) || !existsSync(join(authDir, authFiles.caCert))) {
    fail(clusterError('TLS_NOT_CONFIGURED', `${authDir} holds no CA key (${authFiles.caKey}) and certificate: the CA is rotated where clusterd init made it`,
      'give --auth-dir the directory clusterd init wrote (QUORUM/auth for a dir store)'));
  }
  const oldCa = readAuth(authDir, authFiles.caCert);
  let cluster = 'cluster';
  try {
    cluster = /CN=clusterd CA (.+)$/m.exec(new X509Certificate(oldCa).subject)?.[1] ?? cluster;
  } catch (e) {
    fail(clusterError('BAD_CONFIG', `${join(authDir, authFiles.caCert)} is not a PEM certificate: ${(e as Error).message}`, 'restore the auth directory clusterd init made'));
  }
  const suffix = `replaced-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  const moved: string[] = [];
  try {
    await createCa(authDir, cluster);
  } catch (e) {
    fail(clusterError('TLS_NOT_CONFIGURED', `cannot make a new CA in ${authDir}: ${(e as Error).message}`, 'check that openssl is installed and the auth directory is writable'));
  }
  writePrivate(join(authDir, `${authFiles.caCert}.${suffix}`), oldCa);
  moved.push(`${authFiles.caCert}.${suffix}`);
  // A node certificate of the old CA would be used before the new CA: set it aside, so that a node started here issues its own.
  for (const f of [authFiles.nodeCert, authFiles.nodeKey]) {
    if (existsSync(join(authDir, f))) { renameSync(join(authDir, f), join(authDir, `${f}.${suffix}`)); moved.push(`${f}.${suffix}`); }
  }
  const newCa = readAuth(authDir, authFiles.caCert);
  const updated: string[] = [];
  for (const file of listCredentialFiles(process.env)) {
    const c = parseCredentialFile(readFileSync(file, 'utf8'));
    if (c && c.ca === oldCa) { writeCredentialFile(file, { ...c, ca: newCa }); updated.push(file); }
  }
  process.stdout.write(`new cluster CA in ${authDir} (the old certificate is kept as ${moved.join(', ')}; the old key is gone)\n`
    + `credential files of this user now trusting it: ${updated.length === 0 ? 'none' : updated.join(', ')}\n`
    + 'next: stop every node, then start them (each issues its certificate from the new CA at start); for a node of another machine,\n'
    + '  clusterd cert issue --auth-dir DIR --node NAME --host HOST --out OUT and copy OUT there first; other users need the new\n'
    + '  ca.crt in their credential file\'s "ca" (or a new file: cluster credentials add USER --role ROLE)\n');
}

async function runStart(flags: Record<string, unknown>): Promise<void> {
  const s = loadSettings(flags);
  environment(); // validated with the settings, before anything is opened
  const resourceUmask = privateUmask();
  const logger = pino({ base: { node: s.node }, level: s.logLevel }, pino.destination(2));
  const store = await openOrFail(s.quorum);
  if (store.kind === 'etcd') {
    // etcd adds its own call deadline to the timing: check it, and say what failover to expect.
    const check = etcdTimingCheck(s.timing);
    if (check.problems.length > 0) fail(clusterError('BAD_TIMING', `timing does not fit an etcd quorum store: ${check.problems.join('; ')}`, 'see deploy/README.md for settings that fit etcd'));
    // etcd's own election timeout bounds a leader change, during which no renewal commits: read it
    // from the members (their command line) or take the operator's statement, and refuse a misfit.
    const spec = parseQuorumSpec(s.quorum);
    const endpoints = spec.ok && spec.value.kind === 'etcd' ? spec.value.endpoints : [];
    const verdict = judgeEtcdTiming(s.timing, await readEtcdRaftTiming(endpoints, storeOptions(spec.ok ? spec.value : { kind: 'etcd', endpoints }).tls), s.etcdElectionTimeoutMs);
    if (verdict.refuse) fail(verdict.refuse);
    if (verdict.warn) logger.warn({ event: 'TIMING', code: verdict.warn.code }, `${verdict.warn.message} hint: ${verdict.warn.hint ?? ''}`);
    logger.info({ event: 'TIMING' }, `${check.explanation}; ${verdict.checked}`);
  }
  secureQuorumDir(s.quorum, false);
  const securedData = securePrivateDir(resolve(s.dataDir ?? `${defaultDataRoot}/${s.node}`), 'data directory');
  if (!securedData.ok) fail(securedData.error);
  const dataDir = securedData.value;
  tightenModes(dataDir);
  // Before anything runs: a listen that would expose tokens, or TLS without a certificate, ends the start here.
  const security = await apiSecurity(s, parseListen(s.listen).host, dataDir);
  const opened = await store.open();
  if (!opened.ok) {
    // A database that cannot even be opened: --reset-quorum-log rebuilds it from this node's copy (load-plan decides).
    const rebuilt = opened.error.code === 'QUORUM_DB_DAMAGED' ? await rebuildUnopenableStore(store, dataDir, opened.error, { resetQuorumLog: !!flags.resetQuorumLog, noQuorumLogging: flags.quorumLogging === false, acceptUnreadableFloors: !!flags.acceptUnreadableFloors }, { self: s.node, leaseTtlMs: s.timing.leaseTtlMs }) : opened;
    if (!rebuilt.ok) fail(rebuilt.error);
    logger.warn({ event: 'QUORUM_DB_REBUILT' }, rebuilt.value);
  }
  await checkNameFree(store, s.node, s.timing);
  // Before the heartbeat thread and the monitor are made: they start from this thread's priority.
  const startNice = threadNice();
  const groupNice = leadsSession() ? sessionGroupNice() : null;
  const raiseError = groupNice !== null ? raiseSessionGroup(-clusterdRaise)
    : startNice === null ? null : setThreadNice(Math.max(-20, startNice - clusterdRaise));
  if (raiseError !== null) {
    logger.warn({ event: 'PRIORITY' }, `the decision loop runs at the priority clusterd was started with (could not raise ${groupNice !== null ? 'its session group' : 'its thread'} by ${clusterdRaise} steps: ${raiseError}): on a host whose cores are saturated a burst of work may stall it past the decision-stall bound; give clusterd CAP_SYS_NICE (or run it as root, or raise its RLIMIT_NICE)`);
  }
  const host = new MonitorClient();
  const listen = parseListen(s.listen);
  let node: ClusterNode | null = null;
  // The API must listen before the node announces its URL; it answers 503 until the node runs.
  const log = (level: 'info' | 'warning' | 'error', event: string, message: string, data?: Record<string, unknown>) =>
    logger[level === 'warning' ? 'warn' : level]({ event, ...eventFields(data) }, message);
  const fenceEnv: Record<string, string> = store.kind === 'dir' ? { CLUSTERD_FENCE_DIR: store.location.replace(/^dir:/, ''), CLUSTERD_FENCE_NODE: s.node }
    : store.kind === 'etcd' ? { CLUSTERD_FENCE_ETCD: s.quorum, CLUSTERD_FENCE_NODE: s.node } : {};
  if (flags.resetQuorumLog && flags.quorumLogging === false) fail(clusterError('BAD_ARGUMENT', '--reset-quorum-log and --no-quorum-logging exclude each other', 'use one recovery switch at a time'));
  const localDb = new LocalDb(dataDir);
  const heartbeatSocket = heartbeatSocketPath(dataDir);
  const heartbeat = workerHeartbeat({
    socketPath: heartbeatSocket, log,
    // Nothing renews the lease or feeds the watchdog any more: exit, so that the monitor kills
    // every resource at once and marks the lease fenced (the path of a crashed clusterd).
    onFailure: (reason) => { logger.fatal({ event: 'HEARTBEAT_FAILED' }, reason); logger.flush(); process.exit(70); },
  });
  node = new ClusterNode({
    name: s.node, apiUrl: '', ...nodeAddress(listen.host), timing: s.timing, store, host, clock: realClock, log, localDb, checkpointing: s.checkpointing, heartbeat,
    agentCheckPeer: agentCheckPeer({ nodeToken: security.auth.nodeToken, fetch: security.nodeFetch }),
    recovery: { resetQuorumLog: !!flags.resetQuorumLog, noQuorumLogging: flags.quorumLogging === false, acceptUnreadableFloors: !!flags.acceptUnreadableFloors },
    // Tests set it: the API's snapshots are frozen, so a view that writes into one fails loudly.
    freezeSnapshots: environment().freezeSnapshots,
  });
  // The resource monitor boots (a Node.js process: ~0.2 s) while the API starts listening.
  const agentDirs = { ...(typeof flags.ocfRoot === 'string' ? { ocfRoot: resolve(flags.ocfRoot) } : {}), ...(typeof flags.lsbDir === 'string' ? { lsbDir: resolve(flags.lsbDir) } : {}) };
  const monitorReady = host.start({ selfFenceMs: s.timing.selfFenceMs, node: s.node, dataDir, heartbeatSocket, resourceUmask, ...(startNice !== null ? { resourceNice: startNice } : {}), fenceEnv: { ...fenceEnv, CLUSTERD_FENCE_INCARNATION: node.incarnation }, ...agentDirs });
  monitorReady.catch(() => undefined); // awaited below; a failure there ends the start
  const api = await startApi(node, listen.host, listen.port, security, s.eventStream, s.admission, (fields, message) => logger.debug({ event: 'HTTP_REQUEST', ...fields }, message), s.http).catch((e: Error) =>
    fail(clusterError('BAD_CONFIG', `cannot listen on ${s.listen}: ${e.message}`, 'pick a free port with --listen 127.0.0.1:PORT')));
  node.apiUrl = api.url;
  await monitorReady;
  // A store read that throws (cut off mid-start) is an unavailable store, not a crash with a stack.
  const started = await node.start().catch((e: unknown) => ({
    ok: false as const,
    error: clusterError('QUORUM_UNAVAILABLE', `node ${s.node} could not start: reading ${store.location} failed: ${e instanceof Error ? e.message : String(e)}`,
      'check that the quorum store is reachable (clusterd quorum-log verify), then start again; a supervisor (systemd Restart=on-failure) retries by itself'),
  }));
  if (!started.ok) { await host.shutdown(); await api.close(); await node.flushAll(); fail(started.error); }
  logger.info({ event: 'LISTENING' }, `node ${s.node} serving the API on ${api.url}`);
  // A large configuration lets the young generation grow (node/heap-flags.ts), and memory is given
  // back after a burst of work (node/memory-release.ts); both looked at every few seconds.
  const memory = startMemoryRelease(monoMs);
  const sizeConfig = () => { const c = node!.config; youngGenerationFor(Object.keys(c.groups).length + Object.keys(c.resources).length); };
  sizeConfig();
  setInterval(() => { sizeConfig(); memory.look(); }, 5_000).unref();
  const systemd = notifySystemd(process.env, node, (m) => logger.warn({ event: 'SYSTEMD_NOTIFY_FAILED' }, m));
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) { logger.warn(`${signal} again: shutdown is already under way`); return; }
    stopping = true;
    logger.info({ event: 'SHUTDOWN' }, `${signal}: planned shutdown of node ${s.node}`);
    systemd.stopping();
    await node!.shutdown();
    await api.close();
    await store.close();
    logger.flush();
    process.exit(0);
  };
  if (environment().testHooks) installTestHooks(logger, dataDir);
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

export function program(): Command {
  const p = new Command('clusterd').description('clusterd: failover cluster node service').version(clusterdVersion, '-V, --version').showHelpAfterError();
  p.command('init').description('create a cluster in a quorum store')
    .requiredOption('--quorum <spec>', 'quorum store: dir:PATH')
    .option('--cluster <name>', 'cluster name', 'cluster')
    .option('--auth-dir <dir>', 'where the cluster CA and node token go (default QUORUM/auth for dir:; needed for etcd:)')
    .option('--endpoints <urls>', 'API URLs written into the admin credential file (comma-separated)', 'http://127.0.0.1:7400')
    .option('--user <name>', 'user name of the admin credential (default: the user running init)')
    .option('--auth-only', 'for an existing cluster without credentials: create its CA, node token and an admin credential only')
    .action((o) => runInit(o));
  p.command('cert').description('certificates: issue writes the files a node on another machine needs; rotate-ca makes a new cluster CA')
    .argument('<action>', 'issue | rotate-ca')
    .requiredOption('--auth-dir <dir>', 'the auth directory holding the CA key (clusterd init made it)')
    .option('--node <name>', 'issue: node name')
    .option('--host <names>', 'issue: DNS names and IP addresses the node is reached by (comma-separated)')
    .option('--out <dir>', 'issue: directory to write (ca.crt, node.crt, node.key, node.token)')
    .action(async (action: string, o: { authDir: string; node?: string; host?: string; out?: string }) => {
      if (action === 'rotate-ca') return runRotateCa(o);
      if (action !== 'issue') fail(clusterError('BAD_ARGUMENT', `unknown action '${action}'`, 'clusterd cert issue --auth-dir DIR --node NAME --out DIR, or clusterd cert rotate-ca --auth-dir DIR'));
      if (!o.node || !o.out) fail(clusterError('BAD_ARGUMENT', 'cert issue needs --node NAME and --out DIR', 'clusterd cert issue --auth-dir DIR --node NAME --host HOST --out DIR'));
      await runCertIssue({ authDir: o.authDir, node: o.node, out: o.out, ...(o.host ? { host: o.host } : {}) });
    });
  p.command('start').description('run a node in the foreground (SIGTERM or SIGINT: planned shutdown)')
    .option('--quorum <spec>', 'quorum store: dir:PATH or etcd:http://HOST:PORT[,...] (see deploy/README.md)')
    .option('--node <name>', 'node name (default: host name)')
    .option('--listen <host:port>', 'API address (default 127.0.0.1:7400)')
    .option('--data-dir <dir>', `node data directory: local database copy, resource logs (default ${defaultDataRoot}/NODE; made 0700, refused if another user can change it)`)
    .option('--ocf-root <dir>', 'OCF root of the ocf resources\' agents (default /usr/lib/ocf)')
    .option('--lsb-dir <dir>', 'init script directory of the lsb resources (default /etc/init.d)')
    .option('--auth-dir <dir>', 'cluster CA and node token (default QUORUM/auth for dir:)')
    .option('--tls', 'serve HTTPS (default: on unless --listen is a loopback address)')
    .option('--no-tls', 'serve plain HTTP (refused for a non-loopback --listen)')
    .option('--tls-name <name>', 'another DNS name or address this node is reached by (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--metrics-auth', '/metrics needs a viewer credential (default: open)')
    .option('--config <file>', 'settings file (YAML or JSON); flags win')
    .option('--log-level <level>', 'fatal, error, warn, info (default), debug (adds one line per API request) or trace')
    .option('--heartbeat-interval <ms>', `lease renewal interval (default ${timingDefaults.heartbeatIntervalMs})`, intArg)
    .option('--lease-ttl <ms>', `a node is Down when its lease has not moved for this long (default ${timingDefaults.leaseTtlMs})`, intArg)
    .option('--self-fence <ms>', `stop all resources if the lease cannot be renewed for this long (default ${timingDefaults.selfFenceMs})`, intArg)
    .option('--decision-stall <ms>', `the heartbeat fences the node if its decision loop makes no progress for this long (default ${timingDefaults.decisionStallMs})`, intArg)
    .option('--etcd-election-timeout <ms>', 'etcd\'s election timeout as set on its members (ETCD_ELECTION_TIMEOUT): checked against the self-fence deadline when a member\'s command line does not show it', intArg)
    .option('--shutdown-timeout <ms>', `planned shutdown waits this long for groups to go offline (default ${timingDefaults.shutdownPendingTimeoutMs})`, intArg)
    .option('--log-reset-size <bytes>', `checkpoint when the quorum log since the last one reaches this size (default ${checkpointingDefaults.logResetBytes})`, intArg)
    .option('--checkpoint-interval <ms>', `checkpoint at least this often (default ${checkpointingDefaults.checkpointIntervalMs})`, intArg)
    .option('--reset-quorum-log', 'recovery: rebuild the quorum log from this node\'s own copy (changes after it may be lost)')
    .option('--no-quorum-logging', 'recovery: run on the intact part of a damaged quorum log, writing changes as checkpoints')
    .option('--accept-unreadable-floors', 'recovery: go on when a node\'s floor in its lease slot cannot be read (terms and epochs then start above the readable floors only)')
    .action((o) => runStart(o));
  p.command('migrate').description('copy a stopped cluster from one quorum store to another (for example dir to etcd)')
    .requiredOption('--from <spec>', 'source quorum store (every node stopped)')
    .requiredOption('--to <spec>', 'target quorum store (empty)')
    .action(async (o: { from: string; to: string }) => {
      const from = await openOrFail(o.from);
      const to = await openOrFail(o.to);
      // migrateStore logs its lines, the summary last: nothing more to print.
      const r = await migrateStore(from, to, { log: (line: string) => process.stdout.write(`${line}\n`) });
      await from.close();
      await to.close();
      if (!r.ok) fail(r.error);
    });
  p.command('disk').description('disk private sectors: clear-sector removes one that blocks every online (DISK_SECTOR_EPOCH_AHEAD)')
    .argument('<action>', 'clear-sector')
    .option('--path <dir>', 'a directory disk: its root (private property path)')
    .option('--device <dev>', 'a block-device disk: mounted on a temporary directory for the clearing')
    .option('--fstype <type>', 'with --device: its filesystem type')
    .option('--mount-options <opts>', 'with --device: mount options')
    .action(async (action: string, o: ClearSectorOptions) => {
      if (action !== 'clear-sector') {
        process.stdout.write(`error[BAD_ARGUMENT]: unknown action '${action}'\nhint: clusterd disk clear-sector --path DIR (or --device DEV --fstype TYPE)\n`);
        process.exitCode = 2;
        return;
      }
      process.exitCode = await clearSectorCommand(o, (line) => process.stdout.write(`${line}\n`));
    });
  p.command('quorum-log').description('inspect the cluster database (read-only)')
    .argument('<action>', 'verify | dump')
    .option('--quorum <spec>', 'quorum store: dir:PATH')
    .option('--data-dir <dir>', 'a node data directory: inspect its local copy instead')
    .option('--json', 'JSON output')
    .action(async (action: string, o: { quorum?: string; dataDir?: string; json?: boolean }) => {
      process.exitCode = await quorumLogCommand(action, o, (line) => process.stdout.write(`${line}\n`), (spec) => storeOptions(spec));
    });
  return p;
}

export async function main(argv: string[]): Promise<void> {
  await program().parseAsync(argv, { from: 'user' });
}
