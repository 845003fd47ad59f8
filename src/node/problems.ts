// Failures that repeat every cycle (a full disk, a refused write, an election that cannot be
// written), logged as conditions: one event when it starts, a line a minute while it lasts, one
// when it ends (core/conditions.ts decides what to log; this class only emits it).

import type { ConditionKey } from '../core/events.js';
import { Conditions } from '../core/conditions.js';
import { ClusterError, clusterError } from '../core/errors.js';
import type { WritesBlocked } from '../core/placement.js';
import type { EventLevel, StoreResult } from '../store/types.js';
import type { Clock } from './clock.js';
import type { EmitEvent } from './options.js';

export type DiskFull = 'QUORUM_DISK_FULL' | 'LOCAL_DISK_FULL';

export class Problems {
  private readonly conditions = new Conditions();

  constructor(private readonly clock: Clock, private readonly emitEvent: EmitEvent) {}

  /** One more occurrence of a failure that can repeat every cycle (core/conditions.ts decides what to log). */
  failing(key: ConditionKey, level: EventLevel, e: ClusterError): void {
    for (const l of this.conditions.occurred(key, e.code, e.message, this.clock.nowMs())) {
      const hint = l.phase === 'started' && e.hint ? ` hint: ${e.hint}` : '';
      this.emitEvent(l.phase === 'ended' ? `${key}_RECOVERED` : key, l.phase === 'ended' ? 'info' : level, l.message + hint, { code: e.code, count: l.count, forMs: Math.round(l.forMs) });
    }
  }

  recovered(key: ConditionKey, what?: string): void {
    for (const l of this.conditions.cleared(key, this.clock.nowMs(), what)) {
      this.emitEvent(`${key}_RECOVERED`, 'info', l.message, { count: l.count, forMs: Math.round(l.forMs) });
    }
  }

  /**
   * A cycle's outcome, logged as a condition (the same error every 100 ms is one line, its count a
   * minute, one line when cycles complete again). A ClusterError is a known state of the world
   * (the quorum store unreachable while the node is cut off): a warning with its code and message.
   * Anything else is a bug: an error with its stack.
   */
  cycleSettled(failure: { error: unknown } | undefined): void {
    if (!failure) return this.recovered('CYCLE_ERROR', 'cycles complete again');
    const e = failure.error;
    if (e instanceof ClusterError && e.code !== 'INTERNAL') {
      this.failing('CYCLE_ERROR', 'warning', clusterError(e.code, `cycle could not complete: ${e.message}`, e.hint));
      return;
    }
    const detail = e instanceof Error ? e.stack ?? e.message : String(e);
    this.failing('CYCLE_ERROR', 'error', clusterError('INTERNAL', `cycle failed: ${detail}`));
  }

  /** One event when a disk fills up, a line a minute while it stays full, one when space returns: not one per refused write. */
  noteDiskFull(what: DiskFull, e: ClusterError): void {
    this.failing(what, 'error', e);
  }

  noteDiskOk(what: DiskFull): void {
    this.recovered(what, `space is back: ${what === 'LOCAL_DISK_FULL' ? 'the node data directory' : 'the quorum store'} accepts writes again`);
  }

  /** The quorum store's free-space probe: a problem starts or continues QUORUM_DISK_FULL, null ends it, undefined (no probe) says nothing. */
  noteQuorumSpace(problem: ClusterError | null | undefined): void {
    if (problem) this.noteDiskFull('QUORUM_DISK_FULL', problem);
    else if (problem === null) this.noteDiskOk('QUORUM_DISK_FULL');
  }

  /** A write to the quorum store done: a refusal for space starts (or counts toward) QUORUM_DISK_FULL, a success ends it. */
  wrote<T>(res: StoreResult<T>): StoreResult<T> {
    if (res.ok) this.noteDiskOk('QUORUM_DISK_FULL');
    else if (res.error.code === 'QUORUM_DISK_FULL') this.noteDiskFull('QUORUM_DISK_FULL', res.error);
    return res;
  }

  /** Why the quorum store refuses writes now, as this node last saw (its writes and its free-space probe); null if it accepts them. */
  quorumWritesBlocked(): WritesBlocked | null {
    const h = this.conditions.holding('QUORUM_DISK_FULL');
    return h ? { code: h.signature, message: h.message } : null;
  }
}
