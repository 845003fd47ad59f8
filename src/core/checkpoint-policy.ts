// When the coordinator checkpoints the cluster database (WSFC's triggers): the shell keeps the
// counters and asks; these functions decide. A checkpoint restarts the quorum log after it, so a
// node that was away loads one checkpoint instead of replaying a long log.
//
// The log's trigger is its reset size or the size of the last checkpoint, whichever is larger. A
// checkpoint rewrites the whole configuration: with a fixed 64 KiB, a configuration of 20,000
// groups (5 MB of text) was rewritten for every 64 KiB of changes, 80 bytes written per byte
// logged, and a burst of changes cost time proportional to their number times the
// configuration's size. Against the last checkpoint's size, writing checkpoints costs at most one
// byte per byte logged, and a node that replays the log reads at most twice the checkpoint.

import type { NodeName } from './types.js';

export interface Checkpointing {
  /** Checkpoint when the log since the last one reaches this many bytes, or the last checkpoint's size if larger (WSFC: 64 KiB). */
  logResetBytes: number;
  /** Checkpoint at least this often (WSFC: 4 h). */
  checkpointIntervalMs: number;
}

export const checkpointingDefaults: Readonly<Checkpointing> = Object.freeze({ logResetBytes: 64 * 1024, checkpointIntervalMs: 4 * 3_600_000 });

/**
 * How often the coordinator reads the quorum store back and checks it (node/store-check.ts): each
 * log record after the checkpoint every time, the checkpoint itself once a minute. A record
 * damaged on disk is otherwise found only by a node that reads it: one that starts, and then
 * cannot start (KB257905: a corrupt quorum log stopped the service), while the running
 * coordinator, which holds the configuration whole, never looks and never repairs it. Why 10 s: a
 * node restarted after a damage waits that long at most for the repair; the log is at most the
 * checkpoint's size or 64 KiB (logLimitBytes), so reading it back costs little.
 */
export const storeCheckEveryMs = 10_000;

/** What the coordinator knows at the end of its cycle's placement work. */
export interface CheckpointFacts {
  nowMs: number;
  lastCheckpointMs: number;
  logBytesSinceCheckpoint: number;
  /** Bytes of the last checkpoint's configuration text (0: none taken by this node yet). */
  lastCheckpointBytes: number;
  /** Nodes whose clusterd stopped on purpose since the previous cycle. */
  newlyStopped: NodeName[];
  /** A node reported that it cannot read the quorum log past some seq. */
  damagedLogReported: boolean;
  /** What the coordinator's own read-back of the store found damaged (node/store-check.ts), or null. */
  damageFound: string | null;
}

/** Checkpoint now, and why; `repair` when it rewrites a damaged log (a node reported it, or the coordinator found it). */
export interface CheckpointDue {
  reason: string;
  repair: boolean;
}

/** The cycle's triggers, first match wins: damage the coordinator found, log size, interval, a node that stopped, a damaged log reported. */
export function checkpointDue(f: CheckpointFacts, c: Checkpointing): CheckpointDue | null {
  if (f.damageFound !== null) return { reason: `the coordinator's check of the quorum store found damage (${f.damageFound}): rewriting it from the coordinator's current copy`, repair: true };
  if (f.logBytesSinceCheckpoint >= logLimitBytes(f.lastCheckpointBytes, c)) return { reason: logLimitText(f.lastCheckpointBytes, c), repair: false };
  if (f.nowMs - f.lastCheckpointMs >= c.checkpointIntervalMs) return { reason: `checkpoint interval of ${c.checkpointIntervalMs} ms`, repair: false };
  if (f.newlyStopped.length > 0) return { reason: `clusterd stopped on ${f.newlyStopped.join(', ')}`, repair: false };
  if (f.damagedLogReported) return { reason: 'a node reported a damaged quorum log: rewriting it from the coordinator\'s current copy', repair: true };
  return null;
}

/** How long the log may grow after a checkpoint of `checkpointBytes`: the reset size, or the checkpoint's own size if larger. */
export function logLimitBytes(checkpointBytes: number, c: Checkpointing): number {
  return Math.max(c.logResetBytes, checkpointBytes);
}

function logLimitText(checkpointBytes: number, c: Checkpointing): string {
  return checkpointBytes > c.logResetBytes
    ? `the log passed the size of the last checkpoint (${checkpointBytes} bytes, above the reset size of ${c.logResetBytes})`
    : `the log passed its reset size of ${c.logResetBytes} bytes`;
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

/** This node's own copy is rewritten as a checkpoint instead of appended to once its log passes the same limit (logLimitBytes). */
export function localCopyDue(localLogBytes: number, checkpointBytes: number, c: Checkpointing): boolean {
  return localLogBytes >= logLimitBytes(checkpointBytes, c);
}
