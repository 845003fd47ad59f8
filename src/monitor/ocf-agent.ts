// The `ocf` resource type: an OCF resource agent (resource-agents' heartbeat:IPaddr2,
// heartbeat:anything, pacemaker:Dummy...) run the way Pacemaker runs it: OCF_ROOT,
// OCF_RESOURCE_INSTANCE, OCF_RESKEY_<param>, OCF_RESKEY_CRM_meta_timeout and _interval, each
// action with its timeout (the resource's, else the agent's meta-data, else 20 s). Exit codes are
// classified by core/agent-codes.ts; the action scaffolding (one action at a time, process groups,
// stop then check, killAll) is script-agent.ts's. Here: the OCF environment, the save-time
// check (installed, required parameters, validate-all) and the agents' descriptions.

import { resourceEnv, toolEnv } from './resource-env.js';
import { ocfOutcome, type AgentOutcome, type OcfAction } from '../core/agent-codes.js';
import { ocfTimeoutMsDefault, parseOcfPriv, splitAgentName, type OcfPriv } from '../core/priv-ocf.js';
import type { AgentCheck, AgentInfo, CallData, ResourceSpec } from './protocol.js';
import type { AgentContext, AgentEvents } from './agent.js';
import { agentMetaData, agentPath, isExecutableFile, listAgents, ocfRoot } from './ocf-meta.js';
import { actionReason, runAction, type ActionRun } from './script-runner.js';
import { ScriptAgent, type ScriptCommand, type ScriptRole } from './script-agent.js';

/**
 * The environment every agent action runs with: a resource's (PATH, HOME, LANG and the CLUSTERD_*
 * names, nothing else of clusterd's: resource-env.ts), and the OCF variables.
 */
export function ocfEnv(spec: ResourceSpec, priv: OcfPriv, root: string, action: OcfAction, timeoutMs: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = resourceEnv(spec, { env: [], home: undefined });
  env.OCF_ROOT = root;
  env.OCF_FUNCTIONS_DIR = `${root}/lib/heartbeat`;
  env.OCF_RA_VERSION_MAJOR = '1';
  env.OCF_RA_VERSION_MINOR = '1';
  env.OCF_RESOURCE_INSTANCE = spec.name;
  env.OCF_RESOURCE_PROVIDER = priv.provider;
  env.OCF_RESOURCE_TYPE = priv.agent;
  for (const [name, value] of priv.params) env[`OCF_RESKEY_${name}`] = value;
  env.OCF_RESKEY_CRM_meta_timeout = String(timeoutMs);
  env.OCF_RESKEY_CRM_meta_interval = String(action === 'monitor' ? spec.props.isAliveIntervalMs : 0);
  env.OCF_RESKEY_CRM_meta_name = action;
  env.OCF_RESKEY_CRM_meta_on_node = spec.node;
  return env;
}

/** The OCF action that plays each role. */
const ocfActions: Readonly<Record<ScriptRole, OcfAction>> = { start: 'start', stop: 'stop', check: 'monitor' };

export class OcfAgent extends ScriptAgent {
  protected readonly checkName = 'monitor';

  constructor(events: AgentEvents, private readonly root: () => string = ocfRoot) {
    super(events);
  }

  protected checkPriv(spec: ResourceSpec): void {
    parseOcfPriv(spec.name, spec.priv);
  }

  protected async command(spec: ResourceSpec, role: ScriptRole, ctx: AgentContext): Promise<ScriptCommand> {
    const priv = parseOcfPriv(spec.name, spec.priv);
    const action = ocfActions[role];
    const root = this.root();
    const timeoutMs = await this.timeoutOf(spec, priv, action, ctx);
    return { argv: [agentPath(root, priv.provider, priv.agent), action], env: ocfEnv(spec, priv, root, action, timeoutMs), timeoutMs, label: `${priv.provider}:${priv.agent} ${action}` };
  }

  protected outcome(role: ScriptRole, run: ActionRun): AgentOutcome {
    return ocfOutcome(ocfActions[role], run.code, run.signal);
  }

  protected installed(spec: ResourceSpec): Promise<boolean> {
    const priv = parseOcfPriv(spec.name, spec.priv);
    return isExecutableFile(agentPath(this.root(), priv.provider, priv.agent));
  }

  protected what(spec: ResourceSpec): string {
    const priv = parseOcfPriv(spec.name, spec.priv);
    return `OCF agent ${priv.provider}:${priv.agent}`;
  }

  protected actionText(spec: ResourceSpec, role: ScriptRole): string {
    return `${ocfActions[role]} of ${this.what(spec)}`;
  }

  /** Before a resource is saved: the agent exists here, its required parameters are given, validate-all passes. */
  async validate(spec: ResourceSpec, ctx: AgentContext): Promise<AgentCheck> {
    const priv = parseOcfPriv(spec.name, spec.priv);
    const root = this.root();
    const name = `${priv.provider}:${priv.agent}`;
    const file = agentPath(root, priv.provider, priv.agent);
    if (!(await isExecutableFile(file))) {
      return { problem: { code: 'AGENT_NOT_FOUND', message: `resource '${spec.name}': OCF agent ${name} is not installed on node ${spec.node} (no executable ${file})`,
        hint: `cluster agents lists the agents of ${root}; resource-agents (Debian) installs the heartbeat ones` } };
    }
    let info: AgentInfo;
    try {
      info = await agentMetaData(root, priv.provider, priv.agent, ocfEnv(spec, priv, root, 'meta-data', 0), ctx.signal);
    } catch (err) {
      return { problem: { code: 'AGENT_CHECK_FAILED', message: `resource '${spec.name}': ${(err as Error).message}` } };
    }
    const given = new Set(priv.params.map(([k]) => k));
    const missing = info.params.filter((p) => p.required && !given.has(p.name)).map((p) => p.name);
    if (missing.length > 0) {
      return { problem: { code: 'AGENT_PARAM_MISSING', message: `resource '${spec.name}': OCF agent ${name} requires parameter${missing.length > 1 ? 's' : ''} ${missing.join(', ')}, not in its params`,
        hint: `cluster agents ${name} lists its parameters; set them in priv.params` } };
    }
    const timeoutMs = priv.startTimeoutMs ?? info.timeoutsMs.start ?? ocfTimeoutMsDefault;
    const run = await runAction({ argv: [file, 'validate-all'], env: ocfEnv(spec, priv, root, 'validate-all', timeoutMs), timeoutMs, signal: ctx.signal, label: 'validate-all' });
    const outcome = ocfOutcome('validate-all', run.code, run.signal);
    // An agent without validate-all (exit 3) has nothing more to say.
    if (outcome.result === 'failed' && run.code !== 3) {
      return { problem: { code: 'AGENT_INVALID', message: `resource '${spec.name}': validate-all of OCF agent ${name} on node ${spec.node} refused its parameters: ${outcome.meaning}${actionReason(run) !== '' ? `: ${actionReason(run)}` : ''}`,
        hint: `cluster agents ${name} lists its parameters` } };
    }
    return info.monitorIntervalMs === undefined ? {} : { monitorIntervalMs: info.monitorIntervalMs };
  }

  /** The agents installed here (no priv.agent), or one agent's parameters and timeouts. */
  async describe(spec: ResourceSpec, ctx: AgentContext): Promise<CallData> {
    const root = this.root();
    if (!Object.hasOwn(spec.priv, 'agent')) return { agents: await listAgents(root) };
    const name = splitAgentName(spec.priv.agent);
    if (name === null) throw new Error(`${JSON.stringify(spec.priv.agent)} is not PROVIDER:AGENT (for example heartbeat:IPaddr2)`);
    if (!(await isExecutableFile(agentPath(root, name.provider, name.agent)))) {
      throw new Error(`OCF agent ${name.provider}:${name.agent} is not installed on node ${spec.node} (no executable ${agentPath(root, name.provider, name.agent)})`);
    }
    const env: NodeJS.ProcessEnv = { ...toolEnv(), OCF_ROOT: root, OCF_RESOURCE_INSTANCE: 'meta-data' };
    return { agent: await agentMetaData(root, name.provider, name.agent, env, ctx.signal) };
  }

  /** The action's timeout: the resource's own, else the agent's meta-data, else 20 s. */
  private async timeoutOf(spec: ResourceSpec, priv: OcfPriv, action: OcfAction, ctx: AgentContext): Promise<number> {
    const own = action === 'start' ? priv.startTimeoutMs : action === 'stop' ? priv.stopTimeoutMs : action === 'monitor' ? priv.monitorTimeoutMs : undefined;
    if (own !== undefined) return own;
    try {
      const info = await agentMetaData(this.root(), priv.provider, priv.agent, ocfEnv(spec, priv, this.root(), 'meta-data', 0), ctx.signal);
      const fromMeta = action === 'start' || action === 'stop' || action === 'monitor' ? info.timeoutsMs[action] : undefined;
      return fromMeta ?? ocfTimeoutMsDefault;
    } catch {
      return ocfTimeoutMsDefault; // the action itself will say what is wrong (not installed: exit 5)
    }
  }
}
