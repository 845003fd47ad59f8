// A node's own copy of the cluster database, in its data directory: a checkpoint file plus an
// append-only log of the records applied since. It lets a node start fast, replay only what
// it missed, and prove how far it had got (a node never goes backwards). It is a copy: when
// it is damaged the node says so and falls back to the quorum store.
//
// Files: DATA/db/checkpoint (written atomically: temp file, fsync, rename, fsync of the
// directory), DATA/db/quolog (frames of src/core/log-codec.ts, fdatasync per append) and
// DATA/db/state (JSON, written atomically): the history this copy belongs to (core/load-plan.ts)
// and the floor, the highest coordinator term and group epoch this node has ever seen. The floor
// is written before the node acts on what it read, so every copy holds the highest fencing
// tokens any disk or writer may hold from this node's view; a rebuilt store starts above it.

import type { EventName } from '../core/events.js';
import { closeSync, copyFileSync, fdatasyncSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statfsSync, truncateSync, writeSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigDraft, configFromJson, configJson } from '../core/config.js';
import { clusterError, fail, ok, type Result } from '../core/errors.js';
import { checkpointMagic, decodeCheckpoint, encodeFrame, scanLogEach } from '../core/log-codec.js';
import { genesisHistory, type Floor as CoreFloor, type History } from '../core/load-plan.js';
import type { ClusterConfig, ConfigUpdate } from '../core/types.js';
import type { LogRecord } from '../store/types.js';

/** Space kept free on the data directory's filesystem: below it, local writes stop (with an event) rather than fail halfway. */
export const localMinFreeBytes = 1 << 20;

export interface LocalCopy {
  seq: number;
  term: number;
  config: ClusterConfig;
  /** Bytes of log after the local checkpoint. */
  logBytes: number;
}

/** The highest coordinator term and group epoch this node has seen: recovery never goes below them. */
export type Floor = CoreFloor;

export interface LocalState {
  history: History;
  floor: Floor;
}

export interface LocalLoad {
  copy: LocalCopy | null;
  /** What was found and done, for the event log. */
  notes: { event: EventName; level: 'info' | 'warning' | 'error'; message: string }[];
  /** Records of the copy's log this version's fold refuses: skipped (reported by the loader). */
  skipped?: { seq: number; update: ConfigUpdate; why: string }[];
}

export class LocalDb {
  readonly dir: string;
  private readonly checkpointPath: string;
  private readonly logPath: string;
  private readonly statePath: string;
  private fd: number | null = null;
  logBytes = 0;
  /** Bytes of the checkpoint file this copy starts from (its log is rewritten as a checkpoint once as large: checkpoint-policy.ts). */
  checkpointBytes = 0;
  private state: LocalState | null = null;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'db');
    this.checkpointPath = join(this.dir, 'checkpoint');
    this.logPath = join(this.dir, 'quolog');
    this.statePath = join(this.dir, 'state');
  }

  /** This copy's history and floor (a copy made before they were recorded: the genesis history, floor 0). */
  readState(): LocalState {
    if (this.state) return this.state;
    let st: LocalState = { history: genesisHistory, floor: { term: 0, epoch: 0 } };
    if (existsSync(this.statePath)) {
      try {
        const j = JSON.parse(readFileSync(this.statePath, 'utf8')) as Partial<LocalState>;
        if (j.history && typeof j.history.id === 'string' && Array.isArray(j.history.parents)) st = { ...st, history: j.history };
        if (j.floor && Number.isSafeInteger(j.floor.term) && Number.isSafeInteger(j.floor.epoch)) st = { ...st, floor: j.floor };
      } catch { /* an unreadable state file: genesis and floor 0, and the store's own values stand */ }
    }
    this.state = st;
    return st;
  }

  /** Record the history this copy now follows (before the checkpoint of that history is written). */
  setHistory(history: History): Result<void> {
    return this.writeState({ ...this.readState(), history });
  }

  /** Raise the floor to what was seen; writes (fsync) only when it grows. */
  noteFloor(term: number, epoch: number): Result<void> {
    const st = this.readState();
    if (term <= st.floor.term && epoch <= st.floor.epoch) return ok(undefined);
    return this.writeState({ ...st, floor: { term: Math.max(term, st.floor.term), epoch: Math.max(epoch, st.floor.epoch) } });
  }

  private writeState(st: LocalState): Result<void> {
    const text = JSON.stringify(st);
    const space = this.checkSpace(text.length);
    if (!space.ok) return space;
    this.writeAtomic(this.statePath, Buffer.from(text));
    this.state = st;
    return ok(undefined);
  }

  private writeAtomic(path: string, bytes: Uint8Array): void {
    const tmp = `${path}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    const dirFd = openSync(this.dir, 'r');
    try { fsyncSync(dirFd); } finally { closeSync(dirFd); }
  }

  /** Load the copy: checkpoint, then the log after it; cut a torn tail; keep what precedes damage, and say so. */
  load(): LocalLoad {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const notes: LocalLoad['notes'] = [];
    if (!existsSync(this.checkpointPath)) return { copy: null, notes };
    const cpBytes = readFileSync(this.checkpointPath);
    const cp = decodeCheckpoint(cpBytes);
    if (!cp.ok) {
      notes.push({ event: 'LOCAL_COPY_DAMAGED', level: 'warning', message: `the local checkpoint ${this.checkpointPath} is damaged (${cp.reason}): ignoring this node's copy and loading from the quorum store` });
      return { copy: null, notes };
    }
    const base = configFromJson(cp.frame.payload);
    const draft = new ConfigDraft(base);
    let seq = cp.frame.seq;
    let term = cp.frame.term;
    const buf = existsSync(this.logPath) ? readFileSync(this.logPath) : Buffer.alloc(0);
    // Records are applied as the scan finds them (nothing of a million-record log is kept); the
    // scan visits only the intact records before any damage. The bytes go in as latin1 text too:
    // the scan slices ASCII payloads from it instead of decoding each one.
    let applying = true;
    const skipped: LocalLoad['skipped'] = [];
    let thrown: { e: unknown } | null = null;
    const scan = scanLogEach(buf, buf.toString('latin1'), (f) => {
      if (!applying || f.seq <= seq) return;
      if (f.seq !== seq + 1) { applying = false; return; }
      let next: Result<void>;
      try { next = draft.apply(JSON.parse(f.payload) as ConfigUpdate); } catch (e) { thrown = { e }; applying = false; return; }
      // A record this version's fold refuses is skipped, as the quorum log's replay skips it (config-log.ts).
      if (!next.ok) skipped.push({ seq: f.seq, update: JSON.parse(f.payload) as ConfigUpdate, why: next.error.message });
      seq = f.seq;
      term = f.term;
    });
    if (scan.damage) {
      // Every record before the damage is intact and stays: the copy reaches the last of them.
      // The damaged file is kept aside for inspection; this copy goes on from the intact prefix.
      const aside = `${this.logPath}.damaged`;
      copyFileSync(this.logPath, aside);
      truncateSync(this.logPath, scan.goodBytes);
      notes.push({ event: 'LOCAL_COPY_DAMAGED', level: 'warning', message: `the local log ${this.logPath} is damaged at byte ${scan.damage.offset} (${scan.damage.reason}): keeping the intact records before it, this copy reaches seq ${seq}; the damaged file is kept as ${aside}` });
    } else if (scan.tornBytes > 0) {
      truncateSync(this.logPath, scan.goodBytes);
      notes.push({ event: 'LOCAL_LOG_TORN_TAIL', level: 'warning', message: `cut a torn tail of ${scan.tornBytes} bytes from ${this.logPath} (an append interrupted by a crash); the records before it are intact` });
    }
    if (thrown) throw (thrown as { e: unknown }).e;
    this.logBytes = scan.goodBytes;
    this.checkpointBytes = cpBytes.length;
    return { copy: { seq, term, config: draft.config, logBytes: scan.goodBytes }, notes, skipped };
  }

  private resetLog(): void {
    if (this.fd !== null) { closeSync(this.fd); this.fd = null; }
    const fd = openSync(this.logPath, 'w', 0o600);
    fsyncSync(fd);
    closeSync(fd);
    this.logBytes = 0;
  }

  private freeBytes(): number {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const s = statfsSync(this.dir);
    return s.bavail * s.bsize;
  }

  private checkSpace(needed: number): Result<void> {
    const free = this.freeBytes();
    if (free < needed + localMinFreeBytes) {
      return fail(clusterError('QUORUM_DISK_FULL', `node data directory ${this.dir} has ${free} bytes free; ${needed + localMinFreeBytes} needed (record plus ${localMinFreeBytes} reserve)`, 'free space on that filesystem: the node catches up from the quorum store by itself'));
    }
    return ok(undefined);
  }

  /** Append applied records (one fdatasync for all). */
  append(records: LogRecord[]): Result<void> {
    if (records.length === 0) return ok(undefined);
    const frames = records.map((r) => encodeFrame({ seq: r.seq, term: r.term, payload: JSON.stringify(r.update) }));
    const bytes = frames.reduce((n, f) => n + f.length, 0);
    const space = this.checkSpace(bytes);
    if (!space.ok) return space;
    this.fd ??= openSync(this.logPath, 'a', 0o600);
    const all = Buffer.concat(frames);
    writeSync(this.fd, all);
    fdatasyncSync(this.fd);
    this.logBytes += bytes;
    return ok(undefined);
  }

  /** Replace the checkpoint atomically, then start an empty log after it. */
  writeCheckpoint(seq: number, term: number, config: ClusterConfig): Result<void> {
    const frame = encodeFrame({ seq, term, payload: configJson(config) }, checkpointMagic);
    const space = this.checkSpace(frame.length);
    if (!space.ok) return space;
    this.writeAtomic(this.checkpointPath, frame);
    this.checkpointBytes = frame.length;
    this.resetLog();
    return ok(undefined);
  }

  close(): void {
    if (this.fd !== null) { closeSync(this.fd); this.fd = null; }
  }

  static exists(dataDir: string): boolean {
    const p = join(dataDir, 'db', 'checkpoint');
    return existsSync(p) && statSync(p).size > 0;
  }
}
