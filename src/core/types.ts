// The cluster model: configuration (what the operator asked for, replicated through the
// quorum log) and runtime state (what is happening now). Pure data, no behaviour.

export type NodeName = string;
export type GroupName = string;
export type ResourceName = string;

/** Node states as an operator sees them (cluster.exe / Get-ClusterNode). */
export type NodeState = 'Up' | 'Down' | 'Paused' | 'Joining';

/** Resource states (WSFC's CLUSTER_RESOURCE_STATE names). */
export type ResourceState = 'Offline' | 'OnlinePending' | 'Online' | 'OfflinePending' | 'Failed';

/** Group states as cluster.exe prints them. */
export type GroupState = 'Online' | 'Offline' | 'Partially Online' | 'Pending' | 'Failed';

export const resourceTypes = ['process', 'disk', 'ip', 'ocf', 'lsb'] as const;
/**
 * Types older builds named and this model no longer has. `witness` (WSFC's disk or file-share
 * witness, a tie-breaking vote) has no meaning here: quorum is the quorum store's (a node runs
 * groups only while it holds its lease there; etcd's own majority is its members), so the
 * equivalent of a witness is a third etcd member. Replay keeps a resource of such a type (it never
 * comes online: there is no agent); nothing creates one.
 */
export const retiredResourceTypes = ['witness'] as const;
export type ResourceType = (typeof resourceTypes)[number] | (typeof retiredResourceTypes)[number];

/** WSFC RestartAction: 0 do not restart, 1 restart without failing the group over, 2 restart then fail over. */
export type RestartAction = 'none' | 'restart' | 'restart-failover';

/** Common properties every resource has (cluster.exe /prop). Units last in names. */
export interface CommonProps {
  looksAliveIntervalMs: number;
  isAliveIntervalMs: number;
  pendingTimeoutMs: number;
  restartAction: RestartAction;
  restartThreshold: number;
  restartPeriodMs: number;
  restartDelayMs: number;
  /** Stop grace before SIGKILL of the whole process group. */
  stopGraceMs: number;
}

export const commonPropDefaults: Readonly<CommonProps> = Object.freeze({
  looksAliveIntervalMs: 5_000,
  isAliveIntervalMs: 60_000,
  pendingTimeoutMs: 180_000,
  restartAction: 'restart-failover',
  restartThreshold: 3,
  restartPeriodMs: 15 * 60_000,
  restartDelayMs: 500,
  stopGraceMs: 3_000,
});

/**
 * Private properties (cluster.exe /priv), interpreted by the resource type. A map (string to
 * string: an OCF agent's `params`) has keys checked by checkPriv (privMapKeyRe); read it with
 * Object.hasOwn or privMapEntries, never by a plain lookup of a name.
 */
export type PrivMap = { readonly [key: string]: string };
export type PrivValue = string | number | boolean | string[] | PrivMap;
export type PrivProps = Record<string, PrivValue>;

/** One problem of one private property (core/priv.ts: the checkers of each resource type). */
export interface PrivProblem { key: string; message: string; hint?: string }

export type DesiredState = 'online' | 'offline';

export interface ResourceConfig {
  name: ResourceName;
  group: GroupName;
  type: ResourceType;
  props: CommonProps;
  priv: PrivProps;
  /** Resources of the same group that must be Online before this one starts. */
  dependsOn: ResourceName[];
  /** Persistent desired state: survives restarts of the whole cluster. */
  desired: DesiredState;
}

export type FailbackPolicy =
  | { mode: 'never' }
  | { mode: 'immediate' }
  /** Fail back only when the coordinator's wall-clock hour is in [startHour, endHour). */
  | { mode: 'window'; startHour: number; endHour: number };

export interface GroupConfig {
  name: GroupName;
  /** Ordered: the first Up one is where the group prefers to run. */
  preferredOwners: NodeName[];
  /** Empty means every node may own the group. */
  possibleOwners: NodeName[];
  /** null: number of nodes - 1, as WSFC's default. */
  failoverThreshold: number | null;
  failoverPeriodMs: number;
  failback: FailbackPolicy;
}

export const groupDefaults = Object.freeze({
  failoverThreshold: null as number | null,
  failoverPeriodMs: 6 * 3_600_000,
  failback: Object.freeze({ mode: 'never' }) as FailbackPolicy,
});

export interface NodeConfig {
  name: NodeName;
  /** Operator pause (cluster node /pause): persists until /resume. */
  paused: boolean;
}

/** What an API caller may do; each role may do everything the ones before it may. */
export const roles = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof roles)[number];

/** One API credential: only a hash of its token is kept, so every node verifies and none can show it. */
export interface CredentialConfig {
  user: string;
  role: Role;
  /** sha256 of the token, hex. */
  tokenSha256: string;
  createdWallMs: number;
}

export interface ClusterConfig {
  name: string;
  nodes: Record<NodeName, NodeConfig>;
  groups: Record<GroupName, GroupConfig>;
  resources: Record<ResourceName, ResourceConfig>;
  /** API credentials by user; absent in a cluster that has none yet. */
  credentials?: Record<string, CredentialConfig>;
}

/**
 * One update of the cluster database: the payload of a quorum-log record.
 * The configuration is the fold of these over the checkpoint.
 */
export type ConfigUpdate =
  | { op: 'node-add'; node: NodeName }
  | { op: 'node-remove'; node: NodeName }
  | { op: 'node-pause'; node: NodeName; paused: boolean }
  | { op: 'group-create'; group: GroupName; preferredOwners?: NodeName[]; possibleOwners?: NodeName[];
      failoverThreshold?: number | null; failoverPeriodMs?: number; failback?: FailbackPolicy }
  | { op: 'group-delete'; group: GroupName }
  | { op: 'group-set'; group: GroupName; preferredOwners?: NodeName[]; possibleOwners?: NodeName[];
      failoverThreshold?: number | null; failoverPeriodMs?: number; failback?: FailbackPolicy }
  | { op: 'group-desired'; group: GroupName; desired: DesiredState }
  | { op: 'resource-create'; resource: ResourceName; group: GroupName; type: ResourceType;
      props?: Partial<CommonProps>; priv?: PrivProps; dependsOn?: ResourceName[]; desired?: DesiredState }
  | { op: 'resource-delete'; resource: ResourceName }
  | { op: 'resource-set'; resource: ResourceName; props?: Partial<CommonProps>; priv?: PrivProps }
  | { op: 'resource-add-dep'; resource: ResourceName; dependsOn: ResourceName }
  | { op: 'resource-remove-dep'; resource: ResourceName; dependsOn: ResourceName }
  | { op: 'resource-desired'; resource: ResourceName; desired: DesiredState }
  | { op: 'credential-set'; user: string; role: Role; tokenSha256: string; createdWallMs: number }
  | { op: 'credential-remove'; user: string };

/** The coordinator's bookkeeping of one group, stored with its ownership record (core/books.ts). */
export interface GroupBooks {
  /** Wall-clock ms of the failovers counted within the failover period, oldest first. */
  failoversWallMs?: number[];
  /** The epoch whose failover request is counted: a request is counted once. */
  countedEpoch?: number;
  /** The epoch at which the group was left Failed (failover threshold reached), until an operator brings it online. */
  failedEpoch?: number;
  /** Present while an operator move is not carried out: its target (null: the best other node). */
  moveTo?: NodeName | null;
}

/** Runtime view of one resource on the node that runs (or last ran) it. */
export interface ResourceRuntime {
  state: ResourceState;
  /** Set when state is Failed: why. */
  error?: string;
  /** Restarts within the current restart period. */
  restarts: number;
  pid?: number;
  /** Set while a disk is in maintenance mode (in memory on its owner only, see core/maintenance.ts). */
  maintenance?: MaintenanceRuntime;
}

/** The internal (agent-level) state of a disk in maintenance; the resource itself stays Online. */
export type MaintenanceInternalState = 'Online' | 'OfflinePending' | 'Offline' | 'OnlinePending';

/** Maintenance mode of a disk resource (seed 004): never persisted, cleared by any state change. */
export interface MaintenanceRuntime {
  /** 'maintenance': health checks suppressed; 'extended': also dismounted internally, no device checks. */
  mode: 'maintenance' | 'extended';
  internal: MaintenanceInternalState;
  /** Grows with every maintenance transition on the owner: tells a fresh view from an older one. */
  transition: number;
  /** Wall-clock time the disk entered maintenance (for the "left in maintenance" warning). */
  sinceWallMs: number;
  /** Why the last transition failed (the mode then stayed where it was). */
  error?: string;
}
