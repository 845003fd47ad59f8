// The `lsb` resource type: an LSB init script, /etc/init.d/NAME start | stop | status, as
// Pacemaker's lsb class runs it. Each action runs in its own process group; the group of
// `start` stays tracked while it has members (the daemon it started, unless it left the group
// with setsid), so that killAll kills it with everything else. Exit codes: core/agent-codes.ts.

import { resourceEnv } from './resource-env.js';
import path from 'node:path';
import { lsbOutcome, type LsbAction } from '../core/agent-codes.js';
import { lsbScriptName } from '../core/priv-lsb.js';
import type { AgentCheck, ResourceSpec } from './protocol.js';
import { AgentFailure, type AgentContext, type AgentEvents, type ResourceAgent } from './agent.js';
import { isExecutableFile } from './ocf-meta.js';
import { logPath } from './process-agent.js';
import { actionReason, groupHasMembers, killGroup, runAction, type ActionRun } from './script-runner.js';

/** Bound on each action: init scripts have no meta-data to say otherwise (Pacemaker's default operation timeout). */
const lsbTimeoutMs = 20_000;

/** The init script directory; clusterd's --lsb-dir sets it for the monitor. */
export function lsbDir(): string {
  return process.env.CLUSTERD_LSB_DIR ?? '/etc/init.d';
}

interface Tracked {
  name: string;
  groups: Set<number>;
  stopping: boolean;
  started: boolean;
}

/** An init script's environment: a resource's (PATH, HOME, LANG, the CLUSTERD_* names; resource-env.ts). */
function lsbEnv(spec: ResourceSpec): NodeJS.ProcessEnv {
  return resourceEnv(spec, { env: [], home: undefined });
}

export class LsbAgent implements ResourceAgent {
  private readonly tracked = new Map<string, Tracked>();
  private readonly busy = new Map<string, Promise<unknown>>();
  private fences = 0;

  constructor(private readonly events: AgentEvents, private readonly dir: () => string = lsbDir) {}

  async online(spec: ResourceSpec, ctx: AgentContext): Promise<{ pid?: number }> {
    const script = lsbScriptName(spec.name, spec.priv);
    const fences = this.fences;
    return this.serial(spec.name, async () => {
      if (fences !== this.fences) throw new Error(`resource '${spec.name}': every resource was stopped (fenced) while its start waited`);
      const t = this.track(spec.name);
      if (t.stopping) throw new Error(`resource '${spec.name}' is being stopped; bring it online after the stop finished`);
      const run = await this.act(spec, script, 'start', ctx, t, true);
      const outcome = lsbOutcome('start', run.code, run.signal);
      if (outcome.result !== 'ok') {
        throw new AgentFailure(`${this.file(script)} start failed: ${outcome.result === 'failed' ? outcome.meaning : 'failed'}${why(run, spec.name)}`, outcome.result === 'failed' ? outcome.kind : 'restart');
      }
      t.started = true;
      this.events.log('info', `resource '${spec.name}' started: ${this.file(script)}, epoch ${spec.epoch}`);
      return {};
    });
  }

  async offline(spec: ResourceSpec, ctx: AgentContext): Promise<void> {
    const script = lsbScriptName(spec.name, spec.priv);
    await this.serial(spec.name, async () => {
      const t = this.track(spec.name);
      t.stopping = true;
      await this.stop(spec, script, ctx, t);
    });
  }

  async terminate(spec: ResourceSpec, ctx: AgentContext): Promise<void> {
    const script = lsbScriptName(spec.name, spec.priv);
    const t = this.tracked.get(spec.name);
    if (t !== undefined) {
      t.stopping = true;
      for (const pgid of t.groups) killGroup(pgid);
    }
    await this.serial(spec.name, async () => {
      const now = this.track(spec.name);
      now.stopping = true;
      for (const pgid of now.groups) killGroup(pgid);
      await this.stop(spec, script, ctx, now);
    });
  }

  async looksAlive(spec: ResourceSpec): Promise<boolean> {
    const t = this.tracked.get(spec.name);
    return t !== undefined && t.started && !t.stopping;
  }

  async isAlive(spec: ResourceSpec, ctx: AgentContext): Promise<boolean> {
    const script = lsbScriptName(spec.name, spec.priv);
    return this.serial(spec.name, async () => {
      const t = this.tracked.get(spec.name);
      if (t === undefined || !t.started || t.stopping) return false;
      const run = await this.act(spec, script, 'status', ctx, t, false);
      const outcome = lsbOutcome('status', run.code, run.signal);
      if (outcome.result === 'ok') return true;
      if (outcome.result === 'not-running') return false;
      throw new AgentFailure(`${this.file(script)} status: ${outcome.result === 'failed' ? outcome.meaning : 'failed'}${why(run, spec.name)}`, outcome.result === 'failed' ? outcome.kind : 'restart');
    });
  }

  killAll(): string[] {
    this.fences += 1;
    const names: string[] = [];
    for (const t of this.tracked.values()) {
      if (t.started || t.groups.size > 0) names.push(t.name);
      t.stopping = true;
      for (const pgid of t.groups) killGroup(pgid);
      t.groups.clear();
      this.events.pgids(t.name, []);
    }
    this.tracked.clear();
    return names;
  }

  async validate(spec: ResourceSpec): Promise<AgentCheck> {
    const script = lsbScriptName(spec.name, spec.priv);
    const file = this.file(script);
    if (await isExecutableFile(file)) return {};
    return { problem: { code: 'AGENT_NOT_FOUND', message: `resource '${spec.name}': no executable init script ${file} on node ${spec.node}`, hint: `install the service's package, or name a script of ${this.dir()}` } };
  }

  private file(script: string): string {
    return path.join(this.dir(), script);
  }

  private async stop(spec: ResourceSpec, script: string, ctx: AgentContext, t: Tracked): Promise<void> {
    // A script that is not installed here started nothing here: stopped (its groups, if any, are killed below).
    const installed = await isExecutableFile(this.file(script));
    const run = installed ? await this.act(spec, script, 'stop', ctx, t, false) : undefined;
    const outcome = run === undefined ? { result: 'ok' as const } : lsbOutcome('stop', run.code, run.signal);
    if (run !== undefined && outcome.result !== 'ok') {
      const check = await this.act(spec, script, 'status', ctx, t, false);
      if (lsbOutcome('status', check.code, check.signal).result !== 'not-running') {
        throw new Error(`${this.file(script)} stop failed (${outcome.result === 'check-stopped' ? outcome.meaning : 'failed'}${why(run, spec.name)}) and status does not say it is stopped (exit ${check.code ?? check.signal})`);
      }
    }
    for (const pgid of t.groups) killGroup(pgid);
    t.groups.clear();
    t.started = false;
    if (this.tracked.get(spec.name) === t) this.tracked.delete(spec.name);
    this.events.pgids(spec.name, []);
  }

  private async act(spec: ResourceSpec, script: string, action: LsbAction, ctx: AgentContext, t: Tracked, keepGroup: boolean): Promise<ActionRun> {
    let group: number | undefined;
    const run = await runAction({
      argv: [this.file(script), action], env: lsbEnv(spec), timeoutMs: lsbTimeoutMs, signal: ctx.signal, logFile: logPath(spec.name), label: `${script} ${action}`,
      onGroup: (pgid) => {
        group = pgid;
        t.groups.add(pgid);
        if (this.tracked.get(t.name) === t) this.events.pgids(t.name, [...t.groups]);
      },
    });
    if (group !== undefined && (!keepGroup || run.code !== 0 || !groupHasMembers(group))) {
      if (!keepGroup) killGroup(group);
      t.groups.delete(group);
      if (this.tracked.get(t.name) === t) this.events.pgids(t.name, [...t.groups]);
    }
    return run;
  }

  private track(name: string): Tracked {
    let t = this.tracked.get(name);
    if (t === undefined) this.tracked.set(name, t = { name, groups: new Set(), stopping: false, started: false });
    return t;
  }

  private serial<T>(name: string, job: () => Promise<T>): Promise<T> {
    const before = this.busy.get(name) ?? Promise.resolve();
    const next = before.catch(() => undefined).then(job);
    const settled = next.catch(() => undefined);
    this.busy.set(name, settled);
    void settled.then(() => { if (this.busy.get(name) === settled) this.busy.delete(name); });
    return next;
  }
}

function why(run: ActionRun, resource: string): string {
  const reason = actionReason(run);
  return `${run.timedOut ? ' (timed out: its process group was killed)' : ''}${reason !== '' ? `: ${reason}` : ''} (output in ${logPath(resource)})`;
}
