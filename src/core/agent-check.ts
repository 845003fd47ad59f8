// Save-time agent checks on each possible owner. Agents are installed per node, so a resource
// that runs an external agent (ocf, lsb) is checked against the agent of every node that may run
// it: its group's possible owners, or every node of the cluster when the group names none. This
// module decides, from the configuration after the batch and the nodes as the coordinator sees
// them, which resources are checked where (the coordinator's own monitor, another node's over
// its API, or nobody: a node that is not Up cannot answer), and folds every owner's answer into
// one verdict that names every problem at once. The node layer (node/agent-check.ts) asks.
//
// An owner that cannot answer (Down, Joining, no API address, unreachable) does not block the
// save: it is named in a warning (AGENT_CHECK_SKIPPED) and checks the agent itself when it next
// brings the resource online (a missing agent exits 5 there: the group fails over).

import { clusterError, type ClusterError, type ErrorCode } from './errors.js';
import type { ClusterConfig, ConfigUpdate, GroupName, NodeName, NodeState, ResourceName, ResourceType } from './types.js';

/** Types whose resources are checked against their agent when saved. */
export const agentCheckedTypes = ['ocf', 'lsb'] as const satisfies readonly ResourceType[];
const isChecked = (t: ResourceType): boolean => (agentCheckedTypes as readonly ResourceType[]).includes(t);

/** What one node's agent check says of one resource: nothing wrong, or its problem; and the agent's monitor interval. */
export interface OwnerCheck {
  problem?: { code: AgentProblemCode; message: string; hint?: string };
  monitorIntervalMs?: number;
}
export const agentProblemCodes = ['AGENT_NOT_FOUND', 'AGENT_PARAM_MISSING', 'AGENT_INVALID', 'AGENT_CHECK_FAILED'] as const satisfies readonly ErrorCode[];
export type AgentProblemCode = typeof agentProblemCodes[number];

/** A node as the coordinator sees it when the batch is saved. */
export interface CheckNode { state: NodeState; apiUrl: string | null }

export interface AgentCheckPlan {
  /** Resources the coordinator's own monitor checks (it is one of their possible owners). */
  local: ResourceName[];
  /** Other possible owners asked over their API, with the resources each checks. */
  remote: { node: NodeName; apiUrl: string; resources: ResourceName[] }[];
  /** Possible owners that cannot be asked now, and why. */
  skipped: { node: NodeName; reason: string }[];
  /** Every resource checked, with its possible owners (sorted) and its group. */
  owners: Record<ResourceName, NodeName[]>;
  groups: Record<ResourceName, GroupName>;
}

/** What an owner answered: its checks by resource, or why it could not be asked. */
export type OwnerAnswer =
  | { node: NodeName; checks: Record<ResourceName, OwnerCheck> }
  | { node: NodeName; unreachable: string };

export interface AgentVerdict {
  /** Every problem found, in one error (null: none). */
  error: ClusterError | null;
  /** Owners that did not check, and why: the warning of an accepted save, and part of a refusal's message. */
  skipped: { node: NodeName; reason: string }[];
  /** The agents' monitor intervals by resource (from the first owner, by name, that gave one). */
  monitorIntervalsMs: Record<ResourceName, number>;
}

/**
 * Whether the batch may name a resource to check (agentCheckTargets), decided without folding it:
 * a resource of an agent type created, a resource's private properties changed, or a group's
 * possible owners set. Most batches (a group created or changed, a resource of another type) do
 * not, and skip the fold, which copies a table of the configuration (20,000 groups: tens of ms).
 */
export function mayNeedAgentCheck(config: ClusterConfig, updates: readonly ConfigUpdate[]): boolean {
  for (const u of updates) {
    if (u.op === 'resource-create' && isChecked(u.type)) return true;
    if (u.op === 'resource-set' && u.priv !== undefined && Object.keys(u.priv).length > 0) {
      const r = Object.hasOwn(config.resources, u.resource) ? config.resources[u.resource] : undefined;
      if (!r || isChecked(r.type)) return true;
    }
    if ((u.op === 'group-set' || u.op === 'group-create') && u.possibleOwners !== undefined) return true;
  }
  return false;
}

/**
 * Resources of agent types the batch asks to check: created, their private properties changed,
 * or their group's possible owners changed (a new owner may lack the agent). `after` is the
 * configuration the batch leaves.
 */
export function agentCheckTargets(after: ClusterConfig, updates: readonly ConfigUpdate[]): ResourceName[] {
  const touched = new Set<ResourceName>();
  const groups = new Set<string>();
  for (const u of updates) {
    if (u.op === 'resource-create') touched.add(u.resource);
    else if (u.op === 'resource-set' && u.priv !== undefined && Object.keys(u.priv).length > 0) touched.add(u.resource);
    else if ((u.op === 'group-set' || u.op === 'group-create') && u.possibleOwners !== undefined) groups.add(u.group);
  }
  for (const r of Object.values(after.resources)) if (groups.has(r.group)) touched.add(r.name);
  return [...touched].filter((n) => Object.hasOwn(after.resources, n) && isChecked(after.resources[n]!.type)).sort();
}

/** The nodes that may run a resource: its group's possible owners, or every node when the group names none. */
export function agentCheckOwners(config: ClusterConfig, resource: ResourceName): NodeName[] {
  const g = config.groups[config.resources[resource]!.group];
  const all = Object.keys(config.nodes);
  const owners = g === undefined || g.possibleOwners.length === 0 ? all : g.possibleOwners.filter((n) => Object.hasOwn(config.nodes, n));
  return [...owners].sort();
}

/** Who checks what: the coordinator (`self`) for itself, every other Up or Paused owner with an API address over it. */
export function planAgentCheck(config: ClusterConfig, targets: readonly ResourceName[], self: NodeName, nodes: Readonly<Record<NodeName, CheckNode>>): AgentCheckPlan {
  const owners: Record<ResourceName, NodeName[]> = {};
  const groups: Record<ResourceName, GroupName> = {};
  const byNode = new Map<NodeName, ResourceName[]>();
  for (const r of targets) {
    owners[r] = agentCheckOwners(config, r);
    groups[r] = config.resources[r]!.group;
    for (const n of owners[r]!) byNode.set(n, [...(byNode.get(n) ?? []), r]);
  }
  const plan: AgentCheckPlan = { local: [], remote: [], skipped: [], owners, groups };
  for (const [node, resources] of [...byNode].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (node === self) { plan.local = resources; continue; }
    const v = nodes[node];
    if (v === undefined || (v.state !== 'Up' && v.state !== 'Paused')) plan.skipped.push({ node, reason: `${node} is ${v?.state ?? 'not known'}` });
    else if (v.apiUrl === null || v.apiUrl === '') plan.skipped.push({ node, reason: `${node} has published no API address` });
    else plan.remote.push({ node, apiUrl: v.apiUrl, resources });
  }
  return plan;
}

/**
 * One verdict from every owner's answer: each problem named with its code and node
 * (`AGENT_NOT_FOUND on n2: ...`). The error's code is the problems' code when they share one,
 * else AGENT_CHECK_REFUSED. A resource no owner could check is not refused.
 */
export function agentCheckVerdict(plan: AgentCheckPlan, answers: readonly OwnerAnswer[]): AgentVerdict {
  const skipped = [...plan.skipped];
  const problems: { resource: ResourceName; node: NodeName; code: AgentProblemCode; message: string; hint?: string }[] = [];
  const monitorIntervalsMs: Record<ResourceName, number> = {};
  for (const a of [...answers].sort((x, y) => (x.node < y.node ? -1 : x.node > y.node ? 1 : 0))) {
    if ('unreachable' in a) { skipped.push({ node: a.node, reason: `${a.node} could not be asked: ${a.unreachable}` }); continue; }
    for (const [resource, check] of Object.entries(a.checks)) {
      if (check.problem !== undefined) problems.push({ resource, node: a.node, ...check.problem });
      else if (check.monitorIntervalMs !== undefined && !Object.hasOwn(monitorIntervalsMs, resource)) monitorIntervalsMs[resource] = check.monitorIntervalMs;
    }
  }
  skipped.sort((x, y) => (x.node < y.node ? -1 : x.node > y.node ? 1 : 0));
  if (problems.length === 0) return { error: null, skipped, monitorIntervalsMs };
  const codes = [...new Set(problems.map((p) => p.code))];
  const code: ErrorCode = codes.length === 1 ? codes[0]! : 'AGENT_CHECK_REFUSED';
  const resources = [...new Set(problems.map((p) => p.resource))].sort();
  const parts = resources.map((r) => {
    const mine = problems.filter((p) => p.resource === r);
    return `resource '${r}' is refused on ${mine.length} of its ${plan.owners[r]?.length ?? mine.length} possible owner${(plan.owners[r]?.length ?? 1) > 1 ? 's' : ''}: `
      + mine.map((p) => `${p.code} on ${p.node}: ${p.message}`).join('; ');
  });
  const notChecked = skipped.length === 0 ? '' : ` (not checked: ${skipped.map((s) => s.reason).join('; ')})`;
  const group = plan.groups[resources[0]!] ?? 'GROUP';
  const restrict = `or restrict the group's possible owners to the nodes that have the agent (cluster group ${group} /prop possibleOwners=N1,N2)`;
  const hint = problems.length === 1 && problems[0]!.hint !== undefined ? `${problems[0]!.hint}; ${restrict}` : `fix the agent on each node named, ${restrict}`;
  return { error: clusterError(code, `${parts.join('. ')}${notChecked}; nothing was saved`, hint, resources.length === 1 ? `resources.${resources[0]}.priv` : undefined), skipped, monitorIntervalsMs };
}

/** The warning of an accepted save that some owners did not check. */
export function agentCheckSkippedText(plan: AgentCheckPlan, skipped: readonly { node: NodeName; reason: string }[]): string {
  const resources = Object.keys(plan.owners).filter((r) => plan.owners[r]!.some((n) => skipped.some((s) => s.node === n)));
  return `resource${resources.length > 1 ? 's' : ''} ${resources.map((r) => `'${r}'`).join(', ')} saved without the agent check of ${skipped.map((s) => s.reason).join('; ')}: `
    + 'each of those nodes checks the agent when it brings the resource online (a missing agent exits 5 there and the group fails over)';
}
