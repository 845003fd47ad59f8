// `npm run bench:quorum`: the cluster database's figures.
// - durable configuration updates per second through the coordinator's group commit
//   (1, 8 and 64 concurrent writers), on the dir store with synchronous=FULL;
// - replay time of a node's local log of 100k and 1M records;
// - node start time with a database of 10,000 resources.
// Prints figures, asserts nothing. BENCH_REPLAY_MAX caps the replay sizes (default 1000000).

import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emptyConfig, ConfigDraft } from '../src/core/config.js';
import { timingDefaults } from '../src/core/timing.js';
import type { ConfigUpdate } from '../src/core/types.js';
import { LocalDb } from '../src/node/local-db.js';
import { realClock } from '../src/node/main.js';
import { ClusterNode, type ResourceHost } from '../src/node/node.js';
import { DirStore } from '../src/store/dir.js';

/** No resources run in these benchmarks: a host that answers every call at once. */
class IdleHost extends EventEmitter implements ResourceHost {
  async call() { return { ok: true as const }; }
  ping(): void {}
  fence(): void {}
  recycle(): void {}
  async shutdown(): Promise<void> {}
}

const quiet = () => undefined;

async function startNode(dir: string, name: string, dataDir: string): Promise<ClusterNode> {
  const store = new DirStore(join(dir, 'quorum'));
  const opened = await store.open();
  if (!opened.ok) throw opened.error;
  const node = new ClusterNode({
    name, apiUrl: 'http://127.0.0.1:0', timing: timingDefaults, store, host: new IdleHost(), clock: realClock, log: quiet,
    localDb: new LocalDb(dataDir), checkpointing: { logResetBytes: 64 * 1024 },
  });
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

async function startWith10kResources(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'clusterd-bench-s-'));
  try {
    const store = new DirStore(join(dir, 'quorum'));
    const r = await store.init('bench', Date.now());
    if (!r.ok) throw r.error;
    const draft = new ConfigDraft(emptyConfig('bench'));
    for (let g = 0; g < 1_000; g++) {
      draft.apply({ op: 'group-create', group: `g${g}` });
      for (let i = 0; i < 10; i++) draft.apply({ op: 'resource-create', resource: `r${g}-${i}`, group: `g${g}`, type: 'process', priv: { command: '/bin/true' } });
    }
    const rec = await store.recoverLog(10_000, 1, draft.config);
    if (!rec.ok) throw rec.error;
    await store.close();
    for (const copy of ['without', 'with']) {
      const dataDir = join(dir, `data-${copy}`);
      if (copy === 'with') new LocalDb(dataDir).writeCheckpoint(10_000, 1, draft.config);
      const t0 = performance.now();
      const node = await startNode(dir, `n-${copy}`, dataDir);
      const loadedMs = performance.now() - t0;
      while (!node.ready) await new Promise((res) => setTimeout(res, 5));
      const ms = performance.now() - t0;
      console.log(`node start with 10,000 resources in 1,000 groups (${copy} a local copy): configuration loaded in ${loadedMs.toFixed(0)} ms; ` +
        `first cycle done (elected, placed 1,000 groups, 10,000 resources started on an idle host, report written) at ${ms.toFixed(0)} ms; heap ${(process.memoryUsage().heapUsed / 1048576).toFixed(0)} MiB`);
      await node.shutdown();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const max = Number(process.env.BENCH_REPLAY_MAX ?? 1_000_000);
  await updatesPerSecond();
  for (const n of [100_000, 1_000_000]) if (n <= max) replay(n);
  await startWith10kResources();
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
