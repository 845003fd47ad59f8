// Unit tests of the node's resource manager. A small harness plays the shell (src/node/node.ts):
// reconcile, carry out the agent calls, feed their results back with agentResult, reconcile
// again; time is moved by hand.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { applyUpdate, emptyConfig } from './config.js';
import {
  agentResult, emptyLocal, fenced, monitorLost, noWake, operatorFail, quiescent, reconcile, resourceExited, resourceFailed, revokeInherited, runtimeOf, operatorRetry, operatorCleanup,
  type LocalAction, type LocalContext, type LocalResource, type LocalWake,
} from './local.js';
import type { OwnershipRec } from './placement.js';
import type { ClusterConfig, CommonProps, ConfigUpdate } from './types.js';

// ---- harness ------------------------------------------------------------------------------

type Call = Extract<LocalAction, { kind: 'agent-call' }>;
const callsOf = (as: LocalAction[]): Call[] => as.filter((a): a is Call => a.kind === 'agent-call');
const eventsOf = (as: LocalAction[]): string[] => as.filter((a) => a.kind === 'event').map((a) => (a as { event: string }).event);
const brief = (as: LocalAction[]): string[] => callsOf(as).map((c) => `${c.op} ${c.spec.name}`);

function fold(updates: ConfigUpdate[], from: ClusterConfig = emptyConfig('c')): ClusterConfig {
  let c = from;
  for (const u of updates) {
    const r = applyUpdate(c, u);
    if (!r.ok) assert.fail(`${u.op}: ${r.error.code} ${r.error.message}`);
    c = r.value;
  }
  return c;
}

/** Group G: c-disk <- b-ip <- a-app (a-app depends on b-ip, which depends on c-disk), all desired online. */
function chain(props: Partial<CommonProps> = {}): ClusterConfig {
  return fold([
    { op: 'node-add', node: 'n1' }, { op: 'node-add', node: 'n2' }, { op: 'group-create', group: 'G' },
    { op: 'resource-create', resource: 'c-disk', group: 'G', type: 'disk', props },
    { op: 'resource-create', resource: 'b-ip', group: 'G', type: 'ip', props, dependsOn: ['c-disk'] },
    { op: 'resource-create', resource: 'a-app', group: 'G', type: 'process', props, dependsOn: ['b-ip'] },
    { op: 'group-desired', group: 'G', desired: 'online' },
  ]);
}

/** Group G with one resource `srv`, desired online. */
function single(props: Partial<CommonProps> = {}): ClusterConfig {
  return fold([
    { op: 'node-add', node: 'n1' }, { op: 'group-create', group: 'G' },
    { op: 'resource-create', resource: 'srv', group: 'G', type: 'process', props, desired: 'online' },
  ]);
}

class Harness {
  st = emptyLocal();
  now = 0;
  rec: OwnershipRec = { group: 'G', node: 'n1', epoch: 1, term: 1, phase: 'run' };
  mayStart = true;
  mayStartSeen: OwnershipRec[] = [];
  shuttingDown = false;
  /** Agent calls issued and not answered yet. */
  pending = new Map<number, Call>();
  /** The last tick's wake-up (LocalWake). */
  wake: LocalWake = noWake();

  constructor(public config: ClusterConfig) {}

  ctx(): LocalContext {
    return {
      self: 'n1', nowMs: this.now, config: this.config, ownership: { G: this.rec }, shuttingDown: this.shuttingDown,
      mayStart: (rec) => { this.mayStartSeen.push(rec); return this.mayStart; }, wake: this.wake,
    };
  }

  tick(at?: number): LocalAction[] {
    if (at !== undefined) this.now = at;
    this.wake = noWake();
    const as = reconcile(this.st, this.ctx());
    for (const c of callsOf(as)) this.pending.set(c.id, c);
    return as;
  }

  /** Feed the result of call `c` back; the calls it issues (a terminate after a failure) become pending. */
  answer(c: Call, ok = true, data?: { alive?: boolean; why?: string; pid?: number }, error = 'boom'): LocalAction[] {
    this.pending.delete(c.id);
    const as = agentResult(this.st, 'n1', c.id, ok, ok ? undefined : error, data, this.now);
    for (const n of callsOf(as)) this.pending.set(n.id, n);
    return as;
  }

  /** The single pending call for `resource` (asserts there is exactly one). */
  pendingFor(resource: string): Call {
    const cs = [...this.pending.values()].filter((c) => c.spec.name === resource);
    assert.equal(cs.length, 1, `one pending call for ${resource}: ${cs.map((c) => c.op).join(',')}`);
    return cs[0]!;
  }

  /** Answer every call ok and reconcile again until nothing is pending; the calls made, in order. */
  settle(): string[] {
    const out: string[] = [];
    this.tick();
    for (let i = 0; i < 100 && this.pending.size > 0; i++) {
      for (const c of [...this.pending.values()]) {
        out.push(`${c.op} ${c.spec.name}`);
        this.answer(c, true, c.op === 'looksAlive' || c.op === 'isAlive' ? { alive: true } : { pid: 100 + c.id });
      }
      this.tick();
    }
    assert.equal(this.pending.size, 0, 'settled');
    return out;
  }

  get group() { return this.st.groups.G; }
  res(name: string): LocalResource { return this.st.groups.G!.resources[name]!; }
  states(): Record<string, string> {
    return Object.fromEntries(Object.entries(this.st.groups.G?.resources ?? {}).map(([n, r]) => [n, r.state]).sort());
  }
}

const allOnline = { 'a-app': 'Online', 'b-ip': 'Online', 'c-disk': 'Online' };
const allOffline = { 'a-app': 'Offline', 'b-ip': 'Offline', 'c-disk': 'Offline' };

// ---- starting and stopping ----------------------------------------------------------------

describe('local: start and stop', () => {
  test('starts resources in dependency order, each only once its dependencies are Online', () => {
    const h = new Harness(chain());
    const a0 = h.tick();
    assert.deepEqual(eventsOf(a0), ['GROUP_ASSIGNED']);
    assert.deepEqual(brief(a0), ['online c-disk']);
    const c0 = callsOf(a0)[0]!;
    assert.deepEqual([c0.group, c0.epoch, c0.timeoutMs], ['G', 1, 180_000]);
    assert.deepEqual(h.mayStartSeen[0], h.rec, 'mayStart is asked about the ownership record');
    assert.deepEqual(brief(h.tick()), [], 'nothing more while c-disk is OnlinePending');
    assert.equal(h.res('c-disk').state, 'OnlinePending');
    assert.deepEqual(eventsOf(h.answer(c0, true, { pid: 42 })), ['RESOURCE_ONLINE']);
    assert.equal(h.res('c-disk').pid, 42);
    const a1 = h.tick();
    assert.deepEqual(brief(a1), ['online b-ip']);
    h.answer(callsOf(a1)[0]!);
    const a2 = h.tick();
    assert.deepEqual(brief(a2), ['online a-app']);
    h.answer(callsOf(a2)[0]!);
    assert.deepEqual(brief(h.tick()), []);
    assert.deepEqual(h.states(), allOnline);
    assert.equal(h.group!.released, false);
  });

  test('independent resources start together; a failed dependency holds its dependents back', () => {
    const cfg = fold([
      { op: 'resource-create', resource: 'd-solo', group: 'G', type: 'process', desired: 'online' },
    ], chain({ restartDelayMs: 1_000 }));
    const h = new Harness(cfg);
    const a0 = h.tick(0);
    assert.deepEqual(brief(a0).sort(), ['online c-disk', 'online d-solo']);
    assert.deepEqual(brief(h.answer(h.pendingFor('c-disk'), false)), ['terminate c-disk'], 'the failed start is stopped first');
    assert.equal(h.res('c-disk').state, 'OfflinePending');
    assert.deepEqual(brief(h.tick(0)), [], 'b-ip waits for c-disk');
    assert.deepEqual(eventsOf(h.answer(h.pendingFor('c-disk'))), ['RESOURCE_FAILED']);
    assert.equal(h.res('c-disk').state, 'Failed');
    assert.equal(h.res('d-solo').state, 'OnlinePending', 'd-solo is not held back');
    assert.deepEqual(brief(h.tick(10)), [], 'b-ip waits for c-disk');
    assert.deepEqual(brief(h.tick(1_000)), ['online c-disk'], 'restart in place after restartDelayMs');
  });

  test('a resource desired offline is not started, and its dependents are not either', () => {
    const cfg = fold([{ op: 'resource-desired', resource: 'b-ip', desired: 'offline' }], chain());
    const h = new Harness(cfg);
    assert.deepEqual(h.settle(), ['online c-disk']);
    assert.deepEqual(h.states(), { 'a-app': 'Offline', 'b-ip': 'Offline', 'c-disk': 'Online' });
  });

  test('taking a resource offline in the configuration stops its dependents first, the group stays owned', () => {
    const h = new Harness(chain());
    h.settle();
    h.config = fold([{ op: 'resource-desired', resource: 'c-disk', desired: 'offline' }], h.config);
    assert.deepEqual(h.settle(), ['offline a-app', 'offline b-ip', 'offline c-disk']);
    assert.deepEqual(h.states(), allOffline);
    assert.equal(h.group!.released, false);
    h.config = fold([{ op: 'group-desired', group: 'G', desired: 'online' }], h.config);
    assert.deepEqual(h.settle(), ['online c-disk', 'online b-ip', 'online a-app']);
  });

  test('phase stop: stops in reverse dependency order, then releases under the same epoch', () => {
    const h = new Harness(chain());
    h.settle();
    h.rec = { ...h.rec, phase: 'stop' };
    const a0 = h.tick();
    assert.deepEqual(brief(a0), ['offline a-app']);
    assert.equal(callsOf(a0)[0]!.epoch, 1);
    assert.deepEqual(brief(h.tick()), [], 'b-ip waits until a-app is offline');
    h.answer(h.pendingFor('a-app'));
    assert.deepEqual(brief(h.tick()), ['offline b-ip']);
    h.answer(h.pendingFor('b-ip'));
    assert.deepEqual(brief(h.tick()), ['offline c-disk']);
    assert.equal(h.group!.released, false, 'not released while c-disk is OfflinePending');
    assert.equal(quiescent(h.st), false);
    assert.deepEqual(eventsOf(h.answer(h.pendingFor('c-disk'))), ['RESOURCE_OFFLINE']);
    const rel = h.tick();
    assert.deepEqual(eventsOf(rel), ['GROUP_RELEASED']);
    assert.deepEqual([h.group!.released, h.group!.epoch], [true, 1]);
    assert.deepEqual(h.tick(), [], 'released once');
    assert.equal(quiescent(h.st), true);
    assert.deepEqual(h.states(), allOffline);
  });

  test('shuttingDown: everything offline and released, nothing started again', () => {
    const h = new Harness(chain());
    h.settle();
    h.shuttingDown = true;
    assert.deepEqual(h.settle(), ['offline a-app', 'offline b-ip', 'offline c-disk']);
    assert.equal(h.group!.released, true);
    assert.deepEqual(brief(h.tick(100_000)), []);
  });

  test('ownership moving to another node: everything offline, then the local group is dropped', () => {
    const h = new Harness(chain());
    h.settle();
    h.rec = { group: 'G', node: 'n2', epoch: 2, term: 1, phase: 'run' };
    const calls = h.settle();
    assert.deepEqual(calls, ['offline a-app', 'offline b-ip', 'offline c-disk']);
    assert.equal(h.group, undefined);
    assert.deepEqual(h.tick(), []);
    assert.equal(quiescent(h.st), true);
  });

  test('ownership moving away while a start is in flight: the start finishes, then it is stopped', () => {
    const h = new Harness(chain());
    h.tick();
    h.rec = { group: 'G', node: 'n2', epoch: 2, term: 1, phase: 'run' };
    assert.deepEqual(brief(h.tick()), [], 'waits for the online call');
    assert.ok(h.group);
    h.answer(h.pendingFor('c-disk'));
    assert.deepEqual(h.settle(), ['offline c-disk']);
    assert.equal(h.group, undefined);
  });

  test('mayStart false blocks starts and restarts, but does not stop what runs', () => {
    const h = new Harness(chain({ restartDelayMs: 0 }));
    h.mayStart = false;
    assert.deepEqual(brief(h.tick()), []);
    h.mayStart = true;
    h.settle();
    h.mayStart = false;
    assert.deepEqual(brief(h.tick(1)), []);
    assert.deepEqual(h.states(), allOnline);
    h.now = 2;
    resourceExited(h.st, 'n1', 'a-app', 'exit code 1', h.now);
    assert.deepEqual(brief(h.tick(10)), [], 'no restart without mayStart');
    assert.equal(h.res('a-app').state, 'Failed');
    h.mayStart = true;
    assert.deepEqual(brief(h.tick(11)), ['online a-app']);
  });

  test('resources added to or deleted from the configuration while the group runs', () => {
    const h = new Harness(chain());
    h.settle();
    h.config = fold([{ op: 'resource-create', resource: 'e-extra', group: 'G', type: 'process', desired: 'online', dependsOn: ['c-disk'] }], h.config);
    assert.deepEqual(h.settle(), ['online e-extra']);
    h.config = fold([{ op: 'resource-delete', resource: 'e-extra' }], h.config);
    assert.deepEqual(h.settle(), ['offline e-extra']);
    assert.equal(h.group!.resources['e-extra'], undefined);
    assert.deepEqual(h.states(), allOnline);
  });
});

// ---- failures and restarts ----------------------------------------------------------------

describe('local: failures', () => {
  test('restart in place after restartDelayMs', () => {
    const h = new Harness(chain({ restartDelayMs: 500 }));
    h.settle();
    h.now = 1_000;
    const ev = resourceExited(h.st, 'n1', 'a-app', 'exit code 3', h.now);
    assert.deepEqual(eventsOf(ev), ['RESOURCE_FAILED']);
    assert.equal(h.res('a-app').state, 'Failed');
    assert.match(h.res('a-app').error ?? '', /exit code 3/);
    assert.equal(h.res('a-app').pid, undefined);
    assert.deepEqual(brief(h.tick(1_499)), []);
    const r = h.tick(1_500);
    assert.deepEqual(brief(r), ['online a-app']);
    assert.deepEqual(eventsOf(r), ['RESOURCE_RESTARTING']);
    h.answer(h.pendingFor('a-app'));
    assert.deepEqual(h.states(), allOnline);
    assert.equal(runtimeOf(h.res('a-app')).restarts, 1);
    assert.equal(runtimeOf(h.res('a-app')).error, undefined, 'error cleared by the restart');
  });

  test('an exit while stopping or while the start is in flight is not a failure', () => {
    const h = new Harness(single());
    h.tick();
    assert.deepEqual(resourceExited(h.st, 'n1', 'srv', 'x', 0), [], 'OnlinePending with the call in flight');
    h.answer(h.pendingFor('srv'));
    h.rec = { ...h.rec, phase: 'stop' };
    h.tick();
    assert.deepEqual(resourceExited(h.st, 'n1', 'srv', 'x', 0), [], 'OfflinePending');
    assert.deepEqual(resourceExited(h.st, 'n1', 'nope', 'x', 0), [], 'unknown resource');
  });

  test('restart threshold reached within the period: failover requested, group released once all is offline', () => {
    const h = new Harness(chain({ restartThreshold: 2, restartPeriodMs: 60_000, restartDelayMs: 0 }));
    h.settle();
    for (const t of [1_000, 2_000]) {
      h.now = t;
      assert.deepEqual(eventsOf(resourceExited(h.st, 'n1', 'a-app', 'crash', t)), ['RESOURCE_FAILED']);
      assert.deepEqual(h.settle(), ['online a-app']);
    }
    h.now = 3_000;
    const ev = resourceExited(h.st, 'n1', 'a-app', 'crash', h.now);
    assert.deepEqual(eventsOf(ev), ['RESOURCE_FAILED', 'GROUP_FAILOVER_REQUESTED']);
    assert.equal(h.group!.failoverRequested, true);
    assert.deepEqual(h.settle(), ['offline b-ip', 'offline c-disk'], 'no restart: the rest goes offline');
    assert.deepEqual([h.group!.released, h.group!.epoch], [true, 1]);
    assert.equal(runtimeOf(h.res('a-app')).restarts, 2);
    assert.deepEqual(brief(h.tick(100_000)), [], 'nothing starts again under this epoch');
  });

  test('failures spread wider than the restart period never reach the threshold', () => {
    const h = new Harness(single({ restartThreshold: 1, restartPeriodMs: 10_000, restartDelayMs: 0 }));
    h.settle();
    for (const t of [1_000, 20_000, 40_000]) {
      h.now = t;
      assert.deepEqual(eventsOf(resourceExited(h.st, 'n1', 'srv', 'crash', t)), ['RESOURCE_FAILED']);
      assert.deepEqual(h.settle(), ['online srv']);
    }
    h.now = 41_000;
    assert.deepEqual(eventsOf(resourceExited(h.st, 'n1', 'srv', 'crash', h.now)), ['RESOURCE_FAILED', 'GROUP_FAILOVER_REQUESTED']);
  });

  test('restartAction none: stays Failed, no restart, no failover', () => {
    const h = new Harness(single({ restartAction: 'none', restartDelayMs: 0 }));
    h.settle();
    h.now = 10;
    assert.deepEqual(eventsOf(resourceExited(h.st, 'n1', 'srv', 'crash', h.now)), ['RESOURCE_FAILED']);
    assert.deepEqual(brief(h.tick(3_600_000)), []);
    assert.equal(h.res('srv').state, 'Failed');
    assert.deepEqual([h.group!.failoverRequested, h.group!.released], [false, false]);
  });

  test('restartAction restart: restarts up to the threshold, then stays Failed without failover', () => {
    const h = new Harness(single({ restartAction: 'restart', restartThreshold: 1, restartDelayMs: 0 }));
    h.settle();
    h.now = 10;
    resourceExited(h.st, 'n1', 'srv', 'crash', h.now);
    assert.deepEqual(h.settle(), ['online srv']);
    h.now = 20;
    assert.deepEqual(eventsOf(resourceExited(h.st, 'n1', 'srv', 'crash', h.now)), ['RESOURCE_FAILED', 'RESOURCE_LEFT_FAILED']);
    assert.deepEqual(brief(h.tick(3_600_000)), []);
    assert.equal(h.res('srv').state, 'Failed');
    assert.deepEqual([h.group!.failoverRequested, h.group!.released], [false, false]);
    // The operator's /online starts it again with fresh counters; a second retry finds nothing to do.
    assert.deepEqual(eventsOf(operatorRetry(h.st, 'n1', 'G', 'srv')), ['RESOURCE_RETRY']);
    assert.deepEqual(eventsOf(operatorRetry(h.st, 'n1', 'G', null)), []);
    assert.deepEqual(h.settle(), ['online srv']);
    assert.equal(h.res('srv').state, 'Online');
    assert.deepEqual(h.res('srv').restartTimesMs, []);
  });

  test('restartThreshold 0 with restart-failover: the first failure asks for failover', () => {
    const h = new Harness(single({ restartThreshold: 0 }));
    h.settle();
    assert.deepEqual(eventsOf(resourceFailed(h.st, 'n1', 'srv', 'bad', 5)), ['RESOURCE_FAILED', 'GROUP_FAILOVER_REQUESTED']);
    h.tick(6);
    assert.equal(h.group!.released, true);
  });

  test('a failing online call: terminate first, then counted as a failure and restarted', () => {
    const h = new Harness(single({ restartDelayMs: 100 }));
    h.tick(0);
    const a = h.answer(h.pendingFor('srv'), false, undefined, 'no such binary');
    assert.deepEqual(brief(a), ['terminate srv'], 'whatever the failed start left behind is stopped');
    assert.deepEqual(eventsOf(a), []);
    assert.equal(h.res('srv').state, 'OfflinePending');
    assert.equal(runtimeOf(h.res('srv')).restarts, 0, 'not counted before the terminate is confirmed');
    assert.deepEqual(brief(h.tick(50)), [], 'no restart while the terminate runs');
    const ev = h.answer(h.pendingFor('srv'));
    assert.deepEqual(eventsOf(ev), ['RESOURCE_FAILED']);
    assert.equal(h.res('srv').state, 'Failed');
    assert.match(h.res('srv').error ?? '', /online failed: no such binary/);
    assert.equal(runtimeOf(h.res('srv')).restarts, 1);
    assert.deepEqual(brief(h.tick(149)), []);
    assert.deepEqual(brief(h.tick(150)), ['online srv'], 'restartDelayMs counted from the confirmed stop');
  });

  test('a failed terminate recycles the monitor; the failure is counted once the monitor is lost', () => {
    const h = new Harness(single({ restartDelayMs: 100 }));
    h.tick(0);
    h.answer(h.pendingFor('srv'), false, undefined, 'no such binary');
    const a = h.answer(h.pendingFor('srv'), false, undefined, 'cannot kill');
    assert.deepEqual(eventsOf(a), ['RESOURCE_STOP_FAILED']);
    assert.deepEqual(a.filter((x) => x.kind === 'recycle-monitor').length, 1);
    assert.deepEqual(brief(a), []);
    assert.equal(h.res('srv').state, 'OfflinePending', 'not Offline: the process may still run');
    assert.equal(runtimeOf(h.res('srv')).restarts, 0);
    assert.deepEqual(brief(h.tick(1_000)), [], 'nothing until the monitor is gone');
    assert.equal(quiescent(h.st), false);
    // The shell kills the monitor and every process it runs; then:
    assert.deepEqual(eventsOf(monitorLost(h.st, 'n1', 'recycled', 1_000)), ['RESOURCE_FAILED']);
    assert.equal(h.res('srv').state, 'Failed');
    assert.equal(h.res('srv').pendingFailure, undefined);
    assert.equal(runtimeOf(h.res('srv')).restarts, 1, 'counted once');
    assert.deepEqual(brief(h.tick(1_099)), []);
    assert.deepEqual(brief(h.tick(1_100)), ['online srv']);
  });

  test('monitor lost: running resources are marked Failed and restart in dependency order', () => {
    const h = new Harness(chain({ restartDelayMs: 500 }));
    h.settle();
    h.now = 1_000;
    const ev = monitorLost(h.st, 'n1', 'deadlock', h.now);
    assert.deepEqual(eventsOf(ev), ['RESOURCE_FAILED', 'RESOURCE_FAILED', 'RESOURCE_FAILED']);
    assert.deepEqual(h.states(), { 'a-app': 'Failed', 'b-ip': 'Failed', 'c-disk': 'Failed' });
    assert.deepEqual(brief(h.tick(1_499)), []);
    assert.deepEqual(h.settle(), []);
    h.now = 1_500;
    assert.deepEqual(h.settle(), ['online c-disk', 'online b-ip', 'online a-app']);
    assert.deepEqual(h.states(), allOnline);
    for (const r of ['a-app', 'b-ip', 'c-disk']) assert.equal(runtimeOf(h.res(r)).restarts, 1);
  });

  test('monitor lost with calls in flight: a pending start fails, a pending stop is done, stale results are ignored', () => {
    const h = new Harness(fold([{ op: 'resource-create', resource: 'd-solo', group: 'G', type: 'process', desired: 'online' }], chain({ restartDelayMs: 0 })));
    h.tick(0);
    h.answer(h.pendingFor('d-solo'));
    h.config = fold([{ op: 'resource-desired', resource: 'd-solo', desired: 'offline' }], h.config);
    h.tick(1);
    const startCall = h.pendingFor('c-disk');
    const stopCall = h.pendingFor('d-solo');
    assert.deepEqual([startCall.op, stopCall.op], ['online', 'offline']);
    monitorLost(h.st, 'n1', 'crash', 2);
    assert.equal(h.res('c-disk').state, 'Failed');
    assert.equal(h.res('d-solo').state, 'Offline');
    assert.deepEqual(h.answer(startCall), [], 'a result from the lost monitor is ignored');
    assert.deepEqual(h.answer(stopCall), []);
    assert.equal(h.res('c-disk').state, 'Failed');
    h.now = 3;
    assert.deepEqual(h.settle(), ['online c-disk', 'online b-ip', 'online a-app']);
    assert.equal(h.res('d-solo').state, 'Offline');
  });

  test('fenced: released and flagged, nothing restarts under that epoch', () => {
    const h = new Harness(chain({ restartDelayMs: 0 }));
    h.settle();
    h.now = 50;
    resourceExited(h.st, 'n1', 'a-app', 'crash', h.now); // a restart is due...
    const ev = fenced(h.st, 'n1', 'watchdog');
    assert.deepEqual(eventsOf(ev), ['NODE_SELF_FENCED', 'RESOURCE_OFFLINE', 'RESOURCE_OFFLINE'], 'each resource it killed is reported Offline');
    assert.deepEqual(ev.flatMap((a) => (a.kind === 'event' && a.event === 'RESOURCE_OFFLINE' ? [a.data?.resource] : [])).sort(), ['b-ip', 'c-disk']);
    assert.deepEqual([h.group!.released, h.group!.fenced, h.group!.epoch], [true, true, 1]);
    assert.equal(h.res('b-ip').state, 'Offline');
    assert.equal(h.res('c-disk').state, 'Offline');
    for (const t of [51, 1_000, 100_000]) assert.deepEqual(brief(h.tick(t)), [], `t=${t}: ...but nothing restarts`);
    assert.equal(quiescent(h.st), true);
  });

  test('revokeInherited: an assignment the node does not run is released and fenced under its epoch, and starts only under a new one: a coordinator may have given it away meanwhile', () => {
    const h = new Harness(chain());
    const ev = revokeInherited(h.st, 'n1', [h.rec, { group: 'other', node: 'n2', epoch: 4, term: 1, phase: 'run' as const }], 'assigned to an earlier incarnation');
    assert.deepEqual(eventsOf(ev), ['GROUP_REVOKED']);
    assert.deepEqual([h.group!.released, h.group!.fenced, h.group!.epoch], [true, true, 1]);
    assert.equal(h.st.groups.other, undefined, "another node's group is not touched");
    for (const t of [1, 1_000]) assert.deepEqual(brief(h.tick(t)), [], `t=${t}: nothing starts under the inherited epoch`);
    assert.deepEqual(eventsOf(revokeInherited(h.st, 'n1', [h.rec], 'again')), [], 'a group already known is left alone');
    const levels = (atStart: boolean) => revokeInherited(new Harness(chain()).st, 'n1', [h.rec], 'x', atStart).map((a) => (a.kind === 'event' ? a.level : a.kind));
    assert.deepEqual([levels(true), levels(false)], [['info'], ['warning']], 'a restart\'s revocation is the designed path (info); after a lost lease it is a warning');
    h.rec = { ...h.rec, epoch: 2 };
    const next = h.tick(2_000);
    assert.deepEqual(eventsOf(next), ['GROUP_ASSIGNED']);
    assert.deepEqual(brief(next), ['online c-disk'], 'the new epoch starts');
  });

  test('a new epoch after release: a fresh group with reset restart counters, calls carry the new epoch', () => {
    const h = new Harness(chain({ restartThreshold: 1, restartDelayMs: 0 }));
    h.settle();
    h.now = 1;
    resourceExited(h.st, 'n1', 'a-app', 'crash', h.now);
    h.settle();
    h.now = 2;
    resourceExited(h.st, 'n1', 'a-app', 'crash', h.now);
    h.settle();
    assert.deepEqual([h.group!.released, h.group!.failoverRequested], [true, true]);
    h.rec = { ...h.rec, epoch: 2 };
    const a = h.tick(3);
    assert.deepEqual(eventsOf(a), ['GROUP_ASSIGNED']);
    assert.deepEqual(callsOf(a).map((c) => [c.op, c.spec.name, c.epoch]), [['online', 'c-disk', 2]]);
    assert.deepEqual([h.group!.epoch, h.group!.released, h.group!.failoverRequested, h.group!.fenced], [2, false, false, false]);
    h.settle();
    assert.deepEqual(h.states(), allOnline);
    assert.equal(runtimeOf(h.res('a-app')).restarts, 0);
    // And the fresh counters allow a restart again.
    h.now = 4;
    resourceExited(h.st, 'n1', 'a-app', 'crash', h.now);
    assert.deepEqual(h.settle(), ['online a-app']);
  });

  test('a new epoch for this node while the old one still runs: offline under the old epoch, then fresh under the new', () => {
    const h = new Harness(chain());
    h.settle();
    h.rec = { ...h.rec, epoch: 2 };
    const a = h.tick();
    assert.deepEqual(callsOf(a).map((c) => [c.op, c.spec.name, c.epoch]), [['offline', 'a-app', 1]]);
    const calls: [string, number][] = [];
    for (let i = 0; i < 20; i++) {
      for (const c of [...h.pending.values()]) { calls.push([`${c.op} ${c.spec.name}`, c.epoch]); h.answer(c); }
      h.tick();
    }
    assert.deepEqual(calls, [['offline a-app', 1], ['offline b-ip', 1], ['offline c-disk', 1], ['online c-disk', 2], ['online b-ip', 2], ['online a-app', 2]]);
    assert.equal(h.group!.epoch, 2);
  });

  test('operator /fail: terminate first, then counted as a failure and restarted', () => {
    const h = new Harness(chain({ restartDelayMs: 100 }));
    h.settle();
    assert.deepEqual(operatorFail(h.st, 'nope'), []);
    h.now = 1_000;
    const a = operatorFail(h.st, 'a-app');
    assert.deepEqual(brief(a), ['terminate a-app']);
    for (const c of callsOf(a)) h.pending.set(c.id, c);
    assert.equal(h.res('a-app').state, 'OfflinePending');
    assert.deepEqual(operatorFail(h.st, 'a-app'), [], 'not twice');
    assert.deepEqual(brief(h.tick(1_000)), []);
    const ev = h.answer(h.pendingFor('a-app'));
    assert.deepEqual(eventsOf(ev), ['RESOURCE_FAILED']);
    assert.equal(h.res('a-app').state, 'Failed');
    assert.match(h.res('a-app').error ?? '', /operator/);
    assert.equal(runtimeOf(h.res('a-app')).restarts, 1);
    assert.deepEqual(brief(h.tick(1_099)), []);
    assert.deepEqual(brief(h.tick(1_100)), ['online a-app']);
    assert.deepEqual(operatorFail(h.st, 'a-app'), [], 'not while OnlinePending');
  });
});

// ---- health checks ------------------------------------------------------------------------

describe('local: health checks', () => {
  const props = { looksAliveIntervalMs: 1_000, isAliveIntervalMs: 5_000, restartDelayMs: 200 };

  test('LooksAlive and IsAlive are scheduled by their intervals, one at a time', () => {
    const h = new Harness(single(props));
    h.tick(0);
    h.answer(h.pendingFor('srv'));
    assert.deepEqual(brief(h.tick(999)), []);
    const c1 = h.tick(1_000);
    assert.deepEqual(brief(c1), ['looksAlive srv']);
    assert.equal(callsOf(c1)[0]!.timeoutMs, 180_000);
    assert.deepEqual(brief(h.tick(1_500)), [], 'one check at a time');
    h.now = 1_000;
    assert.deepEqual(h.answer(h.pendingFor('srv'), true, { alive: true }), []);
    assert.deepEqual(brief(h.tick(1_999)), [], 'interval counted from the last check');
    const seen: string[] = [];
    for (let t = 2_000; t <= 10_000; t += 1_000) {
      for (const c of callsOf(h.tick(t))) { seen.push(`${t} ${c.op}`); h.answer(c, true, { alive: true }); }
    }
    assert.deepEqual(seen, ['2000 looksAlive', '3000 looksAlive', '4000 looksAlive', '5000 isAlive',
      '6000 looksAlive', '7000 looksAlive', '8000 looksAlive', '9000 looksAlive', '10000 isAlive']);
    assert.equal(h.res('srv').state, 'Online');
  });

  test('a failed check (alive false, or an error) fails the resource, which restarts', () => {
    const want = new Map<unknown, RegExp>([['alive false', /^isAlive check failed$/], ['why', /^isAlive check failed: process exited \(exit code 3\)$/], ['error', /^isAlive check failed: probe timed out$/]]);
    for (const [ok, data, kind] of [[true, { alive: false }, 'alive false'], [true, { alive: false, why: 'process exited (exit code 3)' }, 'why'], [false, undefined, 'error']] as const) {
      const h = new Harness(single(props));
      h.tick(0);
      h.answer(h.pendingFor('srv'));
      h.tick(5_000);
      const check = h.pendingFor('srv');
      assert.equal(check.op, 'isAlive');
      const a = h.answer(check, ok, data, 'probe timed out');
      assert.deepEqual(brief(a), ['terminate srv'], `the unhealthy process is stopped first (${JSON.stringify(data)})`);
      assert.deepEqual(eventsOf(a), []);
      assert.equal(h.res('srv').state, 'OfflinePending');
      assert.deepEqual(brief(h.tick(5_100)), [], 'no check and no restart while the terminate runs');
      const ev = h.answer(h.pendingFor('srv'));
      assert.deepEqual(eventsOf(ev), ['RESOURCE_FAILED']);
      assert.equal(h.res('srv').state, 'Failed');
      assert.match(h.res('srv').error ?? '', want.get(kind)!, 'a dead answer says why when the agent knows');
      assert.equal(runtimeOf(h.res('srv')).restarts, 1);
      assert.deepEqual(brief(h.tick(5_299)), []);
      assert.deepEqual(brief(h.tick(5_300)), ['online srv']);
    }
  });

  test('a check answered after the resource left Online is ignored', () => {
    const h = new Harness(single(props));
    h.tick(0);
    h.answer(h.pendingFor('srv'));
    h.tick(1_000);
    const check = h.pendingFor('srv');
    h.now = 1_001;
    resourceExited(h.st, 'n1', 'srv', 'crash', h.now);
    assert.deepEqual(h.answer(check, false), []);
    assert.equal(runtimeOf(h.res('srv')).restarts, 1, 'counted once');
  });
});

// ---- regressions: bugs found by these tests ------------------------------------------------

describe('local: regressions (bugs found by these tests)', () => {
  test('a failure takes every transitive dependent offline (chain of three)', () => {
    const h = new Harness(chain({ restartDelayMs: 60_000 }));
    h.settle();
    h.now = 1_000;
    resourceExited(h.st, 'n1', 'c-disk', 'disk gone', h.now);
    const calls = h.settle();
    assert.deepEqual(calls, ['offline a-app', 'offline b-ip']);
    assert.deepEqual(h.states(), { 'a-app': 'Offline', 'b-ip': 'Offline', 'c-disk': 'Failed' });
  });

  test('a resource that failed a health check is stopped before the group is released', () => {
    const h = new Harness(single({ restartThreshold: 0, isAliveIntervalMs: 1_000 }));
    h.tick(0);
    h.answer(h.pendingFor('srv'));
    h.tick(1_000);
    const a = h.answer(h.pendingFor('srv'), true, { alive: false });
    assert.deepEqual(brief(a), ['terminate srv'], 'a stop call for the unhealthy process');
    assert.equal(h.group!.failoverRequested, false, 'the failure counts once the process is stopped');
    h.tick(1_001);
    assert.equal(h.group!.released, false, 'not released before the failed process is stopped');
    assert.deepEqual(eventsOf(h.answer(h.pendingFor('srv'))), ['RESOURCE_FAILED', 'GROUP_FAILOVER_REQUESTED']);
    assert.deepEqual(eventsOf(h.tick(1_002)), ['GROUP_RELEASED']);
    assert.equal(h.group!.released, true);
  });

  test('a failed offline call does not release the group', () => {
    const h = new Harness(single());
    h.settle();
    h.rec = { ...h.rec, phase: 'stop' };
    h.tick(10);
    const a = h.answer(h.pendingFor('srv'), false, undefined, 'stop timed out');
    assert.ok(a.some((x) => x.kind === 'recycle-monitor'), 'the monitor is recycled to be sure the process is gone');
    h.tick(11);
    assert.equal(h.group!.released, false);
    assert.equal(h.res('srv').state, 'OfflinePending');
    // Once the monitor (and every process it ran) is gone, the group is released, with no failure counted.
    assert.deepEqual(eventsOf(monitorLost(h.st, 'n1', 'recycled', 12)), []);
    assert.deepEqual(eventsOf(h.tick(12)), ['GROUP_RELEASED']);
    assert.equal(h.res('srv').state, 'Offline');
    assert.equal(runtimeOf(h.res('srv')).restarts, 0);
  });

  test('an operator /fail interrupted by a monitor loss does not linger', () => {
    const h = new Harness(single({ restartDelayMs: 0 }));
    h.settle();
    for (const c of callsOf(operatorFail(h.st, 'srv'))) h.pending.set(c.id, c);
    monitorLost(h.st, 'n1', 'crash', 1);
    h.pending.clear();
    h.now = 2;
    h.settle();
    assert.equal(h.res('srv').state, 'Online');
    const before = runtimeOf(h.res('srv')).restarts;
    h.rec = { ...h.rec, phase: 'stop' };
    h.tick(3);
    const ev = h.answer(h.pendingFor('srv'));
    assert.deepEqual(eventsOf(ev), ['RESOURCE_OFFLINE']);
    assert.equal(runtimeOf(h.res('srv')).restarts, before);
  });
});

// ---- property: random event sequences --------------------------------------------------------

describe('local: properties', () => {
  type Step =
    | { t: 'tick'; dt: number }
    | { t: 'answer'; pick: number; ok: boolean; alive: boolean }
    | { t: 'exit'; r: number }
    | { t: 'monitorLost' }
    | { t: 'fenced' }
    | { t: 'opFail'; r: number }
    | { t: 'own'; kind: 'stop' | 'self' | 'other' }
    | { t: 'mayStart'; v: boolean }
    | { t: 'shutdown' };

  const step: fc.Arbitrary<Step> = fc.oneof(
    { weight: 6, arbitrary: fc.record({ t: fc.constant('tick' as const), dt: fc.integer({ min: 0, max: 1_500 }) }) },
    { weight: 10, arbitrary: fc.record({ t: fc.constant('answer' as const), pick: fc.nat(), ok: fc.boolean(), alive: fc.boolean() }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('exit' as const), r: fc.nat(3) }) },
    { weight: 1, arbitrary: fc.constant({ t: 'monitorLost' as const }) },
    { weight: 1, arbitrary: fc.constant({ t: 'fenced' as const }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('opFail' as const), r: fc.nat(3) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('own' as const), kind: fc.constantFrom('stop' as const, 'self' as const, 'other' as const) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant('mayStart' as const), v: fc.boolean() }) },
    { weight: 1, arbitrary: fc.constant({ t: 'shutdown' as const }) },
  );
  const names = ['a-app', 'b-ip', 'c-disk', 'd-solo'];

  /**
   * Runs a random sequence against a model of what really runs on the node. `benign`: a failed
   * call or check means the process is gone (as after a crash); otherwise a failed online, a
   * failed offline or terminate, or a failed check leaves the process running, as a hung or
   * unhealthy process does. A `recycle-monitor` action kills the monitor and all it runs.
   */
  function run(steps: Step[], benign: boolean): void {
    const cfg = fold([{ op: 'resource-create', resource: 'd-solo', group: 'G', type: 'process', desired: 'online' }],
      chain({ restartThreshold: 2, restartPeriodMs: 10_000, restartDelayMs: 100, looksAliveIntervalMs: 200, isAliveIntervalMs: 600 }));
    const h = new Harness(cfg);
    const running = new Set<string>();
    const releasedEpochs = new Set<number>();
    const check = (actions: LocalAction[], what: string) => {
      const lg = h.st.groups.G;
      for (const c of callsOf(actions)) {
        if (c.op !== 'online') continue;
        assert.ok(h.rec.node === 'n1' && h.rec.phase === 'run' && h.rec.epoch === c.epoch, `${what}: online ${c.spec.name} without a run record for epoch ${c.epoch}`);
        assert.ok(h.mayStart && !h.shuttingDown, `${what}: online ${c.spec.name} while mayStart=${h.mayStart} shuttingDown=${h.shuttingDown}`);
        assert.ok(!releasedEpochs.has(c.epoch), `${what}: online ${c.spec.name} under released epoch ${c.epoch}`);
        for (const d of cfg.resources[c.spec.name]!.dependsOn) assert.equal(lg?.resources[d]?.state, 'Online', `${what}: ${c.spec.name} started before ${d}`);
      }
      const inFlight = new Map<string, number>();
      for (const c of h.pending.values()) if (['online', 'offline', 'terminate'].includes(c.op)) inFlight.set(c.spec.name, (inFlight.get(c.spec.name) ?? 0) + 1);
      for (const [r, n] of inFlight) assert.ok(n <= 1, `${what}: ${n} calls in flight for ${r}`);
      if (lg?.released) releasedEpochs.add(lg.epoch);
      if (!lg || lg.released) assert.deepEqual([...running], [], `${what}: group ${lg ? 'released' : 'dropped'} while ${[...running].join(',')} still run`);
      if (benign) {
        for (const r of running) {
          const s = lg?.resources[r]?.state;
          assert.ok(s === 'Online' || s === 'OnlinePending' || s === 'OfflinePending', `${what}: ${r} runs but the manager says ${s}`);
        }
      }
    };
    /** The shell's answer to `recycle-monitor`: the monitor and every process it runs are killed, then monitorLost. */
    const recycle = (actions: LocalAction[]): LocalAction[] => {
      if (!actions.some((a) => a.kind === 'recycle-monitor')) return actions;
      running.clear();
      h.pending.clear();
      return [...actions, ...recycle(monitorLost(h.st, 'n1', 'monitor recycled', h.now))];
    };
    check(h.tick(0), 'start');
    steps.forEach((s, i) => {
      const what = `step ${i} ${JSON.stringify(s)}`;
      let actions: LocalAction[] = [];
      switch (s.t) {
        case 'tick': h.now += s.dt; break;
        case 'answer': {
          const ps = [...h.pending.values()];
          if (ps.length === 0) break;
          const c = ps[s.pick % ps.length]!;
          const isCheck = c.op === 'looksAlive' || c.op === 'isAlive';
          const good = isCheck ? s.ok && s.alive : s.ok;
          if (c.op === 'online' && (s.ok || !benign)) running.add(c.spec.name);
          if ((c.op === 'offline' || c.op === 'terminate') && (s.ok || benign)) running.delete(c.spec.name);
          if (isCheck && !good && benign) running.delete(c.spec.name);
          actions = h.answer(c, s.ok, isCheck ? { alive: s.alive } : undefined);
          break;
        }
        case 'exit': {
          const r = names[s.r]!;
          const busy = [...h.pending.values()].some((c) => c.spec.name === r && !['looksAlive', 'isAlive'].includes(c.op));
          if (!running.has(r) || busy) break;
          running.delete(r);
          actions = resourceExited(h.st, 'n1', r, 'crash', h.now);
          break;
        }
        case 'monitorLost': running.clear(); h.pending.clear(); actions = monitorLost(h.st, 'n1', 'lost', h.now); break;
        case 'fenced': running.clear(); h.pending.clear(); actions = fenced(h.st, 'n1', 'watchdog'); break;
        case 'opFail': actions = operatorFail(h.st, names[s.r]!); for (const c of callsOf(actions)) h.pending.set(c.id, c); break;
        case 'own':
          if (s.kind === 'stop') h.rec = { ...h.rec, phase: 'stop' };
          else h.rec = { group: 'G', node: s.kind === 'self' ? 'n1' : 'n2', epoch: h.rec.epoch + 1, term: 1, phase: 'run' };
          break;
        case 'mayStart': h.mayStart = s.v; break;
        case 'shutdown': h.shuttingDown = true; break;
      }
      actions = recycle(actions);
      const ticked = recycle(h.tick());
      check([...actions, ...ticked], what);
      if (ticked.length === 0) quietHolds(h, what);
    });
  }

  /**
   * The quiet rule (node/quiet.ts): a tick that did nothing and refused no start, reconciled again
   * on the same facts at any time before its wake-up, does nothing and changes nothing.
   */
  function quietHolds(h: Harness, what: string): void {
    const wake = h.wake;
    if (wake.startRefused) return;
    const last = Number.isFinite(wake.atMs) ? wake.atMs - 1 : h.now + 3_600_000;
    for (const t of new Set([h.now, Math.floor((h.now + last) / 2), last])) {
      if (t < h.now) continue;
      const st = structuredClone(h.st);
      const again = reconcile(st, { ...h.ctx(), nowMs: t, wake: noWake(), mayStart: () => h.mayStart });
      assert.deepEqual(again, [], `${what}: quiet at ${h.now} until ${wake.atMs}, yet at ${t} it did ${JSON.stringify(again)}`);
      assert.deepEqual(st, h.st, `${what}: quiet at ${h.now} until ${wake.atMs}, yet at ${t} it changed the local state`);
    }
  }

  // size 'max': fast-check's default size keeps arrays to about ten steps, too short to reach a
  // failed check or a failed stop on a running group.
  const sequences = fc.array(step, { maxLength: 150, size: 'max' });

  test('random event sequences: starts only when allowed, in dependency order, never after release (fast-check)', () => {
    fc.assert(fc.property(sequences, (steps) => run(steps, true)), { numRuns: 300 });
  });

  test('random event sequences with hung or unhealthy processes: nothing runs once released', () => {
    fc.assert(fc.property(sequences, (steps) => run(steps, false)), { numRuns: 600 });
  });
});

describe('local: what an agent\'s failure kind asks (core/agent-codes.ts)', () => {
  /** Fail the online of `srv` with `kind`, confirm the terminate, and return the actions of the confirmation. */
  function failOnline(h: Harness, kind: 'restart' | 'failover' | 'fatal'): LocalAction[] {
    h.tick(0);
    const c = h.pendingFor('srv');
    h.pending.delete(c.id);
    const t = agentResult(h.st, 'n1', c.id, false, 'exit code 5', undefined, h.now, undefined, kind);
    assert.deepEqual(brief(t), ['terminate srv'], 'stopped first, whatever the kind');
    for (const n of callsOf(t)) h.pending.set(n.id, n);
    return h.answer(h.pendingFor('srv'));
  }

  test('failover: no restart here, the group fails over at once (restart-failover)', () => {
    const h = new Harness(single({ restartDelayMs: 0, restartThreshold: 3 }));
    const ev = failOnline(h, 'failover');
    assert.deepEqual(eventsOf(ev), ['RESOURCE_FAILED', 'GROUP_FAILOVER_REQUESTED']);
    assert.equal(h.group!.failoverRequested, true);
    assert.equal(h.res('srv').restartAtMs, null);
    assert.deepEqual(brief(h.tick(10)), [], 'never started here again');
  });

  test('failover with restartAction restart: stays Failed here, no restart, no failover', () => {
    const h = new Harness(single({ restartDelayMs: 0, restartAction: 'restart' }));
    assert.deepEqual(eventsOf(failOnline(h, 'failover')), ['RESOURCE_FAILED', 'RESOURCE_LEFT_FAILED']);
    assert.equal(h.group!.failoverRequested, false);
    assert.deepEqual(brief(h.tick(10)), []);
  });

  test('fatal: Failed with the reason, neither restarted nor failed over; an operator retry starts it again', () => {
    const h = new Harness(single({ restartDelayMs: 0, restartThreshold: 3 }));
    assert.deepEqual(eventsOf(failOnline(h, 'fatal')), ['RESOURCE_FAILED', 'RESOURCE_CONFIG_ERROR']);
    assert.equal(h.group!.failoverRequested, false);
    assert.equal(h.res('srv').state, 'Failed');
    assert.deepEqual(brief(h.tick(1_000)), []);
    assert.deepEqual(eventsOf(operatorRetry(h.st, 'n1', 'G', 'srv')), ['RESOURCE_RETRY']);
    assert.deepEqual(brief(h.tick(1_001)), ['online srv']);
  });

  test('a failed isAlive check carries its kind the same way', () => {
    const h = new Harness(single({ restartDelayMs: 0, isAliveIntervalMs: 100 }));
    h.settle();
    const check = h.tick(200);
    const c = callsOf(check)[0]!;
    assert.equal(c.op, 'isAlive');
    h.pending.delete(c.id);
    const t = agentResult(h.st, 'n1', c.id, false, 'exit code 5', undefined, h.now, undefined, 'failover');
    for (const n of callsOf(t)) h.pending.set(n.id, n);
    assert.deepEqual(eventsOf(h.answer(h.pendingFor('srv'))), ['RESOURCE_FAILED', 'GROUP_FAILOVER_REQUESTED']);
  });
});

// ---- a Failed resource: taken offline, cleaned up ------------------------------------------

describe('local: Failed resources taken offline and cleaned up', () => {
  /** srv left Failed on n1 (restartAction restart, threshold 0): nothing runs, the group stays here. */
  function leftFailed(): Harness {
    const h = new Harness(single({ restartAction: 'restart', restartThreshold: 0 }));
    h.settle();
    resourceFailed(h.st, 'n1', 'srv', 'process exited (code 1)', 5);
    h.tick(6);
    assert.equal(h.res('srv').state, 'Failed');
    return h;
  }

  test('/offline of a Failed resource makes it Offline without an agent call (nothing runs)', () => {
    const h = leftFailed();
    h.config = fold([{ op: 'resource-desired', resource: 'srv', desired: 'offline' }], h.config);
    const as = h.tick(7);
    assert.deepEqual(brief(as), [], 'no stop: a Failed resource runs nothing');
    assert.deepEqual(eventsOf(as), ['RESOURCE_OFFLINE']);
    assert.equal(h.res('srv').state, 'Offline');
    assert.equal(h.res('srv').error, undefined);
    assert.equal(runtimeOf(h.res('srv')).restarts, 0);
    assert.deepEqual(brief(h.tick(8)), [], 'and it stays Offline');
  });

  test('/offline of a Failed resource waiting for a restart cancels the restart', () => {
    const h = new Harness(single({ restartDelayMs: 100 }));
    h.settle();
    resourceFailed(h.st, 'n1', 'srv', 'boom', 5);
    assert.notEqual(h.res('srv').restartAtMs, null);
    h.config = fold([{ op: 'resource-desired', resource: 'srv', desired: 'offline' }], h.config);
    assert.deepEqual(eventsOf(h.tick(6)), ['RESOURCE_OFFLINE']);
    assert.deepEqual(brief(h.tick(500)), [], 'no restart after the delay');
    assert.equal(h.res('srv').state, 'Offline');
  });

  test('/offline of a Failed resource whose group failed over (released) makes it Offline too', () => {
    const h = new Harness(single({ restartThreshold: 0 }));
    h.settle();
    resourceFailed(h.st, 'n1', 'srv', 'boom', 5);
    h.tick(6);
    assert.equal(h.group!.released, true);
    h.config = fold([{ op: 'resource-desired', resource: 'srv', desired: 'offline' }], h.config);
    assert.deepEqual(eventsOf(h.tick(7)), ['RESOURCE_OFFLINE']);
    assert.equal(h.res('srv').state, 'Offline');
  });

  test('a Failed resource whose stop is under way stays until the stop is confirmed', () => {
    const h = new Harness(single({ restartAction: 'restart', restartThreshold: 0 }));
    h.settle();
    const stop = callsOf(operatorFail(h.st, 'srv'))[0]!;
    assert.equal(stop.op, 'terminate');
    h.config = fold([{ op: 'resource-desired', resource: 'srv', desired: 'offline' }], h.config);
    assert.deepEqual(brief(h.tick(7)), []);
    assert.equal(h.res('srv').state, 'OfflinePending', 'the terminate still runs');
    h.answer(stop);
    assert.equal(h.res('srv').state, 'Failed');
    assert.deepEqual(brief(h.tick(8)), [], 'no stop: the terminate confirmed it gone');
    assert.equal(h.res('srv').state, 'Offline');
  });

  test('cleanup resets the restart counters and the Failed state; desired online starts it again', () => {
    const h = leftFailed();
    const as = operatorCleanup(h.st, 'n1', 'G', 'srv');
    assert.deepEqual(eventsOf(as), ['RESOURCE_CLEANUP']);
    assert.equal(h.res('srv').state, 'Offline');
    assert.equal(h.res('srv').error, undefined);
    assert.equal(runtimeOf(h.res('srv')).restarts, 0);
    assert.deepEqual(h.settle(), ['online srv']);
    assert.equal(h.res('srv').state, 'Online');
  });

  test('cleanup of a resource that is Online only resets its counters', () => {
    const h = new Harness(single({ restartDelayMs: 0 }));
    h.settle();
    resourceFailed(h.st, 'n1', 'srv', 'boom', 5);
    h.now = 10;
    assert.deepEqual(h.settle(), ['online srv']);
    assert.equal(runtimeOf(h.res('srv')).restarts, 1);
    assert.deepEqual(eventsOf(operatorCleanup(h.st, 'n1', 'G', 'srv')), ['RESOURCE_CLEANUP']);
    assert.equal(h.res('srv').state, 'Online');
    assert.equal(runtimeOf(h.res('srv')).restarts, 0);
    assert.deepEqual(eventsOf(operatorCleanup(h.st, 'n1', 'G', 'srv')), [], 'nothing left to clean');
  });

  test('cleanup leaves a resource with a call in flight alone', () => {
    const h = new Harness(single());
    h.tick(0);
    assert.deepEqual(eventsOf(operatorCleanup(h.st, 'n1', 'G', 'srv')), []);
    assert.equal(h.res('srv').state, 'OnlinePending');
  });
});

test('local: a retry or cleanup naming a group that is a built-in name of objects finds no group', () => {
  const h = new Harness(single());
  h.settle();
  for (const g of ['__proto__', 'constructor', 'toString']) {
    assert.deepEqual(operatorRetry(h.st, 'n1', g, null), []);
    assert.deepEqual(operatorCleanup(h.st, 'n1', g, null), []);
  }
});
