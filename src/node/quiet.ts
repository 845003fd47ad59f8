// Quiet cycles: a cycle whose facts are those of the cycle before, which did nothing, does nothing
// again, so it skips the passes over every group that would find so (issue 13: with 20,000 groups
// an idle node spent a third of a core on them, ten times a second, and a loaded one stalled).
//
// Three parts of a cycle are skipped that way, each on its own rule:
//   - the local reconcile (core/local.ts), when the local state, the configuration, the ownership
//     records and the shutdown flag are those it last ran on, it returned nothing, refused no start
//     for want of a lease, and no clock rule it read has fallen due since (LocalWake);
//   - the coordinator's plan (core/step.ts), when the configuration, the ownership records, the
//     reports, the term, the nodes' states and incarnations, the failback hour and a blocked store
//     are those it last planned from, that plan wrote, registered and said nothing, and no operator
//     request is waiting;
//   - the report (node/report.ts), when the local state and the rest of its body are those of the
//     report last written.
// Facts are compared by identity where the node replaces them whole on a change (the configuration,
// the ownership and report tables read from the store) and by a counter where it changes them in
// place (the local state: node.ts counts every change that does not come from a reconcile).
//
// With `check` (NodeOptions checkQuietCycles: the simulator sets it), nothing is skipped: each
// cycle runs in full and an invariant fails when a part the rule would have skipped did something.
// So the rule is checked on every schedule the simulator explores; real nodes skip.

import { invariant } from '../core/invariant.js';
import { noWake, type LocalContext, type LocalState, type LocalWake } from '../core/local.js';
import { coordinatorPartQuiet, planStep, type CoordinatorFacts, type Step } from '../core/step.js';

/** What the local reconcile reads, besides the clock and mayStart. */
export interface LocalFacts {
  version: number;
  config: object;
  ownership: object;
  shuttingDown: boolean;
}

/** What the coordinator's plan reads, besides the wall clock's milliseconds (see planQuiet). */
export interface PlanFacts {
  config: object;
  ownership: object;
  reports: object;
  term: number;
  wallHour: number;
  /** Each node's state, draining flag, incarnation and lease state, in a string. */
  nodes: string;
  /** The code of a store refusing writes, or ''. */
  writesBlocked: string;
}

/** Every fact of `b` is that of `a` (by identity or value). */
export function sameFacts<T extends object>(a: T | null, b: T): boolean {
  if (!a) return false;
  for (const k of Object.keys(b) as (keyof T)[]) if (a[k] !== b[k]) return false;
  return true;
}

export class QuietCycles {
  private local: { facts: LocalFacts; wake: LocalWake } | null = null;
  private plan: PlanFacts | null = null;

  constructor(readonly check: boolean) {}

  /** The reconcile would do nothing: the facts of its last run, which did nothing, before its wake-up time. */
  localQuiet(facts: LocalFacts, nowMs: number): boolean {
    const last = this.local;
    return !!last && sameFacts(last.facts, facts) && !last.wake.startRefused && nowMs < last.wake.atMs;
  }

  /** A reconcile ran on `facts` (the local state's version after it) and returned `actions` actions. */
  localRan(facts: LocalFacts, wake: LocalWake, actions: number): void {
    this.local = actions === 0 ? { facts, wake } : null;
  }

  /**
   * The plan would do nothing: the facts of the last plan, which did nothing. The wall clock's
   * milliseconds are left out: they count failovers within a period, which only a group failing
   * over reads, and a failing group's plan writes (a Failed group stays Failed until an operator
   * asks). The simulator's check mode holds this rule to account.
   */
  planQuiet(facts: PlanFacts | null): boolean {
    return facts !== null && sameFacts(this.plan, facts);
  }

  /** A plan ran on `facts`; `quiet` when it wrote, registered and said nothing. */
  planRan(facts: PlanFacts | null, quiet: boolean): void {
    this.plan = quiet ? facts : null;
  }
}

/** What planQuietStep needs of the node. */
export interface QuietStepInput<Asked> {
  local: LocalState;
  context: LocalContext;
  /** The local state's version now (node.ts counts its changes). */
  version: () => number;
  /** A reconcile ran: count it as a change, and give the version after it. */
  reconciled: () => number;
  /** This node's coordinator duties when it coordinates this cycle's term. */
  coordinator: { planFacts(): PlanFacts | null; facts(): { facts: CoordinatorFacts; asked: Asked[] } } | null;
}

/** Plan the cycle's one output (core/step.ts planStep), skipping the parts the quiet rule allows (or, with `check`, checking they did nothing). */
export function planQuietStep<Asked>(q: QuietCycles, c: QuietStepInput<Asked>): { step: Step; asked: Asked[] } {
  const planFacts = c.coordinator ? c.coordinator.planFacts() : null;
  const planQuiet = q.planQuiet(planFacts);
  const coordinating = c.coordinator && (!planQuiet || q.check) ? c.coordinator.facts() : null;
  const context = { ...c.context, wake: noWake() };
  const localFacts: LocalFacts = { version: c.version(), config: c.context.config, ownership: c.context.ownership, shuttingDown: c.context.shuttingDown };
  const localQuiet = q.localQuiet(localFacts, context.nowMs);
  const skipLocal = localQuiet && !q.check;
  const step = planStep({ local: c.local, localContext: context, localQuiet: skipLocal, coordinator: coordinating?.facts ?? (planQuiet ? 'quiet' : null) });
  if (coordinating) {
    const done = coordinatorPartQuiet(step);
    invariant(!planQuiet || done, 'quiet-plan', () => `the coordinator's plan did something from the facts of its last plan, which did nothing: ${JSON.stringify({ persist: step.persist, settle: step.settle })}`);
    q.planRan(planFacts, done);
  }
  if (!skipLocal) {
    invariant(!localQuiet || step.monitor.length === 0, 'quiet-local', () => `the reconcile did something from the facts of its last run, which did nothing: ${JSON.stringify(step.monitor)}`);
    q.localRan({ ...localFacts, version: c.reconciled() }, context.wake, step.monitor.length);
  }
  return { step, asked: coordinating?.asked ?? [] };
}
