import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lsbOutcome, ocfDurationMs, ocfOutcome, type AgentOutcome } from './agent-codes.js';

const kind = (o: AgentOutcome) => (o.result === 'failed' ? o.kind : o.result);

test('OCF start: 0 ok; 1 and 7 restart in place; 3, 4, 5 fail over; 2, 6 and the promoted codes are fatal', () => {
  const want: [number, string][] = [[0, 'ok'], [1, 'restart'], [2, 'fatal'], [3, 'failover'], [4, 'failover'], [5, 'failover'], [6, 'fatal'], [7, 'restart'], [8, 'fatal'], [9, 'fatal'], [42, 'restart']];
  for (const [code, k] of want) assert.equal(kind(ocfOutcome('start', code)), k, `start exit ${code}`);
});

test('OCF monitor: 0 running, 7 not running, the error codes as at start', () => {
  assert.equal(kind(ocfOutcome('monitor', 0)), 'ok');
  assert.equal(kind(ocfOutcome('monitor', 7)), 'not-running');
  assert.equal(kind(ocfOutcome('monitor', 5)), 'failover');
  assert.equal(kind(ocfOutcome('monitor', 6)), 'fatal');
  assert.equal(kind(ocfOutcome('monitor', 1)), 'restart');
  const promoted = ocfOutcome('monitor', 8);
  assert.ok(promoted.result === 'failed' && /promotable/.test(promoted.meaning));
});

test('OCF stop: only 0 is stopped; any other exit or a kill asks monitor before calling it a stop failure', () => {
  assert.equal(kind(ocfOutcome('stop', 0)), 'ok');
  for (const code of [1, 5, 7]) assert.equal(ocfOutcome('stop', code).result, 'check-stopped');
  assert.equal(ocfOutcome('stop', null, 'SIGKILL').result, 'check-stopped');
});

test('an action killed at its timeout is a generic failure', () => {
  assert.equal(kind(ocfOutcome('start', null, 'SIGKILL')), 'restart');
  assert.equal(kind(ocfOutcome('monitor', null, 'SIGKILL')), 'restart');
});

test('LSB status: 0 running, 3 stopped, 1, 2 and 4 failed', () => {
  assert.equal(kind(lsbOutcome('status', 0)), 'ok');
  assert.equal(kind(lsbOutcome('status', 3)), 'not-running');
  for (const code of [1, 2, 4]) assert.equal(kind(lsbOutcome('status', code)), 'restart');
  assert.equal(kind(lsbOutcome('start', 5)), 'failover');
  assert.equal(kind(lsbOutcome('start', 6)), 'fatal');
  assert.equal(lsbOutcome('stop', 1).result, 'check-stopped');
});

test('OCF durations: units and bare seconds', () => {
  assert.equal(ocfDurationMs('20s'), 20_000);
  assert.equal(ocfDurationMs('20'), 20_000);
  assert.equal(ocfDurationMs('500ms'), 500);
  assert.equal(ocfDurationMs('2m'), 120_000);
  assert.equal(ocfDurationMs('1h'), 3_600_000);
  assert.equal(ocfDurationMs('soon'), null);
  assert.equal(ocfDurationMs(undefined), null);
});
