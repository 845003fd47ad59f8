// What a node shell is built from (the composition root, the simulator and the benchmarks pass
// these), and the one event sink every part of the shell writes to.

import type { EventName } from '../core/events.js';
import type { Checkpointing } from '../core/checkpoint-policy.js';
import type { Timing } from '../core/timing.js';
import type { NodeName } from '../core/types.js';
import type { EventLevel, QuorumStore } from '../store/types.js';
import type { Clock } from './clock.js';
import type { HeartbeatFactory } from './heartbeat.js';
import type { LocalDb } from './local-db.js';
import type { ResourceHost } from './resource-host.js';
import type { AgentCheckPeer } from './agent-check.js';

export interface NodeOptions {
  name: NodeName;
  apiUrl: string;
  /** This machine's address (the host of --listen), given to resources as ${CLUSTERD_NODE_ADDRESS}; undefined on a wildcard listen. */
  address?: string;
  timing: Timing;
  store: QuorumStore;
  host: ResourceHost;
  clock: Clock;
  /** Log one line; data: the event's fields (group, resource, epoch, code...), logged as separate fields. */
  log: (level: EventLevel, event: string, message: string, data?: Record<string, unknown>) => void;
  /** This node's own copy of the database (absent in the simulator). */
  localDb?: LocalDb;
  /** Operator recovery switches (KB257905): see node/load.ts. */
  recovery?: { resetQuorumLog?: boolean; noQuorumLogging?: boolean; acceptUnreadableFloors?: boolean };
  checkpointing?: Partial<Checkpointing>;
  /** This start's incarnation id (16 hex digits at random by default; the simulator's come from its seed). */
  incarnation?: string;
  /** Eight hex digits for each new backup id (random by default; the simulator's come from its seed). */
  newBackupId?: () => string;
  /** How the lease is renewed and the watchdog fed (default: a timer of the node's own, heartbeat.ts). */
  heartbeat?: HeartbeatFactory;
  /** Asks another node to check resources against its agents at save time (node/agent-check.ts); absent: only this node checks. */
  agentCheckPeer?: AgentCheckPeer;
  /** Freeze every snapshot the API reads (tests and the simulator: a reader that writes into one throws). */
  freezeSnapshots?: boolean;
  /** Skip no part of a quiet cycle, and check that each part the rule would skip did nothing (node/quiet.ts; the simulator). */
  checkQuietCycles?: boolean;
}

/** Log an event on this node and queue it for the cluster's event log. */
export type EmitEvent = (event: EventName, level: EventLevel, message: string, data?: Record<string, unknown>) => void;
