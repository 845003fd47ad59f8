// Records in the quorum log that this version refuses (an older version accepted a built-in name
// as an entry, or a name with a trailing space): the node loads, skips each one, and reports it
// with its seq and a way out; it never refuses to start or crashes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from '../src/store/index.js';
import type { ConfigUpdate } from '../src/core/types.js';
import { TestCluster, waitFor } from './harness.js';

test('a quorum log holding poison records loads: each is skipped and reported with its seq, before and after a restart', async (t) => {
  const c = await TestCluster.start(['n1']);
  t.after(() => c.close());
  assert.equal((await c.api('/v1/groups', { method: 'POST', body: { name: 'web' } })).status, 200);
  const n = c.nodes.get('n1')!;
  n.proc.kill('SIGTERM');
  assert.equal(await n.exited, 0);

  // What an older version let into the log, written straight into the store.
  const store = openStore(c.quorum);
  assert.ok((await store.open()).ok);
  const term = (await store.readCoordinator()).term;
  const head = await store.logHead();
  const bad: ConfigUpdate[] = [
    { op: 'node-pause', node: 'constructor', paused: true },
    { op: 'group-create', group: 'trailing ' },
    { op: 'resource-create', resource: 'ghost', group: 'toString', type: 'process', priv: {} },
    { op: 'group-create', group: 'after' },
  ];
  const appended = await store.appendLog(term, head, bad);
  assert.ok(appended.ok, JSON.stringify(appended));
  await store.close();
  const badSeqs = appended.value.slice(0, 3).map((r) => r.seq);

  await c.startNode('n1');
  const s = await c.waitStatus('up', (st) => st.groups.some((g) => g.name === 'after'), 30_000);
  assert.deepEqual(s.groups.map((g) => g.name).sort(), ['after', 'web']);
  assert.deepEqual(s.nodes.map((x) => x.name), ['n1'], 'no phantom node');
  for (const seq of badSeqs) {
    assert.ok(s.warnings.some((w) => w.includes(`record ${seq} was skipped`) && /cluster checkpoint/.test(w)), `a status warning names seq ${seq}: ${s.warnings.join(' | ')}`);
  }
  assert.equal((await c.api('/v1/resources')).status, 200, 'resources list');
  const ev = await waitFor('skip events', async () => {
    const e = (await c.events()).filter((x) => x.event === 'CONFIG_RECORD_SKIPPED');
    return e.length >= 3 ? e : null;
  });
  for (const seq of badSeqs) assert.ok(ev.some((e) => e.message.includes(`record ${seq} `)), `an event names seq ${seq}`);

  // The way out: a checkpoint writes the configuration without them (a clean stop takes one too);
  // the next start has nothing left to skip.
  assert.equal((await c.api('/v1/checkpoint', { method: 'POST' })).status, 200);
  const m = c.nodes.get('n1')!;
  m.proc.kill('SIGTERM');
  assert.equal(await m.exited, 0);
  await c.startNode('n1');
  const again = await c.waitStatus('up again', (st) => st.groups.some((g) => g.name === 'after'), 30_000);
  assert.deepEqual(again.groups.map((g) => g.name).sort(), ['after', 'web']);
  assert.ok(!again.warnings.some((w) => /was skipped/.test(w)), again.warnings.join(' | '));
});
