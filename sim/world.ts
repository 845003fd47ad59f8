// The simulated world: one event queue ordered by simulated time, the simulated processes
// (each clusterd and each resource monitor) whose timers and I/O completions it delivers, and
// the trace. Nothing in a run reads a real clock or a real random source: every callback the
// code under test sees comes out of this queue, one at a time, and the promise continuations it
// triggers run to completion (the microtask queue drains) before the next one. So the order of
// everything is a function of the seed.
//
// A paused process (SIGSTOP, a long GC) keeps its events: they are held and delivered when it
// resumes, expired timers first and I/O after, as Node's event loop does after a stall. A dead
// process's events are dropped.

import { createHash, type Hash } from 'node:crypto';
import { Rng } from './random.js';

export type EventKind = 'timer' | 'io';

export interface SimEvent {
  at: number;
  seq: number;
  proc: SimProc | null;
  kind: EventKind;
  fn: () => void;
  cancelled: boolean;
  /**
   * The heartbeat thread's events (its timer, its renewals' answers): clusterd runs its heartbeat
   * on a thread of its own, so they are never held behind the main thread's work (busyUntil).
   * A pause or a death of the process holds or drops them like any other.
   */
  heartbeat?: boolean;
}

/** A simulated OS process: a clusterd incarnation or its resource monitor. */
export class SimProc {
  state: 'running' | 'paused' | 'dead' = 'running';
  /** Events that came due while paused, in the order they came due. */
  held: SimEvent[] = [];
  /**
   * Work cost: the main thread is busy with synchronous work until this world time (a large
   * answer parsed, a fold, a placement): its events that come due before then wait until then,
   * in their order, as a busy event loop delays its timers and I/O.
   */
  busyUntil = 0;
  constructor(readonly id: string, readonly machine: string, readonly role: 'clusterd' | 'monitor') {}
  get alive(): boolean {
    return this.state !== 'dead';
  }
}

/** Lines of trace kept for a failure report; the hash covers every line. */
const traceTailMax = 400;

export class World {
  readonly rng: Rng;
  now = 0;
  private heap: SimEvent[] = [];
  private seq = 0;
  eventsFired = 0;
  private readonly hash: Hash = createHash('sha256');
  private tail: string[] = [];
  private tailStart = 0;
  traceLines = 0;
  /** Set by a checker: the run stops at the end of the current step. */
  violation: string | null = null;
  /** Called after every delivered event (the checkers). */
  afterStep: () => void = () => undefined;
  /** Every trace line also goes here when set (--trace). */
  echo: ((line: string) => void) | null = null;

  constructor(seed: number) {
    this.rng = new Rng(seed);
  }

  // ---- scheduling ----

  /** Run `fn` at now + delayMs on behalf of `proc` (null: the world itself, never held). */
  schedule(delayMs: number, proc: SimProc | null, kind: EventKind, fn: () => void, heartbeat = false): SimEvent {
    return this.scheduleAt(this.now + Math.max(0, delayMs), proc, kind, fn, heartbeat);
  }

  scheduleAt(at: number, proc: SimProc | null, kind: EventKind, fn: () => void, heartbeat = false): SimEvent {
    const ev: SimEvent = { at: Math.max(at, this.now), seq: this.seq++, proc, kind, fn, cancelled: false };
    if (heartbeat) ev.heartbeat = true;
    this.push(ev);
    return ev;
  }

  /** `proc`'s main thread does `ms` of synchronous work now (after what it is busy with already). */
  work(proc: SimProc, ms: number): void {
    if (ms > 0) proc.busyUntil = Math.max(proc.busyUntil, this.now) + ms;
  }

  pause(proc: SimProc): void {
    if (proc.state === 'running') proc.state = 'paused';
  }

  /** Deliver what came due while paused: expired timers first, then I/O (Node's loop order). */
  resume(proc: SimProc): void {
    if (proc.state !== 'paused') return;
    proc.state = 'running';
    const held = proc.held;
    proc.held = [];
    for (const ev of [...held.filter((e) => e.kind === 'timer'), ...held.filter((e) => e.kind === 'io')]) {
      if (!ev.cancelled) this.scheduleAt(this.now, proc, ev.kind, ev.fn);
    }
  }

  kill(proc: SimProc): void {
    proc.state = 'dead';
    proc.held = [];
  }

  /**
   * Deliver events until `untilMs` (or `stop()` says so, or a violation). After each event the
   * microtask queue drains (setImmediate runs after it), so that every promise continuation the
   * event caused has run before the checkers look and before the next event.
   */
  async run(untilMs: number, stop: () => boolean = () => false): Promise<void> {
    while (this.violation === null && !stop()) {
      const ev = this.heap[0];
      if (ev === undefined || ev.at > untilMs) break;
      this.pop();
      if (ev.cancelled) continue;
      this.now = ev.at;
      const proc = ev.proc;
      if (proc !== null && proc.state === 'dead') continue;
      if (proc !== null && proc.state === 'paused') {
        proc.held.push(ev);
        continue;
      }
      if (proc !== null && !ev.heartbeat && proc.busyUntil > ev.at) {
        // The same event object, later: a cancel of it (a cleared timer) still reaches it.
        ev.at = proc.busyUntil;
        ev.seq = this.seq++;
        this.push(ev);
        continue;
      }
      this.eventsFired++;
      ev.fn();
      await drainMicrotasks(this.eventsFired);
      this.afterStep();
    }
    if (this.violation === null && !stop()) this.now = Math.max(this.now, untilMs);
  }

  // ---- trace ----

  trace(who: string, text: string): void {
    const line = `${(this.now / 1000).toFixed(3).padStart(8)}s ${who.padEnd(9)} ${text}`;
    this.hash.update(line);
    this.hash.update('\n');
    this.traceLines++;
    if (this.tail.length < traceTailMax) this.tail.push(line);
    else {
      this.tail[this.tailStart] = line;
      this.tailStart = (this.tailStart + 1) % traceTailMax;
    }
    this.echo?.(line);
  }

  /** The newest `n` trace lines, oldest first. */
  lastTrace(n: number): string[] {
    const ordered = [...this.tail.slice(this.tailStart), ...this.tail.slice(0, this.tailStart)];
    return ordered.slice(Math.max(0, ordered.length - n));
  }

  /** Hash of every trace line so far, plus the event count: equal for equal runs. */
  traceHash(): string {
    return this.hash.copy().update(`events ${this.eventsFired}`).digest('hex').slice(0, 16);
  }

  fail(what: string): void {
    if (this.violation !== null) return;
    this.violation = what;
    this.trace('CHECK', `VIOLATION ${what}`);
  }

  // ---- binary heap on (at, seq) ----

  private less(x: SimEvent, y: SimEvent): boolean {
    return x.at < y.at || (x.at === y.at && x.seq < y.seq);
  }

  private push(ev: SimEvent): void {
    const h = this.heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}

/**
 * Resolves once every promise continuation queued so far (and every one they queue) has run:
 * Node runs the next-tick queue only when the microtask queue is empty. Nothing under test uses
 * process.nextTick itself, so this is exact. Every `realYieldEvery` events, a real event-loop turn
 * lets the test runner and stdout breathe (it cannot reorder anything: no real I/O feeds the world).
 */
const realYieldEvery = 1_000;
function drainMicrotasks(n: number): Promise<void> {
  if (n % realYieldEvery === 0) return new Promise((resolve) => setImmediate(resolve));
  return new Promise((resolve) => process.nextTick(resolve));
}
