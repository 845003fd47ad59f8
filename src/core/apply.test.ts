// Unit tests of `cluster apply`: the plan (updates and readable lines), idempotence, and error
// paths that point into the document.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { applyGroupsMax, applyResourcesMax, planApply, type ApplyDoc, type ApplyResourceSpec } from './apply.js';
import { applyUpdate, emptyConfig, resourceTypesSupported } from './config.js';
import type { Result } from './errors.js';
import { commonPropDefaults, resourceTypes, type ClusterConfig, type ConfigUpdate } from './types.js';

function must<T>(r: Result<T>): T {
  if (!r.ok) assert.fail(`expected ok, got ${r.error.code} at ${r.error.path}: ${r.error.message}`);
  return r.value;
}

function nodes(): ClusterConfig {
  let c = emptyConfig('c');
  for (const node of ['n1', 'n2', 'n3']) c = must(applyUpdate(c, { op: 'node-add', node }));
  return c;
}

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as Record<string, unknown>)) deepFreeze(v);
  }
  return o;
}

const doc = (): ApplyDoc => ({
  groups: {
    web: {
      preferredOwners: ['n1', 'n2'],
      failback: { mode: 'window', startHour: 22, endHour: 6 },
      resources: {
        data: { type: 'disk', priv: { path: '/srv/data' } },
        app: { type: 'process', dependsOn: ['data'], props: { restartThreshold: 5 }, priv: { command: 'app --serve' } },
        vip: { type: 'process', dependsOn: ['app'], priv: { command: 'vip-up' } },
      },
    },
  },
});

describe('apply: plan', () => {
  test('a new group: create lines in order, updates that the fold accepts, everything brought online', () => {
    const r = must(planApply(nodes(), doc()));
    assert.deepEqual(r.lines, [
      'create group web',
      'create resource data (disk) in group web',
      'create resource app (process) in group web',
      'add dependency app -> data',
      'create resource vip (process) in group web',
      'add dependency vip -> app',
      'bring group web online',
    ]);
    assert.deepEqual(r.updates.map((u) => u.op), ['group-create', 'resource-create', 'resource-create', 'resource-create',
      'resource-add-dep', 'resource-add-dep', 'group-desired']);
    const c = r.config;
    assert.deepEqual(c.groups.web!.preferredOwners, ['n1', 'n2']);
    assert.deepEqual(c.groups.web!.failback, { mode: 'window', startHour: 22, endHour: 6 });
    assert.deepEqual(c.resources.app!.dependsOn, ['data']);
    assert.deepEqual(c.resources.vip!.dependsOn, ['app']);
    assert.deepEqual(c.resources.app!.props, { ...commonPropDefaults, restartThreshold: 5 });
    assert.deepEqual(c.resources.data!.priv, { path: '/srv/data' });
    assert.deepEqual(['data', 'app', 'vip'].map((n) => c.resources[n]!.desired), ['online', 'online', 'online']);
    // The updates replayed one by one (as the quorum log does) give the same configuration.
    let replay = nodes();
    for (const u of r.updates) replay = must(applyUpdate(replay, u));
    assert.deepEqual(replay, c);
  });

  test('dependencies may name resources listed later in the document', () => {
    const d: ApplyDoc = { groups: { g: { resources: { front: { type: 'process', priv: { command: 'x' }, dependsOn: ['back'] }, back: { type: 'process', priv: { command: 'x' } } } } } };
    const r = must(planApply(nodes(), d));
    assert.deepEqual(r.config.resources.front!.dependsOn, ['back']);
  });

  test('idempotent: the same document applied to the result plans nothing', () => {
    const first = must(planApply(nodes(), doc()));
    const again = must(planApply(first.config, doc()));
    assert.deepEqual(again.updates, []);
    assert.deepEqual(again.lines, []);
    assert.deepEqual(again.config, first.config);
  });

  test('state offline: created offline, and idempotent too', () => {
    const d = doc();
    d.groups.web!.state = 'offline';
    const first = must(planApply(nodes(), d));
    assert.deepEqual(Object.values(first.config.resources).map((r) => r.desired), ['offline', 'offline', 'offline']);
    assert.deepEqual(must(planApply(first.config, d)).updates, []);
    // Switching the state is one update.
    const on = must(planApply(first.config, doc()));
    assert.deepEqual(on.updates, [{ op: 'group-desired', group: 'web', desired: 'online' }]);
    assert.deepEqual(on.lines, ['bring group web online']);
  });

  test('changes: only what differs, one line per field', () => {
    const first = must(planApply(nodes(), doc()));
    const d = doc();
    d.groups.web!.preferredOwners = ['n2'];
    d.groups.web!.failoverThreshold = 3;
    d.groups.web!.resources!.app!.props = { restartThreshold: 5, stopGraceMs: 100 };
    d.groups.web!.resources!.data!.priv = { path: '/srv/other' };
    d.groups.web!.resources!.vip!.dependsOn = ['data'];
    const r = must(planApply(first.config, d));
    assert.deepEqual(r.lines, [
      'set group web preferredOwners = ["n2"]',
      'set group web failoverThreshold = 3',
      'set data.priv.path = "/srv/other"',
      'set app.props.stopGraceMs = 100',
      'remove dependency vip -> app',
      'add dependency vip -> data',
    ]);
    assert.deepEqual(r.updates, [
      { op: 'group-set', group: 'web', preferredOwners: ['n2'], failoverThreshold: 3 },
      { op: 'resource-set', resource: 'data', props: {}, priv: { path: '/srv/other' } },
      { op: 'resource-set', resource: 'app', props: { stopGraceMs: 100 }, priv: {} },
      { op: 'resource-remove-dep', resource: 'vip', dependsOn: 'app' },
      { op: 'resource-add-dep', resource: 'vip', dependsOn: 'data' },
    ] satisfies ConfigUpdate[]);
    assert.deepEqual(r.config.resources.vip!.dependsOn, ['data']);
    assert.deepEqual(must(planApply(r.config, d)).updates, [], 'idempotent after a change too');
  });

  test('nothing is deleted: groups and resources missing from the document stay', () => {
    const first = must(planApply(nodes(), doc()));
    const r = must(planApply(first.config, { groups: { web: { resources: { app: { type: 'process', priv: { command: 'app --serve' }, dependsOn: ['data'] } } } } }));
    assert.deepEqual(r.updates, []);
    assert.deepEqual(Object.keys(r.config.resources).sort(), ['app', 'data', 'vip']);
  });

  test('planApply does not modify the configuration it is given', () => {
    const c = deepFreeze(must(planApply(nodes(), doc())).config);
    const snapshot = JSON.stringify(c);
    const d = doc();
    d.groups.web!.resources!.vip!.dependsOn = ['data'];
    d.groups.web!.failoverThreshold = 1;
    must(planApply(c, d));
    assert.equal(JSON.stringify(c), snapshot);
  });
});

describe('apply: errors carry a path into the document', () => {
  const errOf = (c: ClusterConfig, d: ApplyDoc) => {
    const r = planApply(c, d);
    if (r.ok) assert.fail('expected an error');
    return { code: r.error.code, path: r.error.path };
  };

  test('dependency on a missing resource, for an existing resource', () => {
    const first = must(planApply(nodes(), doc()));
    const d = doc();
    d.groups.web!.resources!.vip!.dependsOn = ['app', 'nope'];
    assert.deepEqual(errOf(first.config, d), { code: 'DEPENDENCY_NOT_FOUND', path: 'groups.web.resources.vip.dependsOn' });
  });

  test('dependency cycle, for an existing resource', () => {
    const first = must(planApply(nodes(), doc()));
    const d = doc();
    d.groups.web!.resources!.data!.dependsOn = ['vip'];
    assert.deepEqual(errOf(first.config, d), { code: 'DEPENDENCY_CYCLE', path: 'groups.web.resources.data.dependsOn' });
  });

  test('dependency errors for resources created by the same document', () => {
    const missing: ApplyDoc = { groups: { web: { resources: { app: { type: 'process', priv: { command: 'x' }, dependsOn: ['nope'] } } } } };
    assert.deepEqual(errOf(nodes(), missing), { code: 'DEPENDENCY_NOT_FOUND', path: 'groups.web.resources.app.dependsOn' });
    const cycle: ApplyDoc = { groups: { web: { resources: { a: { type: 'process', priv: { command: 'x' }, dependsOn: ['b'] }, b: { type: 'process', priv: { command: 'x' }, dependsOn: ['a'] } } } } };
    assert.deepEqual(errOf(nodes(), cycle), { code: 'DEPENDENCY_CYCLE', path: 'groups.web.resources.b.dependsOn' });
    const self: ApplyDoc = { groups: { web: { resources: { a: { type: 'process', priv: { command: 'x' }, dependsOn: ['a'] } } } } };
    assert.deepEqual(errOf(nodes(), self), { code: 'DEPENDENCY_CYCLE', path: 'groups.web.resources.a.dependsOn' });
  });

  test('dependency across groups', () => {
    const first = must(planApply(nodes(), doc()));
    const d: ApplyDoc = { groups: { db: { resources: { other: { type: 'disk', priv: { path: '/srv/d' } } } }, web: { resources: { data: { type: 'disk', priv: { path: '/srv/d' }, dependsOn: ['other'] } } } } };
    assert.deepEqual(errOf(first.config, d), { code: 'DEPENDENCY_OTHER_GROUP', path: 'groups.web.resources.data.dependsOn' });
  });

  test('dependency across groups, on a resource of a group listed later in the document', () => {
    const d: ApplyDoc = { groups: { web: { resources: { data: { type: 'disk', priv: { path: '/srv/d' }, dependsOn: ['other'] } } }, db: { resources: { other: { type: 'disk', priv: { path: '/srv/d' } } } } } };
    assert.deepEqual(errOf(nodes(), d), { code: 'DEPENDENCY_OTHER_GROUP', path: 'groups.web.resources.data.dependsOn' });
  });

  test('bad property, unknown type, unknown owner, bad group name', () => {
    const bad = doc();
    bad.groups.web!.resources!.app!.props = { restartThreshold: -1 };
    assert.deepEqual(errOf(nodes(), bad), { code: 'BAD_PROPERTY', path: 'groups.web.resources.app.props.restartThreshold' });
    const type = doc();
    type.groups.web!.resources!.vip!.type = 'floppy' as never;
    assert.deepEqual(errOf(nodes(), type), { code: 'RESOURCE_TYPE_UNKNOWN', path: 'groups.web.resources.vip.type' });
    const owner = doc();
    owner.groups.web!.preferredOwners = ['n9'];
    assert.deepEqual(errOf(nodes(), owner), { code: 'NODE_NOT_FOUND', path: 'groups.web.preferredOwners' });
    assert.equal(errOf(nodes(), { groups: { '/bad': {} } }).code, 'BAD_ARGUMENT');
    // On an existing resource too.
    const first = must(planApply(nodes(), doc()));
    const set = doc();
    set.groups.web!.resources!.app!.props = { stopGraceMs: 10_000_000 };
    assert.deepEqual(errOf(first.config, set), { code: 'BAD_PROPERTY', path: 'groups.web.resources.app.props.stopGraceMs' });
  });
});

describe('apply: regressions (bugs found by these tests)', () => {
  test('idempotent with restartAction given as a WSFC number', () => {
    const d: ApplyDoc = { groups: { g: { resources: { app: { type: 'process', priv: { command: 'x' }, props: { restartAction: 1 as never } } } } } };
    const first = must(planApply(nodes(), d));
    assert.equal(first.config.resources.app!.props.restartAction, 'restart');
    assert.deepEqual(must(planApply(first.config, d)).lines, []);
    // The name and the number of the stored value are the same too; a different value is a change.
    d.groups.g!.resources!.app!.props = { restartAction: 'restart' };
    assert.deepEqual(must(planApply(first.config, d)).lines, []);
    d.groups.g!.resources!.app!.props = { restartAction: 2 as never };
    const r = must(planApply(first.config, d));
    assert.deepEqual(r.lines, ['set app.props.restartAction = 2']);
    assert.equal(r.config.resources.app!.props.restartAction, 'restart-failover');
  });

  test('idempotent whatever the key order of the failback window', () => {
    const d: ApplyDoc = { groups: { g: { failback: { startHour: 22, endHour: 6, mode: 'window' } as never } } };
    const first = must(planApply(nodes(), d));
    assert.deepEqual(must(planApply(first.config, d)).lines, []);
    // A different window is still a change.
    const other: ApplyDoc = { groups: { g: { failback: { endHour: 7, startHour: 22, mode: 'window' } as never } } };
    const r = must(planApply(first.config, other));
    assert.deepEqual(r.lines, ['set group g failback = {"endHour":7,"startHour":22,"mode":"window"}']);
    assert.deepEqual(r.config.groups.g!.failback, { mode: 'window', startHour: 22, endHour: 7 });
    assert.deepEqual(must(planApply(r.config, other)).lines, []);
  });

  test('several groups: dependencies after every resource of the document, then the desired states', () => {
    const d: ApplyDoc = { groups: {
      web: { resources: { front: { type: 'process', priv: { command: 'x' }, dependsOn: ['back'] }, back: { type: 'process', priv: { command: 'x' } } } },
      db: { state: 'offline', resources: { disk: { type: 'disk', priv: { path: '/srv/d' } } } },
    } };
    const r = must(planApply(nodes(), d));
    assert.deepEqual(r.updates.map((u) => `${u.op} ${'resource' in u ? u.resource : 'group' in u ? u.group : ''}`), [
      'group-create web', 'resource-create front', 'resource-create back', 'group-create db', 'resource-create disk',
      'resource-add-dep front', 'group-desired web', 'group-desired db',
    ]);
    assert.deepEqual(r.config.resources.front!.dependsOn, ['back']);
    assert.deepEqual(['front', 'back', 'disk'].map((n) => r.config.resources[n]!.desired), ['online', 'online', 'offline']);
    assert.deepEqual(must(planApply(r.config, d)).updates, []);
  });
});

describe('apply: what one document may hold', () => {
  test('a resource type without an agent is refused at apply, naming the types that work; a retired type is unknown', () => {
    const refused = [...resourceTypes.filter((t) => !resourceTypesSupported.includes(t)).map((t) => [t, 'RESOURCE_TYPE_UNSUPPORTED'] as const),
      ['witness', 'RESOURCE_TYPE_UNKNOWN'] as const];
    for (const [type, code] of refused) {
      const d = doc();
      d.groups.web!.resources!.extra = { type };
      const r = planApply(nodes(), d);
      if (r.ok) assert.fail(`type ${type} was accepted`);
      assert.equal(r.error.code, code);
      assert.equal(r.error.path, 'groups.web.resources.extra.type');
      assert.match(r.error.hint ?? '', /process, disk, ip/);
    }
  });

  test('an ip resource is checked when applied: its address, at its path in the document', () => {
    const d = doc();
    d.groups.web!.resources!.vip = { type: 'ip', priv: { address: '10.0.0.5', interface: 'eth0' } };
    const r = planApply(nodes(), d);
    assert.deepEqual(r.ok ? 'ok' : [r.error.code, r.error.path], ['BAD_PROPERTY', 'groups.web.resources.vip.priv.address']);
    d.groups.web!.resources!.vip = { type: 'ip', priv: { address: '10.0.0.5/24', interface: 'eth0' } };
    const good = must(planApply(nodes(), d));
    const d2 = doc();
    d2.groups.web!.resources!.vip = { type: 'ip', priv: { address: '10.0.0.5/99' } };
    const set = planApply(good.config, d2);
    assert.deepEqual(set.ok ? 'ok' : [set.error.code, set.error.path], ['BAD_PROPERTY', 'groups.web.resources.vip.priv.address']);
  });

  test('more groups or resources than one apply takes is refused before any planning, with APPLY_TOO_LARGE', () => {
    const groups: ApplyDoc['groups'] = {};
    for (let i = 0; i <= applyGroupsMax; i++) groups[`g${i}`] = {};
    const many = planApply(nodes(), { groups });
    assert.equal(many.ok ? 'ok' : many.error.code, 'APPLY_TOO_LARGE');
    const resources: Record<string, ApplyResourceSpec> = {};
    for (let i = 0; i <= applyResourcesMax; i++) resources[`r${i}`] = { type: 'process', priv: { command: 'x' } };
    const wide = planApply(nodes(), { groups: { g: { resources } } });
    assert.equal(wide.ok ? 'ok' : wide.error.code, 'APPLY_TOO_LARGE');
    delete groups.g0;
    assert.ok(planApply(nodes(), { groups }).ok, 'exactly the bound is accepted');
  });
});
