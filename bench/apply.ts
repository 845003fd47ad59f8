// `npm run bench:apply`: what a large `cluster apply` costs, at 1k, 10k and 20k groups.
//  1. in-process: planApply of a new document (dry run), planApply of the same document once it
//     is applied (nothing to change), and the commit's validation (ConfigDraft.applyAll);
//  2. through the API of a real 1-node clusterd: the dry-run and the real apply request, the
//     longest event-loop stall the node showed meanwhile (the slowest of GET /v1/nodes/n1, a
//     cheap read, sent every few ms while the apply runs), and the stalls the node itself
//     reported (NODE_STALLED: longer than its self-fence deadline).
// Prints figures; asserts nothing.
//   BENCH_APPLY_SIZES=1000,10000,20000   group counts
//   BENCH_APPLY_API=0                    skip the API part

import { performance } from 'node:perf_hooks';
import { planApply, type ApplyDoc } from '../src/core/apply.js';
import { applyUpdate, ConfigDraft, emptyConfig } from '../src/core/config.js';
import type { ClusterConfig } from '../src/core/types.js';
import { authFor, sleep, TestCluster } from '../test/harness.js';

const sizes = (process.env.BENCH_APPLY_SIZES ?? '1000,10000,20000').split(',').map(Number);
/** Every how many groups one carries a resource: keeps a 20k-group document under the API's 1 MiB body limit. */
const resourceEvery = 5;
/** How often the stall probe asks the node: fine enough to see a stall of a few tens of ms. */
const probeEveryMs = 5;

/** `n` groups, every resourceEvery-th with one process resource, kept offline (nothing is started). */
function doc(n: number): ApplyDoc {
  const groups: ApplyDoc['groups'] = {};
  for (let i = 0; i < n; i++) {
    const g = `g${i}`;
    groups[g] = i % resourceEvery === 0
      ? { state: 'offline', resources: { [`r${i}`]: { type: 'process', priv: { command: '/bin/true' } } } }
      : {};
  }
  return { groups };
}

function base(): ClusterConfig {
  const r = applyUpdate(emptyConfig('bench'), { op: 'node-add', node: 'n1' });
  if (!r.ok) throw r.error;
  return r.value;
}

function timed<T>(f: () => T): [T, number] {
  const t0 = performance.now();
  const v = f();
  return [v, performance.now() - t0];
}

const fmt = (ms: number) => `${ms.toFixed(ms < 10 ? 1 : 0)} ms`.padStart(10);

function inProcess(n: number): void {
  const d = doc(n);
  const c = base();
  const [plan, planMs] = timed(() => planApply(c, d));
  if (!plan.ok) throw plan.error;
  const [folded, foldMs] = timed(() => new ConfigDraft(c).applyAll(plan.value.updates));
  if (!folded.ok) throw folded.error;
  const [again, againMs] = timed(() => planApply(plan.value.config, d));
  if (!again.ok) throw again.error;
  console.log(`in-process ${String(n).padStart(6)} groups: dry-run plan ${fmt(planMs)}  commit validation ${fmt(foldMs)}  ` +
    `re-plan (no change) ${fmt(againMs)}   (${plan.value.updates.length} updates)`);
}

/** Time `request` while probing the node with a cheap read; returns [request ms, longest probe ms]. */
async function withProbe(c: TestCluster, request: () => Promise<{ status: number; body: unknown }>): Promise<[number, number, number]> {
  let stop = false;
  let worstMs = 0;
  const url = c.liveUrls()[0]! + '/v1/nodes/n1';
  const probe = (async () => {
    while (!stop) {
      const t0 = performance.now();
      await fetch(url, { headers: authFor(url) }).then((r) => r.arrayBuffer()).catch(() => undefined);
      worstMs = Math.max(worstMs, performance.now() - t0);
      await sleep(probeEveryMs);
    }
  })();
  const t0 = performance.now();
  const r = await request();
  const ms = performance.now() - t0;
  stop = true;
  await probe;
  if (r.status !== 200) console.log(`  -> HTTP ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
  return [ms, worstMs, r.status];
}

/** The stalls the node reported (NODE_STALLED), in ms, from its log. */
function stalls(c: TestCluster): number[] {
  return [...c.readLog('n1').matchAll(/was stalled for (\d+) ms/g)].map((m) => Number(m[1]));
}

async function throughApi(n: number): Promise<void> {
  const c = await TestCluster.start(['n1']);
  try {
    const spec = doc(n);
    const body = JSON.stringify({ spec, dryRun: true });
    const post = (dryRun: boolean) => async () => {
      const res = await fetch(c.liveUrls()[0]! + '/v1/apply', {
        method: 'POST', headers: { 'content-type': 'application/json', ...authFor(c.liveUrls()[0]!) }, body: JSON.stringify({ spec, dryRun }), signal: AbortSignal.timeout(600_000),
      });
      return { status: res.status, body: await res.json() as unknown };
    };
    const [dryMs, dryStallMs] = await withProbe(c, post(true));
    const dryFenced = stalls(c);
    const [applyMs, applyStallMs] = await withProbe(c, post(false));
    await sleep(2_000); // what the apply leaves to do after its answer (placement, checkpoint)
    const applyFenced = stalls(c).slice(dryFenced.length);
    console.log(`API        ${String(n).padStart(6)} groups (${(body.length / 1024).toFixed(0)} KiB): dry run ${fmt(dryMs)} (longest read ${fmt(dryStallMs)}; ` +
      `NODE_STALLED ${dryFenced.length}x ${Math.max(0, ...dryFenced)} ms)  apply ${fmt(applyMs)} (longest read ${fmt(applyStallMs)}; NODE_STALLED ${applyFenced.length}x, longest ${Math.max(0, ...applyFenced)} ms)`);
  } finally {
    await c.close();
  }
}

async function main(): Promise<void> {
  for (const n of sizes) inProcess(n);
  if (process.env.BENCH_APPLY_API === '0') return;
  for (const n of sizes) await throughApi(n);
}

await main();
