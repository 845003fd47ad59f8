// The clusterd shell: wires the pure core (membership, placement, local resource manager,
// configuration fold) to the quorum store, the resource monitor and the clock. It executes
// the core's actions and feeds results back as facts. Policy lives in core; this file only
// decides *when* to ask and *how* to carry out.
//
// Order of work in one cycle (see cycle()):
//   1. read leases, coordinator, ownership, reports, new log records (facts)
//   2. elect a coordinator if there is none alive (CAS on the term)
//   3. as coordinator: register new nodes, plan placement, write ownership under the term
//   4. reconcile local resources (agent calls), publish this node's report
// The heartbeat runs on its own timer so that a slow cycle never delays a lease renewal.

import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Conditions } from '../core/conditions.js';
import { ConfigDraft, emptyConfig } from '../core/config.js';
import { msText } from '../core/duration-text.js';
import { ClusterError, clusterError, fail, ok, type Result } from '../core/errors.js';
import {
  agentResult, emptyLocal, fenced, monitorLost, operatorFail, operatorRetry, quiescent, reconcile, requestMaintenance, resourceExited, resourceLost, revokeInherited, runtimeOf,
  type LocalAction, type LocalState,
} from '../core/local.js';
import type { MaintRequest } from '../core/maintenance.js';
import { logReadMax } from '../core/limits.js';
import { isAlive, judgeNodes, observeLeases, type Membership } from '../core/membership.js';
import { blockedText, chooseNode, explain, planPlacement, type OwnershipRec, type PlacementInput, type WritesBlocked } from '../core/placement.js';
import { mayStart, renewalOverdue, stalled } from '../core/self-fence.js';
import type { Timing } from '../core/timing.js';
import type { ClusterConfig, ConfigUpdate, GroupName, NodeName, NodeState } from '../core/types.js';
import type { Checkpoint, ClusterEvent, CoordinatorRecord, EventLevel, LogRecord, NewEvent, NodeReport, QuorumStore, StoreResult } from '../store/types.js';
import { diskSectorPath, type ResourceSpec } from '../monitor/protocol.js';
import type { Floor, LocalDb } from './local-db.js';
import { forkHistory, genesisHistory, planLoad, type History, type LoadFacts } from '../core/load-plan.js';
import { BackupManager } from './backups.js';
import { refuseWhileOthersRun } from './rebuild-guard.js';
import type { Clock } from './clock.js';
import type { ResourceHost } from './resource-host.js';

export type { Clock } from './clock.js';
export type { ResourceHost } from './resource-host.js';

export interface NodeOptions {
  name: NodeName;
  apiUrl: string;
  timing: Timing;
  store: QuorumStore;
  host: ResourceHost;
  clock: Clock;
  log: (level: EventLevel, event: string, message: string) => void;
  /** This node's own copy of the database (absent in the simulator). */
  localDb?: LocalDb;
  /** Operator recovery switches (KB257905): see loadConfig. */
  recovery?: { resetQuorumLog?: boolean; noQuorumLogging?: boolean };
  checkpointing?: Partial<Checkpointing>;
  /** Eight hex digits for each new backup id (random by default; the simulator's come from its seed). */
  newBackupId?: () => string;
}

export interface Checkpointing {
  /** Checkpoint when the log since the last one reaches this many bytes (WSFC: 64 KiB). */
  logResetBytes: number;
  /** Checkpoint at least this often (WSFC: 4 h). */
  checkpointIntervalMs: number;
}

export const checkpointingDefaults: Readonly<Checkpointing> = Object.freeze({ logResetBytes: 64 * 1024, checkpointIntervalMs: 4 * 3_600_000 });

interface PendingCommit {
  updates: ConfigUpdate[];
  resolve: (r: Result<number>) => void;
}

/** Updates waiting for the next group commit. Why 4096: 64 concurrent writers with deep pipelines fit; beyond that callers get QUORUM_BUSY rather than unbounded memory. */
const pendingCommitsMax = 4_096;

/** Events waiting to be written to the store. Why 1000: a burst of a few hundred resources changing at once fits; beyond that we count drops. */
const eventQueueMax = 1_000;
/** Bound on writing the last events at a planned shutdown: a slow store must not hold the exit (a few store writes). */
const shutdownEventFlushMaxMs = 2_000;
/** A move not planned by a cycle within this is withdrawn and refused: cycles run every heartbeat, so only a stuck node gets near it, and it is below the API's forwarding timeout (10 s). */
const moveAnswerMaxMs = 5_000;

/** An operator move waiting for the ownership write that carries it out. */
interface MoveWaiter {
  group: GroupName;
  target: NodeName;
  resolve: (r: Result<void>) => void;
}

export class ClusterNode extends EventEmitter {
  readonly name: NodeName;
  readonly incarnation = randomBytes(8).toString('hex');
  /** Set once the API listens (the port may be chosen by the OS). */
  apiUrl: string;
  config: ClusterConfig = emptyConfig('');
  appliedSeq = 0;
  membership: Membership = {};
  coordinator: CoordinatorRecord = { term: 0, node: null };
  ownership: Record<GroupName, OwnershipRec> = {};
  reports: Record<NodeName, NodeReport> = {};
  local: LocalState = emptyLocal();
  shuttingDown = false;
  stopped = false;
  /** True once the first cycle has read the store: before that, views would be empty. */
  ready = false;
  eventsDropped = 0;

  private readonly o: NodeOptions;
  private counter = 0;
  private lastBeatMs = 0;
  private lastRenewOkMs = -Infinity;
  /** lastRenewOkMs when this node last fenced itself for want of renewals: one fence per outage. */
  private leaseLostFencedAt = -Infinity;
  private fencing = false;
  /**
   * Send times (this node's monotonic clock) of the newest completed lease and ownership reads.
   * Liveness is judged at the lease read's send time, never later (simulator bug 4): a lease view
   * says nothing about the time after it was asked for, so a slow store or a pause between the
   * read and a decision must not make a live node look Down.
   */
  private leasesReadAtMs = -Infinity;
  private ownershipReadAtMs = -Infinity;
  /**
   * Set when this node lost its lease or stalled (NODE_LEASE_LOST, NODE_STALLED): the coordinator
   * may have judged it Down meanwhile. The first ownership read sent after that moment revokes
   * every assignment naming this node that it does not run (simulator bug 6).
   */
  private revokeAfterMs: number | null = null;
  private changeVersion = -1;
  private dirty = true;
  private cycleRunning: Promise<void> | null = null;
  private cycleAgain = false;
  /** A cycle is scheduled for the next turn of the event loop (kick). */
  private kickPending = false;
  /** afterNextCycle() callers, released when the next cycle to begin has finished. */
  private cycleWaiters: (() => void)[] = [];
  private reportVersion = 0;
  private lastReportJson = '';
  private eventQueue: NewEvent[] = [];
  private flushing = false;
  private cancelTimers: (() => void)[] = [];
  private pendingCommits: PendingCommit[] = [];
  private committing = false;
  private noQuorumLogging = false;
  /** --no-quorum-logging: the new history each change written as a checkpoint belongs to, from which seq, above which floor. */
  private storeRebuilt = false;
  private noLogging: { history: History; newSeq: number; floor: { term: number; epoch: number } } | null = null;
  private logBytesSinceCheckpoint = 0;
  private lastCheckpointMs = 0;
  private stoppedSeen = new Set<NodeName>();
  /** Set while this node cannot read the quorum log past this seq (reported, so the coordinator repairs it). */
  private logDamagedAt: number | undefined;
  private readonly checkpointing: Checkpointing;
  // Coordinator bookkeeping (in memory: a new coordinator starts afresh, see README).
  private moveRequests: Record<GroupName, NodeName | null> = {};
  /** Operator moves waiting for the ownership write that carries them out (or refuses them): see requestMove. */
  private moveWaiters: MoveWaiter[] = [];
  /** Failures that repeat every cycle, logged as conditions (start, a line a minute, end): core/conditions.ts. */
  private readonly conditions = new Conditions();
  private failoverHistoryMs: Record<GroupName, number[]> = {};
  private failoverHandledEpoch: Record<GroupName, number> = {};
  private failedGroups: Record<GroupName, number> = {};
  private wasCoordinator = false;
  /** Backups of the groups this node runs (issue 7): node/backups.ts around core/backup.ts. */
  readonly backups: BackupManager;

  constructor(o: NodeOptions) {
    super();
    this.o = o;
    this.name = o.name;
    this.apiUrl = o.apiUrl;
    this.checkpointing = { ...checkpointingDefaults, ...(o.checkpointing ?? {}) };
    this.backups = new BackupManager({
      name: o.name, host: o.host, clock: o.clock, emitEvent: (...e) => this.emitEvent(...e), ...(o.newBackupId ? { newId: o.newBackupId } : {}),
      context: () => ({ self: this.name, config: this.config, ownership: this.ownership, local: this.local, shuttingDown: this.shuttingDown }),
    });
  }

  // ---- start and stop ------------------------------------------------------------------

  async start(): Promise<Result<void>> {
    const { store, host } = this.o;
    // A store database that cannot be read refuses the claim: loadConfig says so with the recovery
    // switches, or rebuilds it for --reset-quorum-log and claims again.
    const claimed = await store.claimLeaseSlot(this.name, this.incarnation);
    if (!claimed.ok && claimed.error.code !== 'QUORUM_DB_DAMAGED') return claimed;
    const loaded = await this.loadConfig();
    if (!loaded.ok) return loaded;
    if (!claimed.ok && !this.storeRebuilt) return claimed;
    this.lastCheckpointMs = this.o.clock.nowMs();
    // A new incarnation runs nothing yet. Whatever the store still assigns to this node's name was
    // given to an earlier incarnation, which a coordinator may have seen stopped, fenced or Down and
    // be giving away right now: report it released and fenced, and wait for a new epoch (bug 6).
    const inherited = revokeInherited(this.local, this.name, await store.readOwnership(), 'assigned to an earlier incarnation of this node');
    host.on('exited', (resource: string, code: number | null, signal: string | null) =>
      this.apply(resourceExited(this.local, this.name, resource, signal ? `signal ${signal}` : `exit code ${code}`, this.o.clock.nowMs())));
    host.on('crashed', (info: { reason: string }) => {
      this.emitEvent('MONITOR_RESTARTED', 'error', `resource monitor on ${this.name} was lost and restarted: ${info.reason}`);
      this.apply(monitorLost(this.local, this.name, `resource monitor lost: ${info.reason}`, this.o.clock.nowMs()));
    });
    host.on('fenced', (reason: string) => {
      this.fencing = false;
      this.apply(fenced(this.local, this.name, typeof reason === 'string' ? reason : 'watchdog'));
    });
    // What agents report on their own (RESOURCE_KILLED, DISK_SECTOR_CLAIMED...) goes to the event
    // log; the BACKUP_ ones are node/backups.ts's; a line without an event id goes to the node's log.
    host.on('log', (level: EventLevel, message: string, event?: string, data?: Record<string, unknown>) => {
      if (event === undefined) this.o.log(level, 'MONITOR_LOG', message);
      else if (!event.startsWith('BACKUP_')) this.emitEvent(event, level, message, data);
    });
    // A disk's private sector shows a newer epoch: stop its dependents at once.
    host.on('lost', (resource: string, reason: string) => this.apply(resourceLost(this.local, this.name, this.config, resource, reason)));
    this.apply(inherited);
    this.beat();
    this.cancelTimers.push(this.o.clock.setInterval(() => this.beat(), this.o.timing.heartbeatIntervalMs));
    this.cancelTimers.push(this.o.clock.setInterval(() => this.kick(), this.o.timing.heartbeatIntervalMs));
    this.cancelTimers.push(store.onChange(() => { this.dirty = true; this.kick(); }));
    this.emitEvent('NODE_STARTED', 'info', `node ${this.name} started (incarnation ${this.incarnation}, API ${this.apiUrl})`);
    this.kick();
    return ok(undefined);
  }

  /**
   * Load the configuration (KB257905's lessons): gather the facts (this node's copy, the store's
   * checkpoint, history and how far its log is intact), let core/load-plan.ts decide, then carry
   * the plan out. Never go backwards, keep every intact record, never reuse a seq.
   */
  private async loadConfig(): Promise<Result<void>> {
    const { store } = this.o;
    const db = this.o.localDb;
    const local = db?.load() ?? { copy: null, notes: [] };
    for (const n of local.notes) this.emitEvent(n.event, n.level, n.message);
    const copy = local.copy;
    const state = db?.readState() ?? { history: genesisHistory, floor: { term: 0, epoch: 0 } };
    const gathered = await this.storeFacts();
    if (!gathered.ok) return gathered;
    const { facts: storeFacts, checkpoint: storeCp, history: storeHistory } = gathered.value;
    const recovery = this.o.recovery ?? {};
    const plan = planLoad({
      switches: { resetQuorumLog: !!recovery.resetQuorumLog, noQuorumLogging: !!recovery.noQuorumLogging },
      copy: copy ? { seq: copy.seq, history: state.history } : null,
      store: storeFacts,
      where: { store: store.location, copy: db?.dir ?? 'this node (no data directory)' },
    });
    if (plan.kind === 'refuse') return fail(plan.error);
    const floor = this.recoveryFloor(state.floor, copy?.term ?? 0, storeCp?.term ?? 0);
    if (plan.kind === 'repair') {
      const res = await store.recoverLog(copy!.seq, copy!.term, copy!.config, { floor });
      if (!res.ok) return res;
      this.useBase(copy!.seq, copy!.config);
      this.emitEvent('QUORUM_LOG_REPAIRED', 'warning', `the quorum log was damaged (${storeFacts.readable ? storeFacts.damage ?? 'checkpoint' : ''}); ${plan.note}`);
      return ok(undefined);
    }
    if (plan.kind === 'reset' && plan.rebuild) return this.rebuildStore(storeFacts.readable ? '' : storeFacts.reason);
    // Start from the base the plan chose; a store base follows the store's history.
    if (plan.from === 'copy' && copy) this.useBase(copy.seq, copy.config);
    else if (storeCp) {
      this.useBase(storeCp.seq, storeCp.config);
      db?.setHistory(storeHistory);
      db?.writeCheckpoint(storeCp.seq, storeCp.term, storeCp.config);
    }
    if (plan.kind === 'load') {
      if (plan.note) this.emitEvent('LOCAL_COPY_BEHIND', 'info', plan.note);
      return this.catchUp();
    }
    const replayed = await this.catchUp(plan.throughSeq);
    if (!replayed.ok) return replayed;
    const baseHistory = plan.from === 'copy' ? state.history : storeHistory;
    const history = forkHistory(baseHistory, this.newHistoryId(), plan.forkSeq);
    if (plan.kind === 'no-logging') {
      this.noQuorumLogging = true;
      this.noLogging = { history, newSeq: plan.newSeq, floor };
      this.emitEvent('QUORUM_LOGGING_DISABLED', 'warning', plan.note);
      return ok(undefined);
    }
    const res = await store.recoverLog(plan.newSeq, floor.term, this.config, { history, floor });
    if (!res.ok) return res;
    db?.setHistory(history);
    db?.writeCheckpoint(plan.newSeq, floor.term, this.config);
    this.appliedSeq = plan.newSeq;
    this.emitEvent('QUORUM_LOG_RESET', 'warning', `${plan.note} (history ${history.id}; terms from ${floor.term}, epochs from ${floor.epoch}). Restart without the switch once the cluster is up.`);
    return ok(undefined);
  }

  /** Every recovery starts terms and epochs above the highest this node's copy has seen (its floor) and the terms of the records it holds. */
  protected recoveryFloor(copyFloor: Floor, copyTerm: number, storeCheckpointTerm: number): Floor {
    return { term: Math.max(copyFloor.term, copyTerm, storeCheckpointTerm), epoch: copyFloor.epoch };
  }

  /** A new history's id: random, so that histories of different recoveries never share one. */
  protected newHistoryId(): string {
    return randomBytes(8).toString('hex');
  }

  private useBase(seq: number, config: ClusterConfig): void {
    this.config = config;
    this.appliedSeq = seq;
  }

  /** What the store holds, as load-plan facts: a database that cannot be read, a damaged checkpoint, how far the log is intact. */
  private async storeFacts(): Promise<Result<{ facts: LoadFacts['store']; checkpoint: Checkpoint | null; history: History }>> {
    const { store } = this.o;
    const unreadable = (e: ClusterError) => ok({ facts: { readable: false as const, reason: e.message }, checkpoint: null, history: genesisHistory });
    try {
      const integrity = await store.checkIntegrity?.() ?? ok(undefined);
      if (!integrity.ok) return integrity.error.code === 'QUORUM_DB_DAMAGED' ? unreadable(integrity.error) : integrity;
      const head = await store.logHead();
      const cp = await store.readCheckpoint();
      const history = await store.readHistory?.() ?? ok(genesisHistory);
      if (!history.ok) return history;
      if (cp.ok && !cp.value) return fail(clusterError('CLUSTER_NOT_FOUND', `no checkpoint in ${store.location}`, 'create the cluster first: clusterd init --quorum ...'));
      if (!cp.ok) {
        if (cp.error.code === 'QUORUM_DB_DAMAGED') return unreadable(cp.error);
        if (cp.error.code !== 'QUORUM_LOG_DAMAGED') return cp;
        return ok({ facts: { readable: true, history: history.value, checkpointSeq: null, head, intactThrough: -1, damage: cp.error.message }, checkpoint: null, history: history.value });
      }
      const scan = await this.scanStoreLog(cp.value!.seq);
      if (!scan.ok) return scan.error.code === 'QUORUM_DB_DAMAGED' ? unreadable(scan.error) : scan;
      return ok({ facts: { readable: true, history: history.value, checkpointSeq: cp.value!.seq, head, ...scan.value }, checkpoint: cp.value, history: history.value });
    } catch (e) {
      if (e instanceof ClusterError && e.code === 'QUORUM_DB_DAMAGED') return unreadable(e);
      throw e;
    }
  }

  /**
   * Read the store's whole log once at start (bounded by the reset size, so cheap): the last seq
   * intact in order from the checkpoint, and the first damage. A damaged page is read again one
   * record at a time, so that every intact record before the damage counts.
   */
  private async scanStoreLog(fromSeq: number): Promise<Result<{ intactThrough: number; damage: string | null }>> {
    let after = fromSeq;
    let step = logReadMax;
    for (;;) {
      const page = await this.o.store.readLog(after, step);
      if (!page.ok) {
        if (page.error.code !== 'QUORUM_LOG_DAMAGED') return page;
        if (step > 1) { step = 1; continue; }
        return ok({ intactThrough: after, damage: page.error.message });
      }
      if (page.value.length === 0) return ok({ intactThrough: after, damage: null });
      after = page.value[page.value.length - 1]!.seq;
      if (page.value.length < step && step === logReadMax) return ok({ intactThrough: after, damage: null });
    }
  }

  /** `--reset-quorum-log` on a store whose database cannot be read: set it aside, make it anew, then reset into it. */
  private async rebuildStore(reason: string): Promise<Result<void>> {
    const { store } = this.o;
    if (!store.rebuildDamaged) return fail(clusterError('QUORUM_DB_DAMAGED', `the database of ${store.location} cannot be read (${reason}) and this store cannot be rebuilt by clusterd`, 'restore the store from a backup, then start with --reset-quorum-log'));
    const alone = await refuseWhileOthersRun({ self: this.name, store: store.location, readLeases: () => store.readLeases(), sleep: (ms) => this.sleep(ms), leaseTtlMs: this.o.timing.leaseTtlMs });
    if (!alone.ok) return alone;
    const rebuilt = await store.rebuildDamaged(this.o.localDb?.load().copy?.config.name ?? 'cluster', this.o.clock.wallMs());
    if (!rebuilt.ok) return rebuilt;
    this.storeRebuilt = true;
    this.emitEvent('QUORUM_DB_REBUILT', 'warning', `the database of ${store.location} could not be read (${reason}): set aside as ${rebuilt.value}, and made anew for --reset-quorum-log`);
    const claimed = await store.claimLeaseSlot(this.name, this.incarnation);
    if (!claimed.ok) return claimed;
    return this.loadConfig();
  }

  /** Apply every log record after appliedSeq (and keep them in the local copy). A record that does not apply is corruption: refuse. */
  private async catchUp(throughSeq = Infinity): Promise<Result<void>> {
    for (;;) {
      if (this.appliedSeq >= throughSeq) return ok(undefined);
      const max = Math.min(logReadMax, throughSeq - this.appliedSeq);
      let recs = await this.o.store.readLog(this.appliedSeq, max);
      if (!recs.ok && recs.error.code === 'SEQ_CONFLICT') {
        // The log no longer reaches back to our seq: load the store's checkpoint first, and label
        // the copy with the history that checkpoint belongs to (read on both sides of it: a reset
        // in between changes it, and the loop reads again).
        const before = await this.o.store.readHistory?.() ?? ok(genesisHistory);
        const cp = await this.o.store.readCheckpoint();
        if (!cp.ok) return cp;
        const after = await this.o.store.readHistory?.() ?? ok(genesisHistory);
        if (!before.ok) return before;
        if (!after.ok) return after;
        if (before.value.id !== after.value.id) continue;
        if (cp.value && cp.value.seq > this.appliedSeq) {
          this.config = cp.value.config;
          this.appliedSeq = cp.value.seq;
          this.o.localDb?.setHistory(after.value);
          this.o.localDb?.writeCheckpoint(cp.value.seq, cp.value.term, cp.value.config);
        }
        recs = await this.o.store.readLog(this.appliedSeq, max);
      }
      if (!recs.ok) return recs;
      if (recs.value.length === 0) return ok(undefined);
      const draft = new ConfigDraft(this.config);
      for (const r of recs.value) {
        if (r.seq !== this.appliedSeq + 1) {
          this.config = draft.config;
          return fail(clusterError('QUORUM_LOG_DAMAGED', `quorum log gap: expected seq ${this.appliedSeq + 1}, found ${r.seq}`, 'clusterd quorum-log verify shows the damage'));
        }
        const next = draft.apply(r.update);
        if (!next.ok) {
          this.config = draft.config;
          return fail(clusterError('QUORUM_LOG_DAMAGED', `quorum log record ${r.seq} does not apply: ${next.error.message}`, 'clusterd quorum-log verify shows the damage'));
        }
        this.appliedSeq = r.seq;
      }
      this.config = draft.config;
      this.keepLocal(recs.value);
      if (recs.value.length < max) return ok(undefined);
    }
  }

  /** Append applied records to this node's copy; checkpoint it when its log passes the reset size. */
  private keepLocal(records: LogRecord[]): void {
    const db = this.o.localDb;
    if (!db || records.length === 0) return;
    const res = db.logBytes >= this.checkpointing.logResetBytes
      ? db.writeCheckpoint(this.appliedSeq, this.coordinator.term, this.config)
      : db.append(records);
    if (!res.ok) this.noteDiskFull('LOCAL_DISK_FULL', res.error);
    else this.noteDiskOk('LOCAL_DISK_FULL');
  }

  /** One event when a disk fills up, a line a minute while it stays full, one when space returns: not one per refused write. */
  private noteDiskFull(what: 'QUORUM_DISK_FULL' | 'LOCAL_DISK_FULL', e: ClusterError): void {
    this.failing(what, 'error', e);
  }
  private noteDiskOk(what: 'QUORUM_DISK_FULL' | 'LOCAL_DISK_FULL'): void {
    this.recovered(what, `space is back: ${what === 'LOCAL_DISK_FULL' ? 'the node data directory' : 'the quorum store'} accepts writes again`);
  }

  /** A write to the quorum store done: a refusal for space starts (or counts toward) QUORUM_DISK_FULL, a success ends it. */
  private wrote<T>(res: StoreResult<T>): StoreResult<T> {
    if (res.ok) this.noteDiskOk('QUORUM_DISK_FULL');
    else if (res.error.code === 'QUORUM_DISK_FULL') this.noteDiskFull('QUORUM_DISK_FULL', res.error);
    return res;
  }

  /** Why the quorum store refuses writes now, as this node last saw (its writes and its free-space probe); null if it accepts them. */
  quorumWritesBlocked(): WritesBlocked | null {
    const h = this.conditions.holding('QUORUM_DISK_FULL');
    return h ? { code: h.signature, message: h.message } : null;
  }

  /** One more occurrence of a failure that can repeat every cycle (core/conditions.ts decides what to log). */
  private failing(key: string, level: EventLevel, e: ClusterError): void {
    for (const l of this.conditions.occurred(key, e.code, e.message, this.o.clock.nowMs())) {
      const hint = l.phase === 'started' && e.hint ? ` hint: ${e.hint}` : '';
      this.emitEvent(l.event, l.phase === 'ended' ? 'info' : level, l.message + hint, { code: e.code, count: l.count, forMs: Math.round(l.forMs) });
    }
  }
  private recovered(key: string, what?: string): void {
    for (const l of this.conditions.cleared(key, this.o.clock.nowMs(), what)) {
      this.emitEvent(l.event, 'info', l.message, { count: l.count, forMs: Math.round(l.forMs) });
    }
  }

  /** Planned shutdown (safety rule 5): drain, release, then stop heartbeating last. */
  async shutdown(): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    const { clock, timing } = this.o;
    this.emitEvent('NODE_DRAINING', 'info', `node ${this.name} is shutting down: moving its groups away`);
    this.beat();
    this.kick();
    const deadline = clock.nowMs() + timing.shutdownPendingTimeoutMs;
    const drained = () => quiescent(this.local) && Object.values(this.local.groups).every((g) => g.released);
    while (!drained() && clock.nowMs() < deadline) await this.sleep(20);
    if (!drained()) {
      this.emitEvent('SHUTDOWN_TIMEOUT', 'error', `node ${this.name}: groups did not go offline within ${msText(timing.shutdownPendingTimeoutMs)}; stopping every resource now`);
      await this.fenceNow('shutdown pending timeout');
    } else {
      this.emitEvent('NODE_DRAINED', 'info', `node ${this.name}: all its groups are offline here`);
    }
    if (this.isCoordinator() && !this.noQuorumLogging) {
      const cp = await this.checkpoint(`clusterd stopping on ${this.name}`);
      if (!cp.ok) this.o.log('warning', 'CHECKPOINT_FAILED', cp.error.message);
    }
    const local = this.o.localDb?.writeCheckpoint(this.appliedSeq, this.coordinator.term, this.config);
    if (local && !local.ok) this.o.log('warning', 'LOCAL_CHECKPOINT_FAILED', local.error.message);
    await this.handOverCoordinator(deadline);
    this.emitEvent('HEARTBEAT_STOPPING', 'info', `node ${this.name} stops heartbeating now (its groups are offline)`);
    await this.flushEventsBeforeStop();
    for (const c of this.cancelTimers) c();
    this.cancelTimers = [];
    if (this.cycleRunning) await this.cycleRunning;
    await this.o.store.renewLease(this.name, ++this.counter, 'stopped');
    this.stopped = true;
    this.dropMoves(clusterError('NO_COORDINATOR', `node ${this.name} stopped`, 'retry: another node takes over as coordinator'));
    this.backups.close();
    await this.o.host.shutdown();
  }

  /**
   * Writes every queued event before the heartbeat stops: what this node did last (the resources
   * it stopped or killed) must be on its log. A flush the cycle started may still be under way.
   */
  private async flushEventsBeforeStop(): Promise<void> {
    const until = this.o.clock.nowMs() + shutdownEventFlushMaxMs;
    while (this.eventQueue.length > 0 && this.o.clock.nowMs() < until) {
      if (!this.flushing) await this.flushEvents();
      if (this.eventQueue.length > 0) await this.sleep(10);
    }
  }

  /** As coordinator, wait (bounded) until our released groups have new owners, then step down. */
  private async handOverCoordinator(deadline: number): Promise<void> {
    const { clock } = this.o;
    const mine = () => Object.values(this.ownership).some((r) => r.node === this.name && this.hasOtherUpNode());
    while (this.isCoordinator() && mine() && clock.nowMs() < deadline) { this.kick(); await this.sleep(20); }
    if (!this.isCoordinator()) return;
    // A term this node writes is in its floor before the write (a store rebuilt after it starts above).
    if (!(this.o.localDb?.noteFloor(this.coordinator.term + 1, 0) ?? ok(undefined)).ok) return;
    const res = await this.o.store.casCoordinator(this.coordinator, { term: this.coordinator.term + 1, node: null });
    if (res.ok && res.value) this.emitEvent('COORDINATOR_RELEASED', 'info', `node ${this.name} gave up the coordinator role (term ${this.coordinator.term + 1})`);
  }

  private hasOtherUpNode(): boolean {
    return Object.entries(this.nodeViews()).some(([n, v]) => n !== this.name && v.state === 'Up');
  }

  private async fenceNow(reason: string): Promise<void> {
    this.fencing = true;
    this.o.host.fence(reason);
    const until = this.o.clock.nowMs() + 5_000;
    while (this.fencing && this.o.clock.nowMs() < until) await this.sleep(10);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.o.clock.setTimeout(resolve, ms));
  }

  // ---- heartbeat ------------------------------------------------------------------------

  private beat(): void {
    if (this.stopped) return;
    const now = this.o.clock.nowMs();
    const gap = this.lastBeatMs ? now - this.lastBeatMs : 0;
    this.lastBeatMs = now;
    if (stalled(gap, this.o.timing) && !this.fencing) {
      // We were stalled past our own deadline: the watchdog has fired or is about to. Make sure,
      // and start nothing until it confirms (safety rule 2).
      this.emitEvent('NODE_STALLED', 'error', `node ${this.name} was stalled for ${msText(gap)} (self-fence deadline ${msText(this.o.timing.selfFenceMs)}): stopping its resources`);
      this.fencing = true;
      this.revokeAfter(now);
      this.o.host.fence(`clusterd stalled for ${msText(gap)}`);
    }
    // Safety rule 2: a node that cannot renew its lease (quorum store unreachable, slot lost)
    // stops its resources itself before its self-fence deadline. Beats are one interval apart,
    // so the last beat before the deadline fences.
    const sinceRenewMs = now - this.lastRenewOkMs;
    if (!this.fencing && Number.isFinite(this.lastRenewOkMs) && this.leaseLostFencedAt !== this.lastRenewOkMs &&
        renewalOverdue(now, this.lastRenewOkMs, this.o.timing)) {
      // Once per outage. What is assigned here and not yet running may be given away too while
      // the lease is lost: revoke it at the next ownership read, even with nothing to stop.
      this.leaseLostFencedAt = this.lastRenewOkMs;
      this.revokeAfter(now);
      if (Object.keys(this.local.groups).length > 0) {
        this.emitEvent('NODE_LEASE_LOST', 'error', `node ${this.name} could not renew its lease for ${msText(sinceRenewMs)} (self-fence deadline ${msText(this.o.timing.selfFenceMs)}): stopping its resources`);
        this.fencing = true;
        this.o.host.fence(`lease not renewed for ${msText(sinceRenewMs)}`);
      }
    }
    this.o.host.ping();
    const state = this.shuttingDown ? 'draining' : 'running';
    void this.o.store.renewLease(this.name, ++this.counter, state).then((r) => {
      // A late answer for an older beat never moves the renewal time back.
      if (r.ok) this.lastRenewOkMs = Math.max(this.lastRenewOkMs, now);
    });
  }

  /** Revoke, at the next ownership read sent after `atMs`, what names this node and it does not run; and make that read happen. */
  private revokeAfter(atMs: number): void {
    this.revokeAfterMs = atMs;
    this.dirty = true;
  }

  /** May this node start resources under `rec` now? Valid lease, current term, no fence under way (core/self-fence.ts). */
  private mayStart(rec: OwnershipRec): boolean {
    return mayStart({
      nowMs: this.o.clock.nowMs(), self: this.name, lastRenewOkMs: this.lastRenewOkMs, fencing: this.fencing || this.revokeAfterMs !== null, shuttingDown: this.shuttingDown,
      recordTerm: rec.term, currentTerm: this.coordinator.term, membership: this.membership,
    }, this.o.timing);
  }

  // ---- the cycle ------------------------------------------------------------------------

  /** Run a cycle now, or right after the one under way. */
  kick(): void {
    if (this.stopped) return;
    if (this.cycleRunning) { this.cycleAgain = true; return; }
    if (this.kickPending) return;
    // On a later turn of the event loop, never now: a burst of kicks (10,000 agent results at
    // start) shares one cycle, and timers (the heartbeat) and I/O run between cycles even when
    // the store answers synchronously (dir), so back-to-back cycles cannot starve a renewal.
    this.kickPending = true;
    this.o.clock.setTimeout(() => { this.kickPending = false; this.runCycle(); }, 0);
  }

  private runCycle(): void {
    if (this.stopped) return;
    if (this.cycleRunning) { this.cycleAgain = true; return; }
    const waiters = this.cycleWaiters.splice(0);
    this.cycleRunning = this.cycle().then(() => this.recovered('CYCLE_ERROR', 'cycles complete again'), (e: unknown) => {
      // A bug, logged as a condition: the same error every 100 ms is one line, its count a minute.
      const detail = e instanceof Error ? e.stack ?? e.message : String(e);
      this.failing('CYCLE_ERROR', 'error', clusterError('INTERNAL', `cycle failed: ${detail}`));
    }).finally(() => {
      this.cycleRunning = null;
      for (const w of waiters) w();
      if (this.cycleAgain) { this.cycleAgain = false; this.kick(); }
    });
  }

  /**
   * Resolves once a cycle that began after this call has finished, so its report is published:
   * an operator request answered after it is seen by every node's next read (read-your-writes
   * across nodes). Bounded by `maxMs`.
   */
  afterNextCycle(maxMs = 2_000): Promise<void> {
    return new Promise((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        cancel();
        resolve();
      };
      const cancel = this.o.clock.setTimeout(finish, maxMs);
      this.cycleWaiters.push(finish);
      this.kick();
    });
  }

  private async cycle(): Promise<void> {
    const { store, clock } = this.o;
    // Ownership first, leases after: the lease view is then at least as new as the records the
    // cycle acts on (see nodeViews).
    await this.refresh();
    // A full quorum disk is seen by every node, also one with nothing to write (status, why, moves).
    const space = store.freeSpaceProblem?.();
    if (space) this.noteDiskFull('QUORUM_DISK_FULL', space);
    else if (space === null) this.noteDiskOk('QUORUM_DISK_FULL');
    const sentMs = clock.nowMs();
    const leases = await store.readLeases();
    // Observed at the answer's arrival: a conservative start for each node's silence.
    this.membership = observeLeases(this.membership, leases, clock.nowMs());
    this.leasesReadAtMs = Math.max(this.leasesReadAtMs, sentMs);
    await this.elect();
    if (this.isCoordinator()) {
      await this.coordinate();
      if (!this.noQuorumLogging) await this.maybeCheckpoint();
    }
    this.apply(reconcile(this.local, this.localContext()));
    this.backups.check(); // a backup whose group stopped running here as it was fails and thaws
    await this.publishReport();
    this.ready = true;
    void this.flushEvents();
  }

  private async refresh(): Promise<void> {
    const { store } = this.o;
    const version = await store.changeVersion();
    if (version === this.changeVersion && !this.dirty) return;
    this.dirty = false;
    this.changeVersion = version;
    const prevCoord = this.coordinator;
    this.coordinator = await store.readCoordinator();
    if (prevCoord.term !== this.coordinator.term) this.onNewTerm(prevCoord);
    const own: Record<GroupName, OwnershipRec> = {};
    const sentMs = this.o.clock.nowMs();
    const records = await store.readOwnership();
    let epochMax = 0;
    for (const r of records) { own[r.group] = r; epochMax = Math.max(epochMax, r.epoch); }
    // Durable before anything acts on them: a rebuilt store starts above every token seen (rule 6).
    this.o.localDb?.noteFloor(this.coordinator.term, epochMax);
    this.ownership = own;
    this.ownershipReadAtMs = Math.max(this.ownershipReadAtMs, sentMs);
    if (this.revokeAfterMs !== null && sentMs >= this.revokeAfterMs) {
      this.revokeAfterMs = null;
      this.apply(revokeInherited(this.local, this.name, records, 'assigned to this node before it lost its lease or stalled'));
    }
    const reports: Record<NodeName, NodeReport> = {};
    for (const r of await store.readReports()) reports[r.node] = r;
    this.reports = reports;
    if ((await store.logHead()) > this.appliedSeq && !this.noQuorumLogging) {
      const res = await this.catchUp();
      if (!res.ok && this.logDamagedAt === undefined) {
        this.logDamagedAt = this.appliedSeq;
        this.emitEvent('QUORUM_LOG_UNREADABLE', 'error', `${res.error.message}: this node keeps its configuration at seq ${this.appliedSeq} until the coordinator rewrites the log`);
      }
      if (res.ok) this.logDamagedAt = undefined;
    }
  }

  private onNewTerm(prev: CoordinatorRecord): void {
    const c = this.coordinator;
    if (this.wasCoordinator && c.node !== this.name) {
      this.emitEvent('COORDINATOR_LOST', 'warning', `node ${this.name} is no longer coordinator (term ${c.term} belongs to ${c.node ?? 'nobody'})`);
      this.dropMoves(notCoordinator(c));
    }
    this.wasCoordinator = c.node === this.name;
    if (c.node && c.node !== prev.node) this.o.log('info', 'COORDINATOR', `coordinator is ${c.node} (term ${c.term})`);
  }

  isCoordinator(): boolean {
    return this.coordinator.node === this.name;
  }

  private async elect(): Promise<void> {
    const now = this.o.clock.nowMs();
    const c = this.coordinator;
    if (this.shuttingDown || this.fencing) return;
    if (c.node && isAlive(this.membership, c.node, this.judgeAtMs(), this.o.timing.leaseTtlMs)) return;
    if (!isAlive(this.membership, this.name, now, this.o.timing.leaseTtlMs)) return;
    // The term is in this node's floor before the write that may win it (a store rebuilt after it starts above).
    const floored = this.o.localDb?.noteFloor(c.term + 1, 0) ?? ok(undefined);
    const won = floored.ok ? this.wrote(await this.o.store.casCoordinator(c, { term: c.term + 1, node: this.name })) : fail(floored.error);
    this.dirty = true;
    if (!won.ok) this.failing('COORDINATOR_ELECTION_FAILED', 'error', won.error);
    else this.recovered('COORDINATOR_ELECTION_FAILED', 'coordinator elections can be written again');
    if (won.ok && won.value) {
      this.emitEvent('COORDINATOR_ELECTED', 'info', `node ${this.name} is coordinator for term ${c.term + 1}` + (c.node ? ` (${c.node} was lost)` : ''));
      this.dropMoves(notCoordinator(c));
      this.failoverHistoryMs = {};
      this.failoverHandledEpoch = {};
      this.failedGroups = {};
      this.stoppedSeen = new Set(Object.entries(this.membership).filter(([, p]) => p.state === 'stopped').map(([n]) => n));
      await this.refresh();
      const cp = await this.checkpoint(c.term === 0 ? 'the cluster formed' : 'a new coordinator took over');
      if (!cp.ok) this.failing('CHECKPOINT_FAILED', 'warning', cp.error);
    }
    await this.refresh();
  }

  private async coordinate(): Promise<void> {
    const missing = Object.keys(this.membership).filter((n) => !this.config.nodes[n] && this.membership[n]!.state !== 'stopped');
    if (missing.length > 0) {
      const r = await this.commit(missing.map((node) => ({ op: 'node-add' as const, node })));
      if (!r.ok) this.failing('NODE_ADD_FAILED', 'error', r.error);
      else this.recovered('NODE_ADD_FAILED', `nodes ${missing.join(', ')} were added`);
    }
    // Moves asked before this plan are carried by its write, or refused with its error.
    const asked = this.moveWaiters.splice(0);
    let outcome: Result<void> = fail(clusterError('INTERNAL', 'the coordinator cycle stopped before its ownership write'));
    try {
      outcome = await this.writePlan();
    } finally {
      this.answerMoves(asked, outcome);
    }
  }

  /**
   * Plan placement and write its records under the term. The plan's bookkeeping (moves done,
   * failovers counted, groups left Failed) and its events take effect only once the records are
   * durable: a refused write changes nothing, and the next cycle plans again from the same facts.
   */
  private async writePlan(): Promise<Result<void>> {
    const requested = { ...this.moveRequests }; // a move asked while the write is under way is not done by it
    const input = this.placementInput();
    const plan = planPlacement(input);
    const deleted = Object.keys(this.ownership).filter((g) => !this.config.groups[g] && this.releasedOrDown(g));
    const writing = plan.records.length > 0 || deleted.length > 0;
    if (writing) {
      // The epochs written are in this node's floor before the write (a store rebuilt after it starts above).
      const floored = this.o.localDb?.noteFloor(this.coordinator.term, Math.max(0, ...plan.records.map((r) => r.epoch))) ?? ok(undefined);
      const res = floored.ok ? this.wrote(await this.o.store.writeOwnership(this.coordinator.term, plan.records, deleted)) : floored;
      this.dirty = true;
      if (!res.ok) {
        this.failing('OWNERSHIP_WRITE_FAILED', 'error', res.error);
        return res;
      }
      this.recovered('OWNERSHIP_WRITE_FAILED', 'ownership records are written again');
    }
    for (const g of plan.movesDone) if (this.moveRequests[g] === requested[g]) delete this.moveRequests[g];
    for (const f of plan.failoversCounted) {
      this.failoverHandledEpoch[f.group] = f.epoch;
      (this.failoverHistoryMs[f.group] ??= []).push(input.nowMs);
    }
    for (const f of plan.newlyFailed) this.failedGroups[f.group] = f.epoch;
    for (const n of plan.notes) this.emitEvent(n.event, n.level, n.message, { group: n.group });
    if (writing) await this.refresh();
    return ok(undefined);
  }

  /** A deleted group's record may go once nothing runs it. */
  private releasedOrDown(g: GroupName): boolean {
    const rec = this.ownership[g]!;
    if (!rec.node) return true;
    const rep = this.reports[rec.node]?.groups[g];
    return !rep || rep.released || this.nodeViews()[rec.node]?.state === 'Down';
  }

  placementInput(): PlacementInput {
    const views = this.nodeViews();
    const reports: PlacementInput['reports'] = {};
    for (const [n, r] of Object.entries(this.currentReports())) reports[n] = r.groups;
    const nodes: PlacementInput['nodes'] = {};
    for (const [n, v] of Object.entries(views)) nodes[n] = { state: v.state, draining: v.draining };
    return {
      config: this.config, term: this.coordinator.term, nowMs: this.o.clock.nowMs(), wallHour: this.o.clock.localHour(),
      nodes, ownership: this.ownership, reports, moveRequests: this.moveRequests,
      failoverHistoryMs: this.failoverHistoryMs, failoverHandledEpoch: this.failoverHandledEpoch, failedGroups: this.failedGroups,
      writesBlocked: this.quorumWritesBlocked(),
    };
  }

  /** Reports from each node's current incarnation only: a dead incarnation's report says nothing. */
  currentReports(): Record<NodeName, NodeReport> {
    const out: Record<NodeName, NodeReport> = {};
    for (const [n, r] of Object.entries(this.reports)) if (this.membership[n]?.incarnation === r.incarnation) out[n] = r;
    return out;
  }

  /**
   * Node states, judged at the send time of the newest lease read (bug 4): the data is at least
   * that fresh and nothing newer is known. If the ownership records acted on were read after the
   * leases, the lease view says nothing about them: nobody is judged Down (they show Joining)
   * until the next cycle reads leases again.
   */
  nodeViews(): Record<NodeName, { state: NodeState; draining: boolean }> {
    const reps = this.currentReports();
    return judgeNodes(this.membership, this.config.nodes, (n) => !!reps[n], {
      atMs: this.judgeAtMs(), leaseTtlMs: this.o.timing.leaseTtlMs, staleView: this.leasesReadAtMs < this.ownershipReadAtMs,
    });
  }

  /** The time at which other nodes' liveness is judged: the newest lease read's send time, never later than now. */
  private judgeAtMs(): number {
    return Math.min(this.o.clock.nowMs(), this.leasesReadAtMs);
  }

  private localContext() {
    return {
      self: this.name, nowMs: this.o.clock.nowMs(), config: this.config, ownership: this.ownership,
      mayStart: (rec: OwnershipRec) => this.mayStart(rec), shuttingDown: this.shuttingDown,
    };
  }

  /** Carry out the local manager's actions; results come back as facts. */
  apply(actions: LocalAction[]): void {
    for (const a of actions) {
      if (a.kind === 'event') { this.emitEvent(a.event, a.level, a.message, a.data); continue; }
      if (a.kind === 'recycle-monitor') { this.o.host.recycle(a.reason); continue; }
      const spec: ResourceSpec = { ...a.spec, node: this.name, cluster: this.config.name, epoch: a.epoch, ...this.diskSectorsOf(a.spec.name) };
      void this.o.host.call(a.op, spec, a.timeoutMs).then((r) => {
        const nowMs = this.o.clock.nowMs();
        this.apply(agentResult(this.local, this.name, a.id, r.ok, r.ok ? undefined : r.error, r.ok ? r.data : undefined, nowMs, { group: a.group, resource: a.spec.name }));
        this.kick();
      });
    }
    if (actions.length > 0) this.kick();
  }

  private async publishReport(): Promise<void> {
    const groups: NodeReport['groups'] = {};
    for (const [g, lg] of Object.entries(this.local.groups)) {
      const resources: NodeReport['groups'][string]['resources'] = {};
      for (const [n, lr] of Object.entries(lg.resources)) resources[n] = runtimeOf(lr);
      groups[g] = { epoch: lg.epoch, resources, released: lg.released };
      if (lg.failoverRequested) groups[g]!.failoverRequested = true;
      if (lg.fenced) groups[g]!.fenced = true;
    }
    const body: Omit<NodeReport, 'node' | 'incarnation' | 'version'> = { apiUrl: this.apiUrl, appliedSeq: this.appliedSeq, groups };
    if (this.logDamagedAt !== undefined) body.logDamagedAt = this.logDamagedAt;
    const backups = this.backups.list();
    if (backups.length > 0) body.backups = backups; // cluster backup status from any node
    const json = JSON.stringify(body);
    if (json === this.lastReportJson) return;
    const report: NodeReport = { node: this.name, incarnation: this.incarnation, version: ++this.reportVersion, ...body };
    const res = this.wrote(await this.o.store.writeReport(report));
    if (!res.ok) return;
    this.lastReportJson = json;
    // This node's own views read its report like any other's: show it now, not after the next read.
    this.reports = { ...this.reports, [this.name]: report };
  }

  // ---- events ---------------------------------------------------------------------------

  emitEvent(event: string, level: EventLevel, message: string, data?: Record<string, unknown>): void {
    this.o.log(level, event, message);
    if (this.eventQueue.length >= eventQueueMax) { this.eventsDropped++; return; }
    const e: NewEvent = { wallMs: this.o.clock.wallMs(), node: this.name, event, level, message };
    if (data) e.data = data;
    this.eventQueue.push(e);
    this.emit('event', e);
  }

  private async flushEvents(): Promise<void> {
    if (this.flushing || this.eventQueue.length === 0) return;
    this.flushing = true;
    const batch = this.eventQueue.splice(0, this.eventQueue.length);
    const res = this.wrote(await this.o.store.appendEvents(batch));
    if (!res.ok) {
      // Keep them for the next try, within the bound.
      const room = eventQueueMax - this.eventQueue.length;
      this.eventsDropped += Math.max(0, batch.length - room);
      this.eventQueue.unshift(...batch.slice(0, room));
    }
    this.flushing = false;
  }

  /** Write every queued event now (before exiting on a refused start, for example). */
  async flushAll(): Promise<void> {
    await this.flushEvents();
  }

  async readEvents(afterId: number, limit: number): Promise<ClusterEvent[]> {
    await this.flushEvents();
    return this.o.store.readEvents(afterId, limit);
  }

  // ---- operations (API) -----------------------------------------------------------------

  /**
   * Validate and durably append configuration updates (coordinator only). Group commit: updates
   * that arrive while an append is under way wait and go together in the next one, sharing one
   * fsync; each is validated on its own against the configuration before it, so one bad update
   * fails alone. Resolves once the records are durable and applied here.
   */
  commit(updates: ConfigUpdate[]): Promise<Result<number>> {
    if (!this.isCoordinator()) return Promise.resolve(fail(notCoordinator(this.coordinator)));
    if (this.pendingCommits.length >= pendingCommitsMax) {
      return Promise.resolve(fail(clusterError('QUORUM_BUSY', `${pendingCommitsMax} configuration updates are already waiting for the quorum store`, 'retry shortly; if it persists, the quorum store is too slow (cluster log)')));
    }
    return new Promise((resolve) => {
      this.pendingCommits.push({ updates, resolve });
      if (!this.committing) void this.flushCommits();
    });
  }

  private async flushCommits(): Promise<void> {
    this.committing = true;
    try {
      while (this.pendingCommits.length > 0) {
        const batch = this.pendingCommits.splice(0, this.pendingCommits.length);
        await this.commitBatch(batch);
      }
    } finally {
      this.committing = false;
    }
  }

  private async commitBatch(batch: PendingCommit[]): Promise<void> {
    const failAll = (e: ClusterError) => { for (const b of batch) b.resolve(fail(e)); };
    if (!this.isCoordinator()) return failAll(notCoordinator(this.coordinator));
    const caught = this.noQuorumLogging ? ok(undefined) : await this.catchUp();
    if (!caught.ok) return failAll(caught.error);
    // One draft for the whole batch: each change validated against the ones before it.
    const draft = new ConfigDraft(this.config);
    const accepted: { p: PendingCommit; count: number }[] = [];
    const all: ConfigUpdate[] = [];
    for (const p of batch) {
      const r = draft.applyAll(p.updates);
      if (!r.ok) { p.resolve(fail(r.error)); continue; }
      accepted.push({ p, count: p.updates.length });
      all.push(...p.updates);
    }
    if (accepted.length === 0) return;
    const cfg = draft.config;
    if (this.noQuorumLogging) return this.commitAsCheckpoint(accepted, all, cfg);
    const res = this.wrote(await this.o.store.appendLog(this.coordinator.term, this.appliedSeq, all));
    if (!res.ok) {
      this.dirty = true;
      for (const a of accepted) a.p.resolve(fail(res.error));
      return;
    }
    this.config = cfg;
    this.appliedSeq = res.value[res.value.length - 1]!.seq;
    this.logBytesSinceCheckpoint += all.reduce((n, u) => n + JSON.stringify(u).length, 0);
    this.keepLocal(res.value);
    let seq = res.value[0]!.seq - 1;
    for (const a of accepted) { seq += a.count; a.p.resolve(ok(seq)); }
    this.kick();
  }

  /** --no-quorum-logging: each change is a whole checkpoint, and says who may miss it. */
  private async commitAsCheckpoint(accepted: { p: PendingCommit; count: number }[], all: ConfigUpdate[], cfg: ClusterConfig): Promise<void> {
    // A new history, numbered past every seq the damaged one held: no seq is reused for other content.
    const nl = this.noLogging;
    const seq = Math.max(this.appliedSeq, nl ? nl.newSeq - 1 : 0) + all.length;
    const res = await this.o.store.recoverLog(seq, this.coordinator.term, cfg, nl ? { history: nl.history, floor: nl.floor } : {});
    if (!res.ok) { for (const a of accepted) a.p.resolve(fail(res.error)); return; }
    this.config = cfg;
    this.appliedSeq = seq;
    if (nl) this.o.localDb?.setHistory(nl.history);
    this.o.localDb?.writeCheckpoint(seq, this.coordinator.term, cfg);
    const down = Object.entries(this.nodeViews()).filter(([, v]) => v.state === 'Down').map(([n]) => n);
    this.emitEvent('QUORUM_LOGGING_OFF_CHANGE', 'warning', `quorum logging is off: configuration change up to seq ${seq} was written as a checkpoint only` +
      (down.length > 0 ? `; nodes offline now (${down.join(', ')}) had no log to replay it from and must load the checkpoint` : ''));
    for (const a of accepted) a.p.resolve(ok(seq));
    this.kick();
  }

  /** Take a checkpoint of the store now (coordinator only): `cluster checkpoint` and the triggers. */
  async checkpoint(reason: string): Promise<Result<number>> {
    if (!this.isCoordinator()) return fail(notCoordinator(this.coordinator));
    const caught = await this.catchUp();
    if (!caught.ok) return caught;
    const res = this.wrote(await this.o.store.writeCheckpoint(this.coordinator.term, this.appliedSeq, this.config));
    if (!res.ok) return res;
    this.logBytesSinceCheckpoint = 0;
    this.lastCheckpointMs = this.o.clock.nowMs();
    this.o.localDb?.writeCheckpoint(this.appliedSeq, this.coordinator.term, this.config);
    this.recovered('CHECKPOINT_FAILED', 'checkpoints succeed again');
    this.emitEvent('CHECKPOINT_TAKEN', 'info', `checkpoint of the cluster database at seq ${this.appliedSeq} (${reason}); the quorum log restarts after it`, { seq: this.appliedSeq });
    return ok(this.appliedSeq);
  }

  /** The coordinator's checkpoint triggers: log reset size, interval, a node that stopped, a damaged log reported. */
  private async maybeCheckpoint(): Promise<void> {
    const now = this.o.clock.nowMs();
    const stopped = Object.entries(this.membership).filter(([, p]) => p.state === 'stopped').map(([n]) => n);
    const newlyStopped = stopped.filter((n) => !this.stoppedSeen.has(n));
    this.stoppedSeen = new Set(stopped);
    const damaged = Object.values(this.currentReports()).some((r) => r.logDamagedAt !== undefined);
    let reason: string | null = null;
    if (this.logBytesSinceCheckpoint >= this.checkpointing.logResetBytes) reason = `the log passed its reset size of ${this.checkpointing.logResetBytes} bytes`;
    else if (now - this.lastCheckpointMs >= this.checkpointing.checkpointIntervalMs) reason = `checkpoint interval of ${this.checkpointing.checkpointIntervalMs} ms`;
    else if (newlyStopped.length > 0) reason = `clusterd stopped on ${newlyStopped.join(', ')}`;
    else if (damaged) reason = 'a node reported a damaged quorum log: rewriting it from the coordinator\'s current copy';
    if (!reason) return;
    const res = await this.checkpoint(reason);
    if (!res.ok) this.failing('CHECKPOINT_FAILED', 'warning', res.error);
    else if (damaged) this.emitEvent('QUORUM_LOG_REPAIRED', 'warning', `the quorum log was rewritten as a checkpoint at seq ${res.value} from the coordinator's copy`);
  }

  /**
   * Operator move. It is accepted only once the ownership write that starts it is durable (the
   * stop on the owner, or the run on the target when the owner is Down or has released it): it
   * either fails at once with the store's error (QUORUM_DISK_FULL) and nothing is remembered, or
   * it succeeds and the placement plan carries out the rest. A refused move never happens later.
   */
  async requestMove(group: GroupName, node: NodeName | null): Promise<Result<NodeName>> {
    if (!this.isCoordinator()) return fail(notCoordinator(this.coordinator));
    const g = this.config.groups[group];
    if (!g) return fail(clusterError('GROUP_NOT_FOUND', `no group '${group}'`, 'cluster group lists the groups'));
    const input = this.placementInput();
    const owner = this.ownership[group]?.node ?? null;
    if (node !== null) {
      const views = this.nodeViews();
      if (!views[node]) return fail(clusterError('NODE_NOT_FOUND', `no node '${node}'`, 'cluster node lists the nodes'));
      if (g.possibleOwners.length > 0 && !g.possibleOwners.includes(node)) {
        return fail(clusterError('NODE_NOT_POSSIBLE_OWNER', `group '${group}' cannot move to node '${node}': ${node} is not a possible owner`, `cluster group "${group}" /setowners or cluster res R /addowner:${node}`));
      }
      if (views[node]!.state !== 'Up') return fail(clusterError('NODE_NOT_UP', `group '${group}' cannot move to node '${node}': it is ${views[node]!.state}`, `cluster node ${node} /resume, or move to another node`));
    }
    const target = node ?? chooseNode(input, group, owner ? [owner] : []);
    if (!target) return fail(clusterError('NODE_NOT_UP', `group '${group}' has nowhere to move: no other node is Up and a possible owner`, `cluster why ${group}`));
    if (target === owner) return ok(target);
    const refused = (e: ClusterError) => fail<NodeName>(clusterError(e.code, `group '${group}' was not moved to ${target}, and the move is not remembered: ${e.message}`,
      e.code === 'QUORUM_DISK_FULL' ? 'free space on the quorum filesystem, then move again (cluster status shows when writes resume)' : e.hint));
    const blocked = this.quorumWritesBlocked();
    if (blocked) return refused(clusterError('QUORUM_DISK_FULL', `the move needs an ownership write, and ${blockedText(blocked)} (${blocked.message})`));
    this.moveRequests[group] = target;
    const written = await this.awaitPlanWrite(group, target);
    if (!written.ok) return refused(written.error);
    this.emitEvent('GROUP_MOVE_REQUESTED', 'info', `operator asked to move group ${group} to ${target}`, { group, node: target });
    return ok(target);
  }

  /** Resolves with the outcome of the first ownership write planned after this call (coordinate). */
  private awaitPlanWrite(group: GroupName, target: NodeName): Promise<Result<void>> {
    return new Promise((resolve) => {
      const w: MoveWaiter = { group, target, resolve: (r) => { cancel(); resolve(r); } };
      // Not taken by a plan in time (no cycle ran): withdrawn, so it cannot happen after this answer.
      const cancel = this.o.clock.setTimeout(() => {
        const i = this.moveWaiters.indexOf(w);
        if (i < 0) return; // taken: its write is under way and answers
        this.moveWaiters.splice(i, 1);
        this.answerMoves([w], fail(clusterError('TIMEOUT', `no coordinator cycle planned the move within ${moveAnswerMaxMs} ms; nothing was done`, 'retry the move')));
      }, moveAnswerMaxMs);
      this.moveWaiters.push(w);
      this.kick();
    });
  }

  /** Answer moves with their plan's write; a refused one is forgotten. */
  private answerMoves(waiters: MoveWaiter[], outcome: Result<void>): void {
    for (const w of waiters) {
      if (!outcome.ok && this.moveRequests[w.group] === w.target) delete this.moveRequests[w.group];
      w.resolve(outcome);
    }
  }

  /** Forget every move (a new term, shutdown): waiting callers are told. */
  private dropMoves(e: ClusterError): void {
    this.answerMoves(this.moveWaiters.splice(0), fail(e));
    this.moveRequests = {};
  }

  /** Group online clears a Failed (threshold) state so the coordinator places it again. */
  clearFailed(group: GroupName): void {
    delete this.failedGroups[group];
  }

  drain(node: NodeName): Result<void> {
    if (!this.isCoordinator()) return fail(notCoordinator(this.coordinator));
    for (const rec of Object.values(this.ownership)) {
      if (rec.node === node) this.moveRequests[rec.group] = null;
    }
    this.kick();
    return ok(undefined);
  }

  /** Operator /online reaching the owner: resources this node left Failed start again (all of the group's, or one). */
  retryFailed(group: GroupName, resource: string | null): string[] {
    const actions = operatorRetry(this.local, this.name, group, resource);
    this.apply(actions);
    return actions.flatMap((a) => (a.kind === 'event' && typeof a.data?.resource === 'string' ? [a.data.resource] : []));
  }

  /** Operator /fail on a resource this node runs. */
  failResource(resource: string): Result<void> {
    const actions = operatorFail(this.local, resource);
    if (actions.length === 0) return fail(clusterError('RESOURCE_NOT_FOUND', `resource '${resource}' is not Online on ${this.name}`, 'cluster res lists where each resource runs'));
    this.apply(actions);
    return ok(undefined);
  }

  why(group: GroupName) {
    return explain(this.placementInput(), group);
  }

  // ---- disks (issue 4) --------------------------------------------------------------------

  /**
   * Operator /maint or /extmaint on a disk. Maintenance lives in memory on the node that runs the
   * disk (the API forwards the request there), so a restart or a move clears it.
   */
  setMaintenance(resource: string, req: MaintRequest): Result<void> {
    const cfg = this.config.resources[resource];
    if (!cfg) return fail(clusterError('RESOURCE_NOT_FOUND', `no resource '${resource}'`, 'cluster res lists them'));
    const r = requestMaintenance(this.local, this.name, cfg, req, this.o.clock.wallMs());
    if (!r.ok) return r;
    this.apply(r.value);
    this.kick();
    return ok(undefined);
  }

  /** This node's wall clock (status views: how long a disk has been in maintenance). */
  wallMs(): number {
    return this.o.clock.wallMs();
  }

  /** CLUSTERD_DISK_SECTOR for a resource above disks: the private sectors of the disks it depends on, transitively. */
  private diskSectorsOf(resource: string): { diskSectors?: string[] } {
    const sectors: string[] = [];
    const seen = new Set<string>();
    const visit = (name: string): void => {
      for (const d of this.config.resources[name]?.dependsOn ?? []) {
        if (seen.has(d)) continue;
        seen.add(d);
        const dep = this.config.resources[d];
        const sector = dep?.type === 'disk' ? diskSectorPath(dep.priv) : null;
        if (sector !== null) sectors.push(sector);
        visit(d);
      }
    };
    visit(resource);
    return sectors.length > 0 ? { diskSectors: sectors } : {};
  }
}

export function notCoordinator(c: CoordinatorRecord): ClusterError {
  return clusterError('NO_COORDINATOR', c.node ? `this node is not the coordinator (${c.node} is, term ${c.term})` : 'no coordinator is elected right now',
    'retry in a second: a coordinator is elected within the lease TTL');
}
