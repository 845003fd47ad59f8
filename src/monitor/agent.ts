// Resource agents: one per resource type, hosted by the resource monitor child process.
// An agent acts on the machine (processes, mounts, addresses); clusterd decides when.

import type { ResourceType } from '../core/types.js';
import type { ResourceSpec } from './protocol.js';
import { ProcessAgent } from './process-agent.js';

/** Per call: the call's deadline. Agents stop retrying when it aborts; the monitor answers anyway. */
export interface AgentContext {
  signal: AbortSignal;
}

/** What agents report on their own, outside any call. The monitor forwards these to clusterd. */
export interface AgentEvents {
  /** A resource's main process exited while nobody was stopping it. */
  exited(resource: string, code: number | null, signal: string | null): void;
  /** The process groups a resource runs now (empty when none): clusterd kills them if the monitor dies. */
  pgids(resource: string, pgids: number[]): void;
  log(level: 'info' | 'warning' | 'error', message: string): void;
}

export interface ResourceAgent {
  /** Resolves once the resource is up; rejects with a message an operator can act on. */
  online(spec: ResourceSpec, ctx: AgentContext): Promise<{ pid?: number }>;
  /** Graceful stop, escalating to a kill after the resource's stop grace. Idempotent. */
  offline(spec: ResourceSpec, ctx: AgentContext): Promise<void>;
  /** Immediate kill. Idempotent. */
  terminate(spec: ResourceSpec, ctx: AgentContext): Promise<void>;
  /** Cheap check (WSFC LooksAlive). */
  looksAlive(spec: ResourceSpec, ctx: AgentContext): Promise<boolean>;
  /** Thorough check (WSFC IsAlive). */
  isAlive(spec: ResourceSpec, ctx: AgentContext): Promise<boolean>;
  /**
   * Kills everything this agent runs at once and forgets it; returns the resources it killed.
   * Synchronous on purpose: it runs on the way out (self-fence, parent death), where nothing
   * may wait.
   */
  killAll(): string[];
}

export interface AgentRegistry {
  /** Throws when the type has no agent yet: the call then fails with that message. */
  get(type: ResourceType): ResourceAgent;
  killAll(): string[];
}

export function createAgentRegistry(events: AgentEvents): AgentRegistry {
  const agents: Partial<Record<ResourceType, ResourceAgent>> = {
    process: new ProcessAgent(events),
  };
  return {
    get(type) {
      const agent = agents[type];
      if (agent === undefined) throw new Error(`resource type '${type}' is not supported yet`);
      return agent;
    },
    killAll() {
      return Object.values(agents).flatMap((agent) => agent.killAll());
    },
  };
}
