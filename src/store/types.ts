// The quorum-store interface: everything the cluster shares lives behind it. Backends:
// `dir` (embedded, one quorum directory) and later `etcd`; the simulator has its own twin.
// Every backend gives the same semantics; test/store-contract.ts checks them.

import type { ClusterConfig, ConfigUpdate, GroupName, NodeName, ResourceName, ResourceRuntime } from '../core/types.js';
import type { ClusterError } from '../core/errors.js';
import type { BackupView } from '../core/backup.js';
import type { Floor, History } from '../core/load-plan.js';
import type { GroupBooks } from '../core/types.js';

/**
 * A node's lease slot. The node bumps `counter` every heartbeat; observers judge liveness on
 * their own monotonic clock (how long since the counter last changed), never by wall clocks.
 * `state` lets a node announce a planned drain or a clean stop, so that observers need not wait
 * for the TTL; `fenced` is written by the node's resource monitor after it has stopped every
 * resource because clusterd died.
 */
export type LeaseState = 'running' | 'draining' | 'stopped' | 'fenced';

export interface LeaseRecord {
  node: NodeName;
  counter: number;
  state: LeaseState;
  /** Random id of the clusterd process that owns the slot now: a restart changes it. */
  incarnation: string;
}

export interface CoordinatorRecord {
  /** Grows by one on every change of coordinator. 0 before the first election. */
  term: number;
  node: NodeName | null;
}

/**
 * Who may run a group. Written only by the coordinator, under its term.
 * phase 'run': `node` should have the group's resources at their desired state.
 * phase 'stop': `node` must take every resource of the group offline (a move or drain in progress).
 * `epoch` grows on every change of `node`; resources see it as CLUSTERD_EPOCH.
 */
export interface OwnershipRecord {
  group: GroupName;
  node: NodeName | null;
  epoch: number;
  term: number;
  phase: 'run' | 'stop';
  /** The coordinator's bookkeeping of the group (failovers counted, left Failed, a move under way: core/books.ts), kept with the record so that a new coordinator continues it. */
  books?: GroupBooks;
}

/** What one node reports about the groups it hosts (runtime state, not configuration). */
export interface GroupReport {
  epoch: number;
  resources: Record<ResourceName, ResourceRuntime>;
  /**
   * The node has taken every resource of the group offline and will not start it again under
   * this epoch: the coordinator may now give the group to another node (epoch + 1).
   */
  released: boolean;
  /** Set when restarts in place are exhausted and the group asks to fail over. */
  failoverRequested?: boolean;
  /** The node's watchdog stopped everything (clusterd stalled past its self-fence deadline). */
  fenced?: boolean;
}

export interface NodeReport {
  node: NodeName;
  incarnation: string;
  /** Grows with every report of this incarnation. */
  version: number;
  /** Where this node's HTTP API answers, for forwarding and `cluster` endpoints. */
  apiUrl: string;
  /** Highest quorum-log seq this node has applied. */
  appliedSeq: number;
  /** Set while this node cannot read the quorum log after this seq: the coordinator then rewrites the log as a checkpoint. */
  logDamagedAt?: number;
  groups: Record<GroupName, GroupReport>;
  /** Backups this node holds: unfinished ones and the newest finished ones, newest first. */
  backups?: BackupView[];
}

export interface LogRecord {
  seq: number;
  term: number;
  /** CRC-32C of the canonical payload; checked on every read. */
  crc: number;
  update: ConfigUpdate;
}

export interface Checkpoint {
  /** Highest seq folded into `config`. */
  seq: number;
  term: number;
  crc: number;
  config: ClusterConfig;
}

/** What a recovery writes besides the checkpoint, in the same atomic step. */
export interface RecoverOptions {
  /** The history the rebuilt log starts (a reset or no-logging run mints one). */
  history?: History;
  /**
   * Fencing tokens never go backwards (DESIGN rule 6): the coordinator term is raised to at least
   * `term` (with no coordinator), and every group of the configuration whose ownership record is
   * missing, or names no node and is below `epoch`, gets a record with no node at `epoch`, so its
   * next owner runs under a higher epoch than any disk or writer has seen. A record naming a node
   * stays as it is: that node may still run the group.
   */
  floor?: { term: number; epoch: number };
}

export type EventLevel = 'info' | 'warning' | 'error';

export interface ClusterEvent {
  /** Assigned by the store, grows. */
  id: number;
  wallMs: number;
  node: NodeName;
  /** Stable event id, for example NODE_DOWN or HEARTBEAT_STOPPED. */
  event: string;
  level: EventLevel;
  message: string;
  data?: Record<string, unknown>;
}

export type NewEvent = Omit<ClusterEvent, 'id'>;

/**
 * What a lease renewer needs to renew one claimed slot on its own (in clusterd's heartbeat
 * thread): plain data, so that it crosses to a worker thread. See lease-renewer.ts.
 */
/**
 * The lease slots and the change version as one renewal read them (etcd: in the renewal's own
 * transaction, so a linearizable read at the renewal's revision). A node may use it instead of
 * reading them itself, judged as a read sent when the renewal was sent.
 */
export interface RenewalView {
  leases: LeaseRecord[];
  changeVersion: number;
}

export type LeaseRenewerOptions =
  | { kind: 'dir'; node: NodeName; incarnation: string; leasePath: string; slot: number }
  | { kind: 'etcd'; node: NodeName; incarnation: string; endpoints: string[]; prefix: string; callTimeoutMs: number; rev: string;
      /** The store's TLS files (PEM bytes; a worker thread receives them as Uint8Array) and etcd user. */
      tls?: { ca?: Uint8Array; cert?: Uint8Array; key?: Uint8Array }; auth?: { username: string; password: string } };

/**
 * The floors recorded in the lease slots: one per slot that holds one (an evicted node's stays, a
 * slot never written holds none), and the slots that cannot be read, with why.
 */
export interface LeaseFloors {
  floors: { node: NodeName | null; where: string; floor: Floor }[];
  unreadable: string[];
}

export type StoreResult<T> = { ok: true; value: T } | { ok: false; error: ClusterError };

export interface QuorumStore {
  readonly kind: 'dir' | 'etcd' | 'sim';
  /** Human-readable location, for messages. */
  readonly location: string;

  /** Create a new cluster: fails with CLUSTER_EXISTS if one is there. */
  init(clusterName: string, wallMs: number): Promise<StoreResult<void>>;
  /** Open an existing cluster: fails with CLUSTER_NOT_FOUND if none. */
  open(): Promise<StoreResult<{ clusterName: string }>>;
  close(): Promise<void>;

  /** Reserve a lease slot for `node` (idempotent). Claiming sets a new incarnation. */
  claimLeaseSlot(node: NodeName, incarnation: string): Promise<StoreResult<void>>;
  /** Fixed-space write: must keep working when the disk is full. */
  renewLease(node: NodeName, counter: number, state: LeaseState): Promise<StoreResult<void>>;
  readLeases(): Promise<LeaseRecord[]>;
  /**
   * Optional: after claimLeaseSlot, the options from which openLeaseRenewer (lease-renewer.ts)
   * renews the slot on its own connection, in another thread. A store without it (the simulator's)
   * is renewed through renewLease.
   */
  leaseRenewerOptions?(node: NodeName): LeaseRenewerOptions | null;
  /** Remove a node's slot (evict). Its recorded floor stays. */
  removeLeaseSlot(node: NodeName): Promise<StoreResult<void>>;
  /**
   * Record in `node`'s claimed slot that it is about to use a term or epoch up to `floor` (DESIGN
   * rule 6): the recorded floor only rises, durably when it resolves, and survives renewals, a new
   * claim, an eviction and a rebuild of a damaged database. Like renewals, it writes beside the
   * database (the lease file of dir), needs no free space, and moves no change version.
   */
  raiseLeaseFloor(node: NodeName, floor: Floor): Promise<StoreResult<void>>;
  /** Every recorded floor, for a recovery to start above the highest (readable while the database is not). */
  readLeaseFloors(): Promise<StoreResult<LeaseFloors>>;

  readCoordinator(): Promise<CoordinatorRecord>;
  /** Atomically replace `expected` with `next` (next.term must be expected.term + 1). false if it moved. */
  casCoordinator(expected: CoordinatorRecord, next: CoordinatorRecord): Promise<StoreResult<boolean>>;

  readOwnership(): Promise<OwnershipRecord[]>;
  /** Upsert records (or delete where node is null and deleting) under `term`; STALE_TERM if the coordinator term moved. */
  writeOwnership(term: number, records: OwnershipRecord[], deleteGroups?: GroupName[]): Promise<StoreResult<void>>;

  /**
   * Append updates after `expectedHeadSeq` under `term`. Rejected with STALE_TERM if `term` is not
   * the current coordinator term, SEQ_CONFLICT if the head moved, QUORUM_DISK_FULL if there is no
   * room. Durable when it resolves.
   */
  appendLog(term: number, expectedHeadSeq: number, updates: ConfigUpdate[]): Promise<StoreResult<LogRecord[]>>;
  /** Records with seq > afterSeq, in order, at most `max`. */
  readLog(afterSeq: number, max: number): Promise<StoreResult<LogRecord[]>>;
  logHead(): Promise<number>;
  readCheckpoint(): Promise<StoreResult<Checkpoint | null>>;
  /** Write a checkpoint (atomically) and drop log records it covers. */
  writeCheckpoint(term: number, seq: number, config: ClusterConfig): Promise<StoreResult<Checkpoint>>;
  /**
   * Operator recovery (`clusterd start --reset-quorum-log`, or a node repairing a damaged log
   * from a copy it proved current): replace the checkpoint with (seq, term, config) and drop
   * every log record, in one atomic step. Not term-checked: only explicit recovery calls it.
   */
  recoverLog(seq: number, term: number, config: ClusterConfig, opts?: RecoverOptions): Promise<StoreResult<Checkpoint>>;
  /**
   * The history the store's log belongs to (core/load-plan.ts). Optional: a backend without it
   * (etcd for now) is always of the genesis history, and recognises no divergence.
   */
  readHistory?(): Promise<StoreResult<History>>;
  /** Optional: a full check that the store's database can be read (dir: SQLite quick_check); QUORUM_DB_DAMAGED if not. */
  checkIntegrity?(): Promise<StoreResult<void>>;
  /**
   * Optional: set a database that cannot be read aside and make an empty one for `clusterName`
   * (leases kept), for `--reset-quorum-log` to fill from a node's copy. Returns where the damaged
   * file went.
   */
  rebuildDamaged?(clusterName: string, wallMs: number): Promise<StoreResult<string>>;

  writeReport(report: NodeReport): Promise<StoreResult<void>>;
  readReports(): Promise<NodeReport[]>;

  /** Bounded: the store keeps the newest `eventsMax` events. */
  appendEvents(events: NewEvent[]): Promise<StoreResult<void>>;
  readEvents(afterId: number, limit: number): Promise<ClusterEvent[]>;

  /**
   * Would an ordinary write (ownership, a report, a few events) be refused for lack of space right
   * now? QUORUM_DISK_FULL if so, else null. Cheap (one statfs), so every node asks each cycle and
   * shows a full quorum disk even when it has nothing to write. Optional: a store that cannot tell
   * without writing (etcd) leaves it out, and nodes learn from their refused writes.
   */
  freeSpaceProblem?(): ClusterError | null;

  /** Grows on every write except lease renewals: pollers re-read only when it moved. */
  changeVersion(): Promise<number>;
  /** Best-effort wake-up hint when another process wrote (inotify for dir). Returns unsubscribe. */
  onChange(cb: () => void): () => void;
}
