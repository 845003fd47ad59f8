// No lost writes on failover (issue 4, seed Q252974). A group holds a disk (a directory standing
// in for the shared LUN) and a writer that appends {node, epoch, seq} records with fsync and
// acknowledges each durable seq outside the disk (test/fixtures/writer-append.mjs). The owner is
// then shut down, killed, or stopped past its lease TTL; each time another node takes over. The
// checker reads the file: no record of epoch k after a record of epoch k+1 (two writers never
// interleave), and every acknowledged record is there.
//
// Each scenario runs LOSTWRITES_REPEAT times (default 2; `npm run test:lostwrites` runs 20).
// The writers do not check the epoch themselves: only the cluster keeps them apart.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StatusSnapshot } from '../src/api/types.js';
import { sectorWatchMs } from '../src/monitor/disk-agent.js';
import { sleep, TestCluster, waitFor } from './harness.js';

const repeat = Math.max(1, Number(process.env.LOSTWRITES_REPEAT ?? 2) || 2);
const writerJs = fileURLToPath(new URL('../../test/fixtures/writer-append.mjs', import.meta.url));
/** Records a writer must have acknowledged before the owner is disturbed, and after a takeover. */
const acksWanted = 10;
/** Bound on a takeover: lease TTL, the private-sector watch, process starts on a loaded host. */
const takeoverMs = 20_000 + sectorWatchMs;

interface Lun { group: string; dir: string; data: string; acks: string }

interface Check { records: number; acked: number; epochs: number[] }

/**
 * The checker: epochs never go back in the file; every acknowledged record is in it. The writers
 * may still run: acknowledgements are read first (a writer acknowledges only after its fsync, so
 * whatever they list is in the file read after them).
 */
function checkNoLostWrites(lun: Lun): Check {
  const acks: { node: string; epoch: string; seq: string }[] = [];
  for (const f of existsSync(lun.acks) ? readdirSync(lun.acks) : []) {
    const m = /^ack-(.+)-(\d+)-(\d+)\.log$/.exec(f);
    if (!m) continue;
    for (const seq of readFileSync(join(lun.acks, f), 'utf8').split('\n').filter((l) => l !== '')) acks.push({ node: m[1]!, epoch: m[2]!, seq });
  }
  const text = existsSync(lun.data) ? readFileSync(lun.data, 'utf8') : '';
  const present = new Set<string>();
  const epochs: number[] = [];
  let max = 0;
  let n = 0;
  const lines = text.split('\n');
  for (const [i, line] of lines.entries()) {
    if (line === '') continue;
    n += 1;
    let rec: { node: string; epoch: number; seq: number };
    try {
      rec = JSON.parse(line) as typeof rec;
    } catch {
      if (i === lines.length - 1) break; // being written right now (no newline yet)
      assert.fail(`${lun.data}: record #${n} is torn: ${JSON.stringify(line)}`);
    }
    assert.ok(rec.epoch >= max, `${lun.data}: record #${n} ${line} of epoch ${rec.epoch} comes after a record of epoch ${max}: two owners wrote at once`);
    if (rec.epoch > max) epochs.push(rec.epoch);
    max = rec.epoch;
    present.add(`${rec.node}/${rec.epoch}/${rec.seq}`);
  }
  for (const a of acks) {
    assert.ok(present.has(`${a.node}/${a.epoch}/${a.seq}`), `${lun.data}: acknowledged record (node ${a.node}, epoch ${a.epoch}, seq ${a.seq}) is missing: a lost write`);
  }
  return { records: n, acked: acks.length, epochs };
}

function acksOf(lun: Lun, node: string, epoch: number): number {
  let n = 0;
  for (const f of existsSync(lun.acks) ? readdirSync(lun.acks) : []) {
    if (f.startsWith(`ack-${node}-${epoch}-`)) n += readFileSync(join(lun.acks, f), 'utf8').split('\n').filter((l) => l !== '').length;
  }
  return n;
}

function writersRunning(lun: Lun): number {
  return spawnSync('pgrep', ['-f', `writer-append.mjs ${lun.data}`], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l !== '').length;
}

const clusters: TestCluster[] = [];
after(async () => { for (const c of clusters) await c.close(); });

const placement = (s: StatusSnapshot, group: string) => {
  const g = s.groups.find((x) => x.name === group);
  return g && g.state === 'Online' && g.node ? { node: g.node, epoch: g.epoch } : null;
};

/** Status from a node that is not `avoid` (a stopped node would hold each request for its timeout). */
async function statusVia(c: TestCluster, avoid: string | null): Promise<StatusSnapshot> {
  const via = [...c.nodes.values()].find((n) => n.name !== avoid && n.proc.exitCode === null && n.proc.signalCode === null);
  return c.status(via?.name);
}

/** The group runs on a node other than `not`, under an epoch above `after`, and its writer has acknowledged records there. */
async function takenOver(c: TestCluster, lun: Lun, not: string | null, afterEpoch: number, avoid: string | null = not): Promise<{ node: string; epoch: number }> {
  return waitFor(`${lun.group} to run elsewhere and write`, async () => {
    const p = placement(await statusVia(c, avoid), lun.group);
    if (!p || p.node === not || p.epoch <= afterEpoch) return null;
    return acksOf(lun, p.node, p.epoch) >= acksWanted ? p : null;
  }, takeoverMs, 50);
}

/** Both groups Online and writing; returns where `lun` runs. */
async function settled(c: TestCluster, luns: Lun[], main: Lun): Promise<{ node: string; epoch: number }> {
  let where: { node: string; epoch: number } | null = null;
  await waitFor('every group Online and writing', async () => {
    const s = await statusVia(c, null);
    for (const lun of luns) {
      const p = placement(s, lun.group);
      if (!p || acksOf(lun, p.node, p.epoch) < acksWanted) return false;
      if (lun === main) where = p;
    }
    return true;
  }, takeoverMs, 50);
  return where!;
}

/** Bound on a restarted clusterd serving its API and being Up: generous, a loaded host starts slowly. */
const restartMs = 60_000;

async function restart(c: TestCluster, node: string): Promise<void> {
  await c.startNode(node, [], restartMs);
  await waitFor(`${node} Up`, async () => (await statusVia(c, null)).nodes.find((n) => n.name === node)?.state === 'Up', restartMs);
}

test(`no lost writes on failover: each scenario ${repeat} times`, async (t) => {
  const c = await TestCluster.start(['n1', 'n2', 'n3']);
  clusters.push(c);
  t.after(() => c.close());
  const lun = (group: string): Lun => {
    const dir = join(c.dir, `lun-${group}`);
    mkdirSync(dir);
    return { group, dir, data: join(dir, 'data.log'), acks: join(c.dir, `acks-${group}`) };
  };
  const data = lun('data');
  const stubborn = lun('stubborn');
  const luns = [data, stubborn];
  const group = (l: Lun, extra: string[], props: Record<string, number>) => ({
    preferredOwners: ['n1', 'n2', 'n3'],
    resources: {
      [`${l.group}-disk`]: { type: 'disk', priv: { path: l.dir } },
      [`${l.group}-writer`]: { type: 'process', dependsOn: [`${l.group}-disk`], props,
        priv: { command: process.execPath, args: [writerJs, l.data, l.acks, '--interval-ms', '5', ...extra] } },
    },
  });
  const r = await c.api('/v1/apply', { method: 'POST', body: { dryRun: false, spec: { groups: {
    data: group(data, [], {}),
    stubborn: group(stubborn, ['--ignore-term'], { stopGraceMs: 300 }),
  } } } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await settled(c, luns, data);

  const checkAll = (what: string) => {
    for (const l of luns) {
      const res = checkNoLostWrites(l);
      t.diagnostic(`${what}: ${l.group}: ${res.records} records, ${res.acked} acknowledged, ${res.epochs.length} owners (epochs ${res.epochs[0]}..${res.epochs[res.epochs.length - 1]}), in order`);
    }
  };

  await t.test('planned shutdown of the owner (SIGTERM): drain first, heartbeat last', async () => {
    for (let i = 0; i < repeat; i++) {
      const from = await settled(c, luns, data);
      const owner = c.nodes.get(from.node)!;
      owner.proc.kill('SIGTERM');
      assert.equal(await owner.exited, 0);
      await takenOver(c, data, from.node, from.epoch);
      await restart(c, from.node);
      checkNoLostWrites(data);
    }
    checkAll('after planned shutdowns');
  });

  await t.test('kill -9 of the owner\'s clusterd', async () => {
    for (let i = 0; i < repeat; i++) {
      const from = await settled(c, luns, data);
      const owner = c.nodes.get(from.node)!;
      owner.proc.kill('SIGKILL');
      await owner.exited;
      await takenOver(c, data, from.node, from.epoch);
      await restart(c, from.node);
      checkNoLostWrites(data);
    }
    checkAll('after kill -9');
  });

  await t.test('SIGSTOP of the owner\'s clusterd past the lease TTL, then SIGCONT', async () => {
    for (let i = 0; i < repeat; i++) {
      const from = await settled(c, luns, data);
      const owner = c.nodes.get(from.node)!;
      owner.proc.kill('SIGSTOP');
      let to: { node: string; epoch: number };
      try {
        to = await takenOver(c, data, from.node, from.epoch);
      } finally {
        owner.proc.kill('SIGCONT');
      }
      // The stale owner is awake while the new one writes: give it time to misbehave.
      const before = acksOf(data, to.node, to.epoch);
      await waitFor('the new owner to keep writing', () => acksOf(data, to.node, to.epoch) >= before + acksWanted, 10_000);
      await waitFor(`${from.node} Up again`, async () => (await statusVia(c, null)).nodes.find((n) => n.name === from.node)?.state === 'Up', 15_000);
      assert.equal(writersRunning(data), 1, 'one writer runs');
      checkNoLostWrites(data);
    }
    checkAll('after SIGSTOP/SIGCONT');
  });

  await t.test('a writer that ignores SIGTERM: killed after its stop grace, before the disk moves', async () => {
    for (let i = 0; i < repeat; i++) {
      const from = await settled(c, luns, stubborn);
      if (i % 2 === 0) {
        const owner = c.nodes.get(from.node)!;
        owner.proc.kill('SIGTERM');
        assert.equal(await owner.exited, 0);
        await takenOver(c, stubborn, from.node, from.epoch);
        await restart(c, from.node);
      } else {
        const target = ['n1', 'n2', 'n3'].find((n) => n !== from.node)!;
        const m = await c.api('/v1/groups/stubborn/move', { method: 'POST', body: { node: target } });
        assert.equal(m.status, 200, JSON.stringify(m.body));
        await takenOver(c, stubborn, from.node, from.epoch);
      }
      assert.equal(writersRunning(stubborn), 1, 'one writer runs');
      checkNoLostWrites(stubborn);
    }
    checkAll('after moving a writer that ignores SIGTERM');
  });

  await sleep(200);
  for (const l of luns) {
    const res = checkNoLostWrites(l);
    assert.ok(res.epochs.length >= 2, `${l.group} changed owner (epochs ${res.epochs.join(',')})`);
    assert.ok(res.acked > 0);
  }
});
