import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { forkHistory, genesisHistory, leasesMoved, nodesRunningError, planLoad, relate, type History, type LoadFacts, type LoadPlan } from './load-plan.js';

const H1: History = genesisHistory;
const H2 = forkHistory(H1, 'h2', 39);
const where = { store: 'dir:/q', copy: '/d/db' };
const store = (o: Partial<Extract<LoadFacts['store'], { readable: true }>> = {}): LoadFacts['store'] =>
  ({ readable: true, history: H1, checkpointSeq: 30, head: 45, intactThrough: 45, damage: null, ...o });
const noFloors: LoadFacts['floors'] = { copy: { term: 0, epoch: 0 }, recordTerm: 0, slots: [], unreadable: [] };
const facts = (copy: LoadFacts['copy'], s: LoadFacts['store'], sw: Partial<LoadFacts['switches']> = {}, floors = noFloors): LoadFacts =>
  ({ switches: { resetQuorumLog: false, noQuorumLogging: false, ...sw }, copy, store: s, floors, where });
const summary = (p: LoadPlan) => p.kind === 'refuse' ? `refuse ${p.error.code}`
  : p.kind === 'load' ? `load from ${p.from}` : p.kind === 'repair' ? 'repair'
    : `${p.kind} from ${p.from} through ${p.throughSeq} at ${p.newSeq}${p.kind === 'reset' && p.rebuild ? ' rebuild' : ''}`;

const damaged40 = store({ intactThrough: 39, damage: 'seq 40 corrupt' });
const table: [string, LoadFacts, string][] = [
  ['healthy store, no copy', facts(null, store()), 'load from store'],
  ['copy newer than the store checkpoint', facts({ seq: 40, history: H1 }, store()), 'load from copy'],
  ['copy older than the store checkpoint', facts({ seq: 20, history: H1 }, store()), 'load from store'],
  ['store behind the copy', facts({ seq: 50, history: H1 }, store()), 'refuse STORE_BEHIND'],
  ['store behind the copy, reset', facts({ seq: 50, history: H1 }, store(), { resetQuorumLog: true }), 'reset from copy through 50 at 51'],
  ['damage, copy current: repair', facts({ seq: 45, history: H1 }, damaged40), 'repair'],
  ['damage, copy behind: refuse', facts({ seq: 34, history: H1 }, damaged40), 'refuse QUORUM_LOG_DAMAGED'],
  // The case: records 35-39 intact in the store, the copy at 34 (before its damaged record 40).
  ['damage, no-logging keeps the store\'s intact records past the copy', facts({ seq: 34, history: H1 }, damaged40, { noQuorumLogging: true }), 'no-logging from copy through 39 at 46'],
  ['damage, reset keeps the intact records', facts({ seq: 34, history: H1 }, damaged40, { resetQuorumLog: true }), 'reset from copy through 39 at 46'],
  ['damage, copy of 39 (damage cut from it)', facts({ seq: 39, history: H1 }, damaged40, { noQuorumLogging: true }), 'no-logging from copy through 39 at 46'],
  ['damage before the checkpoint? checkpoint damaged, copy current', facts({ seq: 45, history: H1 }, store({ checkpointSeq: null, intactThrough: -1, damage: 'checkpoint' })), 'repair'],
  ['checkpoint damaged, no copy', facts(null, store({ checkpointSeq: null, intactThrough: -1, damage: 'checkpoint' })), 'refuse QUORUM_LOG_DAMAGED'],
  ['checkpoint damaged, copy behind, no-logging', facts({ seq: 20, history: H1 }, store({ checkpointSeq: null, intactThrough: -1, damage: 'checkpoint' }), { noQuorumLogging: true }), 'no-logging from copy through 20 at 46'],
  ['old-history copy within the fork: prefix, load the store', facts({ seq: 39, history: H1 }, store({ history: H2, checkpointSeq: 46, head: 48, intactThrough: 48 })), 'load from store'],
  ['old-history copy past the fork: diverged, the store is newer', facts({ seq: 42, history: H1 }, store({ history: H2, checkpointSeq: 46, head: 48, intactThrough: 48 })), 'refuse HISTORY_DIVERGED'],
  ['new-history copy, store of the old history past the fork', facts({ seq: 48, history: H2 }, store()), 'refuse HISTORY_DIVERGED'],
  ['new-history copy, store of the old history within the fork: store behind', facts({ seq: 48, history: H2 }, store({ head: 39, intactThrough: 39 })), 'refuse STORE_BEHIND'],
  ['unrelated histories', facts({ seq: 10, history: { id: 'x', parents: [] } }, store()), 'refuse HISTORY_DIVERGED'],
  ['database unreadable', facts({ seq: 45, history: H1 }, { readable: false, reason: 'SQLITE_CORRUPT' }), 'refuse QUORUM_DB_DAMAGED'],
  ['database unreadable, no-logging', facts({ seq: 45, history: H1 }, { readable: false, reason: 'SQLITE_CORRUPT' }, { noQuorumLogging: true }), 'refuse QUORUM_DB_DAMAGED'],
  ['database unreadable, reset without a copy', facts(null, { readable: false, reason: 'SQLITE_CORRUPT' }, { resetQuorumLog: true }), 'refuse QUORUM_DB_DAMAGED'],
  ['database unreadable, reset', facts({ seq: 45, history: H1 }, { readable: false, reason: 'SQLITE_CORRUPT' }, { resetQuorumLog: true }), 'reset from copy through 45 at 46 rebuild'],
];
for (const [name, f, want] of table) {
  test(`planLoad: ${name} -> ${want}`, () => assert.equal(summary(planLoad(f)), want));
}

test('relate: forks recognise prefixes and divergence on both sides', () => {
  assert.equal(relate({ seq: 39, history: H1 }, { history: H2, head: 50 }), 'copy-prefix');
  assert.equal(relate({ seq: 40, history: H1 }, { history: H2, head: 50 }), 'copy-diverged');
  assert.equal(relate({ seq: 50, history: H2 }, { history: H1, head: 39 }), 'store-prefix');
  assert.equal(relate({ seq: 50, history: H2 }, { history: H1, head: 40 }), 'store-diverged');
});

test('property: a recovery never goes below the last intact record, and its new seq is past everything known', () => {
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 0, max: 50 }), fc.option(fc.integer({ min: 0, max: 200 })), fc.boolean(),
    (cp, intact, extra, copySeq, reset) => {
      const head = cp + intact + extra + 1;
      const s = store({ checkpointSeq: cp, intactThrough: cp + intact, head, damage: "x" });
      const p = planLoad(facts(copySeq === null ? null : { seq: copySeq, history: H1 }, s, reset ? { resetQuorumLog: true } : { noQuorumLogging: true }));
      if (p.kind !== 'reset' && p.kind !== 'no-logging') return;
      assert.ok(p.throughSeq >= cp + intact, 'every intact record of the store is kept');
      if (copySeq !== null) assert.ok(p.throughSeq >= copySeq, 'every record of the copy is kept');
      assert.ok(p.newSeq > Math.max(head, copySeq ?? 0), 'no seq is reused');
    }));
});

test('leasesMoved: an other node whose slot appears or changes incarnation or counter between the two reads runs; this node and still slots do not count', () => {
  const l = (node: string, counter: number, incarnation = 'a') => ({ node, incarnation, counter });
  const rows: { before: ReturnType<typeof l>[]; after: ReturnType<typeof l>[]; running: string[] }[] = [
    { before: [], after: [], running: [] },
    { before: [l('n1', 5), l('n2', 7)], after: [l('n1', 9), l('n2', 7)], running: [] },
    { before: [l('n1', 5), l('n2', 7)], after: [l('n1', 5), l('n2', 8)], running: ['n2'] },
    { before: [l('n2', 7)], after: [l('n2', 7, 'b')], running: ['n2'] },
    { before: [], after: [l('n3', 0), l('n2', 1)], running: ['n2', 'n3'] },
    { before: [l('n2', 7)], after: [], running: [] },
  ];
  for (const r of rows) assert.deepEqual(leasesMoved(r.before, r.after, 'n1'), r.running, JSON.stringify(r));
  const e = nodesRunningError(['n2', 'n3'], 'dir:/q', 1400);
  assert.equal(e.code, 'QUORUM_NODES_RUNNING');
  assert.match(e.hint ?? '', /stop clusterd on n2, n3 first/);
});
