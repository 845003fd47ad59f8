// When the coordinator checkpoints the cluster database (WSFC's triggers): the shell keeps the
// counters and asks; these functions decide. A checkpoint restarts the quorum log after it, so a
// node that was away loads one checkpoint instead of replaying a long log.

import type { NodeName } from './types.js';

export interface Checkpointing {
  /** Checkpoint when the log since the last one reaches this many bytes (WSFC: 64 KiB). */
  logResetBytes: number;
  /** Checkpoint at least this often (WSFC: 4 h). */
  checkpointIntervalMs: number;
}

export const checkpointingDefaults: Readonly<Checkpointing> = Object.freeze({ logResetBytes: 64 * 1024, checkpointIntervalMs: 4 * 3_600_000 });

/** What the coordinator knows at the end of its cycle's placement work. */
export interface CheckpointFacts {
  nowMs: number;
  lastCheckpointMs: number;
  logBytesSinceCheckpoint: number;
  /** Nodes whose clusterd stopped on purpose since the previous cycle. */
  newlyStopped: NodeName[];
  /** A node reported that it cannot read the quorum log past some seq. */
  damagedLogReported: boolean;
}

/** Checkpoint now, and why; `repair` when it rewrites a log a node reported damaged. */
export interface CheckpointDue {
  reason: string;
  repair: boolean;
}

/** The cycle's triggers, first match wins: log reset size, interval, a node that stopped, a damaged log reported. */
export function checkpointDue(f: CheckpointFacts, c: Checkpointing): CheckpointDue | null {
  if (f.logBytesSinceCheckpoint >= c.logResetBytes) return { reason: `the log passed its reset size of ${c.logResetBytes} bytes`, repair: false };
  if (f.nowMs - f.lastCheckpointMs >= c.checkpointIntervalMs) return { reason: `checkpoint interval of ${c.checkpointIntervalMs} ms`, repair: false };
  if (f.newlyStopped.length > 0) return { reason: `clusterd stopped on ${f.newlyStopped.join(', ')}`, repair: false };
  if (f.damagedLogReported) return { reason: 'a node reported a damaged quorum log: rewriting it from the coordinator\'s current copy', repair: true };
  return null;
}

/** A node that won an election checkpoints at once: the first term forms the cluster, a later one takes over. */
export function electionCheckpointReason(previousTerm: number): string {
  return previousTerm === 0 ? 'the cluster formed' : 'a new coordinator took over';
}

/** A coordinator stopping on purpose checkpoints last, so that the next one starts from a short log. */
export function stoppingCheckpointReason(self: NodeName): string {
  return `clusterd stopping on ${self}`;
}

/** The nodes stopped now that were not stopped at the last look (each stop triggers one checkpoint). */
export function newlyStopped(stoppedNow: readonly NodeName[], seen: ReadonlySet<NodeName>): NodeName[] {
  return stoppedNow.filter((n) => !seen.has(n));
}

/** This node's own copy is rewritten as a checkpoint instead of appended to once its log passes the reset size. */
export function localCopyDue(localLogBytes: number, c: Checkpointing): boolean {
  return localLogBytes >= c.logResetBytes;
}
