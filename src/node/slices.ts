// Long work of the node (a large commit's validation, catching up thousands of log records, the
// text of a large checkpoint) runs in slices: it checks the time as it goes and, once a slice has
// run workSliceMs, lets the event loop run everything else that waits (API answers, monitor
// results, the cycle's timers) before it goes on. Work is never dropped, only spread over turns.

import type { Clock } from './clock.js';

/**
 * Work one slice does before it yields. Why 20 ms: a status answer or a monitor result waits at
 * most about that long behind long work, far below the decision-stall bound and the self-fence
 * deadline; and a slice is long enough that yielding (a timer turn, well under a millisecond)
 * costs a few percent of the work.
 */
export const workSliceMs = 20;

/** A budget of turn time: `due()` says the slice is spent, `yield()` waits one turn and starts a new slice. */
export class TurnBudget {
  private startMs: number;

  constructor(private readonly clock: Clock) {
    this.startMs = clock.nowMs();
  }

  due(): boolean {
    return this.clock.nowMs() - this.startMs >= workSliceMs;
  }

  /** Yield if the slice is spent (a simulated clock never advances within a turn, so the simulator never yields here). */
  async pace(): Promise<void> {
    if (!this.due()) return;
    await new Promise<void>((resolve) => this.clock.setTimeout(resolve, 0));
    this.startMs = this.clock.nowMs();
  }
}

/** Run a computation given as steps, one slice at a time. */
export async function runSliced<T>(clock: Clock, steps: Generator<void, T>): Promise<T> {
  const budget = new TurnBudget(clock);
  for (;;) {
    const s = steps.next();
    if (s.done) return s.value;
    await budget.pace();
  }
}
