// The events this node emits, queued for the cluster's event log in the quorum store. Bounded:
// a store that cannot take them costs a count of drops, never unbounded memory.

import type { ClusterEvent, NewEvent, QuorumStore, StoreResult } from '../store/types.js';
import type { Clock } from './clock.js';

/** Events waiting to be written to the store. Why 1000: a burst of a few hundred resources changing at once fits; beyond that we count drops. */
const eventQueueMax = 1_000;
/** Bound on writing the last events at a planned shutdown: a slow store must not hold the exit (a few store writes). */
const shutdownEventFlushMaxMs = 2_000;

export interface EventQueueDeps {
  store: QuorumStore;
  clock: Clock;
  /** Every store write passes here (a full quorum disk is noted). */
  wrote: <T>(res: StoreResult<T>) => StoreResult<T>;
  sleep: (ms: number) => Promise<void>;
}

export class EventQueue {
  /** Events dropped because the queue was full. */
  dropped = 0;
  private queue: NewEvent[] = [];
  private flushing = false;

  constructor(private readonly d: EventQueueDeps) {}

  /** Queue an event; false (and one more drop counted) when the queue is full. */
  add(e: NewEvent): boolean {
    if (this.queue.length >= eventQueueMax) { this.dropped++; return false; }
    this.queue.push(e);
    return true;
  }

  async flush(): Promise<void> {
    if (this.flushing || this.queue.length === 0) return;
    this.flushing = true;
    const batch = this.queue.splice(0, this.queue.length);
    const res = this.d.wrote(await this.d.store.appendEvents(batch));
    if (!res.ok) {
      // Keep them for the next try, within the bound.
      const room = eventQueueMax - this.queue.length;
      this.dropped += Math.max(0, batch.length - room);
      this.queue.unshift(...batch.slice(0, room));
    }
    this.flushing = false;
  }

  /**
   * Writes every queued event before the heartbeat stops: what this node did last (the resources
   * it stopped or killed) must be on its log. A flush the cycle started may still be under way.
   */
  async flushBeforeStop(): Promise<void> {
    const until = this.d.clock.nowMs() + shutdownEventFlushMaxMs;
    while (this.queue.length > 0 && this.d.clock.nowMs() < until) {
      if (!this.flushing) await this.flush();
      if (this.queue.length > 0) await this.d.sleep(10);
    }
  }

  /** The cluster's events after `afterId`, this node's queued ones written first. */
  async read(afterId: number, limit: number): Promise<ClusterEvent[]> {
    await this.flush();
    return this.d.store.readEvents(afterId, limit);
  }
}
