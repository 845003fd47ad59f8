// Save-time checks of resources whose type runs an external agent (ocf, lsb): before the
// coordinator commits an update that creates one, changes its private properties or changes its
// group's possible owners, every possible owner checks it against its own agent: the agent is
// installed, the parameters its meta-data marks required are given, validate-all accepts them.
// The coordinator asks its own resource monitor, and every other owner that is Up over the nodes'
// authenticated API (AgentCheckPeer, POST /v1/internal/agent-check, mutual TLS and the node
// token); core/agent-check.ts decides who is asked and folds the answers into one verdict that
// names every owner's problem. A refusal saves nothing of the batch. Owners that cannot answer
// are named in an AGENT_CHECK_SKIPPED warning and check the agent when they bring it online.

import { clusterError, fail, ok, type Result } from '../core/errors.js';
import { ConfigDraft } from '../core/config.js';
import { newTable } from '../core/table.js';
import { agentCheckSkippedText, agentCheckTargets, mayNeedAgentCheck, agentCheckVerdict, planAgentCheck, type CheckNode, type OwnerAnswer, type OwnerCheck } from '../core/agent-check.js';
import type { ClusterConfig, ConfigUpdate, NodeName, NodeState, ResourceConfig, ResourceName } from '../core/types.js';
import type { CallData, ResourceSpec } from '../monitor/protocol.js';
import type { ResourceHost } from './resource-host.js';

/** Bound on one check (meta-data and validate-all, each bounded by the agent's own timeout). */
export const agentCheckTimeoutMs = 60_000;
/** Bound on asking another node: its own checks' bound, plus the round trip. */
export const agentCheckPeerTimeoutMs = agentCheckTimeoutMs + 10_000;
/**
 * Checks one node runs at once, and resources per request to another node (each request then
 * takes at most agentCheckPeerTimeoutMs). Why 32: a check runs the agent twice (meta-data,
 * validate-all), some agents for seconds; 32 at once keep a batch of hundreds within minutes
 * without forking thousands of processes on every owner.
 */
export const agentChecksInFlightMax = 32;
/** Bound on one `describe` (listing OCF_ROOT, or one meta-data). */
export const agentDescribeTimeoutMs = 30_000;
/** The monitor interval taken from meta-data stays within the common property's bounds. */
const intervalMinMs = 100;
const intervalMaxMs = 86_400_000;

/** What the coordinator sends an owner to check: the resources as the batch leaves them. */
export interface AgentCheckRequest {
  cluster: string;
  resources: Pick<ResourceConfig, 'name' | 'group' | 'type' | 'props' | 'priv'>[];
}
/** An owner's answer: its verdict per resource. */
export interface AgentCheckReply { node: NodeName; checks: Record<ResourceName, OwnerCheck> }

/** Asks the node at `apiUrl` to check resources against its agents; an error says why it could not be asked. */
export type AgentCheckPeer = (apiUrl: string, request: AgentCheckRequest, timeoutMs: number) => Promise<Result<AgentCheckReply>>;

/** What the save-time check needs of the node. */
export interface AgentCheckContext {
  host: ResourceHost;
  self: NodeName;
  /** The nodes as this node sees them now (state and API address). */
  nodes: Readonly<Record<NodeName, CheckNode>>;
  /** Absent (the simulator): other owners are not asked, and are named as not checked. */
  peer: AgentCheckPeer | undefined;
  /** The warning of a save that some owners did not check. */
  warn(message: string, data: Record<string, unknown>): void;
}

/** What agentCheckContext reads of the node. */
interface CheckingNode {
  readonly name: NodeName;
  nodeViews(): Readonly<Record<NodeName, { state: NodeState }>>;
  currentReports(): Readonly<Record<NodeName, { apiUrl: string } | undefined>>;
  emitEvent(event: 'AGENT_CHECK_SKIPPED', level: 'warning', message: string, data: Record<string, unknown>): void;
}

/** The save-time check's view of the node now: the nodes' states and the API addresses of their newest reports. */
export function agentCheckContext(node: CheckingNode, o: { host: ResourceHost; agentCheckPeer?: AgentCheckPeer }): AgentCheckContext {
  const reports = node.currentReports();
  const nodes = Object.fromEntries(Object.entries(node.nodeViews()).map(([n, v]) => [n, { state: v.state, apiUrl: reports[n]?.apiUrl ?? null }]));
  return { host: o.host, self: node.name, nodes, peer: o.agentCheckPeer, warn: (message, data) => node.emitEvent('AGENT_CHECK_SKIPPED', 'warning', message, data) };
}

/** This node's agents as the API reads them. */
export interface AgentsHere {
  /** The OCF agents installed on this node (agent null), or one agent's parameters (PROVIDER:AGENT). */
  describe(agent: string | null): Promise<Result<CallData>>;
  /** Another node's save-time check, run against this node's agents. */
  check(request: AgentCheckRequest): Promise<AgentCheckReply>;
}

export function agentsHere(host: ResourceHost, self: NodeName): AgentsHere {
  return { describe: (agent) => describeAgents(host, self, agent), check: (request) => checkHere(host, self, request) };
}

/**
 * The updates to commit: as given, except that a new ocf resource without isAliveIntervalMs gets
 * its agent's advertised monitor interval. Refused with every owner's problems at once.
 */
export async function checkAgentUpdates(ctx: AgentCheckContext, config: ClusterConfig, updates: ConfigUpdate[]): Promise<Result<ConfigUpdate[]>> {
  if (!mayNeedAgentCheck(config, updates)) return ok(updates);
  // The resources as the batch leaves them; a batch the fold refuses is refused by the commit itself.
  const draft = new ConfigDraft(config);
  if (!draft.applyAll(updates).ok) return ok(updates);
  const after = draft.config;
  const targets = agentCheckTargets(after, updates);
  if (targets.length === 0) return ok(updates);
  const plan = planAgentCheck(after, targets, ctx.self, ctx.nodes);
  const request = (names: readonly ResourceName[]): AgentCheckRequest => ({
    cluster: after.name, resources: names.map((n) => { const r = after.resources[n]!; return { name: r.name, group: r.group, type: r.type, props: r.props, priv: r.priv }; }),
  });
  const answers: OwnerAnswer[] = await Promise.all([
    ...(plan.local.length > 0 ? [checkHere(ctx.host, ctx.self, request(plan.local)).then((r) => ({ node: ctx.self, checks: r.checks }))] : []),
    ...plan.remote.map(async ({ node, apiUrl, resources }): Promise<OwnerAnswer> => {
      const peer = ctx.peer;
      if (peer === undefined) return { node, unreachable: 'this node has no way to call other nodes' };
      const checks = newTable<OwnerCheck>();
      // One deadline per owner, shared by its requests: a slow owner holds the save at most this long.
      const deadline = performance.now() + agentCheckPeerTimeoutMs;
      for (const part of chunks(resources, agentChecksInFlightMax)) {
        const leftMs = Math.floor(deadline - performance.now());
        if (leftMs <= 0) return { node, unreachable: `its checks did not finish within ${agentCheckPeerTimeoutMs} ms` };
        const r = await peer(apiUrl, request(part), leftMs).catch((e: unknown) => fail<AgentCheckReply>(clusterError('ENDPOINT_UNREACHABLE', String(e))));
        if (!r.ok) return { node, unreachable: `${r.error.code}: ${r.error.message}` };
        // An answer that leaves out a resource asked about checked nothing for it: the owner counts as not asked.
        const missing = part.filter((name) => !Object.hasOwn(r.value.checks, name));
        if (missing.length > 0) return { node, unreachable: `its answer left out ${missing.join(', ')}` };
        for (const name of part) checks[name] = r.value.checks[name]!;
      }
      return { node, checks };
    }),
  ]);
  const verdict = agentCheckVerdict(plan, answers);
  if (verdict.error !== null) return fail(verdict.error);
  if (verdict.skipped.length > 0) ctx.warn(agentCheckSkippedText(plan, verdict.skipped), { resources: targets, nodes: verdict.skipped.map((s) => s.node) });
  return ok(updates.map((u) => {
    const interval = u.op === 'resource-create' && u.type === 'ocf' ? verdict.monitorIntervalsMs[u.resource] : undefined;
    if (u.op !== 'resource-create' || interval === undefined) return u;
    if (u.props !== undefined && Object.hasOwn(u.props, 'isAliveIntervalMs')) return u;
    return { ...u, props: { ...u.props, isAliveIntervalMs: Math.min(intervalMaxMs, Math.max(intervalMinMs, interval)) } };
  }));
}

/** This node's half: its own resource monitor checks each resource against the agents installed here. */
export async function checkHere(host: ResourceHost, self: NodeName, req: AgentCheckRequest): Promise<AgentCheckReply> {
  const checks = newTable<OwnerCheck>();
  for (const part of chunks(req.resources, agentChecksInFlightMax)) {
    await Promise.all(part.map(async (r) => {
      const spec: ResourceSpec = { name: r.name, group: r.group, type: r.type, props: r.props, priv: r.priv, node: self, cluster: req.cluster, epoch: 0 };
      const answer = await host.call('validate', spec, agentCheckTimeoutMs);
      checks[r.name] = answer.ok ? answer.data?.check ?? {}
        : { problem: { code: 'AGENT_CHECK_FAILED', message: `resource '${r.name}' could not be checked against its agent on node ${self}: ${answer.error}` } };
    }));
  }
  return { node: self, checks };
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** The OCF agents installed on this node (agent null), or one agent's meta-data. */
export async function describeAgents(host: ResourceHost, self: NodeName, agent: string | null): Promise<Result<CallData>> {
  const spec: ResourceSpec = {
    name: 'agents', group: '', type: 'ocf', props: { looksAliveIntervalMs: 5_000, isAliveIntervalMs: 60_000, pendingTimeoutMs: agentDescribeTimeoutMs, restartAction: 'none', restartThreshold: 0, restartPeriodMs: 0, restartDelayMs: 0, stopGraceMs: 0 },
    priv: agent === null ? {} : { agent }, node: self, epoch: 0,
  };
  const answer = await host.call('describe', spec, agentDescribeTimeoutMs);
  if (!answer.ok) {
    const missing = / is not installed on node /.test(answer.error);
    return fail(clusterError(missing ? 'AGENT_NOT_FOUND' : 'AGENT_CHECK_FAILED', answer.error, missing ? undefined : 'cluster agents (without an agent) lists the agents installed'));
  }
  return ok(answer.data ?? {});
}
