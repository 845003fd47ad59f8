// Unit and property tests of the self-fence policy: one threshold for fencing and for starting.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { observeLeases } from './membership.js';
import { mayStart, renewalOverdue, stalled, type StartCheck } from './self-fence.js';
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

test('the fence threshold and the start threshold are the same instant (bug 7)', () => {
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

test('stalled: a gap between beats longer than the self-fence deadline', () => {
  assert.equal(stalled(t.selfFenceMs, t), false);
  assert.equal(stalled(t.selfFenceMs + 1, t), true);
});
