// The coordinator's bookkeeping of each group ("books"): the failovers counted within the
// failover period, the epoch whose failover request is counted, the epoch at which the group was
// left Failed, and an operator move not yet carried out. The books are stored with the group's
// ownership record and written in the same write, under the coordinator's term, as the placement
// they belong to: a refused write changes neither, and a new coordinator reads them with the
// records and continues the counts and the moves of the one before it.
//
// Failover times are the coordinator's wall clock: the books outlive the coordinator, and a
// monotonic clock belongs to one process. A wall-clock step between two coordinators moves the
// failover window by the step. The window decides how often a failing group is retried, never
// who may run it (leases are judged on monotonic clocks, DESIGN rule 3); a time after now (the
// clock went back) still counts, so a step back can only leave a group Failed sooner.

import { invariant } from './invariant.js';
import { failoversWithin, type OwnershipRec, type PlacementInput, type PlacementPlan } from './placement.js';
import type { GroupBooks, GroupName, NodeName } from './types.js';

export type { GroupBooks } from './types.js';
export { failoversWithin } from './placement.js';

/** What operators asked of this coordinator since its last ownership write: held in memory until a write carries it. */
export interface PendingRequests {
  /** Moves: group -> target (null: the best other node). */
  moves: Record<GroupName, NodeName | null>;
  /** Groups brought online by an operator: their Failed state is cleared. */
  cleared: GroupName[];
  /** Groups an operator cleanup asked for: their failover history is reset (their Failed state is cleared through `cleared`). */
  reset?: GroupName[];
}

export const noRequests = (): PendingRequests => ({ moves: {}, cleared: [] });

/** Failover times kept per group at most (a threshold is at most 1000, config.ts): bounds a record's size. */
export const failoversKeptMax = 1_001;

export type BooksInput = Pick<PlacementInput, 'moveRequests' | 'failoverHistoryMs' | 'failoverHandledEpoch' | 'failedGroups'>;

/** The placement input's bookkeeping: the books stored with the records, and this coordinator's pending requests over them. */
export function booksInput(ownership: Readonly<Record<GroupName, OwnershipRec>>, pending: PendingRequests): BooksInput {
  const out: BooksInput = { moveRequests: {}, failoverHistoryMs: {}, failoverHandledEpoch: {}, failedGroups: {} };
  for (const g of Object.keys(ownership)) {
    const b = ownership[g]!.books;
    if (!b) continue;
    if (b.failoversWallMs && b.failoversWallMs.length > 0) out.failoverHistoryMs[g] = b.failoversWallMs;
    if (b.countedEpoch !== undefined) out.failoverHandledEpoch[g] = b.countedEpoch;
    if (b.failedEpoch !== undefined) out.failedGroups[g] = b.failedEpoch;
    if (b.moveTo !== undefined) out.moveRequests[g] = b.moveTo;
  }
  for (const g of pending.cleared) delete out.failedGroups[g];
  for (const g of pending.reset ?? []) delete out.failoverHistoryMs[g];
  Object.assign(out.moveRequests, pending.moves);
  return out;
}

export interface BookedWrite {
  /** The plan's records, each with its group's books, and the records rewritten only for their books. */
  records: OwnershipRec[];
  /** Groups whose pending requests this write carries (or that need no write): drop them from the pending requests once it is durable. */
  settled: GroupName[];
}

/**
 * The ownership write of a placement plan with the books: every record written carries its group's
 * books after the plan (so that adopting a record under a new term keeps them), and a group whose
 * books change without a new record (left Failed, a failover counted with nowhere to go, a move
 * asked while its group is already stopping, a Failed state cleared) gets its record rewritten as
 * it is, under the current term, with the new books. History is pruned to the failover period.
 * `input` is what the plan was made from (its ownership: the stored records).
 */
export function bookPlan(input: PlacementInput, plan: PlacementPlan, pending: PendingRequests): BookedWrite {
  const counted = new Map(plan.failoversCounted.map((f) => [f.group, f.epoch]));
  const failed = new Map(plan.newlyFailed.map((f) => [f.group, f.epoch]));
  const done = new Set(plan.movesDone);
  const cleared = new Set(pending.cleared);
  const reset = new Set(pending.reset ?? []);
  const planned = new Map(plan.records.map((r) => [r.group, r]));
  const booksAfter = (g: GroupName, rec: OwnershipRec | undefined): { books: GroupBooks; changed: boolean } => {
    const old = input.ownership[g]?.books ?? {};
    const period = input.config.groups[g]?.failoverPeriodMs ?? 0;
    const b: GroupBooks = {};
    let changed = false;
    let times = reset.has(g) ? [] : failoversWithin(old.failoversWallMs ?? [], input.wallMs, period);
    if (reset.has(g) && (old.failoversWallMs?.length ?? 0) > 0) changed = true;
    const epoch = counted.get(g);
    if (epoch !== undefined) {
      times = [...times, input.wallMs].slice(-failoversKeptMax);
      changed = true;
    }
    if (times.length > 0) b.failoversWallMs = times;
    const countedEpoch = epoch ?? old.countedEpoch;
    if (countedEpoch !== undefined) b.countedEpoch = countedEpoch;
    const failedEpoch = failed.get(g) ?? (cleared.has(g) ? undefined : old.failedEpoch);
    if (failedEpoch !== undefined) b.failedEpoch = failedEpoch;
    if (failedEpoch !== old.failedEpoch) changed = true;
    // A move is carried out once its group runs on the target (or the plan found it impossible).
    const moveTo = done.has(g) || (rec && rec.phase === 'run' && rec.node !== null && input.moveRequests[g] === rec.node) ? undefined : input.moveRequests[g];
    if (moveTo !== undefined) b.moveTo = moveTo;
    if (moveTo !== old.moveTo) changed = true;
    return { books: b, changed };
  };
  const records: OwnershipRec[] = [];
  const settled = new Set<GroupName>(done);
  for (const r of plan.records) {
    const stored = input.ownership[r.group];
    invariant(!stored || r.epoch >= stored.epoch, 'epoch-forward', () => `group ${r.group} booked at epoch ${r.epoch} below ${stored!.epoch}`);
    records.push(withBooks(r, booksAfter(r.group, r).books));
    settled.add(r.group);
  }
  for (const g of Object.keys(input.ownership)) {
    const stored = input.ownership[g]!;
    if (planned.has(g) || !input.config.groups[g]) continue;
    settled.add(g);
    // No books and nothing asked or decided for the group: its books stay empty (booksAfter would say so, at a cost per group).
    if (!stored.books && !counted.has(g) && !failed.has(g) && input.moveRequests[g] === undefined) continue;
    const { books, changed } = booksAfter(g, stored);
    if (changed) records.push(withBooks({ ...stored, term: input.term }, books));
  }
  return { records, settled: [...settled].sort() };
}

function withBooks(r: OwnershipRec, books: GroupBooks): OwnershipRec {
  const out: OwnershipRec = { group: r.group, node: r.node, epoch: r.epoch, term: r.term, phase: r.phase };
  if (Object.keys(books).length > 0) out.books = books;
  return out;
}
