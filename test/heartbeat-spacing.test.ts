// The heartbeat loop's renewal spacing on etcd (node/heartbeat.ts HeartbeatLoop, store/etcd-timing.ts
// etcdRenewEveryBeats): the watchdog is pinged on every beat; while renewals succeed and the lease
// state stays the same a renewal goes out every k beats; after a failure, or when the state
// changes, on the next beat. The spacing is derived from the timing so that one renewal hanging
// for the whole call budget still leaves a retry before the self-fence deadline.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HeartbeatLoop, renewEveryBeats } from '../src/node/heartbeat.js';
import { etcdRenewEveryBeats } from '../src/store/etcd-timing.js';
import { etcdTimingCheck } from '../src/store/etcd.js';
import { timingDefaults } from '../src/core/timing.js';
import type { LeaseState } from '../src/store/types.js';

/** A loop on a fake clock whose renewals answer at once with `answers()`. */
function loop(k: number, answers: () => boolean) {
  let now = 0;
  let state: LeaseState = 'running';
  const renewals: { atMs: number; counter: number; state: LeaseState }[] = [];
  const pings: number[] = [];
  const l = new HeartbeatLoop({
    nowMs: () => now,
    renew: (counter, s) => { renewals.push({ atMs: now, counter, state: s }); return Promise.resolve(answers()); },
    ping: (sentMs) => { pings.push(sentMs); },
    fence: () => undefined,
    lastProgressMs: () => now,
    leaseState: () => state,
    fenced: () => undefined,
    renewed: () => undefined,
  }, timingDefaults, k);
  return {
    renewals, pings,
    setState: (s: LeaseState) => { state = s; },
    async beats(n: number): Promise<void> {
      for (let i = 0; i < n; i++) {
        l.beat();
        await new Promise((r) => setImmediate(r)); // the renewal's answer
        now += timingDefaults.heartbeatIntervalMs;
      }
    },
  };
}

test('renewing every second beat: pings every beat, renews every other while renewals succeed', async () => {
  const h = loop(2, () => true);
  await h.beats(8);
  assert.equal(h.pings.length, 8);
  assert.deepEqual(h.renewals.map((r) => r.atMs), [0, 200, 400, 600]);
  assert.deepEqual(h.renewals.map((r) => r.counter), [1, 2, 3, 4], 'the counter moves with every renewal sent');
});

test('after a failed renewal every beat renews until one succeeds; a state change renews on the next beat', async () => {
  let fail = false;
  const h = loop(2, () => !fail);
  await h.beats(2); // renews at 0, skips 100
  fail = true;
  await h.beats(3); // 200 fails; 300 and 400 renew (and fail)
  fail = false;
  await h.beats(3); // 500 succeeds; 600 skipped; 700 renews
  assert.deepEqual(h.renewals.map((r) => r.atMs), [0, 200, 300, 400, 500, 700]);
  h.setState('draining');
  await h.beats(1); // 800: the state changed, renew although 700 succeeded
  assert.deepEqual(h.renewals.at(-1), { atMs: 800, counter: 7, state: 'draining' });
});

test('the spacing is derived from the timing: a renewal that hangs for the whole call budget leaves a retry before the self-fence deadline', () => {
  const d = timingDefaults;
  assert.equal(etcdRenewEveryBeats(d, 500), 2);
  for (const [selfFenceMs, callMs] of [[800, 500], [700, 500], [1_000, 500], [5_000, 500], [800, 100]] as const) {
    const t = { heartbeatIntervalMs: 100, selfFenceMs };
    const k = etcdRenewEveryBeats(t, callMs);
    assert.ok(k >= 1 && k <= 2);
    if (etcdTimingCheck({ ...t, leaseTtlMs: selfFenceMs + 600 }, callMs).problems.length === 0) {
      assert.ok(selfFenceMs >= callMs + (k + 1) * t.heartbeatIntervalMs, `self-fence ${selfFenceMs} ms, call ${callMs} ms, every ${k} beats`);
    }
  }
  assert.equal(renewEveryBeats(d, { kind: 'dir', node: 'n1', incarnation: 'i', leasePath: '/x', slot: 0 }), 1, 'dir renews on every beat');
});
