// Unit and property tests of the self-fence policy: one threshold for fencing and for starting.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { observeLeases } from './membership.js';
import { beatDecision, mayStart, paused, renewalOverdue, type BeatState, type StartCheck } from './self-fence.js';
import { timingDefaults } from './timing.js';

const t = timingDefaults;

function check(over: Partial<StartCheck> = {}): StartCheck {
  const nowMs = over.nowMs ?? 10_000;
  return {
    nowMs, self: 'n1', lastRenewOkMs: nowMs - 50, fencing: false, shuttingDown: false, recordTerm: 3, currentTerm: 3,
    membership: observeLeases({}, [{ node: 'n1', counter: 1, state: 'running', incarnation: 'i' }], nowMs - 50),
    ...over,
  };
}

test('a fresh lease, the current term, no fence, not shutting down: may start', () => {
  assert.equal(mayStart(check(), t), true);
});

test('each condition alone forbids starts', () => {
  assert.equal(mayStart(check({ fencing: true }), t), false, 'a fence under way');
  assert.equal(mayStart(check({ shuttingDown: true }), t), false, 'shutting down');
  assert.equal(mayStart(check({ recordTerm: 2 }), t), false, 'a record from an older term');
  assert.equal(mayStart(check({ lastRenewOkMs: -Infinity }), t), false, 'never renewed');
  assert.equal(mayStart(check({ membership: {} }), t), false, 'not alive in its own view');
});

test('the fence threshold and the start threshold are the same instant: nothing starts between the fence and the end of the lease', () => {
  const last = 1_000;
  const edge = last + t.selfFenceMs - t.heartbeatIntervalMs;
  assert.equal(renewalOverdue(edge - 1, last, t), false);
  assert.equal(renewalOverdue(edge, last, t), true);
  const membership = observeLeases({}, [{ node: 'n1', counter: 1, state: 'running', incarnation: 'i' }], edge - 1);
  assert.equal(mayStart(check({ nowMs: edge - 1, lastRenewOkMs: last, membership }), t), true);
  assert.equal(mayStart(check({ nowMs: edge, lastRenewOkMs: last, membership }), t), false);
});

test('property: whenever the beat would fence for want of renewals, no start is allowed', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 5_000 }), fc.integer({ min: 0, max: 5_000 }), (last, since) => {
    const nowMs = last + since;
    const membership = observeLeases({}, [{ node: 'n1', counter: 1, state: 'running', incarnation: 'i' }], nowMs);
    const may = mayStart(check({ nowMs, lastRenewOkMs: last, membership }), t);
    return !(may && renewalOverdue(nowMs, last, t));
  }));
});

test('paused: a gap between beats longer than the self-fence deadline', () => {
  assert.equal(paused(t.selfFenceMs, t), false);
  assert.equal(paused(t.selfFenceMs + 1, t), true);
});

function beatState(over: Partial<BeatState> = {}): BeatState {
  return { lastBeatMs: 9_900, lastRenewOkMs: 9_900, lastProgressMs: 9_900, leaseLostFencedAt: -Infinity, stallFencedAt: -Infinity, ...over };
}

test('beat: healthy, or a busy decision loop shorter than decisionStallMs: renew, no fence', () => {
  assert.deepEqual(beatDecision(10_000, beatState(), t).fence, null);
  const busy = beatDecision(10_000, beatState({ lastProgressMs: 10_000 - t.decisionStallMs + 1 }), t);
  assert.equal(busy.fence, null);
  assert.equal(busy.renew, true, 'a decision loop busy for longer than the self-fence deadline keeps its lease');
});

test('beat: a decision loop without progress for decisionStallMs stops renewals and fences once', () => {
  const s = beatState({ lastProgressMs: 10_000 - t.decisionStallMs });
  const d = beatDecision(10_000, s, t);
  assert.deepEqual([d.fence, d.renew], ['stalled', false]);
  const again = beatDecision(10_100, d.next, t);
  assert.deepEqual([again.fence, again.renew], [null, false], 'one fence per stall, renewals stay stopped');
  // Progress again: renewals resume, and the stale renewal time is no second (lease-lost) fence.
  const back = beatDecision(10_200, { ...again.next, lastProgressMs: 10_150 }, t);
  assert.deepEqual([back.fence, back.renew], [null, true]);
});

test('beat: renewals overdue fence once per outage (lease-lost), at the threshold mayStart uses', () => {
  const at = 10_000 - (t.selfFenceMs - t.heartbeatIntervalMs);
  const d = beatDecision(10_000, beatState({ lastRenewOkMs: at, lastBeatMs: 9_950 }), t);
  assert.deepEqual([d.fence, d.renew], ['lease-lost', true]);
  assert.equal(renewalOverdue(10_000, at, t), true);
  assert.equal(beatDecision(10_050, d.next, t).fence, null, 'once per outage');
  assert.equal(beatDecision(10_000, beatState({ lastRenewOkMs: at + 1, lastBeatMs: 9_950 }), t).fence, null);
  assert.equal(beatDecision(10_000, beatState({ lastRenewOkMs: -Infinity }), t).fence, null, 'never renewed: nothing to lose yet');
});

test('beat: the heartbeat itself stopped past the self-fence deadline (paused) fences', () => {
  const d = beatDecision(10_000, beatState({ lastBeatMs: 10_000 - t.selfFenceMs - 1, lastRenewOkMs: 9_000, lastProgressMs: 9_990 }), t);
  assert.equal(d.fence, 'paused');
  assert.equal(beatDecision(10_050, d.next, t).fence, null, 'and it is the fence of the lost renewals too');
});
