// The quiet-cycle rule's bookkeeping (node/quiet.ts): when a part of a cycle may be skipped. That the
// rule is right (a skipped part would have done nothing) is checked by core/local.test.ts's random
// sequences and by the simulator, whose nodes run with checkQuietCycles.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { noWake } from '../core/local.js';
import { QuietCycles, type LocalFacts, type PlanFacts } from './quiet.js';

const config = {};
const ownership = {};
const reports = {};
const local = (over: Partial<LocalFacts> = {}): LocalFacts => ({ version: 1, config, ownership, shuttingDown: false, ...over });
const plan = (over: Partial<PlanFacts> = {}): PlanFacts => ({ config, ownership, reports, term: 3, wallHour: 10, nodes: 'n1:Up', writesBlocked: '', ...over });

test('quiet local part: only the facts of a last run that did nothing, before its wake-up, with no start refused', () => {
  const q = new QuietCycles(false);
  assert.equal(q.localQuiet(local(), 0), false, 'nothing ran yet');
  q.localRan(local(), { atMs: 500, startRefused: false }, 0);
  assert.equal(q.localQuiet(local(), 499), true);
  assert.equal(q.localQuiet(local(), 500), false, 'the wake-up time has come');
  assert.equal(q.localQuiet(local({ version: 2 }), 0), false, 'the local state changed');
  assert.equal(q.localQuiet(local({ config: {} }), 0), false, 'a new configuration (compared by identity)');
  assert.equal(q.localQuiet(local({ ownership: {} }), 0), false, 'ownership read again');
  assert.equal(q.localQuiet(local({ shuttingDown: true }), 0), false, 'shutdown began');
  q.localRan(local(), { atMs: Infinity, startRefused: true }, 0);
  assert.equal(q.localQuiet(local(), 0), false, 'a start waited for the lease');
  q.localRan(local(), noWake(), 2);
  assert.equal(q.localQuiet(local(), 0), false, 'the last run did something');
  q.localRan(local(), noWake(), 0);
  assert.equal(q.localQuiet(local(), 1e12), true, 'nothing to wait for');
});

test('quiet plan: only the facts of a last plan that did nothing; none while a request waits', () => {
  const q = new QuietCycles(false);
  assert.equal(q.planQuiet(plan()), false, 'nothing planned yet');
  q.planRan(plan(), true);
  assert.equal(q.planQuiet(plan()), true);
  for (const [what, over] of Object.entries({
    config: { config: {} }, ownership: { ownership: {} }, reports: { reports: {} }, term: { term: 4 }, hour: { wallHour: 11 },
    nodes: { nodes: 'n1:Down' }, blocked: { writesBlocked: 'QUORUM_DISK_FULL' },
  } as Record<string, Partial<PlanFacts>>)) {
    assert.equal(q.planQuiet(plan(over)), false, what);
  }
  assert.equal(q.planQuiet(null), false, 'a request waits (planFacts gives null)');
  q.planRan(plan(), false);
  assert.equal(q.planQuiet(plan()), false, 'the last plan did something');
});
