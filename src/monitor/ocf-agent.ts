// The `ocf` resource type: an OCF resource agent (resource-agents' heartbeat:IPaddr2,
// heartbeat:anything, pacemaker:Dummy...) run the way Pacemaker runs it: OCF_ROOT,
// OCF_RESOURCE_INSTANCE, OCF_RESKEY_<param>, OCF_RESKEY_CRM_meta_timeout and _interval, one
// action at a time per resource, each with its timeout, each in its own process group. The
// group of `start` stays tracked while it has members (the daemons it started): killAll (fence,
// watchdog, clusterd gone) kills it with everything else, and clusterd kills the groups it was
// told of if the monitor itself dies. Exit codes are classified by core/agent-codes.ts.
//
// online = start, offline = stop (a failed stop counts as stopped only if monitor then says
// not running), terminate = kill the groups then stop (so the agent undoes what is not a process:
// an address, a state file), looksAlive = started and not stopped here, isAlive = monitor.

import { resourceEnv, toolEnv } from './resource-env.js';
import { ocfOutcome, type OcfAction } from '../core/agent-codes.js';
import { ocfTimeoutMsDefault, parseOcfPriv, splitAgentName, type OcfPriv } from '../core/priv-ocf.js';
import type { AgentCheck, AgentInfo, CallData, ResourceSpec } from './protocol.js';
import { AgentFailure, type AgentContext, type AgentEvents, type ResourceAgent } from './agent.js';
import { agentMetaData, agentPath, isExecutableFile, listAgents, ocfRoot } from './ocf-meta.js';
import { logPath } from './process-agent.js';
import { actionReason, groupHasMembers, killGroup, runAction, type ActionRun } from './script-runner.js';

/** What the agent knows of one resource it started (or is starting) on this node. */
interface Tracked {
  name: string;
  /** Process groups that may still have members: start's (its daemons) and the actions running now. */
  groups: Set<number>;
  /** Set by offline, terminate or killAll. */
  stopping: boolean;
  /** start succeeded and no stop since. */
  started: boolean;
}

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

export class OcfAgent implements ResourceAgent {
  private readonly tracked = new Map<string, Tracked>();
  /** One action at a time per resource (Pacemaker's rule: agents are not written for concurrent actions). */
  private readonly busy = new Map<string, Promise<unknown>>();
  /** Counts killAll calls: an action decided before one must not start after it. */
  private fences = 0;

  constructor(private readonly events: AgentEvents, private readonly root: () => string = ocfRoot) {}

  async online(spec: ResourceSpec, ctx: AgentContext): Promise<{ pid?: number }> {
    const priv = parseOcfPriv(spec.name, spec.priv);
    const fences = this.fences;
    return this.serial(spec.name, async () => {
      if (fences !== this.fences) throw new Error(`resource '${spec.name}': every resource was stopped (fenced) while its start waited`);
      const t = this.track(spec.name);
      if (t.stopping) throw new Error(`resource '${spec.name}' is being stopped; bring it online after the stop finished`);
      const run = await this.act(spec, priv, 'start', ctx, t, true);
      const outcome = ocfOutcome('start', run.code, run.signal);
      if (outcome.result !== 'ok') {
        const meaning = outcome.result === 'failed' ? outcome.meaning : 'failed';
        throw new AgentFailure(`start of OCF agent ${priv.provider}:${priv.agent} failed: ${meaning}${this.why(run, spec.name)}`, outcome.result === 'failed' ? outcome.kind : 'restart');
      }
      t.started = true;
      this.events.log('info', `resource '${spec.name}' started: OCF agent ${priv.provider}:${priv.agent}, epoch ${spec.epoch}`);
      return {};
    });
  }

  async offline(spec: ResourceSpec, ctx: AgentContext): Promise<void> {
    const priv = parseOcfPriv(spec.name, spec.priv);
    await this.serial(spec.name, async () => {
      const t = this.track(spec.name);
      t.stopping = true;
      await this.stop(spec, priv, ctx, t);
    });
  }

  async terminate(spec: ResourceSpec, ctx: AgentContext): Promise<void> {
    const priv = parseOcfPriv(spec.name, spec.priv);
    // Kill first, without waiting for an action in flight: terminate is the fast path.
    const t = this.tracked.get(spec.name);
    if (t !== undefined) {
      t.stopping = true;
      for (const pgid of t.groups) killGroup(pgid);
    }
    await this.serial(spec.name, async () => {
      const now = this.track(spec.name);
      now.stopping = true;
      for (const pgid of now.groups) killGroup(pgid);
      // Then stop: what the agent set up that is not a process (an address, a state file) is undone.
      await this.stop(spec, priv, ctx, now);
    });
  }

  async looksAlive(spec: ResourceSpec): Promise<boolean> {
    const t = this.tracked.get(spec.name);
    return t !== undefined && t.started && !t.stopping;
  }

  async isAlive(spec: ResourceSpec, ctx: AgentContext): Promise<boolean> {
    const priv = parseOcfPriv(spec.name, spec.priv);
    return this.serial(spec.name, async () => {
      const t = this.tracked.get(spec.name);
      if (t === undefined || !t.started || t.stopping) return false;
      const run = await this.act(spec, priv, 'monitor', ctx, t, false);
      const outcome = ocfOutcome('monitor', run.code, run.signal);
      if (outcome.result === 'ok') return true;
      if (outcome.result === 'not-running') return false;
      const meaning = outcome.result === 'failed' ? outcome.meaning : 'failed';
      throw new AgentFailure(`monitor of OCF agent ${priv.provider}:${priv.agent}: ${meaning}${this.why(run, spec.name)}`, outcome.result === 'failed' ? outcome.kind : 'restart');
    });
  }

  killAll(): string[] {
    this.fences += 1;
    const names: string[] = [];
    for (const t of this.tracked.values()) {
      if (t.started || t.groups.size > 0) names.push(t.name);
      t.stopping = true;
      t.started = false;
      for (const pgid of t.groups) killGroup(pgid);
      t.groups.clear();
      this.events.pgids(t.name, []);
    }
    this.tracked.clear();
    return names;
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

  /** stop; on a failed stop, stopped only if monitor says so. Forgets the resource once stopped. */
  private async stop(spec: ResourceSpec, priv: OcfPriv, ctx: AgentContext, t: Tracked): Promise<void> {
    // An agent that is not installed here started nothing here: stopped (its groups, if any, are killed below).
    const installed = await isExecutableFile(agentPath(this.root(), priv.provider, priv.agent));
    const run = installed ? await this.act(spec, priv, 'stop', ctx, t, false) : undefined;
    const outcome = run === undefined ? { result: 'ok' as const } : ocfOutcome('stop', run.code, run.signal);
    if (run !== undefined && outcome.result !== 'ok') {
      const check = await this.act(spec, priv, 'monitor', ctx, t, false);
      if (ocfOutcome('monitor', check.code, check.signal).result !== 'not-running') {
        throw new Error(`stop of OCF agent ${priv.provider}:${priv.agent} failed (${outcome.result === 'check-stopped' ? outcome.meaning : 'failed'}${this.why(run, spec.name)}) and monitor does not say it is stopped (exit ${check.code ?? check.signal})`);
      }
    }
    // Stopped: what is left of the groups (a daemon that ignored the agent) must not meet the next start.
    for (const pgid of t.groups) killGroup(pgid);
    t.groups.clear();
    t.started = false;
    if (this.tracked.get(spec.name) === t) this.tracked.delete(spec.name);
    this.events.pgids(spec.name, []);
  }

  /** Runs one action; `keepGroup`: its process group stays tracked while it has members (start's daemons). */
  private async act(spec: ResourceSpec, priv: OcfPriv, action: OcfAction, ctx: AgentContext, t: Tracked, keepGroup: boolean): Promise<ActionRun> {
    const root = this.root();
    const timeoutMs = await this.timeoutOf(spec, priv, action, ctx);
    let group: number | undefined;
    const run = await runAction({
      argv: [agentPath(root, priv.provider, priv.agent), action], env: ocfEnv(spec, priv, root, action, timeoutMs), timeoutMs, signal: ctx.signal,
      logFile: logPath(spec.name), label: `${priv.provider}:${priv.agent} ${action}`,
      onGroup: (pgid) => {
        group = pgid;
        t.groups.add(pgid);
        this.reportGroups(t);
      },
    });
    if (group !== undefined && (!keepGroup || run.code !== 0 || !groupHasMembers(group))) {
      if (!keepGroup) killGroup(group); // leftovers of a monitor or stop
      t.groups.delete(group);
      this.reportGroups(t);
    }
    return run;
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

  /** What the agent said, and where its full output is. */
  private why(run: ActionRun, resource: string): string {
    const reason = actionReason(run);
    return `${run.timedOut ? ' (timed out: its process group was killed)' : ''}${reason !== '' ? `: ${reason}` : ''} (output in ${logPath(resource)})`;
  }

  private track(name: string): Tracked {
    let t = this.tracked.get(name);
    if (t === undefined) this.tracked.set(name, t = { name, groups: new Set(), stopping: false, started: false });
    return t;
  }

  private reportGroups(t: Tracked): void {
    if (this.tracked.get(t.name) !== t) return;
    this.events.pgids(t.name, [...t.groups]);
  }

  /** Runs `job` after the resource's previous action (whatever its outcome). */
  private serial<T>(name: string, job: () => Promise<T>): Promise<T> {
    const before = this.busy.get(name) ?? Promise.resolve();
    const next = before.catch(() => undefined).then(job);
    const settled = next.catch(() => undefined);
    this.busy.set(name, settled);
    void settled.then(() => { if (this.busy.get(name) === settled) this.busy.delete(name); });
    return next;
  }
}
