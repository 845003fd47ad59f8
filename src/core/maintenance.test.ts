// The maintenance-mode state machine (core/maintenance.ts) and its wiring in the local resource
// manager (core/local.ts): the transition table, every refusal, the agent work of extended
// maintenance, and the automatic clearing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyUpdate, emptyConfig } from './config.js';
import {
  agentResult, emptyLocal, fenced, monitorLost, operatorFail, reconcile, requestMaintenance, resourceLost, runtimeOf,
  type LocalAction, type LocalContext,
} from './local.js';
import { maintenanceStatus, maintenanceStep, type MaintRequest, type MaintSubject } from './maintenance.js';
import type { OwnershipRec } from './placement.js';
import type { ClusterConfig, ConfigUpdate, MaintenanceRuntime, ResourceType } from './types.js';

const M = (mode: MaintenanceRuntime['mode'], internal: MaintenanceRuntime['internal'] = mode === 'extended' ? 'Offline' : 'Online'): MaintenanceRuntime =>
  ({ mode, internal, transition: 1, sinceWallMs: 0 });
const disk = (maintenance?: MaintenanceRuntime, over: Partial<MaintSubject> = {}): MaintSubject =>
  ({ name: 'Disk H:', type: 'disk', state: 'Online', busy: false, maintenance, ...over });
const on = { kind: 'maint', on: true } as const;
const off = { kind: 'maint', on: false } as const;
const ext1 = { kind: 'extmaint', on: true } as const;
const ext0 = { kind: 'extmaint', on: false } as const;

function step(s: MaintSubject, req: MaintRequest) {
  return maintenanceStep(s, req, 2, 1_000);
}
function code(s: MaintSubject, req: MaintRequest): string {
  const r = step(s, req);
  assert.ok(!r.ok, `expected a refusal of ${JSON.stringify(req)}`);
  return r.error.code;
}

test('status text is cluster.exe\'s', () => {
  assert.equal(maintenanceStatus('Online', undefined), 'Online');
  assert.equal(maintenanceStatus('Online', M('maintenance')), 'Online(Maintenance)');
  assert.equal(maintenanceStatus('Online', M('extended')), "Online(Ext Maintenance, Internal State 'Offline')");
  assert.equal(maintenanceStatus('Online', M('extended', 'OfflinePending')), "Online(Ext Maintenance, Internal State 'OfflinePending')");
  assert.equal(maintenanceStatus('Online', M('maintenance', 'OnlinePending')), "Online(Maintenance, Internal State 'OnlinePending')");
});

test('the allowed transitions: Online <-> Maintenance <-> Ext Maintenance', () => {
  const a = step(disk(), on);
  assert.ok(a.ok && a.value.changed && a.value.next?.mode === 'maintenance' && a.value.next.internal === 'Online' && a.value.agentOp === null);
  const b = step(disk(M('maintenance')), ext1);
  assert.ok(b.ok && b.value.next?.mode === 'extended' && b.value.next.internal === 'OfflinePending' && b.value.agentOp === 'maintOffline');
  const c = step(disk(M('extended')), ext0);
  assert.ok(c.ok && c.value.next?.mode === 'maintenance' && c.value.next.internal === 'OnlinePending' && c.value.agentOp === 'maintOnline');
  const d = step(disk(M('maintenance')), off);
  assert.ok(d.ok && d.value.changed && d.value.next === undefined);
});

test('asking for the current mode, or clearing what is not set, is a no-op that succeeds', () => {
  for (const [m, req] of [[M('maintenance'), on], [M('extended'), on], [M('extended'), ext1], [undefined, off], [undefined, ext0], [M('maintenance'), ext0]] as const) {
    const r = step(disk(m), req);
    assert.ok(r.ok && !r.value.changed, `${JSON.stringify(m)} ${JSON.stringify(req)}`);
  }
  // A clear on a disk that is not Online (maintenance ended with it) is fine too.
  const r = step(disk(undefined, { state: 'Offline' }), off);
  assert.ok(r.ok && !r.value.changed);
});

test('never Online -> Ext, never Ext -> Online: refused with the step allowed from here', () => {
  const a = step(disk(), ext1);
  assert.ok(!a.ok);
  assert.equal(a.error.code, 'MAINTENANCE_TRANSITION_REFUSED');
  assert.match(a.error.hint ?? '', /\/maint:on/);
  const b = step(disk(M('extended')), off);
  assert.ok(!b.ok);
  assert.equal(b.error.code, 'MAINTENANCE_TRANSITION_REFUSED');
  assert.match(b.error.hint ?? '', /\/extmaint:0/);
});

test('only Online disks: not another type, not Offline or Failed, not while pending', () => {
  for (const type of ['process', 'ip', 'ocf', 'witness'] as ResourceType[]) assert.equal(code(disk(undefined, { type }), on), 'MAINTENANCE_NOT_ALLOWED');
  for (const state of ['Offline', 'Failed', 'OnlinePending', 'OfflinePending'] as const) assert.equal(code(disk(undefined, { state }), on), 'MAINTENANCE_NOT_ALLOWED');
  assert.equal(code(disk(undefined, { busy: true }), on), 'MAINTENANCE_PENDING');
  assert.equal(code(disk(M('extended', 'OfflinePending')), ext0), 'MAINTENANCE_PENDING');
  assert.equal(code(disk(M('maintenance', 'OnlinePending')), off), 'MAINTENANCE_PENDING');
});

// ---- wiring in the local resource manager ----------------------------------------------------

type Call = Extract<LocalAction, { kind: 'agent-call' }>;
const calls = (as: LocalAction[]): Call[] => as.filter((a): a is Call => a.kind === 'agent-call');
const events = (as: LocalAction[]): string[] => as.filter((a) => a.kind === 'event').map((a) => (a as { event: string }).event);

function fold(updates: ConfigUpdate[]): ClusterConfig {
  let c = emptyConfig('c');
  for (const u of updates) {
    const r = applyUpdate(c, u);
    if (!r.ok) assert.fail(r.error.message);
    c = r.value;
  }
  return c;
}

/** Group G: disk `d` <- process `app`, both Online on n1. */
class Node {
  st = emptyLocal();
  now = 0;
  rec: OwnershipRec = { group: 'G', node: 'n1', epoch: 1, term: 1, phase: 'run' };
  config = fold([
    { op: 'node-add', node: 'n1' }, { op: 'group-create', group: 'G' },
    { op: 'resource-create', resource: 'd', group: 'G', type: 'disk', priv: { path: '/srv/lun' }, desired: 'online', props: { isAliveIntervalMs: 1_000, looksAliveIntervalMs: 500 } },
    { op: 'resource-create', resource: 'app', group: 'G', type: 'process', dependsOn: ['d'], desired: 'online' },
  ]);
  ctx(): LocalContext {
    return { self: 'n1', nowMs: this.now, config: this.config, ownership: { G: this.rec }, mayStart: () => true, shuttingDown: false };
  }
  /** Reconcile, answering every call with success, until nothing more is asked. */
  settle(): LocalAction[] {
    const all: LocalAction[] = [];
    let as = reconcile(this.st, this.ctx());
    for (let i = 0; i < 20 && as.length > 0; i++) {
      all.push(...as);
      const next: LocalAction[] = [];
      for (const c of calls(as)) next.push(...agentResult(this.st, 'n1', c.id, true, undefined, c.op === 'looksAlive' || c.op === 'isAlive' ? { alive: true } : undefined, this.now));
      next.push(...reconcile(this.st, this.ctx()));
      as = next;
    }
    return all;
  }
  res(name: string) { return this.st.groups.G!.resources[name]!; }
  ask(req: MaintRequest): LocalAction[] {
    const r = requestMaintenance(this.st, 'n1', this.config.resources.d!, req, 5_000);
    if (!r.ok) assert.fail(`${r.error.code}: ${r.error.message}`);
    return r.value;
  }
}

function online(): Node {
  const n = new Node();
  n.settle();
  assert.equal(n.res('d').state, 'Online');
  assert.equal(n.res('app').state, 'Online');
  return n;
}

test('maintenance suppresses LooksAlive and IsAlive; clearing it resumes them with a thorough check', () => {
  const n = online();
  n.ask(on);
  n.now = 10_000;
  const during = reconcile(n.st, n.ctx());
  assert.deepEqual(calls(during).filter((c) => c.spec.name === 'd'), [], 'no check of the disk in maintenance');
  assert.ok(calls(during).some((c) => c.spec.name === 'app'), 'its dependents are still checked');
  for (const c of calls(during)) agentResult(n.st, 'n1', c.id, true, undefined, { alive: true }, n.now);
  n.ask(off);
  const after = reconcile(n.st, n.ctx());
  assert.deepEqual(calls(after).filter((c) => c.spec.name === 'd').map((c) => c.op), ['isAlive']);
});

test('a check that overlapped the start of maintenance counts for nothing', () => {
  const n = online();
  n.now = 10_000;
  const check = calls(reconcile(n.st, n.ctx())).find((c) => c.spec.name === 'd')!;
  n.ask(on);
  const as = agentResult(n.st, 'n1', check.id, false, 'chkdsk holds the volume', undefined, n.now);
  assert.deepEqual(calls(as), []);
  assert.equal(n.res('d').state, 'Online');
});

test('extended maintenance: dismount call, still Online to dependents; leaving remounts', () => {
  const n = online();
  n.ask(on);
  const enter = n.ask(ext1);
  const [dismount] = calls(enter);
  assert.equal(dismount?.op, 'maintOffline');
  assert.equal(runtimeOf(n.res('d')).maintenance?.internal, 'OfflinePending');
  assert.equal(n.res('d').state, 'Online');
  assert.ok(events(agentResult(n.st, 'n1', dismount!.id, true, undefined, undefined, 1)).includes('EXT_MAINTENANCE_SET'));
  assert.equal(maintenanceStatus(n.res('d').state, n.res('d').maint), "Online(Ext Maintenance, Internal State 'Offline')");
  n.now = 100_000;
  assert.deepEqual(calls(reconcile(n.st, n.ctx())).filter((c) => c.spec.name === 'd' || c.op === 'offline'), [], 'no check, nothing stopped');
  assert.equal(n.res('app').state, 'Online');
  const [remount] = calls(n.ask(ext0));
  assert.equal(remount?.op, 'maintOnline');
  agentResult(n.st, 'n1', remount!.id, true, undefined, undefined, 2);
  assert.equal(maintenanceStatus(n.res('d').state, n.res('d').maint), 'Online(Maintenance)');
});

test('a failed dismount leaves the disk in maintenance with the reason; a failed remount fails the disk', () => {
  const n = online();
  n.ask(on);
  const [dismount] = calls(n.ask(ext1));
  const as = agentResult(n.st, 'n1', dismount!.id, false, 'target is busy', undefined, 1);
  assert.ok(events(as).includes('MAINTENANCE_FAILED'));
  assert.equal(n.res('d').maint?.mode, 'maintenance');
  assert.match(n.res('d').maint?.error ?? '', /busy/);
  const [again] = calls(n.ask(ext1));
  agentResult(n.st, 'n1', again!.id, true, undefined, undefined, 1);
  const [remount] = calls(n.ask(ext0));
  const failed = agentResult(n.st, 'n1', remount!.id, false, 'mount: wrong fs type', undefined, 1);
  assert.deepEqual(calls(failed).map((c) => `${c.op} ${c.spec.name}`), ['terminate d']);
  assert.equal(n.res('d').maint, undefined, 'a failure ends maintenance');
});

test('cleared by offline, failure, a pending state, monitor loss and fencing', () => {
  const viaOffline = online();
  viaOffline.ask(on);
  const r = applyUpdate(viaOffline.config, { op: 'resource-desired', resource: 'd', desired: 'offline' });
  assert.ok(r.ok);
  viaOffline.config = r.value;
  const as = viaOffline.settle();
  assert.ok(events(as).includes('MAINTENANCE_CLEARED'));
  assert.equal(viaOffline.res('d').state, 'Offline');
  assert.equal(viaOffline.res('d').maint, undefined);

  const viaFail = online();
  viaFail.ask(on);
  operatorFail(viaFail.st, 'd');
  assert.equal(viaFail.res('d').state, 'OfflinePending');
  assert.equal(viaFail.res('d').maint, undefined);

  const viaMonitor = online();
  viaMonitor.ask(on);
  assert.ok(events(monitorLost(viaMonitor.st, 'n1', 'crash', 1)).includes('MAINTENANCE_CLEARED'));
  assert.equal(viaMonitor.res('d').maint, undefined);

  const viaFence = online();
  viaFence.ask(on);
  fenced(viaFence.st, 'n1', 'watchdog');
  assert.equal(viaFence.res('d').maint, undefined);

  const viaMove = online();
  viaMove.ask(on);
  viaMove.rec = { ...viaMove.rec, phase: 'stop' };
  viaMove.settle();
  assert.equal(viaMove.res('d').state, 'Offline');
  assert.equal(viaMove.res('d').maint, undefined);
});

test('refusals through the resource manager: a process resource, a disk not running here', () => {
  const n = online();
  const p = requestMaintenance(n.st, 'n1', n.config.resources.app!, on, 1);
  assert.ok(!p.ok && p.error.code === 'MAINTENANCE_NOT_ALLOWED');
  const gone = new Node();
  const q = requestMaintenance(gone.st, 'n1', gone.config.resources.d!, on, 1);
  assert.ok(!q.ok && q.error.code === 'MAINTENANCE_NOT_ALLOWED' && /Offline/.test(q.error.message));
  const clear = requestMaintenance(gone.st, 'n1', gone.config.resources.d!, off, 1);
  assert.ok(clear.ok && clear.value.length === 0);
});

test('a disk taken over (newer epoch): dependents killed at once, disk failed, no restart here', () => {
  const n = online();
  n.ask(on);
  const as = resourceLost(n.st, 'n1', n.config, 'd', 'sector shows epoch 2');
  assert.deepEqual(calls(as).map((c) => `${c.op} ${c.spec.name}`).sort(), ['terminate app', 'terminate d']);
  assert.ok(events(as).includes('DISK_LOST'));
  assert.equal(n.res('d').maint, undefined);
  for (const c of calls(as)) agentResult(n.st, 'n1', c.id, true, undefined, undefined, 1);
  assert.equal(n.res('d').state, 'Failed');
  assert.equal(n.res('app').state, 'Offline');
  n.now = 60_000;
  const after = n.settle();
  assert.deepEqual(calls(after).filter((c) => c.op === 'online'), [], 'nothing restarts under this epoch');
  assert.ok(n.st.groups.G!.released, 'the group is given up');
});
