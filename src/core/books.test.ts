// The coordinator's books (core/books.ts): what the placement input reads from the stored records
// and the pending requests, and what each plan writes back, as tables; and the property that a
// coordinator planning from the books another one wrote reaches the same decision as one that
// kept them all along.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { bookPlan, booksInput, failoversWithin, noRequests, type GroupBooks, type PendingRequests } from './books.js';
import { applyUpdate, emptyConfig } from './config.js';
import { planPlacement, type GroupReportView, type NodeView, type OwnershipRec, type PlacementInput } from './placement.js';
import type { ClusterConfig, ConfigUpdate } from './types.js';

const TERM = 7;
const NOW = 50_000_000;
const HOUR = 3_600_000;

function config(threshold: number | null = 2, periodMs = 6 * HOUR): ClusterConfig {
  let c = emptyConfig('c');
  const updates: ConfigUpdate[] = [
    ...['n1', 'n2', 'n3'].map((node) => ({ op: 'node-add' as const, node })),
    { op: 'group-create', group: 'G', failoverThreshold: threshold, failoverPeriodMs: periodMs },
  ];
  for (const u of updates) {
    const r = applyUpdate(c, u);
    assert.ok(r.ok);
    c = r.value;
  }
  return c;
}

const up: NodeView = { state: 'Up', draining: false };
const rec = (node: string | null, epoch: number, phase: 'run' | 'stop' = 'run', books?: GroupBooks): OwnershipRec =>
  ({ group: 'G', node, epoch, term: TERM, phase, ...(books ? { books } : {}) });
const report = (node: string, view: GroupReportView): PlacementInput['reports'] => ({ [node]: { G: view } });
const failedOn = (node: string, epoch: number) => report(node, { epoch, released: true, failoverRequested: true });

/** The placement input a coordinator builds: the stored records' books under its pending requests. */
function input(ownership: Record<string, OwnershipRec>, over: Partial<PlacementInput> = {}, pending: PendingRequests = noRequests()): PlacementInput {
  const cfg = over.config ?? config();
  return {
    config: cfg, term: TERM, wallMs: NOW, wallHour: 12, nodes: { n1: up, n2: up, n3: up }, ownership, reports: {},
    ...booksInput(ownership, pending), ...over,
  };
}

function step(ownership: Record<string, OwnershipRec>, over: Partial<PlacementInput> = {}, pending: PendingRequests = noRequests()) {
  const i = input(ownership, over, pending);
  return bookPlan(i, planPlacement(i), pending);
}

describe('books: the failover window', () => {
  const cases: [string, number[], number][] = [
    ['none', [], 0],
    ['inside the period', [NOW - HOUR, NOW - 1], 2],
    ['one at the edge is out', [NOW - 6 * HOUR, NOW - 1], 1],
    ['a time after now (the clock went back) counts', [NOW + HOUR], 1],
  ];
  for (const [name, times, n] of cases) {
    test(name, () => assert.equal(failoversWithin(times, NOW, 6 * HOUR).length, n));
  }
});

describe('books: what the placement input reads', () => {
  test('stored books become the input; pending moves override; a cleared group is not Failed', () => {
    const own = { G: rec('n1', 4, 'run', { failoversWallMs: [NOW - 5], countedEpoch: 3, failedEpoch: 4, moveTo: 'n2' }) };
    assert.deepEqual(booksInput(own, noRequests()), {
      moveRequests: { G: 'n2' }, failoverHistoryMs: { G: [NOW - 5] }, failoverHandledEpoch: { G: 3 }, failedGroups: { G: 4 },
    });
    assert.deepEqual(booksInput(own, { moves: { G: null }, cleared: ['G'] }), {
      moveRequests: { G: null }, failoverHistoryMs: { G: [NOW - 5] }, failoverHandledEpoch: { G: 3 }, failedGroups: {},
    });
    assert.deepEqual(booksInput({ G: rec('n1', 4) }, noRequests()), { moveRequests: {}, failoverHistoryMs: {}, failoverHandledEpoch: {}, failedGroups: {} });
  });
});

describe('books: what a plan writes', () => {
  const rows: { name: string; own: OwnershipRec; over?: Partial<PlacementInput>; pending?: PendingRequests; records: OwnershipRec[]; settled: string[] }[] = [
    {
      name: 'a failover counted rides on the record that moves the group',
      own: rec('n1', 2), over: { reports: failedOn('n1', 2) },
      records: [rec('n2', 3, 'run', { failoversWallMs: [NOW], countedEpoch: 2 })], settled: ['G'],
    },
    {
      name: 'the count goes on from the stored books; times past the period are dropped',
      own: rec('n2', 3, 'run', { failoversWallMs: [NOW - 7 * HOUR, NOW - HOUR], countedEpoch: 2 }), over: { reports: failedOn('n2', 3) },
      records: [rec('n1', 4, 'run', { failoversWallMs: [NOW - HOUR, NOW], countedEpoch: 3 })], settled: ['G'],
    },
    {
      name: 'threshold reached: the record is rewritten as it is, with the group left Failed',
      own: rec('n1', 4, 'run', { failoversWallMs: [NOW - 2, NOW - 1], countedEpoch: 3 }), over: { reports: failedOn('n1', 4) },
      records: [rec('n1', 4, 'run', { failoversWallMs: [NOW - 2, NOW - 1, NOW], countedEpoch: 4, failedEpoch: 4 })], settled: ['G'],
    },
    {
      name: 'left Failed: nothing to write',
      own: rec('n1', 4, 'run', { failoversWallMs: [NOW - 2], countedEpoch: 4, failedEpoch: 4 }), over: { reports: failedOn('n1', 4) },
      records: [], settled: ['G'],
    },
    {
      name: 'an operator online clears Failed: the group moves on, the count stays',
      own: rec('n1', 4, 'run', { failoversWallMs: [NOW - 2], countedEpoch: 4, failedEpoch: 4 }), over: { reports: failedOn('n1', 4) },
      pending: { moves: {}, cleared: ['G'] },
      records: [rec('n2', 5, 'run', { failoversWallMs: [NOW - 2], countedEpoch: 4 })], settled: ['G'],
    },
    {
      name: 'a cleanup (reset) of a Failed group: placed again with its failover history forgotten',
      own: rec('n1', 4, 'run', { failoversWallMs: [NOW - 2], countedEpoch: 4, failedEpoch: 4 }), over: { reports: failedOn('n1', 4) },
      pending: { moves: {}, cleared: ['G'], reset: ['G'] },
      records: [rec('n2', 5, 'run', { countedEpoch: 4 })], settled: ['G'],
    },
    {
      name: 'a cleanup (reset) of a group that runs: its record is rewritten without the history',
      own: rec('n1', 2, 'run', { failoversWallMs: [NOW - 2], countedEpoch: 1 }),
      pending: { moves: {}, cleared: ['G'], reset: ['G'] },
      records: [rec('n1', 2, 'run', { countedEpoch: 1 })], settled: ['G'],
    },
    {
      name: 'a move asked: the stop carries its target',
      own: rec('n1', 2), pending: { moves: { G: 'n3' }, cleared: [] },
      records: [rec('n1', 2, 'stop', { moveTo: 'n3' })], settled: ['G'],
    },
    {
      name: 'a stored move goes on once the owner released the group, and is done',
      own: rec('n1', 2, 'stop', { moveTo: 'n3' }), over: { reports: report('n1', { epoch: 2, released: true }) },
      records: [rec('n3', 3)], settled: ['G'],
    },
    {
      name: 'a move asked while the group is already stopping: the record is rewritten with its target',
      own: rec('n1', 2, 'stop'), pending: { moves: { G: 'n3' }, cleared: [] },
      records: [rec('n1', 2, 'stop', { moveTo: 'n3' })], settled: ['G'],
    },
    {
      name: 'a record adopted under a new term keeps its books',
      own: { ...rec('n1', 2, 'run', { failoversWallMs: [NOW - 1], countedEpoch: 1 }), term: TERM - 1 },
      records: [rec('n1', 2, 'run', { failoversWallMs: [NOW - 1], countedEpoch: 1 })], settled: ['G'],
    },
  ];
  for (const r of rows) {
    test(r.name, () => {
      const w = step({ G: r.own }, r.over, r.pending);
      assert.deepEqual(w.records, r.records);
      assert.deepEqual(w.settled, r.settled);
    });
  }

  test('a move for a group with no record stays pending (nothing carries it)', () => {
    const cfg = config();
    const nobody: PlacementInput['nodes'] = { n1: { state: 'Down', draining: false }, n2: { state: 'Down', draining: false }, n3: { state: 'Down', draining: false } };
    const w = step({}, { config: cfg, nodes: nobody }, { moves: { G: 'n2' }, cleared: [] });
    assert.deepEqual(w, { records: [], settled: [] });
  });
});

test('a coordinator that takes over from the stored books decides as the one that wrote them would have', () => {
  // One coordinator plays threshold + 1 failures; at each step a "new" coordinator plans from the
  // stored records alone. Both leave the group Failed at the third failure (threshold 2).
  let own: Record<string, OwnershipRec> = { G: rec('n1', 1) };
  const outcomes: string[] = [];
  for (let i = 0; i < 3; i++) {
    const owner = own.G!.node!;
    const w = step(own, { reports: failedOn(owner, own.G!.epoch) });
    const next = w.records.find((r) => r.group === 'G');
    assert.ok(next, `step ${i} writes the group's record`);
    outcomes.push(next.node === owner ? `Failed on ${owner}` : `moved to ${next.node}`);
    own = { G: next };
  }
  assert.deepEqual(outcomes, ['moved to n2', 'moved to n1', 'Failed on n1']);
  assert.equal(own.G!.books?.failedEpoch, own.G!.epoch);
});

test('an invariant broken in a plan throws a named InvariantError (an epoch going back)', () => {
  const i = input({ G: rec('n1', 5) });
  assert.throws(() => bookPlan(i, { records: [rec('n2', 4)], notes: [], movesDone: [], failoversCounted: [], newlyFailed: [] }, noRequests()),
    { name: 'InvariantError', invariant: 'epoch-forward' });
});
