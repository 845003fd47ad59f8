// `npm run bench:scale`: clusterd at scale as a user runs it. Real clusterd processes
// (bin/clusterd.js) on a dir quorum, 3 nodes, real process resources (`/bin/sleep`, no probe),
// one `cluster apply` of them all; everything measured from outside, through the API and the CLI:
//   1. idle RSS of clusterd + its resource monitor per node, before any resource;
//   2. the apply until every resource shows Online;
//   3. a quiet period counting NODE_STALLED / NODE_SELF_FENCED / NODE_LEASE_LOST events, and the
//      idle RSS per node with the resources running;
//   4. kill -9 of the clusterd holding the most resources until all show Online elsewhere, with a
//      line a second (Online, CPU of each clusterd and monitor, how busy the cores were);
//   5. one configuration change (a group created): until committed, and until every node shows it.
// After each step, the longest event-loop turn each clusterd saw so far (its
// clusterd_event_loop_delay_max_seconds on /metrics, sampled every 20 ms from the first scrape on) and the load average;
// after the start and after the failover, the CPU seconds each clusterd and its monitor used.
// Prints figures; asserts nothing. Every process it starts is stopped at the end, also on failure.
//   BENCH_SCALE_PER_NODE=1000   resources per node (3 nodes: three times that in all)
//   BENCH_SCALE_PER_GROUP=10    resources per group
//   BENCH_SCALE_QUIET_S=60      the quiet period (the project's target is 300)
//   BENCH_SCALE_BIN=dir         a checkout whose bin/ to run (default: this one), to compare builds
//   BENCH_SCALE_STEP_MAX_S=600  bound on each wait (a step past it is reported as not reached)
//   BENCH_SCALE_APPLY_GROUPS=n  groups per `cluster apply` (default: all in one); several applies
//                               when one large apply is beyond the build measured
//   BENCH_SCALE_NODE_ARGS=..    node flags for the clusterd processes, space-separated, e.g.
//                               "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile them

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, repoRoot } from '../test/harness.js';
import { clusterdStartEnv } from '../src/daemon/start-env.js';
import { cpuParts, killInDir, rssMiB } from './procs.js';

const perNode = Number(process.env.BENCH_SCALE_PER_NODE ?? 1_000);
const perGroup = Number(process.env.BENCH_SCALE_PER_GROUP ?? 10);
const quietS = Number(process.env.BENCH_SCALE_QUIET_S ?? 60);
const applyGroups = Number(process.env.BENCH_SCALE_APPLY_GROUPS ?? Infinity);
const root = resolve(process.env.BENCH_SCALE_BIN ?? repoRoot);
const nodeArgs = (process.env.BENCH_SCALE_NODE_ARGS ?? '').split(' ').filter(Boolean);
const names = ['n1', 'n2', 'n3'];
const total = perNode * names.length;
const groupCount = Math.ceil(total / perGroup);
/** Status polls: fine enough for figures of seconds, light enough not to load the nodes (a status of 3,000 resources is about 1 MB of JSON). */
const pollMs = 250;
/** Bound on any one wait of the benchmark: past it the step is reported as not reached. */
const stepMaxMs = Number(process.env.BENCH_SCALE_STEP_MAX_S ?? 600) * 1000;
/** Events that mean a node stalled: every one is a failure of the scale target. */
const stallEvents = new Set(['NODE_STALLED', 'NODE_SELF_FENCED', 'NODE_LEASE_LOST']);

const tmp = mkdtempSync(join(tmpdir(), 'clusterd-bench-scale-'));
/** The resources run here: what is left at the end is found by its working directory and killed. */
const runDir = join(tmp, 'run');
mkdirSync(runDir);
const ports: Record<string, number> = {};
const procs: Record<string, ChildProcess> = {};
const quorum = `dir:${tmp}/quorum`;
/** clusterd init writes the admin credential here; the CLI and the raw requests use it. */
const configHome = join(tmp, 'config');
let auth: Record<string, string> = {};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const s1 = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const url = (n: string) => `http://127.0.0.1:${ports[n]}`;
const live = () => names.filter((n) => procs[n]?.exitCode === null && procs[n]?.signalCode === null);

interface Status {
  coordinator: string | null;
  nodes: { name: string; state: string }[];
  groups: { name: string; node: string | null; state: string }[];
  resources: { name: string; node: string | null; state: string }[];
}

async function getJson<T>(u: string, timeoutMs = 10_000): Promise<T | null> {
  try {
    const r = await fetch(u, { headers: auth, signal: AbortSignal.timeout(timeoutMs) });
    return r.ok ? ((await r.json()) as T) : null;
  } catch {
    return null;
  }
}

/** The status of the first live node that answers. */
async function status(except?: string): Promise<Status | null> {
  for (const n of live()) {
    if (n === except) continue;
    const s = await getJson<Status>(`${url(n)}/v1/status`);
    if (s) return s;
  }
  return null;
}

async function until<T>(what: string, fn: () => Promise<T | null | false | undefined>, stepMs = pollMs): Promise<T> {
  const deadline = performance.now() + stepMaxMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (performance.now() > deadline) throw new Error(`not within ${s1(stepMaxMs)}: ${what}`);
    await sleep(stepMs);
  }
}

function cli(args: string[], timeoutMs = 300_000): Promise<string> {
  return new Promise((res, rej) => execFile(process.execPath, [join(root, 'bin/cluster.js'), ...args], {
    env: { ...process.env, XDG_CONFIG_HOME: configHome, CLUSTERD_ENDPOINT: live().map(url).join(',') }, timeout: timeoutMs, maxBuffer: 256 << 20,
  }, (err, out, errOut) => (err ? rej(new Error(`cluster ${args.join(' ')}: ${errOut || err.message}`)) : res(out))));
}

function start(n: string): void {
  procs[n] = spawn(process.execPath, [...nodeArgs, join(root, 'bin/clusterd.js'), 'start', '--quorum', quorum, '--node', n,
    '--listen', `127.0.0.1:${ports[n]}`, '--data-dir', join(tmp, `data-${n}`)],
  { stdio: ['ignore', 'ignore', 'ignore'], env: clusterdStartEnv(process.env) });
}

/** The longest event-loop delay each live node has seen since its first scrape (ms), from /metrics. */
async function loopMaxLine(): Promise<string> {
  const out: string[] = [];
  for (const n of live()) {
    const text = await fetch(`${url(n)}/metrics`, { signal: AbortSignal.timeout(10_000) }).then((r) => r.text()).catch(() => '');
    const v = /^clusterd_event_loop_delay_max_seconds (\S+)$/m.exec(text)?.[1];
    out.push(`${n} ${v === undefined ? '?' : (Number(v) * 1000).toFixed(0)}`);
  }
  return `longest event-loop turn so far, ms: ${out.join(', ')}; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}`;
}

const rssLine = () => names.map((n) => `${n} ${rssMiB(procs[n]?.pid).toFixed(0)}`).join(', ');

type CpuMark = Record<string, { clusterd: number; monitor: number }>;
const cpuMark = (): CpuMark => Object.fromEntries(live().map((n) => [n, cpuParts(procs[n]?.pid)]));
/** CPU seconds each live node's clusterd and monitor used since `from`: where the cores went during a step. */
function cpuLine(from: CpuMark): string {
  const now = cpuMark();
  return `CPU used meanwhile, s (clusterd + monitor): ${Object.entries(now).filter(([n]) => from[n]).map(([n, c]) => `${n} ${(c.clusterd - from[n]!.clusterd).toFixed(1)} + ${(c.monitor - from[n]!.monitor).toFixed(1)}`).join(', ')}`;
}

/** The machine's CPU time so far from /proc/stat, in clock ticks: busy (user, nice, system, irq, softirq, steal) and all. */
function machineTicks(): { busy: number; all: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const all = f.reduce((a, b) => a + b, 0);
  return { busy: all - f[3]! - f[4]!, all };
}

/**
 * A line a second while a step runs: resources Online (the last poll's count), the CPU seconds each
 * live node's clusterd and monitor used in that second, and how busy the machine's cores were.
 * Shows where a step's time goes when its rate changes (the failover's starts slow down midway).
 */
function timeline(online: () => number): () => string[] {
  const rows: string[] = [];
  let cpu = cpuMark();
  let ticks = machineTicks();
  const t0 = performance.now();
  const timer = setInterval(() => {
    const nowCpu = cpuMark();
    const nowTicks = machineTicks();
    const parts = Object.entries(nowCpu).filter(([n]) => cpu[n]).map(([n, c]) => `${n} ${(c.clusterd - cpu[n]!.clusterd).toFixed(2)} + ${(c.monitor - cpu[n]!.monitor).toFixed(2)}`);
    const busy = nowTicks.all > ticks.all ? (100 * (nowTicks.busy - ticks.busy)) / (nowTicks.all - ticks.all) : 0;
    rows.push(`  ${s1(performance.now() - t0).padStart(6)}: ${String(online()).padStart(6)} Online; CPU s (clusterd + monitor) ${parts.join(', ')}; cores ${busy.toFixed(0)}% busy`);
    cpu = nowCpu;
    ticks = nowTicks;
  }, 1_000);
  return () => { clearInterval(timer); return rows; };
}

/** Stall events since `afterId`, by event id, from the API's event log (paged). */
async function stalls(afterId: number): Promise<{ counts: Record<string, number>; lastId: number }> {
  const counts: Record<string, number> = {};
  let after = afterId;
  for (;;) {
    const page = await until('the event log answers', async () => {
      for (const n of live()) {
        const r = await getJson<{ events: { id: number; event: string }[] }>(`${url(n)}/v1/events?after=${after}&limit=10000`);
        if (r) return r;
      }
      return null;
    });
    for (const e of page.events) if (stallEvents.has(e.event)) counts[e.event] = (counts[e.event] ?? 0) + 1;
    if (page.events.length === 0) return { counts, lastId: after };
    after = page.events[page.events.length - 1]!.id;
  }
}

/** When each quarter of `total` was first seen reached, from polls (t in ms since the step began, count). */
function milestones(seen: [number, number][]): string {
  const out: string[] = [];
  for (const q of [0.25, 0.5, 0.75, 0.9]) {
    const hit = seen.find(([, c]) => c >= q * total);
    if (hit) out.push(`${Math.round(q * 100)}% ${s1(hit[0])}`);
  }
  return out.join(', ');
}

const countText = (c: Record<string, number>) => (Object.keys(c).length === 0 ? '0' : Object.entries(c).map(([k, v]) => `${k} ${v}`).join(', '));

/** Stops every clusterd (their monitors stop the resources), then kills whatever still runs in runDir. */
async function cleanUp(): Promise<void> {
  for (const p of Object.values(procs)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
  const deadline = performance.now() + 30_000;
  while (Object.values(procs).some((p) => p.exitCode === null && p.signalCode === null) && performance.now() < deadline) await sleep(200);
  for (const p of Object.values(procs)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await sleep(500);
  const left = killInDir(runDir);
  if (left > 0) console.log(`cleanup: killed ${left} resource process(es) still running`);
  rmSync(tmp, { recursive: true, force: true });
}

async function main(): Promise<void> {
  console.log(`bench:scale: 3 nodes, ${perNode} process resources per node (${total} in all, ${groupCount} groups of ${perGroup}), quiet period ${quietS} s, bin ${root}`);
  console.log(`load average at start: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  for (const n of names) ports[n] = await freePort();
  await new Promise<void>((res, rej) => execFile(process.execPath, [join(root, 'bin/clusterd.js'), 'init', '--quorum', quorum, '--cluster', 'bench'],
    { env: { ...process.env, XDG_CONFIG_HOME: configHome } }, (err) => (err ? rej(err) : res())));
  auth = { authorization: `Bearer ${(JSON.parse(readFileSync(join(configHome, 'clusterd', 'credentials', 'bench.json'), 'utf8')) as { token: string }).token}` };
  for (const n of names) start(n);
  await until('3 nodes Up', async () => (await status())?.nodes.filter((x) => x.state === 'Up').length === 3);
  await sleep(3_000);
  console.log(`idle RSS (clusterd + monitor) with no resources, MiB: ${rssLine()}`);

  const files: string[] = [];
  for (let first = 0; first < groupCount; first += Math.min(applyGroups, groupCount)) {
    let yaml = 'groups:\n';
    for (let g = first; g < Math.min(groupCount, first + applyGroups); g++) {
      yaml += `  g${g}:\n    resources:\n`;
      for (let r = 0; r < perGroup && g * perGroup + r < total; r++) {
        yaml += `      g${g}r${r}: { type: process, priv: { command: /bin/sleep, args: ["100000"], cwd: "${runDir}" } }\n`;
      }
    }
    files.push(join(tmp, `scale-${files.length}.yaml`));
    writeFileSync(files[files.length - 1]!, yaml);
  }
  const { lastId: beforeApply } = await stalls(0);

  // The event-loop sampler starts at a node's first scrape of /metrics (src/api/loop-delay.ts).
  await loopMaxLine();
  const cpuBeforeApply = cpuMark();
  const t0 = performance.now();
  // As a user would: a CLI timeout says the change may or may not have been made; status tells.
  // An apply creates or updates and deletes nothing: a failed one is simply run again, up to 3 times,
  // unless the refusal says the document itself is wrong (running it again changes nothing).
  for (const file of files) {
    for (let attempt = 1; attempt <= 3; attempt++) {
      const applyError = await cli(['apply', '-f', file]).then(() => null, (e: Error) => e.message.split('\n')[0]!);
      if (applyError === null) break;
      console.log(`cluster apply (attempt ${attempt}) failed after ${s1(performance.now() - t0)}: ${applyError}`);
      if (/error\[(BODY_TOO_LARGE|APPLY_TOO_LARGE|BAD_ARGUMENT|BAD_PROPERTY)\]/.test(applyError)) throw new Error(`the apply was refused for its document: ${applyError}`);
    }
  }
  const applied = performance.now() - t0;
  if (files.length > 1) console.log(`${files.length} applies of up to ${applyGroups} groups each`);
  let onlineMax = 0;
  const seenStart: [number, number][] = [];
  const settled = await until(`all ${total} resources Online`, async () => {
    const s = await status();
    const online = s?.resources.filter((r) => r.state === 'Online').length ?? 0;
    onlineMax = Math.max(onlineMax, online);
    seenStart.push([performance.now() - t0, online]);
    return online === total ? s : null;
  }).catch(async (e: Error) => {
    console.log(`stall events during the start: ${countText((await stalls(beforeApply)).counts)}; ${await loopMaxLine()}`);
    throw new Error(`${e.message} (at most ${onlineMax} seen Online)`);
  });
  const allOnline = performance.now() - t0;
  const byNode: Record<string, number> = {};
  for (const r of settled.resources) byNode[r.node ?? '-'] = (byNode[r.node ?? '-'] ?? 0) + 1;
  console.log(`apply of ${total} resources: command returned after ${s1(applied)}; all Online after ${s1(allOnline)} (per node: ${Object.entries(byNode).map(([n, c]) => `${n} ${c}`).join(', ')}; Online reached ${milestones(seenStart)})`);
  const afterStart = await stalls(beforeApply);
  console.log(`stall events during the start: ${countText(afterStart.counts)}`);
  console.log(cpuLine(cpuBeforeApply));
  console.log(await loopMaxLine());

  await sleep(quietS * 1_000);
  const quiet = await stalls(afterStart.lastId);
  const s = await status();
  const onlineAfterQuiet = s?.resources.filter((r) => r.state === 'Online').length ?? 0;
  console.log(`quiet ${quietS} s: stall events ${countText(quiet.counts)}; ${onlineAfterQuiet} of ${total} Online at its end`);
  console.log(`idle RSS (clusterd + monitor) with the resources running, MiB: ${rssLine()}`);
  console.log(await loopMaxLine());

  const victim = Object.entries(byNode).filter(([n]) => names.includes(n)).sort((a, b) => b[1] - a[1])[0]![0];
  const cpuBeforeKill = cpuMark();
  const t1 = performance.now();
  procs[victim]!.kill('SIGKILL');
  const seenKill: [number, number][] = [];
  const killTimeline = timeline(() => seenKill[seenKill.length - 1]?.[1] ?? 0);
  let downAt: number | undefined;
  await until(`all ${total} resources Online off ${victim}`, async () => {
    const st = await status(victim);
    if (downAt === undefined && st?.nodes.find((x) => x.name === victim)?.state === 'Down') downAt = performance.now() - t1;
    const online = st?.resources.filter((r) => r.state === 'Online' && r.node !== victim).length ?? 0;
    seenKill.push([performance.now() - t1, online]);
    return online === total;
  });
  console.log(`kill -9 of ${victim} (holding ${byNode[victim]}): all ${total} Online on the others after ${s1(performance.now() - t1)}`
    + ` (${victim} seen Down after ${downAt === undefined ? '?' : s1(downAt)}; Online off it reached ${milestones(seenKill)}); second by second:`);
  for (const row of killTimeline()) console.log(row);
  const afterKill = await stalls(quiet.lastId);
  console.log(`stall events after the kill: ${countText(afterKill.counts)}`);
  console.log(cpuLine(cpuBeforeKill));
  console.log(await loopMaxLine());

  const coordinator = (await status())?.coordinator ?? live()[0]!;
  const t2 = performance.now();
  const created = await fetch(`${url(coordinator)}/v1/groups`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify({ name: 'bench-change' }) });
  const committedMs = performance.now() - t2;
  if (!created.ok) throw new Error(`creating a group failed: HTTP ${created.status} ${await created.text()}`);
  await Promise.all(live().map((n) => until(`the new group visible on ${n}`, async () => (await fetch(`${url(n)}/v1/groups/bench-change`, { headers: auth }).catch(() => null))?.ok, 5)));
  const visibleMs = performance.now() - t2;
  console.log(`one configuration change with ${total} resources present: committed after ${committedMs.toFixed(0)} ms (on coordinator ${coordinator}), visible on every live node after ${visibleMs.toFixed(0)} ms`);
  console.log(await loopMaxLine());
  console.log(`load average at end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
}

let code = 0;
process.on('SIGINT', () => { void cleanUp().finally(() => process.exit(130)); });
try {
  await main();
} catch (e) {
  console.log(`bench:scale could not finish: ${(e as Error).message}`);
  code = 1;
} finally {
  await cleanUp();
}
process.exit(code);
