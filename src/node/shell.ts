// What the parts of the node shell (config-log.ts, coordinator.ts, operations.ts, report.ts) see
// of the node: its options, its picture of the cluster from the last reads, and the few things
// they may ask of it. node.ts builds one Shell over its private state; no part holds another's.

import { clusterError, type ClusterError, type Result } from '../core/errors.js';
import type { LocalAction, LocalState } from '../core/local.js';
import type { Membership } from '../core/membership.js';
import type { NodeView, OwnershipRec, PlacementInput } from '../core/placement.js';
import type { GroupName, NodeName } from '../core/types.js';
import type { CoordinatorRecord, NodeReport } from '../store/types.js';
import type { EmitEvent, NodeOptions } from './options.js';
import type { Problems } from './problems.js';

export interface Shell {
  readonly o: NodeOptions;
  readonly name: NodeName;
  readonly problems: Problems;
  readonly emitEvent: EmitEvent;
  // The picture from the last reads: each is replaced whole by a read, never changed in place.
  coordinator(): CoordinatorRecord;
  membership(): Membership;
  ownership(): Record<GroupName, OwnershipRec>;
  /** Every node's last report, also a dead incarnation's. */
  reports(): Record<NodeName, NodeReport>;
  local(): LocalState;
  shuttingDown(): boolean;
  /** A fence is under way (heartbeat): no election, no start. */
  fencing(): boolean;
  isCoordinator(): boolean;
  /** The time at which other nodes' liveness is judged (node.ts). */
  judgeAtMs(): number;
  nodeViews(): Record<NodeName, NodeView>;
  currentReports(): Record<NodeName, NodeReport>;
  placementInput(): PlacementInput;
  /** Read the store again (ownership, coordinator, reports, new log records). */
  refresh(): Promise<void>;
  /** Run a cycle now, or right after the one under way. */
  kick(): void;
  /** The next cycle reads the store again even if its change version did not move. */
  markDirty(): void;
  /** Carry out the local manager's actions (after a change of the local state outside a reconcile: it counts one). */
  apply(actions: LocalAction[]): void;
  /** The local state changed outside a reconcile (node/quiet.ts counts such changes). */
  localChanged(): void;
  /** How many times the local state changed, as counted (node/quiet.ts). */
  localVersion(): number;
  sleep(ms: number): Promise<void>;
  /** Record a term and epoch about to be used, in the copy and in the lease slot (node/floor-notes.ts): a failure means the write that uses them must not be made. */
  noteFloor(term: number, epoch: number): Promise<Result<void>>;
}

export function notCoordinator(c: CoordinatorRecord): ClusterError {
  return clusterError('NO_COORDINATOR', c.node ? `this node is not the coordinator (${c.node} is, term ${c.term})` : 'no coordinator is elected right now',
    'retry in a second: a coordinator is elected within the lease TTL');
}
