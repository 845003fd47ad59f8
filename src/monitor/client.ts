// clusterd's side of the resource monitor: forks it, feeds its watchdog, runs agent calls on it,
// and detects a monitor that stops answering (deadlock detection, as WSFC's resource hosting
// subsystem): such a monitor is killed together with every process group it reported, and a
// fresh one is started, so that no resource ever runs without a monitor.

import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { monoMs, type AgentOp, type CallData, type FromMonitor, type ResourceSpec, type ToMonitor } from './protocol.js';
import { msText } from '../core/duration-text.js';
import { thawLeftoversSync } from './freezer.js';

/**
 * Past a call's own timeout, how long before the monitor counts as deadlocked. It covers the
 * monitor's own overrun answer (250 ms after the timeout) and IPC latency on a loaded host.
 */
const deadlockSlackMs = 1_000;
/** Calls in flight at once. A node runs tens of resources with a few calls each; far more means a caller loops. */
const pendingCallsMax = 1_024;
/** A fresh monitor must answer init within this: Node starts in ~50 ms, a loaded host takes longer. */
const readyTimeoutMs = 10_000;
/** Bound on a planned shutdown before the monitor is killed. */
const shutdownWaitMs = 5_000;
/** Delays before restarting after consecutive crashes: a monitor that dies at start must not spin. */
const restartDelaysMs = [0, 100, 1_000, 5_000] as const;
/** A monitor that ran this long resets the consecutive crash count. */
const stableUptimeMs = 30_000;

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
}

export type CallResult =
  | { ok: true; data?: CallData }
  /** deadlock: the call was lost with its monitor (deadlocked or crashed); the resource was killed. */
  | { ok: false; error: string; deadlock?: boolean };

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

interface PendingCall {
  resolve: (result: CallResult) => void;
  timer: NodeJS.Timeout;
}

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
  private readonly waiting = new Set<WaitingCall>();
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

  /** Runs an agent operation. Never rejects: failures, including a lost monitor, are results. */
  call(op: AgentOp, spec: ResourceSpec, timeoutMs: number): Promise<CallResult> {
    if (!(timeoutMs > 0 && Number.isFinite(timeoutMs))) throw new RangeError(`call timeoutMs must be a positive number, not ${timeoutMs}`);
    const child = this.child;
    if (child === undefined || !this.ready) {
      // A monitor restarting is not a failed call (simulator bug 3): wait for it, within the call's own bound.
      if (!this.stopping && this.options !== undefined) return this.waitForMonitor(op, spec, timeoutMs);
      return Promise.resolve({ ok: false, error: `resource monitor is not running (${this.stopping ? 'shut down' : 'not started'}): ${op} of resource '${spec.name}' not done` });
    }
    if (this.pending.size >= pendingCallsMax) {
      return Promise.resolve({ ok: false, error: `${pendingCallsMax} calls are in flight to the resource monitor already: ${op} of resource '${spec.name}' refused` });
    }
    const id = this.nextId++;
    return new Promise((resolve) => {
      const overdueMs = timeoutMs + deadlockSlackMs;
      const timer = setTimeout(() => this.lost(child, `deadlock: ${op} of resource '${spec.name}' got no answer within ${msText(overdueMs)}`), overdueMs);
      this.pending.set(id, { resolve, timer });
      this.post(child, { t: 'call', id, op, resource: spec, timeoutMs });
    });
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
   * Asks the monitor to kill every resource at once; 'fenced' always follows (simulator bug 5):
   * from the monitor, or from its loss (a lost monitor's resources are killed), or at once when
   * no monitor runs (then nothing runs).
   */
  fence(reason: string): void {
    this.fencePending = true;
    this.failWaiting(`fenced before the resource monitor came back: ${reason}`);
    if (this.child !== undefined) this.post(this.child, { t: 'fence', reason });
    else setImmediate(() => this.onFenced(`${reason} (no resource monitor was running)`, []));
  }

  /** The monitor stopped everything: acknowledge, so that calls decided from now on are served again, then tell the node. */
  private onFenced(reason: string, killed: string[]): void {
    this.fencePending = false;
    if (this.child !== undefined) this.post(this.child, { t: 'unfence' });
    this.emit('fenced', reason, killed);
  }

  /**
   * Kill the monitor and every process group it reported, then start a new one: 'crashed'
   * follows, also when no monitor runs at that moment (its resources are dead already; bug 3).
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
    this.post(child, { t: 'init', selfFenceMs: options.selfFenceMs, node: options.node, ...(options.heartbeatSocket ? { heartbeatSocket: options.heartbeatSocket } : {}) });
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
        return;
      case 'result':
        this.settle(msg.id, msg.ok ? (msg.data === undefined ? { ok: true } : { ok: true, data: msg.data }) : { ok: false, error: msg.error });
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
    clearTimeout(call.timer);
    this.pending.delete(id);
    call.resolve(result);
  }

  private onExit(child: ChildProcess, code: number | null, signal: string | null): void {
    if (child !== this.child) return; // lost already
    if (this.stopping) {
      this.child = undefined;
      this.ready = false;
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
    child.kill('SIGKILL'); // first, so that it cannot start anything after the groups are killed
    // Backups (issue 7): a process blocked on a filesystem it froze cannot die until it is thawed.
    const thawed = thawLeftoversSync((this.options as MonitorStartOptions).dataDir);
    if (thawed.length > 0) this.emit('log', 'warning', `resource monitor (pid ${child.pid}) was lost with writers frozen: thawed ${thawed.join(', ')} before killing its processes`, 'BACKUP_WRITER_THAWED', { resources: thawed });
    const resources = [...this.pgids.keys()];
    killGroups([...this.pgids.values()].flat());
    this.pgids.clear();
    const reason = `resource monitor (pid ${child.pid}) ${why}`;
    this.failPending(reason, true);
    this.failWaiting(reason);
    this.readyWaiter?.(new Error(reason));
    this.emit('crashed', { reason, resources });
    // A fence sent to this monitor died with it, but every resource it ran was killed: the fence holds.
    if (this.fencePending) this.onFenced(`${reason} (the fence under way holds: every resource of that monitor was killed)`, resources);
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
    if (performance.now() - this.startedAtMs >= stableUptimeMs) this.crashes = 0;
    const delayMs = restartDelaysMs[Math.min(this.crashes, restartDelaysMs.length - 1)];
    this.crashes += 1;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      // A failed relaunch goes through lost() again, which schedules the next attempt.
      this.launch().catch(() => undefined);
    }, delayMs);
  }

  private post(child: ChildProcess, msg: ToMonitor): void {
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
  return { ...env, ...options.fenceEnv, CLUSTERD_DATA_DIR: options.dataDir };
}

function killGroups(pgids: number[]): void {
  for (const pgid of pgids) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // ESRCH: gone already.
    }
  }
}
