// Quiet cycles (src/node/quiet.ts) on a real node: once nothing changes, cycles skip the reconcile,
// yet the health checks still come due at the wake-up time the reconcile gave. A service that
// stops answering while the node is quiet is found by its IsAlive check (its probe; LooksAlive only
// asks whether the process lives) and restarted.
// Timings are never asserted.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { freePort, sleep, TestCluster, waitFor } from './harness.js';

const c = new TestCluster();
after(() => c.close());

/** Pids of the processes whose command line holds every one of `parts`. */
function pidsOf(...parts: string[]): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let cmd = '';
    try { cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' '); } catch { continue; }
    if (parts.every((p) => cmd.includes(p))) pids.push(Number(d));
  }
  return pids;
}

test('a service that stops answering while the node is quiet is found by its IsAlive check and restarted', { timeout: 120_000 }, async () => {
  c.init();
  await c.startNode('n1');
  const port = await freePort();
  await c.addWebGroup('web', port, { props: { looksAliveIntervalMs: 200, isAliveIntervalMs: 400, restartDelayMs: 100, pendingTimeoutMs: 2_000, stopGraceMs: 500 } });
  await c.waitStatus('web Online', (s) => s.resources.some((r) => r.name === 'web-srv' && r.state === 'Online'), 30_000);
  const [pid] = pidsOf('web-service.js', String(port));
  assert.ok(pid, 'the service process is found');
  // Nothing changes for a while: cycles are quiet, and only the wake-up time brings the checks.
  await sleep(2_000);
  const failedBefore = (await c.events()).filter((e) => e.event === 'RESOURCE_FAILED').length;
  process.kill(pid, 'SIGSTOP'); // alive, but its HTTP probe goes unanswered
  try {
    const failed = await waitFor('RESOURCE_FAILED of web-srv', async () =>
      (await c.events()).filter((e) => e.event === 'RESOURCE_FAILED' && e.message.includes('web-srv')).length > failedBefore, 60_000);
    assert.ok(failed);
    await waitFor('web-srv Online again in a new process', async () => {
      const s = await c.status();
      const again = pidsOf('web-service.js', String(port));
      return s.resources.some((r) => r.name === 'web-srv' && r.state === 'Online') && again.length === 1 && again[0] !== pid;
    }, 60_000);
  } finally {
    try { process.kill(pid, 'SIGCONT'); } catch { /* gone: it was restarted */ }
  }
  const message = (await c.events()).find((e) => e.event === 'RESOURCE_FAILED' && e.message.includes('web-srv'))?.message ?? '';
  assert.match(message, /isAlive/, message);
});
