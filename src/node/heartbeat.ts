// The heartbeat: lease renewal and the watchdog ping, apart from the decision loop so that no
// work of the decision loop delays them. Its decisions (when to fence, when to stop renewing) are
// core/self-fence.ts's beatDecision; this file carries them out in two ways:
// - WorkerHeartbeat (clusterd): a worker thread (heartbeat-worker.ts) with its own way to the
//   store (store/lease-renewer.ts) and its own channel to the resource monitor (a Unix socket,
//   monitor/protocol.ts), sharing a few numbers with the main thread through shared memory;
// - InlineHeartbeat (the simulator, and stores without a lease renewer): a timer of its own on
//   the node's clock, renewing through the store and pinging through the resource host.
// Both run HeartbeatLoop, and the node sees both as a HeartbeatPort: it reports progress each
// turn of its decision loop, reads the newest renewal time (mayStart), and handles each fence the
// heartbeat made (events, revocation of what it was assigned).

import { Worker } from 'node:worker_threads';
import { applyYoungGeneration } from './heap-flags.js';
import { msText } from '../core/duration-text.js';
import { beatDecision, type BeatState, type FenceCause } from '../core/self-fence.js';
import type { Timing } from '../core/timing.js';
import type { NodeName } from '../core/types.js';
import { monoMs } from '../monitor/protocol.js';
import { etcdRenewEveryBeats } from '../store/etcd-timing.js';
import type { LeaseRenewerOptions, LeaseState, QuorumStore, RenewalView } from '../store/types.js';
import type { Clock } from './clock.js';
import type { ResourceHost } from './resource-host.js';

export type FenceCounts = Record<FenceCause, { count: number; forMs: number }>;

export interface HeartbeatPort {
  /** Starts beating. */
  start(): void;
  /** The decision loop made progress (one turn). */
  progress(): void;
  /** The lease state the next renewals announce. */
  setState(state: 'running' | 'draining'): void;
  /** Newest successful renewal on the node's clock (-Infinity: none yet). */
  lastRenewOkMs(): number;
  /** The longest time between two successive successful renewals since start (0: fewer than two). */
  renewGapMaxMs(): number;
  /** The fences the heartbeat made so far, by cause, and how long the newest one's cause lasted. */
  fences(): FenceCounts;
  /** One last renewal with `state` (a planned stop), then no more beats. */
  stop(state: LeaseState): Promise<void>;
  /**
   * The lease slots and change version the newest renewal read with it (etcd), with when that
   * renewal was sent and answered on the node's clock; null when the store reads none.
   */
  renewalView?(): TimedRenewalView | null;
}

export interface TimedRenewalView extends RenewalView {
  sentMs: number;
  arrivedMs: number;
}

export interface HeartbeatContext {
  name: NodeName;
  incarnation: string;
  timing: Timing;
  store: QuorumStore;
  host: ResourceHost;
  clock: Clock;
}

export type HeartbeatFactory = (ctx: HeartbeatContext) => HeartbeatPort;

const noFences = (): FenceCounts => ({ 'lease-lost': { count: 0, forMs: 0 }, stalled: { count: 0, forMs: 0 }, paused: { count: 0, forMs: 0 } });

/** What one heartbeat does with the outside, in the thread it runs in. */
export interface BeatIo {
  nowMs(): number;
  renew(counter: number, state: LeaseState): Promise<boolean>;
  ping(sentMs: number): void;
  fence(reason: string): void;
  /** The decision loop's newest progress report, on nowMs's clock. */
  lastProgressMs(): number;
  /** The lease state to announce. */
  leaseState(): LeaseState;
  /** A fence was made (for the shared counters). */
  fenced(cause: FenceCause, forMs: number): void;
  /** A renewal succeeded at `atMs` (its beat's time), `gapMs` after the one before (0 for the first). */
  renewed(atMs: number, gapMs: number): void;
}

/** One beat after another: beatDecision, then fence, ping and renew as it says. */
export class HeartbeatLoop {
  private s: BeatState;
  private counter = 0;
  /** Beats since the last renewal was sent, whether the newest answered one succeeded, and the state it announced. */
  private beatsSinceRenew = 0;
  private lastRenewOk = false;
  private lastRenewState: LeaseState | null = null;

  /**
   * `renewEveryBeats`: while renewals succeed and the announced state stays the same, renew only
   * every this many beats (etcd: store/etcd-timing.ts etcdRenewEveryBeats); after a failure, every beat.
   */
  constructor(private readonly io: BeatIo, private readonly timing: Timing, private readonly renewEveryBeats = 1) {
    this.s = { lastBeatMs: -Infinity, lastRenewOkMs: -Infinity, lastProgressMs: io.lastProgressMs(), leaseLostFencedAt: -Infinity, stallFencedAt: -Infinity };
  }

  beat(): void {
    const now = this.io.nowMs();
    const d = beatDecision(now, { ...this.s, lastProgressMs: this.io.lastProgressMs() }, this.timing);
    this.s = d.next;
    if (d.fence !== null) {
      this.io.fenced(d.fence, d.forMs);
      this.io.fence(fenceReason(d.fence, d.forMs, this.timing));
    }
    if (!d.renew) return;
    this.io.ping(now);
    const state = this.io.leaseState();
    if (this.lastRenewOk && state === this.lastRenewState && ++this.beatsSinceRenew < this.renewEveryBeats) return;
    this.beatsSinceRenew = 0;
    this.lastRenewState = state;
    void this.io.renew(++this.counter, state).then((ok) => {
      this.lastRenewOk = ok;
      // A late answer for an older beat never moves the renewal time back.
      if (!ok || now <= this.s.lastRenewOkMs) return;
      const gapMs = Number.isFinite(this.s.lastRenewOkMs) ? now - this.s.lastRenewOkMs : 0;
      this.s.lastRenewOkMs = now;
      this.io.renewed(now, gapMs);
    });
  }

  /** The last renewal of a planned stop. */
  final(state: LeaseState): Promise<boolean> {
    return this.io.renew(++this.counter, state);
  }
}

export function fenceReason(cause: FenceCause, forMs: number, t: Timing): string {
  switch (cause) {
    case 'lease-lost': return `lease not renewed for ${msText(forMs)} (self-fence deadline ${msText(t.selfFenceMs)})`;
    case 'stalled': return `the decision loop made no progress for ${msText(forMs)} (decision-stall bound ${msText(t.decisionStallMs)})`;
    case 'paused': return `clusterd stalled for ${msText(forMs)} (self-fence deadline ${msText(t.selfFenceMs)})`;
  }
}

/** The heartbeat on the node's own clock and store (the simulator's twin of the worker). */
export class InlineHeartbeat implements HeartbeatPort {
  private readonly loop: HeartbeatLoop;
  private progressMs: number;
  private renewOkMs = -Infinity;
  private gapMaxMs = 0;
  private state: 'running' | 'draining' = 'running';
  private readonly counts = noFences();
  private cancel: (() => void) | null = null;

  constructor(private readonly c: HeartbeatContext) {
    this.progressMs = c.clock.nowMs();
    this.loop = new HeartbeatLoop({
      nowMs: () => c.clock.nowMs(),
      renew: async (counter, state) => (await c.store.renewLease(c.name, counter, state)).ok,
      ping: () => c.host.ping(),
      fence: (reason) => c.host.fence(reason),
      lastProgressMs: () => this.progressMs,
      leaseState: () => this.state,
      fenced: (cause, forMs) => { this.counts[cause] = { count: this.counts[cause].count + 1, forMs }; },
      renewed: (atMs, gapMs) => { this.renewOkMs = atMs; this.gapMaxMs = Math.max(this.gapMaxMs, gapMs); },
    }, c.timing);
  }

  start(): void {
    this.loop.beat();
    this.cancel = this.c.clock.setInterval(() => this.loop.beat(), this.c.timing.heartbeatIntervalMs);
  }

  progress(): void { this.progressMs = this.c.clock.nowMs(); }
  setState(state: 'running' | 'draining'): void { this.state = state; }
  lastRenewOkMs(): number { return this.renewOkMs; }
  renewGapMaxMs(): number { return this.gapMaxMs; }
  fences(): FenceCounts { return structuredClone(this.counts); }

  async stop(state: LeaseState): Promise<void> {
    this.cancel?.();
    this.cancel = null;
    await this.loop.final(state);
  }
}

export const inlineHeartbeat: HeartbeatFactory = (c) => new InlineHeartbeat(c);

// ---- the worker thread ----------------------------------------------------------------------

/** Slots of the shared memory between the main thread and the heartbeat thread (BigInt64, times in µs of monoMs). */
export const shared = {
  lastRenewOkUs: 0,
  lastProgressUs: 1,
  /** 0 running, 1 draining. */
  state: 2,
  /** Per cause: count, then forMs. */
  leaseLostCount: 3, leaseLostForMs: 4,
  stalledCount: 5, stalledForMs: 6,
  pausedCount: 7, pausedForMs: 8,
  /** The longest time between two successive successful renewals, µs. */
  renewGapMaxUs: 9,
  size: 10,
} as const;

export const causeSlots: Record<FenceCause, { count: number; forMs: number }> = {
  'lease-lost': { count: shared.leaseLostCount, forMs: shared.leaseLostForMs },
  stalled: { count: shared.stalledCount, forMs: shared.stalledForMs },
  paused: { count: shared.pausedCount, forMs: shared.pausedForMs },
};

export const toUs = (ms: number): bigint => (Number.isFinite(ms) ? BigInt(Math.round(ms * 1000)) : -(2n ** 62n));
export const fromUs = (us: bigint): number => (us <= -(2n ** 62n) ? -Infinity : Number(us) / 1000);

/** What the heartbeat thread is started with (plain data). */
export interface HeartbeatWorkerData {
  timing: Timing;
  renewer: LeaseRenewerOptions;
  /** The monitor's heartbeat channel. */
  socketPath: string;
  memory: SharedArrayBuffer;
}

export type FromHeartbeatWorker = { t: 'stopped' } | { t: 'log'; level: 'info' | 'warning' | 'error'; message: string } | { t: 'failed'; error: string }
  /** A renewal's read (etcd), times on monoMs's clock. */
  | { t: 'view'; view: RenewalView; sentMs: number; arrivedMs: number };
export type ToHeartbeatWorker = { t: 'stop'; state: LeaseState };

/** Bound on the last renewal of a planned stop (the etcd call deadline fits, with margin). */
const stopWaitMs = 2_000;

/** Every how many beats the heartbeat thread renews while renewals succeed: etcd spaces them (etcd-timing.ts), dir renews every beat. */
export function renewEveryBeats(timing: Timing, renewer: LeaseRenewerOptions): number {
  return renewer.kind === 'etcd' ? etcdRenewEveryBeats(timing, renewer.callTimeoutMs) : 1;
}

/** The heartbeat in a worker thread (heartbeat-worker.ts), fed and read through shared memory. */
export class WorkerHeartbeat implements HeartbeatPort {
  private readonly memory = new SharedArrayBuffer(shared.size * 8);
  private readonly mem = new BigInt64Array(this.memory);
  private worker: Worker | null = null;
  private stopping = false;
  /** The newest renewal's read, times on monoMs's clock. */
  private view: { view: RenewalView; sentMs: number; arrivedMs: number } | null = null;
  private readonly renewEveryBeats: number;

  constructor(private readonly c: HeartbeatContext, private readonly o: {
    renewer: LeaseRenewerOptions; socketPath: string;
    log: (level: 'info' | 'warning' | 'error', event: string, message: string) => void;
    /** The heartbeat thread died: nothing renews or pings any more. */
    onFailure: (reason: string) => void;
  }) {
    Atomics.store(this.mem, shared.lastRenewOkUs, toUs(-Infinity));
    this.renewEveryBeats = renewEveryBeats(c.timing, o.renewer);
    this.progress();
  }

  start(): void {
    const data: HeartbeatWorkerData = { timing: this.c.timing, renewer: this.o.renewer, socketPath: this.o.socketPath, memory: this.memory };
    // A small young generation, as clusterd's own (--max-semi-space-size=1): the thread allocates
    // a few objects a beat, and the default semi-spaces would hold megabytes of RSS for nothing.
    const worker = new Worker(new URL('./heartbeat-worker.js', import.meta.url), { workerData: data, resourceLimits: { maxYoungGenerationSizeMb: 2 } });
    // Creating a worker puts V8's flags back to the command line's: clusterd's young generation bound again.
    applyYoungGeneration();
    worker.once('online', applyYoungGeneration);
    this.worker = worker;
    worker.on('message', (msg: FromHeartbeatWorker) => {
      if (msg.t === 'log') this.o.log(msg.level, 'HEARTBEAT', msg.message);
      else if (msg.t === 'failed') this.o.onFailure(msg.error);
      else if (msg.t === 'view' && (this.view === null || msg.sentMs > this.view.sentMs)) this.view = msg;
    });
    worker.on('error', (err) => this.o.onFailure(`heartbeat thread failed: ${err.stack ?? err.message}`));
    worker.on('exit', (code) => { if (!this.stopping) this.o.onFailure(`heartbeat thread exited (code ${code})`); });
  }

  progress(): void { Atomics.store(this.mem, shared.lastProgressUs, toUs(monoMs())); }
  setState(state: 'running' | 'draining'): void { Atomics.store(this.mem, shared.state, state === 'draining' ? 1n : 0n); }

  lastRenewOkMs(): number {
    const at = fromUs(Atomics.load(this.mem, shared.lastRenewOkUs));
    // From the host's monotonic clock to the node's: the same instant, measured as an age.
    return Number.isFinite(at) ? this.c.clock.nowMs() - (monoMs() - at) : -Infinity;
  }

  renewGapMaxMs(): number { return Number(Atomics.load(this.mem, shared.renewGapMaxUs)) / 1000; }
  renewalView(): TimedRenewalView | null {
    const v = this.view;
    // Fresh only while no renewal was due since it was sent (the beats skipped, and the one after).
    if (v === null || monoMs() - v.sentMs > (this.renewEveryBeats + 1) * this.c.timing.heartbeatIntervalMs) return null;
    // From the host's monotonic clock to the node's, as lastRenewOkMs.
    const shift = this.c.clock.nowMs() - monoMs();
    return { ...v.view, sentMs: v.sentMs + shift, arrivedMs: v.arrivedMs + shift };
  }

  fences(): FenceCounts {
    const out = noFences();
    for (const [cause, slot] of Object.entries(causeSlots) as [FenceCause, { count: number; forMs: number }][]) {
      out[cause] = { count: Number(Atomics.load(this.mem, slot.count)), forMs: Number(Atomics.load(this.mem, slot.forMs)) };
    }
    return out;
  }

  async stop(state: LeaseState): Promise<void> {
    const worker = this.worker;
    if (worker === null || this.stopping) return;
    this.stopping = true;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, stopWaitMs);
      worker.on('message', (msg: FromHeartbeatWorker) => { if (msg.t === 'stopped') { clearTimeout(timer); resolve(); } });
      worker.postMessage({ t: 'stop', state } satisfies ToHeartbeatWorker);
    });
    await worker.terminate();
  }
}

/**
 * The heartbeat clusterd runs: in a worker thread when the store can give a lease renewer
 * (dir, etcd), inline otherwise.
 */
export function workerHeartbeat(o: { socketPath: string; log: (level: 'info' | 'warning' | 'error', event: string, message: string) => void; onFailure: (reason: string) => void }): HeartbeatFactory {
  return (c) => {
    const renewer = c.store.leaseRenewerOptions?.(c.name) ?? null;
    return renewer === null ? new InlineHeartbeat(c) : new WorkerHeartbeat(c, { ...o, renewer });
  };
}
