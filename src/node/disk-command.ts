// `clusterd disk clear-sector`: removes a disk's private sector (`.clusterd-sector`) so that the
// next online takes the disk as a fresh one. For a sector that holds a newer epoch than the
// cluster's (DISK_SECTOR_EPOCH_AHEAD: the cluster's store was rebuilt, or another cluster used
// the disk). Refused (DISK_SECTOR_IN_USE) while a node holds the disk Online: its sector moves
// within one device-check interval, or (a block device) it is mounted on this host.

import { mkdtemp, rm, unlink } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { clusterError } from '../core/errors.js';
import { diskSectorFile } from '../monitor/protocol.js';
import { mountPointsOf, readSector, sectorWatchMs } from '../monitor/disk-agent.js';

type Out = (line: string) => void;

export interface ClearSectorOptions {
  path?: string;
  device?: string;
  fstype?: string;
  mountOptions?: string;
}

/** Reads between the watch's start and end: a moving counter shows up within one device-check interval. */
const clearPollMs = 250;
/** Bound on the temporary mount and unmount of a block device. */
const mountTimeoutMs = 60_000;

export async function clearSectorCommand(o: ClearSectorOptions, out: Out): Promise<number> {
  const bad = (message: string): number => {
    out(clusterError('BAD_ARGUMENT', message, 'clusterd disk clear-sector --path DIR, or --device DEV --fstype TYPE [--mount-options OPTS]').format());
    return 2;
  };
  if ((o.path === undefined) === (o.device === undefined)) return bad('give --path (a directory disk) or --device (a block device), one of them');
  if (o.path !== undefined) {
    if (!path.isAbsolute(o.path)) return bad(`--path must be absolute, not '${o.path}'`);
    return clearAt(o.path, `directory ${o.path}`, out);
  }
  const device = o.device!;
  if (o.fstype === undefined) return bad('--fstype is required with --device (for example ext4)');
  const here = await mountPointsOf(device);
  if (here.length > 0) {
    out(clusterError('DISK_SECTOR_IN_USE', `${device} is mounted on ${here.join(', ')} on this host: a node may hold the disk Online`,
      'take its group offline (cluster group GROUP /offline), then run this again').format());
    return 1;
  }
  const mnt = await mkdtemp(path.join(tmpdir(), 'clusterd-clear-sector-'));
  try {
    execFileSync('mount', ['-t', o.fstype, ...(o.mountOptions ? ['-o', o.mountOptions] : []), device, mnt], { timeout: mountTimeoutMs, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    await rm(mnt, { recursive: true, force: true });
    out(clusterError('BAD_ARGUMENT', `cannot mount ${device} (${o.fstype}) on ${mnt}: ${String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim()}`,
      'check --device and --fstype').format());
    return 1;
  }
  try {
    return await clearAt(mnt, `device ${device}`, out);
  } finally {
    try {
      execFileSync('umount', [mnt], { timeout: mountTimeoutMs, stdio: 'ignore' });
    } catch {
      execFileSync('umount', ['-l', mnt], { timeout: mountTimeoutMs, stdio: 'ignore' });
    }
    await rm(mnt, { recursive: true, force: true });
  }
}

/** Clears the sector at `root` unless its counter moves within one device-check interval (a live holder writes it every interval). */
async function clearAt(root: string, what: string, out: Out): Promise<number> {
  const file = path.join(root, diskSectorFile);
  const first = await readSector(file).catch((err: Error) => ({ kind: 'error' as const, why: err.message }));
  if (first.kind === 'error') {
    out(clusterError('BAD_ARGUMENT', `cannot read the private sector ${file}: ${first.why}`, 'check the path (the root of the disk)').format());
    return 1;
  }
  if (first.kind === 'absent') {
    out(`no private sector on ${what} (${file}): nothing to clear`);
    return 0;
  }
  const held = first.kind === 'bad' || first.rec.state !== 'released';
  if (held) {
    const started = performance.now();
    while (performance.now() - started < sectorWatchMs) {
      await sleep(clearPollMs);
      const cur = await readSector(file);
      if (cur.kind !== 'absent' && cur.raw.equals(first.raw)) continue;
      out(clusterError('DISK_SECTOR_IN_USE', `the private sector ${file} changed within ${Math.round(performance.now() - started)} ms: a node still holds the disk Online and writes it`,
        'take the disk\'s group offline (cluster group GROUP /offline), then run this again').format());
      return 1;
    }
  }
  const was = first.kind === 'ok' ? `node ${first.rec.node}${first.rec.cluster ? ` of cluster '${first.rec.cluster}'` : ''}, epoch ${first.rec.epoch}, ${first.rec.state}` : `unreadable: ${first.why}`;
  await unlink(file);
  out(`cleared the private sector of ${what} (${file}; it held ${was}${held ? `; it did not move for ${sectorWatchMs} ms` : ''})`);
  return 0;
}
