// The quorum store's simulated twin. `SimDisk` is the shared state (what `cluster.db` and
// `leases.bin` hold) with the `dir` backend's semantics, operation by operation:
// - ownership writes, log appends and checkpoints are refused with STALE_TERM unless their term
//   is the coordinator's term at the moment they land; the coordinator changes only by CAS;
// - the log is numbered after the expected head (SEQ_CONFLICT otherwise), records carry a
//   CRC-32C, reads before the checkpoint fail with SEQ_CONFLICT;
// - 128 fixed lease slots, assigned once per node name; a renewal is one slot write that works
//   on a full disk, needs the slot claimed through the same client, and moves no change version;
// - every other successful write moves the change version and wakes `onChange` subscribers;
//   reads of a failing store throw (as dir's do) except readLog/readCheckpoint, which return errors;
// - everything is stored as JSON and parsed on read, so no caller shares objects with another.
// `SimStoreClient` is one process's handle on it: each call lands after a seeded latency and its
// answer comes back after another, through the world's queue, in call order per client.

import { recordChecksum } from '../src/core/crc32c.js';
import { clusterError, fail, ok, type ClusterError } from '../src/core/errors.js';
import { logReadMax } from '../src/core/limits.js';
import type { ClusterConfig, ConfigUpdate, GroupName, NodeName } from '../src/core/types.js';
import type {
  RecoverOptions,
  Checkpoint, ClusterEvent, CoordinatorRecord, LeaseRecord, LeaseState, LogRecord, NewEvent, NodeReport,
  LeaseFloors, OwnershipRecord, QuorumStore, StoreResult,
} from '../src/store/types.js';
import type { SimProc, World } from './world.js';
import { genesisHistory, type History } from '../src/core/load-plan.js';
import { termRuleWith, type TermFlaws } from '../src/store/term-rule.js';

/** As dir: 128 fixed slots. */
export const simLeaseSlotsMax = 128;
/** Events kept (dir keeps 10,000; the simulator reads none back, so a small bound keeps memory flat). */
const simEventsMax = 500;

/** Deliberate protocol breaks, for the teeth tests only: the flaw switch of the real term rule (src/store/term-rule.ts). */
export type StoreFlaws = TermFlaws;

interface StoredLog { seq: number; term: number; crc: number; payload: string }

/** What the store saw change: the checkers and the trace watch these. */
export interface StoreObserver {
  coordinatorChanged(prev: CoordinatorRecord, next: CoordinatorRecord): void;
  ownershipWritten(term: number, prev: OwnershipRecord | undefined, next: OwnershipRecord | undefined, group: GroupName): void;
  logAppended(records: LogRecord[]): void;
  /** A write that depends on leadership is about to land under `term` (rule 4 is checked here, apart from the twin's own check). */
  leadershipWrite(what: string, term: number, currentTerm: number): void;
  /** A checkpoint (or a recovery, which also drops the whole log) replaced the store's checkpoint. */
  checkpointWritten(kind: 'checkpoint' | 'recover', seq: number, config: ClusterConfig, headBefore: number): void;
  /** A recovery by `machine` (null: a caller outside the world) is about to replace the log; the store as it was. */
  recovering(machine: string | null, seq: number, config: ClusterConfig, opts: RecoverOptions, before: { head: number; intactThrough: number; readable: boolean; history: History }): void;
  /** The store's database was set aside and made anew (terms, ownership and log start empty). */
  rebuilt(): void;
  leaseChanged(node: NodeName, prev: LeaseRecord | null, next: LeaseRecord): void;
}

export class SimDisk {
  initialized = false;
  clusterName = '';
  coordinator: CoordinatorRecord = { term: 0, node: null };
  readonly ownership = new Map<GroupName, OwnershipRecord>();
  readonly log: StoredLog[] = [];
  checkpoint: { seq: number; term: number; crc: number; config: string } | null = null;
  history: History = genesisHistory;
  readonly reports = new Map<NodeName, string>();
  events: ClusterEvent[] = [];
  nextEventId = 1;
  readonly slots: (LeaseRecord | null)[] = Array.from({ length: simLeaseSlotsMax }, () => null);
  readonly slotOf = new Map<NodeName, number>();
  /** As dir's lease file: each slot's recorded floor, apart from its lease (renewals, claims and evictions keep it). */
  readonly floors: ({ term: number; epoch: number } | 'damaged' | null)[] = Array.from({ length: simLeaseSlotsMax }, () => null);
  version = 1;
  /** The database cannot be read (SQLite quick_check fails): every database call fails with QUORUM_DB_DAMAGED; lease slots keep working. */
  unreadable = false;
  /** As dir: the process whose rebuilt database is not in place yet (it is built aside): every other process (a later incarnation too) still finds the database damaged. */
  rebuildingBy: string | null = null;
  /** Disk full: every database write fails with QUORUM_DISK_FULL; lease slots keep working. */
  full = false;
  readonly subscribers = new Set<{ proc: SimProc | null; cb: () => void }>();
  observer: StoreObserver | null = null;
  /** How a write wakes subscribers (the world: after a small latency, in the subscriber's process). */
  notify: (sub: { proc: SimProc | null; cb: () => void }) => void = (sub) => queueMicrotask(sub.cb);

  /** Rule 4, as the real stores decide it (src/store/term-rule.ts), with a tooth's flaw switch on if any. */
  private readonly termAdmits: (term: number, current: number) => boolean;

  constructor(readonly flaws: StoreFlaws = {}) {
    this.termAdmits = termRuleWith(flaws);
  }

  // ---- lifecycle ----

  init(clusterName: string, _wallMs: number): StoreResult<void> {
    if (clusterName.trim() === '') return fail(clusterError('BAD_ARGUMENT', 'the cluster name is empty', 'give the cluster a name'));
    if (this.initialized) return fail(clusterExists(this.clusterName));
    const full = this.fullError(`creating cluster '${clusterName}'`);
    if (full) return fail(full);
    this.initialized = true;
    this.clusterName = clusterName;
    const config: ClusterConfig = { name: clusterName, nodes: {}, groups: {}, resources: {} };
    const json = JSON.stringify(config);
    this.checkpoint = { seq: 0, term: 0, crc: recordChecksum(0, 0, json), config: json };
    return ok(undefined);
  }

  // ---- leases ----

  claimSlot(node: NodeName, incarnation: string): StoreResult<number> {
    return this.write(`claiming a lease slot for node '${node}'`, () => {
      let slot = this.slotOf.get(node);
      if (slot === undefined) {
        const taken = new Set(this.slotOf.values());
        const free = this.slots.map((_, i) => i).filter((i) => !taken.has(i));
        slot = free.find((i) => this.slots[i] === null || this.slots[i]?.node === node) ?? free[0];
        if (slot === undefined) {
          return fail(clusterError('BAD_ARGUMENT', `all ${simLeaseSlotsMax} lease slots are taken: node '${node}' cannot join`, 'evict nodes that left the cluster'));
        }
        this.slotOf.set(node, slot);
      }
      this.writeSlot(slot, { node, incarnation, counter: 0, state: 'running' });
      return ok(slot);
    });
  }

  writeSlot(slot: number, rec: LeaseRecord): void {
    const prev = this.slots[slot] ?? null;
    this.slots[slot] = { ...rec };
    if (!prev || prev.state !== rec.state || prev.incarnation !== rec.incarnation) this.observer?.leaseChanged(rec.node, prev, rec);
  }

  /** The resource monitor's mark after its clusterd died (markLeaseFenced): only if the incarnation still holds the slot. */
  markFenced(node: NodeName, incarnation: string): boolean {
    const index = this.slots.findIndex((s) => s?.node === node);
    const slot = this.slots[index];
    if (!slot || slot.incarnation !== incarnation) return false;
    this.writeSlot(index, { ...slot, state: 'fenced' });
    return true;
  }

  readLeases(): LeaseRecord[] {
    return this.slots.filter((s): s is LeaseRecord => s !== null).map((s) => ({ ...s }));
  }

  /** As dir: the slot's floor only rises; a damaged one is replaced. */
  raiseSlotFloor(slot: number, floor: { term: number; epoch: number }): void {
    const was = this.floors[slot];
    this.floors[slot] = was && was !== 'damaged' ? { term: Math.max(was.term, floor.term), epoch: Math.max(was.epoch, floor.epoch) } : { ...floor };
  }

  readFloors(): LeaseFloors {
    const out: LeaseFloors = { floors: [], unreadable: [] };
    this.floors.forEach((f, i) => {
      const node = this.slots[i]?.node ?? null;
      const where = `slot ${i}${node ? ` (node '${node}')` : ''}`;
      if (f === 'damaged') out.unreadable.push(`${where}: its floor fails its checksum`);
      else if (f) out.floors.push({ node, where, floor: { ...f } });
    });
    return out;
  }

  removeSlot(node: NodeName): StoreResult<void> {
    return this.write(`evicting the lease slot of node '${node}'`, () => {
      const assigned = new Map([...this.slotOf].map(([n, i]) => [i, n]));
      this.slots.forEach((s, i) => {
        if (s?.node === node && (assigned.get(i) ?? node) === node) this.slots[i] = null;
      });
      this.slotOf.delete(node);
      return ok(undefined);
    });
  }

  // ---- coordinator and ownership ----

  cas(expected: CoordinatorRecord, next: CoordinatorRecord): StoreResult<boolean> {
    if (next.term !== expected.term + 1) return ok(false);
    // As dir: the free-space check comes first, a lost race rolls back without a change version.
    const full = this.fullError('electing a coordinator');
    if (full) return fail(full);
    const now = this.coordinator;
    if (now.term !== expected.term || now.node !== expected.node) return ok(false);
    return this.write(`electing node '${next.node}' coordinator for term ${next.term}`, () => {
      const prev = this.coordinator;
      this.coordinator = { term: next.term, node: next.node };
      this.observer?.coordinatorChanged(prev, this.coordinator);
      return ok(true);
    });
  }

  private termProblem(term: number, what: string): ClusterError | null {
    const current = this.coordinator.term;
    if (this.termAdmits(term, current)) {
      this.observer?.leadershipWrite(what, term, current);
      return null;
    }
    return clusterError('STALE_TERM', `stale term ${term} for ${what}: the coordinator term is now ${current}`,
      'this node is no longer the coordinator; it re-reads the coordinator and acts on the new term');
  }

  readOwnership(): OwnershipRecord[] {
    return [...this.ownership.values()].sort((x, y) => cmp(x.group, y.group)).map((r) => (r.books ? { ...r, books: structuredClone(r.books) } : { ...r }));
  }

  writeOwnership(term: number, records: OwnershipRecord[], deleteGroups: GroupName[]): StoreResult<void> {
    return this.write(`writing ownership of ${records.length} group(s) under term ${term}`, () => {
      const stale = this.termProblem(term, 'writing ownership');
      if (stale) return fail(stale);
      for (const g of deleteGroups) {
        const prev = this.ownership.get(g);
        if (this.ownership.delete(g)) this.observer?.ownershipWritten(term, prev, undefined, g);
      }
      for (const r of records) {
        const prev = this.ownership.get(r.group);
        const next: OwnershipRecord = { group: r.group, node: r.node, epoch: r.epoch, term: r.term, phase: r.phase };
        if (r.books) next.books = structuredClone(r.books);
        this.ownership.set(r.group, next);
        this.observer?.ownershipWritten(term, prev, next, r.group);
      }
      return ok(undefined);
    });
  }

  // ---- log and checkpoint ----

  headSeq(): number {
    return Math.max(this.log[this.log.length - 1]?.seq ?? 0, this.checkpoint?.seq ?? 0);
  }

  appendLog(term: number, expectedHeadSeq: number, updates: ConfigUpdate[]): StoreResult<LogRecord[]> {
    const payloads = updates.map((u) => JSON.stringify(u));
    return this.write(`appending ${updates.length} update(s) to the quorum log`, () => {
      const stale = this.termProblem(term, 'appending to the quorum log');
      if (stale) return fail(stale);
      const head = this.headSeq();
      if (head !== expectedHeadSeq) {
        return fail(clusterError('SEQ_CONFLICT', `the quorum log head is seq ${head}, not the expected seq ${expectedHeadSeq}`,
          'another write landed first: re-read the log, re-check the update and retry'));
      }
      const out = payloads.map((payload, i) => {
        const seq = head + 1 + i;
        const rec = { seq, term, crc: recordChecksum(seq, term, payload), payload };
        this.log.push(rec);
        return decodeLog(rec);
      });
      this.observer?.logAppended(out);
      return ok(out);
    });
  }

  readLog(afterSeq: number, max: number): StoreResult<LogRecord[]> {
    const checkpointSeq = this.checkpoint?.seq ?? 0;
    if (afterSeq < checkpointSeq) {
      return fail(clusterError('SEQ_CONFLICT', `quorum log records up to seq ${checkpointSeq} were folded into the checkpoint; cannot read after seq ${afterSeq}`,
        'load the checkpoint, then read the log after its seq'));
    }
    const limit = Math.min(max, logReadMax);
    const out: LogRecord[] = [];
    for (const rec of this.log) {
      if (rec.seq <= afterSeq) continue;
      if (out.length >= limit) break;
      if (recordChecksum(rec.seq, rec.term, rec.payload) !== rec.crc) {
        return fail(clusterError('QUORUM_LOG_DAMAGED', `quorum log record seq ${rec.seq} is corrupt: stored checksum ${rec.crc}`, 'start the node that was up last, or clusterd start --reset-quorum-log'));
      }
      out.push(decodeLog(rec));
    }
    return ok(out);
  }

  private raiseFloor(floor: { term: number; epoch: number }, groups: GroupName[]): void {
    if (this.coordinator.term < floor.term) {
      const prev = this.coordinator;
      this.coordinator = { term: floor.term, node: null };
      this.observer?.coordinatorChanged(prev, this.coordinator);
    }
    for (const g of groups) {
      const prev = this.ownership.get(g);
      // As dir: a record naming a node stays (that node may still run the group).
      if (prev && (prev.node !== null || prev.epoch >= floor.epoch)) continue;
      const next: OwnershipRecord = { group: g, node: null, epoch: floor.epoch, term: this.coordinator.term, phase: 'run' };
      if (prev?.books) next.books = prev.books; // as dir: the books stay
      this.ownership.set(g, next);
      this.observer?.ownershipWritten(this.coordinator.term, prev, next, g);
    }
  }

  readCheckpoint(): StoreResult<Checkpoint | null> {
    const c = this.checkpoint;
    if (!c) return ok(null);
    if (recordChecksum(c.seq, c.term, c.config) !== c.crc) {
      return fail(clusterError('QUORUM_LOG_DAMAGED', `the quorum log checkpoint at seq ${c.seq} is corrupt: stored checksum ${c.crc}`, 'start the node that was up last, or clusterd start --reset-quorum-log'));
    }
    return ok({ seq: c.seq, term: c.term, crc: c.crc, config: JSON.parse(c.config) as ClusterConfig });
  }

  writeCheckpoint(term: number, seq: number, config: ClusterConfig): StoreResult<Checkpoint> {
    const json = JSON.stringify(config);
    return this.write(`writing the checkpoint at seq ${seq}`, () => {
      const stale = this.termProblem(term, `writing the checkpoint at seq ${seq}`);
      if (stale) return fail(stale);
      const head = this.headSeq();
      const current = this.checkpoint?.seq ?? 0;
      if (seq > head || seq < current) {
        return fail(clusterError('SEQ_CONFLICT', `checkpoint seq ${seq} is outside the quorum log: the checkpoint is at seq ${current}, the head at seq ${head}`,
          'take the checkpoint from the configuration applied up to a seq between those two'));
      }
      const crc = recordChecksum(seq, term, json);
      this.checkpoint = { seq, term, crc, config: json };
      const keep = this.log.filter((r) => r.seq > seq);
      this.log.length = 0;
      this.log.push(...keep);
      this.observer?.checkpointWritten('checkpoint', seq, JSON.parse(json) as ClusterConfig, head);
      return ok({ seq, term, crc, config: JSON.parse(json) as ClusterConfig });
    });
  }

  /** Operator recovery: replace the checkpoint and drop every log record, not term-checked (as dir); history and floor as dir. */
  recoverLog(seq: number, term: number, config: ClusterConfig, opts: RecoverOptions = {}, machine: string | null = null): StoreResult<Checkpoint> {
    const json = JSON.stringify(config);
    return this.write(`rebuilding the quorum log from a copy at seq ${seq}`, () => {
      const head = this.headSeq();
      this.rebuildingBy = null;
      this.observer?.recovering(machine, seq, JSON.parse(json) as ClusterConfig, opts, { head, intactThrough: this.intactThrough(), readable: true, history: this.history });
      const crc = recordChecksum(seq, term, json);
      this.checkpoint = { seq, term, crc, config: json };
      this.log.length = 0;
      if (opts.history) this.history = opts.history;
      if (opts.floor) this.raiseFloor(opts.floor, Object.keys(config.groups));
      this.observer?.checkpointWritten('recover', seq, JSON.parse(json) as ClusterConfig, head);
      return ok({ seq, term, crc, config: JSON.parse(json) as ClusterConfig });
    });
  }

  // ---- damage (the simulator's faults) and what an operator does about it ----

  /** The last seq readable in order from the checkpoint (-1: the checkpoint itself is damaged). */
  intactThrough(): number {
    const c = this.checkpoint;
    if (!c || recordChecksum(c.seq, c.term, c.config) !== c.crc) return -1;
    let seq = c.seq;
    for (const r of this.log) {
      if (r.seq !== seq + 1 || recordChecksum(r.seq, r.term, r.payload) !== r.crc) break;
      seq = r.seq;
    }
    return seq;
  }

  /** A bit flips in a stored log record (`index` into the log after the checkpoint) or in the checkpoint: its checksum no longer matches. */
  damage(where: { record: number } | 'checkpoint'): string {
    if (where === 'checkpoint') {
      this.checkpoint!.crc ^= 1;
      return `checkpoint at seq ${this.checkpoint!.seq}`;
    }
    const rec = this.log[where.record]!;
    rec.crc ^= 1;
    return `log record seq ${rec.seq} (checkpoint at seq ${this.checkpoint?.seq ?? 0}, head ${this.headSeq()})`;
  }

  /** The database has no damage left: every record and the checkpoint check out. */
  get intact(): boolean {
    return !this.unreadable && this.rebuildingBy === null && this.intactThrough() === this.headSeq();
  }

  checkIntegrity(): StoreResult<void> {
    return this.unreadable ? fail(dbDamaged('checking sim:quorum')) : ok(undefined);
  }

  /**
   * As dir: make an empty database aside (coordinator term 0, no ownership, genesis history, seq
   * 0) that only the rebuilding process reads; the recovery (recoverLog) puts it in place with the
   * checkpoint, history and floor in it. Lease slots stay.
   */
  rebuildDamaged(clusterName: string, machine: string | null = null): StoreResult<string> {
    this.unreadable = false;
    this.rebuildingBy = machine;
    this.clusterName = clusterName;
    this.coordinator = { term: 0, node: null };
    this.ownership.clear();
    this.log.length = 0;
    const json = JSON.stringify({ name: clusterName, nodes: {}, groups: {}, resources: {} } satisfies ClusterConfig);
    this.checkpoint = { seq: 0, term: 0, crc: recordChecksum(0, 0, json), config: json };
    this.history = genesisHistory;
    this.reports.clear();
    this.events = [];
    this.version++;
    this.observer?.rebuilt();
    for (const sub of [...this.subscribers]) this.notify(sub);
    return ok(`sim:quorum/cluster.db.damaged-${this.version}`);
  }

  // ---- reports and events ----

  writeReport(report: NodeReport): StoreResult<void> {
    const json = JSON.stringify(report);
    return this.write(`writing the report of node '${report.node}'`, () => {
      this.reports.set(report.node, json);
      return ok(undefined);
    });
  }

  readReports(): NodeReport[] {
    return [...this.reports.keys()].sort(cmp).map((n) => JSON.parse(this.reports.get(n)!) as NodeReport);
  }

  appendEvents(events: NewEvent[]): StoreResult<void> {
    if (events.length === 0) return ok(undefined);
    const copies = events.map((e) => JSON.parse(JSON.stringify(e)) as NewEvent);
    return this.write(`appending ${events.length} event(s)`, () => {
      for (const e of copies) this.events.push({ id: this.nextEventId++, ...e });
      if (this.events.length > simEventsMax) this.events = this.events.slice(this.events.length - simEventsMax);
      return ok(undefined);
    });
  }

  readEvents(afterId: number, limit: number): ClusterEvent[] {
    return this.events.filter((e) => e.id > afterId).slice(0, limit).map((e) => JSON.parse(JSON.stringify(e)) as ClusterEvent);
  }

  // ---- plumbing ----

  private fullError(what: string): ClusterError | null {
    if (!this.full) return null;
    return clusterError('QUORUM_DISK_FULL', `${what} needs free space in the quorum directory; none is left`,
      'free space on that filesystem: writes resume by themselves once there is room');
  }

  /** A database write: free-space check, body, change version, wake-ups; nothing lands if the body fails. */
  private write<T>(what: string, body: () => StoreResult<T>): StoreResult<T> {
    const full = this.fullError(what);
    if (full) return fail(full);
    const result = body();
    if (!result.ok) return result;
    this.version++;
    for (const sub of [...this.subscribers]) this.notify(sub);
    return result;
  }
}

export function dbDamaged(what: string): ClusterError {
  return clusterError('QUORUM_DB_DAMAGED', `${what} failed: the database sim:quorum/cluster.db is damaged: database disk image is malformed (SQLITE_CORRUPT)`,
    'on the node that was up last: clusterd start --reset-quorum-log');
}

function clusterExists(name: string): ClusterError {
  return clusterError('CLUSTER_EXISTS', `cluster '${name}' exists already in sim:quorum`, 'join that cluster instead');
}

function decodeLog(rec: StoredLog): LogRecord {
  return { seq: rec.seq, term: rec.term, crc: rec.crc, update: JSON.parse(rec.payload) as ConfigUpdate };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---- one process's handle ------------------------------------------------------------------

/** How calls travel: through the world (latency, faults) or at once (the contract tests). */
export interface StoreTransport {
  /**
   * Run `op` against the disk and hand its outcome back. `op` throws for a failing read; a
   * transport that cannot reach the disk calls `unreachable` instead of `op`.
   */
  call<T>(op: () => T, unreachable: () => T): Promise<T>;
}

/** Resolves on the next microtask: the disk is local and instant (store contract tests). */
export const directTransport: StoreTransport = {
  call<T>(op: () => T): Promise<T> {
    return Promise.resolve().then(op);
  },
};

/** A node's link to the store: faults the simulator turns on and off. */
export interface StoreLink {
  /** Extra latency on every call while the link is slow. */
  slowMs: number;
  /** Every call fails (the node is cut off from the store). */
  down: boolean;
  /** Only database calls fail (the database is locked by a hung process); lease slots work. */
  dbDown: boolean;
  /** Only lease renewals and reads fail (the lease file's device errors); the database works. */
  leaseDown: boolean;
  /** Called as the process sends a call (a pending pause strikes here: GC pauses come with busy work). */
  onCall: (() => void) | null;
}

export function healthyLink(): StoreLink {
  return { slowMs: 0, down: false, dbDown: false, leaseDown: false, onCall: null };
}

/** What a call costs the calling process besides its latency (the simulator's work cost). */
export interface CallWork {
  /** The heartbeat thread's call (a renewal): answered on that thread, costing the main thread nothing. */
  heartbeat?: boolean;
  /** Records the request carries (an append's updates, a checkpoint's tables), beside those of the answer. */
  items?: number;
}

/**
 * Work cost of handling a store answer on the main thread: decoding and folding it takes time
 * proportional to its records (reports with their resources, ownership, log records, a
 * checkpoint's tables), as in clusterd, where it is synchronous. Measured on real processes at
 * 3,000 resources a cycle costs 20-50 ms of CPU: about 10 µs a record; a loaded machine (the
 * `load` fault) gives its process a tenth of a core.
 */
export const workMsPerItem = 0.01;
export const workMsPerAnswer = 0.05;
const loadedSlowdown = 10;

/** Records in a store answer or request, counted shallowly (tables of resources, groups, nodes; arrays). */
export function itemsOf(v: unknown): number {
  if (Array.isArray(v)) {
    let n = v.length;
    for (const x of v) n += tablesOf(x);
    return n;
  }
  return tablesOf(v);
}

function tablesOf(x: unknown): number {
  if (x === null || typeof x !== 'object') return 0;
  const o = x as Record<string, unknown>;
  let n = 0;
  for (const k of ['resources', 'groups', 'nodes', 'updates']) {
    const t = o[k];
    if (t !== null && typeof t === 'object') n += Array.isArray(t) ? t.length : Object.keys(t).length;
  }
  for (const k of ['config', 'value', 'update']) if (o[k] !== null && typeof o[k] === 'object') n += tablesOf(o[k]);
  return n;
}

/** Through the world: lands after a seeded latency, answers after another, FIFO per client. */
export class WorldTransport {
  private lastLandMs = 0;
  private lastAnswerMs = 0;
  constructor(private readonly world: World, private readonly proc: SimProc, readonly link: StoreLink, private readonly loaded: () => boolean = () => false) {}

  call<T>(op: () => T, unreachable: () => T, isLease: boolean, onAnswer?: (value: T) => void, work: CallWork = {}): Promise<T> {
    const world = this.world;
    const rng = world.rng;
    const cutOff = this.link.down || (this.link.dbDown && !isLease) || (this.link.leaseDown && isLease);
    // A pause may strike here, before the request leaves the process: then it is sent on resume.
    this.link.onCall?.();
    const sender = this.proc.state === 'paused' ? this.proc : null;
    return new Promise<T>((resolve, reject) => {
      const slow = this.link.slowMs > 0 ? rng.real(0, this.link.slowMs) : 0;
      // A cut-off call fails after a connect or lock timeout, without touching the disk.
      const landAt = cutOff ? world.now + rng.real(1, 250) : Math.max(world.now + rng.real(0.05, 1) + slow, this.lastLandMs + 0.001);
      this.lastLandMs = landAt;
      world.scheduleAt(landAt, sender, 'io', () => {
        let value: T | undefined;
        let error: unknown;
        let threw = false;
        try {
          value = cutOff ? unreachable() : op();
        } catch (e) {
          threw = true;
          error = e;
        }
        const answerAt = Math.max(world.now + rng.real(0.05, 1) + slow / 4, this.lastAnswerMs + 0.001);
        this.lastAnswerMs = answerAt;
        world.scheduleAt(answerAt, this.proc, 'io', () => {
          // Handling the answer keeps the main thread busy in proportion to its size (and the request's).
          if (!work.heartbeat) {
            const items = (work.items ?? 0) + (threw ? 0 : itemsOf(value));
            world.work(this.proc, (workMsPerAnswer + items * workMsPerItem) * (this.loaded() ? loadedSlowdown : 1));
          }
          if (threw) { reject(error); return; }
          onAnswer?.(value as T);
          resolve(value as T);
        }, work.heartbeat === true);
      });
    });
  }
}

type Transport = { call<T>(op: () => T, unreachable: () => T, isLease: boolean, onAnswer?: (value: T) => void, work?: CallWork): Promise<T> };

function unavailable(what: string): ClusterError {
  return clusterError('QUORUM_UNAVAILABLE', `${what} failed: the quorum store cannot be reached`, 'check the link to the quorum store');
}

export class SimStoreClient implements QuorumStore {
  readonly kind = 'sim' as const;
  readonly location = 'sim:quorum';
  private opened = false;
  /** Slots claimed through this client (dir's lease writers): a renewal needs one. */
  private readonly claimed = new Map<NodeName, { slot: number; incarnation: string }>();
  private readonly unsubscribers = new Set<() => void>();

  constructor(private readonly disk: SimDisk, private readonly transport: Transport | StoreTransport, private readonly proc: SimProc | null = null,
    private readonly nowMs: () => number = () => 0) {}

  private run<T>(op: () => T, unreachable: () => T, isLease = false, onAnswer?: (value: T) => void, work?: CallWork): Promise<T> {
    return (this.transport as Transport).call(op, unreachable, isLease, onAnswer, work);
  }

  /** A write: returns an error result when unreachable, or when the database cannot be read (the lease file is apart from it). */
  private w<T>(what: string, op: () => StoreResult<T>, isLease = false, onAnswer?: (value: StoreResult<T>) => void, work?: CallWork): Promise<StoreResult<T>> {
    return this.run(() => {
      this.mustBeOpen();
      return this.damagedFor() && !isLease ? fail(dbDamaged(what)) : op();
    }, () => fail(unavailable(what)), isLease, onAnswer, work);
  }

  /** A read that throws when unreachable or when the database cannot be read (as dir's reads do). */
  private r<T>(what: string, op: () => T, isLease = false, onAnswer?: (value: T) => void): Promise<T> {
    return this.run(() => {
      this.mustBeOpen();
      if (this.damagedFor() && !isLease) throw dbDamaged(what);
      return op();
    }, () => { throw unavailable(what); }, isLease, onAnswer);
  }

  /** The database cannot be read by this client: damaged, or (patch 8) rebuilt by another machine whose recovery has not landed. */
  private damagedFor(): boolean {
    const by = this.disk.rebuildingBy;
    return this.disk.unreadable || (by !== null && by !== (this.proc?.id ?? null));
  }

  private mustBeOpen(): void {
    if (!this.opened) throw new Error('quorum store sim:quorum is not open: call init() or open() first');
  }

  async init(clusterName: string, wallMs: number): Promise<StoreResult<void>> {
    const res = await this.run(() => this.disk.init(clusterName, wallMs), () => fail(unavailable('init')));
    if (res.ok) this.opened = true;
    return res;
  }

  async open(): Promise<StoreResult<{ clusterName: string }>> {
    return this.run(() => {
      if (!this.disk.initialized) return fail(clusterError('CLUSTER_NOT_FOUND', 'no cluster in sim:quorum', 'create one with init'));
      this.opened = true;
      return ok({ clusterName: this.disk.clusterName });
    }, () => fail(unavailable('open')));
  }

  async close(): Promise<void> {
    this.opened = false;
    this.claimed.clear();
    for (const u of [...this.unsubscribers]) u();
  }

  claimLeaseSlot(node: NodeName, incarnation: string): Promise<StoreResult<void>> {
    return this.w(`claiming a lease slot for node '${node}'`, () => {
      const slot = this.disk.claimSlot(node, incarnation);
      if (!slot.ok) return slot;
      this.claimed.set(node, { slot: slot.value, incarnation });
      return ok(undefined);
    });
  }

  renewLease(node: NodeName, counter: number, state: LeaseState): Promise<StoreResult<void>> {
    return this.w(`renewing the lease of node '${node}'`, () => {
      const mine = this.claimed.get(node);
      if (!mine) return fail(clusterError('BAD_ARGUMENT', `node '${node}' has no lease slot claimed through sim:quorum`, 'claim the slot (claimLeaseSlot) before renewing it'));
      // One positional write of the whole slot: no free-space check, no change version.
      this.disk.writeSlot(mine.slot, { node, incarnation: mine.incarnation, counter, state });
      return ok(undefined);
    }, true, undefined, { heartbeat: true });
  }

  readLeases(): Promise<LeaseRecord[]> {
    return this.r('reading the lease file', () => this.disk.readLeases(), true);
  }

  raiseLeaseFloor(node: NodeName, floor: { term: number; epoch: number }): Promise<StoreResult<void>> {
    const f = { term: floor.term, epoch: floor.epoch };
    return this.w(`recording the floor of node '${node}' in its lease slot`, () => {
      const mine = this.claimed.get(node);
      if (!mine) return fail(clusterError('BAD_ARGUMENT', `node '${node}' has no lease slot claimed through sim:quorum`, 'claim the slot (claimLeaseSlot) before recording a floor in it'));
      this.disk.raiseSlotFloor(mine.slot, f);
      return ok(undefined);
    }, true);
  }

  readLeaseFloors(): Promise<StoreResult<LeaseFloors>> {
    return this.run(() => { this.mustBeOpen(); return ok(this.disk.readFloors()); }, () => fail(unavailable('reading the floors in the lease file')), true);
  }

  removeLeaseSlot(node: NodeName): Promise<StoreResult<void>> {
    return this.w(`evicting node '${node}'`, () => {
      const res = this.disk.removeSlot(node);
      if (res.ok) this.claimed.delete(node);
      return res;
    });
  }

  readCoordinator(): Promise<CoordinatorRecord> {
    return this.r('reading the coordinator', () => ({ ...this.disk.coordinator }));
  }

  casCoordinator(expected: CoordinatorRecord, next: CoordinatorRecord): Promise<StoreResult<boolean>> {
    return this.w('electing a coordinator', () => this.disk.cas(expected, next));
  }

  readOwnership(): Promise<OwnershipRecord[]> {
    return this.r('reading ownership', () => this.disk.readOwnership());
  }

  writeOwnership(term: number, records: OwnershipRecord[], deleteGroups: GroupName[] = []): Promise<StoreResult<void>> {
    const copy = records.map((r) => ({ ...r }));
    const dels = [...deleteGroups];
    return this.w('writing ownership', () => this.disk.writeOwnership(term, copy, dels));
  }

  appendLog(term: number, expectedHeadSeq: number, updates: ConfigUpdate[]): Promise<StoreResult<LogRecord[]>> {
    const copy = JSON.parse(JSON.stringify(updates)) as ConfigUpdate[];
    return this.w('appending to the quorum log', () => this.disk.appendLog(term, expectedHeadSeq, copy), false, undefined, { items: itemsOf(copy) });
  }

  readLog(afterSeq: number, max: number): Promise<StoreResult<LogRecord[]>> {
    return this.w('reading the quorum log', () => this.disk.readLog(afterSeq, max));
  }

  logHead(): Promise<number> {
    return this.r('reading the quorum log head', () => this.disk.headSeq());
  }

  readCheckpoint(): Promise<StoreResult<Checkpoint | null>> {
    return this.w('reading the checkpoint', () => this.disk.readCheckpoint());
  }

  writeCheckpoint(term: number, seq: number, config: ClusterConfig): Promise<StoreResult<Checkpoint>> {
    const copy = JSON.parse(JSON.stringify(config)) as ClusterConfig;
    return this.w('writing the checkpoint', () => this.disk.writeCheckpoint(term, seq, copy), false, undefined, { items: itemsOf(copy) });
  }

  recoverLog(seq: number, term: number, config: ClusterConfig, opts: RecoverOptions = {}): Promise<StoreResult<Checkpoint>> {
    const copy = JSON.parse(JSON.stringify(config)) as ClusterConfig;
    return this.w('rebuilding the quorum log', () => this.disk.recoverLog(seq, term, copy, opts, this.proc?.machine ?? null));
  }

  checkIntegrity(): Promise<StoreResult<void>> {
    return this.run(() => { this.mustBeOpen(); return this.disk.checkIntegrity(); }, () => fail(unavailable('checking the database')));
  }

  rebuildDamaged(clusterName: string): Promise<StoreResult<string>> {
    return this.run(() => this.disk.rebuildDamaged(clusterName, this.proc?.id ?? null), () => fail(unavailable('rebuilding the database')));
  }

  readHistory(): Promise<StoreResult<History>> {
    return this.w('reading the quorum log history', () => ok(this.disk.history));
  }

  writeReport(report: NodeReport): Promise<StoreResult<void>> {
    const copy = JSON.parse(JSON.stringify(report)) as NodeReport;
    return this.w('writing a report', () => this.disk.writeReport(copy), false, undefined, { items: itemsOf(copy) });
  }

  readReports(): Promise<NodeReport[]> {
    return this.r('reading node reports', () => this.disk.readReports());
  }

  appendEvents(events: NewEvent[]): Promise<StoreResult<void>> {
    const copy = JSON.parse(JSON.stringify(events)) as NewEvent[];
    return this.w('appending events', () => this.disk.appendEvents(copy));
  }

  readEvents(afterId: number, limit: number): Promise<ClusterEvent[]> {
    return this.r('reading events', () => this.disk.readEvents(afterId, limit));
  }

  changeVersion(): Promise<number> {
    return this.r('reading the change version', () => this.disk.version);
  }

  onChange(cb: () => void): () => void {
    const entry = { proc: this.proc, cb };
    this.disk.subscribers.add(entry);
    const unsubscribe = () => {
      this.disk.subscribers.delete(entry);
      this.unsubscribers.delete(unsubscribe);
    };
    this.unsubscribers.add(unsubscribe);
    return unsubscribe;
  }
}
