// The monitor's decisions (decisions.ts), as tables: the same functions decide in the real monitor
// and client and in the simulator's twin.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide, decisionsWith, supervision, type DecisionFlaws } from './decisions.js';

test('an online call is refused exactly while a fence is unacknowledged', () => {
  assert.equal(decide.refuseOnline(true), true);
  assert.equal(decide.refuseOnline(false), false);
});

test('the watchdog fences at the self-fence deadline, and otherwise judges again when the newest ping would reach it', () => {
  const rows: [number, { fence: boolean; rearmMs: number }][] = [
    [0, { fence: false, rearmMs: 1_000 }],
    [999, { fence: false, rearmMs: 1 }],
    [1_000, { fence: true, rearmMs: 1_000 }],
    [5_000, { fence: true, rearmMs: 1_000 }],
  ];
  for (const [age, verdict] of rows) assert.deepEqual(decide.watchdog(age, 1_000), verdict, `age ${age}`);
});

test('a start or freeze straddles a fence when the kill-all count moved', () => {
  assert.equal(decide.straddlesFence(3, 3), false);
  assert.equal(decide.straddlesFence(3, 4), true);
});

test('a thaw aborts a freeze under way of its own backup, or any when it names none', () => {
  assert.equal(decide.thawAbortsFreeze('b1', 'b1'), true);
  assert.equal(decide.thawAbortsFreeze('b1', undefined), true);
  assert.equal(decide.thawAbortsFreeze('b1', 'b2'), false);
});

test('monitor restarts back off over consecutive crashes, and a monitor that ran long enough starts the count again', () => {
  const short = supervision.stableUptimeMs - 1;
  const delays: number[] = [];
  let crashes = 0;
  for (let i = 0; i < 6; i++) {
    const r = decide.restart(crashes, short);
    delays.push(r.delayMs);
    crashes = r.crashes;
  }
  assert.deepEqual(delays, [0, 100, 1_000, 5_000, 5_000, 5_000]);
  assert.deepEqual(decide.restart(crashes, supervision.stableUptimeMs), { delayMs: 0, crashes: 1 });
});

test('a monitor lost with a fence unconfirmed: the fence holds', () => {
  assert.equal(decide.fenceHoldsOnLoss(true), true);
  assert.equal(decide.fenceHoldsOnLoss(false), false);
});

/** One situation per flaw where the check must act, and what the decision answers there when it does. */
const acting: Record<keyof DecisionFlaws, { rule: string; check: (d: typeof decide) => unknown; on: unknown }> = {
  noWatchdog: { rule: 'watchdog', check: (d) => d.watchdog(1_000, 1_000).fence, on: true },
  noStartCheck: { rule: 'refuseOnline', check: (d) => d.refuseOnline(true), on: true },
  noFenceCheck: { rule: 'straddlesFence', check: (d) => d.straddlesFence(1, 2), on: true },
  noFreezeAbort: { rule: 'thawAbortsFreeze', check: (d) => d.thawAbortsFreeze('b1', 'b1'), on: true },
  noFenceHoldsOnLoss: { rule: 'fenceHoldsOnLoss', check: (d) => d.fenceHoldsOnLoss(true), on: true },
};

test('a flaw switch (the simulator\'s teeth) turns off its own check and no other; production decides with none, frozen', () => {
  assert.ok(Object.isFrozen(decide));
  for (const [flaw, c] of Object.entries(acting)) {
    assert.equal(c.check(decide), c.on, `${c.rule} acts in production`);
    const flawed = decisionsWith({ [flaw]: true });
    assert.notEqual(c.check(flawed), c.on, `${flaw} turns ${c.rule} off`);
    for (const [other, o] of Object.entries(acting)) if (other !== flaw) assert.equal(o.check(flawed), o.on, `${flaw} leaves ${o.rule} on`);
  }
  // Where a check does not act, a flaw changes nothing: the watchdog's next judgement stays the same.
  assert.deepEqual(decisionsWith({ noWatchdog: true }).watchdog(400, 1_000), decide.watchdog(400, 1_000));
  assert.deepEqual(decisionsWith({ noWatchdog: true }).watchdog(1_500, 1_000), { fence: false, rearmMs: 1_000 });
});
