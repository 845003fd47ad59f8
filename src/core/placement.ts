// The failover manager's scheduler: a pure function from a snapshot of the cluster to the
// ownership records the coordinator must write, with a reason for every decision (so that
// `cluster why GROUP` can explain it). Like Pacemaker's scheduler, it can run offline on a
// snapshot; unlike it, it explains itself.
//
// Ownership protocol (safety rule 1 and 2):
// - (owner, run, e): owner may run the group under epoch e.
// - To move: write (owner, stop, e); the owner takes everything offline and reports the group
//   released for e; only then (owner', run, e+1).
// - If the owner is Down (lease expired on this observer's clock, which implies its self-fence
//   deadline passed, or its lease says stopped/fenced), write (other, run, e+1) at once.

import type { EventName } from './events.js';
import { invariant } from './invariant.js';
import { own } from './table.js';
import type { ClusterConfig, GroupBooks, GroupName, NodeName, NodeState } from './types.js';

export interface OwnershipRec {
  group: GroupName;
  node: NodeName | null;
  epoch: number;
  term: number;
  phase: 'run' | 'stop';
  /** The coordinator's bookkeeping of the group (core/books.ts); absent when there is none. */
  books?: GroupBooks;
}

export interface GroupReportView {
  epoch: number;
  released: boolean;
  failoverRequested?: boolean;
  fenced?: boolean;
}

export interface NodeView {
  state: NodeState;
  draining: boolean;
}

export interface PlacementInput {
  config: ClusterConfig;
  term: number;
  /** The coordinator's wall clock (ms): failover times are kept in it, since they outlive the coordinator (core/books.ts). */
  wallMs: number;
  /** Local wall-clock hour of the coordinator (0..23), for failback windows. */
  wallHour: number;
  nodes: Record<NodeName, NodeView>;
  ownership: Record<GroupName, OwnershipRec>;
  /** reports[node][group] from the node's current incarnation. */
  reports: Record<NodeName, Record<GroupName, GroupReportView>>;
  /** Operator move requests not yet carried out: group -> target node (null: best other node). */
  moveRequests: Record<GroupName, NodeName | null>;
  /** Wall-clock times (ms) of past failovers per group, for the failover threshold (core/books.ts). */
  failoverHistoryMs: Record<GroupName, number[]>;
  /** Epoch whose failover request was already counted, per group. */
  failoverHandledEpoch: Record<GroupName, number>;
  /** Groups left Failed after exhausting their failover threshold: epoch at which they failed. */
  failedGroups: Record<GroupName, number>;
  /** Why the quorum store refuses writes right now (a full quorum disk), as this node last saw; absent or null when it accepts them. */
  writesBlocked?: WritesBlocked | null;
}

/** A refusal of the quorum store that blocks every ownership change: its error code and message. */
export interface WritesBlocked {
  code: string;
  message: string;
}

/** "the quorum disk is full": what a blocked write is waiting for, in a few words. */
export function blockedText(b: WritesBlocked): string {
  return b.code === 'QUORUM_DISK_FULL' ? 'the quorum disk is full' : `the quorum store refuses writes (${b.code})`;
}

export interface PlacementNote {
  group: GroupName;
  event: EventName;
  level: 'info' | 'warning' | 'error';
  message: string;
}

export interface PlacementPlan {
  records: OwnershipRec[];
  notes: PlacementNote[];
  /** Moves carried out (or found impossible): remove them from the request list. */
  movesDone: GroupName[];
  /** Groups whose failover request for the current epoch is now counted. */
  failoversCounted: { group: GroupName; epoch: number }[];
  newlyFailed: { group: GroupName; epoch: number }[];
}

export interface Candidate {
  node: NodeName;
  eligible: boolean;
  reason: string;
}

/** Groups each node holds a record for (what candidates rank by): node -> count. */
export type Loads = ReadonlyMap<NodeName, number>;

export function loadsOf(ownership: Record<GroupName, OwnershipRec>): Map<NodeName, number> {
  const load = new Map<NodeName, number>();
  for (const rec of Object.values(ownership)) if (rec.node) load.set(rec.node, (load.get(rec.node) ?? 0) + 1);
  return load;
}

/**
 * Every node with its eligibility for `group`, in preference order (eligible first). `load` is
 * loadsOf(input.ownership), given by planPlacement (which keeps it up to date as it plans) so that
 * placing many groups does not count every record again for each group.
 */
export function candidates(input: PlacementInput, group: GroupName, exclude: NodeName[] = [], load: Loads = loadsOf(input.ownership)): Candidate[] {
  const g = own(input.config.groups, group);
  if (!g) return [];
  const all = Object.keys(input.nodes).sort();
  // Rank once per node: [eligible first, preferred-owner position, load, name].
  const ranked = all.map((node) => {
    const v = input.nodes[node]!;
    let reason = 'eligible';
    if (v.state === 'Down') reason = 'node is Down';
    else if (v.draining) reason = 'node is draining (shutting down)';
    else if (v.state === 'Paused') reason = 'node is Paused';
    else if (v.state === 'Joining') reason = 'node is still Joining';
    else if (g.possibleOwners.length > 0 && !g.possibleOwners.includes(node)) reason = 'not a possible owner';
    else if (exclude.includes(node)) reason = 'the group just failed there';
    const eligible = reason === 'eligible';
    const pref = g.preferredOwners.indexOf(node);
    return {
      c: { node, eligible, reason } as Candidate,
      r0: eligible ? 0 : 1, r1: pref >= 0 ? pref : g.preferredOwners.length, r2: load.get(node) ?? 0,
    };
  });
  ranked.sort((a, b) => (a.r0 - b.r0) || (a.r1 - b.r1) || (a.r2 - b.r2) || a.c.node.localeCompare(b.c.node));
  return ranked.map((x) => x.c);
}

export function chooseNode(input: PlacementInput, group: GroupName, exclude: NodeName[] = [], load?: Loads): NodeName | null {
  const first = candidates(input, group, exclude, load)[0];
  return first?.eligible ? first.node : null;
}

/** The failover times of `times` within `periodMs` before `wallMs` (a time after `wallMs` counts). */
export function failoversWithin(times: readonly number[], wallMs: number, periodMs: number): number[] {
  return times.filter((t) => wallMs - t < periodMs);
}

function failoverThreshold(input: PlacementInput, group: GroupName): number {
  const t = own(input.config.groups, group)?.failoverThreshold;
  return t ?? Math.max(0, Object.keys(input.nodes).length - 1);
}

function failoversInPeriod(input: PlacementInput, group: GroupName): number {
  const period = own(input.config.groups, group)?.failoverPeriodMs ?? 0;
  return failoversWithin(input.failoverHistoryMs[group] ?? [], input.wallMs, period).length;
}

/** Why the group should leave its (alive) owner now, or null. */
export function moveReason(input: PlacementInput, rec: OwnershipRec, load?: Loads): string | null {
  const owner = rec.node!;
  const view = input.nodes[owner];
  const g = own(input.config.groups, rec.group)!;
  const rep = input.reports[owner]?.[rec.group];
  if (rec.group in input.moveRequests) {
    const target = input.moveRequests[rec.group];
    if (target !== owner) return target ? `operator move to ${target}` : 'operator move';
  }
  if (view?.draining) return `node ${owner} is draining`;
  if (rep && rep.epoch === rec.epoch && rep.failoverRequested && input.failedGroups[rec.group] === undefined) return `group failed on ${owner}`;
  if (g.possibleOwners.length > 0 && !g.possibleOwners.includes(owner)) return `${owner} is no longer a possible owner`;
  if (g.failback.mode !== 'never') {
    const inWindow = g.failback.mode === 'immediate' || hourInWindow(input.wallHour, g.failback.startHour, g.failback.endHour);
    const best = chooseNode(input, rec.group, [], load);
    const bestPref = best ? g.preferredOwners.indexOf(best) : -1;
    const ownerPref = g.preferredOwners.indexOf(owner);
    if (inWindow && best && bestPref >= 0 && (ownerPref < 0 || bestPref < ownerPref)) return `failback to preferred owner ${best}`;
  }
  return null;
}

export function hourInWindow(hour: number, start: number, end: number): boolean {
  return start <= end ? hour >= start && hour < end : hour >= start || hour < end;
}

function planGroup(input: PlacementInput, group: GroupName, plan: PlacementPlan, load: Loads): void {
  const rec = input.ownership[group];
  const write = (node: NodeName | null, epoch: number, phase: 'run' | 'stop') =>
    plan.records.push({ group, node, epoch, term: input.term, phase });
  if (!rec) {
    const target = chooseNode(input, group, [], load);
    if (target) {
      write(target, 1, 'run');
      plan.notes.push({ group, event: 'GROUP_PLACED', level: 'info', message: `group ${group} placed on ${target}` });
    }
    return;
  }
  const owner = rec.node;
  const ownerView = owner ? input.nodes[owner] : undefined;
  const ownerDown = !owner || !ownerView || ownerView.state === 'Down';
  const rep = owner ? input.reports[owner]?.[group] : undefined;
  const released = !!rep && rep.epoch === rec.epoch && rep.released;

  if (ownerDown || released) {
    if (!ownerDown && input.failedGroups[group] === rec.epoch) return; // left Failed until an operator acts
    const exclude: NodeName[] = [];
    const failoverAsked = !ownerDown && !!rep?.failoverRequested && input.failoverHandledEpoch[group] !== rec.epoch;
    if (failoverAsked) {
      plan.failoversCounted.push({ group, epoch: rec.epoch });
      if (failoversInPeriod(input, group) >= failoverThreshold(input, group)) {
        plan.newlyFailed.push({ group, epoch: rec.epoch });
        plan.notes.push({ group, event: 'GROUP_FAILOVER_THRESHOLD', level: 'error',
          message: `group ${group} failed on ${owner} and reached its failover threshold (${failoverThreshold(input, group)} in ${own(input.config.groups, group)?.failoverPeriodMs} ms): left Failed. Bring it online to retry: cluster group ${group} /online` });
        return;
      }
      exclude.push(owner!);
    }
    if (!ownerDown && ownerView?.draining) exclude.push(owner!);
    // A move to "any other node" (drain) must not give the group back to its owner.
    if (!ownerDown && group in input.moveRequests && input.moveRequests[group] === null) exclude.push(owner!);
    let target: NodeName | null = null;
    const requested = input.moveRequests[group];
    if (requested && candidates(input, group, [], load).some((c) => c.node === requested && c.eligible)) target = requested;
    else target = chooseNode(input, group, exclude, load);
    if (group in input.moveRequests) plan.movesDone.push(group);
    if (target) {
      write(target, rec.epoch + 1, 'run');
      const why = ownerDown ? `${owner ?? 'no node'} is Down` : failoverAsked ? `it failed on ${owner}` : `${owner} released it`;
      plan.notes.push({ group, event: ownerDown ? 'GROUP_FAILOVER' : 'GROUP_MOVED', level: ownerDown || failoverAsked ? 'warning' : 'info',
        message: `group ${group} assigned to ${target} (epoch ${rec.epoch + 1}): ${why}` });
    } else if (owner !== null && ownerDown) {
      // Nobody may run it under the dead owner's epoch; park it unplaced.
      write(null, rec.epoch + 1, 'run');
      plan.notes.push({ group, event: 'GROUP_NO_NODE', level: 'error', message: `group ${group} cannot run anywhere: ${owner} is Down and no other node is eligible (cluster why ${group})` });
    }
    return;
  }
  if (rec.phase === 'run') {
    const reason = moveReason(input, rec, load);
    if (reason) {
      write(owner, rec.epoch, 'stop');
      plan.notes.push({ group, event: 'GROUP_MOVING', level: 'info', message: `group ${group} is being taken offline on ${owner}: ${reason}` });
      return;
    }
  }
  if (rec.term !== input.term) write(owner, rec.epoch, rec.phase); // adopt under the current term
}

export function planPlacement(input: PlacementInput): PlacementPlan {
  const plan: PlacementPlan = { records: [], notes: [], movesDone: [], failoversCounted: [], newlyFailed: [] };
  // Records planned so far count toward each node's load, so that new groups spread out: the loads
  // are counted once, then kept equal to those of the stored records with the planned ones in their
  // place. Each group is planned once and reads only its own record, so the stored records are
  // read as they are (a copy of 20,000 of them cost more than the rest of the plan).
  const load = loadsOf(input.ownership);
  for (const group of Object.keys(input.config.groups).sort()) {
    const before = plan.records.length;
    planGroup(input, group, plan, load);
    invariant(plan.records.length - before <= 1, 'one-record-per-group', () => `group ${group} planned ${plan.records.length - before} records`);
    for (let i = before; i < plan.records.length; i++) {
      const r = plan.records[i]!;
      invariant(r.group === group, 'record-of-its-group', () => `planning group ${group} wrote a record of ${r.group}`);
      const cur = input.ownership[r.group];
      // Rules 4 and 6: a record is written under the current term, its epoch never goes back, and a new owner comes with a new epoch.
      invariant(r.term === input.term, 'record-term', () => `group ${r.group} planned under term ${r.term}, the term is ${input.term}`);
      invariant(!cur || r.epoch >= cur.epoch, 'epoch-forward', () => `group ${r.group} planned at epoch ${r.epoch} below ${cur!.epoch}`);
      invariant(!cur || r.node === cur.node || r.epoch > cur.epoch, 'new-owner-new-epoch', () => `group ${r.group} planned on ${r.node ?? 'no node'} at epoch ${r.epoch}, owned by ${cur!.node ?? 'no node'} at it`);
      const old = cur?.node;
      if (old) {
        const n = load.get(old)! - 1;
        if (n === 0) load.delete(old); else load.set(old, n);
      }
      if (r.node) load.set(r.node, (load.get(r.node) ?? 0) + 1);
    }
  }
  return plan;
}

/**
 * The ownership changes the coordinator would write now, per group: placements, failovers, moves
 * (stop or run on the next node). A record that only re-adopts the same assignment under a new
 * term is not a change and is left out.
 */
export function plannedChanges(input: PlacementInput): Map<GroupName, OwnershipRec> {
  const out = new Map<GroupName, OwnershipRec>();
  for (const r of planPlacement(input).records) {
    const cur = input.ownership[r.group];
    if (!cur || cur.node !== r.node || cur.epoch !== r.epoch || cur.phase !== r.phase) out.set(r.group, r);
  }
  return out;
}

/** An ownership change in words: "failover to n3", "taking it offline on n1 to move it". */
export function changeText(cur: OwnershipRec | undefined, next: OwnershipRec, ownerDown: boolean): string {
  if (!cur || cur.node === null) return next.node ? `placement on ${next.node}` : 'placement';
  if (next.phase === 'stop') return `taking it offline on ${cur.node} to move it`;
  if (next.node === null) return `parking it unplaced (${cur.node} is Down)`;
  return `${ownerDown ? 'failover' : 'move'} to ${next.node} (epoch ${next.epoch})`;
}

/** `cluster why GROUP`: where it runs or why it runs nowhere, and each node's eligibility. */
export function explain(input: PlacementInput, group: GroupName): { reasons: string[]; candidates: Candidate[]; blockedBy?: string } {
  const rec = input.ownership[group];
  const reasons: string[] = [];
  if (!own(input.config.groups, group)) return { reasons: [`no group ${group}`], candidates: [] };
  const cands = candidates(input, group);
  if (!rec || rec.node === null) {
    reasons.push(cands.some((c) => c.eligible) ? 'not placed yet: the coordinator will place it on the first eligible node' : 'runs nowhere: no node is eligible (see the candidates)');
  }
  if (rec && rec.node !== null) {
    const g = own(input.config.groups, group)!;
    const pref = g.preferredOwners.indexOf(rec.node);
    reasons.push(`owned by ${rec.node} (epoch ${rec.epoch}, phase ${rec.phase})` +
      (pref >= 0 ? `: preferred owner #${pref + 1}` : g.preferredOwners.length > 0 ? ': not a preferred owner (no preferred owner was eligible when it was placed)' : ': no preferred owners set; placed on the least loaded eligible node'));
    const mr = input.nodes[rec.node]?.state !== 'Down' ? moveReason(input, rec) : `${rec.node} is Down`;
    if (mr) reasons.push(`leaving ${rec.node}: ${mr}`);
    if (input.failedGroups[group] !== undefined) reasons.push(`Failed: failover threshold reached; bring it online to retry`);
    if (g.failback.mode === 'never' && pref !== 0 && g.preferredOwners.length > 0) reasons.push('failback is never: the group stays where it is until moved');
  }
  // The ownership change it waits for: first of all when the quorum store refuses to write it.
  const ownerDown = !!rec?.node && (input.nodes[rec.node]?.state ?? 'Down') === 'Down';
  const change = plannedChanges(input).get(group);
  const blocked = change ? input.writesBlocked ?? null : null;
  if (change && blocked) {
    reasons.unshift(`blocked: ${changeText(rec, change, ownerDown)} cannot be written: ${blockedText(blocked)} (${blocked.message}); ` +
      'it happens by itself once the quorum store accepts writes again');
  } else if (change) {
    reasons.push(`due: ${changeText(rec, change, ownerDown)} at the coordinator's next cycle`);
  }
  const n = failoversInPeriod(input, group);
  if (n > 0) reasons.push(`${n} failover(s) within the failover period (threshold ${failoverThreshold(input, group)})`);
  return blocked ? { reasons, candidates: cands, blockedBy: blocked.code } : { reasons, candidates: cands };
}
