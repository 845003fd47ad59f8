// clusterd's side of the resource monitor: forks it, feeds its watchdog, runs agent calls on it,
// and detects a monitor that stops answering (deadlock detection, as WSFC's resource hosting
// subsystem): such a monitor is killed together with every process group it reported, and a
// fresh one is started, so that no resource ever runs without a monitor.

import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { monoMs, type AgentOp, type CallData, type FromMonitor, type ResourceSpec, type ToMonitor } from './protocol.js';
import { msText } from '../core/duration-text.js';
import { monitorCallsInFlightMax } from '../core/limits.js';
import type { FailureKind } from '../core/agent-codes.js';
import { thawLeftoversSync } from './freezer.js';
import { dropAddressesSync } from './ip-agent.js';
import { ChangeCount, decide, supervision } from './decisions.js';

/** Calls at the monitor at once (core/limits.ts says why). */
const inFlightMax = monitorCallsInFlightMax;
/** Call messages per IPC message (a batch): one send and one parse instead of many. */
const batchMax = inFlightMax;
/** The supervision bounds, shared with the simulator's twin (decisions.ts): a late call, init, shutdown. */
const { deadlockSlackMs, readyTimeoutMs, shutdownWaitMs } = supervision;
/**
 * A late call makes the monitor suspect, not dead: it is asked to echo, and only a monitor that
 * does not echo within this is deadlocked. A monitor busy with many spawns and probes still turns
 * its loop (it paces its spawns), so a queue of work never looks like a deadlock; its longest
 * synchronous stretch (one turn of paced spawns) is far below this.
 */
const echoWaitMs = 2_000;
/**
 * A call answered by nobody this long past its timeout is lost even though the monitor echoes:
 * the monitor answers every call by its timeout plus its overrun, so this is a bug in it, and a
 * fresh monitor is the way out. Long, so that only a broken monitor reaches it.
 */
const lateMaxMs = 30_000;
/** How often in-flight calls are checked for lateness (only while calls are in flight). */
const superviseEveryMs = 250;

const monitorPath = fileURLToPath(new URL('./monitor.js', import.meta.url));

export interface MonitorStartOptions {
  /** The monitor stops every resource when no ping arrives for this long. */
  selfFenceMs: number;
  node: string;
  /** Where resource logs go (CLUSTERD_DATA_DIR for the monitor). */
  dataDir: string;
  /** CLUSTERD_FENCE_DIR, CLUSTERD_FENCE_NODE, CLUSTERD_FENCE_INCARNATION: the monitor marks the lease fenced when clusterd dies. */
  fenceEnv?: Record<string, string>;
  /** Where the monitor listens for the heartbeat channel (protocol.ts): the heartbeat thread pings and fences through it. */
  heartbeatSocket?: string;
  /** Where the ocf and lsb agents find what they run (clusterd start --ocf-root, --lsb-dir). */
  ocfRoot?: string;
  lsbDir?: string;
  /** The umask resources start with (clusterd runs with 077 for its own files). */
  resourceUmask?: number;
  /** The nice value resources start with (clusterd's decision loop may run raised; the monitor it forks takes that). */
  resourceNice?: number;
}

export type CallResult =
  | { ok: true; data?: CallData }
  /** deadlock: the call was lost with its monitor (deadlocked or crashed); the resource was killed. */
  | { ok: false; error: string; deadlock?: boolean; failure?: FailureKind };

export interface MonitorCrash {
  reason: string;
  /** Resources the lost monitor was running: all killed, to be considered Failed/Offline. */
  resources: string[];
}

export interface MonitorClientEvents {
  /** A monitor (the first or a restarted one) is ready for calls. */
  ready: [pid: number];
  /** A resource's main process exited while it was supposed to be online. */
  exited: [resource: string, code: number | null, signal: string | null];
  /** The monitor stopped every resource (self-fence deadline or fence()). */
  fenced: [reason: string, killed: string[]];
  log: [level: 'info' | 'warning' | 'error', message: string, event?: string, data?: Record<string, unknown>];
  /** The monitor died or was killed for a deadlock; a new one is being started. */
  crashed: [crash: MonitorCrash];
  /** A disk was taken over by another node (newer epoch in its private sector): stop its dependents now. */
  lost: [resource: string, reason: string];
}

/** A call sent to the monitor: its timeout runs from when it was sent. */
interface PendingCall {
  resolve: (result: CallResult) => void;
  op: AgentOp;
  resource: string;
  timeoutMs: number;
  sentAtMs: number;
}

/** A call waiting for a slot toward a ready monitor (inFlightMax): not sent yet, its timeout not started. */
interface QueuedCall {
  op: AgentOp;
  spec: ResourceSpec;
  timeoutMs: number;
  resolve: (result: CallResult) => void;
}

type CallMessage = Extract<ToMonitor, { t: 'call' }>;

/** A call made while no monitor is ready: it runs once one is, or fails at its own bound. */
interface WaitingCall {
  go: () => void;
  fail: (error: string) => void;
}

export class MonitorClient extends EventEmitter<MonitorClientEvents> {
  private options: MonitorStartOptions | undefined;
  private child: ChildProcess | undefined;
  private ready = false;
  private everReady = false;
  private stopping = false;
  private startedAtMs = 0;
  private crashes = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private readyWaiter: ((err?: Error) => void) | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, PendingCall>();
  private readonly changes = new ChangeCount();
  private readonly waiting = new Set<WaitingCall>();
  /** Calls beyond inFlightMax, first in first out; `queueHead` is the next one to send. */
  private queue: (QueuedCall | undefined)[] = [];
  private queueHead = 0;
  /** Calls taken from the queue this turn, sent together (batched) once the turn ends. */
  private outgoing: CallMessage[] = [];
  private flushScheduled = false;
  private superviseTimer: NodeJS.Timeout | undefined;
  /** An echo asked of the monitor because a call is late; cleared by its answer. */
  private echo: { seq: number; sentAtMs: number } | undefined;
  private echoSeq = 0;
  /** A fence was sent and its 'fenced' answer has not come: if the monitor is lost meanwhile, its loss is the fence. */
  private fencePending = false;
  /** The process groups the current monitor last reported, by resource. */
  private readonly pgids = new Map<string, number[]>();

  /** The current monitor's pid, while one is ready. */
  get pid(): number | undefined {
    return this.ready ? this.child?.pid : undefined;
  }

  /** Forks the monitor and resolves once it is ready; rejects if it cannot start. */
  async start(options: MonitorStartOptions): Promise<void> {
    if (this.options !== undefined) throw new Error('MonitorClient.start called twice');
    if (!(options.selfFenceMs > 0)) throw new RangeError(`selfFenceMs must be positive, not ${options.selfFenceMs}`);
    this.options = options;
    await this.launch();
  }

  /**
   * Runs an agent operation. Never rejects: failures, including a lost monitor, are results.
   * At most inFlightMax calls are at the monitor at once; the others wait in a FIFO queue and are
   * never refused. `timeoutMs` starts when the call is sent to the monitor. The wait in the queue
   * is bounded too: each call ahead ends within its own timeout plus the monitor's overrun, or the
   * monitor is judged deadlocked (no echo within echoWaitMs) or broken (lateMaxMs) and every call
   * ends with it; so a call with k calls ahead of it waits at most about ceil(k / inFlightMax)
   * times the longest timeout among them. The node keeps at most one operation and one check in
   * flight per resource, so k is below twice the resources of the node.
   */
  call(op: AgentOp, spec: ResourceSpec, timeoutMs: number): Promise<CallResult> {
    return this.changes.track(op, this.queueCall(op, spec, timeoutMs));
  }

  /** Online, offline and terminate calls made and not answered yet. */
  changesUnderWay(): number {
    return this.changes.value;
  }

  private queueCall(op: AgentOp, spec: ResourceSpec, timeoutMs: number): Promise<CallResult> {
    if (!(timeoutMs > 0 && Number.isFinite(timeoutMs))) throw new RangeError(`call timeoutMs must be a positive number, not ${timeoutMs}`);
    if (this.child === undefined || !this.ready) {
      // A monitor restarting is not a failed call: wait for it, within the call's own bound.
      if (!this.stopping && this.options !== undefined) return this.waitForMonitor(op, spec, timeoutMs);
      return Promise.resolve({ ok: false, error: `resource monitor is not running (${this.stopping ? 'shut down' : 'not started'}): ${op} of resource '${spec.name}' not done` });
    }
    return new Promise((resolve) => {
      this.queue.push({ op, spec, timeoutMs, resolve });
      this.dispatch();
    });
  }

  /** Calls waiting in the client's queue, and calls at the monitor now. */
  get load(): { queued: number; inFlight: number } {
    return { queued: this.queue.length - this.queueHead, inFlight: this.pending.size };
  }

  /** Sends queued calls while there is room at the monitor; they leave together at the end of the turn. */
  private dispatch(): void {
    // While a fence is under way, calls stay queued: onFenced voids them once the node applies it.
    if (this.child === undefined || !this.ready || this.fencePending) return;
    while (this.pending.size < inFlightMax && this.queueHead < this.queue.length) {
      const q = this.queue[this.queueHead] as QueuedCall;
      this.queue[this.queueHead++] = undefined;
      const id = this.nextId++;
      this.pending.set(id, { resolve: q.resolve, op: q.op, resource: q.spec.name, timeoutMs: q.timeoutMs, sentAtMs: performance.now() });
      this.outgoing.push({ t: 'call', id, op: q.op, resource: q.spec, timeoutMs: q.timeoutMs });
    }
    if (this.queueHead === this.queue.length) {
      this.queue = [];
      this.queueHead = 0;
    } else if (this.queueHead > 1_024 && this.queueHead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.queueHead);
      this.queueHead = 0;
    }
    if (this.outgoing.length > 0 && !this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flushCalls());
    }
    if (this.pending.size > 0 && this.superviseTimer === undefined) this.superviseTimer = setInterval(() => this.supervise(), superviseEveryMs);
  }

  /** Sends the calls taken this turn, batchMax to a message. Any other message flushes them first, so order holds. */
  private flushCalls(): void {
    this.flushScheduled = false;
    const calls = this.outgoing;
    this.outgoing = [];
    const child = this.child;
    if (child === undefined || calls.length === 0) return;
    for (let i = 0; i < calls.length; i += batchMax) {
      const part = calls.slice(i, i + batchMax);
      this.send(child, part.length === 1 ? part[0]! : { t: 'calls', calls: part });
    }
  }

  /**
   * Deadlock detection judges the monitor's progress, not the length of a queue: a call late past
   * its timeout (plus slack) makes the monitor answer an echo; no echo within echoWaitMs is a
   * deadlock. A monitor that echoes but leaves a call unanswered lateMaxMs past its timeout is broken.
   */
  private supervise(): void {
    const child = this.child;
    if (child === undefined || this.pending.size === 0) {
      this.stopSupervising();
      return;
    }
    const nowMs = performance.now();
    let late: PendingCall | undefined;
    for (const call of this.pending.values()) {
      const overMs = nowMs - call.sentAtMs - call.timeoutMs;
      if (overMs > deadlockSlackMs && (late === undefined || overMs > nowMs - late.sentAtMs - late.timeoutMs)) late = call;
    }
    if (late === undefined) {
      this.echo = undefined;
      return;
    }
    const what = `${late.op} of resource '${late.resource}'`;
    if (nowMs - late.sentAtMs - late.timeoutMs > lateMaxMs) {
      this.lost(child, `deadlock: ${what} got no answer within ${msText(late.timeoutMs + lateMaxMs)}, although the monitor answers echoes`);
    } else if (this.echo === undefined) {
      this.echo = { seq: ++this.echoSeq, sentAtMs: nowMs };
      this.post(child, { t: 'echo', seq: this.echo.seq });
    } else if (nowMs - this.echo.sentAtMs >= echoWaitMs) {
      this.lost(child, `deadlock: ${what} got no answer within ${msText(late.timeoutMs + deadlockSlackMs)}, and the monitor did not answer an echo within ${msText(echoWaitMs)}`);
    }
  }

  private stopSupervising(): void {
    clearInterval(this.superviseTimer);
    this.superviseTimer = undefined;
    this.echo = undefined;
  }

  /** Calls queued and not sent yet end with `error`: they were decided before a fence or a loss. */
  private failQueued(error: string): void {
    const queued = this.queue.slice(this.queueHead);
    this.queue = [];
    this.queueHead = 0;
    for (const q of queued) q?.resolve({ ok: false, error: `${error}: ${q.op} of resource '${q.spec.name}' was not sent to the resource monitor`, deadlock: true });
  }

  private waitForMonitor(op: AgentOp, spec: ResourceSpec, timeoutMs: number): Promise<CallResult> {
    return new Promise((resolve) => {
      const boundMs = timeoutMs + deadlockSlackMs;
      const entry: WaitingCall = {
        go: () => { clearTimeout(timer); void this.call(op, spec, timeoutMs).then(resolve); },
        fail: (error) => { clearTimeout(timer); resolve({ ok: false, error, deadlock: true }); },
      };
      const timer = setTimeout(() => {
        this.waiting.delete(entry);
        resolve({ ok: false, error: `resource monitor did not come back within ${msText(boundMs)}: ${op} of resource '${spec.name}' not done` });
      }, boundMs);
      this.waiting.add(entry);
    });
  }

  /** Calls waiting for a monitor are void once the node voids its calls (a fence, a lost monitor). */
  private failWaiting(error: string): void {
    for (const w of this.takeWaiting()) w.fail(error);
  }

  /** Feeds the monitor's watchdog: call it every heartbeat. */
  ping(): void {
    if (this.child !== undefined) this.post(this.child, { t: 'ping', sentMs: monoMs() });
  }

  /**
   * Asks the monitor to kill every resource at once; 'fenced' always follows:
   * from the monitor, or from its loss (a lost monitor's resources are killed), or at once when
   * no monitor runs (then nothing runs).
   */
  fence(reason: string): void {
    this.fencePending = true;
    this.failWaiting(`fenced before the resource monitor came back: ${reason}`);
    if (this.child !== undefined) this.post(this.child, { t: 'fence', reason });
    if (decide.fenceHoldsAtOnce(this.child !== undefined)) setImmediate(() => this.onFenced(`${reason} (no resource monitor was running)`, []));
  }

  /** The monitor stopped everything: acknowledge, so that calls decided from now on are served again, then tell the node. */
  private onFenced(reason: string, killed: string[]): void {
    this.fencePending = false;
    // Calls still queued were decided before clusterd heard of the fence: none may run after
    // 'unfence'. Their results land after the node has applied 'fenced' (emitted below, at once),
    // so a voided stop is not taken for a failed one.
    this.failQueued(`the resource monitor fenced (${reason})`);
    if (this.child !== undefined) this.post(this.child, { t: 'unfence' });
    this.emit('fenced', reason, killed);
  }

  /**
   * Kill the monitor and every process group it reported, then start a new one: 'crashed'
   * follows, also when no monitor runs at that moment (its resources are dead already).
   */
  recycle(reason: string): void {
    if (this.child !== undefined) this.lost(this.child, `recycled: ${reason}`);
    else {
      setImmediate(() => {
        this.failWaiting(`recycled while the monitor restarts: ${reason}`);
        this.emit('crashed', { reason: `recycled while the monitor restarts: ${reason}`, resources: [] });
      });
    }
  }

  /** Planned stop: resolves once the monitor has exited. Resources should be offline already. */
  async shutdown(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    this.failWaiting('resource monitor shut down');
    this.failQueued('resource monitor shut down');
    const child = this.child;
    if (child === undefined) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const killTimer = setTimeout(() => child.kill('SIGKILL'), shutdownWaitMs);
    this.post(child, { t: 'shutdown' });
    await exited;
    clearTimeout(killTimer);
  }

  private launch(): Promise<void> {
    const options = this.options as MonitorStartOptions;
    const child = fork(monitorPath, [], {
      env: monitorEnv(options),
      execArgv: ['--max-semi-space-size=1'], // not clusterd's own flags (--test, --inspect...); a small young generation keeps RSS down
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child = child;
    this.ready = false;
    this.startedAtMs = performance.now();
    child.on('message', (msg) => this.onMessage(child, msg as FromMonitor));
    child.on('error', (err) => this.emit('log', 'error', `resource monitor (pid ${child.pid}): ${err.message}`));
    child.once('exit', (code, signal) => this.onExit(child, code, signal));
    this.post(child, { t: 'init', selfFenceMs: options.selfFenceMs, node: options.node, ...(options.heartbeatSocket ? { heartbeatSocket: options.heartbeatSocket } : {}),
      ...(options.resourceUmask !== undefined ? { umask: options.resourceUmask } : {}), ...(options.resourceNice !== undefined ? { resourceNice: options.resourceNice } : {}) });
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.lost(child, `no answer to init within ${msText(readyTimeoutMs)}`), readyTimeoutMs);
      this.readyWaiter = (err) => {
        clearTimeout(timer);
        this.readyWaiter = undefined;
        if (err === undefined) resolve();
        else reject(err);
      };
    });
  }

  private onMessage(child: ChildProcess, msg: FromMonitor): void {
    if (msg.t === 'batch') {
      for (const one of msg.msgs) this.onMessage(child, one);
      return;
    }
    if (child !== this.child) {
      // A lost monitor's last words: a group it reported late must not survive it either.
      if (msg.t === 'pids') killGroups(msg.pgids);
      return;
    }
    switch (msg.t) {
      case 'ready':
        this.ready = true;
        this.everReady = true;
        this.readyWaiter?.();
        this.emit('ready', msg.pid);
        for (const w of this.takeWaiting()) w.go();
        this.dispatch();
        return;
      case 'echo':
        if (this.echo?.seq === msg.seq) this.echo = undefined;
        return;
      case 'result':
        this.settle(msg.id, msg.ok ? (msg.data === undefined ? { ok: true } : { ok: true, data: msg.data }) : msg.failure === undefined ? { ok: false, error: msg.error } : { ok: false, error: msg.error, failure: msg.failure });
        return;
      case 'pids':
        if (msg.pgids.length === 0) this.pgids.delete(msg.resource);
        else this.pgids.set(msg.resource, msg.pgids);
        return;
      case 'exited':
        this.emit('exited', msg.resource, msg.code, msg.signal);
        return;
      case 'fenced':
        this.onFenced(msg.reason, msg.killed);
        return;
      case 'log':
        this.emit('log', msg.level, msg.message, msg.event, msg.data);
        return;
      case 'lost':
        this.emit('lost', msg.resource, msg.reason);
        return;
    }
  }

  private settle(id: number, result: CallResult): void {
    const call = this.pending.get(id);
    if (call === undefined) return;
    this.pending.delete(id);
    call.resolve(result);
    if (this.pending.size === 0) this.stopSupervising();
    this.dispatch();
  }

  private onExit(child: ChildProcess, code: number | null, signal: string | null): void {
    if (child !== this.child) return; // lost already
    if (this.stopping) {
      this.child = undefined;
      this.ready = false;
      this.outgoing = [];
      this.stopSupervising();
      killGroups([...this.pgids.values()].flat()); // the monitor killed them; a leftover would run unwatched
      this.pgids.clear();
      this.failPending('resource monitor shut down', false);
      this.readyWaiter?.(new Error('resource monitor shut down while starting'));
      return;
    }
    this.lost(child, `exited unexpectedly (${signal === null ? `code ${code}` : `signal ${signal}`})`);
  }

  /** The monitor is dead or deadlocked: kill it and everything it ran, report, start another. */
  private lost(child: ChildProcess, why: string): void {
    if (child !== this.child) return;
    this.child = undefined;
    this.ready = false;
    this.outgoing = [];
    this.stopSupervising();
    child.kill('SIGKILL'); // first, so that it cannot start anything after the groups are killed
    // Backups: a process blocked on a filesystem it froze cannot die until it is thawed.
    const thawed = thawLeftoversSync((this.options as MonitorStartOptions).dataDir);
    if (thawed.length > 0) this.emit('log', 'warning', `resource monitor (pid ${child.pid}) was lost with writers frozen: thawed ${thawed.join(', ')} before killing its processes`, 'BACKUP_WRITER_THAWED', { resources: thawed });
    const resources = [...this.pgids.keys()];
    killGroups([...this.pgids.values()].flat());
    this.pgids.clear();
    resources.push(...dropAddressesSync((this.options as MonitorStartOptions).dataDir)); // ip resources: their addresses go with the monitor
    const reason = `resource monitor (pid ${child.pid}) ${why}`;
    this.failPending(reason, true);
    this.failWaiting(reason);
    this.failQueued(reason);
    this.readyWaiter?.(new Error(reason));
    this.emit('crashed', { reason, resources });
    // A fence sent to this monitor died with it, but every resource it ran was killed: the fence holds.
    if (decide.fenceHoldsOnLoss(this.fencePending)) this.onFenced(`${reason} (the fence under way holds: every resource of that monitor was killed)`, resources);
    if (!this.stopping && this.everReady) this.scheduleRestart();
  }

  private takeWaiting(): WaitingCall[] {
    const waiting = [...this.waiting];
    this.waiting.clear();
    return waiting;
  }

  private failPending(error: string, deadlock: boolean): void {
    for (const id of [...this.pending.keys()]) this.settle(id, deadlock ? { ok: false, error, deadlock } : { ok: false, error });
  }

  private scheduleRestart(): void {
    const { delayMs, crashes } = decide.restart(this.crashes, performance.now() - this.startedAtMs);
    this.crashes = crashes;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      // A failed relaunch goes through lost() again, which schedules the next attempt.
      this.launch().catch(() => undefined);
    }, delayMs);
  }

  /** Any message but a call: calls taken before it go first, so that the monitor sees them in order. */
  private post(child: ChildProcess, msg: ToMonitor): void {
    if (child === this.child && this.outgoing.length > 0) this.flushCalls();
    this.send(child, msg);
  }

  private send(child: ChildProcess, msg: ToMonitor): void {
    if (!child.connected) return; // its exit is on the way; pending calls end there
    try {
      child.send(msg, (err) => {
        if (err !== null) this.emit('log', 'warning', `resource monitor: could not send '${msg.t}': ${err.message}`);
      });
    } catch (err) {
      this.emit('log', 'warning', `resource monitor: could not send '${msg.t}': ${(err as Error).message}`);
    }
  }
}

function monitorEnv(options: MonitorStartOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('CLUSTERD_FENCE_')) env[key] = value; // only this clusterd's own fencing settings
  }
  const agentDirs: Record<string, string> = {};
  if (options.ocfRoot !== undefined) agentDirs.CLUSTERD_OCF_ROOT = options.ocfRoot;
  if (options.lsbDir !== undefined) agentDirs.CLUSTERD_LSB_DIR = options.lsbDir;
  return { ...env, ...options.fenceEnv, ...agentDirs, CLUSTERD_DATA_DIR: options.dataDir };
}

/**
 * Each group and its leader: a resource started through setsid(1) is reported as soon as it runs,
 * a moment before its session (and group) exists, and a signal to the group would miss it then.
 */
function killGroups(pgids: number[]): void {
  for (const pgid of pgids) {
    // The leader first: a resource started through setsid(1) may not have made its group yet (the
    // group kill finds nothing), and killed first it can no longer make one or fork into it.
    for (const target of [pgid, -pgid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // ESRCH: gone already.
      }
    }
  }
}
