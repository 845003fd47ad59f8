// The heartbeat runs apart from the decision loop: real clusterd processes whose main thread is
// blocked on purpose (CLUSTERD_TEST_HOOKS=1: SIGUSR2 busy-loops it for DATA_DIR/block-ms ms).
// A block longer than the self-fence deadline but shorter than the decision-stall bound costs
// nothing; a longer one fences the node and its group fails over. No timing is asserted.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, httpText, TestCluster, waitFor } from './harness.js';
import { timingDefaults } from '../src/core/timing.js';

process.env.CLUSTERD_TEST_HOOKS = '1';

const clusters: TestCluster[] = [];
after(async () => { for (const c of clusters) await c.close(); });

const servedBy = (text: string | null) => /served by (\S+) \(epoch (\d+)\)/.exec(text ?? '');
const pids = (port: number) => spawnSync('pgrep', ['-f', `web-service.js ${port}`], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);

/** Busy-loops `node`'s main thread for `ms` and resolves once its API answers again. */
async function block(c: TestCluster, node: string, ms: number): Promise<void> {
  const n = c.nodes.get(node)!;
  writeFileSync(join(c.dir, `data-${node}`, 'block-ms'), String(ms));
  n.proc.kill('SIGUSR2');
  await waitFor(`${node}'s log to show the block`, () => c.readLog(node).includes(`blocking the main thread for ${ms} ms`));
  await waitFor(`${node} to answer again`, async () => (await httpText(`${n.url}/v1/status`, 1_000)) !== null, 30_000);
}

const bad = ['NODE_SELF_FENCED', 'NODE_STALLED', 'NODE_LEASE_LOST', 'GROUP_FAILOVER', 'NODE_DOWN', 'RESOURCE_OFFLINE'];

test('a main thread blocked past the self-fence deadline but within the decision-stall bound: no fence, the service keeps running', async () => {
  const c = await TestCluster.start(['n1', 'n2', 'n3']);
  clusters.push(c);
  const port = await freePort();
  await c.addWebGroup('web', port, { preferred: ['n1', 'n2', 'n3'] });
  const first = await waitFor('web on n1', async () => servedBy(await httpText(`http://127.0.0.1:${port}/`)));
  assert.equal(first[1], 'n1');
  const before = pids(port);
  const lastId = Math.max(0, ...(await c.events()).map((e) => e.id));
  const blockMs = Math.round((timingDefaults.selfFenceMs + timingDefaults.decisionStallMs) / 2) + 600; // 3000 ms of 800 / 4000
  assert.ok(blockMs > timingDefaults.selfFenceMs * 2 && blockMs < timingDefaults.decisionStallMs);
  await block(c, 'n1', blockMs);
  // Two cycles of n1 after the block: whatever it learned about the block is on its log by then.
  for (let i = 0; i < 2; i++) await c.api('/v1/status', { via: 'n1' });
  await waitFor('n1 to publish a report after the block', async () => (await c.status('n2')).nodes.find((n) => n.name === 'n1')?.state === 'Up');
  const events = (await c.events()).filter((e) => e.id > lastId && bad.includes(e.event));
  assert.deepEqual(events.map((e) => `${e.node} ${e.event}: ${e.message}`), [], 'nothing fenced, failed over or went offline');
  const s = await c.status('n1');
  assert.equal(c.nodeOf(s, 'web'), 'n1');
  assert.equal(s.resources.find((r) => r.name === 'web-srv')?.state, 'Online');
  assert.deepEqual(pids(port), before, 'the same service process runs');
  assert.equal(servedBy(await httpText(`http://127.0.0.1:${port}/`))?.[2], first[2], 'under the same epoch');
  assert.ok(!c.readLog('n1').includes('no ping from clusterd'), 'the watchdog never fired');
});

test('a main thread blocked past the decision-stall bound: the heartbeat fences the node and its group fails over', async () => {
  const c = await TestCluster.start(['n1', 'n2', 'n3']);
  clusters.push(c);
  const port = await freePort();
  await c.addWebGroup('web', port, { preferred: ['n1', 'n2', 'n3'] });
  const first = await waitFor('web on n1', async () => servedBy(await httpText(`http://127.0.0.1:${port}/`)));
  assert.equal(first[1], 'n1');
  const blockMs = timingDefaults.decisionStallMs + timingDefaults.leaseTtlMs + 2_000;
  await block(c, 'n1', blockMs);
  const next = await waitFor('web from another node', async () => {
    const m = servedBy(await httpText(`http://127.0.0.1:${port}/`));
    return m && m[1] !== 'n1' ? m : null;
  });
  assert.ok(Number(next[2]) > Number(first[2]), 'the new owner runs under a newer epoch');
  assert.equal(pids(port).length, 1, 'only the new owner runs the service');
  const ev = await waitFor('n1 to say it stalled', async () => {
    const all = await c.events();
    return all.some((e) => e.node === 'n1' && e.event === 'NODE_STALLED') ? all : null;
  });
  const stalled = ev.find((e) => e.node === 'n1' && e.event === 'NODE_STALLED')!;
  assert.match(stalled.message, /decision loop made no progress/);
  await c.waitStatus('n1 Up again, not running web', (st) => st.nodes.find((n) => n.name === 'n1')?.state === 'Up' && c.nodeOf(st, 'web') !== 'n1');
  assert.equal(pids(port).length, 1, 'still one service process after n1 came back');
});
