// `clusterd`: create a cluster (init) or run a node in the foreground (start).
// Settings come from flags, or a YAML/JSON file given with --config (flags win); they are
// validated once, all errors at once, then frozen.

import { Command, InvalidArgumentError } from 'commander';
import { mkdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import pino from 'pino';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { checkName } from '../core/config.js';
import { ClusterError, clusterError } from '../core/errors.js';
import { timingDefaults, validateTiming, type Timing } from '../core/timing.js';
import { eventStreamDefaults, startApi } from '../api/server.js';
import { MonitorClient } from '../monitor/client.js';
import { monoMs } from '../monitor/protocol.js';
import { parseQuorumSpec, openStore, storeOptionsFromEnv, type QuorumSpec, type StoreOptions } from '../store/index.js';
import type { QuorumStore } from '../store/types.js';
import { checkpointingDefaults } from '../core/checkpoint-policy.js';
import { ClusterNode, type Clock } from '../node/node.js';
import { LocalDb } from '../node/local-db.js';
import { quorumLogCommand, rebuildUnopenableStore } from '../node/quorum-log.js';
import { clearSectorCommand, type ClearSectorOptions } from '../node/disk-command.js';
import { etcdTimingCheck } from '../store/etcd.js';
import { workerHeartbeat } from '../node/heartbeat.js';
import { heartbeatSocketPath, installTestHooks } from '../node/test-hooks.js';
import { migrateStore } from '../store/migrate.js';

export const realClock: Clock = {
  nowMs: monoMs, // the host's monotonic clock, which the heartbeat thread and the monitor share
  wallMs: () => Date.now(),
  localHour: () => new Date().getHours(),
  setInterval: (fn, ms) => { const t = setInterval(fn, ms); return () => clearInterval(t); },
  setTimeout: (fn, ms) => { const t = setTimeout(fn, ms); return () => clearTimeout(t); },
};

const settingsSchema = z.object({
  quorum: z.string(),
  node: z.string().default(hostname()),
  listen: z.string().default('127.0.0.1:7400'),
  dataDir: z.string().optional(),
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
}).strict();

export type Settings = z.infer<typeof settingsSchema> & { timing: Timing };

function fail(e: ClusterError): never {
  process.stderr.write(`${e.format()}\n`);
  process.exit(2);
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
  for (const k of ['quorum', 'node', 'listen', 'dataDir']) if (flags[k] !== undefined) merged[k] = flags[k];
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

async function runInit(opts: { quorum: string; cluster: string }): Promise<void> {
  const store = await openOrFail(opts.quorum);
  const name = checkName('cluster', opts.cluster);
  if (!name.ok) fail(name.error);
  const r = await store.init(opts.cluster, Date.now());
  await store.close();
  if (!r.ok) fail(r.error);
  process.stdout.write(`created cluster '${opts.cluster}' in ${store.location}\nstart nodes with: clusterd start --quorum ${opts.quorum} --node NAME --listen 127.0.0.1:PORT\n`);
}

async function runStart(flags: Record<string, unknown>): Promise<void> {
  const s = loadSettings(flags);
  environment(); // validated with the settings, before anything is opened
  const logger = pino({ base: { node: s.node } }, pino.destination(2));
  const store = await openOrFail(s.quorum);
  if (store.kind === 'etcd') {
    // etcd adds its own call deadline to the timing: check it, and say what failover to expect.
    const check = etcdTimingCheck(s.timing);
    if (check.problems.length > 0) fail(clusterError('BAD_TIMING', `timing does not fit an etcd quorum store: ${check.problems.join('; ')}`, 'see deploy/README.md for settings that fit etcd'));
    logger.info({ event: 'TIMING' }, check.explanation);
  }
  const dataDir = resolve(s.dataDir ?? `${environment().tmpDir}/clusterd-${s.node}`);
  mkdirSync(dataDir, { recursive: true });
  const opened = await store.open();
  if (!opened.ok) {
    // A database that cannot even be opened: --reset-quorum-log rebuilds it from this node's copy (load-plan decides).
    const rebuilt = opened.error.code === 'QUORUM_DB_DAMAGED' ? await rebuildUnopenableStore(store, dataDir, opened.error, { resetQuorumLog: !!flags.resetQuorumLog, noQuorumLogging: flags.quorumLogging === false }, { self: s.node, leaseTtlMs: s.timing.leaseTtlMs }) : opened;
    if (!rebuilt.ok) fail(rebuilt.error);
    logger.warn({ event: 'QUORUM_DB_REBUILT' }, rebuilt.value);
  }
  await checkNameFree(store, s.node, s.timing);
  const host = new MonitorClient();
  const listen = parseListen(s.listen);
  let node: ClusterNode | null = null;
  // The API must listen before the node announces its URL; it answers 503 until the node runs.
  const log = (level: 'info' | 'warning' | 'error', event: string, message: string) =>
    logger[level === 'warning' ? 'warn' : level]({ event }, message);
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
    name: s.node, apiUrl: '', timing: s.timing, store, host, clock: realClock, log, localDb, checkpointing: s.checkpointing, heartbeat,
    recovery: { resetQuorumLog: !!flags.resetQuorumLog, noQuorumLogging: flags.quorumLogging === false },
    // Tests set it: the API's snapshots are frozen, so a view that writes into one fails loudly.
    freezeSnapshots: environment().freezeSnapshots,
  });
  // The resource monitor boots (a Node.js process: ~0.2 s) while the API starts listening.
  const monitorReady = host.start({ selfFenceMs: s.timing.selfFenceMs, node: s.node, dataDir, heartbeatSocket, fenceEnv: { ...fenceEnv, CLUSTERD_FENCE_INCARNATION: node.incarnation } });
  monitorReady.catch(() => undefined); // awaited below; a failure there ends the start
  const api = await startApi(node, listen.host, listen.port, s.eventStream).catch((e: Error) =>
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
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) { logger.warn(`${signal} again: shutdown is already under way`); return; }
    stopping = true;
    logger.info({ event: 'SHUTDOWN' }, `${signal}: planned shutdown of node ${s.node}`);
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
  const p = new Command('clusterd').description('clusterd: failover cluster node service').showHelpAfterError();
  p.command('init').description('create a cluster in a quorum store')
    .requiredOption('--quorum <spec>', 'quorum store: dir:PATH')
    .option('--cluster <name>', 'cluster name', 'cluster')
    .action((o) => runInit(o));
  p.command('start').description('run a node in the foreground (SIGTERM or SIGINT: planned shutdown)')
    .option('--quorum <spec>', 'quorum store: dir:PATH or etcd:http://HOST:PORT[,...] (see deploy/README.md)')
    .option('--node <name>', 'node name (default: host name)')
    .option('--listen <host:port>', 'API address (default 127.0.0.1:7400)')
    .option('--data-dir <dir>', 'node data directory (resource logs)')
    .option('--config <file>', 'settings file (YAML or JSON); flags win')
    .option('--heartbeat-interval <ms>', `lease renewal interval (default ${timingDefaults.heartbeatIntervalMs})`, intArg)
    .option('--lease-ttl <ms>', `a node is Down when its lease has not moved for this long (default ${timingDefaults.leaseTtlMs})`, intArg)
    .option('--self-fence <ms>', `stop all resources if the lease cannot be renewed for this long (default ${timingDefaults.selfFenceMs})`, intArg)
    .option('--decision-stall <ms>', `the heartbeat fences the node if its decision loop makes no progress for this long (default ${timingDefaults.decisionStallMs})`, intArg)
    .option('--shutdown-timeout <ms>', `planned shutdown waits this long for groups to go offline (default ${timingDefaults.shutdownPendingTimeoutMs})`, intArg)
    .option('--log-reset-size <bytes>', `checkpoint when the quorum log since the last one reaches this size (default ${checkpointingDefaults.logResetBytes})`, intArg)
    .option('--checkpoint-interval <ms>', `checkpoint at least this often (default ${checkpointingDefaults.checkpointIntervalMs})`, intArg)
    .option('--reset-quorum-log', 'recovery: rebuild the quorum log from this node\'s own copy (changes after it may be lost)')
    .option('--no-quorum-logging', 'recovery: run on the intact part of a damaged quorum log, writing changes as checkpoints')
    .action((o) => runStart(o));
  p.command('migrate').description('copy a stopped cluster from one quorum store to another (for example dir to etcd)')
    .requiredOption('--from <spec>', 'source quorum store (every node stopped)')
    .requiredOption('--to <spec>', 'target quorum store (empty)')
    .action(async (o: { from: string; to: string }) => {
      const from = await openOrFail(o.from);
      const to = await openOrFail(o.to);
      const r = await migrateStore(from, to, { log: (line: string) => process.stdout.write(`${line}\n`) });
      await from.close();
      await to.close();
      if (!r.ok) fail(r.error);
      process.stdout.write(`${r.value}\n`);
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
