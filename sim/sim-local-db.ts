// The twin of a node's own copy of the cluster database (src/node/local-db.ts): the same public
// interface, kept in memory per machine (it outlives clusterd incarnations and power cuts, as the
// fsync'd files do). It folds records with the real core (ConfigDraft), and damage behaves as
// LocalDb's does: a torn tail is cut, a damaged record keeps every intact record before it and
// cuts the rest, a damaged checkpoint makes the copy count for nothing. Every note has LocalDb's
// event id. The simulator damages it (`damage`) and moves it aside (`moveAside`) as an operator
// would (`mv DATA/db DATA/db.history-ID`: the state file with its floor goes too).

import { ConfigDraft } from '../src/core/config.js';
import { ok, type Result } from '../src/core/errors.js';
import { headerBytes } from '../src/core/log-codec.js';
import { genesisHistory, type History } from '../src/core/load-plan.js';
import type { ClusterConfig, ConfigUpdate } from '../src/core/types.js';
import type { LocalDb, LocalLoad, LocalState } from '../src/node/local-db.js';
import type { LogRecord } from '../src/store/types.js';

interface Frame { seq: number; term: number; payload: string; damaged: boolean }

export type LocalDamage = 'torn-tail' | 'record' | 'checkpoint';

/** What the copy holds, as a load would find it (for the checkers): its history, seq and configuration. */
export interface CopyContent { history: History; seq: number; config: ClusterConfig }

export class SimLocalDb implements Pick<LocalDb, keyof LocalDb> {
  readonly dir: string;
  logBytes = 0;
  checkpointBytes = 0;
  private checkpoint: { seq: number; term: number; config: string; damaged: boolean } | null = null;
  private log: Frame[] = [];
  /** An append cut by a crash: bytes after the last whole frame. */
  private tornTail = false;
  private state: LocalState = { history: genesisHistory, floor: { term: 0, epoch: 0 } };
  /** Grows with every change: the checkers look again only when it moved. */
  version = 0;

  constructor(machine: string) {
    this.dir = `sim:${machine}/db`;
  }

  readState(): LocalState {
    return { history: this.state.history, floor: { ...this.state.floor } };
  }

  setHistory(history: History): Result<void> {
    this.state = { ...this.state, history: JSON.parse(JSON.stringify(history)) as History };
    this.version++;
    return ok(undefined);
  }

  noteFloor(term: number, epoch: number): Result<void> {
    const f = this.state.floor;
    if (term <= f.term && epoch <= f.epoch) return ok(undefined);
    this.state = { ...this.state, floor: { term: Math.max(term, f.term), epoch: Math.max(epoch, f.epoch) } };
    this.version++;
    return ok(undefined);
  }

  load(): LocalLoad {
    const notes: LocalLoad['notes'] = [];
    const cp = this.checkpoint;
    if (!cp) return { copy: null, notes };
    if (cp.damaged) {
      notes.push({ event: 'LOCAL_COPY_DAMAGED', level: 'warning', message: `the local checkpoint ${this.dir}/checkpoint is damaged (checksum): ignoring this node's copy and loading from the quorum store` });
      return { copy: null, notes };
    }
    const fold = this.fold();
    if (fold.damagedAt !== null) {
      this.log = this.log.slice(0, fold.damagedAt);
      this.version++;
      notes.push({ event: 'LOCAL_COPY_DAMAGED', level: 'warning', message: `the local log ${this.dir}/quolog is damaged (checksum): keeping the intact records before it, this copy reaches seq ${fold.seq}` });
    } else if (this.tornTail) {
      notes.push({ event: 'LOCAL_LOG_TORN_TAIL', level: 'warning', message: `cut a torn tail from ${this.dir}/quolog (an append interrupted by a crash); the records before it are intact` });
    }
    this.tornTail = false;
    if (fold.refused !== null) notes.push({ event: 'LOCAL_COPY_DAMAGED', level: 'warning', message: fold.refused });
    this.logBytes = this.bytesOf(this.log);
    this.checkpointBytes = cp.config.length;
    return { copy: { seq: fold.seq, term: fold.term, config: fold.config, logBytes: this.logBytes }, notes };
  }

  append(records: LogRecord[]): Result<void> {
    if (records.length === 0) return ok(undefined);
    // An append lands after whatever is in the file: a torn tail left by a crash is cut at the next load only.
    for (const r of records) this.log.push({ seq: r.seq, term: r.term, payload: JSON.stringify(r.update), damaged: false });
    this.logBytes += this.bytesOf(this.log.slice(-records.length));
    this.version++;
    return ok(undefined);
  }

  writeCheckpoint(seq: number, term: number, config: ClusterConfig): Result<void> {
    this.checkpoint = { seq, term, config: JSON.stringify(config), damaged: false };
    this.checkpointBytes = this.checkpoint.config.length;
    this.log = [];
    this.tornTail = false;
    this.logBytes = 0;
    this.version++;
    return ok(undefined);
  }

  close(): void {}

  // ---- the simulator's side ----

  /** Damage the copy: a torn tail, a damaged record (one of the log's, never the checkpoint), or the checkpoint. False if there is nothing to damage. */
  damage(kind: LocalDamage, pick: (n: number) => number): boolean {
    if (!this.checkpoint) return false;
    if (kind === 'checkpoint') this.checkpoint.damaged = true;
    else if (kind === 'torn-tail') this.tornTail = true;
    else {
      if (this.log.length === 0) return false;
      this.log[pick(this.log.length)]!.damaged = true;
    }
    this.version++;
    return true;
  }

  /** The operator moves the copy aside (as HISTORY_DIVERGED's hint says): the node starts with none, floor 0. */
  moveAside(): void {
    this.checkpoint = null;
    this.log = [];
    this.tornTail = false;
    this.logBytes = 0;
    this.state = { history: genesisHistory, floor: { term: 0, epoch: 0 } };
    this.version++;
  }

  /** What a load would find now, without cutting anything; null without a usable checkpoint. */
  content(): CopyContent | null {
    if (!this.checkpoint || this.checkpoint.damaged) return null;
    const f = this.fold();
    return { history: this.state.history, seq: f.seq, config: f.config };
  }

  /** The seq a load would reach (-1: no usable copy). */
  get seq(): number {
    return this.content()?.seq ?? -1;
  }

  private fold(): { seq: number; term: number; config: ClusterConfig; damagedAt: number | null; refused: string | null } {
    const cp = this.checkpoint!;
    const draft = new ConfigDraft(JSON.parse(cp.config) as ClusterConfig);
    let seq = cp.seq;
    let term = cp.term;
    let refused: string | null = null;
    // As LocalDb: apply in order until a gap or a record that does not apply; damage anywhere cuts the log there.
    let applying = true;
    for (let i = 0; i < this.log.length; i++) {
      const f = this.log[i]!;
      if (f.damaged) return { seq, term, config: draft.config, damagedAt: i, refused };
      if (!applying || f.seq <= seq) continue;
      if (f.seq !== seq + 1) { applying = false; continue; }
      const next = draft.apply(JSON.parse(f.payload) as ConfigUpdate);
      if (!next.ok) { refused = `local log record ${f.seq} does not apply (${next.error.message}): using the copy up to seq ${seq}`; applying = false; continue; }
      seq = f.seq;
      term = f.term;
    }
    return { seq, term, config: draft.config, damagedAt: null, refused };
  }

  private bytesOf(frames: Frame[]): number {
    return frames.reduce((n, f) => n + headerBytes + f.payload.length, 0);
  }
}
