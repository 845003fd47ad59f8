// Save-time checks of resources whose type runs an external agent (ocf, lsb): before the
// coordinator commits an update that creates one or changes its private properties, it asks its
// own resource monitor whether the agent is installed, whether the parameters its meta-data marks
// required are given, and whether its validate-all accepts them. A refusal names the resource and
// carries an AGENT_* code; nothing of the batch is committed. The check runs on the coordinator's
// node only: an owner that lacks the agent finds out at start (exit 5, the group fails over).

import { clusterError, fail, ok, type Result } from '../core/errors.js';
import { ConfigDraft } from '../core/config.js';
import type { ClusterConfig, ConfigUpdate, NodeName, ResourceType } from '../core/types.js';
import type { CallData, ResourceSpec } from '../monitor/protocol.js';
import type { ResourceHost } from './resource-host.js';

/** Types whose resources are checked against their agent when saved. */
const checkedTypes: readonly ResourceType[] = ['ocf', 'lsb'];
/** Bound on one check (meta-data and validate-all, each bounded by the agent's own timeout). */
export const agentCheckTimeoutMs = 60_000;
/** Bound on one `describe` (listing OCF_ROOT, or one meta-data). */
export const agentDescribeTimeoutMs = 30_000;
/** The monitor interval taken from meta-data stays within the common property's bounds. */
const intervalMinMs = 100;
const intervalMaxMs = 86_400_000;

/**
 * The updates to commit: as given, except that a new ocf resource without isAliveIntervalMs gets
 * its agent's advertised monitor interval. Refused with the first problem found.
 */
export async function checkAgentUpdates(host: ResourceHost, self: NodeName, config: ClusterConfig, updates: ConfigUpdate[]): Promise<Result<ConfigUpdate[]>> {
  const touched: string[] = [];
  for (const u of updates) {
    if ((u.op === 'resource-create' && checkedTypes.includes(u.type)) || (u.op === 'resource-set' && u.priv !== undefined && Object.keys(u.priv).length > 0)) touched.push(u.resource);
  }
  if (touched.length === 0) return ok(updates);
  // The resources as the batch leaves them; a batch the fold refuses is refused by the commit itself.
  const draft = new ConfigDraft(config);
  if (!draft.applyAll(updates).ok) return ok(updates);
  const after = draft.config;
  const names = [...new Set(touched)].filter((n) => Object.hasOwn(after.resources, n) && checkedTypes.includes(after.resources[n]!.type));
  const checks = await Promise.all(names.map(async (name) => {
    const r = after.resources[name]!;
    const spec: ResourceSpec = { name, group: r.group, type: r.type, props: r.props, priv: r.priv, node: self, cluster: after.name, epoch: 0 };
    return { name, answer: await host.call('validate', spec, agentCheckTimeoutMs) };
  }));
  const intervals = new Map<string, number>();
  for (const { name, answer } of checks) {
    if (!answer.ok) {
      return fail(clusterError('AGENT_CHECK_FAILED', `resource '${name}' could not be checked against its agent on node ${self}: ${answer.error}`, undefined, `resources.${name}.priv`));
    }
    const problem = answer.data?.check?.problem;
    if (problem !== undefined) return fail(clusterError(problem.code, problem.message, problem.hint, `resources.${name}.priv`));
    const interval = answer.data?.check?.monitorIntervalMs;
    if (interval !== undefined) intervals.set(name, Math.min(intervalMaxMs, Math.max(intervalMinMs, interval)));
  }
  return ok(updates.map((u) => {
    if (u.op !== 'resource-create' || u.type !== 'ocf' || !intervals.has(u.resource)) return u;
    if (u.props !== undefined && Object.hasOwn(u.props, 'isAliveIntervalMs')) return u;
    return { ...u, props: { ...u.props, isAliveIntervalMs: intervals.get(u.resource)! } };
  }));
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
