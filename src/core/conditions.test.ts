// Unit tests of repeated-failure conditions: one line at the start, one per interval with the
// count, one at the end with the total; a different failure is a different condition.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Conditions } from './conditions.js';

test('a failure repeated every 100 ms for 5 minutes gives one start line, one line a minute, one end line', () => {
  const c = new Conditions(60_000);
  const lines = [];
  for (let t = 0; t < 300_000; t += 100) lines.push(...c.occurred('OWNERSHIP_WRITE_FAILED', 'QUORUM_DISK_FULL', 'disk full', t));
  lines.push(...c.cleared('OWNERSHIP_WRITE_FAILED', 300_000));
  assert.deepEqual(lines.map((l) => l.phase), ['started', 'continuing', 'continuing', 'continuing', 'continuing', 'ended']);
  assert.equal(lines[1]!.count, 601);
  const end = lines.at(-1)!;
  assert.equal(end.event, 'OWNERSHIP_WRITE_FAILED_RECOVERED');
  assert.equal(end.count, 3000);
  assert.equal(end.forMs, 300_000);
});

test('clearing a condition that does not hold logs nothing; a new failure after the end starts afresh', () => {
  const c = new Conditions(1_000);
  assert.deepEqual(c.cleared('X', 5), []);
  assert.equal(c.occurred('X', 'A', 'm', 10).length, 1);
  assert.equal(c.cleared('X', 20).length, 1);
  assert.equal(c.holding('X'), undefined);
  const again = c.occurred('X', 'A', 'm', 30);
  assert.deepEqual(again.map((l) => [l.phase, l.count]), [['started', 1]]);
});

test('a failure with another signature ends the condition and starts a new one', () => {
  const c = new Conditions(1_000);
  c.occurred('X', 'QUORUM_DISK_FULL', 'full', 0);
  c.occurred('X', 'QUORUM_DISK_FULL', 'full', 1);
  const lines = c.occurred('X', 'QUORUM_UNAVAILABLE', 'locked', 2);
  assert.deepEqual(lines.map((l) => [l.event, l.phase, l.count]), [['X_RECOVERED', 'ended', 2], ['X', 'started', 1]]);
  assert.equal(c.holding('X')?.signature, 'QUORUM_UNAVAILABLE');
});

test('conditions under different keys are independent', () => {
  const c = new Conditions(1_000);
  c.occurred('A', 's', 'a', 0);
  c.occurred('B', 's', 'b', 0);
  assert.equal(c.cleared('A', 1).length, 1);
  assert.ok(c.holding('B'));
});
