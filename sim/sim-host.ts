// The resource host's simulated twin: what MonitorClient (in clusterd), the resource monitor
// child process and the process agent do in production, over simulated OS processes.
//
// - `ProcessTable`: every simulated resource process of the whole world, by machine. It is the
//   ground truth the split-brain checker reads: a process is alive from its spawn until it is
//   killed or exits, whatever clusterd believes (a paused clusterd's processes keep running).
// - `SimHost`: clusterd's side (MonitorClient): calls with deadlock detection (timeout + 1 s),
//   the monitor restart with backoff, recycle, fence, planned shutdown. Its timers belong to the
//   clusterd process, so a paused clusterd stops them.
// - `SimMonitor`: the monitor child, a process of its own: the watchdog (stops everything when no
//   ping arrives for selfFenceMs), agent calls with their timeouts, the `process` agent's start,
//   probe, stop-with-grace, kill, and, when its clusterd dies, kill everything and mark the lease
//   fenced. Processes are detached: when the monitor itself dies they survive, and only those
//   whose pids clusterd had heard of are killed (as MonitorClient's killGroups).

import { EventEmitter } from 'node:events';
import type { ResourceHost } from '../src/node/node.js';
import type { AgentOp, ResourceSpec } from '../src/monitor/protocol.js';
import type { SimDisk, StoreLink } from './sim-store.js';
import type { MachineClock } from './sim-clock.js';
import { SimProc, type World } from './world.js';
import type { Patches } from './patches.js';
import { ChangeCount, decisionsWith, supervision, type DecisionFlaws, type Decisions } from '../src/monitor/decisions.js';

// The production bounds this twin follows (src/monitor/decisions.ts), and its own for what it does not model.
const { deadlockSlackMs, readyTimeoutMs, shutdownWaitMs } = supervision;
const pendingCallsMax = 1_024;
const agentOverrunMs = 250;
const probeRetryMs = 25;
const groupPollMs = 20;
const groupPollMaxMs = 200;

/** How one application behaves; faults change it for a while. */
export interface Behaviour {
  /** The probe passes this long after the spawn. */
  startupMs: number;
  /** The process exits at once after its spawn (a broken binary, a missing file). */
  failStart: boolean;
  /** The probe never passes (a service that hangs while starting). */
  hangStart: boolean;
  /** SIGTERM is ignored: only the SIGKILL after the stop grace ends it. */
  hangStop: boolean;
  /** Every process started crashes after this long (flapping). */
  crashAfterMs: number | null;
  /** IsAlive's probe fails while the process lives (a hung service). */
  probeFails: boolean;
  /** Extra time before the spawn (a slow NSS lookup of the run-as user, up to id's 5 s timeout). */
  spawnDelayMs: number;
}

export function normalBehaviour(startupMs: number): Behaviour {
  return { startupMs, failStart: false, hangStart: false, hangStop: false, crashAfterMs: null, probeFails: false, spawnDelayMs: 0 };
}

export interface SimProcess {
  pid: number;
  machine: string;
  resource: string;
  group: string;
  epoch: number;
  alive: boolean;
  spawnedAtMs: number;
  ignoresTerm: boolean;
  /** Frozen by a backup (SIGSTOP): since when (world time), for which backup. */
  frozen: { backup: string; sinceMs: number } | null;
  /** Who hears about the exit (the monitor that spawned it, while it lives). */
  onExit: ((code: number | null, signal: string | null) => void) | null;
}

export class ProcessTable {
  readonly procs = new Map<number, SimProcess>();
  private nextPid = 1000;
  /** The checker's hook: a process is about to run. */
  onSpawn: (p: SimProcess) => void = () => undefined;

  constructor(private readonly world: World) {}

  spawn(machine: string, spec: ResourceSpec, behaviour: Behaviour, onExit: SimProcess['onExit']): SimProcess {
    const p: SimProcess = {
      pid: this.nextPid++, machine, resource: spec.name, group: spec.group, epoch: spec.epoch, alive: true,
      spawnedAtMs: this.world.now, ignoresTerm: behaviour.hangStop, frozen: null, onExit,
    };
    this.procs.set(p.pid, p);
    this.world.trace(machine, `spawn ${spec.name} (group ${spec.group}, epoch ${spec.epoch}) pid ${p.pid}`);
    this.onSpawn(p);
    if (behaviour.failStart) this.world.schedule(this.world.rng.real(1, 20), null, 'io', () => this.exit(p, 1, null, 'failed at start'));
    else if (behaviour.crashAfterMs !== null) this.world.schedule(behaviour.crashAfterMs, null, 'io', () => this.exit(p, 1, null, 'crashed (flapping)'));
    return p;
  }

  /** The process ends now; its monitor hears of it through its own event loop. */
  exit(p: SimProcess, code: number | null, signal: string | null, why: string): void {
    if (!p.alive) return;
    p.alive = false;
    this.procs.delete(p.pid);
    this.world.trace(p.machine, `exit ${p.resource} pid ${p.pid}: ${why}`);
    p.onExit?.(code, signal);
  }

  sigkill(pid: number, why: string): void {
    const p = this.procs.get(pid);
    if (p) this.exit(p, null, 'SIGKILL', why);
  }

  sigterm(p: SimProcess): void {
    if (!p.alive || p.ignoresTerm) return;
    this.world.schedule(this.world.rng.real(1, 30), null, 'io', () => this.exit(p, null, 'SIGTERM', 'stopped (SIGTERM)'));
  }

  onMachine(machine: string): SimProcess[] {
    return [...this.procs.values()].filter((p) => p.machine === machine);
  }

  /** Machines where `group` has a live process. */
  machinesOf(group: string): Set<string> {
    const out = new Set<string>();
    for (const p of this.procs.values()) if (p.group === group) out.add(p.machine);
    return out;
  }
}

/** Application behaviours by resource name (and optionally machine), shared by every host. */
export class Apps {
  private readonly base = new Map<string, Behaviour>();
  private readonly overrides = new Map<string, Behaviour>();
  constructor(private readonly world: World) {}

  behaviour(resource: string, machine: string): Behaviour {
    const o = this.overrides.get(`${resource}@${machine}`) ?? this.overrides.get(resource);
    if (o) return o;
    let b = this.base.get(resource);
    if (!b) {
      b = normalBehaviour(this.world.rng.range(5, 200));
      this.base.set(resource, b);
    }
    return b;
  }

  override(resource: string, machine: string | null, change: Partial<Behaviour>): void {
    const key = machine ? `${resource}@${machine}` : resource;
    this.overrides.set(key, { ...this.behaviour(resource, machine ?? ''), ...change });
  }

  clearOverrides(): void {
    this.overrides.clear();
  }
}

/**
 * Deliberate protocol breaks, for the teeth tests only: the flaw switches of the real decisions
 * (src/monitor/decisions.ts DecisionFlaws), which this twin decides through (decisionsWith).
 */
export type HostFlaws = DecisionFlaws;

/** What a host needs from the machine it runs on. */
export interface MachineEnv {
  name: string;
  clock: MachineClock;
  procs: ProcessTable;
  apps: Apps;
  disk: SimDisk;
  link: StoreLink;
}

interface AbortCtx { aborted: boolean; wake: Set<() => void> }

interface Running {
  name: string;
  p: SimProcess;
  stopping: boolean;
  onlineWaiters: number;
  exited: boolean;
  readyAtMs: number;
}

type CallResult = { ok: true; data?: { alive?: boolean; pid?: number } } | { ok: false; error: string; deadlock?: boolean };

/** The resource monitor child process. */
class SimMonitor {
  readonly proc: SimProc;
  private readonly running = new Map<string, Running>();
  /** Freezes under way, by resource: a thaw, a stop or a fence cancels them. */
  private readonly freezing = new Map<string, { cancelled: boolean; backup: string }>();
  private readonly starting = new Map<string, Promise<Running>>();
  private fences = 0;
  /** As monitor.ts: after a fence, online calls are refused until clusterd acknowledges it. */
  private refuseOnline = false;
  /** When fork + Node start-up are done and the monitor reads its IPC channel (init first). */
  bootedAtMs = 0;
  /** Delivery times of the last message each way: the IPC channel is FIFO. */
  lastInAtMs = 0;
  lastOutAtMs = 0;
  private watchdog: { cancelled: boolean } | null = null;
  /** World time of the newest ping (or of init): the watchdog's verdict judges its age. */
  private lastPingAtMs = 0;
  exitWaiters: (() => void)[] = [];

  constructor(private readonly host: SimHost, id: string) {
    this.proc = new SimProc(id, host.env.name, 'monitor');
  }

  private get world(): World { return this.host.world; }

  /** A timer of the monitor process. */
  timer(ms: number, fn: () => void): { cancelled: boolean } {
    const ev = this.world.schedule(ms + this.host.env.clock.lagMs(), this.proc, 'timer', fn);
    return ev;
  }

  private sleep(ms: number, ctx?: AbortCtx): Promise<void> {
    return new Promise((resolve) => {
      if (ctx?.aborted) { resolve(); return; }
      const t = this.timer(ms, () => { ctx?.wake.delete(wake); resolve(); });
      const wake = () => { t.cancelled = true; resolve(); };
      ctx?.wake.add(wake);
    });
  }

  /** To clusterd, over IPC. */
  private send(fn: () => void): void {
    this.host.fromMonitor(this, fn);
  }

  private sendPids(resource: string, pids: number[]): void {
    this.host.fromMonitor(this, () => this.host.onPids(resource, pids), () => {
      // A lost monitor's last words: a group it reported late must not survive it either.
      for (const pid of pids) this.host.env.procs.sigkill(pid, 'reported by a lost monitor');
    });
  }

  onInit(selfFenceMs: number): void {
    this.armWatchdog(selfFenceMs);
    this.send(() => this.host.onReady(this));
  }

  onPing(selfFenceMs: number): void {
    this.armWatchdog(selfFenceMs);
  }

  private armWatchdog(selfFenceMs: number, delayMs = selfFenceMs): void {
    if (this.watchdog) this.watchdog.cancelled = true;
    this.watchdog = this.timer(delayMs, () => {
      this.watchdog = null;
      const verdict = this.host.decisions.watchdog(this.world.now - this.lastPingAtMs, selfFenceMs);
      if (!verdict.fence) { this.armWatchdog(selfFenceMs, verdict.rearmMs); return; }
      this.fence(`node '${this.host.env.name}': no ping from clusterd for ${selfFenceMs} ms (self-fence deadline)`);
    });
  }

  fence(reason: string): void {
    const killed = this.killAll(`fence: ${reason}`);
    this.refuseOnline = true;
    this.send(() => this.host.onFenced(reason, killed));
  }

  /** 'unfence': clusterd has applied the fence; calls sent from now on were decided after it. */
  onUnfence(): void {
    this.refuseOnline = false;
  }

  onCall(id: number, op: AgentOp, spec: ResourceSpec, timeoutMs: number): void {
    const ctx: AbortCtx = { aborted: false, wake: new Set() };
    let answered = false;
    const abortTimer = this.timer(timeoutMs, () => { ctx.aborted = true; for (const w of [...ctx.wake]) w(); });
    const answer = (r: CallResult) => {
      if (answered) return;
      answered = true;
      abortTimer.cancelled = true;
      overrun.cancelled = true;
      this.send(() => this.host.settle(id, r));
    };
    const overrun = this.timer(timeoutMs + agentOverrunMs, () => answer({ ok: false, error: `${op} of resource '${spec.name}' did not finish within ${timeoutMs} ms` }));
    this.runOp(op, spec, ctx).then(
      (data) => answer(data === undefined ? { ok: true } : { ok: true, data }),
      (err: unknown) => answer({ ok: false, error: err instanceof Error ? err.message : String(err) }),
    );
  }

  private async runOp(op: AgentOp, spec: ResourceSpec, ctx: AbortCtx): Promise<{ alive?: boolean; pid?: number } | undefined> {
    if (spec.type !== 'process') throw new Error(`resource type '${spec.type}' is not supported yet`);
    if (op === 'online' && this.host.decisions.refuseOnline(this.refuseOnline)) {
      throw new Error(`online of resource '${spec.name}' refused: the monitor fenced and clusterd has not acknowledged it yet`);
    }
    switch (op) {
      case 'online': return this.online(spec, ctx);
      case 'offline': await this.offline(spec, ctx); return undefined;
      case 'terminate': await this.terminate(spec, ctx); return undefined;
      case 'looksAlive': {
        const st = this.running.get(spec.name);
        return { alive: st !== undefined && !st.exited };
      }
      case 'isAlive': {
        const st = this.running.get(spec.name);
        const alive = st !== undefined && !st.exited && !this.host.env.apps.behaviour(spec.name, this.host.env.name).probeFails;
        return { alive };
      }
      case 'freeze': await this.freeze(spec, ctx); return undefined;
      case 'thaw': this.thaw(spec.name, `thaw (backup ${spec.backup?.id ?? '?'})`, spec.backup?.id); return undefined;
    }
  }

  /**
   * As monitor/freezer.ts with freezeSignal SIGSTOP: the process stops writing until thawed. Now
   * and then slow (a loaded host). A thaw, a stop or a fence that comes while it is under way
   * cancels it, as the real freezer's abort does.
   */
  private async freeze(spec: ResourceSpec, ctx: AbortCtx): Promise<void> {
    const token = { cancelled: false, backup: spec.backup?.id ?? '?' };
    const before = this.freezing.get(spec.name);
    if (before) before.cancelled = true;
    this.freezing.set(spec.name, token);
    try {
      await this.starting.get(spec.name)?.catch(() => undefined);
      const st = this.running.get(spec.name);
      if (st === undefined || st.exited || st.stopping) throw new Error(`resource '${spec.name}' is not running: nothing to freeze`);
      await this.sleep(this.world.rng.chance(0.1) ? this.world.rng.real(50, 3_000) : this.world.rng.real(0.2, 5), ctx);
      if (token.cancelled) throw new Error(`freeze of resource '${spec.name}' was cancelled (a thaw or a stop came first)`);
      if (ctx.aborted) throw new Error(`freeze of resource '${spec.name}' did not finish in time`);
      if (st.exited || st.stopping) throw new Error(`resource '${spec.name}' stopped while it was being frozen`);
      st.p.frozen = { backup: spec.backup?.id ?? '?', sinceMs: this.world.now };
      this.world.trace(this.host.env.name, `freeze ${spec.name} pid ${st.p.pid} (backup ${st.p.frozen.backup})`);
    } finally {
      if (this.freezing.get(spec.name) === token) this.freezing.delete(spec.name);
    }
  }

  /** SIGCONT, after cancelling a freeze under way. The real monitor thaws before any stop, fence or exit too (its freezer's beforeKillAll). */
  private thaw(name: string, why: string, backup?: string): void {
    const under = this.freezing.get(name);
    if (under && this.host.decisions.thawAbortsFreeze(under.backup, backup)) under.cancelled = true;
    const st = this.running.get(name);
    if (st === undefined || st.p.frozen === null) return;
    st.p.frozen = null;
    this.world.trace(this.host.env.name, `${why}: ${name} pid ${st.p.pid} runs again`);
  }

  private async online(spec: ResourceSpec, ctx: AbortCtx): Promise<{ pid?: number }> {
    let st = this.running.get(spec.name);
    if (st?.stopping) throw new Error(`resource '${spec.name}' is being stopped; bring it online after the stop finished`);
    if (st === undefined || st.exited) st = await this.startOnce(spec);
    st.onlineWaiters += 1;
    try {
      await this.waitUp(st, ctx);
    } finally {
      st.onlineWaiters -= 1;
    }
    return { pid: st.p.pid };
  }

  private startOnce(spec: ResourceSpec): Promise<Running> {
    let pending = this.starting.get(spec.name);
    if (pending === undefined) {
      pending = this.start(spec).finally(() => this.starting.delete(spec.name));
      this.starting.set(spec.name, pending);
    }
    return pending;
  }

  private async start(spec: ResourceSpec): Promise<Running> {
    const fences = this.fences;
    const env = this.host.env;
    const b = env.apps.behaviour(spec.name, env.name);
    // resolveUser and openLog: a few ms; now and then a slow NSS lookup (id's timeout is 5 s).
    const nss = this.world.rng.chance(0.03) ? this.world.rng.real(100, 2_000) : 0;
    await this.sleep(this.world.rng.real(0.2, 3) + nss + b.spawnDelayMs);
    if (this.host.decisions.straddlesFence(fences, this.fences)) {
      throw new Error(`resource '${spec.name}': every resource was stopped (fenced) while it was starting`);
    }
    const st: Running = { name: spec.name, p: undefined as unknown as SimProcess, stopping: false, onlineWaiters: 0, exited: false, readyAtMs: this.world.now + b.startupMs };
    st.p = env.procs.spawn(env.name, spec, b, () => {
      // SIGCHLD reaches the monitor through its own event loop.
      this.world.schedule(this.world.rng.real(0.05, 0.5), this.proc, 'io', () => this.onChildExit(st));
    });
    this.running.set(spec.name, st);
    this.sendPids(spec.name, [st.p.pid]);
    return st;
  }

  private onChildExit(st: Running): void {
    st.exited = true;
    if (st.stopping) return;
    this.forget(st);
    if (st.onlineWaiters === 0) this.send(() => this.host.emit('exited', st.name, 1, null));
  }

  private async waitUp(st: Running, ctx: AbortCtx): Promise<void> {
    for (;;) {
      if (st.exited) throw new Error(`resource '${st.name}' exited before its probe passed`);
      if (st.stopping) throw new Error(`resource '${st.name}' was stopped before its probe passed`);
      if (ctx.aborted) throw new Error(`resource '${st.name}': probe did not pass before the online timeout`);
      const b = this.host.env.apps.behaviour(st.name, this.host.env.name);
      if (!b.hangStart && this.world.now >= st.readyAtMs) return;
      await this.sleep(probeRetryMs, ctx);
    }
  }

  private async offline(spec: ResourceSpec, ctx: AbortCtx): Promise<void> {
    await this.starting.get(spec.name)?.catch(() => undefined);
    const st = this.running.get(spec.name);
    if (st === undefined) return;
    this.thaw(spec.name, 'thaw before stop');
    st.stopping = true;
    this.host.env.procs.sigterm(st.p);
    if (!(await this.waitGone(st, spec.props.stopGraceMs, ctx))) await this.kill(st, ctx);
    this.forget(st);
  }

  private async terminate(spec: ResourceSpec, ctx: AbortCtx): Promise<void> {
    await this.starting.get(spec.name)?.catch(() => undefined);
    const st = this.running.get(spec.name);
    if (st === undefined) return;
    this.thaw(spec.name, 'thaw before stop');
    st.stopping = true;
    await this.kill(st, ctx);
    this.forget(st);
  }

  private async kill(st: Running, ctx: AbortCtx): Promise<void> {
    this.host.env.procs.sigkill(st.p.pid, `SIGKILL (stop of ${st.name})`);
    if (!(await this.waitGone(st, Infinity, ctx))) {
      throw new Error(`resource '${st.name}': process ${st.p.pid} was sent SIGKILL but had not exited when the call timed out`);
    }
  }

  private async waitGone(st: Running, waitMs: number, ctx: AbortCtx): Promise<boolean> {
    const deadline = this.world.now + waitMs;
    let pollMs = groupPollMs;
    for (;;) {
      if (st.exited) return true;
      if (ctx.aborted || this.world.now >= deadline) return false;
      await this.sleep(Math.min(pollMs, Math.max(0, deadline - this.world.now)), ctx);
      pollMs = Math.min(pollMs * 2, groupPollMaxMs);
    }
  }

  killAll(why: string): string[] {
    this.fences += 1;
    const names = [...this.running.keys()];
    for (const st of this.running.values()) {
      this.thaw(st.name, 'thaw before kill-all');
      st.stopping = true;
      this.host.env.procs.sigkill(st.p.pid, why);
    }
    for (const st of [...this.running.values()]) this.forget(st);
    return names;
  }

  private forget(st: Running): void {
    if (this.running.get(st.name) !== st) return;
    this.running.delete(st.name);
    this.sendPids(st.name, []);
  }

  /** Planned exit: kill leftovers, then exit. */
  onShutdown(): void {
    this.killAll('monitor shutdown');
    this.exit();
  }

  /** clusterd died: kill everything, mark the lease fenced, exit. */
  onDisconnect(incarnation: string): void {
    const killed = this.killAll('clusterd died');
    if (this.watchdog) this.watchdog.cancelled = true;
    const env = this.host.env;
    const marked = !env.link.down && env.disk.markFenced(env.name, incarnation);
    this.world.trace(env.name, `monitor: clusterd is gone: killed ${killed.length} resource(s); lease ${marked ? 'marked fenced' : 'not marked'}`);
    this.exit();
  }

  exit(): void {
    if (!this.proc.alive) return;
    this.world.kill(this.proc);
    this.host.monitorExited(this);
  }
}

export interface SimHostOptions {
  selfFenceMs: number;
  /** clusterd's incarnation, for the fenced mark on its death. */
  incarnation: () => string;
  flaws: HostFlaws;
  /** The fixes proposed for open bugs (sim/patches.ts) that this twin applies (none open now; 2, 3 and 5 were fixed here and in monitor/client.ts). */
  patches: Patches;
}

/** clusterd's side of the resource monitor (MonitorClient), over a simulated monitor. */
export class SimHost extends EventEmitter implements ResourceHost {
  private child: SimMonitor | undefined;
  private ready = false;
  private everReady = false;
  private stopping = false;
  private startedAtMs = 0;
  private crashes = 0;
  private restartTimer: { cancelled: boolean } | undefined;
  private readyWaiter: ((err?: Error) => void) | undefined;
  private nextId = 1;
  private launches = 0;
  private readonly pending = new Map<number, { resolve: (r: CallResult) => void; timer: { cancelled: boolean } }>();
  private readonly pgids = new Map<string, number[]>();
  /** As client.ts: calls waiting for a restarting monitor. */
  private readonly waiting = new Set<{ go: () => void; fail: (error: string) => void }>();
  /** The real monitor's and client's decisions (src/monitor/decisions.ts), with a tooth's flaw switch on if any. */
  readonly decisions: Decisions;
  readonly patches: Patches;
  /** A fence was asked for and not confirmed yet. */
  private fencePending = false;
  /** A fence was asked for and has had no answer yet (the liveness check: every fence gets one). */
  get fenceUnanswered(): boolean { return this.fencePending; }
  /** Fault injection (scenario.ts `fence-loss`): what happens to the monitor at the next fence. */
  fenceFault: 'lose-monitor' | 'no-monitor' | null = null;

  constructor(readonly world: World, readonly env: MachineEnv, readonly clusterd: SimProc, private readonly o: SimHostOptions) {
    super();
    this.decisions = decisionsWith(o.flaws);
    this.patches = o.patches;
  }

  /** The live monitor process, if any (fault injection reaches it through here). */
  get monitorProc(): SimProc | undefined {
    return this.child?.proc;
  }

  private timer(ms: number, fn: () => void): { cancelled: boolean } {
    return this.world.schedule(ms + this.env.clock.lagMs(), this.clusterd, 'timer', fn);
  }

  private ipc(): number {
    return this.world.rng.real(0.02, 0.5);
  }

  /** IPC to the monitor: FIFO (one channel: a message never overtakes an earlier one), and nothing is read before the monitor has booted and handled init. */
  private toMonitor(child: SimMonitor, fn: () => void): void {
    const at = Math.max(this.world.now + this.ipc(), child.bootedAtMs + 0.001, child.lastInAtMs);
    child.lastInAtMs = at;
    this.world.scheduleAt(at, child.proc, 'io', fn);
  }

  /** A message from `child` to clusterd, FIFO too. A lost monitor's last words count only for its pids (`lostFn`). */
  fromMonitor(child: SimMonitor, fn: () => void, lostFn?: () => void): void {
    const at = Math.max(this.world.now + this.ipc(), child.lastOutAtMs);
    child.lastOutAtMs = at;
    this.world.scheduleAt(at, this.clusterd, 'io', () => {
      if (child === this.child) fn();
      else lostFn?.();
    });
  }

  start(): Promise<void> {
    return this.launch();
  }

  private launch(): Promise<void> {
    const child = new SimMonitor(this, `${this.clusterd.id}/mon${++this.launches}`);
    this.child = child;
    this.ready = false;
    this.startedAtMs = this.env.clock.nowMs();
    // fork + Node start-up, then the monitor handles init (the first message in its channel).
    child.bootedAtMs = this.world.now + this.world.rng.real(20, 80);
    this.world.scheduleAt(child.bootedAtMs, child.proc, 'io', () => child.onInit(this.o.selfFenceMs));
    return new Promise<void>((resolve, reject) => {
      const timer = this.timer(readyTimeoutMs, () => this.lost(child, `no answer to init within ${readyTimeoutMs} ms`));
      this.readyWaiter = (err) => {
        timer.cancelled = true;
        this.readyWaiter = undefined;
        if (err === undefined) resolve();
        else reject(err);
      };
    });
  }

  onReady(child: SimMonitor): void {
    if (child !== this.child) return;
    this.ready = true;
    this.everReady = true;
    this.readyWaiter?.();
    this.emit('ready', 0);
    const waiting = [...this.waiting];
    this.waiting.clear();
    for (const w of waiting) w.go();
  }

  onPids(resource: string, pids: number[]): void {
    if (pids.length === 0) this.pgids.delete(resource);
    else this.pgids.set(resource, pids);
  }

  private readonly changes = new ChangeCount();

  /** As client.ts (the simulator's clock has no loop busy time, so its cycles never rest on it). */
  changesUnderWay(): number {
    return this.changes.value;
  }

  call(op: AgentOp, spec: ResourceSpec, timeoutMs: number): Promise<CallResult> {
    return this.changes.track(op, this.send(op, spec, timeoutMs));
  }

  private send(op: AgentOp, spec: ResourceSpec, timeoutMs: number): Promise<CallResult> {
    const child = this.child;
    if (child === undefined || !this.ready) {
      // As client.ts: a monitor restarting is not a failed call: wait for it, within the call's own bound.
      if (!this.stopping) return this.waitForMonitor(op, spec, timeoutMs);
      return Promise.resolve({ ok: false, error: `resource monitor is not running (${this.stopping ? 'shut down' : 'restarting after a crash'}): ${op} of resource '${spec.name}' not done` });
    }
    if (this.pending.size >= pendingCallsMax) {
      return Promise.resolve({ ok: false, error: `${pendingCallsMax} calls are in flight to the resource monitor already: ${op} of resource '${spec.name}' refused` });
    }
    const id = this.nextId++;
    return new Promise((resolve) => {
      const overdueMs = timeoutMs + deadlockSlackMs;
      const timer = this.timer(overdueMs, () => this.lost(child, `deadlock: ${op} of resource '${spec.name}' got no answer within ${overdueMs} ms`));
      this.pending.set(id, { resolve, timer });
      const copy = JSON.parse(JSON.stringify(spec)) as ResourceSpec;
      this.toMonitor(child, () => child.onCall(id, op, copy, timeoutMs));
    });
  }

  private waitForMonitor(op: AgentOp, spec: ResourceSpec, timeoutMs: number): Promise<CallResult> {
    return new Promise((resolve) => {
      const entry = {
        go: () => { timer.cancelled = true; void this.call(op, spec, timeoutMs).then(resolve); },
        fail: (error: string) => { timer.cancelled = true; resolve({ ok: false, error, deadlock: true }); },
      };
      const timer = this.timer(timeoutMs + deadlockSlackMs, () => {
        this.waiting.delete(entry);
        resolve({ ok: false, error: `resource monitor did not come back within ${timeoutMs + deadlockSlackMs} ms: ${op} of resource '${spec.name}' not done` });
      });
      this.waiting.add(entry);
    });
  }

  /** As client.ts: calls waiting for a monitor are void once the node voids its calls ('crashed', a fence). */
  private failWaiting(error: string): void {
    const waiting = [...this.waiting];
    this.waiting.clear();
    for (const w of waiting) w.fail(error);
  }

  settle(id: number, result: CallResult): void {
    const call = this.pending.get(id);
    if (call === undefined) return;
    call.timer.cancelled = true;
    this.pending.delete(id);
    call.resolve(result);
  }

  ping(): void {
    const child = this.child;
    if (child !== undefined) this.toMonitor(child, () => child.onPing(this.o.selfFenceMs));
  }

  fence(reason: string): void {
    const fault = this.fenceFault;
    this.fenceFault = null;
    // The monitor was lost a moment ago, and clusterd has heard of it: none runs as it fences.
    if (fault === 'no-monitor' && this.child !== undefined) this.lost(this.child, 'exited unexpectedly (fault: just before a fence)');
    const child = this.child;
    this.fencePending = true;
    this.failWaiting(`fenced before the resource monitor came back: ${reason}`);
    if (child !== undefined) this.toMonitor(child, () => child.fence(reason));
    // The monitor dies with the fence unread (fault): only its loss can answer it.
    if (fault === 'lose-monitor' && child !== undefined) { this.world.trace(this.env.name, 'FAULT the monitor dies with the fence unread'); child.exit(); }
    // As client.ts: with no monitor running nothing runs, so the fence holds at once.
    if (this.decisions.fenceHoldsAtOnce(child !== undefined)) this.later(() => this.onFenced(`${reason} (no resource monitor was running)`, []));
  }

  /** The monitor stopped everything; clusterd acknowledges so that later calls are served again. */
  onFenced(reason: string, killed: string[]): void {
    this.fencePending = false;
    const child = this.child;
    if (child !== undefined) this.toMonitor(child, () => child.onUnfence());
    this.emit('fenced', reason, killed);
  }

  recycle(reason: string): void {
    if (this.child !== undefined) this.lost(this.child, `recycled: ${reason}`);
    // As client.ts: the monitor is restarting, so its resources are dead already: say so.
    else {
      this.later(() => {
        this.failWaiting(`recycled while the monitor restarts: ${reason}`);
        this.emit('crashed', { reason: `recycled while the monitor restarts: ${reason}`, resources: [] });
      });
    }
  }

  /** An emission in a later turn of clusterd's event loop (never re-entrant inside a caller). */
  private later(fn: () => void): void {
    this.world.schedule(0, this.clusterd, 'io', fn);
  }

  async shutdown(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) this.restartTimer.cancelled = true;
    const child = this.child;
    if (child === undefined) return;
    const exited = new Promise<void>((resolve) => child.exitWaiters.push(resolve));
    const killTimer = this.timer(shutdownWaitMs, () => child.exit());
    this.toMonitor(child, () => child.onShutdown());
    await exited;
    killTimer.cancelled = true;
  }

  /** The monitor process is gone; clusterd hears of it through its own event loop. */
  monitorExited(child: SimMonitor): void {
    this.world.schedule(this.ipc(), this.clusterd, 'io', () => {
      for (const w of child.exitWaiters.splice(0)) w();
      if (child !== this.child) return;
      if (this.stopping) {
        this.child = undefined;
        this.ready = false;
        this.killKnown('monitor shut down');
        this.failPending('resource monitor shut down', false);
        this.readyWaiter?.(new Error('resource monitor shut down while starting'));
        return;
      }
      this.lost(child, 'exited unexpectedly');
    });
  }

  private killKnown(why: string): string[] {
    const resources = [...this.pgids.keys()];
    for (const pid of [...this.pgids.values()].flat()) this.env.procs.sigkill(pid, why);
    this.pgids.clear();
    return resources;
  }

  private lost(child: SimMonitor, why: string): void {
    if (child !== this.child) return;
    this.child = undefined;
    this.ready = false;
    child.exit(); // SIGKILL to the monitor first: its processes are detached and survive it
    const reason = `resource monitor (${child.proc.id}) ${why}`;
    this.world.trace(this.env.name, `host: ${reason}`);
    const resources = this.killKnown(`monitor lost: ${why}`);
    this.failPending(reason, true);
    this.failWaiting(reason);
    this.readyWaiter?.(new Error(reason));
    this.emit('crashed', { reason, resources });
    // As client.ts: a fence sent to this monitor died with it; its resources are dead: the fence holds.
    if (this.decisions.fenceHoldsOnLoss(this.fencePending)) {
      this.fencePending = false;
      this.emit('fenced', `${reason} (the fence under way holds: every resource of that monitor was killed)`, resources);
    }
    if (!this.stopping && this.everReady) this.scheduleRestart();
  }

  private failPending(error: string, deadlock: boolean): void {
    for (const id of [...this.pending.keys()]) this.settle(id, deadlock ? { ok: false, error, deadlock } : { ok: false, error });
  }

  private scheduleRestart(): void {
    const { delayMs, crashes } = this.decisions.restart(this.crashes, this.env.clock.nowMs() - this.startedAtMs);
    this.crashes = crashes;
    this.restartTimer = this.timer(delayMs, () => {
      this.restartTimer = undefined;
      this.launch().catch(() => undefined);
    });
  }

  // ---- what the world does to this host ----

  /** clusterd was killed (kill -9): the monitor sees its IPC channel close. */
  clusterdDied(): void {
    const child = this.child;
    if (child === undefined || !child.proc.alive) return;
    const incarnation = this.o.incarnation();
    this.toMonitor(child, () => child.onDisconnect(incarnation));
  }

  /** The monitor process dies on its own (OOM kill, a bug). */
  crashMonitor(): boolean {
    const child = this.child;
    if (child === undefined || !child.proc.alive) return false;
    child.exit();
    return true;
  }
}
