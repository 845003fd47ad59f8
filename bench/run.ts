// `npm run bench`: failover figures on real clusterd processes (dir quorum store, loopback).
// Prints figures; asserts nothing. Options (environment):
//   BENCH_RUNS=10            hard failovers and planned moves to measure
//   BENCH_SATURATION_S=120   seconds of CPU saturation for the false-failover count (0 skips)
//   BENCH_ONLY=failover,move,restart,saturation,memory   a subset

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { freePort, httpText, sleep, TestCluster, waitFor } from '../test/harness.js';

const runs = Number(process.env.BENCH_RUNS ?? 10);
const saturationS = Number(process.env.BENCH_SATURATION_S ?? 120);
const only = new Set((process.env.BENCH_ONLY ?? 'failover,move,restart,saturation,memory').split(','));
const names = ['n1', 'n2', 'n3'];

const servedBy = (t: string | null) => /served by (\S+) \(epoch (\d+)\)/.exec(t ?? '')?.[1] ?? null;

function stats(label: string, xs: number[]): void {
  const s = [...xs].sort((a, b) => a - b);
  const med = s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  console.log(`${label}: n=${s.length} min ${s[0]!.toFixed(0)} ms, median ${med.toFixed(0)} ms, max ${s[s.length - 1]!.toFixed(0)} ms`);
}

/** Poll the service as fast as it answers until `pred` holds for the serving node; returns ms. */
async function untilServedBy(port: number, pred: (n: string | null) => boolean, t0: number, timeoutMs = 30_000): Promise<number> {
  while (performance.now() - t0 < timeoutMs) {
    if (pred(servedBy(await httpText(`http://127.0.0.1:${port}/`, 200)))) return performance.now() - t0;
    await sleep(5);
  }
  throw new Error('service did not come back');
}

async function hardFailover(c: TestCluster, port: number): Promise<void> {
  const xs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const owner = await waitFor('owner', async () => servedBy(await httpText(`http://127.0.0.1:${port}/`)));
    const victim = c.nodes.get(owner)!;
    const t0 = performance.now();
    victim.proc.kill('SIGKILL');
    xs.push(await untilServedBy(port, (n) => n !== null && n !== owner, t0));
    await victim.exited;
    await c.startNode(owner);
    await c.waitStatus('all Up', (s) => s.nodes.filter((n) => n.state === 'Up').length === names.length);
  }
  stats('hard failover (kill -9 of the owner until the service answers elsewhere)', xs);
}

async function plannedMove(c: TestCluster, port: number): Promise<void> {
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
  stats('planned move: outage (last answer from the old node to first from the new)', outages);
  stats('planned move: request to first answer from the new node', totals);
}

async function restartInPlace(c: TestCluster, port: number): Promise<void> {
  const xs: number[] = [];
  for (let i = 0; i < Math.min(runs, 3); i++) {
    const owner = await waitFor('owner', async () => servedBy(await httpText(`http://127.0.0.1:${port}/`)));
    const t0 = performance.now();
    spawn('pkill', ['-KILL', '-f', `web-service.js ${port}`]);
    // Measure from the moment the service stopped answering.
    await waitFor('service down', async () => (await httpText(`http://127.0.0.1:${port}/`, 200)) === null, 5_000, 2);
    xs.push(await untilServedBy(port, (n) => n === owner, t0));
    await c.waitStatus('web Online', (st) => st.groups.find((g) => g.name === 'web')?.state === 'Online');
    await sleep(300);
  }
  stats('restart of a killed service in place (restart delay 500 ms + start)', xs);
}

async function saturation(c: TestCluster): Promise<void> {
  const before = (await c.events()).length;
  const burners: ChildProcess[] = [];
  // Two busy loops per core: every core saturated, with a run queue behind it.
  for (let i = 0; i < cpus().length * 2; i++) burners.push(spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }));
  let downSeen = 0;
  const until = performance.now() + saturationS * 1000;
  try {
    while (performance.now() < until) {
      const s = await c.status().catch(() => null);
      if (s) downSeen += s.nodes.filter((n) => n.state === 'Down').length;
      await sleep(500);
    }
  } finally {
    for (const b of burners) b.kill('SIGKILL');
  }
  const ev = (await c.events()).slice(before);
  const count = (e: string) => ev.filter((x) => x.event === e).length;
  console.log(`false failovers during ${saturationS} s with ${burners.length} busy loops on ${cpus().length} cores: ` +
    `GROUP_FAILOVER ${count('GROUP_FAILOVER')}, NODE_STALLED ${count('NODE_STALLED')}, COORDINATOR_ELECTED ${count('COORDINATOR_ELECTED')}, ` +
    `RESOURCE_FAILED ${count('RESOURCE_FAILED')}, node Down observations ${downSeen}`);
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function memory(c: TestCluster): void {
  for (const n of c.nodes.values()) {
    const pid = n.proc.pid!;
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
    const monitor = children.map(rssMiB).reduce((a, b) => a + b, 0);
    console.log(`memory ${n.name}: clusterd ${rssMiB(pid).toFixed(1)} MiB RSS, resource monitor ${monitor.toFixed(1)} MiB RSS`);
  }
}

async function main(): Promise<void> {
  const c = await TestCluster.start(names);
  try {
    const port = await freePort();
    await c.addWebGroup('web', port, { preferred: names, resource: 'web-srv' });
    await waitFor('web online', async () => servedBy(await httpText(`http://127.0.0.1:${port}/`)));
    console.log(`clusterd benchmark: 3 nodes on loopback, dir quorum store, ${cpus().length} cores, default timing`);
    if (only.has('failover')) await hardFailover(c, port);
    if (only.has('move')) await plannedMove(c, port);
    if (only.has('restart')) await restartInPlace(c, port);
    if (only.has('memory')) memory(c);
    if (only.has('saturation') && saturationS > 0) await saturation(c);
  } finally {
    await c.close();
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
