// Unit tests of the timing settings: the defaults hold, inconsistent settings are BAD_TIMING.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decisionStallDeadlinesMin, decisionStallMaxMs, fenceMarginMs, heartbeatsPerTtlMin, timingDefaults, validateTiming, type Timing } from './timing.js';

const codeOf = (t: Timing) => {
  const r = validateTiming(t);
  return r.ok ? 'ok' : r.error.code;
};

test('the defaults are valid, returned frozen and unchanged', () => {
  const r = validateTiming({ ...timingDefaults });
  assert.ok(r.ok);
  assert.deepEqual(r.value, timingDefaults);
  assert.ok(Object.isFrozen(r.value));
  assert.ok(timingDefaults.selfFenceMs + fenceMarginMs <= timingDefaults.leaseTtlMs);
  assert.ok(timingDefaults.heartbeatIntervalMs * heartbeatsPerTtlMin <= timingDefaults.selfFenceMs);
});

test('self-fence deadline + fence margin beyond the lease TTL is BAD_TIMING', () => {
  const d = timingDefaults;
  assert.equal(codeOf({ ...d, selfFenceMs: d.leaseTtlMs - fenceMarginMs + 1 }), 'BAD_TIMING');
  assert.equal(codeOf({ ...d, selfFenceMs: d.leaseTtlMs }), 'BAD_TIMING');
  assert.equal(codeOf({ ...d, selfFenceMs: d.leaseTtlMs + 1_000 }), 'BAD_TIMING');
  assert.equal(codeOf({ ...d, leaseTtlMs: d.selfFenceMs }), 'BAD_TIMING');
  assert.equal(codeOf({ ...d, selfFenceMs: d.leaseTtlMs - fenceMarginMs }), 'ok', 'exactly at the margin is allowed');
});

test('fewer than the minimum heartbeats per self-fence deadline is BAD_TIMING', () => {
  const d = timingDefaults;
  assert.equal(codeOf({ ...d, heartbeatIntervalMs: Math.floor(d.selfFenceMs / heartbeatsPerTtlMin) + 1 }), 'BAD_TIMING');
  assert.equal(codeOf({ ...d, heartbeatIntervalMs: d.selfFenceMs }), 'BAD_TIMING');
  assert.equal(codeOf({ ...d, heartbeatIntervalMs: d.selfFenceMs / heartbeatsPerTtlMin }), 'ok');
  assert.equal(codeOf({ heartbeatIntervalMs: 1_000, selfFenceMs: 4_000, leaseTtlMs: 4_300, shutdownPendingTimeoutMs: 1, decisionStallMs: 8_000 }), 'ok', 'slower settings, consistent');
});

test('zero, negative, fractional or non-number values are BAD_TIMING', () => {
  const d = timingDefaults;
  for (const bad of [0, -1, 1.5, Number.NaN, Infinity, '100' as unknown as number]) {
    for (const key of Object.keys(d) as (keyof Timing)[]) {
      assert.equal(codeOf({ ...d, [key]: bad }), 'BAD_TIMING', `${key}=${String(bad)}`);
    }
  }
});

test('the error names every problem and hints at the defaults', () => {
  const r = validateTiming({ heartbeatIntervalMs: 500, selfFenceMs: 1_500, leaseTtlMs: 1_000, shutdownPendingTimeoutMs: 15_000, decisionStallMs: 4_000 });
  assert.ok(!r.ok);
  assert.match(r.error.message, /lease TTL/);
  assert.match(r.error.message, /heartbeat/);
  assert.ok(r.error.hint);
});

test('a decision-stall bound under two self-fence deadlines or over its maximum is BAD_TIMING', () => {
  const d = timingDefaults;
  assert.ok(d.decisionStallMs >= decisionStallDeadlinesMin * d.selfFenceMs);
  assert.equal(codeOf({ ...d, decisionStallMs: decisionStallDeadlinesMin * d.selfFenceMs - 1 }), 'BAD_TIMING');
  assert.equal(codeOf({ ...d, decisionStallMs: d.selfFenceMs }), 'BAD_TIMING');
  assert.equal(codeOf({ ...d, decisionStallMs: decisionStallDeadlinesMin * d.selfFenceMs }), 'ok');
  assert.equal(codeOf({ ...d, decisionStallMs: decisionStallMaxMs }), 'ok');
  assert.equal(codeOf({ ...d, decisionStallMs: decisionStallMaxMs + 1 }), 'BAD_TIMING');
});
