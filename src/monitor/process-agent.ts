// The `process` resource type: a generic application. It runs as its own process group (never
// through a shell) so that stopping it reaches every process it started, and its exit is known
// at once from the child's exit event, not by polling.

import { decide } from './decisions.js';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants, readFileSync } from 'node:fs';
import { access, readdir, readFile, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { msText } from '../core/duration-text.js';
import { parseProcessPriv, type ProcessPriv } from '../core/process-priv.js';
import type { ResourceSpec } from './protocol.js';
import type { AgentContext, AgentEvents, FreezeTarget, ResourceAgent } from './agent.js';
import { openResourceLog, readSecretEnvFile, resourceEnv } from './resource-env.js';
import { sessionGroupNice } from './priority.js';

/** Between probe attempts while coming online, at first: notices readiness quickly. */
const probeRetryMs = 25;
/**
 * The pause doubles up to this: a service slow to start is not hammered, and a thousand resources
 * waiting for their probes cost the monitor at most a few thousand attempts a second.
 */
const probeRetryMaxMs = 200;
/**
 * Synchronous spawn time per turn of the monitor's loop. A spawn blocks the loop until the child
 * has called exec: about 2 ms on an idle host, 50 ms on a loaded 2-core one. Past this budget the
 * next spawns wait for the next turn, so that clusterd's pings (the watchdog) and echoes are read
 * between them however many resources start at once.
 */
const spawnTurnMs = 20;
/** How often a stop first checks whether the process group is gone: short, a stop is on the failover path. */
const groupPollMs = 20;
/** The check backs off to this: with the main process gone it may scan /proc, which costs more on a busy host. */
const groupPollMaxMs = 200;
/** Bound on `id -u NAME`: a hung NSS lookup must not hold an online forever. */
const idTimeoutMs = 5_000;

interface ExitInfo {
  code: number | null;
  signal: string | null;
}

/** What the agent knows of one started resource. */
interface Running {
  name: string;
  child: ChildProcess;
  /** The main process's pid, which is also its process group id (spawned detached). */
  pgid: number;
  /**
   * Its session (and so its process group) exists. Started through setsid(1), the process makes
   * them itself a moment after the spawn returns: until then a signal to the group reaches
   * nobody, and the pid is signalled instead.
   */
  sessionReady: boolean;
  /** Set by offline, terminate or killAll: the exit that follows is not a failure. */
  stopping: boolean;
  /** Online calls waiting for the probe: an exit then fails those calls, and is not reported twice. */
  onlineWaiters: number;
  exit: ExitInfo | undefined;
  /** Process groups of probe commands running now: a monitor killed mid-probe must not leave them behind. */
  probePgids: Set<number>;
  /** What its commands run with, secrets included (probe commands). */
  env: NodeJS.ProcessEnv;
  /** The same without the secrets: freeze and thaw records are written to disk, and read the secret file again. */
  publicEnv: Record<string, string>;
  secretEnvFile: string | undefined;
  ids: UserIds;
}

type UserIds = { uid?: number; gid?: number; home?: string };

/** Runs synchronous jobs (spawns) in order, at most spawnTurnMs of them per turn of the loop. */
class Pacer {
  private readonly jobs: (() => void)[] = [];
  private scheduled = false;

  constructor(private readonly turnMs: number) {}

  run<T>(job: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.jobs.push(() => {
        try {
          resolve(job());
        } catch (err) {
          reject(err as Error);
        }
      });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.pump());
      }
    });
  }

  private pump(): void {
    const startMs = performance.now();
    while (this.jobs.length > 0 && performance.now() - startMs < this.turnMs) this.jobs.shift()!();
    if (this.jobs.length > 0) setImmediate(() => this.pump());
    else this.scheduled = false;
  }
}

export class ProcessAgent implements ResourceAgent {
  private readonly running = new Map<string, Running>();
  private readonly starting = new Map<string, Promise<Running>>();
  /** Counts killAll calls: a start that straddles one must not spawn. */
  private fences = 0;
  /** Every spawn of this agent (resources and probe commands) goes through it. */
  private readonly spawns = new Pacer(spawnTurnMs);

  /** How each resource's main process last ended on its own (not stopped or fenced), until it is brought online, offline or terminated: a check that finds it dead says so. */
  private readonly exits = new Map<string, ExitInfo>();

  constructor(private readonly events: AgentEvents) {}

  async online(spec: ResourceSpec, ctx: AgentContext): Promise<{ pid?: number }> {
    const priv = parsePriv(spec);
    let state = this.running.get(spec.name);
    if (state?.stopping) throw new Error(`resource '${spec.name}' is being stopped; bring it online after the stop finished`);
    this.exits.delete(spec.name);
    // Online is idempotent: a live process is kept, only its probe is awaited again.
    if (state === undefined || state.exit !== undefined) state = await this.startOnce(spec, priv);
    state.onlineWaiters += 1;
    try {
      await this.waitUp(state, priv, ctx.signal);
    } finally {
      state.onlineWaiters -= 1;
    }
    return { pid: state.pgid };
  }

  async offline(spec: ResourceSpec, ctx: AgentContext): Promise<void> {
    this.exits.delete(spec.name);
    await this.starting.get(spec.name)?.catch(() => undefined);
    const state = this.running.get(spec.name);
    if (state === undefined) return;
    state.stopping = true;
    signalGroup(state.pgid, 'SIGTERM');
    if (!(await this.waitGone(state, spec.props.stopGraceMs, ctx.signal))) {
      this.reportKill(spec, state, ctx.signal.aborted);
      await this.kill(state, ctx.signal);
    }
    this.forget(state);
  }

  async terminate(spec: ResourceSpec, ctx: AgentContext): Promise<void> {
    this.exits.delete(spec.name);
    await this.starting.get(spec.name)?.catch(() => undefined);
    const state = this.running.get(spec.name);
    if (state === undefined) return;
    state.stopping = true;
    await this.kill(state, ctx.signal);
    this.forget(state);
  }

  async looksAlive(spec: ResourceSpec): Promise<boolean> {
    const state = this.running.get(spec.name);
    return state !== undefined && state.exit === undefined;
  }

  deadReason(resource: string): string | undefined {
    const exit = this.exits.get(resource);
    return exit === undefined ? undefined : `process exited (${exit.signal === null ? `exit code ${exit.code}` : `signal ${exit.signal}`})`;
  }

  async isAlive(spec: ResourceSpec, ctx: AgentContext): Promise<boolean> {
    const state = this.running.get(spec.name);
    if (state === undefined || state.exit !== undefined) return false;
    const priv = parsePriv(spec);
    return priv.probe === undefined || this.probeOnce(state, priv, ctx.signal);
  }

  /** Backups: the process group a freeze signals, and how the resource runs (freeze and thaw commands run the same way). */
  freezeTarget(spec: ResourceSpec): FreezeTarget {
    const state = this.running.get(spec.name);
    if (state === undefined || state.exit !== undefined || state.stopping) throw new Error(`resource '${spec.name}' is not running on this node: nothing to freeze`);
    const { uid, gid } = state.ids;
    return { kind: 'process', pgid: state.pgid, env: state.publicEnv, secretEnvFile: state.secretEnvFile, uid, gid };
  }

  killAll(): string[] {
    this.fences += 1;
    this.exits.clear();
    const names = [...this.running.keys()];
    for (const state of this.running.values()) {
      state.stopping = true;
      if (!state.sessionReady) signalPid(state.pgid, 'SIGKILL');
      for (const pgid of [state.pgid, ...state.probePgids]) signalGroup(pgid, 'SIGKILL');
    }
    for (const state of [...this.running.values()]) this.forget(state);
    return names;
  }

  /** One start at a time per resource: two concurrent onlines must not run two processes. */
  private startOnce(spec: ResourceSpec, priv: ProcessPriv): Promise<Running> {
    let pending = this.starting.get(spec.name);
    if (pending === undefined) {
      pending = this.start(spec, priv).finally(() => this.starting.delete(spec.name));
      this.starting.set(spec.name, pending);
    }
    return pending;
  }

  private async start(spec: ResourceSpec, priv: ProcessPriv): Promise<Running> {
    const fences = this.fences;
    // Facts of this node, checked before anything starts: a clear error, not spawn's ENOENT or EINVAL.
    await checkDirectory(spec, priv.cwd);
    const ids: UserIds = priv.user === undefined ? {} : await resolveUser(priv.user);
    const publicEnv = resourceEnv(spec, { env: priv.env, home: ids.home });
    // Read at every start: a changed file takes effect at the next start, and no copy outlives the process.
    const secrets = priv.secretEnvFile === undefined ? {} : await readSecretEnvFile(spec.name, priv.secretEnvFile);
    const env = { ...publicEnv, ...secrets };
    if (viaSetsid() !== null) await mustBeExecutable(spec.name, priv, env);
    const log = await openResourceLog(spec.name, logPath(spec.name));
    try {
      const started = await this.spawns.run(() => {
        // Nothing may start after a killAll that happened while we waited above.
        if (decide.straddlesFence(fences, this.fences)) throw new Error(`resource '${spec.name}': every resource was stopped (fenced) while it was starting`);
        const child = spawnResource(spec.name, priv, env, ids, log.fd);
        // The spawn error comes on the next tick: listen in this same job, or it goes unhandled.
        return child.pid === undefined ? { failed: once(child, 'error') as Promise<[Error]> }
          : this.track(spec, child, child.pid, { env, publicEnv, secretEnvFile: priv.secretEnvFile, ids });
      });
      if ('failed' in started) {
        const [err] = await started.failed;
        throw new Error(`resource '${spec.name}': cannot start '${priv.command}'${where(priv)}: ${err.message}`);
      }
      await this.sessionMade(started);
      // A killAll while the session was being made killed the pid: this start did not happen.
      if (decide.straddlesFence(fences, this.fences)) throw new Error(`resource '${spec.name}': every resource was stopped (fenced) while it was starting`);
      return started;
    } finally {
      // The child holds its own copy of the descriptor. Not awaited: between the spawn and the
      // caller counting itself in onlineWaiters there must be no turn of the event loop.
      log.close().catch(() => undefined);
    }
  }

  /**
   * Resolves once the process has made its own session (its group can be signalled), or has
   * exited. Bounded: a process that cannot get that far is killed and its start fails.
   */
  private async sessionMade(state: Running): Promise<void> {
    const deadline = performance.now() + sessionWaitMaxMs;
    let waitMs = 2;
    while (!state.sessionReady && state.exit === undefined) {
      try {
        process.kill(-state.pgid, 0); // ESRCH until the process group exists
        state.sessionReady = true;
        return;
      } catch {
        // not yet
      }
      if (performance.now() > deadline) {
        signalPid(state.pgid, 'SIGKILL');
        throw new Error(`resource '${state.name}': pid ${state.pgid} did not make its own session within ${msText(sessionWaitMaxMs)} (killed)`);
      }
      await sleep(waitMs);
      waitMs = Math.min(waitMs * 2, 50);
    }
  }

  /** Synchronous with the spawn, so that a killAll never misses a process that runs. */
  private track(spec: ResourceSpec, child: ChildProcess, pid: number, how: Pick<Running, 'env' | 'publicEnv' | 'secretEnvFile' | 'ids'>): Running {
    const state: Running = { name: spec.name, child, pgid: pid, sessionReady: viaSetsid() === null, stopping: false, onlineWaiters: 0, exit: undefined, probePgids: new Set(), ...how };
    this.running.set(spec.name, state);
    child.on('error', (err) => this.events.log('warning', `resource '${spec.name}': ${err.message}`));
    child.once('exit', (code, signal) => this.onExit(state, { code, signal }));
    this.reportPgids(state);
    this.events.log('info', `resource '${spec.name}' started: pid ${pid}, epoch ${spec.epoch}`);
    return state;
  }

  private onExit(state: Running, exit: ExitInfo): void {
    state.exit = exit;
    if (state.stopping) return;
    this.exits.set(state.name, exit);
    // A resource whose main process died is Failed: its leftovers (workers holding a port) must
    // not meet the restart.
    signalGroup(state.pgid, 'SIGKILL');
    this.forget(state);
    if (state.onlineWaiters === 0) this.events.exited(state.name, exit.code, exit.signal);
  }

  /** Resolves once the probe passes (at once without a probe); rejects on exit, stop or deadline. */
  private async waitUp(state: Running, priv: ProcessPriv, signal: AbortSignal): Promise<void> {
    if (priv.probe === undefined) return;
    let retryMs = probeRetryMs;
    while (true) {
      if (state.exit !== undefined) throw new Error(`resource '${state.name}' exited (${describeExit(state.exit)}) before its probe ${priv.probeText} passed; see its log ${logPath(state.name)}`);
      if (state.stopping) throw new Error(`resource '${state.name}' was stopped before its probe ${priv.probeText} passed`);
      if (signal.aborted) throw new Error(`resource '${state.name}': probe ${priv.probeText} did not pass before the online timeout`);
      if (await this.probeOnce(state, priv, signal)) return;
      await sleep(retryMs, undefined, { signal }).catch(() => undefined);
      retryMs = Math.min(retryMs * 2, probeRetryMaxMs);
    }
  }

  private probeOnce(state: Running, priv: ProcessPriv, callSignal: AbortSignal): Promise<boolean> {
    const signal = AbortSignal.any([callSignal, AbortSignal.timeout(priv.probeTimeoutMs)]);
    const probe = priv.probe;
    if (probe === undefined) return Promise.resolve(true);
    if (probe.kind === 'tcp') return tcpProbe(probe.host, probe.port, signal);
    if (probe.kind === 'http') return httpProbe(probe.url, signal);
    return this.cmdProbe(state, priv, probe.argv, signal);
  }

  /** A probe command runs as the resource runs (user, cwd, env), in its own process group. */
  private async cmdProbe(state: Running, priv: ProcessPriv, argv: [string, ...string[]], signal: AbortSignal): Promise<boolean> {
    // Spawned, registered and listened to in one paced job: nothing may happen in between.
    const result = await this.spawns.run(() => {
      if (signal.aborted || state.stopping || state.exit !== undefined) return undefined;
      let child: ChildProcess;
      try {
        child = spawn(argv[0], argv.slice(1), { cwd: priv.cwd, env: state.env, detached: true, stdio: 'ignore', ...spawnIds(state.ids) });
      } catch {
        return undefined;
      }
      return this.watchProbe(state, child, signal);
    });
    return result === undefined ? false : result;
  }

  private watchProbe(state: Running, child: ChildProcess, signal: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      const pgid = child.pid;
      const onAbort = (): void => { if (pgid !== undefined) signalGroup(pgid, 'SIGKILL'); };
      const finish = (passed: boolean): void => {
        signal.removeEventListener('abort', onAbort);
        if (pgid !== undefined && state.probePgids.delete(pgid)) this.reportPgids(state);
        resolve(passed && !signal.aborted);
      };
      if (pgid !== undefined) {
        state.probePgids.add(pgid);
        this.reportPgids(state);
      }
      signal.addEventListener('abort', onAbort, { once: true });
      child.once('error', () => finish(false));
      child.once('exit', (code) => {
        onAbort(); // leftovers of the probe's group
        finish(code === 0);
      });
    });
  }

  /** A stop that needed SIGKILL is an event in the cluster log: the service did not shut down cleanly. */
  private reportKill(spec: ResourceSpec, state: Running, callTimedOut: boolean): void {
    const grace = spec.props.stopGraceMs;
    const why = callTimedOut ? `was still running when its offline call timed out (stop grace ${msText(grace)})` : `ignored SIGTERM for its stop grace of ${msText(grace)}`;
    this.events.log('warning', `resource '${spec.name}' of group ${spec.group} ${why}: killing its process group ${state.pgid} (SIGKILL)`,
      'RESOURCE_KILLED', { resource: spec.name, group: spec.group, stopGraceMs: grace, pid: state.pgid, pgid: state.pgid });
  }

  /** SIGKILL the group (and the main process, should it have left its group), then wait it out. */
  private async kill(state: Running, signal: AbortSignal): Promise<void> {
    signalGroup(state.pgid, 'SIGKILL');
    state.child.kill('SIGKILL');
    if (!(await this.waitGone(state, Infinity, signal))) {
      throw new Error(`resource '${state.name}': process group ${state.pgid} was sent SIGKILL but had not exited when the call timed out`);
    }
  }

  /** True once the main process has exited and no live process is left in its group. */
  private async waitGone(state: Running, waitMs: number, signal: AbortSignal): Promise<boolean> {
    const deadline = performance.now() + waitMs;
    let pollMs = groupPollMs;
    while (true) {
      if (state.exit !== undefined && !(await groupAlive(state.pgid))) return true;
      if (signal.aborted || performance.now() >= deadline) return false;
      await sleep(Math.min(pollMs, Math.max(0, deadline - performance.now())), undefined, { signal }).catch(() => undefined);
      pollMs = Math.min(pollMs * 2, groupPollMaxMs);
    }
  }

  private forget(state: Running): void {
    if (this.running.get(state.name) !== state) return;
    this.running.delete(state.name);
    for (const pgid of state.probePgids) signalGroup(pgid, 'SIGKILL');
    state.probePgids.clear();
    this.events.pgids(state.name, []);
  }

  private reportPgids(state: Running): void {
    if (this.running.get(state.name) !== state) return;
    this.events.pgids(state.name, [state.pgid, ...state.probePgids]);
  }
}

/**
 * util-linux's setsid(1), which makes a new session and then execs the command in the same
 * process (same pid). A spawn returns only once the child has exec'd, and a detached spawn
 * makes the session before the exec: where sessions are scheduled as groups (autogroup), the
 * child then waits for a core in a new group of its own before it can exec, and the monitor's
 * loop waits with it. When clusterd's session group runs raised (clusterd leads its session, as
 * under systemd, and may raise it), that is 130-220 ms per start on a saturated 2-core host
 * instead of about 15 ms: through setsid(1) the exec comes first, in the raised group, and the
 * session after, while the monitor goes on. When the group is not raised (clusterd started from
 * a shell, or autogroup off), the child's own new group competes better than the monitor's
 * shared one (28-33 ms against 41-48 ms per spawn at load 25), and the detached spawn saves an
 * exec, two file checks and the wait for the session: the monitor spawns detached then.
 */
const setsidPath = ['/usr/bin/setsid', '/bin/setsid'].find((p) => {
  try {
    accessSync(p, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
});
let setsidChosen: string | null | undefined;
/** setsid(1)'s path when starts go through it (see setsidPath), else null. Decided at the first start: the group's nice is set before the monitor is forked. */
function viaSetsid(): string | null {
  if (setsidChosen === undefined) setsidChosen = setsidPath !== undefined && sessionGroupRaised() ? setsidPath : null;
  return setsidChosen;
}

function sessionGroupRaised(): boolean {
  try {
    if (readFileSync('/proc/sys/kernel/sched_autogroup_enabled', 'utf8').trim() === '0') return false;
  } catch {
    return false;
  }
  return (sessionGroupNice() ?? 0) < 0;
}
/** Bound on the wait for a started process to make its own session (it waits for a core only). */
const sessionWaitMaxMs = 30_000;

/**
 * Through setsid(1) a command that cannot run fails in the child, after the spawn: the same
 * error as a spawn's (ENOENT, EACCES) is given here, before anything starts.
 */
async function mustBeExecutable(name: string, priv: ProcessPriv, env: NodeJS.ProcessEnv): Promise<void> {
  const candidates = priv.command.includes('/') ? [path.resolve(priv.cwd ?? process.cwd(), priv.command)]
    : (env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':').filter(Boolean).map((d) => path.join(d, priv.command));
  let code = 'ENOENT';
  for (const file of candidates) {
    try {
      const st = await stat(file);
      if (!st.isFile()) { code = 'EACCES'; continue; }
      await access(file, fsConstants.X_OK);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EACCES') code = 'EACCES';
    }
  }
  throw new Error(`resource '${name}': cannot start '${priv.command}'${where(priv)}: spawn ${priv.command} ${code}`);
}

/** Own session and process group, no shell, stdout and stderr appended to the log. Returns without a pid on ENOENT and the like. */
function spawnResource(name: string, priv: ProcessPriv, env: NodeJS.ProcessEnv, ids: UserIds, logFd: number): ChildProcess {
  try {
    const setsid = viaSetsid();
    if (setsid !== null) return spawn(setsid, ['--', priv.command, ...priv.args], { cwd: priv.cwd, env, stdio: ['ignore', logFd, logFd], ...spawnIds(ids) });
    return spawn(priv.command, priv.args, { cwd: priv.cwd, env, detached: true, stdio: ['ignore', logFd, logFd], ...spawnIds(ids) });
  } catch (err) {
    // Some errors (EPERM when changing user) are thrown rather than emitted.
    throw new Error(`resource '${name}': cannot start '${priv.command}'${where(priv)}: ${(err as Error).message}`);
  }
}

function spawnIds(ids: UserIds): { uid?: number; gid?: number } {
  return ids.uid === undefined ? {} : { uid: ids.uid, gid: ids.gid };
}

function where(priv: ProcessPriv): string {
  return priv.cwd === undefined ? '' : ` in ${priv.cwd}`;
}

export function logPath(resource: string): string {
  // Resource names come from operators: keep them from naming another directory.
  const safe = resource.replace(/[^A-Za-z0-9._-]/g, '_');
  return path.join(process.env.CLUSTERD_DATA_DIR ?? os.tmpdir(), `${safe}.log`);
}

function signalPid(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // ESRCH: gone already.
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is gone already, which is what we want.
  }
}

/**
 * Whether the process group still has a live member. kill(-pgid, 0) counts zombies, and where
 * PID 1 does not reap orphans (containers without an init) killed members stay zombies for
 * ever: on Linux, a group whose members are all zombies counts as gone.
 */
async function groupAlive(pgid: number): Promise<boolean> {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  const entries = await readdir('/proc').catch(() => undefined);
  if (entries === undefined) return true;
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // Fields after the command name, which may itself hold spaces and parentheses: state ppid pgrp.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') return true;
  }
  return false;
}

function tcpProbe(host: string, port: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const finish = (passed: boolean): void => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(passed);
    };
    const onAbort = (): void => finish(false);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

function httpProbe(url: URL, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    const get = url.protocol === 'https:' ? https.get : http.get;
    // No keep-alive agent: a probe must not hold a connection to the service between attempts.
    const req = get(url, { agent: false, signal }, (res) => {
      const status = res.statusCode ?? 0;
      res.destroy();
      resolve(status >= 200 && status < 300);
    });
    req.once('error', () => resolve(false));
  });
}

async function checkDirectory(spec: ResourceSpec, cwd: string): Promise<void> {
  const st = await stat(cwd).catch((err: NodeJS.ErrnoException) => err);
  if (st instanceof Error) throw new Error(`resource '${spec.name}': its working directory ${cwd} (private property cwd) cannot be used on node ${spec.node}: ${st.code ?? st.message}`);
  if (!st.isDirectory()) throw new Error(`resource '${spec.name}': its working directory ${cwd} (private property cwd) is not a directory on node ${spec.node}`);
}

async function resolveUser(user: string | number): Promise<{ uid: number; gid: number; home: string }> {
  const uid = await idOf(user, '-u');
  if (uid === undefined) {
    if (typeof user === 'number') return { uid: user, gid: user, home: '/' }; // no passwd entry: its user-private group, never ours (root's)
    throw new Error(`unknown user '${user}' on this node (id -u ${user} failed): create it, or change private property user`);
  }
  return { uid, gid: (await idOf(user, '-g')) ?? uid, home: (await homeOf(uid)) ?? '/' };
}

/** The user's home directory from the passwd database (getent: NSS users too); never clusterd's own. */
function homeOf(uid: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('getent', ['passwd', String(uid)], { timeout: idTimeoutMs }, (err, stdout) => {
      const home = stdout.split('\n')[0]?.split(':')[5];
      resolve(err === null && home !== undefined && home !== '' ? home : undefined);
    });
  });
}

function idOf(user: string | number, flag: '-u' | '-g'): Promise<number | undefined> {
  return new Promise((resolve) => {
    execFile('id', [flag, '--', String(user)], { timeout: idTimeoutMs }, (err, stdout) => {
      const id = Number.parseInt(stdout, 10);
      resolve(err === null && Number.isInteger(id) ? id : undefined);
    });
  });
}

function describeExit(exit: ExitInfo): string {
  return exit.signal === null ? `code ${exit.code}` : `signal ${exit.signal}`;
}

/** The resource's private properties as core/process-priv.ts parses them (as they were checked when saved); every problem in one error. */
function parsePriv(spec: ResourceSpec): ProcessPriv {
  const { name, priv } = spec;
  const r = parseProcessPriv(priv, { CLUSTERD_NODE_NAME: spec.node, CLUSTERD_NODE_ADDRESS: spec.nodeAddress });
  if (!r.ok) throw new Error(`resource '${name}': ${r.problems.map((p) => `private property '${p.key}' ${p.message}`).join('; ')}`);
  return r.value;
}
