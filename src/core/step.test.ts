// The cycle's one output (core/step.ts): what a step holds for a node that is not coordinator
// and for one that is, as tables; the requests a durable write settles; and the invariants it
// asserts on call ids, terms and epochs.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { booksInput, noRequests, type PendingRequests } from './books.js';
import { applyUpdate, emptyConfig } from './config.js';
import { InvariantError } from './invariant.js';
import { emptyLocal, type LocalContext, type LocalState } from './local.js';
import type { NodeView, OwnershipRec, PlacementInput } from './placement.js';
import { coordinatorPartQuiet, planStep, settleRequests, type CoordinatorFacts } from './step.js';
import type { ClusterConfig, ConfigUpdate } from './types.js';

const TERM = 4;
const up: NodeView = { state: 'Up', draining: false };
const down: NodeView = { state: 'Down', draining: false };

function config(groups: string[] = ['G']): ClusterConfig {
  let c = emptyConfig('c');
  const updates: ConfigUpdate[] = [
    ...['n1', 'n2'].map((node) => ({ op: 'node-add' as const, node })),
    ...groups.flatMap((group): ConfigUpdate[] => [
      { op: 'group-create', group },
      { op: 'resource-create', resource: `${group}-r`, group, type: 'process', props: {}, desired: 'online' } as ConfigUpdate,
    ]),
  ];
  for (const u of updates) {
    const r = applyUpdate(c, u);
    assert.ok(r.ok, JSON.stringify(r));
    c = r.value;
  }
  return c;
}

const rec = (group: string, node: string | null, epoch: number, phase: 'run' | 'stop' = 'run', term = TERM): OwnershipRec => ({ group, node, epoch, term, phase });

function localContext(cfg: ClusterConfig, ownership: Record<string, OwnershipRec>, self = 'n1'): LocalContext {
  return { self, nowMs: 1_000, config: cfg, ownership, mayStart: () => true, shuttingDown: false };
}

function facts(cfg: ClusterConfig, ownership: Record<string, OwnershipRec>, over: Partial<CoordinatorFacts> = {}, pending: PendingRequests = noRequests()): CoordinatorFacts {
  const views = { n1: up, n2: up, ...(over.views ?? {}) };
  const placement: PlacementInput = {
    config: cfg, term: TERM, wallMs: 5_000_000, wallHour: 12, nodes: views, ownership, reports: {}, ...booksInput(ownership, pending),
  };
  return { placement, pending, unregistered: [], released: {}, views, ...over };
}

describe('step: a node that is not coordinator', () => {
  test('only the monitor part: its own group assigned to it is started, nothing is persisted or settled', () => {
    const cfg = config();
    const own = { G: rec('G', 'n1', 3) };
    const local = emptyLocal();
    const step = planStep({ local, localContext: localContext(cfg, own), coordinator: null });
    assert.deepEqual(step.persist, { register: [], floor: null, ownership: null });
    assert.equal(step.settle, null);
    assert.equal(step.checkpoint, false);
    const calls = step.monitor.filter((a) => a.kind === 'agent-call');
    assert.deepEqual(calls.map((a) => a.kind === 'agent-call' && [a.op, a.spec.name, a.epoch]), [['online', 'G-r', 3]]);
    assert.equal(local.groups.G?.epoch, 3, 'the local state holds the call in flight');
  });

  test('a record naming another node starts nothing here', () => {
    const cfg = config();
    const step = planStep({ local: emptyLocal(), localContext: localContext(cfg, { G: rec('G', 'n2', 3) }), coordinator: null });
    assert.deepEqual(step.monitor, []);
  });
});

describe('step: a coordinator', () => {
  const cases: { name: string; groups: string[]; own: Record<string, OwnershipRec>; over?: Partial<CoordinatorFacts>;
    write: { records: [string, string | null, number, string][]; deleted: string[] } | null; floor: { term: number; epoch: number } | null; notes: string[] }[] = [
    { name: 'a new group is placed at epoch 1 under the term', groups: ['G'], own: {},
      write: { records: [['G', 'n1', 1, 'run']], deleted: [] }, floor: { term: TERM, epoch: 1 }, notes: ['GROUP_PLACED'] },
    { name: 'a group whose owner is Down fails over at the next epoch', groups: ['G'], own: { G: rec('G', 'n2', 6) }, over: { views: { n1: up, n2: down } },
      write: { records: [['G', 'n1', 7, 'run']], deleted: [] }, floor: { term: TERM, epoch: 7 }, notes: ['GROUP_FAILOVER'] },
    { name: 'a group running where it should under the term: nothing to write', groups: ['G'], own: { G: rec('G', 'n1', 2) },
      write: null, floor: null, notes: [] },
    { name: 'a record of an older term is adopted under this one', groups: ['G'], own: { G: rec('G', 'n1', 2, 'run', TERM - 1) },
      write: { records: [['G', 'n1', 2, 'run']], deleted: [] }, floor: { term: TERM, epoch: 2 }, notes: [] },
    { name: 'a deleted group whose owner released it: its record goes', groups: [], own: { X: rec('X', 'n2', 2) }, over: { released: { n2: { X: true } } },
      write: { records: [], deleted: ['X'] }, floor: { term: TERM, epoch: 0 }, notes: [] },
    { name: 'a deleted group still running on its owner: its record stays', groups: [], own: { X: rec('X', 'n2', 2) }, over: { released: { n2: { X: false } } },
      write: null, floor: null, notes: [] },
    { name: 'a deleted group still running on an owner that is Down: its record goes', groups: [], own: { X: rec('X', 'n2', 2) },
      over: { released: { n2: { X: false } }, views: { n1: up, n2: down } }, write: { records: [], deleted: ['X'] }, floor: { term: TERM, epoch: 0 }, notes: [] },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const cfg = config(c.groups);
      const step = planStep({ local: emptyLocal(), localContext: localContext(cfg, c.own), coordinator: facts(cfg, c.own, c.over) });
      const w = step.persist.ownership;
      assert.deepEqual(w && { records: w.records.map((r) => [r.group, r.node, r.epoch, r.phase]), deleted: w.deleted }, c.write);
      if (w) assert.equal(w.term, TERM);
      assert.deepEqual(step.persist.floor, c.floor);
      assert.deepEqual(step.settle?.notes.map((n) => n.event), c.notes);
      assert.equal(step.checkpoint, true);
    });
  }

  test('the monitor part acts on the records read, not on this step\'s write: a group placed on this node starts in the follow-up step (3b), planned from the records read back', () => {
    const cfg = config();
    const local = emptyLocal();
    const step = planStep({ local, localContext: localContext(cfg, {}), coordinator: facts(cfg, {}) });
    const written = step.persist.ownership?.records[0];
    assert.equal(written?.node, 'n1');
    assert.deepEqual(step.monitor, []);
    const followUp = planStep({ local, localContext: localContext(cfg, { G: written! }), coordinator: null });
    assert.deepEqual(followUp.monitor.flatMap((a) => (a.kind === 'agent-call' ? [[a.op, a.spec.name, a.epoch]] : [])), [['online', 'G-r', written!.epoch]]);
    assert.equal(followUp.persist.ownership, null);
  });

  test('nodes with a lease and no configuration entry are registered, in name order', () => {
    const cfg = config();
    const step = planStep({ local: emptyLocal(), localContext: localContext(cfg, {}), coordinator: facts(cfg, {}, { unregistered: ['n9', 'n3'] }) });
    assert.deepEqual(step.persist.register, ['n3', 'n9']);
  });

  test('the requests carried are a copy of those planned from: one asked after planning is not among them', () => {
    const cfg = config();
    const pending: PendingRequests = { moves: { G: 'n2' }, cleared: [], reset: [] };
    const own = { G: rec('G', 'n1', 2) };
    const step = planStep({ local: emptyLocal(), localContext: localContext(cfg, own), coordinator: facts(cfg, own, {}, pending) });
    pending.moves.H = 'n1';
    assert.deepEqual(step.settle?.carried, { moves: { G: 'n2' }, cleared: [], reset: [] });
    assert.deepEqual(step.persist.ownership?.records.map((r) => [r.node, r.epoch, r.phase]), [['n1', 2, 'stop']], 'the move starts: the owner stops it');
  });

  test('call ids handed out out of order are an invariant broken, never a call sent', () => {
    const cfg = config();
    // A local state whose call counter never moves: the next call would reuse an id already in flight.
    const stuck = { groups: {}, get nextCallId() { return 1; }, set nextCallId(_v: number) { /* never moves */ } } as LocalState;
    assert.throws(() => planStep({ local: stuck, localContext: localContext(cfg, { G: rec('G', 'n1', 2) }), coordinator: null }),
      (e: unknown) => e instanceof InvariantError && e.invariant === 'call-id-fresh');
  });
});

describe('step: settling the requests a durable write carried', () => {
  const cases: [string, PendingRequests, PendingRequests, string[], PendingRequests][] = [
    ['a carried move of a settled group goes', { moves: { G: 'n2' }, cleared: [], reset: [] }, { moves: { G: 'n2' }, cleared: [], reset: [] }, ['G'], { moves: {}, cleared: [], reset: [] }],
    ['a move asked again to another target while the write ran stays', { moves: { G: 'n3' }, cleared: [], reset: [] }, { moves: { G: 'n2' }, cleared: [], reset: [] }, ['G'], { moves: { G: 'n3' }, cleared: [], reset: [] }],
    ['a move of a group the write did not settle stays', { moves: { G: 'n2' }, cleared: [], reset: [] }, { moves: { G: 'n2' }, cleared: [], reset: [] }, [], { moves: { G: 'n2' }, cleared: [], reset: [] }],
    ['a move asked after planning stays', { moves: { H: null }, cleared: [], reset: [] }, noRequests(), ['H'], { moves: { H: null }, cleared: [], reset: [] }],
    ['a carried failover-history reset of a settled group goes, one asked meanwhile stays', { moves: {}, cleared: [], reset: ['G', 'H'] }, { moves: {}, cleared: [], reset: ['G'] }, ['G', 'H'], { moves: {}, cleared: [], reset: ['H'] }],
    ['a carried Failed-state clearing of a settled group goes', { moves: {}, cleared: ['G', 'H'], reset: [] }, { moves: {}, cleared: ['G'], reset: [] }, ['G', 'H'], { moves: {}, cleared: ['H'], reset: [] }],
  ];
  for (const [name, pending, carried, settled, after] of cases) {
    test(name, () => assert.deepEqual(settleRequests(pending, carried, settled), after));
  }
});

describe('step: quiet parts (node/quiet.ts)', () => {
  test('coordinatorPartQuiet: a plan that writes, registers, settles and says nothing is quiet; each of those makes it not', () => {
    const cfg = config();
    const run = (own: Record<string, OwnershipRec>, over: Partial<CoordinatorFacts> = {}, pending = noRequests()) =>
      planStep({ local: emptyLocal(), localContext: localContext(cfg, own), coordinator: facts(cfg, own, over, pending) });
    assert.equal(coordinatorPartQuiet(run({ G: rec('G', 'n1', 2) })), true, 'a group running where it should');
    assert.equal(coordinatorPartQuiet(run({})), false, 'a new group placed: a write and a note');
    assert.equal(coordinatorPartQuiet(run({ G: rec('G', 'n1', 2) }, { unregistered: ['n3'] })), false, 'a node to register');
    assert.equal(coordinatorPartQuiet(run({ G: rec('G', 'n1', 2) }, {}, { moves: { G: 'n1' }, cleared: [], reset: [] })), false, 'a request carried');
  });

  test('a quiet coordinator part asks the checkpoint triggers only; a quiet local part runs no reconcile', () => {
    const cfg = config();
    const local = emptyLocal();
    const step = planStep({ local, localContext: localContext(cfg, { G: rec('G', 'n1', 3) }), coordinator: 'quiet', localQuiet: true });
    assert.deepEqual(step, { monitor: [], persist: { register: [], floor: null, ownership: null }, settle: null, checkpoint: true });
    assert.deepEqual(local, emptyLocal(), 'the group assigned to this node was not even looked at');
  });
});
