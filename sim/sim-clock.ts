// The simulated clock of one machine, as the Clock interface the node shell takes. Monotonic
// time is the world's time plus the machine's boot offset (it never jumps); wall time is the
// world's time plus an offset that a fault may move forward or back by hours. Timers belong to
// one process: they are held while it is paused and dropped when it dies. Each firing is late by
// a small seeded lag (event-loop latency), more while the machine is loaded.

import type { Clock } from '../src/node/node.js';
import type { SimProc, World } from './world.js';

export class MachineClock {
  /** Monotonic origin: machines booted at different times. */
  readonly monoOffsetMs: number;
  /** Wall clock minus world time; moved by wall-clock jump faults. */
  wallOffsetMs: number;
  /** Extra timer lateness while the machine is loaded (a fault). */
  loadLagMs = 0;

  constructor(private readonly world: World, wallStartMs: number) {
    this.monoOffsetMs = world.rng.range(10_000, 50_000_000);
    this.wallOffsetMs = wallStartMs;
  }

  nowMs(): number {
    return this.world.now + this.monoOffsetMs;
  }

  wallMs(): number {
    return Math.floor(this.world.now + this.wallOffsetMs);
  }

  /** Lateness of one timer firing. */
  lagMs(): number {
    const base = this.world.rng.real(0, 1.5);
    return this.loadLagMs > 0 ? base + this.world.rng.real(0, this.loadLagMs) : base;
  }

  /** The Clock a process on this machine sees (`heartbeat`: the clock of its heartbeat thread, never held behind the main thread's work). */
  forProcess(proc: SimProc, heartbeat = false): Clock {
    const world = this.world;
    const schedule = (fn: () => void, ms: number, repeat: boolean): (() => void) => {
      let cancelled = false;
      let ev = world.schedule(ms + this.lagMs(), proc, 'timer', function fire() {
        if (cancelled) return;
        if (repeat) ev = world.schedule(ms + lagOf(), proc, 'timer', fire, heartbeat);
        fn();
      }, heartbeat);
      const lagOf = () => this.lagMs();
      return () => {
        cancelled = true;
        ev.cancelled = true;
      };
    };
    return {
      nowMs: () => this.nowMs(),
      wallMs: () => this.wallMs(),
      localHour: () => new Date(this.wallMs()).getUTCHours(),
      setInterval: (fn, ms) => schedule(fn, ms, true),
      setTimeout: (fn, ms) => schedule(fn, ms, false),
    };
  }
}
