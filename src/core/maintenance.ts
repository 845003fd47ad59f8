// Maintenance modes of disk resources (seed 004, DESIGN.md "Maintenance modes"). Pure: the
// transition table, the status text and the refusals; core/local.ts keeps the state per resource
// and carries out the agent work.
//
//   Online ──/maint:on──▶ Online(Maintenance) ──/extmaint:1──▶ Online(Ext Maintenance, Internal State 'Offline')
//          ◀─/maint:off──                     ◀─/extmaint:0──
//
// - Only for `disk` resources (not another type), and only while Online.
// - Maintenance suppresses LooksAlive/IsAlive. Extended maintenance also stops the device checks
//   (private-sector writes) and dismounts internally: the agent's maintOffline; leaving it remounts
//   (maintOnline). While either runs the internal state is OfflinePending / OnlinePending, the
//   resource still shows Online, and every other maintenance request is refused (MAINTENANCE_PENDING).
// - Never Online -> Ext directly, never Ext -> Online directly (the article's symmetric rule).
// - In memory only: local.ts clears it when the resource goes offline, fails, enters any pending
//   state, moves, is fenced, or the node restarts.
// - Asking for the mode a disk is in already is a no-op that succeeds (cluster.exe prints the
//   same table again); clearing a mode that is not set succeeds too, whatever the resource's state.

import { clusterError, fail, ok, type Result } from './errors.js';
import type { MaintenanceRuntime, ResourceState, ResourceType } from './types.js';

/** `/maint:on|off` or `/extmaint:1|0`. */
export type MaintRequest = { kind: 'maint'; on: boolean } | { kind: 'extmaint'; on: boolean };

/** What the state machine needs to know about the resource. */
export interface MaintSubject {
  name: string;
  type: ResourceType;
  state: ResourceState;
  /** An agent call that changes the resource (online, offline, terminate, a maintenance op) is in flight. */
  busy: boolean;
  maintenance: MaintenanceRuntime | undefined;
}

export interface MaintStep {
  /** false: the request asks for what is already so; nothing to do. */
  changed: boolean;
  /** The maintenance state after the request (undefined: not in maintenance). */
  next: MaintenanceRuntime | undefined;
  /** Agent work to start: dismount internally (enter extended) or remount (leave extended). */
  agentOp: 'maintOffline' | 'maintOnline' | null;
}

export type MaintMode = 'none' | 'maintenance' | 'extended';

export function modeOf(m: MaintenanceRuntime | undefined): MaintMode {
  return m === undefined ? 'none' : m.mode;
}

/** The internal state does not move by itself: no dismount or remount is under way. */
export function maintenanceStable(m: MaintenanceRuntime | undefined): boolean {
  return m === undefined || m.internal === 'Online' || m.internal === 'Offline';
}

/**
 * cluster.exe's status column: `Online(Maintenance)`, `Online(Ext Maintenance, Internal State 'Offline')`,
 * and while a transition runs `Online(Maintenance, Internal State 'OnlinePending')`.
 */
export function maintenanceStatus(state: ResourceState, m: MaintenanceRuntime | undefined): string {
  if (m === undefined) return state;
  if (m.mode === 'extended') return `${state}(Ext Maintenance, Internal State '${m.internal}')`;
  return m.internal === 'Online' ? `${state}(Maintenance)` : `${state}(Maintenance, Internal State '${m.internal}')`;
}

const q = (name: string): string => JSON.stringify(name);

/** What may be asked from here: the hint of every refusal. */
export function allowedFrom(name: string, m: MaintenanceRuntime | undefined): string {
  switch (modeOf(m)) {
    case 'none': return `from Online the only step is into maintenance: cluster res ${q(name)} /maint:on`;
    case 'maintenance': return `from Online(Maintenance): cluster res ${q(name)} /extmaint:1 (extended maintenance) or /maint:off (back to Online)`;
    case 'extended': return `from extended maintenance the only step is back to maintenance: cluster res ${q(name)} /extmaint:0, then /maint:off`;
  }
}

function requestText(req: MaintRequest): string {
  return req.kind === 'maint' ? `/maint:${req.on ? 'on' : 'off'}` : `/extmaint:${req.on ? '1' : '0'}`;
}

/**
 * The transition a request asks for, or why it is refused. `transition` numbers the new state
 * (grows on the owner), `wallMs` stamps entry into maintenance.
 */
export function maintenanceStep(s: MaintSubject, req: MaintRequest, transition: number, wallMs: number): Result<MaintStep> {
  if (s.type !== 'disk') {
    return fail(clusterError('MAINTENANCE_NOT_ALLOWED', `resource '${s.name}' is a ${s.type} resource: only disk resources have maintenance modes`,
      'put the disk it depends on in maintenance instead: cluster res DISK /maint:on'));
  }
  const mode = modeOf(s.maintenance);
  const same: MaintStep = { changed: false, next: s.maintenance, agentOp: null };
  // Clearing what is not set is always fine (maintenance was cleared when the disk left Online).
  if (!req.on && (mode === 'none' || (req.kind === 'extmaint' && mode === 'maintenance'))) {
    if (!maintenanceStable(s.maintenance)) return fail(pending(s, req));
    return ok(same);
  }
  if (s.state !== 'Online') {
    return fail(clusterError('MAINTENANCE_NOT_ALLOWED', `resource '${s.name}' is ${s.state}: maintenance modes apply only to an Online disk`,
      `bring it online first: cluster res ${q(s.name)} /online`));
  }
  if (s.busy || !maintenanceStable(s.maintenance)) return fail(pending(s, req));
  const at = (next: Omit<MaintenanceRuntime, 'transition' | 'sinceWallMs'>): MaintenanceRuntime =>
    ({ ...next, transition, sinceWallMs: s.maintenance?.sinceWallMs ?? wallMs });
  if (req.kind === 'maint') {
    if (req.on) return ok(mode === 'none' ? { changed: true, next: at({ mode: 'maintenance', internal: 'Online' }), agentOp: null } : same);
    if (mode === 'extended') return fail(refused(s, req, 'its disk is dismounted internally (extended maintenance): leave extended maintenance first'));
    return ok({ changed: true, next: undefined, agentOp: null }); // maintenance -> Online
  }
  if (req.on) {
    if (mode === 'none') return fail(refused(s, req, 'a disk goes into extended maintenance only from maintenance mode, never straight from Online'));
    if (mode === 'extended') return ok(same);
    return ok({ changed: true, next: at({ mode: 'extended', internal: 'OfflinePending' }), agentOp: 'maintOffline' });
  }
  return ok({ changed: true, next: at({ mode: 'maintenance', internal: 'OnlinePending' }), agentOp: 'maintOnline' }); // extended -> maintenance
}

/** The agent's dismount (maintOffline) or remount (maintOnline) finished. null: the resource fails (a remount that failed). */
export function maintenanceDone(m: MaintenanceRuntime, op: 'maintOffline' | 'maintOnline', okResult: boolean, error: string | undefined, transition: number): MaintenanceRuntime | null {
  const base = { transition, sinceWallMs: m.sinceWallMs };
  if (op === 'maintOffline') {
    if (okResult) return { ...base, mode: 'extended', internal: 'Offline' };
    // Still mounted and checked: back to plain maintenance, with the reason.
    return { ...base, mode: 'maintenance', internal: 'Online', error: `could not enter extended maintenance: ${error ?? 'unknown error'}` };
  }
  return okResult ? { ...base, mode: 'maintenance', internal: 'Online' } : null;
}

function pending(s: MaintSubject, req: MaintRequest) {
  const what = s.maintenance?.internal === 'OnlinePending' ? 'remounted (leaving extended maintenance)' : s.maintenance?.internal === 'OfflinePending' ? 'dismounted (entering extended maintenance)' : 'changed by another operation';
  return clusterError('MAINTENANCE_PENDING', `resource '${s.name}' is being ${what}: ${requestText(req)} is refused until that is done`,
    `wait for a stable state: cluster res ${q(s.name)} /waitmaint, then ask again`);
}

function refused(s: MaintSubject, req: MaintRequest, why: string) {
  return clusterError('MAINTENANCE_TRANSITION_REFUSED', `${requestText(req)} is not allowed for resource '${s.name}' in ${maintenanceStatus(s.state, s.maintenance)}: ${why}`,
    allowedFrom(s.name, s.maintenance));
}
