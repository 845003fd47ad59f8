// What a resource's commands see of the node: their environment, their secrets and their log.
// Every command clusterd runs for a resource (the resource itself, its probe commands, its
// freeze and thaw commands) gets an environment built here from the resource's own
// configuration and the documented CLUSTERD_* names, never clusterd's own environment: that
// holds the quorum store's credentials (CLUSTERD_ETCD_PASSWORD...) and the monitor's settings.

import { constants as fsc } from 'node:fs';
import { open } from 'node:fs/promises';
import type { ResourceSpec } from './protocol.js';

/** PATH when clusterd itself has none. */
const defaultPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** A secret file is a handful of KEY=VALUE lines: anything larger is not one. */
const secretFileBytesMax = 64 * 1024;
const envKeyPattern = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The names clusterd sets, which a resource's configuration cannot override: CLUSTERD_DISK_SECTOR
 * only when the resource depends on disks, the CLUSTERD_BACKUP_* ones only for freeze and thaw
 * commands. Other CLUSTERD_* names (CLUSTERD_ENDPOINT for a resource that calls `cluster`) are
 * the resource's own to set.
 */
export const reservedNames: readonly string[] = [
  'CLUSTERD_NODE', 'CLUSTERD_GROUP', 'CLUSTERD_RESOURCE', 'CLUSTERD_EPOCH', 'CLUSTERD_DATA_DIR', 'CLUSTERD_DISK_SECTOR',
  'CLUSTERD_BACKUP_ID', 'CLUSTERD_BACKUP_ACTION',
];

export interface EnvParts {
  /** priv.env: KEY=VALUE pairs (checked by the priv parser). */
  env: string[];
  /** The resource user's home directory (undefined: runs as clusterd's user, whose HOME it gets). */
  home: string | undefined;
}

/**
 * A resource's environment, without its secrets: PATH and LANG as clusterd has them, HOME,
 * then priv.env (which may set any of those), then the CLUSTERD_* names.
 */
export function resourceEnv(spec: ResourceSpec, parts: EnvParts): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? defaultPath };
  const home = parts.home ?? process.env.HOME;
  if (home !== undefined) env.HOME = home;
  if (process.env.LANG !== undefined) env.LANG = process.env.LANG;
  for (const pair of parts.env) {
    const eq = pair.indexOf('=');
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return withClusterNames(env, spec);
}

/** For the system tools the monitor runs for a resource (mount, fsck, fsfreeze): PATH and LANG, nothing else of clusterd's. */
export function toolEnv(): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? defaultPath };
  if (process.env.LANG !== undefined) env.LANG = process.env.LANG;
  return env;
}

/** Sets the CLUSTERD_* names over `env` (after the secrets, so that nothing overrides them). */
export function withClusterNames(env: Record<string, string>, spec: ResourceSpec): Record<string, string> {
  env.CLUSTERD_NODE = spec.node;
  env.CLUSTERD_GROUP = spec.group;
  env.CLUSTERD_RESOURCE = spec.name;
  env.CLUSTERD_EPOCH = String(spec.epoch);
  const dataDir = process.env.CLUSTERD_DATA_DIR;
  if (dataDir !== undefined) env.CLUSTERD_DATA_DIR = dataDir;
  else delete env.CLUSTERD_DATA_DIR;
  // The private sectors of the disks it depends on (':'-separated if several): a storage-aware
  // service reads the epoch there and refuses to write when it is newer than CLUSTERD_EPOCH.
  if (spec.diskSectors !== undefined && spec.diskSectors.length > 0) env.CLUSTERD_DISK_SECTOR = spec.diskSectors.join(':');
  else delete env.CLUSTERD_DISK_SECTOR;
  return env;
}

/**
 * Reads a resource's secret file (priv.secretEnvFile): KEY=VALUE lines, `#` comments and blank
 * lines; the value is everything after the first `=`, as written. The file must be a regular
 * file, not a symlink, owned by root or by clusterd's user, with no permission for group or
 * others (0600 or 0400). Errors name the file and the line, never a value.
 */
export async function readSecretEnvFile(resource: string, file: string): Promise<Record<string, string>> {
  const bad = (rule: string): Error => new Error(`resource '${resource}': secretEnvFile ${file} ${rule}`);
  if (!file.startsWith('/')) throw bad('must be an absolute path');
  let handle;
  try {
    handle = await open(file, fsc.O_RDONLY | fsc.O_NOFOLLOW | fsc.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw bad('is a symlink: refused (name the file itself, owned by root and mode 0600)');
    if (code === 'ENOENT') throw bad('does not exist on this node: create it on every node that may run the resource (owned by root, mode 0600)');
    throw bad(`cannot be opened: ${(err as Error).message}`);
  }
  try {
    const st = await handle.stat();
    const me = process.geteuid?.() ?? 0;
    if (!st.isFile()) throw bad('is not a regular file');
    if (st.uid !== 0 && st.uid !== me) throw bad(`is owned by uid ${st.uid}: it must belong to root or to clusterd's user (uid ${me}); chown root ${file}`);
    if ((st.mode & 0o077) !== 0) throw bad(`has mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}: group and others must have no access; chmod 600 ${file}`);
    if (st.size > secretFileBytesMax) throw bad(`is larger than ${secretFileBytesMax} bytes: it is not a KEY=VALUE file`);
    const text = await handle.readFile('utf8');
    return parseSecretLines(text, bad);
  } finally {
    await handle.close();
  }
}

function parseSecretLines(text: string, bad: (rule: string) => Error): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const eq = line.indexOf('=');
    const key = eq < 0 ? '' : line.slice(0, eq);
    // The line itself may be a secret: only its number is named.
    if (!envKeyPattern.test(key)) throw bad(`line ${i + 1} is not KEY=VALUE (KEY: letters, digits and _)`);
    if (reservedNames.includes(key)) throw bad(`line ${i + 1}: ${key} is set by clusterd and cannot be overridden`);
    env[key] = line.slice(eq + 1);
  }
  return env;
}

/**
 * Opens a resource's log for its stdout and stderr: appended, created 0600, never through a
 * symlink (O_NOFOLLOW) and only a regular file (O_NONBLOCK: a FIFO without reader fails at once
 * instead of hanging the monitor). Returns the descriptor's handle.
 */
export async function openResourceLog(resource: string, file: string) {
  const refuse = (why: string): Error => new Error(`resource '${resource}': cannot open its log file ${file}: ${why}`);
  let handle;
  try {
    handle = await open(file, fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT | fsc.O_NOFOLLOW | fsc.O_NONBLOCK, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw refuse('it is a symlink (refused: remove it; clusterd creates the log itself)');
    throw refuse((err as Error).message);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw refuse('it is not a regular file (remove it; clusterd creates the log itself)');
    if (st.nlink > 1) throw refuse(`it has ${st.nlink} hard links (refused: remove it; clusterd creates the log itself)`);
    // A log left by an older clusterd may be readable by others: the output can hold secrets.
    if ((st.mode & 0o077) !== 0 && st.uid === (process.geteuid?.() ?? 0)) await handle.chmod(st.mode & 0o700);
    return handle;
  } catch (err) {
    await handle.close().catch(() => undefined);
    throw err;
  }
}
