// The resource manager of one node: drives the resources of the groups this node owns toward
// their desired state, in dependency order, restarts them in place, asks for failover when
// restarts are exhausted, and releases groups it must give up. Pure: facts in, actions out.

import type { FailureKind } from './agent-codes.js';
import type { EventName } from './events.js';
import { groupResources, onlineOrder } from './config.js';
import { clusterError, fail, ok, type Result } from './errors.js';
import { maintenanceDone, maintenanceStatus, maintenanceStep, type MaintRequest } from './maintenance.js';
import type { OwnershipRec } from './placement.js';
import { own } from './table.js';
import type {
  ClusterConfig, CommonProps, GroupName, MaintenanceRuntime, NodeName, PrivProps, ResourceConfig, ResourceName, ResourceRuntime, ResourceState, ResourceType,
} from './types.js';

export interface ResourceSpecCore {
  name: ResourceName;
  group: GroupName;
  type: ResourceType;
  props: CommonProps;
  priv: PrivProps;
}

export interface LocalResource {
  spec: ResourceSpecCore;
  state: ResourceState;
  /** The agent call in flight, if any (a maintenance op leaves the state Online). */
  op: { kind: 'online' | 'offline' | 'terminate' | 'maintOffline' | 'maintOnline'; id: number } | null;
  check: { kind: 'looksAlive' | 'isAlive'; id: number } | null;
  restartTimesMs: number[];
  restartAtMs: number | null;
  lastLooksAliveMs: number;
  lastIsAliveMs: number;
  error?: string;
  pid?: number;
  /** Set by an operator /fail: once the terminate completes, the resource counts as failed. */
  pendingFailure?: string;
  /** What the pending failure asks of the cluster (agent-codes.ts); restart when absent. */
  pendingKind?: FailureKind;
  /** Maintenance mode of a disk (core/maintenance.ts): in memory only, cleared by any state change. */
  maint?: MaintenanceRuntime;
}

export interface LocalGroup {
  epoch: number;
  resources: Record<ResourceName, LocalResource>;
  /** This node has taken everything offline and will not start the group again under this epoch. */
  released: boolean;
  failoverRequested: boolean;
  fenced: boolean;
}

export interface LocalState {
  groups: Record<GroupName, LocalGroup>;
  nextCallId: number;
}

export type LocalAction =
  | { kind: 'agent-call'; id: number; op: 'online' | 'offline' | 'terminate' | 'looksAlive' | 'isAlive' | 'maintOffline' | 'maintOnline';
      group: GroupName; epoch: number; spec: ResourceSpecCore; timeoutMs: number }
  | { kind: 'event'; event: EventName; level: 'info' | 'warning' | 'error'; message: string; data?: Record<string, unknown> }
  /**
   * A stop could not be confirmed: kill the resource monitor and every process group it runs
   * (as WSFC recycles a resource host). Until the monitor reports lost, the resource stays
   * OfflinePending, so its group is never released with a process possibly still running.
   */
  | { kind: 'recycle-monitor'; reason: string };

export interface LocalContext {
  self: NodeName;
  nowMs: number;
  config: ClusterConfig;
  ownership: Record<GroupName, OwnershipRec>;
  /** The node holds a valid lease and the coordinator term matches: it may start resources. */
  mayStart: (rec: OwnershipRec) => boolean;
  shuttingDown: boolean;
  /** Filled by reconcile when given (see LocalWake). */
  wake?: LocalWake;
}

/**
 * What reconcile's outcome waits for besides its facts: the earliest clock time at which a rule
 * that reads the clock could act (a restart delay ends, a health check falls due), and whether a
 * start waited for mayStart (the lease, the term). Reconciled again before `atMs` with the same
 * local state, configuration, ownership and shutdown flag, and no start refused, reconcile returns
 * nothing and changes nothing it reports: the node may skip it (node/quiet.ts).
 */
export interface LocalWake {
  atMs: number;
  startRefused: boolean;
}

/** A wake-up with nothing to wait for. */
export function noWake(): LocalWake {
  return { atMs: Infinity, startRefused: false };
}

function wakeAt(ctx: LocalContext, atMs: number): void {
  if (ctx.wake && atMs < ctx.wake.atMs) ctx.wake.atMs = atMs;
}

export function emptyLocal(): LocalState {
  return { groups: {}, nextCallId: 1 };
}

const running = (s: ResourceState) => s === 'Online' || s === 'OnlinePending' || s === 'OfflinePending';

/** One spec per configuration object (never changed once published): syncMembers runs every cycle for every resource. */
const specs = new WeakMap<ResourceConfig, ResourceSpecCore>();
function specOf(r: ResourceConfig): ResourceSpecCore {
  let spec = specs.get(r);
  if (!spec) specs.set(r, spec = { name: r.name, group: r.group, type: r.type, props: r.props, priv: r.priv });
  return spec;
}

function newResource(r: ResourceConfig): LocalResource {
  return { spec: specOf(r), state: 'Offline', op: null, check: null, restartTimesMs: [], restartAtMs: null, lastLooksAliveMs: 0, lastIsAliveMs: 0 };
}

/** Keep the local copy of each resource's spec current (props changes apply to the next call). */
function syncMembers(lg: LocalGroup, config: ClusterConfig, group: GroupName): void {
  for (const r of groupResources(config, group)) {
    const lr = lg.resources[r.name];
    if (lr) lr.spec = specOf(r);
    else lg.resources[r.name] = newResource(r);
  }
}

export function reconcile(st: LocalState, ctx: LocalContext): LocalAction[] {
  const actions: LocalAction[] = [];
  const groups = new Set([...Object.keys(st.groups), ...Object.keys(ctx.ownership).filter((g) => ctx.ownership[g]!.node === ctx.self)]);
  for (const g of [...groups].sort()) reconcileGroup(st, ctx, g, actions);
  return actions;
}

function reconcileGroup(st: LocalState, ctx: LocalContext, group: GroupName, actions: LocalAction[]): void {
  const rec = ctx.ownership[group];
  const mine = !!rec && rec.node === ctx.self && !!ctx.config.groups[group];
  let lg = st.groups[group];
  if (mine && (!lg || lg.epoch < rec.epoch) && (!lg || allQuiet(lg))) {
    // A new assignment: fresh restart counters under the new epoch.
    lg = st.groups[group] = { epoch: rec.epoch, resources: {}, released: false, failoverRequested: false, fenced: false };
    actions.push({ kind: 'event', event: 'GROUP_ASSIGNED', level: 'info', message: `group ${group} assigned to this node (epoch ${rec.epoch})`, data: { group, epoch: rec.epoch } });
  }
  if (!lg) return;
  if (mine && ctx.config.groups[group]) syncMembers(lg, ctx.config, group);
  const keep = mine && rec.epoch === lg.epoch && rec.phase === 'run' && !lg.released && !lg.failoverRequested && !ctx.shuttingDown;
  if (!keep) {
    driveOffline(st, ctx, group, lg, actions);
    if (allQuiet(lg)) {
      if (!mine || rec.epoch !== lg.epoch) {
        delete st.groups[group];
      } else if (!lg.released) {
        lg.released = true;
        actions.push({ kind: 'event', event: 'GROUP_RELEASED', level: 'info', message: `group ${group} is offline on ${ctx.self} and released (epoch ${lg.epoch})`, data: { group, epoch: lg.epoch } });
      }
    }
    return;
  }
  driveOnline(st, ctx, group, lg, rec, actions);
}

function allQuiet(lg: LocalGroup): boolean {
  return Object.values(lg.resources).every((r) => !running(r.state) && r.op === null);
}

function call(st: LocalState, lg: LocalGroup, lr: LocalResource, op: 'online' | 'offline' | 'terminate', actions: LocalAction[]): void {
  const id = st.nextCallId++;
  lr.op = { kind: op, id };
  lr.state = op === 'online' ? 'OnlinePending' : 'OfflinePending';
  clearMaintenance(lr, `it is ${lr.state}`, actions); // any pending state ends maintenance
  actions.push({ kind: 'agent-call', id, op, group: lr.spec.group, epoch: lg.epoch, spec: lr.spec, timeoutMs: lr.spec.props.pendingTimeoutMs });
}

function driveOffline(st: LocalState, ctx: LocalContext, group: GroupName, lg: LocalGroup, actions: LocalAction[]): void {
  const deps = depMap(ctx.config, group, lg);
  for (const lr of Object.values(lg.resources)) {
    if (lr.state !== 'Online' || lr.op) continue;
    const blocked = Object.values(lg.resources).some((o) => (deps.get(o.spec.name) ?? []).includes(lr.spec.name) && running(o.state));
    if (!blocked) call(st, lg, lr, 'offline', actions);
  }
  for (const lr of Object.values(lg.resources)) {
    if (lr.state !== 'Failed' || lr.op !== null) continue;
    lr.restartAtMs = null; // no restart while leaving
    if ((ctx.config.resources[lr.spec.name]?.desired ?? 'offline') === 'offline') failedToOffline(lr, ctx.self, actions);
  }
}

/**
 * An operator took a Failed resource offline: it becomes Offline at once, with fresh restart
 * counters. No stop is needed: a resource is Failed only once its process is known gone (its
 * terminate confirmed, its process exited, or the resource monitor and every process group it ran
 * killed); a stop still under way keeps it OfflinePending, and this waits for its result.
 */
function failedToOffline(lr: LocalResource, self: NodeName, actions: LocalAction[]): void {
  const was = lr.error;
  lr.state = 'Offline';
  lr.restartAtMs = null;
  lr.restartTimesMs = [];
  delete lr.error;
  actions.push({ kind: 'event', event: 'RESOURCE_OFFLINE', level: 'info', message: `resource ${lr.spec.name} is Offline on ${self}: taken offline while Failed${was ? ` (${was})` : ''}; nothing was running`,
    data: { resource: lr.spec.name, group: lr.spec.group } });
}

/** Dependencies per resource, from the config (or empty for a resource deleted from it). */
function depMap(config: ClusterConfig, _group: GroupName, lg: LocalGroup): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const name of Object.keys(lg.resources)) m.set(name, config.resources[name]?.dependsOn ?? []);
  return m;
}

function driveOnline(st: LocalState, ctx: LocalContext, group: GroupName, lg: LocalGroup, rec: OwnershipRec, actions: LocalAction[]): void {
  const deps = depMap(ctx.config, group, lg);
  const order = onlineOrder(ctx.config, group);
  // Resources removed from the configuration: take them offline.
  for (const [name, lr] of Object.entries(lg.resources)) {
    if (!ctx.config.resources[name]) {
      if (lr.state === 'Online' && !lr.op) call(st, lg, lr, 'offline', actions);
      else if (!running(lr.state) && !lr.op) delete lg.resources[name];
    }
  }
  for (const name of order) {
    const lr = lg.resources[name]!;
    const cfg = ctx.config.resources[name]!;
    if (lr.op) continue;
    const depsOnline = dependenciesOnline(lg, deps, name);
    const dependentsQuiet = order.every((o) => !(deps.get(o) ?? []).includes(name) || !running(lg.resources[o]!.state));
    if (lr.state === 'Online' && (!depsOnline || cfg.desired === 'offline')) {
      if (dependentsQuiet) call(st, lg, lr, 'offline', actions);
      continue;
    }
    if (lr.state === 'Failed' && cfg.desired === 'offline') {
      failedToOffline(lr, ctx.self, actions);
      continue;
    }
    const restartDue = lr.state === 'Failed' && lr.restartAtMs !== null && ctx.nowMs >= lr.restartAtMs;
    if (lr.state === 'Failed' && lr.restartAtMs !== null && !restartDue) wakeAt(ctx, lr.restartAtMs);
    const startable = lr.state === 'Offline' || restartDue;
    const wanted = cfg.desired === 'online' && startable && depsOnline;
    if (wanted && !ctx.mayStart(rec)) {
      if (ctx.wake) ctx.wake.startRefused = true;
    } else if (wanted) {
      if (restartDue) actions.push({ kind: 'event', event: 'RESOURCE_RESTARTING', level: 'warning', message: `restarting resource ${name} in place on ${ctx.self} (restart ${lr.restartTimesMs.length} of ${lr.spec.props.restartThreshold})`, data: { resource: name } });
      lr.restartAtMs = null;
      delete lr.error;
      call(st, lg, lr, 'online', actions);
      continue;
    }
    if (lr.state === 'Online' && !lr.check) scheduleCheck(st, ctx, lg, lr, actions);
  }
}

/** Every dependency, transitively, is Online: a resource above a failed one must stop too. */
function dependenciesOnline(lg: LocalGroup, deps: Map<string, string[]>, name: string, seen = new Set<string>()): boolean {
  for (const d of deps.get(name) ?? []) {
    if (seen.has(d)) continue;
    seen.add(d);
    if (lg.resources[d]?.state !== 'Online' || !dependenciesOnline(lg, deps, d, seen)) return false;
  }
  return true;
}

function scheduleCheck(st: LocalState, ctx: LocalContext, lg: LocalGroup, lr: LocalResource, actions: LocalAction[]): void {
  if (lr.maint) return; // maintenance suppresses LooksAlive and IsAlive
  const p = lr.spec.props;
  let kind: 'looksAlive' | 'isAlive' | null = null;
  if (ctx.nowMs - lr.lastIsAliveMs >= p.isAliveIntervalMs) kind = 'isAlive';
  else if (ctx.nowMs - lr.lastLooksAliveMs >= p.looksAliveIntervalMs) kind = 'looksAlive';
  if (!kind) {
    wakeAt(ctx, Math.min(lr.lastIsAliveMs + p.isAliveIntervalMs, lr.lastLooksAliveMs + p.looksAliveIntervalMs));
    return;
  }
  const id = st.nextCallId++;
  lr.check = { kind, id };
  actions.push({ kind: 'agent-call', id, op: kind, group: lr.spec.group, epoch: lg.epoch, spec: lr.spec, timeoutMs: p.pendingTimeoutMs });
}

/**
 * The resource whose call or check has this id. `near` names where the call was made (the
 * action's group and resource): a call's id lives on the one LocalResource it was made on, and a
 * LocalResource never moves to another group or name (it is created under its key and only ever
 * deleted from it), so with `near` the answer is that resource or none, in constant time. A node
 * running 1,000 resources gets 1,000 results of voided calls after a fence: a scan of every
 * resource for each would be quadratic. Without `near`, every resource is looked at.
 */
function find(st: LocalState, id: number, near?: { group: GroupName; resource: ResourceName }): { lg: LocalGroup; lr: LocalResource } | null {
  if (near) {
    const lg = st.groups[near.group];
    const lr = lg?.resources[near.resource];
    return lg && lr && (lr.op?.id === id || lr.check?.id === id) ? { lg, lr } : null;
  }
  for (const lg of Object.values(st.groups)) {
    for (const lr of Object.values(lg.resources)) if (lr.op?.id === id || lr.check?.id === id) return { lg, lr };
  }
  return null;
}

function findByName(st: LocalState, resource: string): { lg: LocalGroup; lr: LocalResource } | null {
  for (const lg of Object.values(st.groups)) {
    const lr = lg.resources[resource];
    if (lr) return { lg, lr };
  }
  return null;
}

/**
 * A resource failed while it should run: restart in place, or ask for failover, per its props.
 * `kind` (agent-codes.ts): a `failover` failure (the agent cannot run here: not installed, no
 * permission) skips the restarts and fails the group over at once; a `fatal` one (the
 * configuration is wrong) leaves the resource Failed here without restart or failover.
 */
export function resourceFailed(st: LocalState, self: NodeName, resource: string, reason: string, nowMs: number, kind: FailureKind = 'restart'): LocalAction[] {
  const hit = findByName(st, resource);
  if (!hit) return [];
  const { lg, lr } = hit;
  lr.state = 'Failed';
  lr.error = reason;
  lr.check = null;
  delete lr.pid;
  const p = lr.spec.props;
  const actions: LocalAction[] = [{ kind: 'event', event: 'RESOURCE_FAILED', level: 'error', message: `resource ${resource} failed on ${self}: ${reason}`, data: { resource, group: lr.spec.group } }];
  clearMaintenance(lr, 'it failed', actions);
  if (lg.released || lg.failoverRequested) return actions;
  lr.restartTimesMs = lr.restartTimesMs.filter((t) => nowMs - t < p.restartPeriodMs);
  if (kind === 'fatal') {
    lr.restartAtMs = null;
    actions.push({ kind: 'event', event: 'RESOURCE_CONFIG_ERROR', level: 'error', message: `resource ${resource} stays Failed on ${self} without restart or failover: its configuration is wrong (${reason}); fix it, then bring it online: cluster res "${resource}" /online`, data: { resource, group: lr.spec.group } });
    return actions;
  }
  if (p.restartAction === 'none') return actions;
  if (kind === 'failover') {
    lr.restartAtMs = null;
    if (p.restartAction === 'restart-failover') {
      lg.failoverRequested = true;
      actions.push({ kind: 'event', event: 'GROUP_FAILOVER_REQUESTED', level: 'warning', message: `resource ${resource} cannot run on ${self} (${reason}): not retried here, failing group ${lr.spec.group} over`, data: { group: lr.spec.group, resource } });
    } else {
      actions.push({ kind: 'event', event: 'RESOURCE_LEFT_FAILED', level: 'error', message: `resource ${resource} cannot run on ${self} and stays Failed (restartAction restart: no failover)`, data: { resource, group: lr.spec.group } });
    }
    return actions;
  }
  if (lr.restartTimesMs.length < p.restartThreshold) {
    lr.restartTimesMs.push(nowMs);
    lr.restartAtMs = nowMs + p.restartDelayMs;
  } else if (p.restartAction === 'restart-failover') {
    lg.failoverRequested = true;
    actions.push({ kind: 'event', event: 'GROUP_FAILOVER_REQUESTED', level: 'warning', message: `resource ${resource} reached its restart threshold (${p.restartThreshold} in ${p.restartPeriodMs} ms) on ${self}: failing group ${lr.spec.group} over`, data: { group: lr.spec.group } });
  } else {
    actions.push({ kind: 'event', event: 'RESOURCE_LEFT_FAILED', level: 'error', message: `resource ${resource} reached its restart threshold on ${self} and stays Failed (restartAction restart: no failover)` });
  }
  return actions;
}

export function agentResult(st: LocalState, self: NodeName, id: number, okResult: boolean, error: string | undefined, data: { alive?: boolean; why?: string; pid?: number; warning?: string } | undefined, nowMs: number,
  near?: { group: GroupName; resource: ResourceName }, failure: FailureKind = 'restart'): LocalAction[] {
  const hit = find(st, id, near);
  if (!hit) return [];
  const { lr } = hit;
  const warned: LocalAction[] = data?.warning === undefined ? [] : [{ kind: 'event', event: 'RESOURCE_WARNING', level: 'warning', message: `resource ${lr.spec.name} on ${self}: ${data.warning}`, data: { resource: lr.spec.name, group: lr.spec.group } }];
  if (lr.check?.id === id) {
    const kind = lr.check.kind;
    lr.check = null;
    if (kind === 'isAlive') lr.lastIsAliveMs = nowMs;
    lr.lastLooksAliveMs = nowMs;
    if (lr.state !== 'Online' || lr.op || lr.maint) return warned; // a check that overlapped maintenance counts for nothing
    const detail = error ?? data?.why;
    if (!okResult || data?.alive === false) return [...warned, ...failAfterTerminate(st, hit.lg, lr, `${kind} check failed${detail ? `: ${detail}` : ''}`, okResult ? 'restart' : failure)];
    return warned;
  }
  const op = lr.op!;
  lr.op = null;
  if (op.kind === 'maintOffline' || op.kind === 'maintOnline') return [...warned, ...maintenanceResult(st, self, hit.lg, lr, op.kind, okResult, error)];
  if (op.kind === 'online') {
    // A failed online may leave a process behind (a probe that never passed): stop it first.
    if (!okResult) return failAfterTerminate(st, hit.lg, lr, `online failed: ${error ?? 'unknown error'}`, failure);
    lr.state = 'Online';
    if (data?.pid !== undefined) lr.pid = data.pid;
    lr.lastLooksAliveMs = nowMs;
    lr.lastIsAliveMs = nowMs;
    return [...warned, { kind: 'event', event: 'RESOURCE_ONLINE', level: 'info', message: `resource ${lr.spec.name} is Online on ${self}`, data: { resource: lr.spec.name, group: lr.spec.group } }];
  }
  if (!okResult) {
    lr.state = 'OfflinePending';
    const reason = `${op.kind} of resource ${lr.spec.name} failed on ${self}: ${error ?? 'unknown error'}`;
    return [
      { kind: 'event', event: 'RESOURCE_STOP_FAILED', level: 'error', message: `${reason}; recycling the resource monitor to be sure it is stopped`, data: { resource: lr.spec.name } },
      { kind: 'recycle-monitor', reason },
    ];
  }
  lr.state = 'Offline';
  delete lr.pid;
  if (lr.pendingFailure !== undefined) {
    const reason = lr.pendingFailure;
    const kind = lr.pendingKind;
    delete lr.pendingFailure;
    delete lr.pendingKind;
    return [...warned, ...resourceFailed(st, self, lr.spec.name, reason, nowMs, kind)];
  }
  if (!okResult) lr.error = `offline failed: ${error ?? 'unknown error'}`;
  return [...warned, { kind: 'event', event: 'RESOURCE_OFFLINE', level: 'info', message: `resource ${lr.spec.name} is Offline on ${self}`, data: { resource: lr.spec.name, group: lr.spec.group } }];
}

/** The process of a resource exited on its own. */
export function resourceExited(st: LocalState, self: NodeName, resource: string, detail: string, nowMs: number): LocalAction[] {
  const hit = findByName(st, resource);
  if (!hit) return [];
  if (hit.lr.state === 'Online' || (hit.lr.state === 'OnlinePending' && hit.lr.op === null)) {
    return resourceFailed(st, self, resource, `process exited (${detail})`, nowMs);
  }
  return [];
}

/**
 * The monitor died or was killed (deadlock): every resource it ran is dead. Pending calls are
 * void. Resources that should run fail (and restart in place per their props).
 */
export function monitorLost(st: LocalState, self: NodeName, reason: string, nowMs: number): LocalAction[] {
  const actions: LocalAction[] = [];
  for (const lg of Object.values(st.groups)) {
    for (const lr of Object.values(lg.resources)) {
      const wasUp = lr.state === 'Online' || lr.op?.kind === 'online' || lr.pendingFailure !== undefined;
      lr.op = null;
      lr.check = null;
      delete lr.pendingFailure;
      delete lr.pendingKind;
      delete lr.pid;
      clearMaintenance(lr, 'the resource monitor was lost', actions);
      if (wasUp) actions.push(...resourceFailed(st, self, lr.spec.name, reason, nowMs));
      else if (lr.state !== 'Failed') lr.state = 'Offline';
    }
  }
  return actions;
}

/**
 * The monitor's watchdog stopped everything (clusterd stalled past its self-fence deadline).
 * Nothing restarts under this epoch: the groups are released and flagged fenced, so the
 * coordinator assigns them again with a new epoch, here or elsewhere.
 */
export function fenced(st: LocalState, self: NodeName, reason: string): LocalAction[] {
  const actions: LocalAction[] = [];
  const stopped: LocalAction[] = [];
  for (const lg of Object.values(st.groups)) {
    for (const lr of Object.values(lg.resources)) {
      lr.op = null;
      lr.check = null;
      delete lr.pid;
      clearMaintenance(lr, 'the node fenced itself', actions);
      if (running(lr.state)) {
        // Every resource that goes Offline says so on this node's log, a killed one too.
        stopped.push({ kind: 'event', event: 'RESOURCE_OFFLINE', level: 'warning', message: `resource ${lr.spec.name} is Offline on ${self}: killed when the node stopped all its resources (${reason})`,
          data: { resource: lr.spec.name, group: lr.spec.group, killed: true } });
        lr.state = 'Offline';
      }
      lr.restartAtMs = null;
    }
    lg.released = true;
    lg.fenced = true;
  }
  return [...actions, { kind: 'event', event: 'NODE_SELF_FENCED', level: 'error', message: `node ${self} stopped all its resources: ${reason}` }, ...stopped];
}

/**
 * Assignments naming this node that it does not run (a new incarnation's inheritance, or what
 * the store says after the node lost its lease or stalled): a coordinator may have judged the
 * holder Down and be giving them away at this moment, so nothing may start under those epochs.
 * Each is recorded released and fenced under its epoch: the report tells the coordinator, which
 * assigns the group again under a new epoch, here or elsewhere. At a start (`atStart`) this is
 * the designed path of every restart (a planned one, a store migration): an info event that says
 * so; after a lost lease or a stall it is a warning.
 */
export function revokeInherited(st: LocalState, self: NodeName, records: Iterable<{ group: GroupName; node: NodeName | null; epoch: number }>, why: string, atStart = false): LocalAction[] {
  const actions: LocalAction[] = [];
  for (const rec of records) {
    if (rec.node !== self || st.groups[rec.group]) continue;
    st.groups[rec.group] = { epoch: rec.epoch, resources: {}, released: true, failoverRequested: false, fenced: true };
    const next = atStart ? 'reported released so that the coordinator assigns it again (expected after a restart; nothing to do)' : 'reported released, waiting for a new assignment';
    actions.push({ kind: 'event', event: 'GROUP_REVOKED', level: atStart ? 'info' : 'warning', message: `group ${rec.group} was ${why} (epoch ${rec.epoch}): not started under that epoch; ${next}`, data: { group: rec.group, epoch: rec.epoch } });
  }
  return actions;
}

/**
 * Operator `/online` on a group or a resource: a resource this node left Failed (its restart
 * threshold reached, restartAction `restart` or `none`) gets its restart counters reset and is
 * started again by the next reconcile, dependencies first. Anything else is left alone.
 */
export function operatorRetry(st: LocalState, self: NodeName, group: GroupName, resource: string | null): LocalAction[] {
  const lg = own(st.groups, group);
  if (!lg || lg.released || lg.failoverRequested) return [];
  const actions: LocalAction[] = [];
  for (const lr of Object.values(lg.resources)) {
    if (resource !== null && lr.spec.name !== resource) continue;
    if (lr.state !== 'Failed' || lr.op !== null || lr.restartAtMs !== null) continue;
    lr.state = 'Offline';
    lr.restartTimesMs = [];
    actions.push({ kind: 'event', event: 'RESOURCE_RETRY', level: 'info', message: `resource ${lr.spec.name} was left Failed on ${self}; the operator asked for it online: restart counters reset, starting it again`, data: { resource: lr.spec.name, group } });
  }
  return actions;
}

/**
 * Operator cleanup of a resource (Pacemaker's `resource cleanup`): its restart counters are reset
 * and, if it is Failed with no call in flight (nothing runs), it becomes Offline; the next
 * reconcile then drives it to its desired state (starts it again when desired online, and its
 * group still runs here). A resource with a call in flight is left alone.
 */
export function operatorCleanup(st: LocalState, self: NodeName, group: GroupName, resource: string | null): LocalAction[] {
  const lg = own(st.groups, group);
  if (!lg) return [];
  const actions: LocalAction[] = [];
  for (const lr of Object.values(lg.resources)) {
    if ((resource !== null && lr.spec.name !== resource) || lr.op !== null) continue;
    const failed = lr.state === 'Failed';
    if (!failed && lr.restartTimesMs.length === 0) continue;
    const was = lr.error;
    lr.restartTimesMs = [];
    if (failed) {
      lr.state = 'Offline';
      lr.restartAtMs = null;
      delete lr.error;
    }
    actions.push({ kind: 'event', event: 'RESOURCE_CLEANUP', level: 'info',
      message: failed ? `resource ${lr.spec.name} was Failed on ${self}${was ? ` (${was})` : ''}; cleaned up by the operator: Offline with its restart counters reset`
        : `restart counters of resource ${lr.spec.name} reset on ${self} by the operator (it is ${lr.state})`,
      data: { resource: lr.spec.name, group } });
  }
  return actions;
}

/** Operator `/fail`: treat the resource as failed (it is stopped first by the restart path). */
export function operatorFail(st: LocalState, resource: string): LocalAction[] {
  const hit = findByName(st, resource);
  if (!hit || hit.lr.state !== 'Online' || hit.lr.op) return [];
  return failAfterTerminate(st, hit.lg, hit.lr, 'failed by the operator (/fail)');
}

/** The process may still run: stop it first; the failure (and its restart policy) applies once it is gone. */
function failAfterTerminate(st: LocalState, lg: LocalGroup, lr: LocalResource, reason: string, kind: FailureKind = 'restart'): LocalAction[] {
  lr.pendingFailure = reason;
  if (kind === 'restart') delete lr.pendingKind;
  else lr.pendingKind = kind;
  lr.check = null;
  const actions: LocalAction[] = [];
  call(st, lg, lr, 'terminate', actions);
  return actions;
}

export function runtimeOf(lr: LocalResource): ResourceRuntime {
  const out: ResourceRuntime = { state: lr.state, restarts: lr.restartTimesMs.length };
  if (lr.error !== undefined) out.error = lr.error;
  if (lr.pid !== undefined) out.pid = lr.pid;
  if (lr.maint !== undefined) out.maintenance = { ...lr.maint };
  return out;
}

// ---- disks: maintenance modes and takeover ------------------------------------------

/** Maintenance is in memory only and ends with any change of state (seed 004). */
function clearMaintenance(lr: LocalResource, why: string, actions: LocalAction[]): void {
  if (lr.maint === undefined) return;
  const was = maintenanceStatus('Online', lr.maint);
  delete lr.maint;
  actions.push({ kind: 'event', event: 'MAINTENANCE_CLEARED', level: 'info', message: `maintenance mode of resource ${lr.spec.name} cleared (was ${was}): ${why}`, data: { resource: lr.spec.name, group: lr.spec.group } });
}

/**
 * Operator `/maint` or `/extmaint` on a resource of this node. `cfg` is the resource's
 * configuration (its type when it does not run here). Refusals carry a MAINTENANCE_* code and
 * say what is allowed from here.
 */
export function requestMaintenance(st: LocalState, self: NodeName, cfg: ResourceConfig, req: MaintRequest, wallMs: number): Result<LocalAction[]> {
  const hit = findByName(st, cfg.name);
  const lr = hit?.lr;
  const subject = { name: cfg.name, type: cfg.type, state: lr?.state ?? 'Offline', busy: lr?.op != null, maintenance: lr?.maint };
  const step = maintenanceStep(subject, req, st.nextCallId, wallMs);
  if (!step.ok) return step;
  if (!step.value.changed) return ok([]);
  if (!hit || !lr) return fail(clusterError('INTERNAL', `maintenance of '${cfg.name}' changed while it does not run on ${self}`));
  st.nextCallId++;
  const before = maintenanceStatus(lr.state, lr.maint);
  if (step.value.next === undefined) delete lr.maint;
  else lr.maint = step.value.next;
  const actions: LocalAction[] = [];
  if (lr.maint === undefined) {
    lr.lastLooksAliveMs = lr.lastIsAliveMs = 0; // health monitoring resumes with a thorough check
    actions.push({ kind: 'event', event: 'MAINTENANCE_CLEARED', level: 'info', message: `maintenance mode of resource ${cfg.name} cleared on ${self} by the operator (was ${before}): health monitoring resumes`, data: { resource: cfg.name, group: cfg.group } });
  } else if (step.value.agentOp === null) {
    actions.push({ kind: 'event', event: 'MAINTENANCE_SET', level: 'warning', message: `resource ${cfg.name} is in maintenance mode on ${self}: LooksAlive and IsAlive are suppressed until /maint:off`, data: { resource: cfg.name, group: cfg.group } });
  }
  if (step.value.agentOp !== null) {
    const id = st.nextCallId++;
    lr.op = { kind: step.value.agentOp, id };
    const entering = step.value.agentOp === 'maintOffline';
    actions.push({ kind: 'event', event: entering ? 'EXT_MAINTENANCE_SETTING' : 'EXT_MAINTENANCE_CLEARING', level: 'info',
      message: entering ? `resource ${cfg.name} entering extended maintenance on ${self}: stopping device checks and dismounting internally` : `resource ${cfg.name} leaving extended maintenance on ${self}: remounting and resuming device checks`,
      data: { resource: cfg.name, group: cfg.group } });
    actions.push({ kind: 'agent-call', id, op: step.value.agentOp, group: lr.spec.group, epoch: hit.lg.epoch, spec: lr.spec, timeoutMs: lr.spec.props.pendingTimeoutMs });
  }
  return ok(actions);
}

/** The dismount or remount of extended maintenance finished. A failed remount is a failure of the disk. */
function maintenanceResult(st: LocalState, self: NodeName, lg: LocalGroup, lr: LocalResource, op: 'maintOffline' | 'maintOnline', okResult: boolean, error: string | undefined): LocalAction[] {
  const name = lr.spec.name;
  if (lr.pendingFailure !== undefined) return failAfterTerminate(st, lg, lr, lr.pendingFailure, lr.pendingKind); // lost meanwhile
  if (lr.maint === undefined) return [];
  const next = maintenanceDone(lr.maint, op, okResult, error, st.nextCallId++);
  if (next === null) {
    delete lr.maint; // a failure ends maintenance; the restart policy applies
    return [{ kind: 'event', event: 'MAINTENANCE_FAILED', level: 'error', message: `resource ${name} could not leave extended maintenance on ${self}: ${error ?? 'unknown error'}`, data: { resource: name } },
      ...failAfterTerminate(st, lg, lr, `remount after extended maintenance failed: ${error ?? 'unknown error'}`)];
  }
  lr.maint = next;
  if (!okResult) return [{ kind: 'event', event: 'MAINTENANCE_FAILED', level: 'error', message: `resource ${name} stays in maintenance mode on ${self}: ${next.error ?? ''}`, data: { resource: name } }];
  return [{ kind: 'event', event: op === 'maintOffline' ? 'EXT_MAINTENANCE_SET' : 'EXT_MAINTENANCE_CLEARED', level: op === 'maintOffline' ? 'warning' : 'info',
    message: op === 'maintOffline'
      ? `resource ${name} is in extended maintenance on ${self}: dismounted internally, no device checks; it still shows Online to its dependents`
      : `resource ${name} left extended maintenance on ${self}: mounted and checked again; it stays in maintenance mode until /maint:off`,
    data: { resource: name } }];
}

/**
 * The disk's private sector shows a newer epoch: another node has taken the disk. Its dependents
 * are killed at once (not stopped with a grace: they must not write again), the disk is stopped
 * and counts as failed, and the group is not restarted here under this epoch: it is given up.
 */
export function resourceLost(st: LocalState, self: NodeName, config: ClusterConfig, resource: string, reason: string): LocalAction[] {
  const hit = findByName(st, resource);
  if (!hit) return [];
  const { lg, lr } = hit;
  const actions: LocalAction[] = [{ kind: 'event', event: 'DISK_LOST', level: 'error', message: `resource ${resource} on ${self} was taken over: ${reason}; stopping its dependents now`, data: { resource, group: lr.spec.group } }];
  lg.failoverRequested = true; // nothing restarts here under this epoch
  const deps = depMap(config, lr.spec.group, lg);
  const above = new Set<string>([resource]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [name, on] of deps) if (!above.has(name) && on.some((d) => above.has(d))) { above.add(name); grew = true; }
  }
  above.delete(resource);
  for (const name of [...above].sort()) {
    const dep = lg.resources[name]!;
    if (dep.state === 'Online' && dep.op === null) call(st, lg, dep, 'terminate', actions);
  }
  if (lr.state === 'Online' && lr.op === null) actions.push(...failAfterTerminate(st, lg, lr, reason));
  else if (running(lr.state)) { lr.pendingFailure = reason; delete lr.pendingKind; }
  return actions;
}


/** Everything local is offline and no call is in flight: a planned shutdown may proceed. */
export function quiescent(st: LocalState): boolean {
  return Object.values(st.groups).every((lg) => allQuiet(lg));
}

