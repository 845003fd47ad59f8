// Backup writers: the resources that declare freeze and thaw actions, and how. Pure:
// validated once when the configuration changes (config.ts calls checkWriterPriv), read by the
// backup state machine (core/backup.ts) and by the resource monitor (monitor/freezer.ts).
//
//   process  freezeSignal + thawSignal   signals sent to the resource's process group
//                                        (freezeSignal SIGSTOP or SIGTSTP: thawSignal defaults to SIGCONT)
//            freezeCommand + thawCommand a program run as the resource runs (user, cwd, env); exit 0 is success
//   disk     freeze: fsfreeze            `fsfreeze -f` / `fsfreeze -u` on the mount point of a block-device disk
//   both     freezeTimeoutMs             bound on each freeze or thaw action of this writer (default 10 s)

import { clusterError, fail, ok, type Result } from './errors.js';
import type { PrivProps, PrivValue, ResourceType } from './types.js';

export type WriterAction =
  | { kind: 'signal'; freezeSignal: string; thawSignal: string }
  | { kind: 'command'; freezeCommand: string[]; thawCommand: string[] }
  | { kind: 'fsfreeze'; mountPoint: string; device: string };

export interface WriterSpec {
  action: WriterAction;
  /** Bound on one freeze or one thaw action of this writer. */
  actionTimeoutMs: number;
}

/** Why 10 s: a writer that cannot flush and pause within that is not going to; the freeze limit bounds the whole backup anyway. */
export const writerActionTimeoutMsDefault = 10_000;
/** Why these: under 100 ms is no time to run a program; over 10 min a freeze action is a hang. */
export const writerActionTimeoutMsMin = 100;
export const writerActionTimeoutMsMax = 600_000;

/**
 * Signals a process may be frozen or thawed with. Not SIGTERM, SIGINT, SIGKILL, SIGQUIT: those
 * stop the application instead of pausing it.
 */
export const writerSignals = ['SIGSTOP', 'SIGTSTP', 'SIGCONT', 'SIGUSR1', 'SIGUSR2', 'SIGHUP', 'SIGWINCH', 'SIGURG'] as const;
/** Freeze signals that stop the process group: the thaw is SIGCONT unless said otherwise, and the freeze waits until every process has stopped. */
export const stoppingSignals: readonly string[] = ['SIGSTOP', 'SIGTSTP'];

/** The private properties that declare a writer. */
export const writerPrivKeys = ['freeze', 'freezeSignal', 'thawSignal', 'freezeCommand', 'thawCommand', 'freezeTimeoutMs'] as const;
const processKeys = ['freezeSignal', 'thawSignal', 'freezeCommand', 'thawCommand'];

/** `SIGSTOP`, `sigstop`, `STOP` -> `SIGSTOP`; null if it is not one of writerSignals. */
export function signalName(v: PrivValue | undefined): string | null {
  if (typeof v !== 'string') return null;
  const up = v.trim().toUpperCase();
  const name = up.startsWith('SIG') ? up : `SIG${up}`;
  return (writerSignals as readonly string[]).includes(name) ? name : null;
}

/** A command as a list (argv) or a string split on blanks (never through a shell); null if empty or not a command. */
export function commandArgv(v: PrivValue | undefined): string[] | null {
  const argv = typeof v === 'string' ? v.trim().split(/\s+/).filter((a) => a !== '') : Array.isArray(v) ? v : null;
  return argv !== null && argv.length > 0 && argv[0] !== '' ? argv : null;
}

/**
 * Checks the writer properties of a resource (config time: all or nothing, with the path of the
 * first problem). A resource without any of writerPrivKeys is not a writer and passes.
 */
export function checkWriterPriv(resource: string, type: ResourceType, priv: PrivProps): Result<void> {
  const given = writerPrivKeys.filter((k) => priv[k] !== undefined);
  if (given.length === 0) return ok(undefined);
  const bad = (key: string, message: string, hint?: string) =>
    fail<void>(clusterError('BAD_PROPERTY', `private property ${key} of resource '${resource}' ${message}`, hint, `resources.${resource}.priv.${key}`));
  if (type === 'process') {
    if (priv.freeze !== undefined) return bad('freeze', 'is for disk resources (freeze=fsfreeze)', 'a process declares freezeSignal/thawSignal or freezeCommand/thawCommand');
    const r = checkProcessWriter(priv, bad);
    if (!r.ok) return r;
  } else if (type === 'disk') {
    const wrong = processKeys.find((k) => priv[k] !== undefined);
    if (wrong !== undefined) return bad(wrong, 'is for process resources', 'a disk is frozen with fsfreeze: /priv freeze=fsfreeze');
    if (priv.freeze !== 'fsfreeze') return bad('freeze', `must be fsfreeze, not ${JSON.stringify(priv.freeze)}`, 'a disk resource is frozen with fsfreeze: /priv freeze=fsfreeze');
    if (typeof priv.device !== 'string' || typeof priv.mountPoint !== 'string') {
      return bad('freeze', 'needs a block-device disk (device, fstype, mountPoint): fsfreeze acts on a filesystem clusterd mounts',
        'a directory disk (path) is not mounted by clusterd: freeze the application that writes to it instead');
    }
  } else {
    return bad(given[0]!, `does not apply: resource type ${type} has no freeze or thaw action`, 'writers are process resources (freezeSignal, freezeCommand) and block-device disks (freeze=fsfreeze)');
  }
  const t = priv.freezeTimeoutMs;
  if (t !== undefined && (typeof t !== 'number' || !Number.isInteger(t) || t < writerActionTimeoutMsMin || t > writerActionTimeoutMsMax)) {
    return bad('freezeTimeoutMs', `must be an integer number of milliseconds in [${writerActionTimeoutMsMin}, ${writerActionTimeoutMsMax}], not ${JSON.stringify(t)}`);
  }
  return ok(undefined);
}

function checkProcessWriter(priv: PrivProps, bad: (key: string, message: string, hint?: string) => Result<void>): Result<void> {
  const bySignal = priv.freezeSignal !== undefined || priv.thawSignal !== undefined;
  const byCommand = priv.freezeCommand !== undefined || priv.thawCommand !== undefined;
  if (bySignal && byCommand) return bad(priv.freezeSignal !== undefined ? 'freezeSignal' : 'thawSignal', 'cannot be combined with freezeCommand/thawCommand', 'declare one way to freeze: signals or commands');
  if (!bySignal && !byCommand) return bad('freezeTimeoutMs', 'needs a freeze action', 'declare freezeSignal/thawSignal or freezeCommand/thawCommand');
  const signals = writerSignals.join(', ');
  if (bySignal) {
    if (priv.freezeSignal === undefined) return bad('thawSignal', 'needs freezeSignal', 'for example /priv freezeSignal=SIGSTOP (thawSignal defaults to SIGCONT)');
    const f = signalName(priv.freezeSignal);
    if (f === null || f === 'SIGCONT') return bad('freezeSignal', `must be one of ${signals.replace('SIGCONT, ', '')}, not ${JSON.stringify(priv.freezeSignal)}`);
    if (priv.thawSignal === undefined) {
      if (!stoppingSignals.includes(f)) return bad('freezeSignal', `${f} needs a thawSignal (only SIGSTOP and SIGTSTP thaw with SIGCONT by default)`, `for example /priv freezeSignal=${f} thawSignal=SIGUSR2`);
      return ok(undefined);
    }
    const t = signalName(priv.thawSignal);
    if (t === null) return bad('thawSignal', `must be one of ${signals}, not ${JSON.stringify(priv.thawSignal)}`);
    if (t === f) return bad('thawSignal', `must differ from freezeSignal (${f})`);
    if (stoppingSignals.includes(f) && t !== 'SIGCONT') return bad('thawSignal', `must be SIGCONT after ${f}: only SIGCONT resumes a stopped process`);
    return ok(undefined);
  }
  for (const key of ['freezeCommand', 'thawCommand'] as const) {
    if (priv[key] === undefined) return bad(key, 'is required with ' + (key === 'freezeCommand' ? 'thawCommand' : 'freezeCommand'), 'declare both: /priv freezeCommand=... thawCommand=...');
    if (commandArgv(priv[key]) === null) return bad(key, 'must be a command (a program and its arguments, as a string or a list), never run through a shell');
  }
  return ok(undefined);
}

/** The writer a resource declares, or null. Assumes checkWriterPriv passed (config validated). */
export function writerSpec(type: ResourceType, priv: PrivProps): WriterSpec | null {
  const actionTimeoutMs = typeof priv.freezeTimeoutMs === 'number' ? priv.freezeTimeoutMs : writerActionTimeoutMsDefault;
  if (type === 'disk' && priv.freeze === 'fsfreeze' && typeof priv.mountPoint === 'string' && typeof priv.device === 'string') {
    return { action: { kind: 'fsfreeze', mountPoint: priv.mountPoint, device: priv.device }, actionTimeoutMs };
  }
  if (type !== 'process') return null;
  const f = signalName(priv.freezeSignal);
  if (f !== null) return { action: { kind: 'signal', freezeSignal: f, thawSignal: signalName(priv.thawSignal) ?? 'SIGCONT' }, actionTimeoutMs };
  const freezeCommand = commandArgv(priv.freezeCommand);
  const thawCommand = commandArgv(priv.thawCommand);
  if (freezeCommand !== null && thawCommand !== null) return { action: { kind: 'command', freezeCommand, thawCommand }, actionTimeoutMs };
  return null;
}

/** For tables and messages: `signal SIGSTOP/SIGCONT`, `fsfreeze /mnt/data`, `command /usr/bin/pg-freeze`. */
export function describeWriter(a: WriterAction): string {
  switch (a.kind) {
    case 'signal': return `signal ${a.freezeSignal}/${a.thawSignal}`;
    case 'fsfreeze': return `fsfreeze ${a.mountPoint}`;
    case 'command': return `command ${a.freezeCommand[0]}`;
  }
}
