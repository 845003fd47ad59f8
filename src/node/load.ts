// Loading the configuration at start (KB257905's lessons): gather the facts (this node's copy,
// the store's checkpoint, history and how far its log is intact), let core/load-plan.ts decide,
// then carry the plan out. Never go backwards, keep every intact record, never reuse a seq.

import { ClusterError, clusterError, fail, ok, type Result } from '../core/errors.js';
import { logReadMax } from '../core/limits.js';
import { forkHistory, genesisHistory, planLoad, type FloorFacts, type History, type LoadFacts } from '../core/load-plan.js';
import type { Checkpoint } from '../store/types.js';
import type { ConfigLog } from './config-log.js';
import { refuseWhileOthersRun } from './rebuild-guard.js';
import type { EmitEvent, NodeOptions } from './options.js';

export interface LoaderDeps {
  o: NodeOptions;
  /** Read when needed: a subclass (the simulator) sets its own after construction. */
  incarnation: () => string;
  emitEvent: EmitEvent;
  log: ConfigLog;
  /** What a recovery's floor is taken from, as gathered (a method of the node, so that the simulator's tooth can replace it). */
  floorFacts: (f: FloorFacts) => FloorFacts;
  /** A new history's id (random in production; the simulator's come from its seed). */
  newHistoryId: () => string;
}

export class ConfigLoader {
  /** The store's database could not be read and was made anew (--reset-quorum-log): the lease slot was claimed in it. */
  storeRebuilt = false;

  constructor(private readonly d: LoaderDeps) {}

  async load(): Promise<Result<void>> {
    const { o, log } = this.d;
    const { store } = o;
    const db = o.localDb;
    const local = db?.load() ?? { copy: null, notes: [] };
    for (const n of local.notes) this.d.emitEvent(n.event, n.level, n.message);
    for (const k of local.skipped ?? []) log.noteSkipped(k.seq, k.update, k.why);
    const copy = local.copy;
    const state = db?.readState() ?? { history: genesisHistory, floor: { term: 0, epoch: 0 } };
    const gathered = await this.storeFacts();
    if (!gathered.ok) return gathered;
    const { facts: storeFacts, checkpoint: storeCp, history: storeHistory } = gathered.value;
    const recovery = o.recovery ?? {};
    const slots = await store.readLeaseFloors();
    const floors = this.d.floorFacts({
      copy: state.floor, recordTerm: Math.max(copy?.term ?? 0, storeCp?.term ?? 0),
      slots: slots.ok ? slots.value.floors.map((f) => ({ where: f.where, floor: f.floor })) : [],
      unreadable: slots.ok ? slots.value.unreadable : [`the lease slots of ${store.location} (${slots.error.message})`],
    });
    const plan = planLoad({
      switches: { resetQuorumLog: !!recovery.resetQuorumLog, noQuorumLogging: !!recovery.noQuorumLogging, acceptUnreadableFloors: !!recovery.acceptUnreadableFloors },
      copy: copy ? { seq: copy.seq, history: state.history } : null,
      store: storeFacts,
      floors,
      where: { store: store.location, copy: db?.dir ?? 'this node (no data directory)' },
    });
    if (plan.kind === 'refuse') return fail(plan.error);
    if (plan.kind === 'load') {
      // Start from the base the plan chose; a store base follows the store's history.
      if (plan.from === 'copy' && copy) log.useBase(copy.seq, copy.config);
      else if (storeCp) this.followStore(storeCp, storeHistory);
      if (plan.note) this.d.emitEvent('LOCAL_COPY_BEHIND', 'info', plan.note);
      return log.catchUp();
    }
    const floor = plan.floor;
    if (plan.kind === 'repair') {
      const res = await store.recoverLog(copy!.seq, copy!.term, copy!.config, { floor });
      if (!res.ok) return res;
      log.useBase(copy!.seq, copy!.config);
      this.d.emitEvent('QUORUM_LOG_REPAIRED', 'warning', `the quorum log was damaged (${storeFacts.readable ? storeFacts.damage ?? 'checkpoint' : ''}); ${plan.note}`);
      return ok(undefined);
    }
    if (plan.kind === 'reset' && plan.rebuild) return this.rebuildStore(storeFacts.readable ? '' : storeFacts.reason);
    if (plan.from === 'copy' && copy) log.useBase(copy.seq, copy.config);
    else if (storeCp) this.followStore(storeCp, storeHistory);
    const replayed = await log.catchUp(plan.throughSeq);
    if (!replayed.ok) return replayed;
    const baseHistory = plan.from === 'copy' ? state.history : storeHistory;
    const history = forkHistory(baseHistory, this.d.newHistoryId(), plan.forkSeq);
    if (plan.kind === 'no-logging') {
      log.noQuorumLogging = true;
      log.noLogging = { history, newSeq: plan.newSeq, floor };
      this.d.emitEvent('QUORUM_LOGGING_DISABLED', 'warning', plan.note);
      return ok(undefined);
    }
    const res = await store.recoverLog(plan.newSeq, floor.term, log.config, { history, floor });
    if (!res.ok) return res;
    db?.setHistory(history);
    db?.writeCheckpoint(plan.newSeq, floor.term, log.config);
    log.appliedSeq = plan.newSeq;
    this.d.emitEvent('QUORUM_LOG_RESET', 'warning', `${plan.note} (history ${history.id}). Restart without the switch once the cluster is up.`);
    return ok(undefined);
  }

  /** Load the store's checkpoint as the base, and label the copy with the store's history. */
  private followStore(cp: Checkpoint, history: History): void {
    const db = this.d.o.localDb;
    this.d.log.useBase(cp.seq, cp.config);
    db?.setHistory(history);
    db?.writeCheckpoint(cp.seq, cp.term, cp.config);
  }

  /** What the store holds, as load-plan facts: a database that cannot be read, a damaged checkpoint, how far the log is intact. */
  private async storeFacts(): Promise<Result<{ facts: LoadFacts['store']; checkpoint: Checkpoint | null; history: History }>> {
    const { store } = this.d.o;
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
      const page = await this.d.o.store.readLog(after, step);
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
    const { o } = this.d;
    const { store } = o;
    if (!store.rebuildDamaged) return fail(clusterError('QUORUM_DB_DAMAGED', `the database of ${store.location} cannot be read (${reason}) and this store cannot be rebuilt by clusterd`, 'restore the store from a backup, then start with --reset-quorum-log'));
    const alone = await refuseWhileOthersRun({ self: o.name, store: store.location, readLeases: () => store.readLeases(), sleep: (ms) => new Promise((r) => o.clock.setTimeout(r, ms)), leaseTtlMs: o.timing.leaseTtlMs });
    if (!alone.ok) return alone;
    const rebuilt = await store.rebuildDamaged(o.localDb?.load().copy?.config.name ?? 'cluster', o.clock.wallMs());
    if (!rebuilt.ok) return rebuilt;
    this.storeRebuilt = true;
    this.d.emitEvent('QUORUM_DB_REBUILT', 'warning', `the database of ${store.location} could not be read (${reason}): set aside as ${rebuilt.value}, and made anew for --reset-quorum-log`);
    const claimed = await store.claimLeaseSlot(o.name, this.d.incarnation());
    if (!claimed.ok) return claimed;
    return this.load();
  }
}
