// `node dist/bench/etcd.js`: figures for the etcd quorum store beside the dir one, on real
// clusterd processes (3 nodes on loopback, default timing, the demo's HTTP service) and real etcd
// members (Debian's etcd-server, 3 members on loopback). Prints figures; asserts nothing.
//   BENCH_RUNS=10                      hard failovers and planned moves to measure
//   BENCH_UPDATES_S=5                  seconds of configuration updates per measurement
//   BENCH_BACKENDS=etcd,dir            which quorum stores to measure
//   BENCH_ONLY=idle,failover,move,updates,store   a subset
//   BENCH_IDLE_S=60                    seconds of idle CPU measurement (clusterd, its monitor, each etcd member)
//   BENCH_CLIENTS=1,16,64              concurrent API clients of the update measurement
//   BENCH_ETCD_ELECTION_MS=250 BENCH_ETCD_HEARTBEAT_MS=25   etcd's own timing

import { cpus, loadavg } from 'node:os';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdStore } from '../src/store/etcd.js';
import { DirStore } from '../src/store/dir.js';
import type { QuorumStore } from '../src/store/types.js';
import { EtcdCluster } from '../test/etcd-harness.js';
import { authFor, freePort, httpText, sleep, TestCluster, waitFor, type ClusterOptions } from '../test/harness.js';

const runs = Number(process.env.BENCH_RUNS ?? 10);
const updatesS = Number(process.env.BENCH_UPDATES_S ?? 5);
const backends = (process.env.BENCH_BACKENDS ?? 'etcd,dir').split(',');
const only = new Set((process.env.BENCH_ONLY ?? 'idle,failover,move,updates,store').split(','));
const idleS = Number(process.env.BENCH_IDLE_S ?? 60);
const clientCounts = (process.env.BENCH_CLIENTS ?? '1,16,64').split(',').map(Number);
const etcdElectionMs = Number(process.env.BENCH_ETCD_ELECTION_MS ?? 250);
const etcdHeartbeatMs = Number(process.env.BENCH_ETCD_HEARTBEAT_MS ?? 25);
const load = (): string => loadavg().map((x) => x.toFixed(1)).join(' ');
const names = ['n1', 'n2', 'n3'];

const servedBy = (t: string | null) => /served by (\S+) \(epoch (\d+)\)/.exec(t ?? '')?.[1] ?? null;

function stats(label: string, xs: number[]): void {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) { console.log(`${label}: no samples`); return; }
  const med = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  console.log(`${label}: n=${s.length} min ${s[0]!.toFixed(0)} ms, median ${med.toFixed(0)} ms, max ${s[s.length - 1]!.toFixed(0)} ms`);
}

async function retry<T>(what: string, fn: () => Promise<T>, attempts = 4): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts) throw err;
      console.log(`(${what} failed, trying again: ${(err as Error).message.split('\n')[0]!.slice(0, 200)})`);
      await sleep(1_000);
    }
  }
}

/** A TestCluster whose quorum store is the given spec (etcd) instead of a temp directory. */
class SpecCluster extends TestCluster {
  override readonly quorum: string;
  /** Outside the cluster's own directory (it is made first): removed by close() too. */
  private authDir: string | null = null;
  constructor(spec: string, opts: ClusterOptions = {}) {
    super(opts);
    this.quorum = spec;
  }

  override async close(): Promise<void> {
    await super.close();
    if (this.authDir !== null) rmSync(this.authDir, { recursive: true, force: true });
  }

  static async startOn(spec: string, nodes: string[]): Promise<SpecCluster> {
    // An etcd store has no directory for the cluster CA and node token: they go in the test's own.
    const authDir = mkdtempSync(join(tmpdir(), 'clusterd-bench-auth-'));
    const c = new SpecCluster(spec, { startArgs: ['--auth-dir', authDir] });
    c.authDir = authDir;
    try {
      await SpecCluster.startNodes(c, authDir, nodes);
    } catch (err) {
      await c.close(); // the nodes started so far
      throw err;
    }
    return c;
  }

  private static async startNodes(c: SpecCluster, authDir: string, nodes: string[]): Promise<void> {
    // On a loaded machine a first etcd call can miss its 500 ms deadline: the bench tries again, as a supervisor would.
    await retry('clusterd init', async () => c.init(['--auth-dir', authDir]));
    for (const n of nodes) await retry(`starting ${n}`, () => c.startNode(n));
    await c.waitStatus('all nodes Up and a coordinator', (s) => !!s.coordinator && s.nodes.filter((n) => n.state === 'Up').length === nodes.length);
  }
}

async function untilServedBy(port: number, pred: (n: string | null) => boolean, t0: number, timeoutMs = 30_000): Promise<number> {
  while (performance.now() - t0 < timeoutMs) {
    if (pred(servedBy(await httpText(`http://127.0.0.1:${port}/`, 200)))) return performance.now() - t0;
    await sleep(5);
  }
  throw new Error('service did not come back');
}

async function hardFailover(c: TestCluster, port: number, label: string): Promise<void> {
  const xs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const owner = await waitFor('owner', async () => servedBy(await httpText(`http://127.0.0.1:${port}/`)));
    const victim = c.nodes.get(owner)!;
    const t0 = performance.now();
    victim.proc.kill('SIGKILL');
    xs.push(await untilServedBy(port, (n) => n !== null && n !== owner, t0));
    await victim.exited;
    await c.startNode(owner);
    await c.waitStatus('all Up', (s) => s.nodes.filter((n) => n.state === 'Up').length === names.length, 30_000);
  }
  stats(`${label} hard failover (kill -9 of the owner's clusterd until the service answers elsewhere)`, xs);
}

async function plannedMove(c: TestCluster, port: number, label: string): Promise<void> {
  const outages: number[] = [];
  const totals: number[] = [];
  for (let i = 0; i < runs; i++) {
    const owner = await waitFor('owner', async () => servedBy(await httpText(`http://127.0.0.1:${port}/`)));
    const target = names.find((n) => n !== owner)!;
    let lastOld = performance.now();
    const t0 = performance.now();
    const moved = c.api('/v1/groups/web/move', { method: 'POST', body: { node: target } });
    let firstNew = 0;
    while (performance.now() - t0 < 30_000) {
      const n = servedBy(await httpText(`http://127.0.0.1:${port}/`, 200));
      if (n === owner) lastOld = performance.now();
      if (n === target) { firstNew = performance.now(); break; }
      await sleep(2);
    }
    await moved;
    outages.push(firstNew - lastOld);
    totals.push(firstNew - t0);
    await c.waitStatus('web Online', (s) => s.groups.find((g) => g.name === 'web')?.state === 'Online');
  }
  stats(`${label} planned move: outage (last answer from the old node to first from the new)`, outages);
  stats(`${label} planned move: request to first answer from the new node`, totals);
}

/** utime + stime of a process in clock ticks (100 per second on Linux), or NaN once it is gone. */
function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return NaN;
  }
}

/** The direct children of a process (clusterd's resource monitor). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const t of readdirSync(`/proc/${pid}/task`)) {
      out.push(...readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
    }
  } catch {
    // gone
  }
  return out;
}

/** etcd's gRPC calls served so far, by method (grpc_server_handled_total on /metrics), and its proposals. */
async function etcdCounters(url: string): Promise<Map<string, number>> {
  const m = new Map<string, number>();
  const body = await (await fetch(`${url}/metrics`)).text();
  for (const line of body.split('\n')) {
    const g = /^grpc_server_handled_total\{.*grpc_method="(\w+)".*\} (\S+)$/.exec(line);
    if (g) m.set(g[1]!, (m.get(g[1]!) ?? 0) + Number(g[2]));
    const p = /^etcd_server_proposals_committed_total (\S+)$/.exec(line);
    if (p) m.set('(raft proposals committed)', Number(p[1]));
  }
  return m;
}

/** CPU of every process of the cluster over `idleS` seconds with nothing to do, as % of one core. */
async function idleCpu(c: TestCluster, etcd: EtcdCluster | null, label: string): Promise<void> {
  await sleep(5_000); // the start's own work (elections, first placements) settles
  const procs: { what: string; pid: number }[] = [];
  for (const [name, n] of c.nodes) {
    procs.push({ what: `clusterd ${name}`, pid: n.proc.pid! });
    for (const k of childrenOf(n.proc.pid!)) procs.push({ what: `  its monitor (pid ${k})`, pid: k });
  }
  for (const m of etcd?.members ?? []) procs.push({ what: `etcd ${m.name}`, pid: m.proc!.pid! });
  const before = procs.map((p) => cpuTicks(p.pid));
  const allCounters = async () => {
    const sum = new Map<string, number>();
    for (const m of etcd?.members ?? []) {
      for (const [k, v] of await etcdCounters(m.clientUrl)) sum.set(k, k.startsWith('(') ? Math.max(sum.get(k) ?? 0, v) : (sum.get(k) ?? 0) + v);
    }
    return sum;
  };
  const counters0 = etcd ? await allCounters() : null;
  const t0 = performance.now();
  await sleep(idleS * 1000);
  const s = (performance.now() - t0) / 1000;
  const after = procs.map((p) => cpuTicks(p.pid));
  console.log(`${label} idle CPU over ${s.toFixed(0)} s (load average ${load()}), % of one core:`);
  procs.forEach((p, i) => console.log(`${label}   ${p.what}: ${((after[i]! - before[i]!) / s).toFixed(2)}%`));
  if (etcd && counters0) {
    const counters1 = await allCounters();
    const rates = [...counters1].map(([k, v]) => [k, (v - (counters0.get(k) ?? 0)) / s] as const).filter(([, r]) => r > 0.05);
    console.log(`${label}   requests per second served by the etcd members (gRPC calls, and raft proposals committed): ` +
      rates.map(([k, r]) => `${k} ${r.toFixed(1)}`).join(', '));
  }
}

/** Acknowledged configuration updates per second through the coordinator's API (PATCH of a group property). */
async function configUpdates(c: TestCluster, label: string): Promise<void> {
  const s = await c.status();
  const coord = c.nodes.get(s.coordinator!)!;
  for (const clients of clientCounts) {
    let done = 0;
    let failed = 0;
    const until = performance.now() + updatesS * 1000;
    const latencies: number[] = [];
    await Promise.all(Array.from({ length: clients }, async (_, k) => {
      let i = 0;
      while (performance.now() < until) {
        const t0 = performance.now();
        const res = await fetch(`${coord.url}/v1/groups/web`, {
          method: 'PATCH', headers: { 'content-type': 'application/json', ...authFor(coord.url) },
          body: JSON.stringify({ failoverThreshold: 1 + ((k * 1000 + i++) % 50) }), signal: AbortSignal.timeout(5_000),
        }).catch(() => null);
        await res?.text();
        if (res?.status === 200) { done++; latencies.push(performance.now() - t0); } else failed++;
      }
    }));
    latencies.sort((a, b) => a - b);
    console.log(`${label} configuration updates through the API, ${clients} client(s): ${(done / updatesS).toFixed(0)}/s acknowledged` +
      ` (median latency ${latencies[Math.floor(latencies.length / 2)]?.toFixed(1) ?? '-'} ms, p99 ${latencies[Math.floor(latencies.length * 0.99)]?.toFixed(1) ?? '-'} ms,` +
      ` ${failed} failed; load average ${load()})`);
  }
}

/** The store alone: sequential appends of one update and lease renewals, the floor under the figures above. */
async function storeOps(store: QuorumStore, label: string, fresh: boolean): Promise<void> {
  const opened = fresh ? await store.init('bench', Date.now()) : await store.open();
  if (!opened.ok) throw opened.error;
  try {
    const c = await store.readCoordinator();
    const term = c.term + 1;
    const won = await store.casCoordinator(c, { term, node: 'bench' });
    if (!won.ok || !won.value) throw new Error('bench could not take a term');
    let head = await store.logHead();
    let n = 0;
    const until = performance.now() + updatesS * 1000;
    while (performance.now() < until) {
      const r = await store.appendLog(term, head, [{ op: 'node-pause', node: 'n1', paused: n % 2 === 0 }]);
      if (!r.ok) throw r.error;
      head++;
      n++;
    }
    console.log(`${label} store: sequential appendLog of one update: ${(n / updatesS).toFixed(0)}/s`);
    const claimed = await store.claimLeaseSlot('bench', 'bench-inc');
    if (!claimed.ok) throw claimed.error;
    let k = 0;
    const until2 = performance.now() + Math.min(updatesS, 3) * 1000;
    const lat: number[] = [];
    while (performance.now() < until2) {
      const t0 = performance.now();
      const r = await store.renewLease('bench', ++k, 'running');
      if (!r.ok) throw r.error;
      lat.push(performance.now() - t0);
    }
    lat.sort((a, b) => a - b);
    console.log(`${label} store: renewLease median ${lat[Math.floor(lat.length / 2)]!.toFixed(2)} ms, p99 ${lat[Math.floor(lat.length * 0.99)]!.toFixed(2)} ms`);
    await store.removeLeaseSlot('bench');
  } finally {
    await store.close();
  }
}

async function measure(backend: string): Promise<void> {
  let etcd: EtcdCluster | null = null;
  let c: TestCluster | null = null;
  try {
    let spec: string;
    if (backend === 'etcd') {
      etcd = await EtcdCluster.start({
        members: 3, electionMs: etcdElectionMs, heartbeatMs: etcdHeartbeatMs,
      });
      spec = etcd.spec();
      c = await SpecCluster.startOn(spec, names);
    } else {
      c = await TestCluster.start(names);
      spec = c.quorum;
    }
    const port = await freePort();
    await retry('adding the web group', () => c!.addWebGroup('web', port, { preferred: names, resource: 'web-srv' }));
    await waitFor('web online', async () => servedBy(await httpText(`http://127.0.0.1:${port}/`)), 120_000);
    const label = `[${backend}]`;
    if (only.has('idle')) await idleCpu(c, etcd, label);
    if (only.has('failover')) await hardFailover(c, port, label);
    if (only.has('move')) await plannedMove(c, port, label);
    if (only.has('updates')) await configUpdates(c, label);
    await c.close();
    c = null;
    if (only.has('store')) {
      if (backend === 'etcd') {
        await storeOps(new EtcdStore(etcd!.endpoints()), label, false);
      } else {
        const dir = mkdtempSync(join(tmpdir(), 'clusterd-bench-'));
        try {
          await storeOps(new DirStore(join(dir, 'q')), label, true);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
    }
  } finally {
    await c?.close();
    await etcd?.stop();
  }
}

async function main(): Promise<void> {
  console.log(`clusterd etcd benchmark: 3 clusterd nodes on loopback, ${cpus().length} cores, default clusterd timing; etcd: 3 members on loopback ` +
    `(heartbeat ${etcdHeartbeatMs} ms, election ${etcdElectionMs} ms); load average ${load()}`);
  for (const b of backends) await measure(b);
}

main().catch((e) => { console.error(e); process.exit(1); });
