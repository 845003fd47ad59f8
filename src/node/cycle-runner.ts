// When cycles run: at most one at a time, a kick during one runs another after it, and a burst of
// kicks shares one cycle. What a cycle does is node.ts's cycle().
//
// Kicked without pause (agent results and the other nodes' writes stream in while a node starts
// a thousand resources), cycles would run back to back and keep the decision loop, which runs at
// a raised priority, busy all the time: the resource monitor and the processes it spawns, at the
// normal priority on the same cores, would wait behind it. So a cycle starts no sooner after the
// previous one than the time that one kept the loop busy (bounded by restMaxMs): the loop works
// at most about half the time on cycles, each cycle carries the results of a whole rest, and an
// idle node (short cycles, kicks far apart) waits for nothing.
//
// While the monitor starts or stops many resources (at least busyChangesMin calls under way), the
// rest is busyRestRatio times the busy time, bounded by busyRestMaxMs: a cycle's cost is mostly
// passes over every group, so fewer cycles leave the cores to the spawns. Measured with 3 x 1,000
// real resources on one 2-core host (README, bench:scale): clusterd's CPU during the start 31.7 s
// -> 22.5 s, all Online 42.1 s -> 38.8 s, a node's 1,000 Online elsewhere 14.5 s -> 13.3 s. A move
// or a failover of a few groups, and API writes, keep the short rest and their latency (a longer
// rest on every call measured 30-80 ms longer planned-move outages).

import { monitorCallsInFlightMax } from '../core/limits.js';
import type { Clock } from './clock.js';

/** Bound on the rest between two cycles: a cycle longer than this is followed by this rest only. */
export const restMaxMs = 100;
/** Start and stop calls under way from which the monitor counts as busy: as many as it takes at once, past which calls queue in its client. */
export const busyChangesMin = monitorCallsInFlightMax;
/** While the monitor is busy: rest this many times the loop's busy time... */
export const busyRestRatio = 3;
/** ...bounded by this. */
export const busyRestMaxMs = 300;

export interface CycleRunnerDeps {
  clock: Clock;
  /** No cycle starts once the node stopped. */
  stopped: () => boolean;
  cycle: () => Promise<void>;
  /** Start and stop calls at the resource monitor and queued for it now (a longer rest when many, see above). */
  changesUnderWay?: () => number;
  /** The cycle's outcome: undefined when it completed, the thrown value when it failed. */
  settled: (failure: { error: unknown } | undefined) => void;
}

export class CycleRunner {
  private running: Promise<void> | null = null;
  private again = false;
  /** A cycle is scheduled for the next turn of the event loop (kick). */
  private pending = false;
  /** afterNextCycle() callers, released when the next cycle to begin has finished. */
  private waiters: (() => void)[] = [];
  /** When the next cycle may start (clock ms): the end of the last one plus the rest it earned. */
  private restUntilMs = -Infinity;

  constructor(private readonly d: CycleRunnerDeps) {}

  /** Run a cycle now, or right after the one under way. */
  kick(): void {
    if (this.d.stopped()) return;
    if (this.running) { this.again = true; return; }
    if (this.pending) return;
    // On a later turn of the event loop, never now: a burst of kicks (10,000 agent results at
    // start) shares one cycle, and timers (the heartbeat) and I/O run between cycles even when
    // the store answers synchronously (dir), so back-to-back cycles cannot starve a renewal.
    this.pending = true;
    this.d.clock.setTimeout(() => { this.pending = false; this.run(); }, Math.max(0, this.restUntilMs - this.d.clock.nowMs()));
  }

  private run(): void {
    if (this.d.stopped()) return;
    if (this.running) { this.again = true; return; }
    const waiters = this.waiters.splice(0);
    const busyBefore = this.d.clock.loopBusyMs?.();
    this.running = this.d.cycle().then(() => this.d.settled(undefined), (error: unknown) => this.d.settled({ error })).finally(() => {
      // The loop's busy time during the cycle, which includes work of other callers meanwhile
      // (API requests): a loop busy anyway rests as much.
      const busyMs = busyBefore === undefined ? 0 : (this.d.clock.loopBusyMs?.() ?? busyBefore) - busyBefore;
      const spawning = (this.d.changesUnderWay?.() ?? 0) >= busyChangesMin;
      this.restUntilMs = this.d.clock.nowMs() + (spawning ? Math.min(busyMs * busyRestRatio, busyRestMaxMs) : Math.min(busyMs, restMaxMs));
      this.running = null;
      for (const w of waiters) w();
      if (this.again) { this.again = false; this.kick(); }
    });
  }

  /**
   * Resolves once a cycle that began after this call has finished, so its report is published:
   * an operator request answered after it is seen by every node's next read (read-your-writes
   * across nodes). Bounded by `maxMs`.
   */
  afterNextCycle(maxMs: number): Promise<void> {
    return new Promise((resolve) => {
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        cancel();
        resolve();
      };
      const cancel = this.d.clock.setTimeout(finish, maxMs);
      this.waiters.push(finish);
      this.kick();
    });
  }

  /** The cycle under way, if any, has finished. */
  async idle(): Promise<void> {
    if (this.running) await this.running;
  }
}
