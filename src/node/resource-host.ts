// Where resources run, as the node shell sees it: the resource monitor's client in clusterd, a
// fake in the simulator. Its own module so that the shell's parts (node.ts, backups.ts) share
// it without importing each other.

import type { EventEmitter } from 'node:events';
import type { FailureKind } from '../core/agent-codes.js';
import type { AgentOp, CallData, ResourceSpec } from '../monitor/protocol.js';

export interface ResourceHost extends EventEmitter {
  call(op: AgentOp, spec: ResourceSpec, timeoutMs: number): Promise<{ ok: true; data?: CallData } | { ok: false; error: string; deadlock?: boolean; failure?: FailureKind }>;
  /** Online, offline and terminate calls made and not answered yet: resources are being started or stopped. */
  changesUnderWay(): number;
  ping(): void;
  fence(reason: string): void;
  /** Kill the monitor and every process group it runs, then start a new one ('crashed' follows). */
  recycle(reason: string): void;
  shutdown(): Promise<void>;
}
