// What the API sees of a node: a read-only snapshot of its picture of the cluster (taken from the
// last cycle's reads and any commit since), and the commands it may call. api/ builds its views
// from the snapshot and never reaches the node's state.

import type { Result } from '../core/errors.js';
import type { LocalState } from '../core/local.js';
import type { MaintRequest } from '../core/maintenance.js';
import type { Membership } from '../core/membership.js';
import type { explain, NodeView, OwnershipRec, PlacementInput, WritesBlocked } from '../core/placement.js';
import type { ClusterConfig, ConfigUpdate, GroupName, NodeName } from '../core/types.js';
import type { ClusterEvent, CoordinatorRecord, NodeReport } from '../store/types.js';
import type { BackupManager } from './backups.js';
import type { AgentsHere } from './agent-check.js';

export interface NodeSnapshot {
  readonly name: NodeName;
  readonly incarnation: string;
  /** True once the first cycle has read the store: before that, views would be empty. */
  readonly ready: boolean;
  readonly stopped: boolean;
  readonly config: ClusterConfig;
  readonly appliedSeq: number;
  readonly coordinator: CoordinatorRecord;
  readonly membership: Membership;
  /** Node states as this node judges them now (core/membership.ts). */
  readonly nodes: Readonly<Record<NodeName, NodeView>>;
  readonly ownership: Readonly<Record<GroupName, OwnershipRec>>;
  /** Reports of each node's current incarnation only. */
  readonly reports: Readonly<Record<NodeName, NodeReport>>;
  /** Every node's last report, also a dead incarnation's. */
  readonly allReports: Readonly<Record<NodeName, NodeReport>>;
  /** This node's resource manager (read only: core/local.ts changes it as agent results arrive). */
  readonly local: Readonly<LocalState>;
  /** Why the quorum store refuses writes now, as this node last saw; null if it accepts them. */
  readonly writesBlocked: WritesBlocked | null;
  /** What placement decides from, as the coordinator would see it on this node (planned changes, `why`); built at its first read (a pass over every group: most requests never read it). */
  readonly placement: PlacementInput;
  readonly eventsDropped: number;
  /** Quorum-log records this version refused at replay and skipped (seq and why). */
  readonly skippedRecords?: readonly { seq: number; reason: string }[];
  /** This node's wall clock (status views: how long a disk has been in maintenance). */
  readonly wallMs: number;
  /** This node's monotonic clock now (the clock membership's lastChangeMs is on). */
  readonly monoMs: number;
  /** The heartbeat's newest successful lease renewal, on monoMs's clock (-Infinity: none yet). */
  readonly lastRenewOkMs: number;
  /** The longest time between two successive successful lease renewals since start (0: fewer than two). */
  readonly renewGapMaxMs: number;
  readonly leaseTtlMs: number;
}

/** The node as the API uses it: one query, and commands. */
export interface NodeFacade {
  readonly name: NodeName;
  snapshot(): NodeSnapshot;
  isCoordinator(): boolean;
  readonly backups: BackupManager;
  /** Commits an operator's change; resources of agent types (ocf, lsb) are checked against their agent first. */
  commit(updates: ConfigUpdate[]): Promise<Result<number>>;
  /** This node's agents: the OCF agents installed, one agent's parameters, another node's save-time check run here. */
  readonly agentsHere: AgentsHere;
  checkpoint(reason: string): Promise<Result<number>>;
  requestMove(group: GroupName, node: NodeName | null): Promise<Result<NodeName>>;
  drain(node: NodeName): Result<void>;
  /** Clears a group's Failed (threshold) state on the coordinator; an operator cleanup also resets its failover history. */
  clearFailed(group: GroupName, resetFailovers?: boolean): void;
  /** On the group's owner: resources left Failed start again (/online), or, for a cleanup, restart counters reset and Failed resources Offline. */
  retryFailed(group: GroupName, resource: string | null, cleanup?: boolean): string[];
  failResource(resource: string): Result<void>;
  setMaintenance(resource: string, req: MaintRequest): Result<void>;
  why(group: GroupName): ReturnType<typeof explain>;
  readEvents(afterId: number, limit: number): Promise<ClusterEvent[]>;
  afterNextCycle(maxMs?: number): Promise<void>;
}

const frozenConfigs = new WeakSet<object>();

function deepFreeze(o: unknown): void {
  if (o === null || typeof o !== 'object' || Object.isFrozen(o)) return;
  Object.freeze(o);
  for (const v of Object.values(o)) deepFreeze(v);
}

/** Freeze a configuration deep, once (a new configuration is a new object; the parts it shares with the one before are frozen already). */
export function freezeConfig<C extends object>(c: C): C {
  if (!frozenConfigs.has(c)) { deepFreeze(c); frozenConfigs.add(c); }
  return c;
}

/**
 * Freeze a snapshot, for tests and the simulator (CLUSTERD_FREEZE_SNAPSHOTS=1, NodeOptions
 * freezeSnapshots): a reader that writes into it throws instead of changing the node. The
 * configuration is frozen deep (once per configuration: a new one is a new object); the maps
 * the node replaces whole on each read are frozen shallow; the local manager's state is live.
 */
export function freezeSnapshot(s: NodeSnapshot): NodeSnapshot {
  freezeConfig(s.config);
  for (const m of [s.nodes, s.ownership, s.reports, s.allReports, s.coordinator]) Object.freeze(m);
  return Object.freeze(s);
}
