// Backup coordination (seed KB915331): freeze the writers of a group for a snapshot, thaw
// them, and never let a freeze outlive its limit nor fail for no reason. Pure: facts in (a freeze
// or thaw request, a writer's answer, a tick of the clock, the node's view of its groups), actions
// out (call a writer, arm a timer, emit an event). node/backups.ts runs the actions and feeds the
// answers back; the resource monitor (monitor/freezer.ts) carries out the writer calls.
//
// Why no spurious timeout (KB915331: the thaw came before the worker thread that enforced the
// 60 s limit had started, and the timeout fired anyway): the limit is not a timer here. It is a
// field of the backup record, deadlineMs = now + limit, written in the step that creates the
// record, before any writer action is issued. The shell's timer only calls tick(now), and tick
// times a backup out only if it still holds its freeze (Freezing or Frozen) and now >= deadlineMs.
// A thaw moves the record out of those states in one step, so a tick after it finds nothing to
// do, whenever the timer was armed, fires, or fails to be cancelled. Every input first applies the
// deadline (as if a tick at the same `now` came first): the outcome depends only on the order of
// inputs on this node's monotonic clock. A thaw at now < deadline always wins; a thaw at
// now >= deadline finds the backup timed out (and says by how much it was late).
//
// Order: writers freeze one at a time from the top of the group down (dependents before what
// they depend on: an application flushes and pauses before its filesystem is frozen under it),
// each with its own action timeout. They thaw in the opposite order, all calls issued at once.
// Once a backup ends (thaw, timeout, failure) every writer that may be frozen gets a thaw call; a
// thaw that fails is retried (thawAttemptsMax), and the writer stays listed until it is thawed.
//
// One backup per group at a time. A backup that holds its freeze fails as soon as the group stops
// running here as it was (moved, failed over, offline, fenced, node stopping, a writer not Online):
// reconcileBackups() checks that every cycle, and the monitor thaws a writer before any stop.

import type { EventName } from './events.js';
import { dependentClosure, onlineOrder } from './config.js';
import { msText } from './duration-text.js';
import { clusterError, type ClusterErrorData, type ErrorCode } from './errors.js';
import type { LocalGroup, LocalState, ResourceSpecCore } from './local.js';
import type { OwnershipRec } from './placement.js';
import { own } from './table.js';
import type { ClusterConfig, GroupName, NodeName, ResourceName, ResourceType } from './types.js';
import { describeWriter, writerSpec, type WriterAction } from './writer-props.js';

/** The default freeze limit (KB915331's 60 s). */
export const freezeLimitMsDefault = 60_000;
/** Why 100 ms: tests use short limits; less is no time to freeze anything. */
export const freezeLimitMsMin = 100;
/** Why 10 min: snapshots take seconds; a filesystem frozen longer stalls every writer until applications time out on their own. */
export const freezeLimitMsMax = 600_000;
/** Finished backups a node keeps for `cluster backup status` (in memory, published in its report). */
export const recentBackupsMax = 32;
/** A thaw that fails is tried this many times in all, thawRetryDelayMs apart, before the writer is reported ThawFailed. */
export const thawAttemptsMax = 3;
export const thawRetryDelayMs = 1_000;
/**
 * A freeze call's timeout is its writer's action timeout, cut to what is left of the limit plus
 * this margin: the limit then normally fires first, and the answer names the real cause.
 */
const freezeCallMarginMs = 50;

export type BackupState = 'Freezing' | 'Frozen' | 'Thawing' | 'Thawed' | 'Failed';
/** NotFrozen: the backup ended before this writer's turn to freeze. */
export type WriterState = 'Pending' | 'Freezing' | 'Frozen' | 'Thawing' | 'Thawed' | 'NotFrozen' | 'ThawFailed';

export interface BackupWriter {
  resource: ResourceName;
  type: ResourceType;
  action: WriterAction;
  actionTimeoutMs: number;
  /** The writer and what runs above it in its group: their health checks pause while it is frozen. */
  quiet: ResourceName[];
  spec: ResourceSpecCore;
  state: WriterState;
  /** The latest call for this writer: answers to older ones are stale and ignored. */
  callId: number | null;
  thawAttempts: number;
  /** A failed thaw is tried again at this time. */
  retryAtMs: number | null;
  error?: string;
}

export interface Backup {
  id: string;
  group: GroupName;
  /** What the operator named: the group or one of its resources. */
  target: string;
  node: NodeName;
  epoch: number;
  limitMs: number;
  /** Monotonic times on the owner's clock. deadlineMs = startedMs + limitMs, fixed at creation. */
  startedMs: number;
  deadlineMs: number;
  startedWallMs: number;
  state: BackupState;
  /** In freeze order. */
  writers: BackupWriter[];
  frozenMs: number | null;
  thawAskedMs: number | null;
  failedMs: number | null;
  /** Every writer thawed (or given up on): the backup is finished. */
  endedMs: number | null;
  error: ClusterErrorData | null;
}

export interface BackupBook {
  backups: Record<string, Backup>;
  nextCallId: number;
}

export type BackupAction =
  /** Call tick(now) at or after atMs (a later tick is harmless; an earlier one does nothing). */
  | { kind: 'arm-timer'; backup: string; atMs: number; why: 'freeze-limit' | 'thaw-retry' }
  | { kind: 'writer-call'; id: number; backup: string; op: 'freeze' | 'thaw'; resource: ResourceName; spec: ResourceSpecCore;
      epoch: number; quiet: ResourceName[]; timeoutMs: number }
  | { kind: 'event'; event: EventName; level: 'info' | 'warning' | 'error'; message: string; data?: Record<string, unknown> };

/** The result of one input: actions to carry out, and for requests an error to answer with. */
export interface BackupStep {
  actions: BackupAction[];
  error?: ClusterErrorData;
}

/** What the state machine needs to know about this node. */
export interface BackupContext {
  self: NodeName;
  nowMs: number;
  wallMs: number;
  config: ClusterConfig;
  ownership: Record<GroupName, OwnershipRec>;
  local: LocalState;
  shuttingDown: boolean;
}

export interface BackupWriterView {
  resource: ResourceName;
  type: ResourceType;
  /** `signal SIGSTOP/SIGCONT`, `fsfreeze /mnt/data`, `command /usr/local/bin/db-freeze`. */
  action: string;
  state: WriterState;
  error?: string;
}

/** A backup as the API shows it. Times after the start are on the owner's monotonic clock. */
export interface BackupView {
  id: string;
  group: GroupName;
  target: string;
  node: NodeName;
  epoch: number;
  state: BackupState;
  limitMs: number;
  startedWallMs: number;
  frozenAfterMs: number | null;
  thawAskedAfterMs: number | null;
  failedAfterMs: number | null;
  endedAfterMs: number | null;
  writers: BackupWriterView[];
  error?: ClusterErrorData;
  /** Set by a reader on another node when the node that held the backup is gone. */
  lost?: string;
}

export function emptyBook(): BackupBook {
  return { backups: {}, nextCallId: 1 };
}

const holdsFreeze = (b: Backup): boolean => b.state === 'Freezing' || b.state === 'Frozen';
const q = (s: string): string => JSON.stringify(s);
const errorData = (code: ErrorCode, message: string, hint?: string): ClusterErrorData => clusterError(code, message, hint).toJSON();

/** The backup of `group` that is not finished (holding its freeze, or still thawing), if any. */
export function activeBackupOf(book: BackupBook, group: GroupName): Backup | undefined {
  return Object.values(book.backups).find((b) => b.group === group && b.endedMs === null);
}

/** When the shell must call tick next: the earliest limit of a backup holding its freeze, or thaw retry. */
export function nextWakeMs(book: BackupBook): number | null {
  let at: number | null = null;
  const take = (t: number) => { at = at === null ? t : Math.min(at, t); };
  for (const b of Object.values(book.backups)) {
    if (holdsFreeze(b)) take(b.deadlineMs);
    for (const w of b.writers) if (w.retryAtMs !== null) take(w.retryAtMs);
  }
  return at;
}

// ---- requests -------------------------------------------------------------------------------------

/**
 * `cluster backup freeze TARGET`: TARGET is a group (every writer of it) or one resource (that
 * writer alone; the whole group is still busy for other backups). The record, with its deadline,
 * is created before any writer action is issued; the first action says so to the shell.
 */
export function requestFreeze(book: BackupBook, ctx: BackupContext, req: { id: string; target: string; limitMs: number }): BackupStep {
  const refused = (code: ErrorCode, message: string, hint?: string): BackupStep => ({ actions: [], error: errorData(code, message, hint) });
  if (!Number.isInteger(req.limitMs) || req.limitMs < freezeLimitMsMin || req.limitMs > freezeLimitMsMax) {
    return refused('BAD_ARGUMENT', `the freeze limit must be an integer number of milliseconds in [${freezeLimitMsMin}, ${freezeLimitMsMax}], not ${req.limitMs}`, 'for example --timeout 60s');
  }
  if (book.backups[req.id]) return refused('INTERNAL', `backup id ${req.id} is in use already`);
  const byGroup = own(ctx.config.groups, req.target) !== undefined;
  const res = byGroup ? undefined : own(ctx.config.resources, req.target);
  if (!byGroup && !res) return refused('GROUP_NOT_FOUND', `no group or resource '${req.target}'`, 'cluster group and cluster res list them');
  const group = byGroup ? req.target : res!.group;
  const candidates = byGroup ? onlineOrder(ctx.config, group).reverse() : [req.target];
  const writers = candidates.map((name) => ({ name, spec: writerSpec(ctx.config.resources[name]!.type, ctx.config.resources[name]!.priv) }))
    .filter((w) => w.spec !== null);
  if (writers.length === 0) {
    return refused('BACKUP_NO_WRITERS', `${byGroup ? `group '${group}' has no writer` : `resource '${req.target}' is not a writer`}: no resource declares freeze and thaw actions`,
      'declare them: a process resource /priv freezeSignal=SIGSTOP (or freezeCommand=... thawCommand=...); a block-device disk /priv freeze=fsfreeze');
  }
  const busy = activeBackupOf(book, group);
  if (busy) {
    const what = holdsFreeze(busy) ? `${busy.state.toLowerCase()} since ${msText(ctx.nowMs - busy.startedMs)}, limit ${msText(busy.limitMs)}` : 'still thawing its writers';
    return refused('BACKUP_ALREADY_FROZEN', `group '${group}' is busy with backup ${busy.id} (${what}): one backup per group at a time`,
      holdsFreeze(busy) ? `thaw it first: cluster backup thaw ${busy.id}` : 'try again in a moment');
  }
  const lg = ctx.local.groups[group];
  const why = notRunning(ctx, group, lg, ctx.ownership[group]?.epoch ?? -1, writers.map((w) => w.name));
  if (why !== null) return refused('BACKUP_NOT_READY', `cannot freeze group '${group}': ${why}`, `cluster group "${group}" shows its state; freeze once every writer is Online`);
  const b: Backup = {
    id: req.id, group, target: req.target, node: ctx.self, epoch: lg!.epoch, limitMs: req.limitMs,
    startedMs: ctx.nowMs, deadlineMs: ctx.nowMs + req.limitMs, startedWallMs: ctx.wallMs, state: 'Freezing',
    writers: writers.map((w) => ({
      resource: w.name, type: own(ctx.config.resources, w.name)!.type, action: w.spec!.action, actionTimeoutMs: w.spec!.actionTimeoutMs,
      quiet: dependentClosure(ctx.config, w.name).sort(), spec: lg!.resources[w.name]!.spec, state: 'Pending', callId: null, thawAttempts: 0, retryAtMs: null,
    })),
    frozenMs: null, thawAskedMs: null, failedMs: null, endedMs: null, error: null,
  };
  book.backups[b.id] = b;
  const actions: BackupAction[] = [
    { kind: 'arm-timer', backup: b.id, atMs: b.deadlineMs, why: 'freeze-limit' },
    event('BACKUP_FREEZING', 'info', `backup ${b.id}: freezing ${b.writers.length} writer${b.writers.length === 1 ? '' : 's'} of group ${group} on ${ctx.self} (${b.writers.map((w) => w.resource).join(', ')}), freeze limit ${msText(b.limitMs)}`, b, { target: b.target, limitMs: b.limitMs }),
  ];
  freezeNext(book, b, ctx.nowMs, actions);
  trim(book);
  return { actions };
}

/** `cluster backup thaw ID`. Idempotent once thawed; a backup that failed answers with its error. */
export function requestThaw(book: BackupBook, nowMs: number, id: string): BackupStep {
  const b = book.backups[id];
  if (!b) return { actions: [], error: errorData('BACKUP_NOT_FOUND', `no backup '${id}' on this node`, 'cluster backup status lists the backups') };
  const actions = expire(book, b, nowMs);
  const late = b.thawAskedMs === null && b.state === 'Failed' && b.error?.code === 'BACKUP_FREEZE_TIMEOUT';
  b.thawAskedMs ??= nowMs;
  if (holdsFreeze(b)) {
    b.state = 'Thawing';
    actions.push(event('BACKUP_THAWING', 'info', `backup ${b.id}: thaw asked ${msText(nowMs - b.startedMs)} after the freeze (limit ${msText(b.limitMs)}): thawing group ${b.group}`, b));
    releaseAll(book, b, nowMs, actions);
    return { actions };
  }
  if (b.state === 'Failed' && b.error) {
    const error = late
      ? { ...b.error, message: `${b.error.message} (this thaw arrived ${msText(nowMs - b.deadlineMs)} after the limit)` }
      : b.error;
    return { actions, error };
  }
  return { actions }; // Thawing or Thawed already
}

// ---- facts ----------------------------------------------------------------------------------------

/** The clock: time out backups past their limit, retry failed thaws. Does nothing for a backup that no longer holds its freeze. */
export function tick(book: BackupBook, nowMs: number): BackupAction[] {
  const actions: BackupAction[] = [];
  for (const b of Object.values(book.backups)) {
    actions.push(...expire(book, b, nowMs));
    for (const w of b.writers) {
      if (w.retryAtMs !== null && nowMs >= w.retryAtMs) {
        w.retryAtMs = null;
        callWriter(book, b, w, 'thaw', w.actionTimeoutMs, actions);
      }
    }
  }
  return actions;
}

/** A writer call answered (ok, or failed with `error`). Answers to calls superseded by a later one are ignored. */
export function writerAnswered(book: BackupBook, nowMs: number, callId: number, okResult: boolean, error: string | undefined): BackupAction[] {
  const hit = findCall(book, callId);
  if (!hit) return [];
  const { b, w } = hit;
  const actions = expire(book, b, nowMs);
  if (w.callId !== callId) return actions; // the limit fired meanwhile and issued a thaw
  w.callId = null;
  if (w.state === 'Freezing') {
    if (okResult) {
      w.state = 'Frozen';
      freezeNext(book, b, nowMs, actions);
    } else {
      w.error = `freeze failed: ${error ?? 'unknown error'}`;
      failBackup(book, b, nowMs, 'BACKUP_FAILED', `writer ${w.resource} could not be frozen: ${error ?? 'unknown error'}`, actions);
    }
    return actions;
  }
  if (w.state !== 'Thawing') return actions;
  if (okResult) {
    w.state = 'Thawed';
  } else if (++w.thawAttempts < thawAttemptsMax) {
    w.error = `thaw attempt ${w.thawAttempts} failed: ${error ?? 'unknown error'}`;
    w.retryAtMs = nowMs + thawRetryDelayMs;
    actions.push({ kind: 'arm-timer', backup: b.id, atMs: w.retryAtMs, why: 'thaw-retry' });
    actions.push(event('BACKUP_THAW_RETRY', 'warning', `backup ${b.id}: writer ${w.resource} could not be thawed (${error ?? 'unknown error'}); trying again in ${msText(thawRetryDelayMs)}`, b, { resource: w.resource }));
  } else {
    w.state = 'ThawFailed';
    w.error = `thaw failed ${thawAttemptsMax} times: ${error ?? 'unknown error'}`;
    actions.push(event('BACKUP_THAW_FAILED', 'error', `backup ${b.id}: writer ${w.resource} of group ${b.group} could not be thawed after ${thawAttemptsMax} attempts (${error ?? 'unknown error'}): it may still be frozen. ${thawHint(w)}`, b, { resource: w.resource }));
  }
  finish(book, b, nowMs, actions);
  return actions;
}

/**
 * Every cycle: a backup that holds its freeze fails as soon as its group stops running here as it
 * was when it froze (moved, failed over, offline, fenced, node stopping, a writer not Online).
 */
export function reconcileBackups(book: BackupBook, ctx: BackupContext): BackupAction[] {
  const actions: BackupAction[] = [];
  for (const b of Object.values(book.backups)) {
    actions.push(...expire(book, b, ctx.nowMs));
    if (!holdsFreeze(b)) continue;
    const why = notRunning(ctx, b.group, ctx.local.groups[b.group], b.epoch, b.writers.map((w) => w.resource));
    if (why !== null) failBackup(book, b, ctx.nowMs, 'BACKUP_FAILED', why, actions);
  }
  return actions;
}

// ---- views ----------------------------------------------------------------------------------------

export function backupView(b: Backup): BackupView {
  const after = (t: number | null) => (t === null ? null : t - b.startedMs);
  const v: BackupView = {
    id: b.id, group: b.group, target: b.target, node: b.node, epoch: b.epoch, state: b.state, limitMs: b.limitMs, startedWallMs: b.startedWallMs,
    frozenAfterMs: after(b.frozenMs), thawAskedAfterMs: after(b.thawAskedMs), failedAfterMs: after(b.failedMs), endedAfterMs: after(b.endedMs),
    writers: b.writers.map((w) => {
      const wv: BackupWriterView = { resource: w.resource, type: w.type, action: describeWriter(w.action), state: w.state };
      if (w.error !== undefined) wv.error = w.error;
      return wv;
    }),
  };
  if (b.error) v.error = b.error;
  return v;
}

/** Newest first. */
export function backupViews(book: BackupBook): BackupView[] {
  return Object.values(book.backups).sort((x, y) => y.startedMs - x.startedMs).map(backupView);
}

// ---- internals ------------------------------------------------------------------------------------

function event(name: EventName, level: 'info' | 'warning' | 'error', message: string, b: Backup, extra: Record<string, unknown> = {}): BackupAction {
  return { kind: 'event', event: name, level, message, data: { backup: b.id, group: b.group, ...extra } };
}

function findCall(book: BackupBook, callId: number): { b: Backup; w: BackupWriter } | null {
  for (const b of Object.values(book.backups)) {
    for (const w of b.writers) if (w.callId === callId) return { b, w };
  }
  return null;
}

/** Past the limit with the freeze still held: thaw everything, fail with BACKUP_FREEZE_TIMEOUT. */
function expire(book: BackupBook, b: Backup, nowMs: number): BackupAction[] {
  if (!holdsFreeze(b) || nowMs < b.deadlineMs) return [];
  const held = b.writers.filter((w) => w.state === 'Frozen' || w.state === 'Freezing');
  const what = held.length === 0 ? 'no writer frozen yet' : `still frozen: ${held.map((w) => `${w.resource} (${w.state === 'Frozen' ? 'frozen' : 'freezing'})`).join(', ')}`;
  const actions: BackupAction[] = [];
  failBackup(book, b, nowMs, 'BACKUP_FREEZE_TIMEOUT',
    `backup ${b.id} of group '${b.group}': the freeze limit of ${msText(b.limitMs)} passed without a thaw (${what}); the cluster thaws every writer now and the backup failed`, actions);
  return actions;
}

function failBackup(book: BackupBook, b: Backup, nowMs: number, code: 'BACKUP_FAILED' | 'BACKUP_FREEZE_TIMEOUT', why: string, actions: BackupAction[]): void {
  if (!holdsFreeze(b)) return;
  b.state = 'Failed';
  b.failedMs = nowMs;
  const message = code === 'BACKUP_FREEZE_TIMEOUT' ? why : `backup ${b.id} of group '${b.group}' failed: ${why}; every writer is thawed`;
  const hint = code === 'BACKUP_FREEZE_TIMEOUT'
    ? `take the snapshot within the limit, or give a longer one (at most ${freezeLimitMsMax / 1000} s): cluster backup freeze ${q(b.target)} --timeout 120s`
    : `cluster log shows what happened; freeze again once the group is Online: cluster backup freeze ${q(b.target)}`;
  b.error = errorData(code, message, hint);
  actions.push(event(code, code === 'BACKUP_FREEZE_TIMEOUT' ? 'error' : 'warning', message, b, { limitMs: b.limitMs }));
  releaseAll(book, b, nowMs, actions);
}

/** Freeze the next writer in order, or, when every one is frozen, the backup is Frozen. */
function freezeNext(book: BackupBook, b: Backup, nowMs: number, actions: BackupAction[]): void {
  if (b.state !== 'Freezing') return;
  const next = b.writers.find((w) => w.state === 'Pending');
  if (next) {
    const timeoutMs = Math.max(1, Math.min(next.actionTimeoutMs, b.deadlineMs - nowMs + freezeCallMarginMs));
    callWriter(book, b, next, 'freeze', timeoutMs, actions);
    return;
  }
  b.state = 'Frozen';
  b.frozenMs = nowMs;
  actions.push(event('BACKUP_FROZEN', 'info', `backup ${b.id}: every writer of group ${b.group} is frozen (${msText(nowMs - b.startedMs)}); thaw it with cluster backup thaw ${b.id} within ${msText(b.deadlineMs - nowMs)}, or the cluster thaws it at the limit`, b, { frozenAfterMs: nowMs - b.startedMs }));
}

/** The backup ends: a thaw for every writer that may be frozen (in thaw order), nothing more for the others. */
function releaseAll(book: BackupBook, b: Backup, nowMs: number, actions: BackupAction[]): void {
  for (const w of [...b.writers].reverse()) {
    if (w.state === 'Pending') w.state = 'NotFrozen';
    else if (w.state === 'Freezing' || w.state === 'Frozen') callWriter(book, b, w, 'thaw', w.actionTimeoutMs, actions);
  }
  finish(book, b, nowMs, actions);
}

function callWriter(book: BackupBook, b: Backup, w: BackupWriter, op: 'freeze' | 'thaw', timeoutMs: number, actions: BackupAction[]): void {
  const id = book.nextCallId++;
  w.callId = id;
  w.state = op === 'freeze' ? 'Freezing' : 'Thawing';
  actions.push({ kind: 'writer-call', id, backup: b.id, op, resource: w.resource, spec: w.spec, epoch: b.epoch, quiet: w.quiet, timeoutMs });
}

/** Once no writer is being frozen or thawed, the backup is finished. */
function finish(book: BackupBook, b: Backup, nowMs: number, actions: BackupAction[]): void {
  if (holdsFreeze(b) || b.endedMs !== null) return;
  if (b.writers.some((w) => w.state === 'Freezing' || w.state === 'Frozen' || w.state === 'Thawing')) return;
  b.endedMs = nowMs;
  const stuck = b.writers.filter((w) => w.state === 'ThawFailed');
  if (stuck.length > 0) {
    const before = b.error ? `; the backup had failed already: ${b.error.message}` : '';
    b.state = 'Failed';
    b.error = errorData('BACKUP_THAW_FAILED', `backup ${b.id} of group '${b.group}': writer${stuck.length === 1 ? '' : 's'} ${stuck.map((w) => w.resource).join(', ')} could not be thawed and may still be frozen${before}`,
      stuck.map(thawHint).join(' '));
  } else if (b.state === 'Thawing') {
    b.state = 'Thawed';
  }
  const heldMs = b.frozenMs === null ? null : (b.thawAskedMs ?? b.failedMs ?? nowMs) - b.frozenMs;
  const thawed = b.writers.filter((w) => w.state === 'Thawed').length;
  actions.push(event('BACKUP_THAWED', b.state === 'Thawed' ? 'info' : 'warning',
    `backup ${b.id} of group ${b.group} is ${b.state === 'Thawed' ? 'done' : 'finished (failed)'}: ${thawed} writer${thawed === 1 ? '' : 's'} thawed, ${msText(nowMs - b.startedMs)} after the freeze` +
    (heldMs === null ? ' (never fully frozen)' : ` (fully frozen for ${msText(heldMs)})`) + (stuck.length > 0 ? `; NOT thawed: ${stuck.map((w) => w.resource).join(', ')}` : ''),
    b, { outcome: b.state, endedAfterMs: nowMs - b.startedMs }));
  trim(book);
}

function thawHint(w: BackupWriter): string {
  switch (w.action.kind) {
    case 'fsfreeze': return `thaw ${w.resource} by hand on its node: fsfreeze -u ${w.action.mountPoint}; taking the group offline also thaws it first.`;
    case 'signal': return `resume ${w.resource} by hand: kill -${w.action.thawSignal.replace(/^SIG/, '')} -- -PGID (its process group); or take the group offline.`;
    case 'command': return `run its thaw command by hand (${w.action.thawCommand.join(' ')}), or take the group offline.`;
  }
}

/** Why the group does not run here as a backup needs it (null: it does). */
function notRunning(ctx: BackupContext, group: GroupName, lg: LocalGroup | undefined, epoch: number, writers: ResourceName[]): string | null {
  const rec = ctx.ownership[group];
  if (ctx.shuttingDown) return `node ${ctx.self} is shutting down`;
  if (!rec || rec.node !== ctx.self) return `group ${group} is owned by ${rec?.node ?? 'no node'}, not ${ctx.self}`;
  if (rec.epoch !== epoch) return `group ${group} was assigned again (epoch ${rec.epoch}, the backup froze epoch ${epoch})`;
  if (rec.phase !== 'run') return `group ${group} is moving away from ${ctx.self}`;
  if (!lg || lg.epoch !== epoch) return `group ${group} does not run on ${ctx.self} under epoch ${epoch}`;
  if (lg.fenced) return `node ${ctx.self} fenced itself`;
  if (lg.failoverRequested) return `group ${group} is failing over`;
  if (lg.released) return `group ${group} was released by ${ctx.self}`;
  for (const name of writers) {
    const lr = lg.resources[name];
    const cfg = own(ctx.config.resources, name);
    if (!lr || !cfg) return `writer ${name} was removed from the group`;
    if (lr.state !== 'Online') return `writer ${name} is ${lr.state}${lr.error ? ` (${lr.error})` : ''}`;
    if (lr.op !== null && lr.op.kind !== 'maintOnline') return `writer ${name} is being ${lr.op.kind === 'maintOffline' ? 'dismounted (extended maintenance)' : lr.op.kind === 'online' ? 'started' : 'stopped'}`;
    if (lr.maint?.mode === 'extended') return `writer ${name} is in extended maintenance (dismounted)`;
    if (cfg.desired === 'offline') return `writer ${name} is being taken offline`;
  }
  return null;
}

/** Keep every unfinished backup and the newest recentBackupsMax finished ones. */
function trim(book: BackupBook): void {
  const ended = Object.values(book.backups).filter((b) => b.endedMs !== null).sort((x, y) => x.endedMs! - y.endedMs!);
  for (const b of ended.slice(0, Math.max(0, ended.length - recentBackupsMax))) delete book.backups[b.id];
}
