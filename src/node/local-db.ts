// A node's own copy of the cluster database, in its data directory: a checkpoint file plus an
// append-only log of the records applied since. It lets a node start fast, replay only what
// it missed, and prove how far it had got (a node never goes backwards). It is a copy: when
// it is damaged the node says so and falls back to the quorum store.
//
// Files: DATA/db/checkpoint (written atomically: temp file, fsync, rename, fsync of the
// directory) and DATA/db/quolog (frames of src/core/log-codec.ts, fdatasync per append).

import { closeSync, fdatasyncSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statfsSync, truncateSync, writeSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigDraft, configJson } from '../core/config.js';
import { clusterError, fail, ok, type Result } from '../core/errors.js';
import { checkpointMagic, decodeCheckpoint, encodeFrame, scanLogEach } from '../core/log-codec.js';
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

export interface LocalLoad {
  copy: LocalCopy | null;
  /** What was found and done, for the event log. */
  notes: { event: string; level: 'info' | 'warning' | 'error'; message: string }[];
}

export class LocalDb {
  readonly dir: string;
  private readonly checkpointPath: string;
  private readonly logPath: string;
  private fd: number | null = null;
  logBytes = 0;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'db');
    this.checkpointPath = join(this.dir, 'checkpoint');
    this.logPath = join(this.dir, 'quolog');
  }

  /** Load the copy: checkpoint, then the log after it; cut a torn tail; refuse damage before it. */
  load(): LocalLoad {
    mkdirSync(this.dir, { recursive: true });
    const notes: LocalLoad['notes'] = [];
    if (!existsSync(this.checkpointPath)) return { copy: null, notes };
    const cp = decodeCheckpoint(readFileSync(this.checkpointPath));
    if (!cp.ok) {
      notes.push({ event: 'LOCAL_COPY_DAMAGED', level: 'warning', message: `the local checkpoint ${this.checkpointPath} is damaged (${cp.reason}): ignoring this node's copy and loading from the quorum store` });
      return { copy: null, notes };
    }
    const base = JSON.parse(cp.frame.payload) as ClusterConfig;
    const draft = new ConfigDraft(base);
    let seq = cp.frame.seq;
    let term = cp.frame.term;
    const buf = existsSync(this.logPath) ? readFileSync(this.logPath) : Buffer.alloc(0);
    // Records are applied as the scan finds them (nothing of a million-record log is kept); the
    // draft is dropped below if the scan then finds damage. The bytes go in as latin1 text too:
    // the scan slices ASCII payloads from it instead of decoding each one.
    let applying = true;
    let refused: string | null = null;
    let thrown: { e: unknown } | null = null;
    const scan = scanLogEach(buf, buf.toString('latin1'), (f) => {
      if (!applying || f.seq <= seq) return;
      if (f.seq !== seq + 1) { applying = false; return; }
      let next: Result<void>;
      try { next = draft.apply(JSON.parse(f.payload) as ConfigUpdate); } catch (e) { thrown = { e }; applying = false; return; }
      if (!next.ok) {
        refused = `local log record ${f.seq} does not apply (${next.error.message}): using the copy up to seq ${seq}`;
        applying = false;
        return;
      }
      seq = f.seq;
      term = f.term;
    });
    if (scan.damage) {
      notes.push({ event: 'LOCAL_COPY_DAMAGED', level: 'warning', message: `the local log ${this.logPath} is damaged at byte ${scan.damage.offset} (${scan.damage.reason}): using the local checkpoint at seq ${cp.frame.seq} and the quorum store for the rest` });
      this.resetLog();
      return { copy: { seq: cp.frame.seq, term: cp.frame.term, config: new ConfigDraft(base).config, logBytes: 0 }, notes };
    }
    if (scan.tornBytes > 0) {
      truncateSync(this.logPath, scan.goodBytes);
      notes.push({ event: 'LOCAL_LOG_TORN_TAIL', level: 'warning', message: `cut a torn tail of ${scan.tornBytes} bytes from ${this.logPath} (an append interrupted by a crash); the records before it are intact` });
    }
    if (thrown) throw (thrown as { e: unknown }).e;
    if (refused !== null) notes.push({ event: 'LOCAL_COPY_DAMAGED', level: 'warning', message: refused });
    this.logBytes = scan.goodBytes;
    return { copy: { seq, term, config: draft.config, logBytes: scan.goodBytes }, notes };
  }

  private resetLog(): void {
    if (this.fd !== null) { closeSync(this.fd); this.fd = null; }
    const fd = openSync(this.logPath, 'w');
    fsyncSync(fd);
    closeSync(fd);
    this.logBytes = 0;
  }

  private freeBytes(): number {
    mkdirSync(this.dir, { recursive: true });
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
    this.fd ??= openSync(this.logPath, 'a');
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
    const tmp = `${this.checkpointPath}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, frame);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.checkpointPath);
    const dirFd = openSync(this.dir, 'r');
    try { fsyncSync(dirFd); } finally { closeSync(dirFd); }
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
