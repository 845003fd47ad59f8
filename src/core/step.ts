// One cycle's output, in the spirit of etcd-io/raft's Ready: after a cycle's reads (and the
// election, which decides whether this node plans as coordinator), the core turns the facts into
// one value, the Step; the node shell (node/step-exec.ts) executes it, in the order below, and
// decides nothing of its own. The rule is written here once:
//
//   1. monitor   the local resource manager's actions (agent calls, recycles, their events).
//                They act only on ownership records read back from the store, never on this
//                step's own writes, and each start was checked against the lease at planning
//                (core/self-fence.ts): so they go out first, with no wait between planning and
//                sending. What this step persists is not in this part: see 3b.
//   2. persist   in this order, each only once the one before is done:
//                a. new nodes registered in the configuration log (a refused registration is
//                   retried by the next step and does not hold b and c: the plan does not use them);
//                b. the floor (term, highest epoch written) noted in the node's own copy, so that
//                   a store rebuilt after the write starts above every token it used;
//                c. the ownership records (with their books, core/books.ts) written under the term;
//                   not written when b fails. A refused 2b or 2c ends the persist part, and the
//                   next cycle plans again from the same facts.
//   3. settle    only after 2c is durable: drop the operator requests that write carried (a
//                refused write drops nothing), answer the moves waiting on it (with its error
//                when refused), and emit the placement notes (events) of the plan.
//      3b. follow-up  only after 2c is durable and read back: the shell plans a local-only step
//                (planStep with no coordinator part) from the records read back and sends its
//                monitor part at once, as in 1. A group this coordinator placed on itself thus
//                starts in the same cycle, as the records' other readers start theirs on their
//                next read; the follow-up step's own rule is this one, with 2-4 empty.
//   4. checkpoint  the coordinator's checkpoint triggers (core/checkpoint-policy.ts) are asked.
//   5. publish   this node's report (the local state after 1 and 3b) is written when it changed.
//   6. events    the event queue is flushed to the store, after the report.
//
// A step for a node that is not coordinator has no persist part (2-4 are empty).

import { bookPlan, type PendingRequests } from './books.js';
import { invariant } from './invariant.js';
import { reconcile, type LocalAction, type LocalContext, type LocalState } from './local.js';
import { planPlacement, type NodeView, type OwnershipRec, type PlacementInput, type PlacementNote } from './placement.js';
import type { GroupName, NodeName } from './types.js';

/** What the coordinator plans from: placement's input, the requests it holds, and the nodes' reports and views. */
export interface CoordinatorFacts {
  placement: PlacementInput;
  /** Operator requests not written yet (the ones made after this point are not carried by this step). */
  pending: PendingRequests;
  /** Nodes with a lease and no entry in the configuration (stopped ones excluded). */
  unregistered: NodeName[];
  /** Per node, per group: released or not, from the node's latest report. */
  released: Record<NodeName, Record<GroupName, boolean>>;
  views: Record<NodeName, NodeView>;
}

export interface StepInput {
  local: LocalState;
  localContext: LocalContext;
  /**
   * Present when this node is coordinator for this cycle's term. 'quiet': the shell found the facts
   * of its last plan, which did nothing (node/quiet.ts): the part asks the checkpoint triggers only.
   */
  coordinator: CoordinatorFacts | 'quiet' | null;
  /** The shell found the facts of the last reconcile, which did nothing, before its wake-up (node/quiet.ts): no reconcile, no monitor part. */
  localQuiet?: boolean;
}

export interface OwnershipWrite {
  term: number;
  records: OwnershipRec[];
  deleted: GroupName[];
}

export interface Step {
  /** 1. Sent first, at once. */
  monitor: LocalAction[];
  persist: {
    /** 2a. */
    register: NodeName[];
    /** 2b: the tokens 2c uses; null when 2c is. */
    floor: { term: number; epoch: number } | null;
    /** 2c. */
    ownership: OwnershipWrite | null;
  };
  /** 3: what 2c carries. `carried` is the requests as planned from; `settled` the groups whose requests it settles. */
  settle: { carried: PendingRequests; settled: GroupName[]; notes: PlacementNote[] } | null;
  /** 4: ask the checkpoint triggers (coordinator only). */
  checkpoint: boolean;
}

/**
 * Plan one step. Mutates `input.local` as the local manager does (core/local.ts reconcile: the
 * calls it returns are marked in flight there); everything else is read only.
 */
export function planStep(input: StepInput): Step {
  const c = input.coordinator;
  // The coordinator's part is planned first: a plan that throws (a broken invariant) leaves the
  // local state untouched, with no call marked in flight and never sent.
  const coordinated = c === 'quiet' ? quietCoordinator() : c ? planCoordinator(c) : null;
  const callIdBefore = input.local.nextCallId;
  const monitor = input.localQuiet ? [] : reconcile(input.local, input.localContext);
  assertCallIds(monitor, callIdBefore, input.local.nextCallId);
  if (!coordinated) return { monitor, persist: { register: [], floor: null, ownership: null }, settle: null, checkpoint: false };
  return { monitor, ...coordinated };
}

/** The coordinator's part of a quiet plan: nothing to persist or settle; the checkpoint triggers are still asked (some fall due with time). */
function quietCoordinator(): Omit<Step, 'monitor'> {
  return { persist: { register: [], floor: null, ownership: null }, settle: null, checkpoint: true };
}

/**
 * The coordinator's part of `step` does nothing but ask the checkpoint triggers: it registers,
 * writes and says nothing, and carries no request (with none carried, settling drops nothing,
 * whatever groups it names: settleRequests).
 */
export function coordinatorPartQuiet(step: Step): boolean {
  const { persist, settle } = step;
  if (persist.register.length > 0 || persist.ownership !== null) return false;
  if (!settle) return true;
  const { carried } = settle;
  return settle.notes.length === 0 && Object.keys(carried.moves).length === 0 && carried.cleared.length === 0 && (carried.reset ?? []).length === 0;
}

function planCoordinator(c: CoordinatorFacts): Omit<Step, 'monitor'> {
  const { placement } = c;
  const carried: PendingRequests = { moves: { ...c.pending.moves }, cleared: [...c.pending.cleared], reset: [...c.pending.reset ?? []] };
  const plan = planPlacement(placement);
  const booked = bookPlan(placement, plan, carried);
  const deleted = Object.keys(placement.ownership).filter((g) => !placement.config.groups[g] && releasedOrDown(c, placement.ownership[g]!)).sort();
  const writing = booked.records.length > 0 || deleted.length > 0;
  const ownership = writing ? { term: placement.term, records: booked.records, deleted } : null;
  if (ownership) assertOwnershipWrite(ownership, placement.ownership);
  const floor = ownership ? { term: ownership.term, epoch: Math.max(0, ...ownership.records.map((r) => r.epoch)) } : null;
  return {
    persist: { register: [...c.unregistered].sort(), floor, ownership },
    settle: { carried, settled: booked.settled, notes: plan.notes },
    checkpoint: true,
  };
}

/** A deleted group's record may go once nothing runs it: no owner, its owner's report says released (or has no entry), or its owner is Down. */
function releasedOrDown(c: CoordinatorFacts, rec: OwnershipRec): boolean {
  if (!rec.node) return true;
  const released = c.released[rec.node]?.[rec.group];
  return released === undefined || released || c.views[rec.node]?.state === 'Down';
}

/**
 * The requests left pending once a durable write carried `carried`: a move, a cleared Failed state or
 * a reset failover history asked again meanwhile (another target, a new request) stays.
 */
export function settleRequests(pending: PendingRequests, carried: PendingRequests, settled: readonly GroupName[]): PendingRequests {
  const done = new Set(settled);
  const moves: PendingRequests['moves'] = {};
  for (const [g, target] of Object.entries(pending.moves)) {
    if (done.has(g) && g in carried.moves && carried.moves[g] === target) continue;
    moves[g] = target;
  }
  const cleared = pending.cleared.filter((g) => !(done.has(g) && carried.cleared.includes(g)));
  const reset = (pending.reset ?? []).filter((g) => !(done.has(g) && (carried.reset ?? []).includes(g)));
  return { moves, cleared, reset };
}

/** Call ids are handed out in order and never twice: each new call takes the next id, and the counter ends past the last one. */
function assertCallIds(actions: readonly LocalAction[], before: number, after: number): void {
  let next = before;
  for (const a of actions) {
    if (a.kind !== 'agent-call') continue;
    invariant(a.id >= next && a.id < after, 'call-id-fresh', () => `call ${a.id} (${a.op} ${a.spec.name}) outside the ids handed out in this step [${before}, ${after})`);
    next = a.id + 1;
  }
  invariant(after >= before, 'call-id-forward', () => `the call id counter went back from ${before} to ${after}`);
}

/** An ownership write: every record under the write's term, each group once, no epoch below the stored one, and a new owner only with a new epoch. */
function assertOwnershipWrite(w: OwnershipWrite, stored: Readonly<Record<GroupName, OwnershipRec>>): void {
  const seen = new Set<GroupName>();
  for (const r of w.records) {
    invariant(!seen.has(r.group), 'ownership-once', () => `group ${r.group} written twice in one step`);
    seen.add(r.group);
    invariant(r.term === w.term, 'ownership-term', () => `group ${r.group} written under term ${r.term} in a write of term ${w.term}`);
    invariant(Number.isSafeInteger(r.epoch) && r.epoch >= 0, 'epoch-valid', () => `group ${r.group} at epoch ${r.epoch}`);
    const old = stored[r.group];
    invariant(!old || r.epoch >= old.epoch, 'epoch-forward', () => `group ${r.group} written at epoch ${r.epoch} below the stored ${old!.epoch}`);
    invariant(!old || r.node === old.node || r.epoch > old.epoch, 'epoch-new-owner', () => `group ${r.group} given to ${r.node ?? 'nobody'} from ${old!.node ?? 'nobody'} at the same epoch ${r.epoch}`);
    invariant(!old || old.term <= w.term, 'term-forward', () => `group ${r.group} stored under term ${old!.term}, rewritten under the older term ${w.term}`);
  }
  for (const g of w.deleted) invariant(!seen.has(g), 'ownership-once', () => `group ${g} both written and deleted in one step`);
}
