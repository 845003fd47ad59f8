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

/** The recovery floor: the highest of this node's copy, the terms of the records it holds, and every readable lease slot. */
const slot = (where: string, term: number, epoch: number) => ({ where, floor: { term, epoch } });
const floorsOf = (o: Partial<LoadFacts['floors']>): LoadFacts['floors'] => ({ ...noFloors, ...o });
const unreadableDb: LoadFacts['store'] = { readable: false, reason: 'SQLITE_CORRUPT' };
const copy45 = { seq: 45, history: H1 };
const floorTable: [string, LoadFacts, string][] = [
  // The bug's case: the node rebuilding was cut off while n2 won term 9 and n3 moved a group to epoch 12.
  ['rebuild: slots above the copy raise the floor', facts(copy45, unreadableDb, { resetQuorumLog: true }, floorsOf({ copy: { term: 4, epoch: 6 }, recordTerm: 3, slots: [slot('n1', 4, 6), slot('n2', 9, 2), slot('n3', 5, 12)] })), 'reset floor 9/12'],
  ['rebuild: the copy above every slot keeps its floor', facts(copy45, unreadableDb, { resetQuorumLog: true }, floorsOf({ copy: { term: 8, epoch: 20 }, recordTerm: 3, slots: [slot('n2', 7, 2)] })), 'reset floor 8/20'],
  ['rebuild: the records\' term counts', facts(copy45, unreadableDb, { resetQuorumLog: true }, floorsOf({ copy: { term: 1, epoch: 1 }, recordTerm: 15, slots: [slot('n2', 7, 2)] })), 'reset floor 15/2'],
  ['rebuild: no slot recorded a floor (a cluster made before slots held one): the copy\'s', facts(copy45, unreadableDb, { resetQuorumLog: true }, floorsOf({ copy: { term: 4, epoch: 6 } })), 'reset floor 4/6'],
  ['rebuild with an unreadable slot: refused', facts(copy45, unreadableDb, { resetQuorumLog: true }, floorsOf({ slots: [slot('n2', 9, 2)], unreadable: ['slot 3'] })), 'refuse QUORUM_FLOOR_UNREADABLE'],
  ['rebuild with an unreadable slot, accepted: the readable floors', facts(copy45, unreadableDb, { resetQuorumLog: true, acceptUnreadableFloors: true }, floorsOf({ copy: { term: 4, epoch: 6 }, slots: [slot('n2', 9, 2)], unreadable: ['slot 3'] })), 'reset floor 9/6'],
  ['reset of a readable store with an unreadable slot: refused', facts({ seq: 34, history: H1 }, damaged40, { resetQuorumLog: true }, floorsOf({ unreadable: ['slot 3'] })), 'refuse QUORUM_FLOOR_UNREADABLE'],
  ['no-logging with an unreadable slot: refused', facts({ seq: 34, history: H1 }, damaged40, { noQuorumLogging: true }, floorsOf({ unreadable: ['slot 3'] })), 'refuse QUORUM_FLOOR_UNREADABLE'],
  ['no-logging: slots raise the floor', facts({ seq: 34, history: H1 }, damaged40, { noQuorumLogging: true }, floorsOf({ copy: { term: 2, epoch: 2 }, slots: [slot('n2', 6, 7)] })), 'no-logging floor 6/7'],
  // A repair needs no switch and keeps the readable store's own terms and records: it goes on above the readable floors.
  ['repair with an unreadable slot: goes on', facts(copy45, damaged40, {}, floorsOf({ copy: { term: 2, epoch: 2 }, slots: [slot('n2', 6, 1)], unreadable: ['slot 3'] })), 'repair floor 6/2'],
  ['a normal load ignores the floors', facts(null, store(), {}, floorsOf({ unreadable: ['slot 3'] })), 'load'],
];
for (const [name, f, want] of floorTable) {
  test(`planLoad floor: ${name} -> ${want}`, () => {
    const p = planLoad(f);
    const got = p.kind === 'refuse' ? `refuse ${p.error.code}` : p.kind === 'load' ? 'load' : `${p.kind} floor ${p.floor.term}/${p.floor.epoch}`;
    assert.equal(got, want);
  });
}

test('planLoad floor: the refusal names the unreadable slot, the floor so far and the switch that accepts it; an accepted plan says what it did not count', () => {
  const f = facts(copy45, unreadableDb, { resetQuorumLog: true }, floorsOf({ copy: { term: 4, epoch: 6 }, slots: [slot("slot 1 (node 'n2')", 9, 2)], unreadable: ['slot 3: its floor fails its checksum'] }));
  const p = planLoad(f);
  assert.ok(p.kind === 'refuse');
  assert.match(p.error.message, /slot 3: its floor fails its checksum/);
  assert.match(p.error.message, /terms from 9, epochs from 6/);
  assert.match(p.error.hint ?? '', /--reset-quorum-log --accept-unreadable-floors/);
  const accepted = planLoad({ ...f, switches: { ...f.switches, acceptUnreadableFloors: true } });
  assert.ok(accepted.kind === 'reset');
  assert.match(accepted.note, /raised above this node's copy by the lease slots of slot 1 \(node 'n2'\)/);
  assert.match(accepted.note, /slot 3: its floor fails its checksum could not be read and are not counted/);
});

test('property: a recovery\'s floor is at least every readable floor it was given', () => {
  const fl = fc.record({ term: fc.nat(1000), epoch: fc.nat(1000) });
  fc.assert(fc.property(fl, fc.nat(1000), fc.array(fl, { maxLength: 6 }), fc.boolean(), (copyFloor, recordTerm, slotFloors, reset) => {
    const f = facts(reset ? copy45 : { seq: 34, history: H1 }, reset ? unreadableDb : damaged40, reset ? { resetQuorumLog: true } : { noQuorumLogging: true },
      floorsOf({ copy: copyFloor, recordTerm, slots: slotFloors.map((x, i) => slot(`n${i}`, x.term, x.epoch)) }));
    const p = planLoad(f);
    assert.ok(p.kind === 'reset' || p.kind === 'no-logging', p.kind);
    for (const x of [copyFloor, ...slotFloors]) assert.ok(p.floor.term >= x.term && p.floor.epoch >= x.epoch);
    assert.ok(p.floor.term >= recordTerm);
  }));
});
