// `npm run bench:memory`: the memory of clusterd as a user runs it. Real clusterd processes
// (`node bin/clusterd.js start`, as deploy/clusterd.service starts them: no Node.js flags, its GLIBC_TUNABLES) on a dir
// quorum, 3 nodes, real process resources (`/bin/sleep`); the resident set (VmRSS) of each clusterd
// and of its resource monitor read from /proc, the median of a few samples after a quiet spell:
//   1. idle with no resource;
//   2. idle with 100 resources per node (10 groups of 10, each preferring its node);
//   3. idle with 1,000 resources on n1 (90 more groups preferring n1; n2 and n3 keep 100);
//   4. an API burst: 64 concurrent writers creating groups (spread over the nodes) and 50 event
//      stream readers from `?after=0` that never read, for BENCH_MEMORY_BURST_S; the highest RSS
//      during it, then the groups it made deleted and, after a quiet spell, RSS again (to compare
//      with step 3: memory that stays after a burst is memory something keeps).
// Prints figures; asserts nothing. Every process it starts is stopped at the end, also on failure.
//   BENCH_MEMORY_BURST_S=15     the burst's length
//   BENCH_MEMORY_QUIET_S=15     the quiet spell before each measurement
//   BENCH_MEMORY_BIN=dir        a checkout whose bin/ to run (default: this one), to compare builds
//   BENCH_MEMORY_STEP_MAX_S=600 bound on each wait (a step past it is reported as not reached)

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, repoRoot, sleep } from '../test/harness.js';
import { clusterdStartEnv } from '../src/daemon/start-env.js';
import { killInDir, rssParts } from './procs.js';

const burstS = Number(process.env.BENCH_MEMORY_BURST_S ?? 15);
const quietS = Number(process.env.BENCH_MEMORY_QUIET_S ?? 15);
const root = resolve(process.env.BENCH_MEMORY_BIN ?? repoRoot);
const stepMaxMs = Number(process.env.BENCH_MEMORY_STEP_MAX_S ?? 600) * 1000;
const names = ['n1', 'n2', 'n3'];
const perGroup = 10;
const writers = 64;
const readers = 50;

const tmp = mkdtempSync(join(tmpdir(), 'clusterd-bench-memory-'));
const runDir = join(tmp, 'run');
mkdirSync(runDir);
const quorum = `dir:${tmp}/quorum`;
const configHome = join(tmp, 'config');
const ports: Record<string, number> = {};
const procs: Record<string, ChildProcess> = {};
let token = '';

const url = (n: string) => `http://127.0.0.1:${ports[n]}`;
const headers = () => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });
const load = () => loadavg().map((x) => x.toFixed(1)).join(' ');

interface Status { nodes: { name: string; state: string }[]; resources: { node: string | null; state: string }[] }

async function status(): Promise<Status | null> {
  for (const n of names) {
    try {
      const r = await fetch(`${url(n)}/v1/status`, { headers: headers(), signal: AbortSignal.timeout(10_000) });
      if (r.ok) return (await r.json()) as Status;
    } catch {
      // the next node
    }
  }
  return null;
}

async function until(what: string, fn: () => Promise<boolean>): Promise<boolean> {
  const deadline = performance.now() + stepMaxMs;
  while (performance.now() < deadline) {
    if (await fn()) return true;
    await sleep(500);
  }
  console.log(`  not reached within ${stepMaxMs / 1000} s: ${what}`);
  return false;
}

/** Median over `samples` readings a second apart of each node's clusterd, monitor and sum (MiB). */
async function measure(samples = 5): Promise<Record<string, { clusterd: number; monitor: number; sum: number }>> {
  const seen: Record<string, { clusterd: number; monitor: number }[]> = {};
  for (let i = 0; i < samples; i++) {
    for (const n of names) (seen[n] ??= []).push(rssParts(procs[n]?.pid));
    if (i < samples - 1) await sleep(1_000);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const out: Record<string, { clusterd: number; monitor: number; sum: number }> = {};
  for (const n of names) {
    const c = median(seen[n]!.map((s) => s.clusterd));
    const m = median(seen[n]!.map((s) => s.monitor));
    out[n] = { clusterd: c, monitor: m, sum: median(seen[n]!.map((s) => s.clusterd + s.monitor)) };
  }
  return out;
}

function report(label: string, m: Record<string, { clusterd: number; monitor: number; sum: number }>, counts?: Record<string, number>): void {
  const parts = names.map((n) => `${n} ${m[n]!.sum.toFixed(0)} (${m[n]!.clusterd.toFixed(0)} + ${m[n]!.monitor.toFixed(0)})${counts ? ` [${counts[n] ?? 0} res]` : ''}`);
  console.log(`${label}: ${parts.join(', ')}; load ${load()}`);
}

async function apply(groups: Record<string, unknown>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const r = await fetch(`${url('n1')}/v1/apply`, { method: 'POST', headers: headers(), body: JSON.stringify({ spec: { groups }, dryRun: false }), signal: AbortSignal.timeout(300_000) })
      .then(async (res) => (res.ok ? null : `HTTP ${res.status} ${(await res.text()).slice(0, 200)}`), (e: Error) => e.message);
    if (r === null) return;
    console.log(`  apply attempt ${attempt} failed: ${r}`);
    if (attempt === 3) throw new Error('apply failed 3 times');
    await sleep(2_000);
  }
}

function groupsFor(node: string, first: number, count: number): Record<string, unknown> {
  const groups: Record<string, unknown> = {};
  for (let g = first; g < first + count; g++) {
    const resources: Record<string, unknown> = {};
    for (let r = 0; r < perGroup; r++) resources[`${node}g${g}r${r}`] = { type: 'process', priv: { command: '/bin/sleep', args: ['100000'], cwd: runDir } };
    groups[`${node}g${g}`] = { preferredOwners: [node], resources };
  }
  return groups;
}

async function allOnline(total: number): Promise<Record<string, number> | null> {
  let counts: Record<string, number> | null = null;
  const ok = await until(`${total} resources Online`, async () => {
    const s = await status();
    const online = s?.resources.filter((r) => r.state === 'Online') ?? [];
    if (online.length !== total) return false;
    counts = {};
    for (const r of online) counts[r.node ?? '-'] = (counts[r.node ?? '-'] ?? 0) + 1;
    return true;
  });
  return ok ? counts : null;
}

/** An event stream reader that sends its request and never reads a byte. */
function stalledReader(n: string): Socket {
  const s = connect(ports[n]!, '127.0.0.1', () => {
    s.pause();
    s.write(`GET /v1/events/stream?after=0 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nAccept: text/event-stream\r\n\r\n`);
  });
  s.on('error', () => undefined);
  return s;
}

async function burst(): Promise<{ made: string[]; codes: Record<string, number>; peak: Record<string, number> }> {
  const made: string[] = [];
  const codes: Record<string, number> = {};
  const peak: Record<string, number> = {};
  const sockets = Array.from({ length: readers }, (_, i) => stalledReader(names[i % names.length]!));
  const end = performance.now() + burstS * 1000;
  const sampler = setInterval(() => {
    for (const n of names) { const p = rssParts(procs[n]?.pid); peak[n] = Math.max(peak[n] ?? 0, p.clusterd + p.monitor); }
  }, 500);
  await Promise.all(Array.from({ length: writers }, async (_, w) => {
    for (let i = 0; performance.now() < end; i++) {
      const name = `burst-${w}-${i}`;
      const code = await fetch(`${url(names[(w + i) % names.length]!)}/v1/groups`, { method: 'POST', headers: headers(), body: JSON.stringify({ name }), signal: AbortSignal.timeout(30_000) })
        .then(async (r) => {
          const text = await r.text();
          if (r.ok) return String(r.status);
          return `${r.status} ${(/"code":"([A-Z_]+)"/.exec(text) ?? [])[1] ?? ''}`.trim();
        }, () => 'no answer');
      codes[code] = (codes[code] ?? 0) + 1;
      // A write without an answer may have been made: delete it too at the end.
      if (code === '201' || code === '200' || code === 'no answer') made.push(name);
      if (code !== '201' && code !== '200') await sleep(100);
    }
  }));
  clearInterval(sampler);
  for (const s of sockets) s.destroy();
  return { made, codes, peak };
}

/** Each clusterd's heap as its /metrics shows it (MiB): used (garbage included) / committed, memory outside the heap, what was live at its last collection of its own, and how many it ran (node/memory-release.ts). */
async function heapLine(): Promise<string> {
  const parts = await Promise.all(names.map(async (n) => {
    const text = await fetch(`${url(n)}/metrics`, { headers: headers(), signal: AbortSignal.timeout(10_000) }).then((r) => r.text(), () => '');
    const get = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    const mib = (v: number) => (v / 1048576).toFixed(0);
    return `${n} ${mib(get('nodejs_heap_size_used_bytes'))}/${mib(get('nodejs_heap_size_total_bytes'))} + ${mib(get('nodejs_external_memory_bytes'))}, live ${mib(get('clusterd_memory_live_bytes'))}, ${get('clusterd_memory_releases')} release(s)`;
  }));
  return `  clusterd heap MiB (used/committed + outside the heap, live at the last collection of its own, releases): ${parts.join('; ')}`;
}

async function removeGroups(list: string[]): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < list.length) {
      const name = list[next++]!;
      for (let attempt = 0; attempt < 5; attempt++) {
        const r = await fetch(`${url(names[next % names.length]!)}/v1/groups/${name}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(30_000) })
          .then((res) => res.status, () => 0);
        if (r === 200 || r === 404) break;
        await sleep(500);
      }
    }
  }));
}

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
  console.log(`bench:memory: 3 nodes on dir, bin ${root}; RSS in MiB per node as clusterd + monitor (clusterd + monitor), median of 5 samples after ${quietS} s quiet`);
  console.log(`load average at start: ${load()}`);
  for (const n of names) ports[n] = await freePort();
  await new Promise<void>((res, rej) => execFile(process.execPath, [join(root, 'bin/clusterd.js'), 'init', '--quorum', quorum, '--cluster', 'bench'],
    { env: { ...process.env, XDG_CONFIG_HOME: configHome } }, (err) => (err ? rej(err) : res())));
  token = (JSON.parse(readFileSync(join(configHome, 'clusterd', 'credentials', 'bench.json'), 'utf8')) as { token: string }).token;
  for (const n of names) {
    procs[n] = spawn(process.execPath, [join(root, 'bin/clusterd.js'), 'start', '--quorum', quorum, '--node', n,
      '--listen', `127.0.0.1:${ports[n]}`, '--data-dir', join(tmp, `data-${n}`)], { stdio: ['ignore', 'ignore', 'ignore'], env: clusterdStartEnv(process.env) });
  }
  await until('3 nodes Up', async () => (await status())?.nodes.filter((x) => x.state === 'Up').length === 3);
  await sleep(quietS * 1000);
  report('idle, no resource', await measure());

  await apply(Object.assign({}, ...names.map((n) => groupsFor(n, 0, 10))) as Record<string, unknown>);
  const c100 = await allOnline(300);
  await sleep(quietS * 1000);
  report('idle, 100 resources per node', await measure(), c100 ?? undefined);

  await apply(groupsFor('n1', 10, 90));
  const c1000 = await allOnline(1200);
  await sleep(quietS * 1000);
  const before = await measure();
  report('idle, 1,000 resources on n1', before, c1000 ?? undefined);
  console.log(await heapLine());

  const b = await burst();
  console.log(`burst ${burstS} s (${writers} writers, ${readers} stalled stream readers): answers ${Object.entries(b.codes).map(([k, v]) => `${k} ${v}`).join(', ')}; highest RSS ${names.map((n) => `${n} ${b.peak[n]?.toFixed(0)}`).join(', ')}`);
  report('right after the burst', await measure(1));
  console.log(await heapLine());
  await removeGroups(b.made);
  await sleep(quietS * 1000);
  const after = await measure();
  report(`after the burst (its ${b.made.length} groups deleted), quiet ${quietS} s`, after);
  console.log(await heapLine());
  console.log(`after / before the burst: ${names.map((n) => `${n} ${((after[n]!.sum / before[n]!.sum - 1) * 100).toFixed(0)}%`).join(', ')}`);
  await sleep(quietS * 2 * 1000);
  const later = await measure();
  report(`again ${quietS * 2} s later`, later);
  console.log(await heapLine());
  console.log(`load average at end: ${load()}`);
}

let code = 0;
process.on('SIGINT', () => { void cleanUp().finally(() => process.exit(130)); });
try {
  await main();
} catch (e) {
  console.log(`bench:memory could not finish: ${(e as Error).message}`);
  code = 1;
} finally {
  await cleanUp();
}
process.exit(code);
