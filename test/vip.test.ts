// Virtual IP resources on a real link: two clusterd nodes and a client, each in its own network
// namespace, joined by a bridge that sits in a namespace of its own (nothing of this test touches
// the host's interfaces or addresses). The nodes share a dir quorum store (one host, one
// filesystem). A group holds an `ip` resource and an HTTP server that depends on it:
// - the client reaches the server through the VIP;
// - an address another host holds on the link is refused (IP_ADDRESS_IN_USE) and never added;
// - after the owner's link is cut, and after kill -9 of the owner's clusterd, the VIP answers from
//   the other node, the old one has dropped it, and the address is never on both nodes at once
//   (both polled through each failover);
// - after kill -9 of the owner's resource monitor, the address is removed, then comes back.
// It prints the failover time (kill -9 until a client request through the VIP succeeds).
// A second cluster on the same link does the same with an IPv6 VIP (a ULA address, fd00::/8):
// online adds it after the kernel's duplicate address detection, an address the client holds is
// refused by that detection (IP_ADDRESS_IN_USE), kill -9 of the owner moves it (never on two
// nodes), offline removes it.
//
// Needs root (ip netns, veth, bridge) and arping (Debian's arping package).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterdBin, sleep, waitFor } from './harness.js';

const isRoot = process.getuid?.() === 0;
const id = Math.random().toString(16).slice(2, 6);
const subnet = `10.${200 + Math.floor(Math.random() * 50)}.${Math.floor(Math.random() * 250)}`;
const nsSwitch = `cdv-${id}-sw`;
const nsClient = `cdv-${id}-cl`;
const names = ['n1', 'n2'];
const nsNode = (i: number) => `cdv-${id}-${names[i]}`;
const nodeIp = (i: number) => `${subnet}.${11 + i}`;
const clientIp = `${subnet}.100`;
/** Held by the client: an ip resource with this address must be refused. */
const takenIp = `${subnet}.60`;
const vip = `${subnet}.50`;
/** The IPv6 test's /64 (ULA), in the canonical text `ip -j` prints. */
const subnet6 = `fd00:${(0x1000 + Math.floor(Math.random() * 0xefff)).toString(16)}:${(0x1000 + Math.floor(Math.random() * 0xefff)).toString(16)}:1`;
const vip6 = `${subnet6}::50`;
const clientIp6 = `${subnet6}::100`;
/** Held by the client: an ip resource with this IPv6 address must be refused by duplicate address detection. */
const takenIp6 = `${subnet6}::60`;
/** The same interface name in every namespace: an ip resource names one interface for all its owners. */
const lan = 'lan0';
/** The API port of the cluster running now (each test starts its own cluster in the namespaces). */
let apiPort = 17500;
const webPort = 18090;
const webPort6 = 18091;

const dir = mkdtempSync(join(tmpdir(), 'clusterd-vip-'));
const procs = new Map<string, { proc: ChildProcess; log: string }>();
let made = false;

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Run in a namespace, asynchronously: the node's clusterd keeps answering meanwhile. */
function inNs(ns: string, argv: string[], timeoutMs = 10_000): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile('ip', ['netns', 'exec', ns, ...argv], { encoding: 'utf8', timeout: timeoutMs }, (err, out, errText) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1;
      resolve({ code, out, err: errText });
    });
  });
}

function setUpNetwork(): void {
  run('ip', ['netns', 'add', nsSwitch]);
  made = true;
  run('ip', ['-n', nsSwitch, 'link', 'add', 'br0', 'type', 'bridge']);
  run('ip', ['-n', nsSwitch, 'link', 'set', 'br0', 'up']);
  const attach = (ns: string, tag: string, address: string) => {
    run('ip', ['netns', 'add', ns]);
    // Created inside the switch namespace and moved: no interface of this test ever sits in the host's.
    run('ip', ['-n', nsSwitch, 'link', 'add', `p-${tag}`, 'type', 'veth', 'peer', 'name', `q-${tag}`]);
    run('ip', ['-n', nsSwitch, 'link', 'set', `q-${tag}`, 'netns', ns]);
    run('ip', ['-n', ns, 'link', 'set', `q-${tag}`, 'name', lan]);
    run('ip', ['-n', nsSwitch, 'link', 'set', `p-${tag}`, 'master', 'br0']);
    run('ip', ['-n', nsSwitch, 'link', 'set', `p-${tag}`, 'up']);
    run('ip', ['-n', ns, 'addr', 'add', `${address}/24`, 'dev', lan]);
    run('ip', ['-n', ns, 'link', 'set', lan, 'up']);
    run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  };
  attach(nsNode(0), 'n1', nodeIp(0));
  attach(nsNode(1), 'n2', nodeIp(1));
  attach(nsClient, 'cl', clientIp);
  run('ip', ['-n', nsClient, 'addr', 'add', `${takenIp}/24`, 'dev', lan]);
  run('ip', ['-n', nsClient, 'addr', 'add', `${clientIp6}/64`, 'dev', lan]);
  run('ip', ['-n', nsClient, 'addr', 'add', `${takenIp6}/64`, 'dev', lan]);
}

/** Whether namespace `ns` holds `address` on the lan interface right now. */
function holds(ns: string, address: string): boolean {
  const r = spawnSync('ip', ['-n', ns, '-j', 'addr', 'show', 'dev', lan], { encoding: 'utf8' });
  const links = JSON.parse(r.stdout || '[]') as { addr_info: { local: string }[] }[];
  return links.some((l) => l.addr_info.some((a) => a.local === address));
}

function startNode(i: number, cluster: string): void {
  const name = names[i]!;
  const logPath = join(dir, `${cluster}-${name}.log`);
  writeFileSync(logPath, '', { flag: 'a' });
  const proc = spawn('ip', ['netns', 'exec', nsNode(i), process.execPath, clusterdBin, 'start', '--quorum', `dir:${join(dir, `quorum-${cluster}`)}`, '--node', name,
    '--listen', `${nodeIp(i)}:${apiPort}`, '--data-dir', join(dir, `data-${cluster}-${name}`)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const entry = { proc, log: '' };
  const onData = (b: Buffer) => { entry.log += b.toString(); writeFileSync(logPath, b, { flag: 'a' }); };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  procs.set(name, entry);
}

let adminToken = '';

/** The API of a node, from the client's namespace (the test process has no interface on the lan). */
async function api<T>(i: number, path: string, method = 'GET', body?: unknown): Promise<{ status: number; body: T }> {
  const args = ['curl', '-s', '-m', '5', '-X', method, '-w', '\n%{http_code}', '--cacert', join(dir, 'ca.pem'), '-H', `authorization: Bearer ${adminToken}`];
  if (body !== undefined) args.push('-H', 'content-type: application/json', '-d', JSON.stringify(body));
  const r = await inNs(nsClient, [...args, `https://${nodeIp(i)}:${apiPort}${path}`]);
  if (r.code !== 0) throw new Error(`curl ${path} on ${names[i]}: exit ${r.code} ${r.err}`);
  const cut = r.out.lastIndexOf('\n');
  const text = r.out.slice(0, cut);
  return { status: Number(r.out.slice(cut + 1)), body: (text ? JSON.parse(text) : null) as T };
}

interface Status { nodes: { name: string; state: string }[]; groups: { name: string; state: string; node: string | null }[] }
interface ResourceView { name: string; state: string; error?: string }

async function status(): Promise<Status> {
  for (const i of [0, 1]) {
    const r = await api<Status>(i, '/v1/status').catch(() => null);
    if (r?.status === 200) return r.body;
  }
  throw new Error('no node answered /v1/status');
}

/** A client request through the VIP (IPv4, or the IPv6 test's): the answer's body, or null. */
async function viaVip(timeoutS = 1, address = vip): Promise<string | null> {
  const url = address.includes(':') ? `http://[${address}]:${webPort6}/` : `http://${address}:${webPort}/`;
  const r = await inNs(nsClient, ['curl', '-g', '-s', '-m', String(timeoutS), url]);
  return r.code === 0 ? r.out : null;
}

/** An HTTP server on every address of its node (the VIP included; IPv6 too with `::` after the dir), saying which node serves. */
const serverJs = `const http = require('node:http');
http.createServer((q, s) => s.end('served by ' + process.env.CLUSTERD_NODE + '\\n')).listen(Number(process.argv[1]), process.argv[3] ?? '0.0.0.0');
process.on('SIGTERM', () => process.exit(0));`;

/**
 * From the moment the owner `from` is hit until the VIP answers from `to` and `from` has dropped it:
 * polls both namespaces' addresses, the new owner first (both seen then means the old one still
 * held the address after the new one had it). Prints the times.
 */
async function watchMove(from: number, to: number, what: string, limitMs: number, address = vip): Promise<{ droppedAt: number; servedAt: number }> {
  const startedAt = performance.now();
  const overlaps: string[] = [];
  let droppedAt = 0;
  let servedAt = 0;
  while (performance.now() - startedAt < limitMs && !(servedAt && droppedAt)) {
    const onNew = holds(nsNode(to), address);
    const onOld = holds(nsNode(from), address);
    const t = performance.now() - startedAt;
    if (onNew && onOld) overlaps.push(`${t.toFixed(0)} ms`);
    if (!onOld && !droppedAt) droppedAt = t;
    if (!servedAt && onNew) {
      const body = await viaVip(0.5, address);
      if (body !== null && body.includes(`served by ${names[to]}`)) servedAt = performance.now() - startedAt;
    }
    await sleep(20);
  }
  console.log(`${what}: VIP dropped by ${names[from]} after ${droppedAt.toFixed(0)} ms; VIP + HTTP answering from ${names[to]} after ${servedAt.toFixed(0)} ms ` +
    `(Pacemaker on this machine, kill -9 of the owner: 8.5 s; load ${readFileSync('/proc/loadavg', 'utf8').trim()})`);
  assert.deepEqual(overlaps, [], `${what}: the VIP was on both nodes at once:\n${overlaps.join('\n')}\n${logsTail()}`);
  assert.ok(droppedAt > 0, `${what}: ${names[from]} kept the VIP\n${logsTail()}`);
  assert.equal(holds(nsNode(from), address), false, `${what}: ${names[from]} has dropped the VIP`);
  return { droppedAt, servedAt };
}

function logsTail(): string {
  return [...procs.entries()].map(([n, p]) => `--- ${n}\n${p.log.split('\n').slice(-20).join('\n')}`).join('\n');
}

async function tearDown(): Promise<void> {
  for (const { proc } of procs.values()) if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  for (const ns of [nsNode(0), nsNode(1), nsClient]) {
    const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
    for (const pid of pids) { try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ } }
  }
  await sleep(100);
  for (const ns of [nsNode(0), nsNode(1), nsClient, nsSwitch]) spawnSync('ip', ['netns', 'del', ns]);
  const ps = spawnSync('pgrep', ['-f', dir], { encoding: 'utf8' });
  for (const pid of ps.stdout.split('\n').filter(Boolean)) { try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ } }
  rmSync(dir, { recursive: true, force: true });
}

before(() => {
  if (isRoot) setUpNetwork();
});

after(async () => {
  if (isRoot && made) await tearDown();
});

/**
 * `clusterd init` of cluster `cluster` (its own quorum directory, CA and admin token) and its two
 * nodes started in their namespaces on `port`; the nodes of an earlier cluster are killed first.
 * The nodes listen on the lan: HTTPS with certificates of the cluster's CA, and the admin token.
 */
async function startCluster(cluster: string, port: number): Promise<void> {
  for (const { proc } of procs.values()) if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  procs.clear();
  apiPort = port;
  const config = join(dir, `config-${cluster}`);
  const init = spawnSync(process.execPath, [clusterdBin, 'init', '--quorum', `dir:${join(dir, `quorum-${cluster}`)}`, '--cluster', cluster],
    { encoding: 'utf8', env: { ...process.env, XDG_CONFIG_HOME: config } });
  assert.equal(init.status, 0, `clusterd init: ${init.stderr}`);
  const cred = JSON.parse(readFileSync(join(config, 'clusterd', 'credentials', `${cluster}.json`), 'utf8')) as { token: string; ca: string };
  writeFileSync(join(dir, 'ca.pem'), cred.ca);
  adminToken = cred.token;
  for (const i of [0, 1]) {
    startNode(i, cluster);
    await waitFor(`${names[i]} to serve its API`, async () => (await api(i, '/v1/status').catch(() => null))?.status === 200, 30_000, 100);
  }
  await waitFor('two nodes Up', async () => (await status()).nodes.filter((n) => n.state === 'Up').length === 2, 30_000, 100);
}

test('a VIP on a real link: reachable, address in use refused, moved on a cut link and on kill -9 of its owner, never on two nodes', { timeout: 300_000 }, async () => {
  assert.ok(isRoot, 'this test needs root: it creates network namespaces, veth pairs and a bridge (run the tests as root, as .ci/run does)');
  assert.equal(spawnSync('arping', ['--help']).error, undefined, 'arping is not installed (Debian package arping, in .ci/run)');
  await startCluster('vip', 17500);

  const spec = { groups: {
    web: {
      preferredOwners: ['n1', 'n2'], state: 'online', failoverThreshold: 10,
      resources: {
        'web-ip': { type: 'ip', priv: { address: `${vip}/24`, interface: lan } },
        'web-srv': { type: 'process', dependsOn: ['web-ip'], priv: { command: process.execPath, args: ['-e', serverJs, String(webPort), dir], probe: `http://127.0.0.1:${webPort}/` } },
      },
    },
    taken: {
      preferredOwners: ['n2', 'n1'], state: 'online',
      failoverThreshold: 0,
      resources: { 'taken-ip': { type: 'ip', props: { restartThreshold: 0 }, priv: { address: `${takenIp}/24`, interface: lan } } },
    },
  } };
  const applied = await api(0, '/v1/apply', 'POST', { spec, dryRun: false });
  assert.equal(applied.status, 200, JSON.stringify(applied.body));

  // The client reaches the service through the VIP, on n1 only.
  const first = await waitFor('the service through the VIP', () => viaVip(), 30_000, 100).catch((e: Error) => assert.fail(`${e.message}\n${logsTail()}`));
  assert.match(first, /served by n1/);
  assert.deepEqual([holds(nsNode(0), vip), holds(nsNode(1), vip)], [true, false], 'the VIP is on n1 only');

  // An address the client holds on the link: refused on every node, never added.
  const refused = await waitFor('taken-ip refused', async () => {
    const r = await api<ResourceView>(0, '/v1/resources/taken-ip');
    return r.body.state === 'Failed' ? r.body : null;
  }, 30_000, 200);
  const events = await api<{ events: { message: string }[] }>(0, '/v1/events?after=0&limit=10000');
  const said = [refused.error ?? '', ...events.body.events.map((e) => e.message)].join('\n');
  assert.match(said, /IP_ADDRESS_IN_USE/, `the refusal names IP_ADDRESS_IN_USE:\n${said.slice(-2000)}`);
  assert.deepEqual([holds(nsNode(0), takenIp), holds(nsNode(1), takenIp)], [false, false], 'an address in use is never added');

  // The cost of the fence's removal: the same `ip -batch` the agent runs, on a scratch address.
  run('ip', ['-n', nsClient, 'addr', 'add', `${subnet}.77/24`, 'dev', lan]);
  const t0 = performance.now();
  spawnSync('ip', ['-n', nsClient, '-force', '-batch', '-'], { input: `addr del ${subnet}.77/24 dev ${lan}\n`, timeout: 1_000 });
  console.log(`fence path: one ip -batch removing an address took ${(performance.now() - t0).toFixed(1)} ms (load ${spawnSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).stdout.trim()})`);

  // n1's cable cut (the switch side of its link down): the ip resource fails its health check,
  // cannot come back on a link without carrier, and the group moves to n2; n1 removes the address.
  run('ip', ['-n', nsSwitch, 'link', 'set', 'p-n1', 'down']);
  const cut = await watchMove(0, 1, 'link of n1 cut', 90_000);
  assert.ok(cut.servedAt > 0, `the VIP did not answer from n2 after n1's link was cut\n${logsTail()}`);
  run('ip', ['-n', nsSwitch, 'link', 'set', 'p-n1', 'up']);

  // kill -9 of the owner's clusterd (now n2): its monitor drops the VIP, n1 takes it.
  procs.get('n2')!.proc.kill('SIGKILL');
  const killed = await watchMove(1, 0, "kill -9 of n2's clusterd", 60_000);
  assert.ok(killed.servedAt > 0, `the VIP did not answer from n1 within 60 s of the kill\n${logsTail()}`);

  // kill -9 of n1's resource monitor (clusterd lives): the address goes with the monitor's
  // resources, then the group is restarted and the VIP answers again.
  const monitorPid = spawnSync('ip', ['netns', 'pids', nsNode(0)], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number)
    .find((pid) => { try { return /monitor\.js/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8')); } catch { return false; } });
  assert.ok(monitorPid !== undefined, 'n1 runs a resource monitor');
  process.kill(monitorPid, 'SIGKILL');
  await waitFor('the VIP removed from n1 with its lost monitor', () => !holds(nsNode(0), vip), 20_000, 20);
  const again = await waitFor('the VIP answering again after the monitor restarted', () => viaVip(), 60_000, 200);
  assert.match(again, /served by n1/);
});

test('an IPv6 VIP (ULA): online after duplicate address detection, an address in use refused, moved on kill -9 of its owner, removed by offline', { timeout: 300_000 }, async () => {
  assert.ok(isRoot, 'this test needs root: it creates network namespaces, veth pairs and a bridge (run the tests as root, as .ci/run does)');
  await startCluster('vip6', 17600);
  const spec = { groups: {
    web6: {
      preferredOwners: ['n1', 'n2'], state: 'online', failoverThreshold: 10,
      resources: {
        'web6-ip': { type: 'ip', priv: { address: `${vip6}/64`, interface: lan } },
        'web6-srv': { type: 'process', dependsOn: ['web6-ip'], priv: { command: process.execPath, args: ['-e', serverJs, String(webPort6), dir, '::'], probe: `http://127.0.0.1:${webPort6}/` } },
      },
    },
    taken6: {
      preferredOwners: ['n2', 'n1'], state: 'online', failoverThreshold: 0,
      resources: { 'taken6-ip': { type: 'ip', props: { restartThreshold: 0 }, priv: { address: `${takenIp6}/64`, interface: lan } } },
    },
  } };
  const applied = await api(0, '/v1/apply', 'POST', { spec, dryRun: false });
  assert.equal(applied.status, 200, JSON.stringify(applied.body));

  // Online: added on n1 once DAD passed (never left tentative), the client reaches the service through it.
  const first = await waitFor('the service through the IPv6 VIP', () => viaVip(1, vip6), 60_000, 100).catch((e: Error) => assert.fail(`${e.message}\n${logsTail()}`));
  assert.match(first, /served by n1/);
  assert.deepEqual([holds(nsNode(0), vip6), holds(nsNode(1), vip6)], [true, false], 'the IPv6 VIP is on n1 only');
  assert.equal((await api<ResourceView>(0, '/v1/resources/web6-ip')).body.state, 'Online');

  // An address the client holds: DAD fails on every node that tries, the address is not kept.
  const refused = await waitFor('taken6-ip refused', async () => {
    const r = await api<ResourceView>(0, '/v1/resources/taken6-ip');
    return r.body.state === 'Failed' ? r.body : null;
  }, 60_000, 200);
  const events = await api<{ events: { message: string }[] }>(0, '/v1/events?after=0&limit=10000');
  const said = [refused.error ?? '', ...events.body.events.map((e) => e.message)].join('\n');
  assert.match(said, /IP_ADDRESS_IN_USE/, `the refusal names IP_ADDRESS_IN_USE:\n${said.slice(-2000)}`);
  assert.deepEqual([holds(nsNode(0), takenIp6), holds(nsNode(1), takenIp6)], [false, false], 'an address in use is not kept');
  assert.equal(holds(nsClient, takenIp6), true, 'the client still holds its address');

  // kill -9 of the owner's clusterd: its monitor drops the address, n2 adds it (its DAD would
  // fail if n1 still held it), the client reaches n2 through it (unsolicited NA updated its cache).
  procs.get('n1')!.proc.kill('SIGKILL');
  const killed = await watchMove(0, 1, "IPv6: kill -9 of n1's clusterd", 90_000, vip6);
  assert.ok(killed.servedAt > 0, `the IPv6 VIP did not answer from n2 within 90 s of the kill\n${logsTail()}`);

  // Offline removes it.
  await waitFor('web6 /offline accepted', async () => (await api(1, '/v1/groups/web6/offline', 'POST').catch(() => null))?.status === 200, 30_000, 200);
  await waitFor('the IPv6 VIP removed by offline', async () => (await api<ResourceView>(1, '/v1/resources/web6-ip')).body.state === 'Offline', 60_000, 200);
  assert.deepEqual([holds(nsNode(0), vip6), holds(nsNode(1), vip6)], [false, false], 'offline removed the IPv6 VIP');
  assert.equal(await viaVip(1, vip6), null, 'nothing answers on the IPv6 VIP');
});
