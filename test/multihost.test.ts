// Multi-host: three clusterd nodes in three network namespaces joined by a bridge, each with an
// etcd member beside it (the deploy/README.md layout), a group with a process resource. Every
// connection is mutual TLS: etcd serves clients and peers over TLS and requires a client
// certificate of its CA (a test CA), clusterd presents one (CLUSTERD_ETCD_CA/CERT/KEY), and the
// nodes serve HTTPS and forward to each other with certificates of the cluster CA. Cutting
// one node's link: that node stops its groups by its self-fence deadline, the others take them
// over once its lease has expired, and never do two nodes run the service at once. Healing the
// link: the node rejoins and catches up on the configuration it missed, and the group stays put.
//
// Needs root (ip netns, veth, bridge). Everything it creates is named after a random id and torn
// down at the end, processes first.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdCluster, makeTestCertificates } from './etcd-harness.js';
import { clusterdBin, sleep, waitFor, webServiceJs } from './harness.js';
import type { StatusSnapshot } from '../src/api/types.js';
import { tlsFetch } from '../src/api/tls-fetch.js';

const isRoot = process.getuid?.() === 0;
const id = Math.random().toString(16).slice(2, 6);
const subnet = `10.${200 + Math.floor(Math.random() * 50)}.${Math.floor(Math.random() * 250)}`;
const bridge = `cdbr${id}`;
const names = ['n1', 'n2', 'n3'];
const ns = (i: number) => `clusterd-${id}-n${i + 1}`;
const hostVeth = (i: number) => `cdh${id}${i + 1}`;
const nsVeth = (i: number) => `cdn${id}${i + 1}`;
const ip = (i: number) => `${subnet}.${11 + i}`;
const apiPort = 17400;
const webPort = 18080;
const etcdPorts: [number, number] = [12379, 12380];
/** Default timing of clusterd (README): the figures this test checks against. */
const selfFenceMs = 800;
const fenceMarginMs = 300;
const leaseTtlMs = 1_400;

const dir = mkdtempSync(join(tmpdir(), 'clusterd-multihost-'));
const procs = new Map<string, { proc: ChildProcess; log: string }>();
let etcd: EtcdCluster | null = null;
let built = false;
/** etcd's certificates (a test CA of its own), and the environment that gives clusterd its client certificate. */
let etcdCerts: ReturnType<typeof makeTestCertificates> | null = null;
const etcdEnv = (): Record<string, string> => ({ CLUSTERD_ETCD_CA: etcdCerts!.ca, CLUSTERD_ETCD_CERT: etcdCerts!.clientCert, CLUSTERD_ETCD_KEY: etcdCerts!.clientKey });

function run(args: string[], inNs?: string): string {
  const full = inNs ? ['netns', 'exec', inNs, ...args] : args;
  const cmd = inNs ? 'ip' : args[0]!;
  const r = spawnSync(cmd, inNs ? full : args.slice(1), { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${[cmd, ...(inNs ? full : args.slice(1))].join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

function setUpNetwork(): void {
  run(['ip', 'link', 'add', bridge, 'type', 'bridge']);
  built = true;
  run(['ip', 'addr', 'add', `${subnet}.1/24`, 'dev', bridge]);
  run(['ip', 'link', 'set', bridge, 'up']);
  for (let i = 0; i < 3; i++) {
    run(['ip', 'netns', 'add', ns(i)]);
    run(['ip', 'link', 'add', hostVeth(i), 'type', 'veth', 'peer', 'name', nsVeth(i)]);
    run(['ip', 'link', 'set', nsVeth(i), 'netns', ns(i)]);
    run(['ip', 'link', 'set', hostVeth(i), 'master', bridge]);
    run(['ip', 'link', 'set', hostVeth(i), 'up']);
    run(['ip', 'addr', 'add', `${ip(i)}/24`, 'dev', nsVeth(i)], ns(i));
    run(['ip', 'link', 'set', nsVeth(i), 'up'], ns(i));
    run(['ip', 'link', 'set', 'lo', 'up'], ns(i));
  }
}

/** Pids of the processes running in namespace `i`. */
function pidsIn(i: number): number[] {
  const r = spawnSync('ip', ['netns', 'pids', ns(i)], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean).map(Number);
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** Which namespaces run the web service right now (one snapshot of all three). */
function webRunningIn(): number[] {
  return [0, 1, 2].filter((i) => pidsIn(i).some((p) => cmdline(p).includes(`web-service.js ${webPort}`)));
}

async function tearDown(): Promise<void> {
  for (const { proc } of procs.values()) {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  }
  await etcd?.stop();
  for (let i = 0; i < 3; i++) {
    for (const pid of pidsIn(i)) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  }
  await sleep(100);
  for (let i = 0; i < 3; i++) spawnSync('ip', ['netns', 'del', ns(i)]);
  if (built) spawnSync('ip', ['link', 'del', bridge]);
  // Resources run in their own process groups: anything left from this test's files.
  const ps = spawnSync('pgrep', ['-f', dir], { encoding: 'utf8' });
  for (const pid of ps.stdout.split('\n').filter(Boolean)) { try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ } }
  rmSync(dir, { recursive: true, force: true });
}

/** Each node lists its own etcd member first: it talks to the member beside it while that one answers. */
function quorumFor(i: number): string {
  const order = [i, ...[0, 1, 2].filter((j) => j !== i)];
  return `etcd:${order.map((j) => `https://${ip(j)}:${etcdPorts[0]}`).join(',')}`;
}

function startNode(i: number): void {
  const name = names[i]!;
  const logPath = join(dir, `${name}.log`);
  writeFileSync(logPath, '');
  const proc = spawn('ip', ['netns', 'exec', ns(i), process.execPath, clusterdBin, 'start', '--quorum', quorumFor(i), '--node', name,
    '--listen', `${ip(i)}:${apiPort}`, '--data-dir', join(dir, `data-${name}`), '--auth-dir', join(dir, 'auth')], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...etcdEnv() } });
  const entry = { proc, log: '' };
  const onData = (b: Buffer) => { entry.log += b.toString(); writeFileSync(logPath, b, { flag: 'a' }); };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  procs.set(name, entry);
}

/** The admin credential clusterd init wrote: its token, and the CA the nodes' HTTPS certificates come from. */
let cred: { token: string; ca: string } | null = null;

async function api<T>(i: number, path: string, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; body: T }> {
  // Non-loopback listens serve HTTPS (certificates of the cluster CA); nodes forward to each other over mutual TLS.
  const res = await tlsFetch({ ca: cred!.ca })(`https://${ip(i)}:${apiPort}${path}`, {
    method: init.method ?? 'GET', headers: { 'content-type': 'application/json', authorization: `Bearer ${cred!.token}` },
    body: init.body === undefined ? undefined : JSON.stringify(init.body), signal: AbortSignal.timeout(2_000),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

async function status(i: number): Promise<StatusSnapshot> {
  const r = await api<StatusSnapshot>(i, '/v1/status');
  if (r.status !== 200) throw new Error(`status from ${names[i]}: HTTP ${r.status}`);
  return r.body;
}

/**
 * One HTTPS GET with the given trust and client certificate: its status, or the error that ended
 * it (a refused TLS handshake).
 */
function httpsGet(url: string, o: { ca: string; cert?: string; key?: string; headers?: Record<string, string> }): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = httpsRequest(url, { ca: o.ca, ...(o.cert && o.key ? { cert: o.cert, key: o.key } : {}), headers: o.headers ?? {}, timeout: 5_000 }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => { body += b.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (e) => resolve({ error: e.message }));
    });
    req.on('error', (e) => resolve({ error: e.message }));
    req.on('timeout', () => { req.destroy(new Error('timeout')); });
    req.end();
  });
}

function logsTail(): string {
  return [...procs.entries()].map(([n, p]) => `--- ${n}\n${p.log.split('\n').slice(-15).join('\n')}`).join('\n');
}

before(async () => {
  if (!isRoot) return;
  setUpNetwork();
  // Reachability across the bridge before anything else: a host firewall dropping bridged traffic shows here.
  mkdirSync(join(dir, 'etcd-tls'));
  etcdCerts = makeTestCertificates(join(dir, 'etcd-tls'), [0, 1, 2].map(ip));
  etcd = await EtcdCluster.start({ members: 3, hosts: [0, 1, 2].map(ip), netns: [0, 1, 2].map(ns), ports: [etcdPorts, etcdPorts, etcdPorts],
    tls: { cert: etcdCerts.serverCert, key: etcdCerts.serverKey, ca: etcdCerts.ca, peer: true } });
});

after(async () => {
  if (isRoot) await tearDown();
});

test('multi-host on etcd: a node cut off the network fences itself, the others take over, it rejoins and catches up', { timeout: 90_000 }, async () => {
  assert.ok(isRoot, 'this test needs root: it creates network namespaces, veth pairs and a bridge (run the tests as root, as .ci/run does)');
  const init = spawnSync(process.execPath, [clusterdBin, 'init', '--quorum', `etcd:${etcd!.endpoints().join(',')}`, '--cluster', 'multihost', '--auth-dir', join(dir, 'auth')],
    { encoding: 'utf8', env: { ...process.env, ...etcdEnv(), XDG_CONFIG_HOME: join(dir, 'config') } });
  assert.equal(init.status, 0, `clusterd init: ${init.stderr}`);
  cred = JSON.parse(readFileSync(join(dir, 'config', 'clusterd', 'credentials', 'multihost.json'), 'utf8')) as { token: string; ca: string };
  // n3 first: it becomes coordinator and owner, so cutting it exercises both takeovers.
  for (const i of [2, 0, 1]) {
    startNode(i);
    await waitFor(`${names[i]} to serve its API`, async () => (await api(i, '/v1/status').catch(() => null))?.status === 200, 60_000)
      .catch((e: Error) => { throw new Error(`${e.message}\n${logsTail()}`); });
  }
  await waitFor('three nodes Up', async () => (await status(0)).nodes.filter((n) => n.state === 'Up').length === 3, 20_000);

  // etcd: only a client certificate of its own CA gets through, on the client and the peer ports.
  const pem = (f: string) => readFileSync(f, 'utf8');
  const etcdCa = pem(etcdCerts!.ca);
  const withCert = await httpsGet(`https://${ip(0)}:${etcdPorts[0]}/version`, { ca: etcdCa, cert: pem(etcdCerts!.clientCert), key: pem(etcdCerts!.clientKey) });
  assert.ok('status' in withCert && withCert.status === 200, `etcd answers a client with its certificate: ${JSON.stringify(withCert)}`);
  const nodeCert = { cert: pem(join(dir, 'data-n1', 'tls', 'node.crt')), key: pem(join(dir, 'data-n1', 'tls', 'node.key')) };
  for (const port of etcdPorts) {
    const bare = await httpsGet(`https://${ip(0)}:${port}/version`, { ca: etcdCa });
    assert.ok('error' in bare, `etcd port ${port} served a client without a certificate: ${JSON.stringify(bare)}`);
    const foreign = await httpsGet(`https://${ip(0)}:${port}/version`, { ca: etcdCa, ...nodeCert });
    assert.ok('error' in foreign, `etcd port ${port} served a client whose certificate another CA signed: ${JSON.stringify(foreign)}`);
  }
  // The nodes: the node token counts only with a client certificate of the cluster CA.
  const nodeToken = readFileSync(join(dir, 'auth', 'node.token'), 'utf8').trim();
  const asNode = { authorization: `Bearer ${nodeToken}` };
  const mtls = await httpsGet(`https://${ip(1)}:${apiPort}/v1/status`, { ca: cred.ca, ...nodeCert, headers: asNode });
  assert.ok('status' in mtls && mtls.status === 200, `a node's own certificate and the node token: ${JSON.stringify(mtls)}`);
  for (const [what, cert] of [['no client certificate', {}], ['a client certificate of another CA', { cert: pem(etcdCerts!.clientCert), key: pem(etcdCerts!.clientKey) }]] as const) {
    const r = await httpsGet(`https://${ip(1)}:${apiPort}/v1/status`, { ca: cred.ca, ...cert, headers: asNode });
    assert.ok('status' in r ? r.status === 401 && /AUTH_INVALID/.test(r.body) : true, `the node token with ${what} was accepted: ${JSON.stringify(r)}`);
  }
  // A write sent to a node that is not the coordinator is forwarded to it over mutual TLS.
  const coordinator = (await status(0)).coordinator;
  const relay = [0, 1, 2].find((i) => names[i] !== coordinator)!;
  const forwarded = await api(relay, '/v1/groups', { method: 'POST', body: { name: 'forwarded' } });
  assert.equal(forwarded.status, 200, `a write through ${names[relay]} (coordinator ${coordinator}): ${JSON.stringify(forwarded.body)}`);
  await waitFor('the forwarded write on every node', async () => {
    for (const i of [0, 1, 2]) if (!(await status(i)).groups.some((g) => g.name === 'forwarded')) return false;
    return true;
  }, 20_000);
  const spec = { groups: { web: {
    preferredOwners: ['n3', 'n1', 'n2'], failback: { mode: 'never' },
    resources: { 'web-srv': { type: 'process', priv: { command: process.execPath, args: [webServiceJs, String(webPort), dir], probe: `http://127.0.0.1:${webPort}/` } } },
  } } };
  const applied = await api(0, '/v1/apply', { method: 'POST', body: { spec, dryRun: false } });
  assert.equal(applied.status, 200, JSON.stringify(applied.body));
  await waitFor('web Online on n3', async () => {
    const s = await status(0);
    return s.groups.find((g) => g.name === 'web')?.state === 'Online' && s.groups.find((g) => g.name === 'web')?.node === 'n3';
  }, 20_000);
  assert.deepEqual(webRunningIn(), [2], 'the service runs in n3\'s namespace only');

  // Cut n3's cable.
  run(['ip', 'link', 'set', hostVeth(2), 'down']);
  const cutAt = performance.now();
  let stoppedAt = 0;
  let takenAt = 0;
  let taker = -1;
  const overlaps: string[] = [];
  // Gone means absent from two snapshots in a row (a process list read can race with a fork).
  let absentSince = 0;
  while (performance.now() - cutAt < 20_000 && (!stoppedAt || !takenAt)) {
    const where = webRunningIn();
    const t = performance.now() - cutAt;
    if (where.length > 1) overlaps.push(`${t.toFixed(0)} ms: ${where.map((i) => names[i]).join(' and ')}`);
    if (where.includes(2)) absentSince = 0;
    else if (!absentSince) absentSince = t;
    else if (!stoppedAt) stoppedAt = absentSince;
    const other = where.find((i) => i !== 2);
    if (!takenAt && other !== undefined) { takenAt = t; taker = other; }
    await sleep(20);
  }
  console.log(`link of n3 cut: its service ${stoppedAt ? `stopped after ${stoppedAt.toFixed(0)} ms` : 'never stopped'}, ` +
    `${takenAt ? `started on ${names[taker]} after ${takenAt.toFixed(0)} ms` : 'started nowhere else'}`);
  assert.ok(stoppedAt > 0, `n3 kept running the service without its lease (${overlaps.length ? `while ${names[taker]} ran it too` : 'for 20 s'}): ` +
    `it does not fence itself when its lease renewals fail\n${logsTail()}`);
  assert.deepEqual(overlaps, [], `two nodes ran the service at once:\n${overlaps.join('\n')}\n${logsTail()}`);
  assert.ok(stoppedAt <= selfFenceMs + fenceMarginMs + 250, `n3 stopped its service ${stoppedAt.toFixed(0)} ms after losing the network: later than its self-fence deadline (${selfFenceMs} ms + ${fenceMarginMs} ms)`);
  assert.ok(takenAt > 0, `nobody took the service over within 20 s\n${logsTail()}`);
  assert.ok(takenAt >= leaseTtlMs, `the service started elsewhere ${takenAt.toFixed(0)} ms after the cut, before n3's lease could expire (${leaseTtlMs} ms)`);
  const survivor = taker;
  await waitFor('web Online on the other side', async () => {
    const s = await status(survivor);
    return s.groups.find((g) => g.name === 'web')?.state === 'Online' && s.nodes.find((n) => n.name === 'n3')?.state === 'Down';
  }, 20_000);

  // A configuration change n3 misses while it is cut off.
  const created = await api(survivor, '/v1/groups', { method: 'POST', body: { name: 'missed-while-away' } });
  assert.equal(created.status, 200, JSON.stringify(created.body));

  // Heal.
  run(['ip', 'link', 'set', hostVeth(2), 'up']);
  const healedAt = performance.now();
  await waitFor('n3 back Up and caught up', async () => {
    const s = await status(2).catch(() => null);
    const fromOthers = await status(survivor);
    return s !== null && s.groups.some((g) => g.name === 'missed-while-away') &&
      fromOthers.nodes.find((n) => n.name === 'n3')?.state === 'Up' && s.nodes.filter((n) => n.state === 'Up').length === 3;
  }, 30_000, 50);
  console.log(`link of n3 healed: n3 Up and caught up after ${(performance.now() - healedAt).toFixed(0)} ms`);
  // Settles without flapping: the service stays where it went, once.
  for (let k = 0; k < 20; k++) {
    const where = webRunningIn();
    if (where.length !== 1 || where[0] !== survivor) {
      const groups = await status(survivor).then((x) => JSON.stringify(x.groups.find((g) => g.name === 'web')), (e: Error) => e.message);
      assert.fail(`the service runs on ${where.map((i) => names[i]).join(', ') || 'no node'} after the heal, not on ${names[survivor]} only: web ${groups}\n${logsTail()}`);
    }
    await sleep(100);
  }
  assert.equal(procs.get('n3')!.proc.exitCode, null, 'n3 is still running');
});
