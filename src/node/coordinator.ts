// The coordinator's duties on this node: the election (a CAS on the term), registering new nodes,
// writing the placement plan (core/placement.ts) under the term, and handing the role over at
// shutdown. The plan's bookkeeping (operator moves, failovers counted, groups left Failed) is
// stored with the ownership records it belongs to (core/books.ts), so that a new coordinator
// continues it; only requests not yet written are held here.

import { clusterError, fail, ok, type ClusterError, type Result } from '../core/errors.js';
import { booksInput, noRequests, type PendingRequests } from '../core/books.js';
import { electionCheckpointReason } from '../core/checkpoint-policy.js';
import { isAlive, nodeStateNotes } from '../core/membership.js';
import type { PlacementInput } from '../core/placement.js';
import { settleRequests, type CoordinatorFacts, type Step } from '../core/step.js';
import type { GroupName, NodeName, NodeState } from '../core/types.js';
import type { CoordinatorRecord } from '../store/types.js';
import type { ConfigLog } from './config-log.js';
import type { PlanFacts } from './quiet.js';
import { notCoordinator, type Shell } from './shell.js';

/** A move not planned by a cycle within this is withdrawn and refused: cycles run every heartbeat, so only a stuck node gets near it, and it is below the API's forwarding timeout (10 s). */
const moveAnswerMaxMs = 5_000;

/** An operator move waiting for the ownership write that carries it out. */
export interface MoveWaiter {
  group: GroupName;
  target: NodeName;
  resolve: (r: Result<void>) => void;
}

export class Coordinator {
  /** Operator requests not yet carried by an ownership write (moves, Failed states cleared); the written ones are in the store's books. */
  private pending: PendingRequests = noRequests();
  /** Operator moves waiting for the ownership write that carries them out (or refuses them). */
  private moveWaiters: MoveWaiter[] = [];
  private wasCoordinator = false;
  /** The node states this coordinator announced last (null: none yet in this term of office). */
  private said: Record<NodeName, NodeState> | null = null;

  constructor(private readonly s: Shell, private readonly log: ConfigLog) {}

  /** A read found a new term: a coordinator that lost the role forgets its moves. */
  onNewTerm(prev: CoordinatorRecord, c: CoordinatorRecord): void {
    const { s } = this;
    if (this.wasCoordinator && c.node !== s.name) {
      s.emitEvent('COORDINATOR_LOST', 'warning', `node ${s.name} is no longer coordinator (term ${c.term} belongs to ${c.node ?? 'nobody'})`);
      this.dropMoves(notCoordinator(c));
    }
    this.wasCoordinator = c.node === s.name;
    if (!this.wasCoordinator) this.said = null;
    if (c.node && c.node !== prev.node) s.o.log('info', 'COORDINATOR', `coordinator is ${c.node} (term ${c.term})`);
  }

  async elect(): Promise<void> {
    const { s } = this;
    const now = s.o.clock.nowMs();
    const c = s.coordinator();
    if (s.shuttingDown() || s.fencing()) return;
    if (c.node && isAlive(s.membership(), c.node, s.judgeAtMs(), s.o.timing.leaseTtlMs)) return;
    if (!isAlive(s.membership(), s.name, now, s.o.timing.leaseTtlMs)) return;
    // The term is in this node's floor before the write that may win it (a store rebuilt after it starts above).
    const floored = await s.noteFloor(c.term + 1, 0);
    if (s.shuttingDown() || s.fencing()) return;
    const won = floored.ok ? s.problems.wrote(await s.o.store.casCoordinator(c, { term: c.term + 1, node: s.name })) : fail(floored.error);
    s.markDirty();
    if (!won.ok) s.problems.failing('COORDINATOR_ELECTION_FAILED', 'error', won.error);
    else s.problems.recovered('COORDINATOR_ELECTION_FAILED', 'coordinator elections can be written again');
    if (won.ok && won.value) {
      s.emitEvent('COORDINATOR_ELECTED', 'info', `node ${s.name} is coordinator for term ${c.term + 1}` + (c.node ? ` (${c.node} was lost)` : ''));
      this.dropMoves(notCoordinator(c));
      this.log.seeStopped();
      await s.refresh();
      const cp = await this.log.checkpoint(electionCheckpointReason(c.term));
      if (!cp.ok) s.problems.failing('CHECKPOINT_FAILED', 'warning', cp.error);
    }
    await s.refresh();
  }

  /** Announce the nodes whose state this coordinator judges changed since it last said (core/membership.ts nodeStateNotes): once a cycle. */
  noteNodeStates(): void {
    const { s } = this;
    const r = nodeStateNotes(this.said, s.nodeViews(), s.membership(), { atMs: s.judgeAtMs(), leaseTtlMs: s.o.timing.leaseTtlMs });
    this.said = r.said;
    for (const n of r.notes) s.emitEvent(n.event, n.level, n.message, { node: n.node, state: n.state, was: n.was });
  }

  /**
   * What the plan reads, for node/quiet.ts to compare with the last plan's; null while an operator
   * request waits (its plan must run). Cheap: no pass over the groups.
   */
  planFacts(): PlanFacts | null {
    const { s } = this;
    const p = this.pending;
    if (this.moveWaiters.length > 0 || Object.keys(p.moves).length > 0 || p.cleared.length > 0 || (p.reset ?? []).length > 0) return null;
    const membership = s.membership();
    let nodes = JSON.stringify(s.nodeViews());
    for (const n of Object.keys(membership)) nodes += `|${n}:${membership[n]!.incarnation}:${membership[n]!.state}`;
    const blocked = s.problems.quorumWritesBlocked();
    return {
      config: this.log.config, ownership: s.ownership(), reports: s.reports(), term: s.coordinator().term, wallHour: s.o.clock.localHour(),
      nodes, writesBlocked: blocked ? `${blocked.code}: ${blocked.message}` : '',
    };
  }

  /**
   * What this coordinator plans from (core/step.ts), with the moves asked so far: the step's
   * ownership write carries them or refuses them with its error (persist answers them).
   */
  facts(): { facts: CoordinatorFacts; asked: MoveWaiter[] } {
    const { s } = this;
    const membership = s.membership();
    const unregistered = Object.keys(membership).filter((n) => !this.log.config.nodes[n] && membership[n]!.state !== 'stopped');
    const released: CoordinatorFacts['released'] = {};
    for (const [n, r] of Object.entries(s.reports())) {
      const groups: Record<GroupName, boolean> = {};
      for (const g of Object.keys(r.groups)) groups[g] = r.groups[g]!.released;
      released[n] = groups;
    }
    // The requests as they are now: one made while the step runs is carried by a later one.
    const pending = { moves: { ...this.pending.moves }, cleared: [...this.pending.cleared], reset: [...this.pending.reset ?? []] };
    return { facts: { placement: s.placementInput(), pending, unregistered, released, views: s.nodeViews() }, asked: this.moveWaiters.splice(0) };
  }

  /**
   * A step's persist and settle parts, in core/step.ts's order: register new nodes, note the floor,
   * write the ownership records under the term; then, only once that write is durable, drop the
   * requests it carried and emit the plan's notes. The moves `asked` are answered with the write's outcome.
   */
  async persist(step: Step, asked: MoveWaiter[]): Promise<boolean> {
    let outcome: Result<boolean> = fail(clusterError('INTERNAL', 'the coordinator cycle stopped before its ownership write'));
    try {
      outcome = await this.persistSteps(step);
    } finally {
      this.answerMoves(asked, outcome.ok ? ok(undefined) : outcome);
    }
    return outcome.ok && outcome.value;
  }

  /** True once the ownership write is durable and read back (core/step.ts 3b follows). */
  private async persistSteps(step: Step): Promise<Result<boolean>> {
    const { s } = this;
    const { register, floor, ownership } = step.persist;
    if (register.length > 0) {
      // A refused registration is retried by the next step; the plan below does not use the new nodes.
      const r = await this.log.commit(register.map((node) => ({ op: 'node-add' as const, node })));
      if (!r.ok) s.problems.failing('NODE_ADD_FAILED', 'error', r.error);
      else s.problems.recovered('NODE_ADD_FAILED', `nodes ${register.join(', ')} were added`);
    }
    if (ownership) {
      const floored = floor ? await s.noteFloor(floor.term, floor.epoch) : ok(undefined);
      const res = floored.ok ? s.problems.wrote(await s.o.store.writeOwnership(ownership.term, ownership.records, ownership.deleted)) : floored;
      s.markDirty();
      if (!res.ok) {
        s.problems.failing('OWNERSHIP_WRITE_FAILED', 'error', res.error);
        return res;
      }
      s.problems.recovered('OWNERSHIP_WRITE_FAILED', 'ownership records are written again');
    }
    if (step.settle) {
      this.pending = settleRequests(this.pending, step.settle.carried, step.settle.settled);
      for (const n of step.settle.notes) s.emitEvent(n.event, n.level, n.message, { group: n.group });
    }
    if (ownership) await s.refresh();
    return ok(ownership !== null);
  }

  /** What placement decides from: the node's picture and this coordinator's bookkeeping. */
  placementInput(): PlacementInput {
    const { s } = this;
    const views = s.nodeViews();
    const reports: PlacementInput['reports'] = {};
    for (const [n, r] of Object.entries(s.currentReports())) reports[n] = r.groups;
    const nodes: PlacementInput['nodes'] = {};
    for (const [n, v] of Object.entries(views)) nodes[n] = { state: v.state, draining: v.draining };
    const ownership = s.ownership();
    return {
      config: this.log.config, term: s.coordinator().term, wallMs: s.o.clock.wallMs(), wallHour: s.o.clock.localHour(),
      nodes, ownership, reports, ...booksInput(ownership, this.pending), writesBlocked: s.problems.quorumWritesBlocked(),
    };
  }

  /** Remember a validated move and resolve with the outcome of the first ownership write planned after it. */
  move(group: GroupName, target: NodeName): Promise<Result<void>> {
    this.pending.moves[group] = target;
    return new Promise((resolve) => {
      const w: MoveWaiter = { group, target, resolve: (r) => { cancel(); resolve(r); } };
      // Not taken by a plan in time (no cycle ran): withdrawn, so it cannot happen after this answer.
      const cancel = this.s.o.clock.setTimeout(() => {
        const i = this.moveWaiters.indexOf(w);
        if (i < 0) return; // taken: its write is under way and answers
        this.moveWaiters.splice(i, 1);
        this.answerMoves([w], fail(clusterError('TIMEOUT', `no coordinator cycle planned the move within ${moveAnswerMaxMs} ms; nothing was done`, 'retry the move')));
      }, moveAnswerMaxMs);
      this.moveWaiters.push(w);
      this.s.kick();
    });
  }

  /** Move every group off `node` (to the best other node each). */
  drainNode(node: NodeName): void {
    for (const rec of Object.values(this.s.ownership())) {
      if (rec.node === node) this.pending.moves[rec.group] = null;
    }
  }

  /** Group online clears a Failed (threshold) state so the coordinator places it again (written with the next plan). */
  clearFailed(group: GroupName): void {
    if (!this.pending.cleared.includes(group)) this.pending.cleared.push(group);
  }

  /** Operator cleanup: the group's failover history is reset and its Failed state cleared (written with the next plan). */
  resetFailovers(group: GroupName): void {
    this.clearFailed(group);
    const reset = (this.pending.reset ??= []);
    if (!reset.includes(group)) reset.push(group);
  }

  /** Answer moves with their plan's write; a refused one is forgotten. */
  private answerMoves(waiters: MoveWaiter[], outcome: Result<void>): void {
    for (const w of waiters) {
      if (!outcome.ok && this.pending.moves[w.group] === w.target) delete this.pending.moves[w.group];
      w.resolve(outcome);
    }
  }

  /** Forget every request not yet written (a new term, shutdown): waiting callers are told. The written ones stay in the store's books. */
  dropMoves(e: ClusterError): void {
    this.answerMoves(this.moveWaiters.splice(0), fail(e));
    this.pending = noRequests();
  }

  /** At shutdown: wait (bounded) until our released groups have new owners, then step down. */
  async handOver(deadline: number): Promise<void> {
    const { s } = this;
    const { clock } = s.o;
    const mine = () => Object.values(s.ownership()).some((r) => r.node === s.name && this.hasOtherUpNode());
    while (s.isCoordinator() && mine() && clock.nowMs() < deadline) { s.kick(); await s.sleep(20); }
    if (!s.isCoordinator()) return;
    const c = s.coordinator();
    // A term this node writes is in its floor before the write (a store rebuilt after it starts above).
    if (!(await s.noteFloor(c.term + 1, 0)).ok) return;
    const res = await s.o.store.casCoordinator(c, { term: c.term + 1, node: null });
    if (res.ok && res.value) s.emitEvent('COORDINATOR_RELEASED', 'info', `node ${s.name} gave up the coordinator role (term ${s.coordinator().term + 1})`);
  }

  private hasOtherUpNode(): boolean {
    return Object.entries(this.s.nodeViews()).some(([n, v]) => n !== this.s.name && v.state === 'Up');
  }
}
