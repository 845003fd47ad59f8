// Resource agents: one per resource type, hosted by the resource monitor child process.
// An agent acts on the machine (processes, mounts, addresses); clusterd decides when. This file
// is the contract only; agent-registry.ts builds the registry from the agents, which import it.

import type { FailureKind } from '../core/agent-codes.js';
import type { ResourceType } from '../core/types.js';
import type { AgentCheck, CallData, ResourceSpec } from './protocol.js';

/**
 * A failed call that says what it asks of the cluster (core/agent-codes.ts): the monitor passes
 * the kind on with the result. Any other error is a `restart` failure.
 */
export class AgentFailure extends Error {
  constructor(message: string, readonly kind: FailureKind) {
    super(message);
    this.name = 'AgentFailure';
  }
}

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
  /** event (optional): a stable event id for clusterd's event log (RESOURCE_KILLED, DISK_SECTOR_CLAIMED...), with its data. */
  log(level: 'info' | 'warning' | 'error', message: string, event?: string, data?: Record<string, unknown>): void;
  /** A disk's private sector shows a newer epoch: the disk was taken over (the agent stopped writing to it). */
  lost?(resource: string, reason: string): void;
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
  /** Why a check finds the resource dead, when the agent knows (a process that exited: how): the check's answer carries it. */
  deadReason?(resource: string): string | undefined;
  /**
   * Kills everything this agent runs at once and forgets it; returns the resources it killed.
   * Synchronous on purpose: it runs on the way out (self-fence, parent death), where nothing
   * may wait.
   */
  killAll(): string[];
  /** Extended maintenance (disks): stop device checks and dismount internally; the resource stays Online. */
  maintOffline?(spec: ResourceSpec, ctx: AgentContext): Promise<void>;
  /** Leave extended maintenance: remount, check the private sector, resume device checks. */
  maintOnline?(spec: ResourceSpec, ctx: AgentContext): Promise<void>;
  /** A warning noted outside any call (or during one), to report with the next result; cleared when taken. */
  takeWarning?(resource: string): string | undefined;
  /**
   * After killAll (the watchdog fired, or clusterd died): record on the storage that this node has
   * stopped using it (disks: a `released` private sector), so that the next owner need not wait.
   */
  releaseAll?(): Promise<void>;
  /**
   * Backups: what a freeze of this resource acts on right now. Throws, with a message an
   * operator can act on, when the resource cannot be frozen here (not running, not mounted).
   */
  freezeTarget?(spec: ResourceSpec): FreezeTarget;
  /** Agents that run other programs (ocf, lsb): check a resource before it is saved (see protocol.ts AgentInfoOp). */
  validate?(spec: ResourceSpec, ctx: AgentContext): Promise<AgentCheck>;
  /** List the agents installed (spec.priv.agent absent) or describe one. */
  describe?(spec: ResourceSpec, ctx: AgentContext): Promise<CallData>;
  /** Backups: the resource is about to be frozen (true) or has been thawed (false). A disk pauses its device checks meanwhile. */
  setFrozen?(resource: string, frozen: boolean): Promise<void>;
}

/** What a writer's freeze and thaw act on (see monitor/freezer.ts). */
export type FreezeTarget =
  /** A process resource: its process group, and how it runs (freeze and thaw commands run the same way). */
  | { kind: 'process'; pgid: number; env: NodeJS.ProcessEnv; uid?: number; gid?: number;
      /** Its secrets' file (priv.secretEnvFile): read again for each command, never part of `env` (which is written to disk). */
      secretEnvFile?: string }
  /** A block-device disk: the filesystem mounted on mountPoint from device. */
  | { kind: 'mount'; mountPoint: string; device: string };

export interface AgentRegistry {
  /** Throws when the type has no agent yet: the call then fails with that message. */
  get(type: ResourceType): ResourceAgent;
  /** Runs the beforeKillAll hooks (backups: thaw first), then kills everything every agent runs. */
  killAll(): string[];
  /** Runs synchronously at the start of every killAll (fence, watchdog, clusterd gone, shutdown, crash). */
  beforeKillAll(hook: () => void): void;
  /** Every agent's releaseAll, bounded by `maxMs`; never rejects. */
  releaseAll(maxMs: number): Promise<void>;
}
