// The cluster configuration on this node: the fold of the quorum log (catch-up), this node's own
// copy of it (local-db), the coordinator's appends with group commit, and checkpoints (when to
// take one is core/checkpoint-policy.ts's decision).

import { checkpointDue, checkpointingDefaults, localCopyDue, newlyStopped, storeCheckEveryMs, type Checkpointing } from '../core/checkpoint-policy.js';
import { ConfigDraft, emptyConfig } from '../core/config.js';
import { configJsonSteps } from '../core/config-text.js';
import { ClusterError, clusterError, fail, ok, type Result } from '../core/errors.js';
import { genesisHistory, type History } from '../core/load-plan.js';
import { logReadMax } from '../core/limits.js';
import type { ClusterConfig, ConfigUpdate, NodeName } from '../core/types.js';
import type { LogRecord } from '../store/types.js';
import { notCoordinator, type Shell } from './shell.js';
import { freezeConfig } from './snapshot.js';
import { runSliced, TurnBudget } from './slices.js';
import { findStoreDamage } from './store-check.js';

interface PendingCommit {
  updates: ConfigUpdate[];
  resolve: (r: Result<number>) => void;
  /** When it was queued (node clock). */
  atMs: number;
}

/** Updates waiting for the next group commit. Why 4096: 64 concurrent writers with deep pipelines fit; beyond that callers get QUORUM_BUSY (429) rather than unbounded memory. */
export const pendingCommitsMax = 4_096;
/**
 * A new change is refused (QUORUM_BUSY, 429 with Retry-After) while the oldest change already
 * queued has waited this long for its commit: the queue then holds more than the quorum store
 * takes in that time. Why 2 s: well under the CLI's 5 s request bound and the 10 s a forwarding
 * node waits, so a caller beyond the coordinator's pace is told at once to come back, rather than
 * left to time out not knowing whether its change was made.
 */
export const commitWaitMaxMs = 2_000;
/** Records one catch-up read asks for: their decoding and fold are one turn, a few ms. */
const catchUpPage = 500;
/** A change with more updates than this is validated on a trial draft in slices (a large apply); smaller ones on the batch's draft at once. */
const slicedValidationMin = 200;

/** The checkpoint (megabytes at scale, parsed to be checked) is checked every this many checks of the log: once a minute. */
const checkpointCheckEvery = 6;

/** --no-quorum-logging: the new history each change written as a checkpoint belongs to, from which seq, above which floor. */
export interface NoLogging {
  history: History;
  newSeq: number;
  floor: { term: number; epoch: number };
}

export interface SkippedRecord { seq: number; reason: string }

/** Skipped records kept for the status warning: past this the event log has them. */
const skippedKeptMax = 100;
export const skippedWayOut = 'cluster checkpoint writes the configuration without it, so the log no longer holds it';

/** `resource-create web  (group x)`: what a record was, for a report. */
function describeUpdate(u: ConfigUpdate): string {
  const o = u as unknown as Record<string, unknown>;
  const name = ['resource', 'group', 'node'].map((k) => o[k]).find((v) => v !== undefined);
  return `${u.op} ${JSON.stringify(name)}`;
}

export class ConfigLog {
  private current: ClusterConfig = emptyConfig('');
  /** The configuration applied, replaced whole by each change; frozen deep as it is published under freezeSnapshots (tests, the simulator). */
  get config(): ClusterConfig { return this.current; }
  set config(c: ClusterConfig) { this.current = this.s.o.freezeSnapshots ? freezeConfig(c) : c; }
  appliedSeq = 0;
  noQuorumLogging = false;
  noLogging: NoLogging | null = null;
  /** Set while this node cannot read the quorum log past this seq (reported, so the coordinator repairs it). */
  logDamagedAt: number | undefined;
  lastCheckpointMs = 0;
  readonly checkpointing: Checkpointing;
  private logBytesSinceCheckpoint = 0;
  /** Text size of the last checkpoint this node took (the log's trigger grows with it: core/checkpoint-policy.ts). */
  private lastCheckpointBytes = 0;
  private stoppedSeen = new Set<NodeName>();
  /** The seq of the checkpoint this node last wrote as coordinator (the store check starts there); null before its first. */
  private checkpointSeq: number | null = null;
  private lastStoreCheckMs = -Infinity;
  private storeChecks = 0;
  /** The damage last announced (QUORUM_LOG_DAMAGE_FOUND once per damage, not at every check while a repair fails). */
  private damageSaid: string | null = null;
  private pendingCommits: PendingCommit[] = [];
  private committing = false;
  /** The catch-up under way: callers share it, so records are never applied (or kept locally) twice. */
  private catching: Promise<Result<void>> | null = null;
  /**
   * appliedSeq when this node last saw it at the log's head (a read that found nothing newer, or
   * its own append); -1: not known. The coordinator then validates a batch without reading the
   * log first: its append compares the head, and a refusal sends the batch the long way.
   */
  private headAt = -1;

  constructor(private readonly s: Shell) {
    this.checkpointing = { ...checkpointingDefaults, ...(s.o.checkpointing ?? {}) };
  }

  /**
   * Records of the quorum log this version's fold refuses (an older version accepted them: a name
   * it no longer takes, a built-in name taken for an entry). Each is skipped, the same way on
   * every node of the version, and reported: an event at once and a status warning.
   */
  readonly skipped: SkippedRecord[] = [];

  /** A refused record: skipped, reported (at most skippedKeptMax kept for status). */
  noteSkipped(seq: number, update: ConfigUpdate, why: string): void {
    if (this.skipped.some((k) => k.seq === seq)) return;
    const reason = `${describeUpdate(update)}: ${why}`;
    if (this.skipped.length < skippedKeptMax) this.skipped.push({ seq, reason });
    this.s.emitEvent('CONFIG_RECORD_SKIPPED', 'warning', `quorum log record ${seq} is refused by this version of clusterd and was skipped (${reason}). ` +
      `The configuration is as if that change had never been made; redo it with a valid name or value if it is still wanted. ${skippedWayOut}`, { seq });
  }

  useBase(seq: number, config: ClusterConfig): void {
    this.config = config;
    this.appliedSeq = seq;
  }

  /**
   * Apply every log record after appliedSeq (and keep them in the local copy). A record that does
   * not apply is corruption: refuse. One catch-up at a time (a caller arriving during one waits for
   * it, then catches up what is left); it yields between pages, so thousands of records are not one turn.
   */
  async catchUp(throughSeq = Infinity): Promise<Result<void>> {
    while (this.catching) await this.catching;
    const run = this.catchUpNow(throughSeq);
    this.catching = run;
    try {
      return await run;
    } finally {
      this.catching = null;
    }
  }

  private async catchUpNow(throughSeq: number): Promise<Result<void>> {
    const { store, localDb } = this.s.o;
    const budget = new TurnBudget(this.s.o.clock);
    for (;;) {
      await budget.pace();
      if (this.appliedSeq >= throughSeq) return ok(undefined);
      const max = Math.min(logReadMax, catchUpPage, throughSeq - this.appliedSeq);
      let recs = await store.readLog(this.appliedSeq, max);
      if (!recs.ok && recs.error.code === 'SEQ_CONFLICT') {
        // The log no longer reaches back to our seq: load the store's checkpoint first, and label
        // the copy with the history that checkpoint belongs to (read on both sides of it: a reset
        // in between changes it, and the loop reads again).
        const before = await store.readHistory?.() ?? ok(genesisHistory);
        const cp = await store.readCheckpoint();
        if (!cp.ok) return cp;
        const after = await store.readHistory?.() ?? ok(genesisHistory);
        if (!before.ok) return before;
        if (!after.ok) return after;
        if (before.value.id !== after.value.id) continue;
        if (cp.value && cp.value.seq > this.appliedSeq) {
          this.config = cp.value.config;
          this.appliedSeq = cp.value.seq;
          localDb?.setHistory(after.value);
          localDb?.writeCheckpoint(cp.value.seq, cp.value.term, cp.value.config);
        }
        recs = await store.readLog(this.appliedSeq, max);
      }
      if (!recs.ok) return recs;
      if (recs.value.length === 0) { this.headAt = this.appliedSeq; return ok(undefined); }
      const draft = new ConfigDraft(this.config);
      for (const r of recs.value) {
        if (r.seq !== this.appliedSeq + 1) {
          this.config = draft.config;
          return fail(clusterError('QUORUM_LOG_DAMAGED', `quorum log gap: expected seq ${this.appliedSeq + 1}, found ${r.seq}`, 'clusterd quorum-log verify shows the damage'));
        }
        const next = draft.apply(r.update);
        if (!next.ok) this.noteSkipped(r.seq, r.update, next.error.message);
        this.appliedSeq = r.seq;
      }
      this.config = draft.config;
      this.keepLocal(recs.value);
      if (recs.value.length < max) return ok(undefined);
    }
  }

  /** The cycle's read of the log: apply what is new; a log this node cannot read is reported until the coordinator rewrites it. */
  async follow(): Promise<void> {
    if ((await this.s.o.store.logHead()) > this.appliedSeq && !this.noQuorumLogging) {
      const res = await this.catchUp();
      if (!res.ok && this.logDamagedAt === undefined) {
        this.logDamagedAt = this.appliedSeq;
        this.s.emitEvent('QUORUM_LOG_UNREADABLE', 'error', `${res.error.message}: this node keeps its configuration at seq ${this.appliedSeq} until the coordinator rewrites the log`);
      }
      if (res.ok) this.logDamagedAt = undefined;
    }
  }

  /** Append applied records to this node's copy; checkpoint it when its log passes the reset size. */
  private keepLocal(records: LogRecord[]): void {
    const db = this.s.o.localDb;
    if (!db || records.length === 0) return;
    const res = localCopyDue(db.logBytes, db.checkpointBytes, this.checkpointing)
      ? db.writeCheckpoint(this.appliedSeq, this.s.coordinator().term, this.config)
      : db.append(records);
    if (!res.ok) this.s.problems.noteDiskFull('LOCAL_DISK_FULL', res.error);
    else this.s.problems.noteDiskOk('LOCAL_DISK_FULL');
  }

  /**
   * Validate and durably append configuration updates (coordinator only). Group commit: updates
   * that arrive while an append is under way wait and go together in the next one, sharing one
   * fsync; each is validated on its own against the configuration before it, so one bad update
   * fails alone. Resolves once the records are durable and applied here.
   */
  commit(updates: ConfigUpdate[]): Promise<Result<number>> {
    if (!this.s.isCoordinator()) return Promise.resolve(fail(notCoordinator(this.s.coordinator())));
    if (this.pendingCommits.length >= pendingCommitsMax) {
      return Promise.resolve(fail(clusterError('QUORUM_BUSY', `${pendingCommitsMax} configuration updates are already waiting for the quorum store`, 'retry shortly; if it persists, the quorum store is too slow (cluster log)')));
    }
    const now = this.s.o.clock.nowMs();
    const oldest = this.pendingCommits[0];
    if (oldest !== undefined && now - oldest.atMs > commitWaitMaxMs) {
      return Promise.resolve(fail(clusterError('QUORUM_BUSY', `${this.pendingCommits.length} configuration changes are waiting for the quorum store, the oldest for ${Math.round(now - oldest.atMs)} ms (bound ${commitWaitMaxMs} ms); nothing was done`,
        'retry after the Retry-After seconds; if it persists, the quorum store is too slow or the changes too many (cluster log)')));
    }
    return new Promise((resolve) => {
      this.pendingCommits.push({ updates, resolve, atMs: now });
      if (!this.committing) void this.flushCommits();
    });
  }

  private async flushCommits(): Promise<void> {
    this.committing = true;
    // One budget across batches: with a synchronous store each append resolves at once, and
    // batches back to back would hold the loop for seconds (each copies the tables it changes:
    // 20-45 ms for 40,000 groups). Yielding between them lets answers, reads and cycles run, and
    // the updates that arrive meanwhile share the next batch's copy.
    const budget = new TurnBudget(this.s.o.clock);
    try {
      while (this.pendingCommits.length > 0) {
        await budget.pace();
        const batch = this.pendingCommits.splice(0, this.pendingCommits.length);
        await this.commitBatch(batch, budget);
      }
    } finally {
      this.committing = false;
    }
  }

  private async commitBatch(batch: PendingCommit[], budget: TurnBudget): Promise<void> {
    // Only the coordinator appends, under its term: after its own append its copy is at the head,
    // and the append compares the head, so the batch needs no read of the log first (one etcd
    // round trip a batch instead of two, and no wait behind a cycle's read). Any refusal or
    // rejected update on that short way sends the whole batch the long way: read, then validate.
    if (!this.noQuorumLogging && this.headAt === this.appliedSeq && await this.commitBatchOnce(batch, true, budget)) return;
    await this.commitBatchOnce(batch, false, budget);
  }

  /** One try at a batch; `atHead`: without reading the log first, and then false (nothing answered) on any refusal. */
  private async commitBatchOnce(batch: PendingCommit[], atHead: boolean, budget: TurnBudget): Promise<boolean> {
    const failAll = (e: ClusterError) => { for (const b of batch) b.resolve(fail(e)); return true; };
    if (!this.s.isCoordinator()) return failAll(notCoordinator(this.s.coordinator()));
    const caught = this.noQuorumLogging || atHead ? ok(undefined) : await this.catchUp();
    if (!caught.ok) return failAll(caught.error);
    // The log head the batch is validated against: the append is refused (SEQ_CONFLICT) if
    // anything landed after it while validation yielded.
    const baseSeq = this.appliedSeq;
    // One draft for the whole batch: each change validated against the ones before it.
    let draft = new ConfigDraft(this.config, { saving: true });
    const accepted: { p: PendingCommit; count: number }[] = [];
    const all: ConfigUpdate[] = [];
    for (const p of batch) {
      await budget.pace();
      let r: Result<void>;
      if (p.updates.length < slicedValidationMin) r = draft.applyAll(p.updates);
      else {
        // All or nothing, in slices: a trial draft takes the change part by part and replaces
        // the batch's draft only once all of it applies.
        const trial = new ConfigDraft(draft.config, { saving: true });
        r = ok(undefined);
        for (let i = 0; i < p.updates.length && r.ok; i += slicedValidationMin) {
          r = trial.applyAll(p.updates.slice(i, i + slicedValidationMin));
          await budget.pace();
        }
        if (r.ok) draft = trial;
      }
      if (!r.ok) {
        if (atHead) return false;
        p.resolve(fail(r.error));
        continue;
      }
      accepted.push({ p, count: p.updates.length });
      all.push(...p.updates);
    }
    if (accepted.length === 0) return true;
    if (!this.s.isCoordinator()) { for (const a of accepted) a.p.resolve(fail(notCoordinator(this.s.coordinator()))); return true; }
    const cfg = draft.config;
    if (this.noQuorumLogging) { await this.commitAsCheckpoint(accepted, all, cfg); return true; }
    const appended = await this.s.o.store.appendLog(this.s.coordinator().term, baseSeq, all);
    if (atHead && !appended.ok && appended.error.code === 'SEQ_CONFLICT') { this.headAt = -1; return false; }
    const res = this.s.problems.wrote(appended);
    if (!res.ok) {
      this.s.markDirty();
      this.headAt = -1;
      for (const a of accepted) a.p.resolve(fail(res.error));
      return true;
    }
    // The batch's records follow what this node applied: in etcd's order, nothing came between.
    if (this.appliedSeq === baseSeq) this.headAt = res.value[res.value.length - 1]!.seq;
    this.config = cfg;
    this.appliedSeq = res.value[res.value.length - 1]!.seq;
    this.logBytesSinceCheckpoint += all.reduce((n, u) => n + JSON.stringify(u).length, 0);
    this.keepLocal(res.value);
    let seq = res.value[0]!.seq - 1;
    for (const a of accepted) { seq += a.count; a.p.resolve(ok(seq)); }
    this.s.kick();
    return true;
  }

  /** --no-quorum-logging: each change is a whole checkpoint, and says who may miss it. */
  private async commitAsCheckpoint(accepted: { p: PendingCommit; count: number }[], all: ConfigUpdate[], cfg: ClusterConfig): Promise<void> {
    // A new history, numbered past every seq the damaged one held: no seq is reused for other content.
    const nl = this.noLogging;
    const term = this.s.coordinator().term;
    const seq = Math.max(this.appliedSeq, nl ? nl.newSeq - 1 : 0) + all.length;
    const res = await this.s.o.store.recoverLog(seq, term, cfg, nl ? { history: nl.history, floor: nl.floor } : {});
    if (!res.ok) { for (const a of accepted) a.p.resolve(fail(res.error)); return; }
    this.config = cfg;
    this.appliedSeq = seq;
    if (nl) this.s.o.localDb?.setHistory(nl.history);
    this.s.o.localDb?.writeCheckpoint(seq, this.s.coordinator().term, cfg);
    const down = Object.entries(this.s.nodeViews()).filter(([, v]) => v.state === 'Down').map(([n]) => n);
    this.s.emitEvent('QUORUM_LOGGING_OFF_CHANGE', 'warning', `quorum logging is off: configuration change up to seq ${seq} was written as a checkpoint only` +
      (down.length > 0 ? `; nodes offline now (${down.join(', ')}) had no log to replay it from and must load the checkpoint` : ''));
    for (const a of accepted) a.p.resolve(ok(seq));
    this.s.kick();
  }

  /** Take a checkpoint of the store now (coordinator only): `cluster checkpoint` and the triggers. */
  async checkpoint(reason: string): Promise<Result<number>> {
    if (!this.s.isCoordinator()) return fail(notCoordinator(this.s.coordinator()));
    const caught = await this.catchUp();
    if (!caught.ok) return caught;
    // The configuration at one seq, taken together (a configuration is replaced whole by each
    // change, never changed in place); its text is made in slices, and the writes reuse it.
    const { config, appliedSeq: seq } = this;
    const text = await runSliced(this.s.o.clock, configJsonSteps(config));
    if (!this.s.isCoordinator()) return fail(notCoordinator(this.s.coordinator()));
    const budget = new TurnBudget(this.s.o.clock);
    const res = this.s.problems.wrote(await this.s.o.store.writeCheckpoint(this.s.coordinator().term, seq, config));
    if (!res.ok) return res;
    this.logBytesSinceCheckpoint = 0;
    this.lastCheckpointBytes = text.length;
    this.checkpointSeq = seq;
    this.lastCheckpointMs = this.s.o.clock.nowMs();
    // What was just written needs no reading back yet: the next check is a whole period away.
    this.lastStoreCheckMs = this.lastCheckpointMs;
    await budget.pace(); // each write is a large synchronous one on dir: a turn apart
    // The own copy at what is applied now (the seq and configuration that go together).
    this.s.o.localDb?.writeCheckpoint(this.appliedSeq, this.s.coordinator().term, this.config);
    this.s.problems.recovered('CHECKPOINT_FAILED', 'checkpoints succeed again');
    this.s.emitEvent('CHECKPOINT_TAKEN', 'info', `checkpoint of the cluster database at seq ${seq} (${reason}); the quorum log restarts after it`, { seq });
    return ok(seq);
  }

  /** A new coordinator counts stops from now: the nodes stopped when it took over trigger nothing. */
  seeStopped(): void {
    this.stoppedSeen = new Set(this.stoppedNow());
  }

  private stoppedNow(): NodeName[] {
    return Object.entries(this.s.membership()).filter(([, p]) => p.state === 'stopped').map(([n]) => n);
  }

  /** The coordinator's checkpoint triggers (core/checkpoint-policy.ts), checked once a cycle. */
  async maybeCheckpoint(): Promise<void> {
    const stopped = this.stoppedNow();
    const fresh = newlyStopped(stopped, this.stoppedSeen);
    this.stoppedSeen = new Set(stopped);
    const damageFound = await this.checkStore();
    const due = checkpointDue({
      nowMs: this.s.o.clock.nowMs(), lastCheckpointMs: this.lastCheckpointMs, logBytesSinceCheckpoint: this.logBytesSinceCheckpoint, lastCheckpointBytes: this.lastCheckpointBytes, newlyStopped: fresh,
      damagedLogReported: Object.values(this.s.currentReports()).some((r) => r.logDamagedAt !== undefined), damageFound,
    }, this.checkpointing);
    if (!due) return;
    if (damageFound !== null && damageFound !== this.damageSaid) {
      this.damageSaid = damageFound;
      this.s.emitEvent('QUORUM_LOG_DAMAGE_FOUND', 'error', `the coordinator's check of the quorum store found damage: ${damageFound}; rewriting it as a checkpoint from the coordinator's copy (seq ${this.appliedSeq})`);
    }
    const res = await this.checkpoint(due.reason);
    if (!res.ok) this.s.problems.failing('CHECKPOINT_FAILED', 'warning', res.error);
    else if (due.repair) this.s.emitEvent('QUORUM_LOG_REPAIRED', 'warning', `the quorum log was rewritten as a checkpoint at seq ${res.value} from the coordinator's copy`);
  }

  /** The coordinator's read-back of the store, when due (storeCheckEveryMs): what it found damaged, or null. */
  private async checkStore(): Promise<string | null> {
    const now = this.s.o.clock.nowMs();
    if (this.checkpointSeq === null || now - this.lastStoreCheckMs < storeCheckEveryMs) return null;
    this.lastStoreCheckMs = now;
    const damage = await findStoreDamage(this.s.o, this.checkpointSeq, this.appliedSeq, this.storeChecks++ % checkpointCheckEvery === 0);
    if (damage === null) this.damageSaid = null;
    return damage;
  }
}
