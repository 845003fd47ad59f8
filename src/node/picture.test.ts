// node/picture.ts observeLeases: the lease view a cycle observes never goes back in time. A
// renewal's read (etcd) stands for the cycle's own only when it is at least as new as the
// ownership records acted on and as the newest lease view already observed: an older one would
// hand the membership a node's earlier incarnation or state (a clean stop), which is judged Down
// at once, and a Down owner's groups are placed elsewhere without waiting for a self-fence.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LeaseObservation } from '../core/membership.js';
import type { Clock } from './clock.js';
import { Picture } from './picture.js';

function fakeClock(): Clock & { at: number } {
  const c = {
    at: 0,
    nowMs: () => c.at, wallMs: () => c.at, localHour: () => 12,
    setInterval: () => () => {}, setTimeout: () => () => {},
  };
  return c;
}

const config = { nodes: { n1: {}, x: {} } } as never;

test('a renewal view older than the newest lease read is not observed (no node goes back to an earlier, stopped incarnation)', async () => {
  const clock = fakeClock();
  const pic = new Picture(clock, 3_000);
  const stoppedX: LeaseObservation = { node: 'x', counter: 50, state: 'stopped', incarnation: 'a' };
  const runningX: LeaseObservation = { node: 'x', counter: 1, state: 'running', incarnation: 'b' };
  const n1: LeaseObservation = { node: 'n1', counter: 7, state: 'running', incarnation: 'i' };

  // Cycle N: the ownership records are read at 100; no renewal view is fresh enough, so the cycle
  // reads the slots itself at 200: x restarted (incarnation b, running).
  pic.ownershipReadAtMs = 100;
  clock.at = 200;
  await pic.observeLeases(null, async () => { clock.at = 210; return [n1, runningX]; });
  assert.equal(pic.nodeViews(config).x!.state !== 'Down', true);

  // Cycle N+1: no new ownership read; the newest renewal view was sent at 150 (after the ownership
  // read, before the cycle's own lease read) and still holds x's earlier, stopped incarnation.
  clock.at = 400;
  let read = false;
  await pic.observeLeases({ leases: [n1, stoppedX], sentMs: 150, arrivedMs: 205 }, async () => { read = true; return [n1, runningX]; });
  assert.equal(read, true, 'the view older than the lease read of cycle N is not used: the cycle reads the slots');
  assert.equal(pic.membership.x!.incarnation, 'b');
  assert.notEqual(pic.nodeViews(config).x!.state, 'Down');
});

test('a renewal view sent after the ownership read and the newest lease read is observed, at its arrival', async () => {
  const clock = fakeClock();
  const pic = new Picture(clock, 3_000);
  const n1: LeaseObservation = { node: 'n1', counter: 7, state: 'running', incarnation: 'i' };
  pic.ownershipReadAtMs = 100;
  clock.at = 200;
  await pic.observeLeases(null, async () => [n1]);
  clock.at = 500;
  let read = false;
  await pic.observeLeases({ leases: [{ ...n1, counter: 8 }], sentMs: 300, arrivedMs: 320 }, async () => { read = true; return []; });
  assert.equal(read, false);
  assert.equal(pic.membership.n1!.counter, 8);
  assert.equal(pic.membership.n1!.lastChangeMs, 320);
  assert.equal(pic.leasesReadAtMs, 300);
  // The same view again (no newer renewal yet) is still usable: it goes back nowhere.
  await pic.observeLeases({ leases: [{ ...n1, counter: 8 }], sentMs: 300, arrivedMs: 320 }, async () => { read = true; return []; });
  assert.equal(read, false);
});

test('a renewal view sent before the ownership records were read is not observed', async () => {
  const clock = fakeClock();
  const pic = new Picture(clock, 3_000);
  pic.ownershipReadAtMs = 100;
  clock.at = 120;
  let read = false;
  await pic.observeLeases({ leases: [], sentMs: 90, arrivedMs: 95 }, async () => { read = true; return []; });
  assert.equal(read, true);
});
