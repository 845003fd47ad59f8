// The `lsb` resource type: an LSB init script, /etc/init.d/NAME start | stop | status, as
// Pacemaker's lsb class runs it. The action scaffolding (one action at a time, process groups,
// the group of `start` tracked while it has members so that killAll kills the daemon it started
// unless it left the group with setsid) is script-agent.ts's. Exit codes: core/agent-codes.ts.

import { resourceEnv } from './resource-env.js';
import path from 'node:path';
import { lsbOutcome, type AgentOutcome, type LsbAction } from '../core/agent-codes.js';
import { lsbScriptName } from '../core/priv-lsb.js';
import type { AgentCheck, ResourceSpec } from './protocol.js';
import type { AgentEvents } from './agent.js';
import { isExecutableFile } from './ocf-meta.js';
import type { ActionRun } from './script-runner.js';
import { ScriptAgent, type ScriptCommand, type ScriptRole } from './script-agent.js';

/** Bound on each action: init scripts have no meta-data to say otherwise (Pacemaker's default operation timeout). */
const lsbTimeoutMs = 20_000;

/** The init script directory; clusterd's --lsb-dir sets it for the monitor. */
export function lsbDir(): string {
  return process.env.CLUSTERD_LSB_DIR ?? '/etc/init.d';
}

/** An init script's environment: a resource's (PATH, HOME, LANG, the CLUSTERD_* names; resource-env.ts). */
function lsbEnv(spec: ResourceSpec): NodeJS.ProcessEnv {
  return resourceEnv(spec, { env: [], home: undefined });
}

/** The LSB action that plays each role. */
const lsbActions: Readonly<Record<ScriptRole, LsbAction>> = { start: 'start', stop: 'stop', check: 'status' };

export class LsbAgent extends ScriptAgent {
  protected readonly checkName = 'status';

  constructor(events: AgentEvents, private readonly dir: () => string = lsbDir) {
    super(events);
  }

  protected checkPriv(spec: ResourceSpec): void {
    lsbScriptName(spec.name, spec.priv);
  }

  protected async command(spec: ResourceSpec, role: ScriptRole): Promise<ScriptCommand> {
    const script = lsbScriptName(spec.name, spec.priv);
    const action = lsbActions[role];
    return { argv: [this.file(script), action], env: lsbEnv(spec), timeoutMs: lsbTimeoutMs, label: `${script} ${action}` };
  }

  protected outcome(role: ScriptRole, run: ActionRun): AgentOutcome {
    return lsbOutcome(lsbActions[role], run.code, run.signal);
  }

  protected installed(spec: ResourceSpec): Promise<boolean> {
    return isExecutableFile(this.file(lsbScriptName(spec.name, spec.priv)));
  }

  protected what(spec: ResourceSpec): string {
    return this.file(lsbScriptName(spec.name, spec.priv));
  }

  protected actionText(spec: ResourceSpec, role: ScriptRole): string {
    return `${this.what(spec)} ${lsbActions[role]}`;
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
}
