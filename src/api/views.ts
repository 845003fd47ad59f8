// What the API shows: status views built from one read-only snapshot of a node's picture of the
// cluster (node/snapshot.ts). Every view of one answer is built from the same snapshot.

import { groupResources } from '../core/config.js';
import { runtimeOf } from '../core/local.js';
import { maintenanceStatus } from '../core/maintenance.js';
import { blockedText, plannedChanges, type OwnershipRec, type WritesBlocked } from '../core/placement.js';
import { ownerIsDown, resourceOnDownOwner, shownGroup, type ShownResourceState } from '../core/shown-state.js';
import type { GroupName, NodeName, NodeState, ResourceConfig, ResourceRuntime } from '../core/types.js';
import type { NodeSnapshot } from '../node/snapshot.js';
import type { GroupView, NodeView, ResourceView, StatusSnapshot } from './types.js';

export { groupStateOf } from '../core/shown-state.js';

/** What every view of one answer shares: node states, whether the store refuses writes, the ownership changes due. */
interface Facts {
  states: Record<NodeName, NodeState>;
  blocked: WritesBlocked | null;
  /** Computed only when something is waiting (a Down owner, refused writes): a plan costs a pass over every group. */
  changes: () => Map<GroupName, OwnershipRec>;
}

function factsOf(n: NodeSnapshot): Facts {
  const states: Record<NodeName, NodeState> = {};
  for (const [name, v] of Object.entries(n.nodes)) states[name] = v.state;
  let changes: Map<GroupName, OwnershipRec> | null = null;
  return { states, blocked: n.writesBlocked, changes: () => (changes ??= plannedChanges(n.placement)) };
}

const ownerDown = (n: NodeSnapshot, f: Facts, group: GroupName): boolean => {
  const rec = n.ownership[group];
  return ownerIsDown({ rec, ownerState: rec?.node ? f.states[rec.node] : undefined });
};

export function nodeViews(n: NodeSnapshot): NodeView[] {
  const views = n.nodes;
  const reports = n.reports;
  return Object.keys(views).sort().map((name, i) => ({
    name, id: i + 1, state: views[name]!.state, draining: views[name]!.draining,
    apiUrl: reports[name]?.apiUrl ?? null, coordinator: n.coordinator.node === name,
  }));
}

export function resourceViews(n: NodeSnapshot, f: Facts = factsOf(n)): ResourceView[] {
  const reports = n.reports;
  return Object.values(n.config.resources).sort((a, b) => a.name.localeCompare(b.name)).map((r) => {
    const owner = n.ownership[r.group]?.node ?? null;
    const rt = owner ? reports[owner]?.groups[r.group]?.resources[r.name] : undefined;
    return resourceView(r, owner, rt, ownerDown(n, f, r.group));
  });
}

/** A Down owner's report is history: what it ran shows Unknown, and its in-memory maintenance died with it (core/shown-state.ts). */
function resourceView(r: ResourceConfig, owner: string | null, rt: ResourceRuntime | undefined, downOwner = false): ResourceView {
  const state: ShownResourceState = downOwner ? resourceOnDownOwner(rt?.state) : rt?.state ?? 'Offline';
  const maintenance = downOwner || state === 'Unknown' ? undefined : rt?.maintenance;
  const v: ResourceView = {
    name: r.name, group: r.group, type: r.type, node: owner, state, status: state === 'Unknown' ? state : maintenanceStatus(state, maintenance), desired: r.desired,
    dependsOn: r.dependsOn, props: r.props, priv: r.priv, restarts: rt?.restarts ?? 0,
  };
  if (rt?.error) v.error = rt.error;
  if (maintenance) v.maintenance = maintenance;
  return v;
}

/** A resource as this node runs it right now (its own runtime, not its last published report): answers to operations done here. */
export function localResourceView(n: NodeSnapshot, name: string): ResourceView | undefined {
  const r = n.config.resources[name];
  if (!r) return undefined;
  const lr = n.local.groups[r.group]?.resources[name];
  if (!lr) return resourceViews(n).find((v) => v.name === name);
  return resourceView(r, n.name, runtimeOf(lr));
}

export function groupViews(n: NodeSnapshot, f: Facts = factsOf(n), resources: ResourceView[] = resourceViews(n, f)): GroupView[] {
  const nodeCount = Object.keys(f.states).length;
  // States per group in one pass over the resources (not one pass per group).
  const statesOf = new Map<string, ShownResourceState[]>();
  for (const r of resources) {
    const list = statesOf.get(r.group);
    if (list) list.push(r.state); else statesOf.set(r.group, [r.state]);
  }
  return Object.values(n.config.groups).sort((a, b) => a.name.localeCompare(b.name)).map((g) => groupViewOf(n, f, g.name, statesOf.get(g.name) ?? [], nodeCount));
}

function groupViewOf(n: NodeSnapshot, f: Facts, group: GroupName, states: ShownResourceState[], nodeCount: number): GroupView {
  const g = n.config.groups[group]!;
  const members = groupResources(n.config, g.name).map((r) => r.name);
  const rec = n.ownership[g.name];
  const down = ownerDown(n, f, g.name);
  const change = down || f.blocked ? f.changes().get(g.name) : undefined;
  const shown = shownGroup({ rec, ownerState: rec?.node ? f.states[rec.node] : undefined, resourceStates: states, change, blocked: f.blocked });
  const view: GroupView = {
    name: g.name, state: shown.state, node: rec?.node ?? null, epoch: rec?.epoch ?? 0,
    preferredOwners: g.preferredOwners, possibleOwners: g.possibleOwners,
    failoverThreshold: g.failoverThreshold ?? Math.max(0, nodeCount - 1), failoverPeriodMs: g.failoverPeriodMs,
    failback: g.failback, resources: members,
  };
  if (shown.reason) view.reason = shown.reason;
  if (shown.blockedBy) view.blockedBy = shown.blockedBy;
  return view;
}

/** One resource's view, the same as its entry in resourceViews, in time independent of the cluster's size. */
export function oneResourceView(n: NodeSnapshot, name: string): ResourceView | undefined {
  const r = Object.hasOwn(n.config.resources, name) ? n.config.resources[name] : undefined;
  if (!r) return undefined;
  const owner = n.ownership[r.group]?.node ?? null;
  const rt = owner ? n.reports[owner]?.groups[r.group]?.resources[r.name] : undefined;
  return resourceView(r, owner, rt, ownerDown(n, factsOf(n), r.group));
}

/**
 * One group's view, the same as its entry in groupViews, in time independent of the cluster's
 * size: every write's answer shows its group, and a pass over all of them per write makes a
 * burst of writes quadratic.
 */
export function oneGroupView(n: NodeSnapshot, name: string): GroupView | undefined {
  if (!Object.hasOwn(n.config.groups, name)) return undefined;
  const f = factsOf(n);
  const down = ownerDown(n, f, name);
  const owner = n.ownership[name]?.node ?? null;
  const states = groupResources(n.config, name).map((r) => resourceView(r, owner, owner ? n.reports[owner]?.groups[name]?.resources[r.name] : undefined, down).state);
  return groupViewOf(n, f, name, states, Object.keys(f.states).length);
}

export function statusSnapshot(n: NodeSnapshot): StatusSnapshot {
  const f = factsOf(n);
  const resources = resourceViews(n, f);
  const groups = groupViews(n, f, resources);
  const nodes = nodeViews(n);
  const warnings: string[] = [];
  if (f.blocked) {
    const held = groups.filter((g) => g.blockedBy).map((g) => g.name);
    warnings.push(`${blockedText(f.blocked)}: ${f.blocked.message}. Until there is room, configuration changes, failovers, moves, coordinator elections and ` +
      `event logging are refused (leases keep renewing)${held.length > 0 ? `; held now: group(s) ${held.join(', ')}` : ''}. Free space there: everything resumes by itself`);
  }
  if (!n.coordinator.node) warnings.push('no coordinator is elected: groups cannot move until one is');
  for (const nv of nodes) if (nv.state === 'Down') warnings.push(`node ${nv.name} is Down`);
  for (const g of groups) if (g.state === 'Failed') warnings.push(`group ${g.name} is Failed: cluster why ${g.name}`);
  warnings.push(...failureReasons(resources));
  for (const g of groups) if (g.reason) warnings.push(`group ${g.name} is ${g.state}: ${g.reason}: cluster why ${g.name}`);
  for (const r of resources) {
    if (!r.maintenance) continue;
    const mins = Math.max(0, Math.floor((n.wallMs - r.maintenance.sinceWallMs) / 60_000));
    const how = r.maintenance.mode === 'extended' ? 'extended maintenance (dismounted, no health or device checks)' : 'maintenance mode (health checks suppressed)';
    const clear = r.maintenance.mode === 'extended' ? `/extmaint:0 then /maint:off` : '/maint:off';
    warnings.push(`disk ${r.name} on ${r.node} has been in ${how} for ${mins} min: failures are ignored until cleared: cluster res "${r.name}" ${clear}`);
  }
  for (const k of n.skippedRecords ?? []) {
    warnings.push(`quorum log record ${k.seq} was skipped: this version refuses it (${k.reason}); the change is not in the configuration. cluster checkpoint drops it from the log`);
  }
  if (n.eventsDropped > 0) warnings.push(`${n.eventsDropped} events were dropped (event queue full)`);
  const snap: StatusSnapshot = {
    cluster: n.config.name, node: n.name, coordinator: n.coordinator.node, term: n.coordinator.term,
    appliedSeq: n.appliedSeq, nodes, groups, resources, warnings,
  };
  if (f.blocked) snap.quorumWritesBlocked = f.blocked;
  return snap;
}

/** Why each Failed resource (of one group, or all) failed, and the two ways out: for status warnings and `cluster why`. */
export function failureReasons(resources: readonly ResourceView[], group?: string): string[] {
  return resources.filter((r) => r.state === 'Failed' && (group === undefined || r.group === group)).map((r) =>
    `resource ${r.name} is Failed${r.node ? ` on ${r.node}` : ''}: ${r.error ?? 'no reason reported'}; cluster res "${r.name}" /cleanup starts it afresh, /offline takes it offline`);
}
