// The coordinator's bookkeeping lives in the quorum store with the ownership records: a new
// coordinator continues the failover count of the one before it. Real clusterd processes on the
// dir store; a failure is a killed service (restart threshold 0: it fails over at once).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { freePort, TestCluster, waitFor, webServiceJs } from './harness.js';

const clusters: TestCluster[] = [];
after(async () => { for (const c of clusters) await c.close(); });

test('a new coordinator continues the failover count: after threshold failovers and a coordinator crash, the next failure leaves the group Failed', async (t) => {
  const c = await TestCluster.start(['n1', 'n2', 'n3']);
  clusters.push(c);
  t.after(() => c.close());
  const coordinator = (await c.status()).coordinator;
  assert.ok(coordinator, 'a coordinator was elected');
  const others = ['n1', 'n2', 'n3'].filter((n) => n !== coordinator);
  const port = await freePort();
  const threshold = 2;
  // Never on the coordinator: killing it must not move the group (a node that goes Down is not a failover counted).
  const spec = { groups: { web: {
    preferredOwners: others, possibleOwners: others, failoverThreshold: threshold,
    resources: { 'web-srv': {
      type: 'process', props: { restartThreshold: 0, restartDelayMs: 100, looksAliveIntervalMs: 200 },
      priv: { command: process.execPath, args: [webServiceJs, String(port), c.dir], probe: `http://127.0.0.1:${port}/` },
    } },
  } } };
  const applied = await c.api('/v1/apply', { method: 'POST', body: { spec, dryRun: false } });
  assert.equal(applied.status, 200, JSON.stringify(applied.body));
  const online = (what: string, not?: string) => c.waitStatus(what, (s) => {
    const g = s.groups.find((x) => x.name === 'web');
    return g?.state === 'Online' && g.node !== null && g.node !== not;
  }, 60_000);
  let s = await online('web Online');
  const killService = () => spawnSync('pkill', ['-KILL', '-f', `web-service.js ${port}`]);
  for (let i = 1; i <= threshold; i++) {
    const from = c.nodeOf(s, 'web')!;
    killService();
    s = await online(`failover ${i} away from ${from}`, from);
  }
  const counted = (await c.events()).filter((e) => e.event === 'GROUP_MOVED' && e.message.includes('it failed on'));
  assert.equal(counted.length, threshold, 'each failure was one failover');

  c.nodes.get(coordinator)!.proc.kill('SIGKILL');
  const next = await c.waitStatus('another coordinator', (st) => st.coordinator !== null && st.coordinator !== coordinator, 60_000);
  const owner = c.nodeOf(next, 'web')!;
  killService();
  // Either outcome ends the wait: left Failed on its owner (the count went on), or Online elsewhere (counted afresh).
  const end = await waitFor('the failure handled', async () => {
    const ev = await c.events();
    if (ev.some((e) => e.event === 'GROUP_FAILOVER_THRESHOLD')) return 'threshold';
    const st = await c.status();
    const g = st.groups.find((x) => x.name === 'web');
    return g?.state === 'Online' && g.node !== owner ? `failed over to ${g.node}` : null;
  }, 60_000);
  assert.equal(end, 'threshold', `the (threshold + 1)th failover is refused by the new coordinator (${next.coordinator})`);
  const last = await c.waitStatus('web Failed', (st) => st.groups.find((x) => x.name === 'web')?.state === 'Failed', 30_000);
  assert.equal(c.nodeOf(last, 'web'), owner, 'left where it failed');
});
