import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Clock } from './clock.js';
import { busyChangesMin, busyRestMaxMs, busyRestRatio, CycleRunner, restMaxMs } from './cycle-runner.js';

/** A clock whose time moves only when told; each cycle keeps the loop busy `busyPerCycleMs`. */
function harness(busyPerCycleMs: number, withBusy = true, changesUnderWay?: () => number) {
  let now = 0;
  let busy = 0;
  const timers: { at: number; fn: () => void }[] = [];
  const starts: number[] = [];
  const clock: Clock = {
    nowMs: () => now, wallMs: () => now, localHour: () => 0,
    setInterval: () => () => undefined,
    setTimeout: (fn, ms) => { const t = { at: now + ms, fn }; timers.push(t); return () => { timers.splice(timers.indexOf(t), 1); }; },
    ...(withBusy ? { loopBusyMs: () => busy } : {}),
  };
  const runner = new CycleRunner({
    clock, stopped: () => false, settled: () => undefined, ...(changesUnderWay ? { changesUnderWay } : {}),
    cycle: async () => { starts.push(now); now += busyPerCycleMs; busy += busyPerCycleMs; },
  });
  /** Runs due timers and settles promises, advancing the clock to each timer. */
  const runUntil = async (until: number) => {
    for (;;) {
      await new Promise((r) => setImmediate(r));
      timers.sort((a, b) => a.at - b.at);
      const t = timers[0];
      if (t === undefined || t.at > until) break;
      timers.shift();
      now = Math.max(now, t.at);
      t.fn();
    }
    now = Math.max(now, until);
  };
  return { runner, starts, runUntil, setNow: (ms: number) => { now = ms; } };
}

test('a cycle kicked again at once starts only after a rest as long as the loop was busy in the last one', async () => {
  const h = harness(30);
  h.runner.kick();
  await h.runUntil(1);
  assert.deepEqual(h.starts, [0]);
  h.runner.kick(); // a result arrives right after the cycle
  await h.runUntil(1_000);
  assert.deepEqual(h.starts, [0, 60], 'the cycle ended at 30 ms after 30 ms of work: the next starts at 60 ms');
});

test('kicks during a cycle share one next cycle, after the rest', async () => {
  const h = harness(20);
  h.runner.kick();
  await h.runUntil(0);
  for (let i = 0; i < 50; i++) h.runner.kick();
  await h.runUntil(1_000);
  assert.deepEqual(h.starts, [0, 40]);
});

test('the rest is bounded, and an idle node runs a kicked cycle at once', async () => {
  const h = harness(500);
  h.runner.kick();
  await h.runUntil(0);
  h.runner.kick();
  await h.runUntil(10_000);
  assert.deepEqual(h.starts, [0, 500 + restMaxMs], 'a long cycle earns only the bounded rest');
  h.setNow(20_000);
  h.runner.kick();
  await h.runUntil(20_000);
  assert.equal(h.starts.at(-1), 20_000, 'a kick long after the last cycle runs at once');
});

test('without a measure of the loop\'s work (the simulator) cycles follow each other without rest', async () => {
  const h = harness(30, false);
  h.runner.kick();
  await h.runUntil(0);
  h.runner.kick();
  await h.runUntil(1_000);
  assert.deepEqual(h.starts, [0, 30]);
});

test('while the monitor starts or stops many resources the rest is longer, and bounded; a few changes keep the short rest', async () => {
  let changes = busyChangesMin;
  const h = harness(40, true, () => changes);
  h.runner.kick();
  await h.runUntil(0);
  h.runner.kick();
  await h.runUntil(1_000);
  assert.deepEqual(h.starts, [0, 40 + 40 * busyRestRatio], 'a 40 ms cycle while the monitor spawns: the next after busyRestRatio times 40 ms');
  const h2 = harness(500, true, () => changes);
  h2.runner.kick();
  await h2.runUntil(0);
  h2.runner.kick();
  await h2.runUntil(10_000);
  assert.deepEqual(h2.starts, [0, 500 + busyRestMaxMs], 'a long cycle earns only the bounded rest');
  changes = busyChangesMin - 1; // a move of a few groups: its latency counts
  h.setNow(5_000);
  h.runner.kick();
  await h.runUntil(5_000);
  h.runner.kick();
  await h.runUntil(6_000);
  assert.deepEqual(h.starts.slice(-2), [5_000, 5_080], 'a few changes: the rest is as long as the busy time again');
});
