// The embedded quorum store: one directory holding `cluster.db` (SQLite, WAL) and `leases.bin`
// (fixed lease slots, see lease-file.ts). Every node of the cluster opens the same directory;
// SQLite's file locks serialize writers across processes. Every write that depends on
// leadership checks the coordinator term inside the same BEGIN IMMEDIATE transaction that
// writes, so a deposed coordinator can never slip a write in between the check and the commit.

import fs from 'node:fs';
import path from 'node:path';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { ClusterError, clusterError, fail, ok } from '../core/errors.js';
import { recordChecksum } from '../core/crc32c.js';
import { logReadMax } from '../core/limits.js';
import { configJson, noteConfigJson, ownTables } from '../core/config.js';
import type { GroupBooks } from '../core/types.js';
import type { ClusterConfig, ConfigUpdate, GroupName, NodeName } from '../core/types.js';
import { genesisHistory, type Floor, type History } from '../core/load-plan.js';
import type {
  RecoverOptions, Checkpoint, LeaseRenewerOptions, ClusterEvent, CoordinatorRecord, LeaseRecord, LeaseState, LogRecord, NewEvent, NodeReport,
  LeaseFloors, OwnershipRecord, QuorumStore, StoreResult,
} from './types.js';
import {
  LeaseSlotWriter, createLeaseFile, leaseFileBytes, leaseFileName, leaseIdentityProblem, leaseSlotsMax,
  raiseLeaseFloorAt, readLeaseFloorSlots, readLeaseSlots, zeroLeaseSlot, leaseFloorMax,
} from './lease-file.js';
import { assertCoordinator, assertOwnership, assertSeq, assertTerm } from './asserts.js';
import { termAdmits } from './term-rule.js';

export interface DirStoreOptions {
  /** Events kept in the store; older ones are dropped on append. */
  eventsMax?: number;
  /** Free space every database write must leave, on top of what it writes. */
  minFreeBytes?: number;
}

export const dbFileName = 'cluster.db';
const schemaVersion = 1;
/** Enough history for an operator to read back a day of a busy cluster, small enough to scan. */
const eventsMaxDefault = 10_000;
/** Room for SQLite's WAL pages and a checkpoint of the WAL beyond the payload itself. */
const minFreeBytesDefault = 1024 * 1024;
/** What freeSpaceProblem() asks room for: larger than an ownership write or a node report of a few hundred resources. */
const spaceProbeBytes = 64 * 1024;
/** Rides out another node's commit (with its fsync); a lock held longer surfaces as an error, not a hang. */
const busyTimeoutMs = 250;
/** One configuration update is a few hundred bytes; anything near this is a bug upstream. */
const logRecordBytesMax = 1024 * 1024;
const eventsReadMax = 10_000;
/** Bytes budgeted for a small fixed-size row (coordinator, slot assignment). */
const smallRowBytes = 512;

/** Added after schema version 1 shipped: created on open when missing (no history row: the genesis history). */
const historySchema = 'CREATE TABLE IF NOT EXISTS history (id INTEGER PRIMARY KEY CHECK (id = 1), json TEXT NOT NULL);';
/** Added after schema version 1 shipped: the coordinator's books of a group (JSON, core/books.ts), added on open when missing. */
const booksColumn = 'ALTER TABLE ownership ADD COLUMN books TEXT';

/**
 * Added after schema version 1 shipped: a count of the ownership table's changes, kept by triggers
 * in the database, so that it counts every writer's changes (also those of a clusterd that does not
 * know it: a rolling upgrade). A read of an unchanged table returns the records read last
 * (readOwnership): with 20,000 groups, reading them after every write of anything cost each node
 * about 20 ms and 20,000 new objects. Created on open when missing.
 */
const ownershipVersionSchema = `
CREATE TABLE IF NOT EXISTS ownership_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL);
INSERT OR IGNORE INTO ownership_version VALUES (1, 0);
CREATE TRIGGER IF NOT EXISTS ownership_version_insert AFTER INSERT ON ownership BEGIN UPDATE ownership_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS ownership_version_update AFTER UPDATE ON ownership BEGIN UPDATE ownership_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER IF NOT EXISTS ownership_version_delete AFTER DELETE ON ownership BEGIN UPDATE ownership_version SET version = version + 1 WHERE id = 1; END;
`;
const ownershipVersionTriggers = ['ownership_version_insert', 'ownership_version_update', 'ownership_version_delete'];

const schema = `
CREATE TABLE IF NOT EXISTS meta (
  id INTEGER PRIMARY KEY CHECK (id = 1), schema_version INTEGER NOT NULL, cluster_name TEXT NOT NULL,
  created_wall_ms INTEGER NOT NULL, change_version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS coordinator (id INTEGER PRIMARY KEY CHECK (id = 1), term INTEGER NOT NULL, node TEXT);
CREATE TABLE IF NOT EXISTS ownership (
  grp TEXT PRIMARY KEY, node TEXT, epoch INTEGER NOT NULL, term INTEGER NOT NULL, phase TEXT NOT NULL, books TEXT);
CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, term INTEGER NOT NULL, crc INTEGER NOT NULL, payload TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoint (
  id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, term INTEGER NOT NULL, crc INTEGER NOT NULL, config TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS reports (node TEXT PRIMARY KEY, report TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, wall_ms INTEGER NOT NULL, node TEXT NOT NULL, event TEXT NOT NULL,
  level TEXT NOT NULL, message TEXT NOT NULL, data TEXT);
CREATE TABLE IF NOT EXISTS lease_slots (node TEXT PRIMARY KEY, slot INTEGER NOT NULL UNIQUE);
${historySchema}
${ownershipVersionSchema}
`;

type Db = Database.Database;
interface LogRow { seq: number; term: number; crc: number; payload: string }
interface CheckpointRow { seq: number; term: number; crc: number; config: string }
interface OwnershipRow { grp: string; node: string | null; epoch: number; term: number; phase: 'run' | 'stop'; books: string | null }
interface EventRow { id: number; wall_ms: number; node: string; event: string; level: ClusterEvent['level']; message: string; data: string | null }

/** Thrown inside a transaction body to roll it back and hand `result` to the caller. */
class Rollback {
  constructor(readonly result: StoreResult<unknown>) {}
}

const recoveryHint =
  'a running coordinator repairs it from its own copy by itself; otherwise start clusterd with --reset-quorum-log on the node with the newest local copy (clusterd quorum-log verify shows the damage)';

const dbDamagedHint =
  'on the node that was up last (it has the newest copy): clusterd start --reset-quorum-log sets the damaged file aside and rebuilds the store from that copy; clusterd quorum-log verify --data-dir DIR shows each node\'s copy';

function fsyncDir(dirPath: string): void {
  const fd = fs.openSync(dirPath, 'r');
  try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
}

export class DirStore implements QuorumStore {
  readonly kind = 'dir' as const;
  readonly location: string;
  private readonly dirPath: string;
  private readonly dbPath: string;
  private readonly leasePath: string;
  private readonly eventsMax: number;
  private readonly minFreeBytes: number;
  private db: Db | null = null;
  private leaseFd: number | null = null;
  private clusterName = '';
  /** Slots claimed through this store: renewals write from here without touching SQLite. */
  private readonly leaseWriters = new Map<NodeName, LeaseSlotWriter>();
  private readonly subscribers = new Set<{ cb: () => void }>();
  private watcher: fs.FSWatcher | null = null;
  /** A database rebuilt aside (rebuildDamaged) that the next recovery puts in place. */
  private rebuilding: { building: string; aside: string } | null = null;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(dirPath: string, opts: DirStoreOptions = {}) {
    this.dirPath = path.resolve(dirPath);
    this.dbPath = path.join(this.dirPath, dbFileName);
    this.leasePath = path.join(this.dirPath, leaseFileName);
    this.location = `dir:${this.dirPath}`;
    this.eventsMax = opts.eventsMax ?? eventsMaxDefault;
    this.minFreeBytes = opts.minFreeBytes ?? minFreeBytesDefault;
    assert.ok(Number.isSafeInteger(this.eventsMax) && this.eventsMax > 0, `eventsMax ${this.eventsMax} must be > 0`);
    assert.ok(Number.isSafeInteger(this.minFreeBytes) && this.minFreeBytes >= 0, `minFreeBytes ${this.minFreeBytes} must be >= 0`);
  }

  // ---- lifecycle ----

  async init(clusterName: string, wallMs: number): Promise<StoreResult<void>> {
    if (clusterName.trim() === '') return fail(clusterError('BAD_ARGUMENT', 'the cluster name is empty', 'give the cluster a name'));
    if (this.db) return fail(this.clusterExists(this.clusterName));
    const what = `creating cluster '${clusterName}' in ${this.location}`;
    let db: Db | null = null;
    try {
      fs.mkdirSync(this.dirPath, { recursive: true, mode: 0o700 });
      const full = this.spaceProblem(what, leaseFileBytes);
      if (full) return fail(full);
      db = connect(this.dbPath, false);
      const existing = db.transaction(() => this.createCluster(db as Db, clusterName, wallMs)).immediate();
      if (existing !== null) {
        db.close();
        return fail(this.clusterExists(existing));
      }
      this.attach(db, clusterName);
      return ok(undefined);
    } catch (err) {
      db?.close();
      return fail(this.failure(what, err));
    }
  }

  private clusterExists(name: string): ClusterError {
    return clusterError('CLUSTER_EXISTS', `cluster '${name}' exists already in ${this.location}`,
      'join that cluster instead, or choose an empty directory for a new one');
  }

  /** Writes the schema, the lease file and the first rows; returns the existing cluster's name instead if there is one. */
  private createCluster(db: Db, clusterName: string, wallMs: number): string | null {
    db.exec(schema);
    const meta = db.prepare('SELECT cluster_name FROM meta WHERE id = 1').get() as { cluster_name: string } | undefined;
    if (meta) return meta.cluster_name;
    // Under the database write lock, so two nodes racing to init cannot both (re)create it.
    createLeaseFile(this.leasePath);
    db.prepare('INSERT INTO meta VALUES (1, ?, ?, ?, 1)').run(schemaVersion, clusterName, wallMs);
    db.prepare('INSERT INTO coordinator VALUES (1, 0, NULL)').run();
    const config: ClusterConfig = { name: clusterName, nodes: {}, groups: {}, resources: {} };
    const json = configJson(config);
    db.prepare('INSERT INTO checkpoint VALUES (1, 0, 0, ?, ?)').run(recordChecksum(0, 0, json), json);
    return null;
  }

  async open(): Promise<StoreResult<{ clusterName: string }>> {
    if (this.db) return ok({ clusterName: this.clusterName });
    const notFound = clusterError('CLUSTER_NOT_FOUND', `no cluster in ${this.location}`,
      'create one with init on this quorum store, or check the path');
    if (!fs.existsSync(this.dbPath)) return fail(notFound);
    let db: Db | null = null;
    try {
      db = connect(this.dbPath, true);
      const meta = readMeta(db);
      if (!meta) {
        db.close();
        return fail(notFound);
      }
      const problem = this.openProblem(meta.schema_version);
      if (problem) {
        db.close();
        return fail(problem);
      }
      if (!db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'history'").get()) db.exec(historySchema);
      if (!(db.pragma('table_info(ownership)') as { name: string }[]).some((c) => c.name === 'books')) db.exec(booksColumn);
      const triggers = db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'trigger' AND name IN (?, ?, ?)").get(...ownershipVersionTriggers) as { n: number };
      if (triggers.n < ownershipVersionTriggers.length) db.exec(ownershipVersionSchema);
      this.attach(db, meta.cluster_name);
      return ok({ clusterName: meta.cluster_name });
    } catch (err) {
      db?.close();
      return fail(this.failure(`opening ${this.location}`, err));
    }
  }

  private openProblem(version: number): ClusterError | null {
    if (version !== schemaVersion) {
      return clusterError('STORE_SCHEMA_MISMATCH', `${this.dbPath} has schema version ${version}; this clusterd reads version ${schemaVersion}`,
        'run the clusterd version that created this cluster, or upgrade this one');
    }
    const size = fs.statSync(this.leasePath, { throwIfNoEntry: false })?.size;
    if (size !== leaseFileBytes) {
      // Never recreate it here: a clusterd still writing to the old file would look dead to everyone.
      return clusterError('QUORUM_UNAVAILABLE',
        `the lease file ${this.leasePath} is ${size === undefined ? 'missing' : `${size} bytes, not ${leaseFileBytes}`}`,
        'stop every clusterd using this quorum directory, then restore the file from a backup or re-create the cluster');
    }
    return null;
  }

  private attach(db: Db, clusterName: string): void {
    this.leaseFd = fs.openSync(this.leasePath, 'r+');
    this.db = db;
    this.clusterName = clusterName;
  }

  async close(): Promise<void> {
    this.subscribers.clear();
    this.stopWatching();
    this.leaseWriters.clear();
    this.statements.clear();
    if (this.leaseFd !== null) fs.closeSync(this.leaseFd);
    this.leaseFd = null;
    this.db?.close();
    this.db = null;
    this.ownershipRead = null;
    this.rebuilding = null;
  }

  // ---- leases ----

  async claimLeaseSlot(node: NodeName, incarnation: string): Promise<StoreResult<void>> {
    const problem = leaseIdentityProblem(node, incarnation);
    if (problem) return fail(clusterError('BAD_ARGUMENT', problem, 'node names are 1 to 63 bytes'));
    const what = `claiming a lease slot for node '${node}'`;
    const assigned = this.write(what, smallRowBytes, () => this.assignSlot(node));
    if (!assigned.ok) return assigned;
    // Written after the commit: the assignment in SQLite is what reserves the slot.
    const writer = new LeaseSlotWriter(assigned.value, node, incarnation);
    try {
      writer.write(this.fd(), 0, 'running');
    } catch (err) {
      return fail(this.failure(what, err));
    }
    this.leaseWriters.set(node, writer);
    return ok(undefined);
  }

  private assignSlot(node: NodeName): StoreResult<number> {
    const mine = this.stmt('SELECT slot FROM lease_slots WHERE node = ?').get(node) as { slot: number } | undefined;
    if (mine) return ok(mine.slot);
    const taken = new Set((this.stmt('SELECT slot FROM lease_slots').all() as { slot: number }[]).map((r) => r.slot));
    const onDisk = readLeaseSlots(this.fd());
    const free = [...onDisk.keys()].filter((i) => !taken.has(i));
    // Prefer an empty slot: one still holding another node's record may belong to an evicted node
    // that is still running and renewing, and two writers on one slot would hide each other.
    const slot = free.find((i) => onDisk[i] === null || onDisk[i]?.node === node) ?? free[0];
    if (slot === undefined) {
      return fail(clusterError('BAD_ARGUMENT', `all ${leaseSlotsMax} lease slots of ${this.location} are taken: node '${node}' cannot join`,
        'evict nodes that left the cluster; a cluster holds at most 128 nodes'));
    }
    this.stmt('INSERT INTO lease_slots (node, slot) VALUES (?, ?)').run(node, slot);
    return ok(slot);
  }

  async renewLease(node: NodeName, counter: number, state: LeaseState): Promise<StoreResult<void>> {
    const writer = this.leaseWriters.get(node);
    if (!writer) {
      return fail(clusterError('BAD_ARGUMENT', `node '${node}' has no lease slot claimed through ${this.location}`,
        'claim the slot (claimLeaseSlot) before renewing it'));
    }
    try {
      writer.write(this.fd(), counter, state);
      return ok(undefined);
    } catch (err) {
      return fail(this.failure(`renewing the lease of node '${node}'`, err));
    }
  }

  /** What a lease renewer needs to renew `node`'s slot with its own file descriptor (lease-renewer.ts); null if not claimed here. */
  leaseRenewerOptions(node: NodeName): LeaseRenewerOptions | null {
    const writer = this.leaseWriters.get(node);
    return writer ? { kind: 'dir', node, incarnation: writer.record.incarnation, leasePath: this.leasePath, slot: writer.index } : null;
  }

  async readLeases(): Promise<LeaseRecord[]> {
    try {
      return readLeaseSlots(this.fd()).filter((slot): slot is LeaseRecord => slot !== null);
    } catch (err) {
      throw this.failure('reading the lease file', err);
    }
  }

  async raiseLeaseFloor(node: NodeName, floor: Floor): Promise<StoreResult<void>> {
    const writer = this.leaseWriters.get(node);
    if (!writer) {
      return fail(clusterError('BAD_ARGUMENT', `node '${node}' has no lease slot claimed through ${this.location}`,
        'claim the slot (claimLeaseSlot) before recording a floor in it'));
    }
    if (floor.term > leaseFloorMax || floor.epoch > leaseFloorMax) {
      return fail(clusterError('BAD_ARGUMENT', `the floor of node '${node}' (term ${floor.term}, epoch ${floor.epoch}) is past what a lease slot of ${this.location} holds (${leaseFloorMax})`,
        'move the cluster to a new store (clusterd migrate) and report this'));
    }
    try {
      raiseLeaseFloorAt(this.fd(), writer.index, floor);
      return ok(undefined);
    } catch (err) {
      return fail(this.failure(`recording the floor of node '${node}' in its lease slot`, err));
    }
  }

  async readLeaseFloors(): Promise<StoreResult<LeaseFloors>> {
    try {
      return ok(leaseFloorsOf(this.fd(), this.leasePath));
    } catch (err) {
      return fail(this.failure('reading the floors in the lease file', err));
    }
  }

  async removeLeaseSlot(node: NodeName): Promise<StoreResult<void>> {
    const removed = this.write(`evicting the lease slot of node '${node}'`, smallRowBytes, () => {
      const assigned = new Map((this.stmt('SELECT slot, node FROM lease_slots').all() as { slot: number; node: string }[])
        .map((r) => [r.slot, r.node]));
      // Also clears stray copies of this node's record in unassigned slots, left by an evicted node that kept renewing.
      readLeaseSlots(this.fd()).forEach((slot, i) => {
        if (slot?.node === node && (assigned.get(i) ?? node) === node) zeroLeaseSlot(this.fd(), i);
      });
      this.stmt('DELETE FROM lease_slots WHERE node = ?').run(node);
      return ok(undefined);
    });
    if (removed.ok) this.leaseWriters.delete(node);
    return removed;
  }

  // ---- coordinator and ownership ----

  async readCoordinator(): Promise<CoordinatorRecord> {
    return this.read('reading the coordinator', () => this.coordinatorRow());
  }

  private coordinatorRow(): CoordinatorRecord {
    const row = this.stmt('SELECT term, node FROM coordinator WHERE id = 1').get() as CoordinatorRecord | undefined;
    assert.ok(row, 'the coordinator row exists from init on');
    return { term: row.term, node: row.node };
  }

  async casCoordinator(expected: CoordinatorRecord, next: CoordinatorRecord): Promise<StoreResult<boolean>> {
    assertCoordinator(expected);
    assertCoordinator(next);
    if (next.term !== expected.term + 1) return ok(false);
    return this.write(`electing node '${next.node}' coordinator for term ${next.term}`, smallRowBytes, () => {
      const now = this.coordinatorRow();
      if (now.term !== expected.term || now.node !== expected.node) throw new Rollback(ok(false));
      this.stmt('UPDATE coordinator SET term = ?, node = ? WHERE id = 1').run(next.term, next.node);
      return ok(true);
    });
  }

  /** STALE_TERM unless `term` is the coordinator's term right now (call inside the write transaction). */
  private termProblem(term: number, what: string): ClusterError | null {
    const current = this.coordinatorRow().term;
    if (termAdmits(term, current)) return null;
    return clusterError('STALE_TERM', `stale term ${term} for ${what}: the coordinator term is now ${current}`,
      'this node is no longer the coordinator; it re-reads the coordinator and acts on the new term');
  }

  /** The records read last, with the table's change count before that read and the connection it was read on. */
  private ownershipRead: { db: Db; version: number; records: OwnershipRecord[] } | null = null;

  /** The records, sorted by group; the same array (frozen) as the last call's while the table has not changed. */
  async readOwnership(): Promise<OwnershipRecord[]> {
    return this.read('reading ownership', () => {
      const db = this.conn();
      // The count first, then the rows: a write between the two makes the count older than the
      // rows, and the next read reads again (the other order could keep rows older than their count).
      const version = (this.stmt('SELECT version FROM ownership_version WHERE id = 1').get() as { version: number } | undefined)?.version;
      const last = this.ownershipRead;
      if (version !== undefined && last && last.db === db && last.version === version) return last.records;
      const records = (this.stmt('SELECT grp, node, epoch, term, phase, books FROM ownership ORDER BY grp').all() as OwnershipRow[])
        .map((r) => {
          const rec: OwnershipRecord = { group: r.grp, node: r.node, epoch: r.epoch, term: r.term, phase: r.phase };
          if (r.books !== null) rec.books = JSON.parse(r.books) as GroupBooks;
          return Object.freeze(rec);
        });
      Object.freeze(records);
      this.ownershipRead = version === undefined ? null : { db, version, records };
      return records;
    });
  }

  /** Deletes `deleteGroups` first, then upserts `records` (a group in both ends up written). */
  async writeOwnership(term: number, records: OwnershipRecord[], deleteGroups: GroupName[] = []): Promise<StoreResult<void>> {
    assertTerm(term);
    records.forEach(assertOwnership);
    const what = `writing ownership of ${records.length} group(s) under term ${term}`;
    return this.write(what, byteLength(JSON.stringify([records, deleteGroups])), () => {
      const stale = this.termProblem(term, 'writing ownership');
      if (stale) return fail(stale);
      for (const group of deleteGroups) this.stmt('DELETE FROM ownership WHERE grp = ?').run(group);
      const upsert = this.stmt('INSERT OR REPLACE INTO ownership (grp, node, epoch, term, phase, books) VALUES (?, ?, ?, ?, ?, ?)');
      for (const r of records) upsert.run(r.group, r.node, r.epoch, r.term, r.phase, r.books ? JSON.stringify(r.books) : null);
      return ok(undefined);
    });
  }

  // ---- quorum log and checkpoint ----

  async appendLog(term: number, expectedHeadSeq: number, updates: ConfigUpdate[]): Promise<StoreResult<LogRecord[]>> {
    assertTerm(term);
    assertSeq(expectedHeadSeq);
    const payloads = updates.map((u) => JSON.stringify(u));
    const oversized = payloads.findIndex((p) => byteLength(p) > logRecordBytesMax);
    if (oversized >= 0) {
      return fail(clusterError('BAD_ARGUMENT', `update ${oversized} is ${byteLength(payloads[oversized] ?? '')} bytes of JSON: the limit is ${logRecordBytesMax}`,
        'split the change into smaller updates'));
    }
    const bytes = payloads.reduce((sum, p) => sum + byteLength(p), 0);
    return this.write(`appending ${updates.length} update(s) to the quorum log`, bytes, () => {
      const stale = this.termProblem(term, 'appending to the quorum log');
      if (stale) return fail(stale);
      const head = this.headSeq();
      if (head !== expectedHeadSeq) {
        return fail(clusterError('SEQ_CONFLICT', `the quorum log head is seq ${head}, not the expected seq ${expectedHeadSeq}`,
          'another write landed first: re-read the log, re-check the update and retry'));
      }
      const insert = this.stmt('INSERT INTO log (seq, term, crc, payload) VALUES (?, ?, ?, ?)');
      return ok(payloads.map((payload, i) => {
        const seq = head + 1 + i;
        const crc = recordChecksum(seq, term, payload);
        insert.run(seq, term, crc, payload);
        return { seq, term, crc, update: updates[i] as ConfigUpdate };
      }));
    });
  }

  /**
   * Fails with SEQ_CONFLICT if records after `afterSeq` were folded into the checkpoint already
   * (the reader must load the checkpoint: returning the later records would skip updates).
   */
  async readLog(afterSeq: number, max: number): Promise<StoreResult<LogRecord[]>> {
    assertSeq(afterSeq);
    assert.ok(Number.isSafeInteger(max) && max > 0, `max ${max} must be > 0`);
    try {
      // One read transaction: the checkpoint and the rows come from the same snapshot.
      return this.conn().transaction(() => {
        const checkpointSeq = this.checkpointSeq();
        if (afterSeq < checkpointSeq) {
          return fail<LogRecord[]>(clusterError('SEQ_CONFLICT',
            `quorum log records up to seq ${checkpointSeq} were folded into the checkpoint; cannot read after seq ${afterSeq}`,
            'load the checkpoint, then read the log after its seq'));
        }
        const rows = this.stmt('SELECT seq, term, crc, payload FROM log WHERE seq > ? ORDER BY seq LIMIT ?')
          .all(afterSeq, Math.min(max, logReadMax)) as LogRow[];
        return decodeLogRows(rows, afterSeq);
      })();
    } catch (err) {
      return fail(this.failure('reading the quorum log', err));
    }
  }

  async logHead(): Promise<number> {
    return this.read('reading the quorum log head', () => this.headSeq());
  }

  private headSeq(): number {
    const row = this.stmt('SELECT MAX(seq) AS seq FROM log').get() as { seq: number | null };
    return Math.max(row.seq ?? 0, this.checkpointSeq());
  }

  /** The checkpoint's seq alone: the row also holds the whole configuration, megabytes at scale. */
  private checkpointSeq(): number {
    return (this.stmt('SELECT seq FROM checkpoint WHERE id = 1').get() as { seq: number } | undefined)?.seq ?? 0;
  }

  private checkpointRow(): CheckpointRow | undefined {
    return this.stmt('SELECT seq, term, crc, config FROM checkpoint WHERE id = 1').get() as CheckpointRow | undefined;
  }

  async readCheckpoint(): Promise<StoreResult<Checkpoint | null>> {
    try {
      const row = this.checkpointRow();
      return row ? decodeCheckpoint(row) : ok(null);
    } catch (err) {
      return fail(this.failure('reading the checkpoint', err));
    }
  }

  async writeCheckpoint(term: number, seq: number, config: ClusterConfig): Promise<StoreResult<Checkpoint>> {
    assertTerm(term);
    assertSeq(seq);
    const json = configJson(config);
    return this.write(`writing the checkpoint at seq ${seq}`, byteLength(json), () => {
      const stale = this.termProblem(term, `writing the checkpoint at seq ${seq}`);
      if (stale) return fail(stale);
      const head = this.headSeq();
      const current = this.checkpointSeq();
      if (seq > head || seq < current) {
        return fail(clusterError('SEQ_CONFLICT', `checkpoint seq ${seq} is outside the quorum log: the checkpoint is at seq ${current}, the head at seq ${head}`,
          'take the checkpoint from the configuration applied up to a seq between those two'));
      }
      const crc = recordChecksum(seq, term, json);
      this.stmt('INSERT OR REPLACE INTO checkpoint (id, seq, term, crc, config) VALUES (1, ?, ?, ?, ?)').run(seq, term, crc, json);
      this.stmt('DELETE FROM log WHERE seq <= ?').run(seq);
      return ok({ seq, term, crc, config });
    });
  }

  async recoverLog(seq: number, term: number, config: ClusterConfig, opts: RecoverOptions = {}): Promise<StoreResult<Checkpoint>> {
    assertTerm(term);
    assertSeq(seq);
    const json = configJson(config);
    const res = this.write(`rebuilding the quorum log from a copy at seq ${seq}`, byteLength(json), () => {
      const crc = recordChecksum(seq, term, json);
      this.stmt('INSERT OR REPLACE INTO checkpoint (id, seq, term, crc, config) VALUES (1, ?, ?, ?, ?)').run(seq, term, crc, json);
      this.stmt('DELETE FROM log').run();
      if (opts.history) this.stmt('INSERT OR REPLACE INTO history (id, json) VALUES (1, ?)').run(JSON.stringify(opts.history));
      if (opts.floor) this.raiseFloor(opts.floor, Object.keys(config.groups));
      return ok({ seq, term, crc, config });
    });
    if (res.ok && this.rebuilding) {
      try {
        this.putRebuiltInPlace();
      } catch (err) {
        return fail(this.failure(`putting the rebuilt database in place at ${this.dbPath}`, err));
      }
    }
    return res;
  }

  /** RecoverOptions.floor, inside the recovery's transaction. */
  private raiseFloor(floor: { term: number; epoch: number }, groups: GroupName[]): void {
    const coord = this.coordinatorRow();
    if (coord.term < floor.term) this.stmt('UPDATE coordinator SET term = ?, node = NULL WHERE id = 1').run(floor.term);
    const term = Math.max(coord.term, floor.term);
    // A record naming a node stays: that node may still run the group, and the coordinator moves
    // it with the usual release wait. Only a missing record, or one naming nobody, is raised.
    const rows = this.stmt('SELECT grp, node, epoch FROM ownership').all() as { grp: string; node: string | null; epoch: number }[];
    const held = new Map(rows.map((r) => [r.grp, r]));
    // The books stay: the count of failovers goes on across a recovery.
    const upsert = this.stmt('INSERT INTO ownership (grp, node, epoch, term, phase) VALUES (?, NULL, ?, ?, \'run\') ' +
      'ON CONFLICT (grp) DO UPDATE SET node = NULL, epoch = excluded.epoch, term = excluded.term, phase = \'run\'');
    for (const g of groups) {
      const rec = held.get(g);
      if (rec && (rec.node !== null || rec.epoch >= floor.epoch)) continue;
      upsert.run(g, floor.epoch, term);
    }
  }

  async readHistory(): Promise<StoreResult<History>> {
    try {
      const row = this.stmt('SELECT json FROM history WHERE id = 1').get() as { json: string } | undefined;
      if (!row) return ok(genesisHistory);
      const h = parseJson(row.json) as History | undefined;
      if (!h || typeof h.id !== 'string' || !Array.isArray(h.parents)) {
        return fail(clusterError('QUORUM_LOG_DAMAGED', `the history record of ${this.location} is not valid JSON`, recoveryHint));
      }
      return ok(h);
    } catch (err) {
      return fail(this.failure('reading the quorum log history', err));
    }
  }

  async checkIntegrity(): Promise<StoreResult<void>> {
    try {
      const rows = this.conn().pragma('quick_check') as { quick_check: string }[];
      const bad = rows.map((r) => r.quick_check).filter((r) => r !== 'ok');
      if (bad.length === 0) return ok(undefined);
      return fail(clusterError('QUORUM_DB_DAMAGED', `${this.dbPath} fails SQLite's quick_check: ${bad.slice(0, 3).join('; ')}`, dbDamagedHint));
    } catch (err) {
      return fail(this.failure(`checking ${this.dbPath}`, err));
    }
  }

  /**
   * Makes an empty database aside (`cluster.db.rebuild`), which only this store object reads; the
   * damaged file stays in place, so every other process, and a later start of this node, still
   * finds it damaged. The recovery that follows (recoverLog, with the checkpoint, history and
   * floor) puts the rebuilt file in place with one rename, and sets the damaged one aside as the
   * name returned. A rebuild that dies before its recovery leaves the damaged file as it was.
   */
  async rebuildDamaged(clusterName: string, wallMs: number): Promise<StoreResult<string>> {
    await this.close();
    const aside = `${this.dbPath}.damaged-${wallMs}`;
    const building = `${this.dbPath}.rebuild`;
    const what = `rebuilding ${this.location} for cluster '${clusterName}'`;
    let db: Db | null = null;
    try {
      for (const ext of ['', '-wal', '-shm']) fs.rmSync(building + ext, { force: true });
      db = connect(building, false);
      const d = db;
      d.transaction(() => {
        d.exec(schema);
        d.prepare('INSERT INTO meta VALUES (1, ?, ?, ?, 1)').run(schemaVersion, clusterName, wallMs);
        d.prepare('INSERT INTO coordinator VALUES (1, 0, NULL)').run();
        const json = configJson({ name: clusterName, nodes: {}, groups: {}, resources: {} });
        d.prepare('INSERT INTO checkpoint VALUES (1, 0, 0, ?, ?)').run(recordChecksum(0, 0, json), json);
      }).immediate();
      // The lease file is apart from the database: it stays, unless it is missing or the wrong size.
      if (fs.statSync(this.leasePath, { throwIfNoEntry: false })?.size !== leaseFileBytes) createLeaseFile(this.leasePath);
      this.attach(db, clusterName);
      this.rebuilding = { building, aside };
      return ok(aside);
    } catch (err) {
      db?.close();
      return fail(this.failure(what, err));
    }
  }

  /** After the recovery committed in the rebuilt database: the damaged one goes aside, the rebuilt one takes its name. */
  private putRebuiltInPlace(): void {
    const r = this.rebuilding;
    if (!r || !this.db) return;
    this.statements.clear();
    this.db.close();
    this.db = null;
    // The damaged file keeps its name until the rebuilt one replaces it (a hard link sets it aside first);
    // its -wal and -shm go aside before, so that SQLite never applies them to the rebuilt file.
    for (const ext of ['-wal', '-shm']) if (fs.existsSync(this.dbPath + ext)) fs.renameSync(this.dbPath + ext, r.aside + ext);
    if (fs.existsSync(this.dbPath)) fs.linkSync(this.dbPath, r.aside);
    for (const ext of ['-wal', '-shm']) fs.rmSync(r.building + ext, { force: true });
    fs.renameSync(r.building, this.dbPath);
    fsyncDir(this.dirPath);
    this.rebuilding = null;
    this.db = connect(this.dbPath, true);
  }

  // ---- reports and events ----

  async writeReport(report: NodeReport): Promise<StoreResult<void>> {
    assert.ok(report.node !== '', 'a report names its node');
    const json = JSON.stringify(report);
    // Reports are rewritten all the time and rebuilt from the live node: losing the last one in a
    // power cut is harmless, so they skip the per-commit fsync.
    return this.write(`writing the report of node '${report.node}'`, byteLength(json), () => {
      this.stmt('INSERT OR REPLACE INTO reports (node, report) VALUES (?, ?)').run(report.node, json);
      return ok(undefined);
    }, 'NORMAL');
  }

  /** The last report read per node, with its text: an unchanged report is not parsed again (a node running 10,000 resources reports a megabyte). */
  private reportsRead = new Map<string, { text: string; report: NodeReport }>();

  async readReports(): Promise<NodeReport[]> {
    return this.read('reading node reports', () => {
      const rows = this.stmt('SELECT node, report FROM reports ORDER BY node').all() as { node: string; report: string }[];
      const seen = new Map<string, { text: string; report: NodeReport }>();
      const out = rows.map((r) => {
        const last = this.reportsRead.get(r.node);
        const entry = last && last.text === r.report ? last : { text: r.report, report: JSON.parse(r.report) as NodeReport };
        seen.set(r.node, entry);
        return entry.report;
      });
      this.reportsRead = seen;
      return out;
    });
  }

  async appendEvents(events: NewEvent[]): Promise<StoreResult<void>> {
    if (events.length === 0) return ok(undefined);
    const rows = events.map((e) => [e.wallMs, e.node, e.event, e.level, e.message, e.data === undefined ? null : JSON.stringify(e.data)] as const);
    const bytes = rows.reduce((sum, r) => sum + byteLength(r.join('')), 0);
    return this.write(`appending ${events.length} event(s)`, bytes, () => {
      const insert = this.stmt('INSERT INTO events (wall_ms, node, event, level, message, data) VALUES (?, ?, ?, ?, ?, ?)');
      for (const r of rows) insert.run(...r);
      this.stmt('DELETE FROM events WHERE id <= (SELECT MAX(id) FROM events) - ?').run(this.eventsMax);
      return ok(undefined);
    }, 'NORMAL');
  }

  async readEvents(afterId: number, limit: number): Promise<ClusterEvent[]> {
    assert.ok(Number.isSafeInteger(limit) && limit > 0, `limit ${limit} must be > 0`);
    return this.read('reading events', () =>
      (this.stmt('SELECT id, wall_ms, node, event, level, message, data FROM events WHERE id > ? ORDER BY id LIMIT ?')
        .all(afterId, Math.min(limit, eventsReadMax)) as EventRow[]).map(decodeEvent));
  }

  // ---- change notification ----

  async changeVersion(): Promise<number> {
    return this.read('reading the change version', () => {
      const meta = this.stmt('SELECT change_version FROM meta WHERE id = 1').get() as { change_version: number } | undefined;
      assert.ok(meta, 'the meta row exists from init on');
      return meta.change_version;
    });
  }

  onChange(cb: () => void): () => void {
    const entry = { cb };
    this.subscribers.add(entry);
    this.startWatching();
    return () => {
      this.subscribers.delete(entry);
      if (this.subscribers.size === 0) this.stopWatching();
    };
  }

  private startWatching(): void {
    if (this.watcher) return;
    try {
      // persistent: false, because a wake-up hint must never be what keeps a process alive.
      this.watcher = fs.watch(this.dirPath, { persistent: false }, (_event, file) => {
        if (file === leaseFileName) return; // heartbeats are not changes, and come many times a second
        for (const s of [...this.subscribers]) s.cb();
      });
      // Best effort: if the directory goes away, subscribers fall back on polling changeVersion.
      this.watcher.on('error', () => this.stopWatching());
    } catch {
      this.watcher = null;
    }
  }

  private stopWatching(): void {
    this.watcher?.close();
    this.watcher = null;
  }

  // ---- plumbing ----

  private conn(): Db {
    assert.ok(this.db, `quorum store ${this.location} is not open: call init() or open() first`);
    return this.db;
  }

  private fd(): number {
    assert.ok(this.leaseFd !== null, `quorum store ${this.location} is not open: call init() or open() first`);
    return this.leaseFd;
  }

  /** Statements are prepared once per connection: they are the hot path of every poll. */
  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.conn().prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  private read<T>(what: string, body: () => T): T {
    try {
      return body();
    } catch (err) {
      throw this.failure(what, err);
    }
  }

  /**
   * Runs `body` in one BEGIN IMMEDIATE transaction after the free-space check, bumps the change
   * version if it succeeds, rolls back if it fails. `durability` FULL fsyncs the WAL on commit.
   */
  private write<T>(what: string, payloadBytes: number, body: () => StoreResult<T>, durability: 'FULL' | 'NORMAL' = 'FULL'): StoreResult<T> {
    const db = this.conn();
    try {
      const full = this.spaceProblem(what, payloadBytes);
      if (full) return fail(full);
      db.pragma(`synchronous = ${durability}`);
      return db.transaction(() => {
        const result = body();
        if (!result.ok) throw new Rollback(result);
        this.stmt('UPDATE meta SET change_version = change_version + 1 WHERE id = 1').run();
        return result;
      }).immediate();
    } catch (err) {
      if (err instanceof Rollback) return err.result as StoreResult<T>;
      return fail(this.failure(what, err));
    }
  }

  freeSpaceProblem(): ClusterError | null {
    try {
      return this.spaceProblem('an ordinary write to the quorum store (ownership, reports, events)', spaceProbeBytes);
    } catch {
      return null; // the directory cannot be examined: the next write says why
    }
  }

  private spaceProblem(what: string, payloadBytes: number): ClusterError | null {
    const stats = fs.statfsSync(this.dirPath);
    const freeBytes = stats.bavail * stats.bsize;
    const neededBytes = payloadBytes + this.minFreeBytes;
    if (freeBytes >= neededBytes) return null;
    return clusterError('QUORUM_DISK_FULL',
      `${what} needs ${neededBytes} bytes free in ${this.dirPath}; ${freeBytes} bytes are free`,
      'free space on that filesystem: writes resume by themselves once there is room');
  }

  /** Maps an environmental failure to a ClusterError; anything else is a bug and is rethrown. */
  private failure(what: string, err: unknown): ClusterError {
    if (err instanceof ClusterError) return err;
    const code = (err as { code?: unknown } | null)?.code;
    const message = err instanceof Error ? err.message : String(err);
    if (typeof code !== 'string') throw err;
    if (code.startsWith('SQLITE_FULL') || code === 'ENOSPC') {
      return clusterError('QUORUM_DISK_FULL', `${what} failed: the filesystem of ${this.dirPath} is full (${code})`,
        'free space on that filesystem: writes resume by themselves once there is room');
    }
    if (code.startsWith('SQLITE_CORRUPT') || code.startsWith('SQLITE_NOTADB')) {
      return clusterError('QUORUM_DB_DAMAGED', `${what} failed: the database ${this.dbPath} is damaged: ${message} (${code})`, dbDamagedHint);
    }
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
      return clusterError('QUORUM_UNAVAILABLE', `${what} failed: ${this.dbPath} stayed locked by another process for more than ${busyTimeoutMs} ms`,
        'look for a hung clusterd or cluster command using this quorum directory; the write can be retried');
    }
    if (code.startsWith('SQLITE_') || (err as { syscall?: unknown }).syscall !== undefined) {
      return clusterError('QUORUM_UNAVAILABLE', `${what} failed on ${this.location}: ${message} (${code})`,
        'check that the quorum directory is mounted, readable and writable');
    }
    throw err;
  }
}

/** The floors recorded in a lease file, as LeaseFloors (slots named by index and node). */
function leaseFloorsOf(fd: number, leasePath: string): LeaseFloors {
  const out: LeaseFloors = { floors: [], unreadable: [] };
  for (const s of readLeaseFloorSlots(fd)) {
    const where = `slot ${s.index}${s.node ? ` (node '${s.node}')` : ''} of ${leasePath}`;
    if (s.floor === 'damaged') out.unreadable.push(`${where}: its floor fails its checksum`);
    else out.floors.push({ node: s.node, where, floor: s.floor });
  }
  return out;
}

/**
 * The floors of a dir store's lease file read without opening its database (which may not open):
 * every slot unreadable when the file is missing or the wrong size.
 */
export function readLeaseFloorsAt(dirPath: string): LeaseFloors {
  const leasePath = path.join(path.resolve(dirPath), leaseFileName);
  const size = fs.statSync(leasePath, { throwIfNoEntry: false })?.size;
  if (size !== leaseFileBytes) return { floors: [], unreadable: [`the lease file ${leasePath} (${size === undefined ? 'missing' : `${size} bytes, not ${leaseFileBytes}`})`] };
  let fd: number;
  try {
    fd = fs.openSync(leasePath, 'r');
  } catch (err) {
    return { floors: [], unreadable: [`the lease file ${leasePath} (${(err as Error).message})`] };
  }
  try {
    return leaseFloorsOf(fd, leasePath);
  } catch (err) {
    return { floors: [], unreadable: [`the lease file ${leasePath} (${(err as Error).message})`] };
  } finally {
    fs.closeSync(fd);
  }
}

function connect(dbPath: string, fileMustExist: boolean): Db {
  // Created 0600 before SQLite opens it: SQLite gives its -wal and -shm files the database file's mode.
  if (!fileMustExist) fs.closeSync(fs.openSync(dbPath, 'a', 0o600));
  const db = new Database(dbPath, { fileMustExist, timeout: busyTimeoutMs });
  try {
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') {
      // WAL needs shared memory between the processes: a filesystem that cannot give it cannot host the quorum.
      throw clusterError('QUORUM_UNAVAILABLE', `SQLite cannot use WAL mode for ${dbPath} (it stays in ${String(mode)} mode)`,
        'put the quorum directory on a local filesystem, or on a shared one with coherent POSIX locks');
    }
    db.pragma('synchronous = FULL');
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function readMeta(db: Db): { schema_version: number; cluster_name: string; change_version: number } | undefined {
  const table = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get();
  if (!table) return undefined;
  return db.prepare('SELECT schema_version, cluster_name, change_version FROM meta WHERE id = 1').get() as
    { schema_version: number; cluster_name: string; change_version: number } | undefined;
}

/** Verifies each row's seq (no gaps after `afterSeq`) and checksum; never returns a damaged record. */
function decodeLogRows(rows: LogRow[], afterSeq: number): StoreResult<LogRecord[]> {
  const records: LogRecord[] = [];
  for (const [i, row] of rows.entries()) {
    const expectedSeq = afterSeq + 1 + i;
    if (row.seq !== expectedSeq) {
      return fail(clusterError('QUORUM_LOG_DAMAGED', `quorum log record seq ${expectedSeq} is missing (the next record is seq ${row.seq})`, recoveryHint));
    }
    const crc = recordChecksum(row.seq, row.term, row.payload);
    if (crc !== row.crc) {
      return fail(clusterError('QUORUM_LOG_DAMAGED', `quorum log record seq ${row.seq} is corrupt: stored checksum ${row.crc}, computed ${crc}`, recoveryHint));
    }
    const update = parseJson(row.payload);
    if (update === undefined) {
      return fail(clusterError('QUORUM_LOG_DAMAGED', `quorum log record seq ${row.seq} is corrupt: its payload is not JSON`, recoveryHint));
    }
    records.push({ seq: row.seq, term: row.term, crc: row.crc, update: update as ConfigUpdate });
  }
  return ok(records);
}

function decodeCheckpoint(row: CheckpointRow): StoreResult<Checkpoint> {
  const crc = recordChecksum(row.seq, row.term, row.config);
  const config = crc === row.crc ? parseJson(row.config) : undefined;
  if (config === undefined) {
    return fail(clusterError('QUORUM_LOG_DAMAGED', `the checkpoint at seq ${row.seq} is corrupt: stored checksum ${row.crc}, computed ${crc}`, recoveryHint));
  }
  const tables = typeof config === 'object' && config !== null ? ownTables(config as ClusterConfig) : config;
  if (typeof tables === 'object' && tables !== null) noteConfigJson(tables as ClusterConfig, row.config);
  return ok({ seq: row.seq, term: row.term, crc: row.crc, config: tables as ClusterConfig });
}

function decodeEvent(r: EventRow): ClusterEvent {
  const event: ClusterEvent = { id: r.id, wallMs: r.wall_ms, node: r.node, event: r.event, level: r.level, message: r.message };
  if (r.data !== null) event.data = JSON.parse(r.data) as Record<string, unknown>;
  return event;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

