// `npm run bench:abuse`: clusterd under abuse, as a user runs it. Real clusterd processes
// (bin/clusterd.js) on a dir quorum, 3 nodes, BENCH_ABUSE_RESOURCES real process resources
// (`/bin/sleep`, no probe) running; then for BENCH_ABUSE_S seconds, all at once and all from
// outside through the HTTP API with the admin token (and the CLI for the applies):
//   - 64 writer loops creating groups (POST /v1/groups), spread over the nodes; a refused write
//     (429/503) waits its Retry-After (BENCH_ABUSE_IGNORE_RETRY=1: retries at once);
//   - 200 event-stream readers (GET /v1/events/stream?after=0) that never read: their responses
//     are paused from the first byte, so the node's writes pile up against a full socket;
//   - one `cluster apply --dry-run` of a 20,000-group document and one `cluster apply` of another;
//   - a status reader: GET /v1/status, one node after the other, back to back.
// Reports: write answers by code and their latency (p50/p99/max), status latency (p50/p99/max),
// the stall events in the event log (NODE_STALLED / NODE_SELF_FENCED / NODE_LEASE_LOST), each
// node's longest gap between lease renewals (clusterd_lease_renew_gap_max_seconds) and longest
// event-loop turn, RSS per node (clusterd + monitor) before / the most during / after, the fewest
// of the running resources seen Online, the streams the nodes dropped, and every refusal by code.
// Prints figures; asserts nothing. Every process it starts is stopped at the end, also on failure.
//   BENCH_ABUSE_S=60              how long the abuse lasts
//   BENCH_ABUSE_RESOURCES=100     real resources running throughout (groups of 10)
//   BENCH_ABUSE_WRITERS=64        writer loops
//   BENCH_ABUSE_STREAMS=200       stalled stream readers
//   BENCH_ABUSE_APPLY_GROUPS=20000  groups in the dry run and in the apply (0: no applies)
//   BENCH_ABUSE_IGNORE_RETRY=1    writers do not wait Retry-After
//   BENCH_ABUSE_BIN=dir           a checkout whose bin/ to run (default: this one)
//   BENCH_ABUSE_PROF=dir          each clusterd writes a CPU profile there when it stops (--cpu-prof)

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { mkdirSync, openSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort, repoRoot } from '../test/harness.js';
import { clusterdStartEnv } from '../src/daemon/start-env.js';

const abuseS = Number(process.env.BENCH_ABUSE_S ?? 60);
const resourceCount = Number(process.env.BENCH_ABUSE_RESOURCES ?? 100);
const writerCount = Number(process.env.BENCH_ABUSE_WRITERS ?? 64);
const streamCount = Number(process.env.BENCH_ABUSE_STREAMS ?? 200);
const applyGroups = Number(process.env.BENCH_ABUSE_APPLY_GROUPS ?? 20_000);
const ignoreRetry = process.env.BENCH_ABUSE_IGNORE_RETRY === '1';
const root = resolve(process.env.BENCH_ABUSE_BIN ?? repoRoot);
const profDir = process.env.BENCH_ABUSE_PROF;
const perGroup = 10;
const names = ['n1', 'n2', 'n3'];
/** Every how many groups of an apply document one carries a resource (kept offline): keeps 20,000 groups under the API's 1 MiB body limit, as bench/apply.ts. */
const resourceEvery = 5;
const stallEvents = new Set(['NODE_STALLED', 'NODE_SELF_FENCED', 'NODE_LEASE_LOST']);
/** Bound on each wait outside the abuse window. */
const stepMaxMs = 300_000;

const tmp = mkdtempSync(join(tmpdir(), 'clusterd-bench-abuse-'));
const runDir = join(tmp, 'run');
mkdirSync(runDir);
const ports: Record<string, number> = {};
const procs: Record<string, ChildProcess> = {};
const quorum = `dir:${tmp}/quorum`;
const configHome = join(tmp, 'config');
let token = '';
const auth = () => ({ authorization: `Bearer ${token}` });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const url = (n: string) => `http://127.0.0.1:${ports[n]}`;
const live = () => names.filter((n) => procs[n]?.exitCode === null && procs[n]?.signalCode === null);
const load = () => loadavg().map((x) => x.toFixed(1)).join(' ');

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}
const lat = (xs: number[]) => `p50 ${pct(xs, 50).toFixed(0)} ms, p99 ${pct(xs, 99).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms (${xs.length} requests)`;

interface Status { resources: { name: string; state: string }[]; nodes: { name: string; state: string }[] }

async function getJson<T>(u: string, timeoutMs = 10_000): Promise<T | null> {
  try {
    const r = await fetch(u, { headers: auth(), signal: AbortSignal.timeout(timeoutMs) });
    return r.ok ? ((await r.json()) as T) : null;
  } catch {
    return null;
  }
}

async function status(): Promise<Status | null> {
  for (const n of live()) {
    const s = await getJson<Status>(`${url(n)}/v1/status`);
    if (s) return s;
  }
  return null;
}

async function until<T>(what: string, fn: () => Promise<T | null | false | undefined>, stepMs = 250): Promise<T> {
  const deadline = performance.now() + stepMaxMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (performance.now() > deadline) throw new Error(`not within ${stepMaxMs / 1000} s: ${what}`);
    await sleep(stepMs);
  }
}

/** `cluster ARGS` as a user runs it; resolves with its exit code and output. */
function cli(args: string[]): Promise<{ code: number; out: string; err: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((res) => execFile(process.execPath, [join(root, 'bin/cluster.js'), ...args], {
    env: { ...process.env, XDG_CONFIG_HOME: configHome, CLUSTERD_ENDPOINT: live().map(url).join(',') }, timeout: 600_000, maxBuffer: 256 << 20,
  }, (err, out, errOut) => res({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, out, err: errOut, ms: performance.now() - t0 })));
}

function start(n: string): void {
  const prof = profDir ? ['--cpu-prof', `--cpu-prof-dir=${resolve(profDir, n)}`] : [];
  procs[n] = spawn(process.execPath, [...prof, join(root, 'bin/clusterd.js'), 'start', '--quorum', quorum, '--node', n,
    '--listen', `127.0.0.1:${ports[n]}`, '--data-dir', join(tmp, `data-${n}`)], {
    stdio: ['ignore', 'ignore', openSync(join(tmp, `${n}.err`), 'a')], env: clusterdStartEnv(process.env) });
}

/** RSS of a clusterd and its resource monitor, MiB. */
function rssMiB(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  const rss = (p: number) => {
    try {
      return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0) / 1024;
    } catch {
      return 0;
    }
  };
  let sum = rss(pid);
  try {
    for (const child of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number)) {
      try {
        if (readFileSync(`/proc/${child}/cmdline`, 'utf8').includes('monitor')) sum += rss(child);
      } catch {
        // gone
      }
    }
  } catch {
    // the clusterd is gone
  }
  return sum;
}
const rssNow = () => Object.fromEntries(names.map((n) => [n, rssMiB(procs[n]?.pid)]));
const rssText = (r: Record<string, number>) => names.map((n) => `${n} ${r[n]!.toFixed(0)}`).join(', ');

/** One gauge of /metrics per live node (NaN when it does not answer). */
async function metric(name: string, labels = ''): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const n of names) {
    const text = await fetch(`${url(n)}/metrics`, { signal: AbortSignal.timeout(30_000) }).then((r) => r.text()).catch(() => '');
    const sum = [...text.matchAll(new RegExp(`^${name}${labels ? `\\{[^}]*${labels}[^}]*\\}` : '(?:\\{[^}]*\\})?'} (\\S+)$`, 'gm'))].reduce((a, m) => a + Number(m[1]), 0);
    out[n] = text === '' ? NaN : sum;
  }
  return out;
}
const msText = (r: Record<string, number>) => names.map((n) => `${n} ${(r[n]! * 1000).toFixed(0)}`).join(', ');

/** Counters by label value, summed over the nodes: `name{label="x"} v`. */
async function countersBy(name: string, label: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const n of names) {
    const text = await fetch(`${url(n)}/metrics`, { signal: AbortSignal.timeout(30_000) }).then((r) => r.text()).catch(() => '');
    for (const m of text.matchAll(new RegExp(`^${name}\\{[^}]*${label}="([^"]*)"[^}]*\\} (\\S+)$`, 'gm'))) out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[2]);
  }
  return out;
}

/** Stall events after `afterId`, paged. */
async function stalls(afterId: number): Promise<{ counts: Record<string, number>; lastId: number; lines: string[] }> {
  const counts: Record<string, number> = {};
  const lines: string[] = [];
  let after = afterId;
  for (;;) {
    const page = await until('the event log answers', async () => {
      for (const n of live()) {
        const r = await getJson<{ events: { id: number; event: string; node?: string; message?: string }[] }>(`${url(n)}/v1/events?after=${after}&limit=10000`);
        if (r) return r;
      }
      return null;
    });
    for (const e of page.events) {
      if (!stallEvents.has(e.event)) continue;
      counts[e.event] = (counts[e.event] ?? 0) + 1;
      if (lines.length < 10) lines.push(`${e.event} ${e.node ?? ''}: ${e.message ?? ''}`);
    }
    if (page.events.length === 0) return { counts, lastId: after, lines };
    after = page.events[page.events.length - 1]!.id;
  }
}
const countText = (c: Record<string, number>) => (Object.keys(c).length === 0 ? '0' : Object.entries(c).map(([k, v]) => `${k} ${v}`).join(', '));

/** A document of `n` groups named PREFIX0.., every resourceEvery-th with one process resource kept offline (nothing starts). */
function applyDoc(prefix: string, n: number): string {
  const lines = ['groups:'];
  for (let i = 0; i < n; i++) {
    lines.push(i % resourceEvery === 0
      ? `  ${prefix}${i}: { state: offline, resources: { ${prefix}r${i}: { type: process, priv: { command: /bin/true } } } }`
      : `  ${prefix}${i}: {}`);
  }
  return lines.join('\n') + '\n';
}

// ---- the abusers ------------------------------------------------------------------------------

const writeMs: number[] = [];
const writeCodes: Record<string, number> = {};
const refusedCodes: Record<string, number> = {};
let retryAfterMissing = 0;

async function writer(i: number, stopAt: number): Promise<void> {
  let k = 0;
  while (performance.now() < stopAt) {
    const n = names[(i + k) % names.length]!;
    const t0 = performance.now();
    let code = 'error';
    let wait = 0;
    try {
      const r = await fetch(`${url(n)}/v1/groups`, {
        method: 'POST', headers: { 'content-type': 'application/json', ...auth() },
        body: JSON.stringify({ name: `w${i}-${k}` }), signal: AbortSignal.timeout(30_000),
      });
      const body = await r.text();
      code = String(r.status);
      if (r.status >= 400) {
        const c = /"code":"([A-Z_]+)"/.exec(body)?.[1] ?? '?';
        refusedCodes[`${r.status} ${c}`] = (refusedCodes[`${r.status} ${c}`] ?? 0) + 1;
        const ra = r.headers.get('retry-after');
        if ((r.status === 429 || r.status === 503) && ra === null) retryAfterMissing++;
        if (!ignoreRetry && ra !== null) wait = Number(ra) * 1000;
      }
    } catch (e) {
      code = (e as Error).name === 'TimeoutError' ? 'timeout' : 'error';
      wait = 200;
    }
    writeMs.push(performance.now() - t0);
    writeCodes[code] = (writeCodes[code] ?? 0) + 1;
    k++;
    if (wait > 0) await sleep(Math.min(wait, Math.max(0, stopAt - performance.now())));
  }
}

interface StalledReader { req: http.ClientRequest; status: number | null; closed: boolean; bytes: number }

/** A stream reader that takes the response's first chunk and then nothing more. */
function stalledReader(n: string): StalledReader {
  const s: StalledReader = { req: null as unknown as http.ClientRequest, status: null, closed: false, bytes: 0 };
  s.req = http.get(`${url(n)}/v1/events/stream?after=0`, { headers: { ...auth(), accept: 'text/event-stream' }, agent: false }, (res) => {
    s.status = res.statusCode ?? null;
    res.once('data', (chunk: Buffer) => { s.bytes += chunk.length; res.pause(); });
    res.on('close', () => { s.closed = true; });
    res.on('error', () => { s.closed = true; });
  });
  s.req.on('error', () => { s.closed = true; });
  return s;
}

const statusMs: number[] = [];
let statusFailed = 0;
let onlineMin = Infinity;

async function statusReader(stopAt: number, runningNames: Set<string>): Promise<void> {
  let k = 0;
  while (performance.now() < stopAt) {
    const n = names[k++ % names.length]!;
    const t0 = performance.now();
    try {
      const r = await fetch(`${url(n)}/v1/status`, { headers: auth(), signal: AbortSignal.timeout(30_000) });
      const s = (await r.json()) as Status;
      statusMs.push(performance.now() - t0);
      if (!r.ok) { statusFailed++; continue; }
      onlineMin = Math.min(onlineMin, s.resources.filter((x) => runningNames.has(x.name) && x.state === 'Online').length);
    } catch {
      statusFailed++;
      statusMs.push(performance.now() - t0);
    }
    await sleep(10);
  }
}

// ---- the run ----------------------------------------------------------------------------------

async function cleanUp(): Promise<void> {
  for (const p of Object.values(procs)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
  const deadline = performance.now() + 30_000;
  while (Object.values(procs).some((p) => p.exitCode === null && p.signalCode === null) && performance.now() < deadline) await sleep(200);
  for (const p of Object.values(procs)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await sleep(500);
  let left = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/cwd`) !== runDir) continue;
      process.kill(Number(entry), 'SIGKILL');
      left++;
    } catch {
      // gone, or not ours to read
    }
  }
  if (left > 0) console.log(`cleanup: killed ${left} resource process(es) still running`);
  rmSync(tmp, { recursive: true, force: true });
}

async function main(): Promise<void> {
  console.log(`bench:abuse: 3 nodes (dir), ${resourceCount} real resources, ${abuseS} s of ${writerCount} writers, ${streamCount} stalled stream readers, ` +
    `a ${applyGroups}-group dry run and a ${applyGroups}-group apply; writers ${ignoreRetry ? 'ignore' : 'wait'} Retry-After; bin ${root}`);
  console.log(`load average at start: ${load()}`);
  for (const n of names) ports[n] = await freePort();
  await new Promise<void>((res, rej) => execFile(process.execPath, [join(root, 'bin/clusterd.js'), 'init', '--quorum', quorum, '--cluster', 'bench'],
    { env: { ...process.env, XDG_CONFIG_HOME: configHome } }, (err) => (err ? rej(err) : res())));
  token = (JSON.parse(readFileSync(join(configHome, 'clusterd', 'credentials', 'bench.json'), 'utf8')) as { token: string }).token;
  for (const n of names) start(n);
  await until('3 nodes Up', async () => {
    const gone = names.find((n) => !live().includes(n));
    if (gone) throw new Error(`clusterd ${gone} exited at start: ${readFileSync(join(tmp, `${gone}.err`), 'utf8').slice(-2000)}`);
    return (await status())?.nodes.filter((x) => x.state === 'Up').length === 3;
  });

  let yaml = 'groups:\n';
  const running = new Set<string>();
  for (let g = 0; g * perGroup < resourceCount; g++) {
    yaml += `  s${g}:\n    resources:\n`;
    for (let r = 0; r < perGroup && g * perGroup + r < resourceCount; r++) {
      running.add(`s${g}r${r}`);
      yaml += `      s${g}r${r}: { type: process, priv: { command: /bin/sleep, args: ["100000"], cwd: "${runDir}" } }\n`;
    }
  }
  writeFileSync(join(tmp, 'running.yaml'), yaml);
  const first = await cli(['apply', '-f', join(tmp, 'running.yaml')]);
  if (first.code !== 0) throw new Error(`apply of the running resources failed: ${first.err}`);
  await until(`all ${resourceCount} resources Online`, async () => (await status())?.resources.filter((r) => r.state === 'Online').length === resourceCount);
  await sleep(3_000);
  const before = await stalls(0);
  const rssBefore = rssNow();
  const gapBefore = await metric('clusterd_lease_renew_gap_max_seconds');
  const loopBefore = await metric('clusterd_event_loop_delay_max_seconds');
  console.log(`before: ${resourceCount} Online; stall events so far ${countText(before.counts)}; RSS (clusterd + monitor) MiB ${rssText(rssBefore)}; ` +
    `longest renewal gap ms ${msText(gapBefore)}; longest loop turn ms ${msText(loopBefore)}; load ${load()}`);

  const dryFile = join(tmp, 'dry.yaml');
  const applyFile = join(tmp, 'apply.yaml');
  writeFileSync(dryFile, applyDoc('d', applyGroups));
  writeFileSync(applyFile, applyDoc('a', applyGroups));

  const t0 = performance.now();
  const stopAt = t0 + abuseS * 1000;
  const readers = Array.from({ length: streamCount }, (_, i) => stalledReader(names[i % names.length]!));
  const rssMax: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  const loads: string[] = [];
  const sampler = (async () => {
    while (performance.now() < stopAt) {
      for (const [n, v] of Object.entries(rssNow())) rssMax[n] = Math.max(rssMax[n]!, v);
      loads.push(loadavg()[0]!.toFixed(1));
      await sleep(2_000);
    }
  })();
  const applies = applyGroups > 0
    ? [cli(['apply', '-f', dryFile, '--dry-run']), sleep(2_000).then(() => cli(['apply', '-f', applyFile]))]
    : [];
  await Promise.all([
    ...Array.from({ length: writerCount }, (_, i) => writer(i, stopAt)),
    statusReader(stopAt, running),
    sampler,
  ]);
  const streamsOpen = readers.filter((r) => r.status === 200 && !r.closed).length;
  const streamCodes: Record<string, number> = {};
  for (const r of readers) streamCodes[String(r.status ?? 'none')] = (streamCodes[String(r.status ?? 'none')] ?? 0) + 1;
  const streamsDropped = readers.filter((r) => r.status === 200 && r.closed).length;
  for (const r of readers) r.req.destroy();
  const applyResults = await Promise.all(applies);
  const abuseMs = performance.now() - t0;

  console.log(`abuse ran ${(abuseMs / 1000).toFixed(1)} s; load average (1 min) sampled: ${loads.join(' ')}`);
  console.log(`writes: ${Object.entries(writeCodes).map(([c, v]) => `${c} ${v}`).join(', ')}; latency ${lat(writeMs)}`);
  console.log(`write refusals by code: ${countText(refusedCodes)}; 429/503 without Retry-After: ${retryAfterMissing}`);
  console.log(`status reads: ${lat(statusMs)}; failed ${statusFailed}; fewest of the ${resourceCount} running resources seen Online: ${onlineMin}`);
  console.log(`stream readers: answers ${countText(streamCodes)}; still open at the end ${streamsOpen}, closed by the node ${streamsDropped}`);
  if (applyResults.length > 0) {
    const [dry, app] = applyResults;
    const line = (what: string, r: typeof dry) => `${what}: exit ${r!.code} after ${(r!.ms / 1000).toFixed(1)} s${r!.code === 0 ? '' : ` (${r!.err.trim().split('\n').slice(-2).join(' | ').slice(0, 300)})`}`;
    console.log(`${line(`cluster apply --dry-run of ${applyGroups} groups`, dry)}; ${line(`cluster apply of ${applyGroups} groups`, app)}`);
  }

  const during = await stalls(before.lastId);
  const gapAfter = await metric('clusterd_lease_renew_gap_max_seconds');
  const loopAfter = await metric('clusterd_event_loop_delay_max_seconds');
  console.log(`stall events during the abuse: ${countText(during.counts)}${during.lines.length ? `\n  ${during.lines.join('\n  ')}` : ''}`);
  console.log(`longest gap between lease renewals since start, ms: ${msText(gapAfter)} (before the abuse: ${msText(gapBefore)})`);
  console.log(`longest event-loop turn since start, ms: ${msText(loopAfter)} (before: ${msText(loopBefore)})`);
  console.log(`refused by the nodes (clusterd_writes_refused_total): ${countText(await countersBy('clusterd_writes_refused_total', 'code'))}; ` +
    `streams dropped (clusterd_event_streams_dropped_total): ${countText(await countersBy('clusterd_event_streams_dropped_total', 'reason'))}`);
  console.log(`RSS (clusterd + monitor) MiB: before ${rssText(rssBefore)}; most during ${rssText(rssMax)}; right after ${rssText(rssNow())}`);
  await sleep(30_000);
  const s = await status();
  console.log(`30 s after: RSS MiB ${rssText(rssNow())}; ${s?.resources.filter((r) => running.has(r.name) && r.state === 'Online').length ?? '?'} of ${resourceCount} Online; ` +
    `stall events since the abuse began ${countText((await stalls(before.lastId)).counts)}; load ${load()}`);
}

let code = 0;
process.on('SIGINT', () => { void cleanUp().finally(() => process.exit(130)); });
try {
  await main();
} catch (e) {
  console.log(`bench:abuse could not finish: ${(e as Error).message}`);
  code = 1;
} finally {
  await cleanUp();
}
process.exit(code);
