// The HTTP API's JSON shapes. The CLI, the dashboard and tests speak only this API.
//
// Routes (all JSON; errors are HTTP 4xx/5xx with body { error: { code, message, hint?, path? } }):
//   GET    /v1/status                         -> StatusSnapshot (any node answers from its own view)
//   GET    /v1/nodes | /v1/nodes/:node        -> NodeView[] | NodeView
//   POST   /v1/nodes/:node/pause | resume | drain            -> { ok: true }
//   DELETE /v1/nodes/:node                    (evict a Down node)  -> { ok: true }
//   GET    /v1/groups | /v1/groups/:group     -> GroupView[] | GroupView
//   POST   /v1/groups                         body GroupCreate -> GroupView
//   DELETE /v1/groups/:group                  -> { ok: true }
//   PATCH  /v1/groups/:group                  body GroupPatch  -> GroupView
//   POST   /v1/groups/:group/online | offline                -> { ok: true }
//   POST   /v1/groups/:group/move             body { node?: string } -> { ok: true, node: string }
//   GET    /v1/groups/:group/why              -> WhyView
//   GET    /v1/resources | /v1/resources/:res -> ResourceView[] | ResourceView
//   POST   /v1/resources                      body ResourceCreate -> ResourceView
//   DELETE /v1/resources/:res                 -> { ok: true }
//   PATCH  /v1/resources/:res                 body ResourcePatch -> ResourceView
//   POST   /v1/resources/:res/online | offline | fail        -> { ok: true }
//   POST   /v1/resources/:res/maint | extmaint  body { on: boolean } -> ResourceView (as its owner sees it)
//          Maintenance modes of a disk (forwarded to the node that runs it; in memory there).
//          Refusals: MAINTENANCE_NOT_ALLOWED, MAINTENANCE_TRANSITION_REFUSED, MAINTENANCE_PENDING (409).
//   POST   /v1/resources/:res/deps            body { dependsOn: string } -> ResourceView
//   DELETE /v1/resources/:res/deps/:dep       -> ResourceView
//   POST   /v1/apply                          body { spec: ApplySpec, dryRun: boolean, prune?: boolean } -> ApplyResult
//   GET    /v1/export                         -> { seq, text } (the configuration as an apply file; viewers: secrets redacted)
//   POST   /v1/resources/:res/cleanup         -> { ok, node, cleaned } (failure counters and Failed state reset)
//   GET    /v1/agents                         -> { node, agents: string[] } (the OCF agents of the node that answers)
//   GET    /v1/agents/:provider/:agent        -> AgentInfo & { node } (from its meta-data); AGENT_NOT_FOUND
//   GET    /v1/events?after=ID&limit=N        -> { events: ClusterEvent[] }
//   GET    /v1/events/stream                  -> text/event-stream of ClusterEvent
//   GET    /metrics                           -> Prometheus text
// Writes may be sent to any node: it forwards them to the coordinator.

import type { ClusterEvent } from '../store/types.js';
import type {
  CommonProps, DesiredState, FailbackPolicy, GroupState, MaintenanceRuntime, NodeState, PrivProps, ResourceType,
} from '../core/types.js';
import type { ShownResourceState } from '../core/shown-state.js';

export interface NodeView {
  name: string;
  state: NodeState;
  /** Id as cluster.exe prints it: position in the node list, from 1. */
  id: number;
  apiUrl: string | null;
  coordinator: boolean;
  draining: boolean;
}

export interface GroupView {
  name: string;
  state: GroupState;
  /** Current owner (where it runs, or last ran); null if never placed. */
  node: string | null;
  epoch: number;
  preferredOwners: string[];
  possibleOwners: string[];
  failoverThreshold: number;
  failoverPeriodMs: number;
  failback: FailbackPolicy;
  resources: string[];
  /** Why the group is in its state when that is not what it looks like: "owner n2 is Down; failover to n3 (epoch 5) blocked: the quorum disk is full". */
  reason?: string;
  /** The error code of the store refusal that holds the group (QUORUM_DISK_FULL). */
  blockedBy?: string;
}

export interface ResourceView {
  name: string;
  group: string;
  type: ResourceType;
  node: string | null;
  /** The owner's report; Unknown when that owner is Down (see core/shown-state.ts). */
  state: ShownResourceState;
  /** cluster.exe's status column: State plus maintenance flags, e.g. "Online(Maintenance)". */
  status: string;
  desired: DesiredState;
  dependsOn: string[];
  props: CommonProps;
  priv: PrivProps;
  restarts: number;
  error?: string;
  /** A disk in maintenance mode, as its owner reports it (absent: not in maintenance). */
  maintenance?: MaintenanceRuntime;
}

/** Body of POST /v1/resources/:res/maint and /extmaint: /maint:on|off, /extmaint:1|0. */
export interface MaintenanceBody {
  on: boolean;
}

export interface StatusSnapshot {
  cluster: string;
  /** The node that answered. */
  node: string;
  coordinator: string | null;
  term: number;
  appliedSeq: number;
  nodes: NodeView[];
  groups: GroupView[];
  resources: ResourceView[];
  warnings: string[];
  /** Why the quorum store refuses writes now (QUORUM_DISK_FULL), as the answering node sees it; absent when it accepts them. */
  quorumWritesBlocked?: { code: string; message: string };
}

export interface GroupCreate {
  name: string;
  preferredOwners?: string[];
  possibleOwners?: string[];
  failoverThreshold?: number | null;
  failoverPeriodMs?: number;
  failback?: FailbackPolicy;
}
export type GroupPatch = Omit<GroupCreate, 'name'>;

export interface ResourceCreate {
  name: string;
  group: string;
  type: ResourceType;
  props?: Partial<CommonProps>;
  priv?: PrivProps;
  dependsOn?: string[];
}
export interface ResourcePatch {
  props?: Partial<CommonProps>;
  priv?: PrivProps;
}

export interface WhyView {
  group: string;
  node: string | null;
  state: GroupState;
  /** One line per reason, most important first. */
  reasons: string[];
  /** Per node: could the group run there, and why not. */
  candidates: { node: string; eligible: boolean; reason: string }[];
  /** The error code of the store refusal that holds the group's next ownership change (QUORUM_DISK_FULL). */
  blockedBy?: string;
}

/** `cluster apply -f cluster.yaml`: the declarative document. */
export interface ApplySpec {
  groups: Record<string, {
    preferredOwners?: string[];
    possibleOwners?: string[];
    failoverThreshold?: number | null;
    failoverPeriodMs?: number;
    failback?: FailbackPolicy;
    /** Desired state of the whole group; default online. */
    state?: DesiredState;
    resources?: Record<string, {
      type: ResourceType;
      dependsOn?: string[];
      props?: Partial<CommonProps>;
      priv?: PrivProps;
      /** Desired state of this resource when it differs from its group's. */
      state?: DesiredState;
    }>;
  }>;
}

export interface ApplyResult {
  dryRun: boolean;
  /** Human-readable plan lines, e.g. "create group web", "set web-srv.priv.port = 8080". */
  plan: string[];
  /** The deletions of --prune: the first lines of `plan` (absent from servers without --prune). */
  deletions?: string[];
  applied: boolean;
}

export interface ApiErrorBody {
  error: { code: string; message: string; hint?: string; path?: string };
}

export type { ClusterEvent };
