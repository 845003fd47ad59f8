// The `disk` type's private properties: one parser, used when a value is saved and by the agent
// (monitor/disk-agent.ts). Pure: whether the directory or device exists is the agent's check,
// on the node, at online.
//
//   path                          a directory on shared storage (absolute), or
//   device + fstype + mountPoint  a block device mounted there (mountOptions optional)
//   minFreeMb                     free space below which a warning is logged (MiB, default 64)
// plus the backup writer keys of writer-props.ts (freeze=fsfreeze, freezeTimeoutMs).

import type { PrivProblem, PrivProps } from './types.js';
import { writerPrivKeys } from './writer-props.js';

export interface DiskPriv {
  /** The directory checked and written: `path`, or the mount point. */
  root: string;
  device: { device: string; fstype: string; mountPoint: string; options: string | undefined } | undefined;
  minFreeBytes: number;
}

export const minFreeMbDefault = 64;
export const diskPrivKeys: readonly string[] = ['path', 'device', 'fstype', 'mountPoint', 'mountOptions', 'minFreeMb', ...writerPrivKeys];

/** `/a//b/` -> `/a/b` (what path.resolve makes of an absolute path, without node:path). */
function normalAbs(p: string): string {
  const out: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop(); else out.push(seg);
  }
  return '/' + out.join('/');
}

export function parseDiskPriv(priv: PrivProps): { ok: true; value: DiskPriv } | { ok: false; problems: PrivProblem[] } {
  const problems: PrivProblem[] = [];
  const bad = (key: string, message: string, hint?: string) => { problems.push(hint === undefined ? { key, message } : { key, message, hint }); };
  for (const key of Object.keys(priv)) {
    if (!diskPrivKeys.includes(key)) bad(key, 'is not a property of disk resources', `disk properties: ${diskPrivKeys.join(', ')}`);
  }
  const get = (key: string) => (Object.prototype.hasOwnProperty.call(priv, key) ? priv[key] : undefined);
  const str = (key: string): string | undefined => {
    const v = get(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v === '' || v.includes('\0')) { bad(key, `must be a non-empty string, not ${JSON.stringify(v)}`); return undefined; }
    return v;
  };
  const abs = (key: string): string | undefined => {
    const v = str(key);
    if (v !== undefined && !v.startsWith('/')) { bad(key, `must be an absolute path, not '${v}'`); return undefined; }
    return v === undefined ? undefined : normalAbs(v);
  };
  const minFreeMb = get('minFreeMb') ?? minFreeMbDefault;
  if (typeof minFreeMb !== 'number' || !(minFreeMb >= 0) || !Number.isFinite(minFreeMb)) bad('minFreeMb', `must be a number of MiB, 0 or more, not ${JSON.stringify(minFreeMb)}`);
  const dir = abs('path');
  const given = (k: string) => get(k) !== undefined;
  if (given('path') && given('device')) {
    bad('device', "give 'path' (a directory on shared storage) or 'device' + 'fstype' + 'mountPoint', not both");
  } else if (!given('path') && !given('device')) {
    bad('path', "(a directory on shared storage) or 'device' + 'fstype' + 'mountPoint' (a block device) is required", '/priv path=/srv/shared');
  }
  let device: DiskPriv['device'];
  if (given('device')) {
    const dev = abs('device');
    const fstype = str('fstype');
    if (!given('fstype')) bad('fstype', 'is required with device (for example ext4)');
    const mountPoint = abs('mountPoint');
    if (!given('mountPoint')) bad('mountPoint', 'is required with device (an absolute directory)');
    const options = str('mountOptions');
    if (dev !== undefined && fstype !== undefined && mountPoint !== undefined) device = { device: dev, fstype, mountPoint, options };
  } else {
    for (const k of ['fstype', 'mountPoint', 'mountOptions']) if (given(k)) bad(k, "goes with 'device' (a block device), not with 'path'");
  }
  if (problems.length > 0) return { ok: false, problems };
  const root = device?.mountPoint ?? dir!;
  return { ok: true, value: { root, device, minFreeBytes: (minFreeMb as number) * 1024 * 1024 } };
}

export function diskPrivProblems(priv: PrivProps): PrivProblem[] {
  const r = parseDiskPriv(priv);
  return r.ok ? [] : r.problems;
}
