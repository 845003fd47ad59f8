// Scheduling priority on real processes: clusterd's heartbeat thread runs at the highest priority
// and its decision loop raised (its session group where sessions are scheduled as groups), so that a host whose cores are saturated by other work does not
// fence a healthy node; what it starts does not inherit either: a resource runs at the priority
// clusterd was started with, in a session (and process group) of its own. Where clusterd may not
// raise priorities (no CAP_SYS_NICE), it says so in its log instead.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { TestCluster, waitFor } from './harness.js';

let cluster: TestCluster | null = null;
after(async () => { await cluster?.close(); });

/** Fields of /proc/PID[/task/TID]/stat after the command name: [state, ppid, pgrp, session, ...]; nice is field 19. */
function stat(path: string): { pgrp: number; session: number; nice: number } {
  const text = readFileSync(path, 'utf8');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { pgrp: Number(f[2]), session: Number(f[3]), nice: Number(f[16]) };
}

function threadNices(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => { try { return stat(`/proc/${pid}/task/${tid}/stat`).nice; } catch { return 0; } });
}

function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) => readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
  } catch {
    return [];
  }
}

test('the heartbeat thread runs at the highest priority, the decision loop raised; a resource at clusterd\'s own priority, in its own session', async () => {
  const c = (cluster = await TestCluster.start(['n1']));
  const node = c.nodes.get('n1')!;
  const pid = node.proc.pid!;
  const own = stat(`/proc/${process.pid}/stat`).nice; // clusterd was started with the test's priority
  const autogroupNice = (pid: number): number | null => {
    try { return Number(/nice (-?\d+)/.exec(readFileSync(`/proc/${pid}/autogroup`, 'utf8'))?.[1]); } catch { return null; }
  };
  const runnerGroup = autogroupNice(process.pid);
  const created = await c.api('/v1/apply', { method: 'POST', body: { spec: { groups: { g: { resources: { r: { type: 'process', priv: { command: '/bin/sleep', args: ['1000'] } } } } } } } });
  assert.equal(created.status, 200, JSON.stringify(created.body));
  await c.waitStatus('r Online', (s) => s.resources.some((r) => r.name === 'r' && r.state === 'Online'), 60_000);

  // The resource: a child of the monitor (clusterd's child running monitor.js) running sleep.
  const resourcePid = await waitFor('the resource process', () => {
    for (const m of childrenOf(pid)) {
      if (!readFileSync(`/proc/${m}/cmdline`, 'utf8').includes('monitor')) continue;
      for (const r of childrenOf(m)) if (readFileSync(`/proc/${r}/cmdline`, 'utf8').startsWith('/bin/sleep')) return r;
    }
    return null;
  }, 30_000);
  const res = stat(`/proc/${resourcePid}/stat`);
  assert.equal(res.nice, own, 'the resource runs at the priority clusterd was started with');
  assert.equal(res.session, resourcePid, 'the resource leads a session of its own');
  assert.equal(res.pgrp, resourcePid, 'the resource leads its own process group');

  const nices = threadNices(pid);
  const log = () => readFileSync(node.log, 'utf8');
  if (nices.includes(-20)) {
    const group = autogroupNice(pid);
    const leads = stat(`/proc/${pid}/stat`).session === pid;
    // A clusterd that shares its starter's session (a shell, this test) leaves that session's group alone.
    if (!leads) assert.equal(autogroupNice(process.pid), runnerGroup, 'the session clusterd was started from is not raised');
    if (leads && group !== null && Number.isFinite(group)) {
      // Sessions scheduled as groups: the session is raised, the decision loop keeps an equal share with its monitor.
      assert.ok(group <= -10, `clusterd's session group is raised (nice ${group})`);
      assert.equal(stat(`/proc/${pid}/stat`).nice, own, 'the decision loop keeps clusterd\'s priority inside its raised session');
    } else {
      assert.equal(stat(`/proc/${pid}/stat`).nice, Math.max(-20, own - 10), 'the decision loop (main thread) is raised by 10');
    }
  } else {
    // No right to raise priorities here: both refusals are in the log, with what to do.
    await waitFor('the priority warnings in the log', () => /heartbeat thread runs at normal priority/.test(log()) && /decision loop runs at the priority/.test(log()), 15_000);
  }
});
