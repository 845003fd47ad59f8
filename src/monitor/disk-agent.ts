// The `disk` resource type (WSFC's Physical Disk): a directory on shared storage (`path`), or a
// block device with a filesystem, mounted on online and unmounted on offline (`device`, `fstype`,
// `mountPoint`, optional `mountOptions`). `minFreeMb` (default 64) is the free-space warning
// threshold of IsAlive.
//
// The private sector (seed 004's "sector 12"): a fixed 512-byte file at the disk's root,
// `.clusterd-sector`, holding the owner node, the group's epoch, a counter and a CRC-32C. It is
// written with fdatasync and read back:
//   - online: what it finds decides (core/disk-sector.ts): absent or released, take it; a newer
//     epoch, refuse (DISK_SECTOR_EPOCH_AHEAD); not released but left by this cluster's previous
//     owner of the group (older epoch), take it (the ownership rules prove that owner stopped);
//     anything else, watch it for `sectorWatchMs` (more than one device-check interval): if its
//     counter moves, someone still writes it: refuse. Then claim it (our cluster, node, epoch).
//     Each online reports what it found (DISK_SECTOR_CLAIMED).
//   - every `deviceCheckIntervalMs` (fixed) while online and not in extended maintenance: read it
//     (a newer epoch there means the disk was taken over: stop writing to it and report `lost` at
//     once, so that clusterd kills the dependents), write it with counter + 1, read it back.
//   - every stop on purpose leaves it `released` (over a record that is still ours): offline and
//     terminate (a disk in extended maintenance is remounted for that write), and every kill-all
//     of the monitor that can still run (fence, clusterd gone, shutdown). The agent keeps the
//     sector open while it holds the disk, so that the release still reaches a device whose mount
//     the kill-all detached lazily; closing it lets the detached filesystem go.
// The reservation itself is the group's ownership record in the quorum store (group, node, epoch,
// written by the coordinator), renewed by the node's lease; the sector is the on-disk witness of it.
//
// LooksAlive: the device-check flag (the last check failed, or a check hangs). IsAlive: list the
// root, write, read back and delete a probe file, warn below the free-space threshold.

import { execFile, spawnSync } from 'node:child_process';
import { constants } from 'node:fs';
import { mkdir, open, readdir, readFile, realpath, stat, statfs, unlink, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { crc32c } from '../core/crc32c.js';
import { judgeSector, sectorAheadError, type SectorClaimant } from '../core/disk-sector.js';
import { parseDiskPriv, type DiskPriv } from '../core/disk-priv.js';
import type { PrivProps } from '../core/types.js';
import { diskSectorFile, type ResourceSpec } from './protocol.js';
import type { AgentContext, AgentEvents, FreezeTarget, ResourceAgent } from './agent.js';
import { toolEnv } from './resource-env.js';

/**
 * Device-level checks run this often while a disk is online: fixed, as in the article, because
 * the takeover wait below depends on it. Not a resource property.
 */
export const deviceCheckIntervalMs = 3_000;
/**
 * How long an online watches a private sector that was not released before it takes the disk:
 * one device-check interval plus 1 s for a loaded owner's timer lag. A live owner's counter moves
 * within it. This is the bound of the wait: online never waits longer for the sector.
 */
export const sectorWatchMs = deviceCheckIntervalMs + 1_000;
/** Reads during the watch: a moving counter is seen soon after it moves. */
const sectorPollMs = 200;
export const sectorBytes = 512;
const sectorMagic = 'CLUSTERD-SECTOR 1\n';
/** Offset of the 8 hex digits of the CRC-32C (over every byte before it); a newline ends the sector. */
const crcOffset = sectorBytes - 9;
/** A device check that has not finished after this long is a device failure: storage that hangs. */
const checkHungMs = 2 * deviceCheckIntervalMs;
/**
 * An unmount that finds the mount busy retries this long, then detaches it lazily (offline, with a
 * warning) or fails (entering extended maintenance). The dependents are confirmed stopped before
 * a disk goes offline, so only a process outside the cluster can still hold it.
 */
const umountBusyMs = 2_000;
/** terminate: the dependents were just killed; wait less for them to let go of the mount. */
const umountBusyTerminateMs = 1_000;
const umountRetryMs = 100;
/** Bound on one mount or umount command. */
const commandTimeoutMs = 60_000;

export interface SectorRecord {
  /** The cluster's name (sectors written before it was recorded have none). */
  cluster?: string;
  node: string;
  group: string;
  resource: string;
  epoch: number;
  counter: number;
  state: 'online' | 'released';
}

type Sector =
  | { kind: 'absent' }
  | { kind: 'bad'; raw: Buffer; why: string }
  | { kind: 'ok'; raw: Buffer; rec: SectorRecord };

export function encodeSector(rec: SectorRecord): Buffer {
  const body = sectorMagic + JSON.stringify(rec) + '\n';
  if (Buffer.byteLength(body) > crcOffset) throw new Error(`private sector record of '${rec.resource}' does not fit in ${sectorBytes} bytes`);
  const buf = Buffer.alloc(sectorBytes, 0x20);
  buf.write(body, 0, 'utf8');
  buf.write(crc32c(buf.subarray(0, crcOffset)).toString(16).padStart(8, '0'), crcOffset, 'latin1');
  buf[sectorBytes - 1] = 0x0a;
  return buf;
}

export function decodeSector(raw: Buffer): Sector {
  if (raw.length !== sectorBytes) return { kind: 'bad', raw, why: `${raw.length} bytes instead of ${sectorBytes} (torn or foreign)` };
  if (raw.subarray(0, sectorMagic.length).toString('latin1') !== sectorMagic) return { kind: 'bad', raw, why: 'not a clusterd private sector' };
  const crc = crc32c(raw.subarray(0, crcOffset)).toString(16).padStart(8, '0');
  if (raw.subarray(crcOffset, crcOffset + 8).toString('latin1') !== crc) return { kind: 'bad', raw, why: 'checksum mismatch (torn write or corruption)' };
  const line = raw.subarray(sectorMagic.length, crcOffset).toString('utf8');
  try {
    const rec = JSON.parse(line.slice(0, line.indexOf('\n'))) as SectorRecord;
    if (typeof rec.node !== 'string' || !Number.isSafeInteger(rec.epoch) || !Number.isSafeInteger(rec.counter)) throw new Error('fields');
    return { kind: 'ok', raw, rec };
  } catch {
    return { kind: 'bad', raw, why: 'unreadable record' };
  }
}

export async function readSector(file: string): Promise<Sector> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'absent' };
    throw err;
  }
  try {
    return await readSectorAt(fh);
  } finally {
    await fh.close();
  }
}

async function readSectorAt(fh: FileHandle): Promise<Sector> {
  const buf = Buffer.alloc(sectorBytes);
  const { bytesRead } = await fh.read(buf, 0, sectorBytes, 0);
  return decodeSector(buf.subarray(0, bytesRead));
}

/** One write of the whole sector in place (never truncated first), fdatasync, then read it back through a new open. */
async function writeSector(file: string, rec: SectorRecord): Promise<{ written: Buffer; back: Sector }> {
  const written = encodeSector(rec);
  const fh = await open(file, constants.O_RDWR | constants.O_CREAT, 0o644);
  try {
    await fh.write(written, 0, sectorBytes, 0);
    await fh.datasync();
  } finally {
    await fh.close();
  }
  return { written, back: await readSector(file) };
}

const sameSector = (a: Sector, b: Sector): boolean =>
  a.kind === 'absent' ? b.kind === 'absent' : b.kind !== 'absent' && a.raw.equals(b.raw);

/** What the agent knows of one disk it holds. */
interface Disk {
  name: string;
  group: string;
  node: string;
  epoch: number;
  priv: DiskPriv;
  sector: string;
  counter: number;
  /** Device checks should run (online, not in extended maintenance, not lost). */
  checking: boolean;
  timer: NodeJS.Timeout | undefined;
  nextCheckAtMs: number;
  /** Sector I/O in order: device checks, claims and releases never overlap. */
  io: Promise<void>;
  checkStartedMs: number | null;
  /** Why the last device check failed; null after a good one. */
  deviceFailed: string | null;
  /** The sector showed a newer epoch: never write it again. */
  lost: boolean;
  /** Extended maintenance: dismounted internally, no device checks. */
  extended: boolean;
  /** Device mode: mounted by this agent (or adopted). */
  mounted: boolean;
  lowSpace: boolean;
  /** The last foreign sector content warned about, so that a stale writer is reported once. */
  lastForeign: string | null;
  /** Frozen for a backup (fsfreeze): no device checks, LooksAlive and IsAlive answer alive. */
  frozen?: boolean;
  cluster: string | undefined;
  /** Our `online` record is on the disk and not yet released (nor overwritten by a newer epoch). */
  claimed: boolean;
  /** The sector, open while claimed and reachable: a release written through it survives a lazy detach. */
  fh: FileHandle | undefined;
}

export class DiskAgent implements ResourceAgent {
  private readonly disks = new Map<string, Disk>();
  private readonly warnings = new Map<string, string[]>();
  /** Disks killAll stopped whose private sector releaseAll still has to mark released. */
  private toRelease: Disk[] = [];
  /** Counts killAll calls: an online that straddles one must not start checking. */
  private fences = 0;

  constructor(private readonly events: AgentEvents) {}

  async online(spec: ResourceSpec, ctx: AgentContext): Promise<{ pid?: number }> {
    const priv = parsePriv(spec.name, spec.priv);
    const held = this.disks.get(spec.name);
    if (held !== undefined) {
      if (held.epoch === spec.epoch && held.checking) return {}; // idempotent
      throw new Error(`disk '${spec.name}' is still held by this node (epoch ${held.epoch}${held.extended ? ', extended maintenance' : ''}${held.lost ? ', taken over' : ''}): take it offline first`);
    }
    const d: Disk = {
      name: spec.name, group: spec.group, node: spec.node, epoch: spec.epoch, priv, sector: path.join(priv.root, diskSectorFile), counter: 0,
      checking: false, timer: undefined, nextCheckAtMs: 0, io: Promise.resolve(), checkStartedMs: null, deviceFailed: null,
      lost: false, extended: false, mounted: false, lowSpace: false, lastForeign: null,
      cluster: spec.cluster, claimed: false, fh: undefined,
    };
    this.disks.set(spec.name, d);
    const fences = this.fences;
    try {
      if (priv.device !== undefined) await this.mount(d, ctx.signal);
      await checkRoot(spec.name, priv.root);
      await this.serial(d, () => this.claim(d, ctx.signal));
      if (fences !== this.fences || this.disks.get(spec.name) !== d) throw new Error(`disk '${spec.name}': every resource was stopped (fenced) while it was coming online`);
      this.startChecks(d);
      return {};
    } catch (err) {
      if (this.disks.get(spec.name) === d) this.disks.delete(spec.name);
      if (d.claimed) await this.serial(d, () => this.release(d)).catch(() => undefined);
      await closeHandle(d);
      if (d.mounted) await this.unmount(d, AbortSignal.timeout(commandTimeoutMs), umountBusyTerminateMs).catch(() => undefined);
      throw err;
    }
  }

  offline(spec: ResourceSpec, ctx: AgentContext): Promise<void> {
    return this.stop(spec, ctx, umountBusyMs);
  }

  terminate(spec: ResourceSpec, ctx: AgentContext): Promise<void> {
    return this.stop(spec, ctx, umountBusyTerminateMs);
  }

  async looksAlive(spec: ResourceSpec): Promise<boolean> {
    const d = this.held(spec);
    if (d.extended || d.frozen) return true;
    if (d.lost) throw new Error(`disk '${d.name}' was taken over by another node`);
    if (d.checkStartedMs !== null && performance.now() - d.checkStartedMs > checkHungMs) {
      throw new Error(`disk '${d.name}': a device check has not finished for ${Math.round(performance.now() - d.checkStartedMs)} ms: the storage does not answer`);
    }
    if (d.deviceFailed !== null) throw new Error(`disk '${d.name}': ${d.deviceFailed}`);
    return true;
  }

  async isAlive(spec: ResourceSpec): Promise<boolean> {
    const d = this.held(spec);
    if (d.extended || d.frozen) return true;
    if (d.lost) throw new Error(`disk '${d.name}' was taken over by another node`);
    const root = d.priv.root;
    await readdir(root).catch((err: Error) => { throw new Error(`disk '${d.name}': cannot list ${root}: ${err.message}`); });
    const probe = path.join(root, `.clusterd-probe-${d.node.replace(/[^A-Za-z0-9._-]/g, '_')}`);
    const bytes = randomBytes(64);
    try {
      const fh = await open(probe, 'w');
      try {
        await fh.write(bytes, 0, bytes.length, 0);
        await fh.datasync();
      } finally {
        await fh.close();
      }
      const back = await readFile(probe);
      if (!back.equals(bytes)) throw new Error('the probe file read back differs from what was written');
      await unlink(probe);
    } catch (err) {
      throw new Error(`disk '${d.name}': probe file ${probe}: ${(err as Error).message}`);
    }
    const fs = await statfs(root);
    const free = fs.bavail * fs.bsize;
    const mb = (n: number): string => `${Math.floor(n / 1024 / 1024)} MiB`;
    if (free < d.priv.minFreeBytes && !d.lowSpace) this.warn(d.name, `only ${mb(free)} free on ${root} (below the warning threshold of ${mb(d.priv.minFreeBytes)}, private property minFreeMb)`);
    else if (free >= d.priv.minFreeBytes && d.lowSpace) this.warn(d.name, `free space on ${root} is back above ${mb(d.priv.minFreeBytes)} (${mb(free)} free)`);
    d.lowSpace = free < d.priv.minFreeBytes;
    return true;
  }

  /** Extended maintenance: stop the device checks, dismount internally. Still Online to everything above. */
  async maintOffline(spec: ResourceSpec, ctx: AgentContext): Promise<void> {
    const d = this.held(spec);
    if (d.lost) throw new Error(`disk '${d.name}' was taken over by another node`);
    if (d.extended) return;
    await this.stopChecks(d);
    if (d.mounted) {
      await closeHandle(d);
      try {
        await this.unmount(d, ctx.signal, umountBusyMs, false);
      } catch (err) {
        await this.openHandle(d).catch(() => undefined);
        this.startChecks(d); // still mounted: back to normal device checks
        throw err;
      }
    }
    d.extended = true;
  }

  /** Leave extended maintenance: remount, check the sector is still ours, write it, resume the checks. */
  async maintOnline(spec: ResourceSpec, ctx: AgentContext): Promise<void> {
    const d = this.held(spec);
    if (!d.extended) return;
    if (d.priv.device !== undefined && !d.mounted) await this.mount(d, ctx.signal);
    await checkRoot(d.name, d.priv.root);
    await this.serial(d, async () => {
      const cur = await readSector(d.sector);
      if (cur.kind === 'ok' && cur.rec.epoch > d.epoch) {
        this.lose(d, cur.rec);
        throw new Error(takenOver(d, cur.rec));
      }
      d.counter = Math.max(d.counter, cur.kind === 'ok' ? cur.rec.counter : 0) + 1;
      await this.writeVerified(d, 'online');
      await this.openHandle(d);
    });
    d.extended = false;
    d.deviceFailed = null;
    this.startChecks(d);
  }

  /** Backups: a block-device disk this agent holds mounted is frozen with fsfreeze on its mount point. */
  freezeTarget(spec: ResourceSpec): FreezeTarget {
    const d = this.held(spec);
    const dev = d.priv.device;
    if (dev === undefined) throw new Error(`disk '${d.name}' is a directory (path), not a mounted block device: fsfreeze does not apply`);
    if (d.lost) throw new Error(`disk '${d.name}' was taken over by another node`);
    if (d.extended || !d.mounted) throw new Error(`disk '${d.name}' is not mounted (extended maintenance): nothing to freeze`);
    return { kind: 'mount', mountPoint: dev.mountPoint, device: dev.device };
  }

  /** While frozen, a sector write would block in the kernel: device checks stop before the freeze and resume after the thaw. */
  async setFrozen(resource: string, frozen: boolean): Promise<void> {
    const d = this.disks.get(resource);
    if (d === undefined) return;
    if (frozen) {
      d.frozen = true;
      await this.stopChecks(d);
      return;
    }
    if (!d.frozen) return;
    d.frozen = false;
    if (!d.lost && !d.extended && !d.checking) this.startChecks(d);
  }

  takeWarning(resource: string): string | undefined {
    const list = this.warnings.get(resource);
    this.warnings.delete(resource);
    return list === undefined ? undefined : list.join('; ');
  }

  killAll(): string[] {
    this.fences += 1;
    const names = [...this.disks.keys()];
    for (const d of this.disks.values()) {
      // Only a disk whose sector holds our record (not one half online, possibly still another
      // node's), through its open sector: releaseAll writes it after the dependents are dead,
      // also on a device detached just below. A device in extended maintenance is not mounted:
      // its sector stays as it was (remounting on the way out could leave a mount behind).
      if (d.claimed && d.fh !== undefined) this.toRelease.push(d);
      else void closeHandle(d);
      d.checking = false;
      clearTimeout(d.timer);
      // Synchronous on purpose (the monitor may be on its way out): the dependents were killed
      // just before; whatever still holds the mount is detached from it.
      if (d.mounted && d.priv.device !== undefined) {
        spawnSync('umount', ['-l', d.priv.device.mountPoint], { timeout: 2_000, stdio: 'ignore', env: toolEnv() });
        d.mounted = false;
      }
    }
    this.disks.clear();
    return names;
  }

  /**
   * After killAll: every resource of this node is stopped (its processes were sent SIGKILL before
   * this runs), so its disks are marked released through their open sectors, then closed (a
   * device detached lazily by killAll goes with its last handle). A monitor that cannot run this
   * (killed, or frozen with its node) leaves them unreleased: the next owner of the group takes
   * them anyway, the ownership rules proving this node stopped (see core/disk-sector.ts).
   */
  async releaseAll(): Promise<void> {
    const list = this.toRelease;
    this.toRelease = [];
    await Promise.all(list.map((d) => this.serial(d, () => this.release(d)).catch(() => undefined).finally(() => closeHandle(d))));
  }

  // ---- internals -----------------------------------------------------------------------------

  private held(spec: ResourceSpec): Disk {
    const d = this.disks.get(spec.name);
    if (d === undefined) throw new Error(`disk '${spec.name}' is not online on this node`);
    return d;
  }

  private warn(resource: string, text: string): void {
    const list = this.warnings.get(resource) ?? [];
    if (list.length < 10) list.push(text); // bounded: an agent that warns forever must not grow
    this.warnings.set(resource, list);
  }

  private serial<T>(d: Disk, fn: () => Promise<T>): Promise<T> {
    const p = d.io.then(fn, fn);
    d.io = p.then(() => undefined, () => undefined);
    return p;
  }

  private record(d: Disk, state: SectorRecord['state']): SectorRecord {
    const rec: SectorRecord = { node: d.node, group: d.group, resource: d.name, epoch: d.epoch, counter: d.counter, state };
    return d.cluster === undefined ? rec : { cluster: d.cluster, ...rec };
  }

  private claimant(d: Disk): SectorClaimant {
    return { cluster: d.cluster, node: d.node, group: d.group, resource: d.name, epoch: d.epoch };
  }

  private async openHandle(d: Disk): Promise<void> {
    if (d.fh === undefined) d.fh = await open(d.sector, constants.O_RDWR);
  }

  /**
   * Marks our sector released: through the open handle if there is one (it reaches a device
   * detached lazily), else through the path. Only over a record that is still ours: a newer
   * epoch there belongs to the next owner and is left alone.
   */
  private async release(d: Disk): Promise<void> {
    if (!d.claimed) return;
    const fh = d.fh ?? (await open(d.sector, constants.O_RDWR));
    try {
      const cur = await readSectorAt(fh);
      if (cur.kind === 'ok' && cur.rec.epoch > d.epoch) {
        d.claimed = false;
        return;
      }
      d.counter = Math.max(d.counter, cur.kind === 'ok' ? cur.rec.counter : 0) + 1;
      const written = encodeSector(this.record(d, 'released'));
      await fh.write(written, 0, sectorBytes, 0);
      await fh.datasync();
      const back = await readSectorAt(fh);
      if (back.kind !== 'ok' || !back.raw.equals(written)) throw new Error(`private sector ${d.sector} read back differs from the release written`);
      d.claimed = false;
    } finally {
      if (fh !== d.fh) await fh.close();
    }
  }

  private emitClaimed(d: Disk, found: string, first: Sector, extra: Record<string, unknown>, text: string): void {
    const prior = first.kind === 'ok' ? { sectorNode: first.rec.node, sectorEpoch: first.rec.epoch, sectorState: first.rec.state } : {};
    this.events.log('info', `disk '${d.name}': ${text}; claimed by ${d.node} under epoch ${d.epoch}`, 'DISK_SECTOR_CLAIMED',
      { resource: d.name, group: d.group, epoch: d.epoch, found, ...prior, ...extra });
  }

  private async writeVerified(d: Disk, state: SectorRecord['state']): Promise<Sector> {
    const { written, back } = await writeSector(d.sector, this.record(d, state));
    if (back.kind !== 'ok' || !back.raw.equals(written)) {
      throw new Error(`disk '${d.name}': private sector ${d.sector} read back differs from what was written${back.kind === 'bad' ? ` (${back.why})` : back.kind === 'ok' ? ` (it shows node ${back.rec.node}, epoch ${back.rec.epoch})` : ''}`);
    }
    return back;
  }

  /** Online: refuse a disk with a newer epoch or one someone still writes (core/disk-sector.ts), then write our record. */
  private async claim(d: Disk, signal: AbortSignal): Promise<void> {
    const first = await readSector(d.sector);
    const verdict = judgeSector(first, this.claimant(d));
    if (verdict.kind === 'ahead' && first.kind === 'ok') throw new Error(this.aheadMessage(d, first.rec));
    let watchedMs: number | undefined;
    if (verdict.kind === 'watch') {
      const started = performance.now();
      this.warn(d.name, await this.watch(d, first, verdict.why, signal));
      watchedMs = Math.round(performance.now() - started);
    }
    d.counter = (first.kind === 'ok' ? first.rec.counter : 0) + 1;
    await this.writeVerified(d, 'online');
    d.claimed = true;
    await this.openHandle(d);
    const found = verdict.kind === 'watch' ? 'watched' : verdict.kind === 'ahead' ? 'ahead' : verdict.found;
    const text = verdict.kind === 'watch' ? `private sector watched for ${watchedMs} ms (${verdict.why}) and found still`
      : verdict.kind === 'stopped' ? `private sector left unreleased by the group's previous owner${first.kind === 'ok' ? ` ${first.rec.node} (epoch ${first.rec.epoch})` : ''}, which the ownership rules prove stopped: not watched`
        : `private sector ${found}: not watched`;
    this.emitClaimed(d, found, first, watchedMs === undefined ? {} : { watchedMs }, text);
  }

  /** DISK_SECTOR_EPOCH_AHEAD as one line (the error travels as an agent's failure text). */
  private aheadMessage(d: Disk, rec: SectorRecord): string {
    const dev = d.priv.device;
    const command = dev === undefined ? `clusterd disk clear-sector --path ${quoteArg(d.priv.root)}`
      : `clusterd disk clear-sector --device ${quoteArg(dev.device)} --fstype ${quoteArg(dev.fstype)}`;
    const e = sectorAheadError(d.name, d.sector, rec, this.claimant(d), command);
    return `error[${e.code}]: ${e.message}. hint: ${e.hint ?? ''}`;
  }

  /** The sector was not released by a writer the ownership rules account for: if its counter moves within the watch, someone still writes it. */
  private async watch(d: Disk, first: Sector, why: string, signal: AbortSignal): Promise<string> {
    const who = first.kind === 'ok' ? `node ${first.rec.node} (epoch ${first.rec.epoch}, counter ${first.rec.counter}; ${why})` : why;
    const started = performance.now();
    while (performance.now() - started < sectorWatchMs) {
      try {
        await sleep(sectorPollMs, undefined, { signal });
      } catch {
        throw new Error(`disk '${d.name}': the online timed out while watching its private sector ${d.sector}, last written by ${who}`);
      }
      const cur = await readSector(d.sector);
      if (sameSector(cur, first)) continue;
      if (cur.kind === 'ok' && cur.rec.epoch > d.epoch) throw new Error(this.aheadMessage(d, cur.rec));
      if (cur.kind === 'ok' && cur.rec.state === 'released') return `private sector of disk '${d.name}' was released by node ${cur.rec.node} while this node watched it`;
      const now = cur.kind === 'ok' ? `node ${cur.rec.node} (epoch ${cur.rec.epoch}, counter ${cur.rec.counter})` : 'an unreadable record';
      throw new Error(`disk '${d.name}' is still in use: its private sector ${d.sector} moved within ${Math.round(performance.now() - started)} ms (from ${who} to ${now}); another node still writes it, so this node (${d.node}, epoch ${d.epoch}) does not take it`);
    }
    return `private sector of disk '${d.name}' was last written by ${who} without a release; it did not move for ${sectorWatchMs} ms, so ${d.node} took the disk (epoch ${d.epoch})`;
  }

  private startChecks(d: Disk): void {
    d.checking = true;
    d.nextCheckAtMs = performance.now() + deviceCheckIntervalMs;
    this.schedule(d);
  }

  /** Fixed rate: a slow check does not push the next one back, so the counter moves every interval. */
  private schedule(d: Disk): void {
    clearTimeout(d.timer);
    d.timer = setTimeout(() => {
      d.timer = undefined;
      if (!d.checking) return;
      d.nextCheckAtMs += deviceCheckIntervalMs;
      void this.serial(d, () => this.deviceCheck(d)).finally(() => {
        if (d.checking && this.disks.get(d.name) === d) this.schedule(d);
      });
    }, Math.max(0, d.nextCheckAtMs - performance.now()));
  }

  private async stopChecks(d: Disk): Promise<void> {
    d.checking = false;
    clearTimeout(d.timer);
    d.timer = undefined;
    await d.io;
  }

  /** Read (a newer epoch: lost), write counter + 1, read back. */
  private async deviceCheck(d: Disk): Promise<void> {
    if (!d.checking) return;
    d.checkStartedMs = performance.now();
    try {
      const before = await readSector(d.sector);
      if (before.kind === 'ok' && before.rec.epoch > d.epoch) return this.lose(d, before.rec);
      const ours = before.kind === 'ok' && before.rec.node === d.node && before.rec.epoch === d.epoch && before.rec.counter === d.counter;
      if (!ours) {
        const text = before.kind === 'ok' ? `node ${before.rec.node}, epoch ${before.rec.epoch}, counter ${before.rec.counter}` : before.kind === 'bad' ? before.why : 'the file is gone';
        if (text !== d.lastForeign) this.warn(d.name, `private sector ${d.sector} was changed by someone else (${text}; this node wrote epoch ${d.epoch}, counter ${d.counter}): rewriting it`);
        d.lastForeign = text;
      }
      if (!d.checking) return; // stopped (fence, offline) while reading: no more writes
      d.counter += 1;
      const { written, back } = await writeSector(d.sector, this.record(d, 'online'));
      if (back.kind === 'ok' && back.rec.epoch > d.epoch) return this.lose(d, back.rec);
      d.deviceFailed = back.kind === 'ok' && back.raw.equals(written) ? null : `private sector ${d.sector} read back differs from what was written`;
    } catch (err) {
      d.deviceFailed = `private sector ${d.sector}: ${(err as Error).message}`;
    } finally {
      d.checkStartedMs = null;
    }
  }

  private lose(d: Disk, rec: SectorRecord): void {
    if (d.lost) return;
    d.lost = true;
    d.claimed = false;
    d.checking = false;
    clearTimeout(d.timer);
    this.events.lost?.(d.name, takenOver(d, rec));
  }

  /**
   * Offline and terminate: stop checking, release the sector (unless it is not ours any more: a
   * device in extended maintenance is remounted for that), close it, unmount.
   */
  private async stop(spec: ResourceSpec, ctx: AgentContext, busyMs: number): Promise<void> {
    const d = this.disks.get(spec.name);
    if (d === undefined) return this.unmountLeftover(spec, ctx, busyMs);
    await this.stopChecks(d);
    if (d.claimed) {
      await this.serial(d, async () => {
        if (d.priv.device !== undefined && !d.mounted) await this.mount(d, ctx.signal);
        await this.release(d);
      }).catch((err: Error) => this.warn(d.name, `could not mark the private sector released: ${err.message}`));
    }
    await closeHandle(d);
    if (d.mounted) await this.unmount(d, ctx.signal, busyMs);
    if (this.disks.get(spec.name) === d) this.disks.delete(spec.name);
  }

  /** A disk this monitor does not hold may still be mounted by an earlier monitor (killed): unmount it. */
  private async unmountLeftover(spec: ResourceSpec, ctx: AgentContext, busyMs: number): Promise<void> {
    let priv: DiskPriv;
    try {
      priv = parsePriv(spec.name, spec.priv);
    } catch {
      return;
    }
    if (priv.device === undefined || !(await mountedHere(priv.device.mountPoint, priv.device.device))) return;
    const d = { name: spec.name, priv, mounted: true } as Disk;
    await this.unmount(d, ctx.signal, busyMs);
  }

  private async mount(d: Disk, signal: AbortSignal): Promise<void> {
    const dev = d.priv.device!;
    await mkdir(dev.mountPoint, { recursive: true });
    const there = await mountSource(dev.mountPoint);
    if (there !== null) {
      if (await sameDevice(there, dev.device)) {
        d.mounted = true;
        this.warn(d.name, `${dev.device} was mounted on ${dev.mountPoint} already (left by an earlier resource monitor): using that mount`);
        return;
      }
      throw new Error(`disk '${d.name}': mount point ${dev.mountPoint} is in use (${there} is mounted there)`);
    }
    await run('mount', ['-t', dev.fstype, ...(dev.options ? ['-o', dev.options] : []), dev.device, dev.mountPoint], signal)
      .catch((err: Error) => { throw new Error(`disk '${d.name}': cannot mount ${dev.device} (${dev.fstype}) on ${dev.mountPoint}: ${err.message}`); });
    d.mounted = true;
  }

  /** Unmount, retrying while busy for `busyMs`; then detach lazily (with a warning), or fail if `lazy` is false. */
  private async unmount(d: Disk, signal: AbortSignal, busyMs: number, lazy = true): Promise<void> {
    const mp = d.priv.device!.mountPoint;
    const until = performance.now() + busyMs;
    for (;;) {
      try {
        await run('umount', [mp], signal);
        d.mounted = false;
        return;
      } catch (err) {
        if ((await mountSource(mp)) === null) { d.mounted = false; return; }
        const busy = /busy/i.test((err as Error).message);
        if (!busy || performance.now() >= until || signal.aborted) {
          if (lazy && busy) {
            await run('umount', ['-l', mp], AbortSignal.timeout(commandTimeoutMs));
            d.mounted = false;
            this.warn(d.name, `${mp} was still busy after ${busyMs} ms: detached lazily (a process outside the cluster holds it)`);
            return;
          }
          throw new Error(`disk '${d.name}': cannot unmount ${mp}: ${(err as Error).message}`);
        }
        await sleep(umountRetryMs);
      }
    }
  }
}

/** Closes the disk's open sector; never rejects (a handle on storage that failed may not close cleanly). */
async function closeHandle(d: Disk): Promise<void> {
  const fh = d.fh;
  d.fh = undefined;
  await fh?.close().catch(() => undefined);
}

/** A path or device name as an operator can paste it into a shell. */
const quoteArg = (s: string): string => (/^[A-Za-z0-9_./:@-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`);

function takenOver(d: Disk, rec: SectorRecord): string {
  return `disk '${d.name}': its private sector ${d.sector} carries epoch ${rec.epoch} written by node ${rec.node}, newer than this node's epoch ${d.epoch}: another node has taken the disk`;
}

async function checkRoot(name: string, root: string): Promise<void> {
  const st = await stat(root).catch((err: NodeJS.ErrnoException) => {
    throw new Error(`disk '${name}': ${root} is not reachable (${err.code ?? err.message}): is the shared storage there?`);
  });
  if (!st.isDirectory()) throw new Error(`disk '${name}': ${root} is not a directory`);
}

function run(cmd: string, args: string[], signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { signal, timeout: commandTimeoutMs, env: toolEnv() }, (err, _stdout, stderr) => {
      if (err === null) resolve();
      else reject(new Error(`${cmd} ${args.join(' ')}: ${String(stderr).trim() || err.message}`));
    });
  });
}

/** The source mounted on `mountPoint` (the topmost mount), from /proc/self/mountinfo; null if nothing is. */
async function mountSource(mountPoint: string): Promise<string | null> {
  const target = await realpath(mountPoint).catch(() => path.resolve(mountPoint));
  const info = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  let source: string | null = null;
  for (const line of info.split('\n')) {
    const [left, right] = line.split(' - ');
    if (left === undefined || right === undefined) continue;
    const mp = left.split(' ')[4];
    if (mp === undefined || unescapeMount(mp) !== target) continue;
    source = unescapeMount(right.split(' ')[1] ?? '');
  }
  return source;
}

/** Every mount point `device` is mounted on now, from /proc/self/mountinfo. */
export async function mountPointsOf(device: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  const out: string[] = [];
  for (const line of info.split('\n')) {
    const [left, right] = line.split(' - ');
    if (left === undefined || right === undefined) continue;
    const mp = left.split(' ')[4];
    const source = unescapeMount(right.split(' ')[1] ?? '');
    if (mp !== undefined && source.startsWith('/') && (await sameDevice(source, device))) out.push(unescapeMount(mp));
  }
  return out;
}

export async function mountedHere(mountPoint: string, device: string): Promise<boolean> {
  const there = await mountSource(mountPoint);
  return there !== null && (await sameDevice(there, device));
}

const unescapeMount = (s: string): string => s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));

async function sameDevice(a: string, b: string): Promise<boolean> {
  const [ra, rb] = await Promise.all([realpath(a).catch(() => a), realpath(b).catch(() => b)]);
  if (ra === rb) return true;
  const [sa, sb] = await Promise.all([stat(ra).catch(() => null), stat(rb).catch(() => null)]);
  return sa !== null && sb !== null && sa.isBlockDevice() && sb.isBlockDevice() && sa.rdev === sb.rdev;
}

/** The disk's private properties as core/disk-priv.ts parses them (as they were checked when saved); every problem in one error. */
function parsePriv(name: string, priv: PrivProps): DiskPriv {
  const r = parseDiskPriv(priv);
  if (!r.ok) throw new Error(`resource '${name}': ${r.problems.map((p) => `private property '${p.key}' ${p.message}`).join('; ')}`);
  return r.value;
}
