// Unit tests of the coordinator's scheduler: placement, failover, operator moves, draining,
// failover threshold, failback, term adoption, explanations, and a property test of the
// ownership protocol (safety rules 1 and 2).

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { applyUpdate, emptyConfig } from './config.js';
import {
  candidates, chooseNode, explain, hourInWindow, moveReason, planPlacement,
  type Candidate, type GroupReportView, type NodeView, type OwnershipRec, type PlacementInput, type PlacementPlan,
} from './placement.js';
import type { ClusterConfig, ConfigUpdate, FailbackPolicy, GroupConfig, NodeState } from './types.js';

// ---- helpers ------------------------------------------------------------------------------

const TERM = 7;
const NOW = 10_000_000;

function fold(updates: ConfigUpdate[], from: ClusterConfig = emptyConfig('c')): ClusterConfig {
  let c = from;
  for (const u of updates) {
    const r = applyUpdate(c, u);
    if (!r.ok) assert.fail(`${u.op}: ${r.error.code} ${r.error.message}`);
    c = r.value;
  }
  return c;
}

/** Nodes n1..n3 and one group G with the given settings. */
function config(g: Omit<Extract<ConfigUpdate, { op: 'group-create' }>, 'op' | 'group'> = {}, nodes = ['n1', 'n2', 'n3']): ClusterConfig {
  return fold([...nodes.map((node) => ({ op: 'node-add' as const, node })), { op: 'group-create', group: 'G', ...g }]);
}

const up: NodeView = { state: 'Up', draining: false };
const down: NodeView = { state: 'Down', draining: false };

function input(over: Partial<PlacementInput> = {}): PlacementInput {
  const cfg = over.config ?? config();
  const nodes: Record<string, NodeView> = {};
  for (const n of Object.keys(cfg.nodes)) nodes[n] = up;
  return {
    config: cfg, term: TERM, wallMs: NOW, wallHour: 12, nodes, ownership: {}, reports: {}, moveRequests: {},
    failoverHistoryMs: {}, failoverHandledEpoch: {}, failedGroups: {}, ...over,
  };
}

const rec = (node: string | null, epoch: number, phase: 'run' | 'stop' = 'run', term = TERM, group = 'G'): OwnershipRec =>
  ({ group, node, epoch, term, phase });

const report = (node: string, view: GroupReportView, group = 'G'): PlacementInput['reports'] => ({ [node]: { [group]: view } });

// ---- placement of new groups ----------------------------------------------------------------

describe('placement: new groups', () => {
  test('a new group is placed on the first eligible preferred owner, epoch 1, current term', () => {
    const cfg = config({ preferredOwners: ['n3', 'n2'] });
    const plan = planPlacement(input({ config: cfg }));
    assert.deepEqual(plan.records, [rec('n3', 1)]);
    assert.equal(plan.notes[0]!.event, 'GROUP_PLACED');
    // First preferred owner not eligible (Paused, Down, Joining, draining): the next one.
    for (const v of [{ state: 'Paused', draining: false }, down, { state: 'Joining', draining: false }, { state: 'Paused', draining: true }] as NodeView[]) {
      const p = planPlacement(input({ config: cfg, nodes: { n1: up, n2: up, n3: v } }));
      assert.deepEqual(p.records, [rec('n2', 1)], JSON.stringify(v));
    }
  });

  test('no eligible node: nothing is written', () => {
    const plan = planPlacement(input({ nodes: { n1: down, n2: { state: 'Paused', draining: false }, n3: { state: 'Joining', draining: false } } }));
    assert.deepEqual(plan.records, []);
  });

  test('without preferred owners: the least loaded node (name order among equals)', () => {
    const cfg = fold([{ op: 'group-create', group: 'A' }, { op: 'group-create', group: 'B' }, { op: 'group-create', group: 'C' }], config());
    const ownership = { A: rec('n1', 1, 'run', TERM, 'A'), B: rec('n1', 1, 'run', TERM, 'B'), C: rec('n2', 1, 'run', TERM, 'C') };
    assert.deepEqual(planPlacement(input({ config: cfg, ownership })).records, [rec('n3', 1)]);
    const ownership2 = { A: rec('n3', 1, 'run', TERM, 'A'), B: rec('n1', 1, 'run', TERM, 'B') };
    assert.equal(chooseNode(input({ config: cfg, ownership: ownership2 }), 'G'), 'n2');
    // Preference beats load.
    const pref = fold([{ op: 'group-set', group: 'G', preferredOwners: ['n1'] }], cfg);
    assert.equal(chooseNode(input({ config: pref, ownership }), 'G'), 'n1');
  });

  test('several new groups planned at once are spread over the nodes', () => {
    const cfg = fold([{ op: 'group-create', group: 'A' }, { op: 'group-create', group: 'B' }], config());
    const plan = planPlacement(input({ config: cfg }));
    assert.deepEqual(plan.records.map((r) => r.node).sort(), ['n1', 'n2', 'n3']);
  });

  test('possible owners are respected', () => {
    const cfg = config({ possibleOwners: ['n3'], preferredOwners: ['n1', 'n3'] });
    assert.deepEqual(planPlacement(input({ config: cfg })).records, [rec('n3', 1)]);
    const cands = candidates(input({ config: cfg }), 'G');
    assert.deepEqual(cands.map((c) => [c.node, c.eligible, c.reason]), [
      ['n3', true, 'eligible'], ['n1', false, 'not a possible owner'], ['n2', false, 'not a possible owner']]);
    // The only possible owner is Down: nowhere.
    assert.deepEqual(planPlacement(input({ config: cfg, nodes: { n1: up, n2: up, n3: down } })).records, []);
  });
});

// ---- failover -----------------------------------------------------------------------------

describe('placement: owner Down', () => {
  test('owner Down: (other, run, epoch+1) at once, without any report', () => {
    const cfg = config({ preferredOwners: ['n1', 'n2', 'n3'] });
    const plan = planPlacement(input({ config: cfg, nodes: { n1: down, n2: up, n3: up }, ownership: { G: rec('n1', 4) } }));
    assert.deepEqual(plan.records, [rec('n2', 5)]);
    assert.equal(plan.notes[0]!.event, 'GROUP_FAILOVER');
    // Also from phase stop, and when the owner is not known at all any more.
    assert.deepEqual(planPlacement(input({ config: cfg, nodes: { n1: down, n2: up, n3: up }, ownership: { G: rec('n1', 4, 'stop') } })).records, [rec('n2', 5)]);
    assert.deepEqual(planPlacement(input({ config: cfg, nodes: { n2: up, n3: up }, ownership: { G: rec('n1', 4) } })).records, [rec('n2', 5)]);
  });

  test('owner Down and no candidate: (null, run, epoch+1); placed again with epoch+2 once a node is eligible', () => {
    const cfg = config({ possibleOwners: ['n1', 'n2'] });
    const plan = planPlacement(input({ config: cfg, nodes: { n1: down, n2: down, n3: up }, ownership: { G: rec('n1', 4) } }));
    assert.deepEqual(plan.records, [rec(null, 5)]);
    assert.equal(plan.notes[0]!.event, 'GROUP_NO_NODE');
    // Parked and still nowhere to go: nothing more is written.
    assert.deepEqual(planPlacement(input({ config: cfg, nodes: { n1: down, n2: down, n3: up }, ownership: { G: rec(null, 5) } })).records, []);
    // n1 comes back: it gets a fresh epoch, never the dead one.
    assert.deepEqual(planPlacement(input({ config: cfg, nodes: { n1: up, n2: down, n3: up }, ownership: { G: rec(null, 5) } })).records, [rec('n1', 6)]);
  });

  test('owner alive but Paused or Joining: the group stays', () => {
    for (const state of ['Paused', 'Joining'] as NodeState[]) {
      const plan = planPlacement(input({ nodes: { n1: { state, draining: false }, n2: up, n3: up }, ownership: { G: rec('n1', 3) } }));
      assert.deepEqual(plan.records, [], state);
    }
  });
});

describe('placement: operator move', () => {
  const cfg = config({ preferredOwners: ['n1', 'n2'] });

  test('move: (owner, stop, e) first, then (target, run, e+1) only once the owner released e', () => {
    const base = { config: cfg, moveRequests: { G: 'n3' } };
    const p1 = planPlacement(input({ ...base, ownership: { G: rec('n1', 3) } }));
    assert.deepEqual(p1.records, [rec('n1', 3, 'stop')]);
    assert.deepEqual(p1.movesDone, [], 'the move is not done yet');
    assert.equal(p1.notes[0]!.event, 'GROUP_MOVING');
    const stopping = { ...base, ownership: { G: rec('n1', 3, 'stop') } };
    // Not yet: no report, a report for an older epoch, a report not released, another node's report.
    const notYet: PlacementInput['reports'][] = [
      {},
      report('n1', { epoch: 2, released: true }),
      report('n1', { epoch: 3, released: false }),
      report('n3', { epoch: 3, released: true }),
      report('n1', { epoch: 2, released: true, failoverRequested: true }),
    ];
    for (const reports of notYet) {
      const p = planPlacement(input({ ...stopping, reports }));
      assert.deepEqual(p.records, [], JSON.stringify(reports));
      assert.deepEqual(p.movesDone, []);
    }
    const done = planPlacement(input({ ...stopping, reports: report('n1', { epoch: 3, released: true }) }));
    assert.deepEqual(done.records, [rec('n3', 4)]);
    assert.deepEqual(done.movesDone, ['G']);
    assert.equal(done.notes[0]!.event, 'GROUP_MOVED');
  });

  test('move to the node that owns it already changes nothing', () => {
    const p = planPlacement(input({ config: cfg, moveRequests: { G: 'n1' }, ownership: { G: rec('n1', 3) } }));
    assert.deepEqual(p.records, []);
  });

  test('move target no longer eligible when the owner released: the best other node', () => {
    const p = planPlacement(input({ config: cfg, moveRequests: { G: 'n3' }, nodes: { n1: up, n2: up, n3: down },
      ownership: { G: rec('n1', 3, 'stop') }, reports: report('n1', { epoch: 3, released: true }) }));
    assert.equal(p.records.length, 1);
    assert.equal(p.records[0]!.epoch, 4);
    assert.notEqual(p.records[0]!.node, 'n3');
    assert.deepEqual(p.movesDone, ['G']);
  });

  test('move to "best other node" (null, as drain() asks) never gives the group back to its owner', () => {
    const base = { config: cfg, moveRequests: { G: null } };
    const p1 = planPlacement(input({ ...base, ownership: { G: rec('n1', 3) } }));
    assert.deepEqual(p1.records, [rec('n1', 3, 'stop')]);
    const p2 = planPlacement(input({ ...base, ownership: { G: rec('n1', 3, 'stop') }, reports: report('n1', { epoch: 3, released: true }) }));
    assert.equal(p2.records.length, 1);
    assert.notEqual(p2.records[0]!.node, 'n1');
  });

  test('owner dies during a move: the target gets it at once with epoch+1', () => {
    const p = planPlacement(input({ config: cfg, moveRequests: { G: 'n3' }, nodes: { n1: down, n2: up, n3: up }, ownership: { G: rec('n1', 3, 'stop') } }));
    assert.deepEqual(p.records, [rec('n3', 4)]);
    assert.deepEqual(p.movesDone, ['G']);
  });
});

describe('placement: draining', () => {
  const cfg = config({ preferredOwners: ['n1', 'n2'] });
  const draining: NodeView = { state: 'Paused', draining: true };

  test('a draining owner is asked to stop, and the group goes to another node once released', () => {
    const nodes = { n1: draining, n2: up, n3: up };
    assert.deepEqual(planPlacement(input({ config: cfg, nodes, ownership: { G: rec('n1', 2) } })).records, [rec('n1', 2, 'stop')]);
    const p = planPlacement(input({ config: cfg, nodes, ownership: { G: rec('n1', 2, 'stop') }, reports: report('n1', { epoch: 2, released: true }) }));
    assert.deepEqual(p.records, [rec('n2', 3)]);
  });

  test('a draining node is never a target: not for a new group, not for a move, not for failover', () => {
    const cfgAll = config({ preferredOwners: ['n1', 'n2', 'n3'] });
    const nodes = { n1: { state: 'Up' as const, draining: true }, n2: down, n3: up };
    assert.deepEqual(planPlacement(input({ config: cfgAll, nodes })).records, [rec('n3', 1)]);
    assert.deepEqual(planPlacement(input({ config: cfgAll, nodes, ownership: { G: rec('n2', 5) } })).records, [rec('n3', 6)]);
    const moveTo = planPlacement(input({ config: cfgAll, nodes: { n1: { state: 'Up', draining: true }, n2: up, n3: up }, moveRequests: { G: 'n1' },
      ownership: { G: rec('n2', 5, 'stop') }, reports: report('n2', { epoch: 5, released: true }) }));
    assert.notEqual(moveTo.records[0]?.node, 'n1');
    const c = candidates(input({ config: cfgAll, nodes }), 'G').find((x) => x.node === 'n1')!;
    assert.deepEqual([c.eligible, c.reason], [false, 'node is draining (shutting down)']);
  });

  test('draining owner and nowhere else to go: it stops, and the record stays with it', () => {
    const nodes = { n1: draining, n2: down, n3: down };
    assert.deepEqual(planPlacement(input({ config: cfg, nodes, ownership: { G: rec('n1', 2) } })).records, [rec('n1', 2, 'stop')]);
    assert.deepEqual(planPlacement(input({ config: cfg, nodes, ownership: { G: rec('n1', 2, 'stop') }, reports: report('n1', { epoch: 2, released: true }) })).records, []);
  });
});

describe('placement: failover requests and threshold', () => {
  const cfg = config({ preferredOwners: ['n1', 'n2', 'n3'] });

  test('a failover request stops the group, then moves it away from the node it failed on, and counts', () => {
    const ask = report('n1', { epoch: 2, released: false, failoverRequested: true });
    assert.deepEqual(planPlacement(input({ config: cfg, ownership: { G: rec('n1', 2) }, reports: ask })).records, [rec('n1', 2, 'stop')]);
    const released = report('n1', { epoch: 2, released: true, failoverRequested: true });
    const p = planPlacement(input({ config: cfg, ownership: { G: rec('n1', 2) }, reports: released }));
    assert.deepEqual(p.records, [rec('n2', 3)], 'n1 is the first preferred owner but the group just failed there');
    assert.deepEqual(p.failoversCounted, [{ group: 'G', epoch: 2 }]);
    assert.deepEqual(p.newlyFailed, []);
    // Counted once per epoch.
    const again = planPlacement(input({ config: cfg, ownership: { G: rec('n1', 2) }, reports: released, failoverHandledEpoch: { G: 2 } }));
    assert.deepEqual(again.failoversCounted, []);
  });

  test('threshold reached (default nodes - 1 within the period): left Failed, not moved', () => {
    const released = report('n1', { epoch: 2, released: true, failoverRequested: true });
    const base = { config: cfg, ownership: { G: rec('n1', 2) }, reports: released };
    // 3 nodes: threshold 2. One failover in the period: still moves.
    assert.deepEqual(planPlacement(input({ ...base, failoverHistoryMs: { G: [NOW - 1_000] } })).records, [rec('n2', 3)]);
    // Two within the period: failed.
    const p = planPlacement(input({ ...base, failoverHistoryMs: { G: [NOW - 2_000, NOW - 1_000] } }));
    assert.deepEqual(p.records, []);
    assert.deepEqual(p.newlyFailed, [{ group: 'G', epoch: 2 }]);
    assert.deepEqual(p.failoversCounted, [{ group: 'G', epoch: 2 }]);
    assert.equal(p.notes[0]!.event, 'GROUP_FAILOVER_THRESHOLD');
    // Two, but one older than the period (default 6 h): moves.
    const old = planPlacement(input({ ...base, failoverHistoryMs: { G: [NOW - 6 * 3_600_000, NOW - 1_000] } }));
    assert.deepEqual(old.records, [rec('n2', 3)]);
    // Once failed, it stays where it is while the owner is alive, and no stop is asked either.
    const failed = planPlacement(input({ ...base, failedGroups: { G: 2 }, failoverHandledEpoch: { G: 2 } }));
    assert.deepEqual(failed.records, []);
    const failedRunning = planPlacement(input({ ...base, reports: report('n1', { epoch: 2, released: false, failoverRequested: true }), failedGroups: { G: 2 } }));
    assert.deepEqual(failedRunning.records, []);
  });

  test('threshold defaults to nodes - 1: two nodes allow one failover per period; explicit thresholds apply', () => {
    const two = config({}, ['n1', 'n2']);
    const released = report('n1', { epoch: 2, released: true, failoverRequested: true });
    const base = { config: two, ownership: { G: rec('n1', 2) }, reports: released };
    assert.deepEqual(planPlacement(input(base)).records, [rec('n2', 3)]);
    assert.deepEqual(planPlacement(input({ ...base, failoverHistoryMs: { G: [NOW - 1] } })).newlyFailed, [{ group: 'G', epoch: 2 }]);
    const zero = fold([{ op: 'group-set', group: 'G', failoverThreshold: 0 }], two);
    assert.deepEqual(planPlacement(input({ ...base, config: zero })).newlyFailed, [{ group: 'G', epoch: 2 }]);
    const five = fold([{ op: 'group-set', group: 'G', failoverThreshold: 5, failoverPeriodMs: 10_000 }], two);
    assert.deepEqual(planPlacement(input({ ...base, config: five, failoverHistoryMs: { G: [1, 2, 3, 4, NOW - 1] } })).records, [rec('n2', 3)]);
    assert.deepEqual(planPlacement(input({ ...base, config: five, failoverHistoryMs: { G: [NOW - 5, NOW - 4, NOW - 3, NOW - 2, NOW - 1] } })).records, []);
  });

  test('a failed group whose owner dies is placed again (a dead owner is not a failure of the group)', () => {
    const p = planPlacement(input({ config: cfg, nodes: { n1: down, n2: up, n3: up }, ownership: { G: rec('n1', 2) }, failedGroups: { G: 2 },
      failoverHistoryMs: { G: [NOW - 2, NOW - 1] } }));
    assert.deepEqual(p.records, [rec('n2', 3)]);
    assert.deepEqual(p.failoversCounted, []);
  });

  test('released without a failover request (for example fenced): placed again, the same node allowed', () => {
    const p = planPlacement(input({ config: cfg, ownership: { G: rec('n1', 2) }, reports: report('n1', { epoch: 2, released: true, fenced: true }) }));
    assert.deepEqual(p.records, [rec('n1', 3)]);
    assert.deepEqual(p.failoversCounted, []);
  });
});

describe('placement: failback', () => {
  const withFailback = (failback: FailbackPolicy) => config({ preferredOwners: ['n1', 'n2'], failback });

  test('immediate: back to the first preferred owner as soon as it is Up', () => {
    const cfg = withFailback({ mode: 'immediate' });
    assert.deepEqual(planPlacement(input({ config: cfg, ownership: { G: rec('n2', 4) } })).records, [rec('n2', 4, 'stop')]);
    assert.deepEqual(planPlacement(input({ config: cfg, ownership: { G: rec('n3', 4) } })).records, [rec('n3', 4, 'stop')]);
    // Not while the preferred owner is not eligible.
    assert.deepEqual(planPlacement(input({ config: cfg, nodes: { n1: { state: 'Paused', draining: false }, n2: up, n3: up }, ownership: { G: rec('n2', 4) } })).records, []);
    // n3 is not preferred, n2 is: failback from n3 to n2 when n1 is Down.
    assert.deepEqual(planPlacement(input({ config: cfg, nodes: { n1: down, n2: up, n3: up }, ownership: { G: rec('n3', 4) } })).records, [rec('n3', 4, 'stop')]);
    // Already on the best node: stays.
    assert.deepEqual(planPlacement(input({ config: cfg, ownership: { G: rec('n1', 4) } })).records, []);
    // After release, it goes to n1.
    assert.deepEqual(planPlacement(input({ config: cfg, ownership: { G: rec('n2', 4, 'stop') }, reports: report('n2', { epoch: 4, released: true }) })).records, [rec('n1', 5)]);
  });

  test('never: stays where it is', () => {
    assert.deepEqual(planPlacement(input({ config: withFailback({ mode: 'never' }), ownership: { G: rec('n2', 4) } })).records, []);
  });

  test('window: only inside [start, end), also across midnight', () => {
    const night = withFailback({ mode: 'window', startHour: 22, endHour: 6 });
    const day = withFailback({ mode: 'window', startHour: 8, endHour: 17 });
    const at = (cfg: ClusterConfig, wallHour: number) => planPlacement(input({ config: cfg, wallHour, ownership: { G: rec('n2', 4) } })).records;
    for (const h of [22, 23, 0, 3, 5]) assert.deepEqual(at(night, h), [rec('n2', 4, 'stop')], `night ${h}`);
    for (const h of [6, 12, 21]) assert.deepEqual(at(night, h), [], `night ${h}`);
    for (const h of [8, 12, 16]) assert.deepEqual(at(day, h), [rec('n2', 4, 'stop')], `day ${h}`);
    for (const h of [7, 17, 23, 0]) assert.deepEqual(at(day, h), [], `day ${h}`);
  });

  test('hourInWindow', () => {
    assert.equal(hourInWindow(23, 22, 6), true);
    assert.equal(hourInWindow(0, 22, 6), true);
    assert.equal(hourInWindow(5, 22, 6), true);
    assert.equal(hourInWindow(6, 22, 6), false);
    assert.equal(hourInWindow(21, 22, 6), false);
    assert.equal(hourInWindow(8, 8, 17), true);
    assert.equal(hourInWindow(17, 8, 17), false);
    assert.equal(hourInWindow(7, 8, 17), false);
  });
});

describe('placement: terms, possible owners, reasons', () => {
  test('records written under an old term are adopted: same node, epoch and phase, current term', () => {
    const cfg = fold([{ op: 'group-create', group: 'H' }], config());
    const ownership = { G: rec('n1', 3, 'run', 2), H: rec('n2', 9, 'stop', 5, 'H') };
    const p = planPlacement(input({ config: cfg, ownership }));
    assert.deepEqual(p.records, [rec('n1', 3, 'run', TERM), rec('n2', 9, 'stop', TERM, 'H')]);
    // Current term already: nothing to write.
    assert.deepEqual(planPlacement(input({ config: cfg, ownership: { G: rec('n1', 3), H: rec('n2', 9, 'stop', TERM, 'H') } })).records, []);
  });

  test('owner no longer a possible owner: the group is stopped there and moved', () => {
    const cfg = config({ possibleOwners: ['n2', 'n3'] });
    const p = planPlacement(input({ config: cfg, ownership: { G: rec('n1', 3) } }));
    assert.deepEqual(p.records, [rec('n1', 3, 'stop')]);
    assert.match(moveReason(input({ config: cfg }), rec('n1', 3)) ?? '', /possible owner/);
    const p2 = planPlacement(input({ config: cfg, ownership: { G: rec('n1', 3, 'stop') }, reports: report('n1', { epoch: 3, released: true }) }));
    assert.deepEqual(p2.records, [rec('n2', 4)]);
  });

  test('explain: reasons and candidates with the reason of each ineligible node', () => {
    const cfg = config({ preferredOwners: ['n2'], possibleOwners: ['n1', 'n2', 'n3', 'n4'] }, ['n1', 'n2', 'n3', 'n4', 'n5']);
    const nodes: Record<string, NodeView> = { n1: down, n2: { state: 'Paused', draining: false }, n3: { state: 'Joining', draining: false }, n4: up, n5: up };
    const e = explain(input({ config: cfg, nodes, ownership: { G: rec('n1', 3) } }), 'G');
    assert.ok(e.reasons.some((r) => r.includes('owned by n1') && r.includes('epoch 3')), e.reasons.join(' | '));
    assert.ok(e.reasons.some((r) => r.includes('n1 is Down')), e.reasons.join(' | '));
    assert.deepEqual(e.candidates.map((c) => [c.node, c.eligible, c.reason]), [
      ['n4', true, 'eligible'],
      ['n2', false, 'node is Paused'],
      ['n3', false, 'node is still Joining'],
      ['n5', false, 'not a possible owner'],
      ['n1', false, 'node is Down'],
    ]);
    const nowhere = explain(input({ config: cfg, nodes: { ...nodes, n4: down } }), 'G');
    assert.ok(nowhere.reasons[0]!.includes('runs nowhere'));
    assert.ok(nowhere.candidates.every((c) => !c.eligible && c.reason !== 'eligible'));
    const unplaced = explain(input({ config: cfg, nodes }), 'G');
    assert.ok(unplaced.reasons[0]!.includes('not placed yet'));
    assert.deepEqual(explain(input(), 'nope'), { reasons: ['no group nope'], candidates: [] });
  });

  test('explain: a move in progress, a failed group, past failovers', () => {
    const cfg = config({ preferredOwners: ['n1', 'n2'] });
    const moving = explain(input({ config: cfg, moveRequests: { G: 'n2' }, ownership: { G: rec('n1', 3) } }), 'G');
    assert.ok(moving.reasons.some((r) => r.includes('preferred owner #1')), moving.reasons.join(' | '));
    assert.ok(moving.reasons.some((r) => r.includes('leaving n1') && r.includes('operator move to n2')), moving.reasons.join(' | '));
    const failed = explain(input({ config: cfg, ownership: { G: rec('n2', 3) }, failedGroups: { G: 3 }, failoverHistoryMs: { G: [NOW - 5, NOW - 1] } }), 'G');
    assert.ok(failed.reasons.some((r) => r.startsWith('Failed')), failed.reasons.join(' | '));
    assert.ok(failed.reasons.some((r) => r.includes('2 failover(s)') && r.includes('threshold 2')), failed.reasons.join(' | '));
    assert.ok(failed.reasons.some((r) => r.includes('failback is never')), failed.reasons.join(' | '));
  });
});

/**
 * Random scheduler inputs over these nodes and groups. `deletedGroups` may hold ownership
 * records but have no configuration (groups deleted while a node still ran them): they count
 * toward a node's load.
 */
function snapshotOf(nodeNames: string[], groupNames: string[], deletedGroups: string[] = []): fc.Arbitrary<PlacementInput> {
  const states: NodeState[] = ['Up', 'Down', 'Paused', 'Joining'];

  const subsetOf = (xs: string[]) => fc.shuffledSubarray(xs);
  const failback: fc.Arbitrary<FailbackPolicy> = fc.oneof(
    fc.constant({ mode: 'never' as const }), fc.constant({ mode: 'immediate' as const }),
    fc.record({ mode: fc.constant('window' as const), startHour: fc.integer({ min: 0, max: 23 }), endHour: fc.integer({ min: 0, max: 23 }) }));
  const groupCfg = (name: string): fc.Arbitrary<GroupConfig> => fc.record({
    name: fc.constant(name), preferredOwners: subsetOf(nodeNames), possibleOwners: subsetOf(nodeNames),
    failoverThreshold: fc.option(fc.integer({ min: 0, max: 3 }), { nil: null }), failoverPeriodMs: fc.constantFrom(0, 1_000, 3_600_000), failback,
  });
  const ownerRec = (group: string): fc.Arbitrary<OwnershipRec> => fc.record({
    group: fc.constant(group), node: fc.option(fc.constantFrom(...nodeNames), { nil: null }), epoch: fc.integer({ min: 1, max: 6 }),
    term: fc.integer({ min: 1, max: 6 }), phase: fc.constantFrom('run' as const, 'stop' as const),
  });
  return fc.record({
    groups: fc.tuple(...groupNames.map(groupCfg)),
    present: fc.tuple(...nodeNames.map(() => fc.boolean())),
    views: fc.tuple(...nodeNames.map(() => fc.record({ state: fc.constantFrom(...states), draining: fc.boolean() }))),
    ownership: fc.tuple(...[...groupNames, ...deletedGroups].map((g) => fc.option(ownerRec(g), { nil: undefined }))),
    reports: fc.array(fc.record({ node: fc.constantFrom(...nodeNames), group: fc.constantFrom(...groupNames), epochDelta: fc.integer({ min: -1, max: 1 }),
      released: fc.boolean(), failoverRequested: fc.boolean(), fenced: fc.boolean() }), { maxLength: 8 }),
    moves: fc.array(fc.tuple(fc.constantFrom(...groupNames), fc.option(fc.constantFrom(...nodeNames), { nil: null })), { maxLength: 3 }),
    history: fc.array(fc.tuple(fc.constantFrom(...groupNames), fc.integer({ min: 0, max: 7_200_000 })), { maxLength: 6 }),
    handled: fc.array(fc.tuple(fc.constantFrom(...groupNames), fc.integer({ min: 1, max: 6 })), { maxLength: 3 }),
    failed: fc.array(fc.tuple(fc.constantFrom(...groupNames), fc.integer({ min: 1, max: 6 })), { maxLength: 3 }),
    term: fc.integer({ min: 1, max: 8 }),
    wallHour: fc.integer({ min: 0, max: 23 }),
  }).map((s): PlacementInput => {
    const cfg: ClusterConfig = { name: 'c', nodes: {}, groups: {}, resources: {} };
    for (const n of nodeNames) cfg.nodes[n] = { name: n, paused: false };
    for (const g of s.groups) cfg.groups[g.name] = g;
    const nodes: Record<string, NodeView> = {};
    nodeNames.forEach((n, i) => { if (s.present[i]) nodes[n] = s.views[i]!; });
    const ownership: Record<string, OwnershipRec> = {};
    for (const r of s.ownership) if (r) ownership[r.group] = r;
    const reports: PlacementInput['reports'] = {};
    for (const r of s.reports) {
      const base = ownership[r.group]?.epoch ?? 1;
      (reports[r.node] ??= {})[r.group] = { epoch: Math.max(0, base + r.epochDelta), released: r.released, failoverRequested: r.failoverRequested, fenced: r.fenced };
    }
    const failoverHistoryMs: Record<string, number[]> = {};
    for (const [g, ago] of s.history) (failoverHistoryMs[g] ??= []).push(NOW - ago);
    return {
      config: cfg, term: s.term, wallMs: NOW, wallHour: s.wallHour, nodes, ownership, reports,
      moveRequests: Object.fromEntries(s.moves), failoverHistoryMs, failoverHandledEpoch: Object.fromEntries(s.handled),
      failedGroups: Object.fromEntries(s.failed),
    };
  });
}

// ---- property: the ownership protocol -----------------------------------------------------

describe('placement: properties', () => {
  const nodeNames = ['n1', 'n2', 'n3', 'n4'];
  const groupNames = ['g1', 'g2', 'g3'];
  const snapshot = snapshotOf(nodeNames, groupNames);

  test('planPlacement follows the ownership protocol on random snapshots (fast-check)', () => {
    fc.assert(fc.property(snapshot, (inp) => {
      const frozen = JSON.stringify(inp);
      const plan = planPlacement(inp);
      assert.equal(JSON.stringify(inp), frozen, 'the input is not modified');
      const seen = new Set<string>();
      for (const w of plan.records) {
        assert.ok(!seen.has(w.group), `one record per group (${w.group})`);
        seen.add(w.group);
        assert.equal(w.term, inp.term, 'every record carries the current term');
        const g = inp.config.groups[w.group]!;
        const eligible = (n: string) => inp.nodes[n]?.state === 'Up' && !inp.nodes[n]!.draining &&
          (g.possibleOwners.length === 0 || g.possibleOwners.includes(n));
        const old = inp.ownership[w.group];
        if (!old) {
          assert.equal(w.epoch, 1);
          assert.equal(w.phase, 'run');
          assert.ok(w.node !== null && eligible(w.node), `new group on an eligible node (${w.node})`);
          continue;
        }
        assert.ok(w.epoch >= old.epoch, `epoch never goes back (${old.epoch} -> ${w.epoch})`);
        assert.ok(w.epoch <= old.epoch + 1, `epoch grows by one at most (${old.epoch} -> ${w.epoch})`);
        if (w.node !== old.node) assert.equal(w.epoch, old.epoch + 1, `node ${old.node} -> ${w.node} without a new epoch`);
        if (w.epoch === old.epoch) assert.equal(w.node, old.node);
        if (w.phase === 'stop') assert.deepEqual([w.node, w.epoch], [old.node, old.epoch], 'a stop keeps node and epoch');
        if (w.epoch === old.epoch + 1) {
          assert.equal(w.phase, 'run');
          if (w.node !== null) assert.ok(eligible(w.node), `a new owner must be eligible (${w.node})`);
        }
        // Safety rules 1 and 2: an alive owner keeps the group until it has released this epoch.
        const ownerAlive = old.node !== null && inp.nodes[old.node] !== undefined && inp.nodes[old.node]!.state !== 'Down';
        const rep = old.node !== null ? inp.reports[old.node]?.[w.group] : undefined;
        const released = !!rep && rep.epoch === old.epoch && rep.released;
        if (ownerAlive && !released) {
          assert.equal(w.node, old.node, `group ${w.group} given to ${w.node} while ${old.node} is alive and holds epoch ${old.epoch}`);
          assert.equal(w.epoch, old.epoch);
        }
      }
      for (const f of plan.newlyFailed) assert.ok(!seen.has(f.group), 'a group left Failed is not written');
      for (const group of groupNames) explain(inp, group); // never throws
    }), { numRuns: 1_000 });
  });

  test('candidates: eligible first, and exactly the Up, not draining, possible owners (fast-check)', () => {
    fc.assert(fc.property(snapshot, (inp) => {
      for (const group of groupNames) {
        const cands = candidates(inp, group);
        assert.deepEqual(cands.map((c) => c.node).sort(), Object.keys(inp.nodes).sort());
        const firstIneligible = cands.findIndex((c) => !c.eligible);
        if (firstIneligible >= 0) assert.ok(cands.slice(firstIneligible).every((c) => !c.eligible));
        const g = inp.config.groups[group]!;
        for (const c of cands) {
          const v = inp.nodes[c.node]!;
          assert.equal(c.eligible, v.state === 'Up' && !v.draining && (g.possibleOwners.length === 0 || g.possibleOwners.includes(c.node)));
          assert.equal(c.eligible, c.reason === 'eligible');
        }
      }
    }), { numRuns: 300 });
  });
});

// ---- property: the optimized scheduler equals a straightforward one --------------------------

/** candidates() as first written: counts every node's load for each call and ranks inside the comparator. */
function referenceCandidates(input: PlacementInput, group: string, exclude: string[] = []): Candidate[] {
  const g = input.config.groups[group];
  if (!g) return [];
  const load = new Map<string, number>();
  for (const r of Object.values(input.ownership)) if (r.node) load.set(r.node, (load.get(r.node) ?? 0) + 1);
  const out: Candidate[] = Object.keys(input.nodes).sort().map((node) => {
    const v = input.nodes[node]!;
    let reason = 'eligible';
    if (v.state === 'Down') reason = 'node is Down';
    else if (v.draining) reason = 'node is draining (shutting down)';
    else if (v.state === 'Paused') reason = 'node is Paused';
    else if (v.state === 'Joining') reason = 'node is still Joining';
    else if (g.possibleOwners.length > 0 && !g.possibleOwners.includes(node)) reason = 'not a possible owner';
    else if (exclude.includes(node)) reason = 'the group just failed there';
    return { node, eligible: reason === 'eligible', reason };
  });
  const rank = (c: Candidate): [number, number, number, string] => {
    const pref = g.preferredOwners.indexOf(c.node);
    return [c.eligible ? 0 : 1, pref >= 0 ? pref : g.preferredOwners.length, load.get(c.node) ?? 0, c.node];
  };
  return out.sort((a, b) => {
    const ra = rank(a), rb = rank(b);
    for (let i = 0; i < 3; i++) if (ra[i] !== rb[i]) return (ra[i] as number) - (rb[i] as number);
    return ra[3].localeCompare(rb[3]);
  });
}

/**
 * planPlacement the straightforward way: one group at a time (in name order), each planned on
 * its own against the ownership as planned so far, so that every decision counts the loads
 * from scratch instead of from the planner's running tally.
 */
function referencePlan(input: PlacementInput): PlacementPlan {
  const plan: PlacementPlan = { records: [], notes: [], movesDone: [], failoversCounted: [], newlyFailed: [] };
  const ownership = { ...input.ownership };
  for (const group of Object.keys(input.config.groups).sort()) {
    const one = planPlacement({ ...input, ownership: { ...ownership }, config: { ...input.config, groups: { [group]: input.config.groups[group]! } } });
    plan.records.push(...one.records);
    plan.notes.push(...one.notes);
    plan.movesDone.push(...one.movesDone);
    plan.failoversCounted.push(...one.failoversCounted);
    plan.newlyFailed.push(...one.newlyFailed);
    for (const r of one.records) ownership[r.group] = r;
  }
  return plan;
}

describe('placement: the optimized scheduler equals a straightforward reference', () => {
  const nodeNames = ['n1', 'n2', 'n3', 'n4', 'n5'];
  // Many groups on few nodes: loads tie and change while planning; g0 sorts first, x1/x2 are deleted groups still owned.
  const groupNames = ['g0', 'g1', 'g2', 'g3', 'g4', 'g5', 'g6', 'g7', 'g8', 'g9', 'g10', 'g11'];
  const snapshot = snapshotOf(nodeNames, groupNames, ['x1', 'x2']);

  test('candidates equals the reference ranking on random snapshots (fast-check)', () => {
    fc.assert(fc.property(snapshot, fc.subarray(nodeNames), (inp, exclude) => {
      for (const group of [...groupNames, 'x1']) {
        assert.deepEqual(candidates(inp, group, exclude), referenceCandidates(inp, group, exclude));
        assert.deepEqual(candidates(inp, group), referenceCandidates(inp, group));
      }
    }), { numRuns: 500 });
  });

  test('planPlacement equals planning group by group with loads counted from scratch (fast-check)', () => {
    fc.assert(fc.property(snapshot, (inp) => {
      assert.deepEqual(planPlacement(inp), referencePlan(inp));
    }), { numRuns: 1_000 });
  });

  test('planPlacement equals the reference when placing many new groups at once', () => {
    const nodes = Array.from({ length: 7 }, (_, i) => `n${i + 1}`);
    const updates: ConfigUpdate[] = nodes.map((node) => ({ op: 'node-add' as const, node }));
    for (let g = 0; g < 60; g++) {
      updates.push({ op: 'group-create', group: `g${String(g).padStart(2, '0')}`, preferredOwners: g % 3 === 0 ? [] : [nodes[g % 7]!, nodes[(g * 5) % 7]!].filter((n, i, a) => a.indexOf(n) === i),
        possibleOwners: g % 4 === 0 ? nodes.slice(0, 4) : [] });
    }
    const cfg = fold(updates);
    const ownership: Record<string, OwnershipRec> = { g05: rec('n2', 2, 'run', TERM, 'g05'), g17: rec('n7', 1, 'stop', TERM, 'g17') };
    const inp = input({ config: cfg, ownership, nodes: { ...Object.fromEntries(nodes.map((n) => [n, up])), n3: down } });
    const plan = planPlacement(inp);
    assert.equal(plan.records.length, 58);
    assert.deepEqual(plan, referencePlan(inp));
  });
});

describe('explain: ownership changes the quorum store refuses', () => {
  const full = { code: 'QUORUM_DISK_FULL', message: 'writing ownership needs 1048676 bytes free; 0 bytes are free' };

  test('owner Down and the quorum disk full: the first reason is the blocked failover, with the code', () => {
    const inp = input({ nodes: { n1: up, n2: down, n3: up }, ownership: { G: rec('n2', 4) }, writesBlocked: full });
    const e = explain(inp, 'G');
    assert.equal(e.blockedBy, 'QUORUM_DISK_FULL');
    assert.match(e.reasons[0]!, /^blocked: failover to n1 \(epoch 5\) cannot be written: the quorum disk is full/);
    assert.ok(e.reasons.some((r) => r.includes('n2 is Down')), e.reasons.join(' | '));
  });

  test('nothing to write: no blocked reason even with the disk full; writes accepted: the change is due', () => {
    const settled = explain(input({ ownership: { G: rec('n1', 4) }, writesBlocked: full }), 'G');
    assert.equal(settled.blockedBy, undefined);
    assert.ok(!settled.reasons.some((r) => r.startsWith('blocked')), settled.reasons.join(' | '));
    const due = explain(input({ nodes: { n1: up, n2: down, n3: up }, ownership: { G: rec('n2', 4) } }), 'G');
    assert.equal(due.blockedBy, undefined);
    assert.ok(due.reasons.some((r) => r.startsWith('due: failover to n1')), due.reasons.join(' | '));
  });

  test('a move waiting for its stop record names the move', () => {
    const e = explain(input({ moveRequests: { G: 'n2' }, ownership: { G: rec('n1', 3) }, writesBlocked: full }), 'G');
    assert.match(e.reasons[0]!, /^blocked: taking it offline on n1 to move it/);
  });
});
