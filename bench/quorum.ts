// `npm run bench:quorum`: the cluster database's figures.
// - durable configuration updates per second through the coordinator's group commit
//   (1, 8 and 64 concurrent writers), on the dir store with synchronous=FULL;
// - replay time of a node's local log of 100k and 1M records;
// - node start time with a database of 10,000 resources (phases: see startWith10kResources).
// Prints figures, asserts nothing. BENCH_REPLAY_MAX caps the replay sizes (default 1000000);
// BENCH_ONLY=updates|replay|start|process runs one part (process: a real `clusterd start`).

import { createAuthDir, newToken, tokenSha256 } from '../src/api/auth-files.js';
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { emptyConfig, ConfigDraft } from '../src/core/config.js';
import { timingDefaults } from '../src/core/timing.js';
import type { ClusterConfig, ConfigUpdate } from '../src/core/types.js';
import { LocalDb } from '../src/node/local-db.js';
import { realClock } from '../src/daemon/main.js';
import { ClusterNode, type NodeOptions, type ResourceHost } from '../src/node/node.js';
import { DirStore } from '../src/store/dir.js';

/** No resources run in these benchmarks: a host that answers every call at once (and confirms a fence, as the monitor does). */
class IdleHost extends EventEmitter implements ResourceHost {
  async call() { return { ok: true as const }; }
  changesUnderWay(): number { return 0; }
  ping(): void {}
  fence(reason: string): void { setImmediate(() => this.emit('fenced', reason)); }
  recycle(): void {}
  async shutdown(): Promise<void> {}
}

const quiet = () => undefined;

async function startNode(dir: string, name: string, dataDir: string, log: NodeOptions['log'] = quiet, beforeStart?: (node: ClusterNode) => void): Promise<ClusterNode> {
  const store = new DirStore(join(dir, 'quorum'));
  const opened = await store.open();
  if (!opened.ok) throw opened.error;
  const node = new ClusterNode({
    name, apiUrl: 'http://127.0.0.1:0', timing: timingDefaults, store, host: new IdleHost(), clock: realClock, log,
    localDb: new LocalDb(dataDir), checkpointing: { logResetBytes: 64 * 1024 },
  });
  beforeStart?.(node);
  const r = await node.start();
  if (!r.ok) throw r.error;
  return node;
}

async function waitCoordinator(node: ClusterNode): Promise<void> {
  while (!node.isCoordinator()) await new Promise((r) => setTimeout(r, 20));
}

async function updatesPerSecond(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'clusterd-bench-q-'));
  try {
    const init = new DirStore(join(dir, 'quorum'));
    const r = await init.init('bench', Date.now());
    if (!r.ok) throw r.error;
    await init.close();
    const node = await startNode(dir, 'n1', join(dir, 'data'));
    await waitCoordinator(node);
    const c = await node.commit([{ op: 'group-create', group: 'g' }]);
    if (!c.ok) throw c.error;
    for (const writers of [1, 8, 64]) {
      const durationMs = 3_000;
      const until = performance.now() + durationMs;
      let done = 0;
      let failed = 0;
      await Promise.all(Array.from({ length: writers }, async (_, w) => {
        let i = 0;
        while (performance.now() < until) {
          const u: ConfigUpdate = { op: 'group-set', group: 'g', failoverPeriodMs: 1000 + ((w * 100_000 + i++) % 1_000_000) };
          const res = await node.commit([u]);
          if (res.ok) done++; else failed++;
        }
      }));
      console.log(`durable updates/s with ${writers} concurrent writer(s): ${Math.round(done / (durationMs / 1000))}${failed ? ` (${failed} failed)` : ''}`);
    }
    await node.shutdown();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function replay(records: number): void {
  const dir = mkdtempSync(join(tmpdir(), 'clusterd-bench-r-'));
  try {
    const db = new LocalDb(dir);
    db.load();
    let cfg = new ConfigDraft(emptyConfig('bench'));
    cfg.apply({ op: 'group-create', group: 'g' });
    db.writeCheckpoint(1, 1, cfg.config);
    const batch = 10_000;
    for (let seq = 2; seq < records + 2; seq += batch) {
      const recs = [];
      for (let i = 0; i < batch && seq + i < records + 2; i++) {
        recs.push({ seq: seq + i, term: 1, crc: 0, update: { op: 'group-set', group: 'g', failoverPeriodMs: 1000 + i } as ConfigUpdate });
      }
      const r = db.append(recs);
      if (!r.ok) throw r.error;
    }
    db.close();
    const t0 = performance.now();
    const loaded = new LocalDb(dir).load();
    const ms = performance.now() - t0;
    cfg = new ConfigDraft(loaded.copy!.config);
    console.log(`replay of ${records} records (${Math.round(db.logBytes / 1048576)} MiB local log): ${ms.toFixed(0)} ms, reached seq ${loaded.copy!.seq}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A dir store at `path` holding 10,000 resources in 1,000 groups (a checkpoint at seq 10,000); returns the configuration. */
/** The admin token of the benchmark's stores (only its hash is in the store). */
const benchToken = newToken();

async function storeWith10kResources(path: string, desired: 'offline' | 'online'): Promise<ClusterConfig> {
  const store = new DirStore(path);
  const r = await store.init('bench', Date.now());
  if (!r.ok) throw r.error;
  const draft = new ConfigDraft(emptyConfig('bench'));
  // As clusterd init would: the cluster CA and node token beside the store, an admin credential.
  await createAuthDir(join(path, 'auth'), 'bench');
  draft.apply({ op: 'credential-set', user: 'bench', role: 'admin', tokenSha256: tokenSha256(benchToken), createdWallMs: Date.now() });
  for (let g = 0; g < 1_000; g++) {
    draft.apply({ op: 'group-create', group: `g${g}` });
    for (let i = 0; i < 10; i++) draft.apply({ op: 'resource-create', resource: `r${g}-${i}`, group: `g${g}`, type: 'process', desired, priv: { command: '/bin/true' } });
  }
  const rec = await store.recoverLog(10_000, 1, draft.config);
  if (!rec.ok) throw rec.error;
  await store.close();
  return draft.config;
}

/**
 * A node starting with 10,000 resources in 1,000 groups, on an idle host (calls answer at once),
 * with and without its own copy of the database. Phases, from the start of ClusterNode.start():
 * - loaded: start() returned (lease slot claimed, configuration loaded from the local copy or
 *   the store's checkpoint, the store's log verified);
 * - first cycle: the first cycle is done (elected, checkpoint taken, this node added to the
 *   configuration, its report published: joined);
 * - serving: the event loop is free again (the cycles that follow at once are done: placement
 *   of the 1,000 groups, resources started), so the API answers;
 * - all started: every group placed here and every resource Online (resources desired online).
 * Self-fence events during the start (the event loop blocked past the self-fence deadline) are
 * counted: a start that blocks that long would stop its own resources.
 */
async function startWithResources(): Promise<void> {
  for (const desired of ['offline', 'online'] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'clusterd-bench-s-'));
    try {
      const config = await storeWith10kResources(join(dir, 'quorum'), desired);
      for (const copy of ['without', 'with']) {
        const dataDir = join(dir, `data-${copy}`);
        if (copy === 'with') new LocalDb(dataDir).writeCheckpoint(10_000, 1, config);
        const stalls: string[] = [];
        const t0 = performance.now();
        let firstCycleMs = -1;
        const node = await startNode(dir, `n-${copy}`, dataDir, (_level, event) => { if (event === 'NODE_STALLED' || event === 'NODE_LEASE_LOST') stalls.push(event); }, (n) => {
          // Note the moment the first cycle sets `ready` (the benchmark's only hook into the cycle).
          let ready = n.snapshot().ready;
          Object.defineProperty(n, 'ready', { get: () => ready, set: (v: boolean) => { if (v && firstCycleMs < 0) firstCycleMs = performance.now() - t0; ready = v; } });
        });
        const loadedMs = performance.now() - t0;
        await new Promise((res) => setTimeout(res, 0));
        const servingMs = performance.now() - t0;
        const online = () => Object.values(node.localState.groups).reduce((n, g) => n + Object.values(g.resources).filter((x) => x.state === 'Online').length, 0);
        const want = desired === 'online' ? 10_000 : 0;
        const placed = () => Object.values(node.snapshot().ownership).filter((o) => o.node === node.name).length;
        while ((online() < want || placed() < 1_000) && performance.now() - t0 < 60_000) await new Promise((res) => setTimeout(res, 2));
        const allMs = performance.now() - t0;
        console.log(`node start with 10,000 resources (desired ${desired}) in 1,000 groups, ${copy} a local copy: loaded ${loadedMs.toFixed(0)} ms, ` +
          `first cycle done (joined) ${firstCycleMs.toFixed(0)} ms, serving ${servingMs.toFixed(0)} ms, ` +
          `${desired === 'online' ? `all 10,000 resources Online and ` : ''}1,000 groups placed ${allMs.toFixed(0)} ms` +
          `${stalls.length > 0 ? `; SELF-FENCE during start: ${stalls.join(', ')}` : ''}; heap ${(process.memoryUsage().heapUsed / 1048576).toFixed(0)} MiB`);
        await node.shutdown();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

/**
 * A real `clusterd start` (bin/clusterd.js, its own process and resource monitor) with a database
 * of 10,000 resources in 1,000 groups (desired offline: nothing to spawn), without a local copy:
 * from spawn until GET /v1/status answers, and until it shows the 1,000 groups placed.
 */
async function processStart(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'clusterd-bench-p-'));
  const bin = fileURLToPath(new URL('../../bin/clusterd.js', import.meta.url));
  try {
    await storeWith10kResources(join(dir, 'quorum'), 'offline');
    for (let run = 1; run <= 3; run++) {
      const port = await new Promise<number>((resolve) => {
        const srv = createServer().listen(0, '127.0.0.1', () => { const a = srv.address() as { port: number }; srv.close(() => resolve(a.port)); });
      });
      const t0 = performance.now();
      const child = spawn(process.execPath, [...(process.env.BENCH_SEMI ? [`--max-semi-space-size=${process.env.BENCH_SEMI}`] : ['--max-semi-space-size=1']), bin, 'start', '--quorum', `dir:${join(dir, 'quorum')}`, '--node', 'n1',
        '--listen', `127.0.0.1:${port}`, '--data-dir', join(dir, `data-${run}`)], { stdio: 'ignore' });
      let listeningMs = -1;
      let answeredMs = -1;
      let placedMs = -1;
      while (placedMs < 0 && performance.now() - t0 < 60_000) {
        const res = await fetch(`http://127.0.0.1:${port}/v1/status`, { headers: { authorization: `Bearer ${benchToken}` } }).then(async (x) => {
          if (listeningMs < 0) listeningMs = performance.now() - t0;
          return x.ok ? (await x.json()) as { groups: { node: string | null }[] } : null;
        }, () => null);
        if (res && answeredMs < 0) answeredMs = performance.now() - t0;
        if (res && res.groups.filter((g) => g.node === 'n1').length === 1_000) placedMs = performance.now() - t0;
        else await new Promise((resolve) => setTimeout(resolve, 10));
      }
      console.log(`real clusterd start with 10,000 resources in 1,000 groups (run ${run}): API listening at ${listeningMs.toFixed(0)} ms, GET /v1/status answers at ${answeredMs.toFixed(0)} ms, shows the 1,000 groups placed at ${placedMs.toFixed(0)} ms`);
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const max = Number(process.env.BENCH_REPLAY_MAX ?? 1_000_000);
  const only = process.env.BENCH_ONLY; // updates | replay | start
  if (!only || only === 'updates') await updatesPerSecond();
  if (!only || only === 'replay') for (const n of [100_000, 1_000_000]) if (n <= max) replay(n);
  if (!only || only === 'start') await startWithResources();
  if (!only || only === 'process') await processStart();
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
