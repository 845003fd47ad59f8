// What the agents that run an external script per action (ocf: an OCF resource agent, lsb: an
// init script) share: one action at a time per resource (Pacemaker's rule: agents are not
// written for concurrent actions), each in its own process group with its timeout
// (script-runner.ts); the group of `start` stays tracked while it has members (the daemons it
// left running), so that killAll (fence, watchdog, clusterd gone) kills it with everything else
// and clusterd kills the groups it was told of if the monitor itself dies.
//
// online = start; offline = stop (a failed stop counts as stopped only if the check action then
// says not running); terminate = kill the groups, then stop (so the script undoes what is not a
// process: an address, a state file); looksAlive = started here and not stopped since;
// isAlive = the check action (OCF monitor, LSB status). A subclass says how each action runs,
// what its exit means and how to name it; core/agent-codes.ts classifies the exits.

import type { AgentOutcome } from '../core/agent-codes.js';
import type { ResourceSpec } from './protocol.js';
import { AgentFailure, type AgentContext, type AgentEvents, type ResourceAgent } from './agent.js';
import { logPath } from './process-agent.js';
import { actionReason, groupHasMembers, killGroup, runAction, type ActionRun } from './script-runner.js';

/** The parts a script plays: bring the resource up, bring it down, say whether it runs. */
export type ScriptRole = 'start' | 'stop' | 'check';

/** How one action runs. */
export interface ScriptCommand {
  argv: [string, ...string[]];
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  /** For the header line in the resource's log. */
  label: string;
}

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

export abstract class ScriptAgent implements ResourceAgent {
  private readonly tracked = new Map<string, Tracked>();
  /** One action at a time per resource. */
  private readonly busy = new Map<string, Promise<unknown>>();
  /** Counts killAll calls: an action decided before one must not start after it. */
  private fences = 0;

  constructor(protected readonly events: AgentEvents) {}

  /** Throws when the resource's private properties name no script: every call checks them first. */
  protected abstract checkPriv(spec: ResourceSpec): void;
  /** The action of a role for this resource. */
  protected abstract command(spec: ResourceSpec, role: ScriptRole, ctx: AgentContext): Promise<ScriptCommand>;
  /** What an action's exit means (core/agent-codes.ts). */
  protected abstract outcome(role: ScriptRole, run: ActionRun): AgentOutcome;
  /** Whether the resource's script is installed here: one that is not started nothing here, and its stop is a stop. */
  protected abstract installed(spec: ResourceSpec): Promise<boolean>;
  /** The script, in messages: `OCF agent heartbeat:Dummy`, `/etc/init.d/nginx`. */
  protected abstract what(spec: ResourceSpec): string;
  /** One action of it, in messages: `start of OCF agent heartbeat:Dummy`, `/etc/init.d/nginx status`. */
  protected abstract actionText(spec: ResourceSpec, role: ScriptRole): string;
  /** The check action's own name: `monitor`, `status`. */
  protected abstract readonly checkName: string;

  async online(spec: ResourceSpec, ctx: AgentContext): Promise<{ pid?: number }> {
    this.checkPriv(spec);
    const fences = this.fences;
    return this.serial(spec.name, async () => {
      if (fences !== this.fences) throw new Error(`resource '${spec.name}': every resource was stopped (fenced) while its start waited`);
      const t = this.track(spec.name);
      if (t.stopping) throw new Error(`resource '${spec.name}' is being stopped; bring it online after the stop finished`);
      const run = await this.act(spec, 'start', ctx, t, true);
      const outcome = this.outcome('start', run);
      if (outcome.result !== 'ok') {
        const meaning = outcome.result === 'failed' ? outcome.meaning : 'failed';
        throw new AgentFailure(`${this.actionText(spec, 'start')} failed: ${meaning}${this.why(run, spec.name)}`, outcome.result === 'failed' ? outcome.kind : 'restart');
      }
      t.started = true;
      this.events.log('info', `resource '${spec.name}' started: ${this.what(spec)}, epoch ${spec.epoch}`);
      return {};
    });
  }

  async offline(spec: ResourceSpec, ctx: AgentContext): Promise<void> {
    this.checkPriv(spec);
    await this.serial(spec.name, async () => {
      const t = this.track(spec.name);
      t.stopping = true;
      await this.stop(spec, ctx, t);
    });
  }

  async terminate(spec: ResourceSpec, ctx: AgentContext): Promise<void> {
    this.checkPriv(spec);
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
      // Then stop: what the script set up that is not a process (an address, a state file) is undone.
      await this.stop(spec, ctx, now);
    });
  }

  async looksAlive(spec: ResourceSpec): Promise<boolean> {
    const t = this.tracked.get(spec.name);
    return t !== undefined && t.started && !t.stopping;
  }

  async isAlive(spec: ResourceSpec, ctx: AgentContext): Promise<boolean> {
    this.checkPriv(spec);
    return this.serial(spec.name, async () => {
      const t = this.tracked.get(spec.name);
      if (t === undefined || !t.started || t.stopping) return false;
      const run = await this.act(spec, 'check', ctx, t, false);
      const outcome = this.outcome('check', run);
      if (outcome.result === 'ok') return true;
      if (outcome.result === 'not-running') return false;
      const meaning = outcome.result === 'failed' ? outcome.meaning : 'failed';
      throw new AgentFailure(`${this.actionText(spec, 'check')}: ${meaning}${this.why(run, spec.name)}`, outcome.result === 'failed' ? outcome.kind : 'restart');
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

  /** stop; on a failed stop, stopped only if the check says so. Forgets the resource once stopped. */
  private async stop(spec: ResourceSpec, ctx: AgentContext, t: Tracked): Promise<void> {
    // A script that is not installed here started nothing here: stopped (its groups, if any, are killed below).
    const run = (await this.installed(spec)) ? await this.act(spec, 'stop', ctx, t, false) : undefined;
    const outcome = run === undefined ? { result: 'ok' as const } : this.outcome('stop', run);
    if (run !== undefined && outcome.result !== 'ok') {
      const check = await this.act(spec, 'check', ctx, t, false);
      if (this.outcome('check', check).result !== 'not-running') {
        throw new Error(`${this.actionText(spec, 'stop')} failed (${outcome.result === 'check-stopped' ? outcome.meaning : 'failed'}${this.why(run, spec.name)}) and ${this.checkName} does not say it is stopped (exit ${check.code ?? check.signal})`);
      }
    }
    // Stopped: what is left of the groups (a daemon that ignored the script) must not meet the next start.
    for (const pgid of t.groups) killGroup(pgid);
    t.groups.clear();
    t.started = false;
    if (this.tracked.get(spec.name) === t) this.tracked.delete(spec.name);
    this.events.pgids(spec.name, []);
  }

  /** Runs one action; `keepGroup`: its process group stays tracked while it has members (start's daemons). */
  private async act(spec: ResourceSpec, role: ScriptRole, ctx: AgentContext, t: Tracked, keepGroup: boolean): Promise<ActionRun> {
    const c = await this.command(spec, role, ctx);
    let group: number | undefined;
    const run = await runAction({
      argv: c.argv, env: c.env, timeoutMs: c.timeoutMs, signal: ctx.signal, logFile: logPath(spec.name), label: c.label,
      onGroup: (pgid) => {
        group = pgid;
        t.groups.add(pgid);
        this.reportGroups(t);
      },
    });
    if (group !== undefined && (!keepGroup || run.code !== 0 || !groupHasMembers(group))) {
      if (!keepGroup) killGroup(group); // leftovers of a check or stop
      t.groups.delete(group);
      this.reportGroups(t);
    }
    return run;
  }

  /** What the script said, and where its full output is. */
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
