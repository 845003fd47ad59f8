// When cycles run: at most one at a time, a kick during one runs another right after it, and a
// burst of kicks shares one cycle. What a cycle does is node.ts's cycle().

import type { Clock } from './clock.js';

export interface CycleRunnerDeps {
  clock: Clock;
  /** No cycle starts once the node stopped. */
  stopped: () => boolean;
  cycle: () => Promise<void>;
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
    this.d.clock.setTimeout(() => { this.pending = false; this.run(); }, 0);
  }

  private run(): void {
    if (this.d.stopped()) return;
    if (this.running) { this.again = true; return; }
    const waiters = this.waiters.splice(0);
    this.running = this.d.cycle().then(() => this.d.settled(undefined), (error: unknown) => this.d.settled({ error })).finally(() => {
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
