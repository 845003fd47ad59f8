// clusterd's own directories (a node's data directory, a dir: quorum store) hold the cluster's
// database, the fencing leases and the resources' logs: another local user who can write there,
// or who can swap a directory on the way for a symlink, can feed clusterd (running as root) a
// forged database or make it append to any file. So a directory clusterd uses must be reached
// without symlinks through directories only root or clusterd's user can change, belong to
// clusterd's user, and not be writable by group or others. Directories clusterd creates are
// made 0700; what it finds it checks, and then takes group and others' access away.

import fs from 'node:fs';
import path from 'node:path';
import { clusterError, fail, ok, type Result } from '../core/errors.js';

/** The mode of every directory clusterd creates for itself. */
export const privateDirMode = 0o700;
/** The mode of every file clusterd writes in them. */
export const privateFileMode = 0o600;

const stickyBit = 0o1000;

/**
 * Creates `dir` (and any missing directory on the way) 0700, or checks the one there, then each
 * directory from the root down: no symlink, a directory, owned by root or by clusterd's user,
 * not writable by group or others (a sticky directory such as /tmp excepted, above the last);
 * the last one must belong to clusterd's user and is made 0700. `what` names it in errors
 * ("data directory", "quorum directory"). With create false, a missing directory is left missing
 * (and answered as it is: whoever opens it reports that).
 */
export function securePrivateDir(dir: string, what: string, create = true): Result<string> {
  const full = path.resolve(dir);
  const me = process.geteuid?.() ?? 0;
  const parts = full.split(path.sep).filter((p) => p !== '');
  let at: string = path.sep;
  for (const [i, part] of parts.entries()) {
    at = path.join(at, part);
    const last = i === parts.length - 1;
    let st = fs.lstatSync(at, { throwIfNoEntry: false });
    if (st === undefined) {
      if (!create) return ok(full);
      try {
        fs.mkdirSync(at, { mode: privateDirMode });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EEXIST') {
          return fail(clusterError('UNSAFE_PATH', `cannot create the ${what} ${full}: ${at}: ${(err as Error).message}`,
            code === 'EACCES' || code === 'EPERM' ? `create it for clusterd's user (uid ${me}) with mode 0700, or choose another one (--data-dir)` : undefined));
        }
      }
      st = fs.lstatSync(at);
    }
    const problem = componentProblem(at, st, last, me);
    if (problem !== null) {
      return fail(clusterError('UNSAFE_PATH', `refusing the ${what} ${full}: ${problem}`,
        `clusterd keeps its database, leases and logs there: ${hintFor(at, st, last, me)}`));
    }
  }
  if ((fs.statSync(full).mode & 0o077) !== 0) fs.chmodSync(full, privateDirMode);
  return ok(full);
}

function componentProblem(at: string, st: fs.Stats, last: boolean, me: number): string | null {
  if (st.isSymbolicLink()) return `${at} is a symlink (to ${readLinkOr(at)})`;
  if (!st.isDirectory()) return `${at} is not a directory`;
  if (last && st.uid !== me) return `${at} is owned by uid ${st.uid}, not by clusterd's user (uid ${me})`;
  if (!last && st.uid !== 0 && st.uid !== me) return `${at}, on the way to it, is owned by uid ${st.uid} (only root or clusterd's user, uid ${me}, may own it)`;
  const writable = (st.mode & 0o022) !== 0;
  if (writable && (last || (st.mode & stickyBit) === 0)) {
    const who = [(st.mode & 0o020) !== 0 ? 'its group' : '', (st.mode & 0o002) !== 0 ? 'others' : ''].filter((w) => w !== '').join(' and ');
    return `${at} is writable by ${who} (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`;
  }
  return null;
}

function hintFor(at: string, st: fs.Stats, last: boolean, me: number): string {
  if (st.isSymbolicLink()) return `give the real path (${realpathOr(at)}) instead of one through a symlink`;
  if (!st.isDirectory()) return `remove ${at} or choose another directory`;
  if (last && st.uid !== me) return `another user may have prepared it: check its contents, then remove it (clusterd creates it 0700) or chown it to uid ${me}`;
  return `make it writable only by its owner (chmod go-w ${at}), owned by root${me === 0 ? '' : ` or uid ${me}`}, or choose another directory`;
}

function readLinkOr(at: string): string {
  try { return fs.readlinkSync(at); } catch { return '?'; }
}

function realpathOr(at: string): string {
  try { return fs.realpathSync(at); } catch { return 'its target'; }
}

/**
 * Takes group and others' access away from what clusterd wrote in `dir` (files 0600,
 * directories 0700), down to `depth` levels: files left by an older clusterd may be
 * world-readable. Only entries owned by clusterd's user; symlinks are left alone (never followed).
 */
export function tightenModes(dir: string, depth = 2): void {
  const me = process.geteuid?.() ?? 0;
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    const at = path.join(dir, entry.name);
    if (!entry.isFile() && !entry.isDirectory()) continue;
    const st = fs.lstatSync(at, { throwIfNoEntry: false });
    if (st === undefined || st.uid !== me) continue;
    if ((st.mode & 0o077) !== 0) {
      try { fs.chmodSync(at, st.mode & 0o700); } catch { /* gone meanwhile */ }
    }
    if (entry.isDirectory() && depth > 1) tightenModes(at, depth - 1);
  }
}
