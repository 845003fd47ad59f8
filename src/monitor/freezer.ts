// Backup writers in the resource monitor: carries out freeze and thaw calls with the
// action each writer declares (core/writer-props.ts), and makes sure nothing stays frozen.
//
//   - What is frozen is recorded durably before the freeze acts (an intent: `frozen-writers.json`
//     in the node's data directory, written to a temporary file, fsynced, renamed, directory
//     fsynced) and removed once the thaw is done. A monitor that starts thaws whatever an earlier
//     one left frozen (recover()) before it answers `ready`, so before anything else happens.
//   - Calls for one resource run one after the other; a thaw aborts a freeze still under way (the
//     freeze then undoes what may have taken effect), so a hung freeze command cannot hold a thaw.
//   - A stop (offline, terminate, extended maintenance) thaws the resource first: a stopped
//     process then gets its SIGTERM, a filesystem can be unmounted.
//   - The fence and exit paths (watchdog, clusterd gone, shutdown, a crash) call thawAllSync()
//     before anything is killed or unmounted: a lazily unmounted frozen filesystem could never be
//     thawed again and would hold its device away from the next owner.
//   - While a writer is frozen, LooksAlive and IsAlive of it and of what runs above it answer
//     alive (a paused application is not a failed one); a check that was running when the freeze
//     started counts for nothing. A disk's device checks pause meanwhile (a sector write would
//     block in the kernel).

import { decide } from './decisions.js';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stoppingSignals, writerSpec, type WriterAction } from '../core/writer-props.js';
import type { AgentContext, AgentRegistry, FreezeTarget } from './agent.js';
import { mountedHere, mountPointsOf } from './disk-agent.js';
import type { AgentOp, CallData, ResourceSpec } from './protocol.js';
import { readSecretEnvFile, toolEnv } from './resource-env.js';

/** The intent file, in the node's data directory. */
export const frozenFileName = 'frozen-writers.json';
/** Bound on everything recover() does at start: the client waits 10 s for `ready`. */
const recoverMaxMs = 5_000;
/** Bound on one synchronous fsfreeze -u on the way out (fence, exit). */
const thawSyncMs = 2_000;
/** How often a SIGSTOP freeze looks whether every process of the group has stopped. */
const stopPollMs = 2;
/** Bound on waiting, after the kill, for a killed fsfreeze to return from the kernel: a freeze ioctl syncs the filesystem first, which takes seconds on slow storage. */
const fsfreezeReapMs = 5_000;
/** fsfreeze -u calls to thaw and verify: one thaw plus one EINVAL normally; more means something else refreezes it. */
const thawVerifyTriesMax = 3;
/** Bound on reading the rest of fsfreeze's stderr after it exited. */
const stderrDrainMs = 100;
/** Bound on the check for a stray freeze before a disk stops: two fsfreeze -u, normally a few ms. */
const strayCheckMs = 5_000;
/** Output of a freeze or thaw command kept for the error message. */
const commandOutputMax = 4_096;
/** Processes of one group followed when checking a SIGSTOP: a bound on a runaway forker. */
const groupMembersMax = 1_024;

type How =
  | { kind: 'fsfreeze'; mountPoint: string; device: string }
  | { kind: 'signal'; pgid: number; startTicks: string | null; thawSignal: string }
  | { kind: 'command'; pgid: number; startTicks: string | null; argv: string[]; cwd: string | undefined; uid: number | undefined; gid: number | undefined;
      env: Record<string, string>; secretEnvFile?: string };

/** One writer frozen (or being frozen) by this node. Persisted. */
export interface FrozenEntry {
  resource: string;
  group: string;
  backup: string;
  sinceWallMs: number;
  actionTimeoutMs: number;
  how: How;
}

/** Messages for clusterd; those with an event id become events in the cluster log. */
export type FreezerLog = (level: 'info' | 'warning' | 'error', message: string, event?: string, data?: Record<string, unknown>) => void;

/** An action failed; mayHaveTakenEffect: the writer may be frozen anyway (killed mid-way, timed out). */
class ActionError extends Error {
  constructor(message: string, readonly mayHaveTakenEffect: boolean) {
    super(message);
  }
}

/** fsfreeze -f answered EBUSY: the filesystem is frozen, and not by this freeze. */
class FrozenByOthers extends ActionError {
  constructor(message: string) {
    super(message, false);
  }
}

export class Freezer {
  private readonly entries = new Map<string, FrozenEntry>();
  private readonly chains = new Map<string, Promise<void>>();
  /** Freezes under way, by resource: a thaw or a fence aborts them. */
  private readonly freezing = new Map<string, { controller: AbortController; backup: string }>();
  /** Writer -> the resources whose checks it quiets while frozen. */
  private readonly quietBy = new Map<string, string[]>();
  /** Per resource, grows whenever it becomes quiet: a check that overlapped a freeze at all counts for nothing. */
  private readonly quietCount = new Map<string, number>();
  /** Grows with every thawAllSync: a freeze that straddles one undoes itself. */
  private fences = 0;
  private writing: Promise<void> | null = null;
  /** Synchronous writes of the list so far: an asynchronous write begun before one must not rename over it. */
  private syncWrites = 0;
  private nextWrite: Promise<void> | null = null;
  readonly file: string;

  constructor(private readonly agents: AgentRegistry, private readonly log: FreezerLog,
    dataDir = process.env.CLUSTERD_DATA_DIR ?? os.tmpdir()) {
    this.file = path.join(dataDir, frozenFileName);
  }

  /** Resources frozen (or being frozen) now. */
  frozenResources(): string[] {
    return [...this.entries.keys()].sort();
  }

  /**
   * Wraps every agent call (monitor.ts): freeze and thaw are carried out here; a stop thaws first;
   * checks of a quiet resource answer alive.
   */
  async around(op: AgentOp, spec: ResourceSpec, ctx: AgentContext, run: () => Promise<CallData | undefined>): Promise<CallData | undefined> {
    switch (op) {
      case 'freeze': await this.freeze(spec, ctx); return undefined;
      case 'thaw': await this.thaw(spec, ctx); return undefined;
      case 'offline': case 'terminate': case 'maintOffline':
        await this.release(spec.name, `${op} of resource '${spec.name}'`, this.mountOf(spec));
        return run();
      case 'looksAlive': case 'isAlive': {
        if (this.quiet(spec.name)) return { alive: true };
        const before = this.quietCount.get(spec.name) ?? 0;
        const quietedSince = () => (this.quietCount.get(spec.name) ?? 0) !== before || this.quiet(spec.name);
        try {
          const data = await run();
          return quietedSince() ? { alive: true } : data;
        } catch (err) {
          if (quietedSince()) return { alive: true };
          throw err;
        }
      }
      default: return run();
    }
  }

  // ---- freeze and thaw ------------------------------------------------------------------------

  async freeze(spec: ResourceSpec, ctx: AgentContext): Promise<void> {
    const backup = spec.backup;
    if (backup === undefined) throw new Error(`freeze of resource '${spec.name}' carries no backup id`);
    const writer = writerSpec(spec.type, spec.priv);
    if (writer === null) throw new Error(`resource '${spec.name}' declares no freeze action (freezeSignal, freezeCommand, freeze=fsfreeze)`);
    const controller = new AbortController();
    const signal = AbortSignal.any([ctx.signal, controller.signal]);
    // Registered before waiting for its turn: a thaw that comes meanwhile cancels it.
    this.freezing.get(spec.name)?.controller.abort();
    this.freezing.set(spec.name, { controller, backup: backup.id });
    return this.serial(spec.name, async () => {
      try {
        await this.freezeNow(spec, backup, writer.action, writer.actionTimeoutMs, signal);
      } finally {
        if (this.freezing.get(spec.name)?.controller === controller) this.freezing.delete(spec.name);
      }
    });
  }

  private async freezeNow(spec: ResourceSpec, backup: { id: string; quiet: string[] }, action: WriterAction, actionTimeoutMs: number, signal: AbortSignal): Promise<void> {
    const held = this.entries.get(spec.name);
    if (held !== undefined) {
      if (held.backup === backup.id) return;
      throw new Error(`resource '${spec.name}' is frozen already, by backup ${held.backup}`);
    }
    if (signal.aborted) throw new Error(`freeze of resource '${spec.name}' was cancelled before it started (a thaw or a fence came first)`);
    const agent = this.agents.get(spec.type);
    const target = agent.freezeTarget?.(spec);
    if (target === undefined) throw new Error(`resource type '${spec.type}' cannot be frozen`);
    const entry: FrozenEntry = { resource: spec.name, group: spec.group, backup: backup.id, sinceWallMs: Date.now(), actionTimeoutMs, how: await how(action, target, spec) };
    const fences = this.fences;
    this.setQuiet(spec.name, backup.quiet);
    try {
      this.entries.set(spec.name, entry);
      await this.persist(); // the intent is durable before anything is frozen
      await agent.setFrozen?.(spec.name, true);
      await act('freeze', entry, action, signal);
      if (decide.straddlesFence(fences, this.fences)) throw new ActionError(`every resource was stopped (fenced) while resource '${spec.name}' was being frozen`, true);
    } catch (err) {
      // A freeze that failed is undone (thawed, and a filesystem's thaw verified), except a
      // filesystem frozen by someone else: thawed and reported as such right after.
      const stray = err instanceof FrozenByOthers;
      await this.undo(entry, action, !stray && (!(err instanceof ActionError) || err.mayHaveTakenEffect || action.kind === 'command'));
      if (stray && entry.how.kind === 'fsfreeze') await this.thawStray(entry.resource, entry.group, entry.how.mountPoint, 'found by a freeze', AbortSignal.timeout(actionTimeoutMs));
      throw err;
    }
  }

  /**
   * Thaw now: a freeze of the same backup still under way is aborted (it undoes itself), then the
   * writer is thawed. Nothing frozen: done. A thaw undoes only its own backup's freeze: one that
   * arrives late, after another backup froze the writer, leaves that freeze alone.
   */
  async thaw(spec: ResourceSpec, ctx: AgentContext): Promise<void> {
    const backup = spec.backup?.id;
    const under = this.freezing.get(spec.name);
    if (under && decide.thawAbortsFreeze(under.backup, backup)) under.controller.abort();
    await this.serial(spec.name, async () => {
      const entry = this.entries.get(spec.name);
      if (entry !== undefined && backup !== undefined && entry.backup !== backup) return;
      if (entry === undefined) {
        this.quietBy.delete(spec.name);
        return;
      }
      await this.thawEntry(entry, ctx.signal);
    });
  }

  /** Before a stop: thaw if frozen. A thaw that fails is logged; the stop goes on (and reports its own failure). */
  async release(resource: string, why: string, mount?: { mountPoint: string; group: string }): Promise<void> {
    this.freezing.get(resource)?.controller.abort();
    await this.serial(resource, async () => {
      const entry = this.entries.get(resource);
      if (entry === undefined) {
        // A disk no backup holds may still be frozen by someone else: its unmount would hang.
        if (mount !== undefined) await this.thawStray(resource, mount.group, mount.mountPoint, `found before the ${why}`, AbortSignal.timeout(strayCheckMs));
        return;
      }
      const data = { backup: entry.backup, resource, group: entry.group };
      this.log('warning', `${why}: resource '${resource}' was frozen by backup ${entry.backup}: thawing it first`, 'BACKUP_WRITER_THAWED', data);
      await this.thawEntry(entry, AbortSignal.timeout(entry.actionTimeoutMs)).catch((err: Error) =>
        this.log('error', `resource '${resource}' could not be thawed before its stop: ${err.message}`, 'BACKUP_THAW_FAILED', data));
    });
  }

  private async thawEntry(entry: FrozenEntry, signal: AbortSignal): Promise<void> {
    const writer = this.writerOf(entry);
    const thaws = await act('thaw', entry, writer, signal);
    await this.forget(entry);
    if (thaws > 1 && entry.how.kind === 'fsfreeze') this.reportStray(entry.resource, entry.group, entry.how.mountPoint, 'frozen again after the thaw of backup ' + entry.backup);
  }

  /**
   * A filesystem of a disk that no backup of this node holds may be frozen (fsfreeze by hand,
   * another tool, a freeze of ours that landed after its thaw): thaw it (verified) and report it.
   * Never throws: a failure is reported.
   */
  private async thawStray(resource: string, group: string, mountPoint: string, when: string, signal: AbortSignal): Promise<void> {
    try {
      if ((await thawFs(mountPoint, signal)) > 0) this.reportStray(resource, group, mountPoint, when);
    } catch (err) {
      this.log('error', `disk '${resource}' (group ${group}): ${mountPoint} may be frozen with no backup holding it, and could not be thawed: ${(err as Error).message}`, 'BACKUP_THAW_FAILED', { resource, group, mountPoint });
    }
  }

  private reportStray(resource: string, group: string, mountPoint: string, when: string): void {
    const message = `disk '${resource}' (group ${group}): ${mountPoint} was frozen with no backup holding it (${when}): thawed it (fsfreeze -u); find what else freezes it (fsfreeze by hand, another backup tool)`;
    stderr(message);
    this.log('warning', message, 'BACKUP_STRAY_FREEZE_THAWED', { resource, group, mountPoint });
  }

  /** A freeze failed: thaw what may have taken effect; the record goes once nothing is frozen. */
  private async undo(entry: FrozenEntry, action: WriterAction, thawFirst: boolean): Promise<void> {
    try {
      if (thawFirst) await act('thaw', entry, action, AbortSignal.timeout(entry.actionTimeoutMs));
      await this.forget(entry);
    } catch (err) {
      this.log('error', `resource '${entry.resource}': the freeze failed and the thaw after it failed too (${(err as Error).message}); it stays recorded as frozen and is thawed again before it stops, or when a resource monitor starts`);
    }
  }

  private async forget(entry: FrozenEntry): Promise<void> {
    if (this.entries.get(entry.resource) === entry) {
      this.entries.delete(entry.resource);
      await this.persist();
    }
    this.quietBy.delete(entry.resource);
    await this.agents.get(entry.how.kind === 'fsfreeze' ? 'disk' : 'process').setFrozen?.(entry.resource, false);
  }

  /** The mount point of a block-device disk this node holds mounted, if `spec` is one. */
  private mountOf(spec: ResourceSpec): { mountPoint: string; group: string } | undefined {
    if (spec.type !== 'disk') return undefined;
    try {
      const t = this.agents.get(spec.type).freezeTarget?.(spec);
      return t?.kind === 'mount' ? { mountPoint: t.mountPoint, group: spec.group } : undefined;
    } catch {
      return undefined; // not a mounted block device (a directory, extended maintenance, not held)
    }
  }

  private writerOf(entry: FrozenEntry): WriterAction {
    const h = entry.how;
    if (h.kind === 'fsfreeze') return { kind: 'fsfreeze', mountPoint: h.mountPoint, device: h.device };
    if (h.kind === 'signal') return { kind: 'signal', freezeSignal: 'SIGSTOP', thawSignal: h.thawSignal };
    return { kind: 'command', freezeCommand: [], thawCommand: h.argv };
  }

  // ---- quiet checks ---------------------------------------------------------------------------

  private setQuiet(writer: string, names: string[]): void {
    const all = names.includes(writer) ? names : [writer, ...names];
    this.quietBy.set(writer, all);
    for (const name of all) this.quietCount.set(name, (this.quietCount.get(name) ?? 0) + 1);
  }

  private quiet(resource: string): boolean {
    for (const names of this.quietBy.values()) if (names.includes(resource)) return true;
    return false;
  }

  // ---- start and the way out ------------------------------------------------------------------

  /**
   * At monitor start, before `ready`: thaw what an earlier monitor left frozen. Filesystems are
   * thawed wherever their device is mounted; a process group only if it is the same process
   * (its start time) that was frozen. Bounded by recoverMaxMs; what cannot be thawed stays
   * recorded (a thaw or a stop of that resource tries again) and is reported.
   */
  async recover(): Promise<string[]> {
    let listed: FrozenEntry[];
    try {
      listed = JSON.parse(await readFile(this.file, 'utf8')) as FrozenEntry[];
      if (!Array.isArray(listed)) throw new Error('not a list');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log('error', `${this.file} is unreadable (${(err as Error).message}): cannot tell what an earlier resource monitor left frozen`);
      return [];
    }
    const until = performance.now() + recoverMaxMs;
    const thawed: string[] = [];
    for (const entry of listed) {
      const left = Math.max(1, Math.ceil(until - performance.now()));
      try {
        const done = await recoverOne(entry, AbortSignal.timeout(Math.min(left, entry.actionTimeoutMs)));
        thawed.push(entry.resource);
        const message = `resource '${entry.resource}' (group ${entry.group}) was left frozen by backup ${entry.backup} of an earlier resource monitor: ${done}`;
        stderr(message);
        this.log('warning', message, 'BACKUP_LEFTOVER_THAWED', { backup: entry.backup, resource: entry.resource, group: entry.group });
      } catch (err) {
        this.entries.set(entry.resource, entry);
        const message = `resource '${entry.resource}' was left frozen by backup ${entry.backup} and could not be thawed: ${(err as Error).message}; it is thawed again before it stops`;
        stderr(message);
        this.log('error', message, 'BACKUP_THAW_FAILED', { backup: entry.backup, resource: entry.resource, group: entry.group });
      }
    }
    await this.persist();
    return thawed;
  }

  /**
   * The way out (fence, clusterd gone, shutdown, a crash): thaw synchronously before anything is
   * killed or unmounted. Process groups about to be killed get their thaw signal (harmless, and a
   * stopped group then dies at once); freeze commands are not run (their application is being
   * killed). A record stays in the file if its thaw failed or a freeze of it was under way, so
   * that the next monitor thaws it again.
   */
  thawAllSync(why: string): string[] {
    this.fences += 1;
    for (const f of this.freezing.values()) f.controller.abort();
    const thawed: string[] = [];
    for (const entry of [...this.entries.values()]) {
      const h = entry.how;
      let done = true;
      if (h.kind === 'fsfreeze') {
        // Kept recorded while a killed fsfreeze of ours may still land: the next monitor thaws again.
        done = thawFsSync(h.mountPoint) && !fsfreezeBusy(h.mountPoint);
      } else if (sameProcessSync(h.pgid, h.startTicks)) {
        signalGroup(h.pgid, h.kind === 'signal' ? h.thawSignal : 'SIGCONT');
      }
      if (done && !this.freezing.has(entry.resource)) this.entries.delete(entry.resource);
      if (done) thawed.push(entry.resource);
    }
    this.quietBy.clear();
    this.persistSync();
    if (thawed.length > 0) stderr(`${why}: thawed ${thawed.join(', ')} before stopping every resource`);
    return thawed;
  }

  // ---- persistence ----------------------------------------------------------------------------

  /**
   * Writes the list as it is when the write starts. One write at a time (concurrent freezes of
   * several resources): callers that come during a write share the next one (group commit).
   */
  private persist(): Promise<void> {
    if (this.writing === null) {
      this.writing = this.writeFile().finally(() => { this.writing = null; });
      return this.writing;
    }
    this.nextWrite ??= this.writing.catch(() => undefined).then(() => {
      this.nextWrite = null;
      return this.persist();
    });
    return this.nextWrite;
  }

  /** Temporary file, fsync, rename, fsync of the directory: the list on disk is always whole. */
  private async writeFile(): Promise<void> {
    const tmp = `${this.file}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    // A synchronous write (thawAllSync) after this list was taken holds a newer one: never rename over it.
    const generation = this.syncWrites;
    try {
      await fh.writeFile(JSON.stringify([...this.entries.values()]));
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (generation !== this.syncWrites) {
      await unlink(tmp).catch(() => undefined);
      return;
    }
    await rename(tmp, this.file);
    const dir = await open(path.dirname(this.file), 'r');
    try { await dir.sync(); } finally { await dir.close(); }
  }

  private persistSync(): void {
    this.syncWrites += 1;
    try {
      const tmp = `${this.file}.sync.tmp`; // never the async writer's temporary file
      writeFileSync(tmp, JSON.stringify([...this.entries.values()]), { mode: 0o600 });
      const fd = openSync(tmp, 'r');
      try { fsyncSync(fd); } finally { closeSync(fd); }
      renameSync(tmp, this.file);
      const dir = openSync(path.dirname(this.file), 'r');
      try { fsyncSync(dir); } finally { closeSync(dir); }
    } catch (err) {
      stderr(`could not record the frozen writers in ${this.file}: ${(err as Error).message}`);
    }
  }

  private serial(resource: string, fn: () => Promise<void>): Promise<void> {
    const prev = this.chains.get(resource) ?? Promise.resolve();
    const p = prev.then(fn, fn);
    const tail = p.then(() => undefined, () => undefined);
    this.chains.set(resource, tail);
    void tail.then(() => { if (this.chains.get(resource) === tail) this.chains.delete(resource); });
    return p;
  }
}

/**
 * clusterd's side, when its resource monitor is lost (killed for a deadlock, crashed): before the
 * monitor's process groups are killed, thaw what it recorded as frozen, synchronously. A process
 * blocked on a frozen filesystem cannot die until it is thawed, and the next monitor may take a
 * while to start. The record is left as it is: the next monitor's recover() thaws again (a no-op)
 * and rewrites it. Returns what was thawed; never throws.
 */
export function thawLeftoversSync(dataDir: string): string[] {
  let listed: FrozenEntry[];
  try {
    listed = JSON.parse(readFileSync(path.join(dataDir, frozenFileName), 'utf8')) as FrozenEntry[];
    if (!Array.isArray(listed)) return [];
  } catch {
    return [];
  }
  const thawed: string[] = [];
  for (const entry of listed) {
    const h = entry.how;
    if (h.kind === 'fsfreeze') {
      if (thawFsSync(h.mountPoint)) thawed.push(entry.resource);
    } else if (sameProcessSync(h.pgid, h.startTicks)) {
      signalGroup(h.pgid, h.kind === 'signal' ? h.thawSignal : 'SIGCONT');
      thawed.push(entry.resource);
    }
  }
  return thawed;
}

/** thawFs on the way out, synchronously: fsfreeze -u until EINVAL (verified not frozen), each bounded by thawSyncMs. */
function thawFsSync(mountPoint: string): boolean {
  for (let i = 0; i < thawVerifyTriesMax; i++) {
    const r = spawnSync('fsfreeze', ['-u', mountPoint], { timeout: thawSyncMs, encoding: 'utf8', env: toolEnv() });
    if (r.status !== 0) return /invalid argument/i.test(r.stderr ?? '');
  }
  return false;
}

// ---- actions --------------------------------------------------------------------------------------

async function how(action: WriterAction, target: FreezeTarget, spec: ResourceSpec): Promise<How> {
  if (action.kind === 'fsfreeze') {
    if (target.kind !== 'mount') throw new Error(`resource '${spec.name}': fsfreeze needs a mounted disk`);
    return { kind: 'fsfreeze', mountPoint: target.mountPoint, device: target.device };
  }
  if (target.kind !== 'process') throw new Error(`resource '${spec.name}': ${action.kind} freeze needs a process resource`);
  const startTicks = await startTicksOf(target.pgid);
  if (action.kind === 'signal') return { kind: 'signal', pgid: target.pgid, startTicks, thawSignal: action.thawSignal };
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(target.env)) if (v !== undefined) env[k] = v;
  const cwd = typeof spec.priv.cwd === 'string' ? spec.priv.cwd : undefined;
  return { kind: 'command', pgid: target.pgid, startTicks, argv: action.thawCommand, cwd, uid: target.uid, gid: target.gid, env,
    ...(target.secretEnvFile !== undefined ? { secretEnvFile: target.secretEnvFile } : {}) };
}

/**
 * Carries out one freeze or thaw. Throws ActionError saying whether the writer may be frozen anyway.
 * A filesystem's thaw answers how many thaws took effect (thawFs); anything else answers 0.
 */
async function act(op: 'freeze' | 'thaw', entry: FrozenEntry, action: WriterAction, signal: AbortSignal): Promise<number> {
  const h = entry.how;
  const name = entry.resource;
  if (h.kind === 'fsfreeze') {
    if (op === 'thaw') return thawFs(h.mountPoint, signal).catch((err: Error) => { throw new ActionError(`disk '${name}': ${err.message}`, true); });
    if (!(await mountedHere(h.mountPoint, h.device))) {
      // Never fsfreeze a directory that is not the disk's mount point: that would freeze the filesystem holding it.
      throw new ActionError(`disk '${name}': ${h.device} is not mounted on ${h.mountPoint}`, false);
    }
    const r = await fsfreeze('-f', h.mountPoint, signal).catch((err: RunError) => { throw new ActionError(`disk '${name}': ${err.message}`, err.killed); });
    if (r === 'busy') throw new FrozenByOthers(`disk '${name}': ${h.mountPoint} is frozen already, by someone else (fsfreeze -f: Device or resource busy): no backup of this node holds it`);
    return 0;
  }
  if (h.kind === 'signal') {
    if (op === 'thaw') {
      if (await sameProcess(h.pgid, h.startTicks)) signalGroup(h.pgid, h.thawSignal);
      return 0;
    }
    if (action.kind !== 'signal') throw new ActionError(`resource '${name}': not a signal writer`, false);
    if (!(await sameProcess(h.pgid, h.startTicks))) throw new ActionError(`resource '${name}': its process group ${h.pgid} is gone`, false);
    try {
      process.kill(-h.pgid, action.freezeSignal);
    } catch (err) {
      throw new ActionError(`resource '${name}': ${action.freezeSignal} to process group ${h.pgid}: ${(err as Error).message}`, false);
    }
    if (stoppingSignals.includes(action.freezeSignal)) await waitStopped(name, h.pgid, signal);
    return 0;
  }
  const argv = op === 'freeze' && action.kind === 'command' ? action.freezeCommand : h.argv;
  if (op === 'thaw' && !(await sameProcess(h.pgid, h.startTicks))) return 0; // its application is gone (killed): nothing to thaw
  await runAs(argv, h, { CLUSTERD_BACKUP_ID: entry.backup, CLUSTERD_BACKUP_ACTION: op }, signal).catch((err: RunError) => {
    throw new ActionError(`resource '${name}': ${op} command ${argv.join(' ')}: ${err.message}`, true);
  });
  return 0;
}

/** At start: thaw one record left by an earlier monitor; says what was done. */
async function recoverOne(entry: FrozenEntry, signal: AbortSignal): Promise<string> {
  const h = entry.how;
  if (h.kind === 'fsfreeze') {
    const where = await mountPointsOf(h.device);
    if (where.length === 0) return `${h.device} is not mounted here any more: nothing to thaw`;
    for (const mp of where) await thawFs(mp, signal);
    return `thawed the filesystem of ${h.device} (fsfreeze -u ${where.join(', ')})`;
  }
  if (!(await sameProcess(h.pgid, h.startTicks))) return `its process group ${h.pgid} is gone: nothing to thaw`;
  if (h.kind === 'signal') {
    signalGroup(h.pgid, h.thawSignal);
    return `sent ${h.thawSignal} to its process group ${h.pgid}, which still runs`;
  }
  await runAs(h.argv, h, { CLUSTERD_BACKUP_ID: entry.backup, CLUSTERD_BACKUP_ACTION: 'thaw' }, signal);
  return `ran its thaw command (${h.argv.join(' ')}) for its process group ${h.pgid}, which still runs`;
}

interface RunError extends Error {
  /** The command was killed (timeout, abort): it may have done its work. */
  killed: boolean;
}

/**
 * fsfreeze children that may still act on a mount point: killed (abort, timeout) but not reaped
 * yet. A process killed inside the FIFREEZE ioctl finishes the ioctl first (it waits for writers
 * and syncs, uninterruptibly) and only then dies, so the filesystem may become frozen after the
 * kill. No fsfreeze on that mount point starts until they are reaped: a thaw that ran first would
 * find nothing frozen (EINVAL) while the freeze is still on its way.
 */
const fsfreezeInFlight = new Map<string, Set<Promise<void>>>();

/** fsfreeze children of ours on `mountPoint` not reaped yet (the synchronous way out keeps their record). */
export function fsfreezeBusy(mountPoint: string): boolean {
  return (fsfreezeInFlight.get(mountPoint)?.size ?? 0) > 0;
}

/**
 * One fsfreeze -f or -u on a mount point. Answers only once the child has been reaped (its ioctl
 * has returned, so whatever it did is done), never on the abort alone: after the abort the child
 * gets SIGKILL and is waited for up to fsfreezeReapMs more; past that the call fails as killed
 * (it may still take effect) and the child stays in fsfreezeInFlight until it is reaped.
 * 'busy': -f found it frozen already (EBUSY). 'not-frozen': -u found nothing frozen (EINVAL).
 */
async function fsfreeze(flag: '-f' | '-u', mountPoint: string, signal: AbortSignal): Promise<'ok' | 'busy' | 'not-frozen'> {
  const fail = (message: string, killed: boolean): never => { throw Object.assign(new Error(message), { killed }) as RunError; };
  const earlier = [...(fsfreezeInFlight.get(mountPoint) ?? [])];
  if (earlier.length > 0 && !(await settledWithin(Promise.all(earlier), signal, 0))) {
    fail(`an earlier fsfreeze on ${mountPoint} was killed and has not returned from the kernel yet: it may still take effect`, true);
  }
  if (signal.aborted) fail(`fsfreeze ${flag} ${mountPoint}: cancelled before it started`, false);
  const child = spawn('fsfreeze', [flag, mountPoint], { stdio: ['ignore', 'ignore', 'pipe'], env: toolEnv() });
  let output = '';
  child.stderr.on('data', (b: Buffer) => { output = (output + b.toString()).slice(-commandOutputMax); });
  const exited = new Promise<{ code: number | null; sig: string | null; err?: Error }>((resolve) => {
    child.once('error', (err) => resolve({ code: null, sig: null, err }));
    child.once('exit', (code, sig) => resolve({ code, sig }));
  });
  const reaped = exited.then(() => undefined);
  const set = fsfreezeInFlight.get(mountPoint) ?? new Set<Promise<void>>();
  fsfreezeInFlight.set(mountPoint, set);
  set.add(reaped);
  void reaped.then(() => {
    set.delete(reaped);
    if (set.size === 0 && fsfreezeInFlight.get(mountPoint) === set) fsfreezeInFlight.delete(mountPoint);
  });
  const onAbort = () => child.kill('SIGKILL');
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    if (!(await settledWithin(reaped, signal, fsfreezeReapMs))) {
      fail(`fsfreeze ${flag} ${mountPoint} (pid ${child.pid}) was killed and has not returned from the kernel within ${fsfreezeReapMs} ms: it may still take effect`, true);
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  const r = await exited;
  await new Promise<void>((resolve) => { if (child.stderr.readableEnded || child.stderr.destroyed) resolve(); else child.stderr.once('close', () => resolve()); setTimeout(resolve, stderrDrainMs); });
  const text = output.trim();
  if (r.err !== undefined) fail(`fsfreeze ${flag} ${mountPoint}: cannot start: ${r.err.message}`, false);
  if (r.code === 0) return 'ok';
  if (flag === '-f' && /busy/i.test(text)) return 'busy';
  if (flag === '-u' && /invalid argument/i.test(text)) return 'not-frozen';
  return fail(`fsfreeze ${flag} ${mountPoint}: ${text || (r.sig !== null ? `killed by ${r.sig}` : `exited with code ${r.code}`)}`, r.sig !== null);
}

/** Whether `p` settled: waits for it, and once `signal` is aborted at most `graceMs` more. */
async function settledWithin(p: Promise<unknown>, signal: AbortSignal, graceMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const late = new Promise<false>((resolve) => {
    const arm = () => { timer = setTimeout(() => resolve(false), graceMs); };
    if (signal.aborted) arm();
    else { onAbort = arm; signal.addEventListener('abort', onAbort, { once: true }); }
  });
  try {
    return await Promise.race([p.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
    if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
  }
}

/**
 * Thaws a filesystem and verifies it: fsfreeze -u until the kernel answers EINVAL (not frozen).
 * FITHAW is the kernel's own frozen-state check without side effects when nothing is frozen (a
 * second FIFREEZE would freeze a thawed filesystem; a write probe would block uninterruptibly in
 * its child). It waits first for every fsfreeze of ours on that mount point to be reaped, so no
 * freeze of ours can land after the EINVAL. Returns how many thaws took effect: 0 nothing was
 * frozen, 1 it was frozen once, 2 or more something froze it again in between.
 */
export async function thawFs(mountPoint: string, signal: AbortSignal): Promise<number> {
  let thawed = 0;
  for (let i = 0; i < thawVerifyTriesMax; i++) {
    if ((await fsfreeze('-u', mountPoint, signal)) === 'not-frozen') return thawed;
    thawed += 1;
  }
  throw new Error(`${mountPoint} was frozen again each time it was thawed (${thawVerifyTriesMax} thaws): something else keeps freezing it`);
}

/** A freeze or thaw command: as the resource runs (user, cwd, env), its own process group, killed with the group when the call is aborted. */
async function runAs(argv: string[], h: Extract<How, { kind: 'command' }>, extra: Record<string, string>, signal: AbortSignal): Promise<void> {
  // The secrets are read from their file for each command: the record on disk holds only its path.
  let secrets: Record<string, string> = {};
  if (h.secretEnvFile !== undefined) {
    try {
      secrets = await readSecretEnvFile(h.env.CLUSTERD_RESOURCE ?? '?', h.secretEnvFile);
    } catch (err) {
      throw Object.assign(new Error(`cannot start: ${(err as Error).message}`), { killed: false }) as RunError;
    }
  }
  return new Promise((resolve, reject) => {
    const fail = (message: string, killed: boolean) => reject(Object.assign(new Error(message), { killed }) as RunError);
    if (signal.aborted) return fail('cancelled before it started', false);
    let child;
    try {
      child = spawn(argv[0]!, argv.slice(1), {
        cwd: h.cwd, env: { ...h.env, ...secrets, ...extra }, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
        ...(h.uid !== undefined ? { uid: h.uid } : {}), ...(h.gid !== undefined ? { gid: h.gid } : {}),
      });
    } catch (err) {
      return fail(`cannot start: ${(err as Error).message}`, false);
    }
    let output = '';
    const keep = (b: Buffer) => { output = (output + b.toString()).slice(-commandOutputMax); };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const pgid = child.pid;
    const onAbort = () => { if (pgid !== undefined) signalGroup(pgid, 'SIGKILL'); };
    signal.addEventListener('abort', onAbort, { once: true });
    child.once('error', (err) => { signal.removeEventListener('abort', onAbort); fail(`cannot start: ${err.message}`, false); });
    child.once('close', (code, sig) => {
      signal.removeEventListener('abort', onAbort);
      if (pgid !== undefined) signalGroup(pgid, 'SIGKILL'); // leftovers of the command's group
      const last = output.trim().split('\n').pop() ?? '';
      if (code === 0 && !signal.aborted) resolve();
      else if (signal.aborted) fail(`killed: it did not finish in time${last ? ` (last output: ${last})` : ''}`, true);
      else fail(`exited with ${sig === null ? `code ${code}` : `signal ${sig}`}${last ? `: ${last}` : ''}`, false);
    });
  });
}

/** Until every process of the group is stopped (stoppedNow): after a SIGSTOP the writes have stopped. */
async function waitStopped(name: string, pgid: number, signal: AbortSignal): Promise<void> {
  for (;;) {
    const members = await groupMembers(pgid);
    const running = [];
    for (const pid of members) if (!(await stoppedNow(pid))) running.push(pid);
    if (running.length === 0) return;
    if (signal.aborted) throw new ActionError(`resource '${name}': processes ${running.join(', ')} of group ${pgid} had not stopped when the freeze timed out`, true);
    await sleep(stopPollMs, undefined, { signal }).catch(() => undefined);
  }
}

/** SIGSTOP's bit in the pending masks of /proc/PID/status (signal 19, bit 18). */
const sigstopBit = 1n << 18n;

/**
 * A process that runs no code of its own until a SIGCONT: stopped (T, t), gone (Z, X), or a
 * vfork parent (a shell running a command) with the SIGSTOP pending. A vfork parent sleeps
 * uninterruptibly (D) in the kernel until its child calls exec or exits; that child is in the
 * group and stopped, so the parent never gets back to user mode to act on its SIGSTOP and never
 * shows T. It cannot write meanwhile, and on its way out of the kernel it stops first.
 */
async function stoppedNow(pid: number): Promise<boolean> {
  const state = (await statFields(pid))?.[0];
  if (state === undefined || state === 'T' || state === 't' || state === 'Z' || state === 'X') return true;
  if (state !== 'D') return false;
  const [status, wchan] = await Promise.all([readFile(`/proc/${pid}/status`, 'utf8').catch(() => ''), readFile(`/proc/${pid}/wchan`, 'utf8').catch(() => '')]);
  const pending = (field: string) => BigInt(`0x${new RegExp(`^${field}:\\s*([0-9a-f]+)$`, 'm').exec(status)?.[1] ?? '0'}`);
  const stopPending = ((pending('SigPnd') | pending('ShdPnd')) & sigstopBit) !== 0n;
  return stopPending && /clone|fork/.test(wchan);
}

/** The group's processes: the leader and its descendants (via /proc/PID/task/TID/children) that are still in the group. */
async function groupMembers(pgid: number): Promise<number[]> {
  const out: number[] = [];
  const queue = [pgid];
  const seen = new Set<number>();
  while (queue.length > 0 && out.length < groupMembersMax) {
    const pid = queue.shift()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    const fields = await statFields(pid);
    if (fields === null) continue;
    if (Number(fields[2]) === pgid) out.push(pid);
    const tasks = await readdirSafe(`/proc/${pid}/task`);
    for (const tid of tasks) {
      const kids = await readFile(`/proc/${pid}/task/${tid}/children`, 'utf8').catch(() => '');
      for (const k of kids.split(' ')) if (/^\d+$/.test(k)) queue.push(Number(k));
    }
  }
  return out;
}

function readdirSafe(dir: string): Promise<string[]> {
  return readdir(dir).catch(() => []);
}

/** /proc/PID/stat fields after the command name: [state, ppid, pgrp, ...]; field 22 (start time) is index 19. */
async function statFields(pid: number): Promise<string[] | null> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  return stat === null ? null : stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

async function startTicksOf(pid: number): Promise<string | null> {
  return (await statFields(pid))?.[19] ?? null;
}

/** The process `pid` still runs and is the one that was frozen (same start time): a pid reused since is left alone. */
async function sameProcess(pid: number, startTicks: string | null): Promise<boolean> {
  const fields = await statFields(pid);
  return fields !== null && fields[0] !== 'Z' && fields[0] !== 'X' && (startTicks === null || fields[19] === startTicks);
}

function sameProcessSync(pid: number, startTicks: string | null): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] !== 'Z' && fields[0] !== 'X' && (startTicks === null || fields[19] === startTicks);
  } catch {
    return false;
  }
}

function signalGroup(pgid: number, signal: string): void {
  try {
    process.kill(-pgid, signal as NodeJS.Signals);
  } catch {
    // ESRCH: gone.
  }
}

function stderr(message: string): void {
  try {
    process.stderr.write(`clusterd resource monitor (pid ${process.pid}): ${message}\n`);
  } catch {
    // clusterd's stderr may be gone.
  }
}
