// What the API shows: status views built from one node's picture of the cluster.

import { groupResources } from '../core/config.js';
import { runtimeOf } from '../core/local.js';
import { maintenanceStatus } from '../core/maintenance.js';
import type { GroupState, ResourceConfig, ResourceRuntime, ResourceState } from '../core/types.js';
import type { GroupView, NodeView, ResourceView, StatusSnapshot } from '../api/types.js';
import type { ClusterNode } from './node.js';

export function groupStateOf(states: ResourceState[]): GroupState {
  if (states.length === 0 || states.every((s) => s === 'Offline')) return 'Offline';
  if (states.every((s) => s === 'Online')) return 'Online';
  if (states.some((s) => s === 'OnlinePending' || s === 'OfflinePending')) return 'Pending';
  if (states.some((s) => s === 'Failed')) return 'Failed';
  return 'Partially Online';
}

export function nodeViews(n: ClusterNode): NodeView[] {
  const views = n.nodeViews();
  const reports = n.currentReports();
  return Object.keys(views).sort().map((name, i) => ({
    name, id: i + 1, state: views[name]!.state, draining: views[name]!.draining,
    apiUrl: reports[name]?.apiUrl ?? null, coordinator: n.coordinator.node === name,
  }));
}

export function resourceViews(n: ClusterNode): ResourceView[] {
  const reports = n.currentReports();
  return Object.values(n.config.resources).sort((a, b) => a.name.localeCompare(b.name)).map((r) => {
    const owner = n.ownership[r.group]?.node ?? null;
    return resourceView(r, owner, owner ? reports[owner]?.groups[r.group]?.resources[r.name] : undefined);
  });
}

function resourceView(r: ResourceConfig, owner: string | null, rt: ResourceRuntime | undefined): ResourceView {
  const state: ResourceState = rt?.state ?? 'Offline';
  const v: ResourceView = {
    name: r.name, group: r.group, type: r.type, node: owner, state, status: maintenanceStatus(state, rt?.maintenance), desired: r.desired,
    dependsOn: r.dependsOn, props: r.props, priv: r.priv, restarts: rt?.restarts ?? 0,
  };
  if (rt?.error) v.error = rt.error;
  if (rt?.maintenance) v.maintenance = rt.maintenance;
  return v;
}

/** A resource as this node runs it right now (its own runtime, not its last published report): answers to operations done here. */
export function localResourceView(n: ClusterNode, name: string): ResourceView | undefined {
  const r = n.config.resources[name];
  if (!r) return undefined;
  const lr = n.local.groups[r.group]?.resources[name];
  if (!lr) return resourceViews(n).find((v) => v.name === name);
  return resourceView(r, n.name, runtimeOf(lr));
}

export function groupViews(n: ClusterNode, resources: ResourceView[] = resourceViews(n)): GroupView[] {
  const nodeCount = Object.keys(n.nodeViews()).length;
  // States per group in one pass over the resources (not one pass per group).
  const statesOf = new Map<string, ResourceState[]>();
  for (const r of resources) {
    const list = statesOf.get(r.group);
    if (list) list.push(r.state); else statesOf.set(r.group, [r.state]);
  }
  return Object.values(n.config.groups).sort((a, b) => a.name.localeCompare(b.name)).map((g) => {
    const members = groupResources(n.config, g.name).map((r) => r.name);
    const states = statesOf.get(g.name) ?? [];
    const rec = n.ownership[g.name];
    return {
      name: g.name, state: groupStateOf(states), node: rec?.node ?? null, epoch: rec?.epoch ?? 0,
      preferredOwners: g.preferredOwners, possibleOwners: g.possibleOwners,
      failoverThreshold: g.failoverThreshold ?? Math.max(0, nodeCount - 1), failoverPeriodMs: g.failoverPeriodMs,
      failback: g.failback, resources: members,
    };
  });
}

export function statusSnapshot(n: ClusterNode): StatusSnapshot {
  const resources = resourceViews(n);
  const groups = groupViews(n, resources);
  const nodes = nodeViews(n);
  const warnings: string[] = [];
  if (!n.coordinator.node) warnings.push('no coordinator is elected: groups cannot move until one is');
  for (const nv of nodes) if (nv.state === 'Down') warnings.push(`node ${nv.name} is Down`);
  for (const g of groups) if (g.state === 'Failed') warnings.push(`group ${g.name} is Failed: cluster why ${g.name}`);
  for (const r of resources) {
    if (!r.maintenance) continue;
    const mins = Math.max(0, Math.floor((n.wallMs() - r.maintenance.sinceWallMs) / 60_000));
    const how = r.maintenance.mode === 'extended' ? 'extended maintenance (dismounted, no health or device checks)' : 'maintenance mode (health checks suppressed)';
    const clear = r.maintenance.mode === 'extended' ? `/extmaint:0 then /maint:off` : '/maint:off';
    warnings.push(`disk ${r.name} on ${r.node} has been in ${how} for ${mins} min: failures are ignored until cleared: cluster res "${r.name}" ${clear}`);
  }
  if (n.eventsDropped > 0) warnings.push(`${n.eventsDropped} events were dropped (event queue full)`);
  return {
    cluster: n.config.name, node: n.name, coordinator: n.coordinator.node, term: n.coordinator.term,
    appliedSeq: n.appliedSeq, nodes, groups, resources, warnings,
  };
}
