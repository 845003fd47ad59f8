// Unit tests of the configuration fold: every update op, every validation rule (by error
// code, never by text), the desired-state closures and the online order.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { applyUpdate, checkTypeSupported, dependencyClosure, resourceTypesSupported, dependentClosure, emptyConfig, groupResources, onlineOrder } from './config.js';
import type { Result } from './errors.js';
import { commonPropDefaults, groupDefaults, resourceTypes, retiredResourceTypes, type ClusterConfig, type ConfigUpdate } from './types.js';

// ---- helpers ------------------------------------------------------------------------------

function must<T>(r: Result<T>): T {
  if (!r.ok) assert.fail(`expected ok, got ${r.error.code}: ${r.error.message}`);
  return r.value;
}

function codeOf<T>(r: Result<T>): string {
  if (r.ok) assert.fail('expected an error, got ok');
  return r.error.code;
}

function fold(updates: ConfigUpdate[], from: ClusterConfig = emptyConfig('c')): ClusterConfig {
  let c = from;
  for (const u of updates) c = must(applyUpdate(c, u));
  return c;
}

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as Record<string, unknown>)) deepFreeze(v);
  }
  return o;
}

/** Nodes n1..n3, group web (db <- app <- web-ip), group other (x). */
function base(): ClusterConfig {
  return fold([
    { op: 'node-add', node: 'n1' },
    { op: 'node-add', node: 'n2' },
    { op: 'node-add', node: 'n3' },
    { op: 'group-create', group: 'web', preferredOwners: ['n1', 'n2'] },
    { op: 'group-create', group: 'other' },
    { op: 'resource-create', resource: 'db', group: 'web', type: 'disk' },
    { op: 'resource-create', resource: 'app', group: 'web', type: 'process', dependsOn: ['db'] },
    { op: 'resource-create', resource: 'web-ip', group: 'web', type: 'ip', dependsOn: ['app'] },
    { op: 'resource-create', resource: 'x', group: 'other', type: 'process' },
  ]);
}

// ---- nodes --------------------------------------------------------------------------------

describe('config: nodes', () => {
  test('node-add adds an unpaused node and is idempotent', () => {
    const c = fold([{ op: 'node-add', node: 'n1' }]);
    assert.deepEqual({ ...c.nodes }, { n1: { name: 'n1', paused: false } });
    const paused = fold([{ op: 'node-pause', node: 'n1', paused: true }], c);
    const again = must(applyUpdate(paused, { op: 'node-add', node: 'n1' }));
    assert.deepEqual(again.nodes.n1, { name: 'n1', paused: true }, 'adding an existing node keeps it as it is');
  });

  test('node-add rejects bad names with BAD_ARGUMENT', () => {
    for (const bad of ['', ' n1', '-n1', '.n1', 'a/b', 'a\\b', 'n\u00e9', 'a\nb', 'x'.repeat(64), 'a*b']) {
      assert.equal(codeOf(applyUpdate(emptyConfig('c'), { op: 'node-add', node: bad })), 'BAD_ARGUMENT', JSON.stringify(bad));
    }
    for (const good of ['n1', 'Node-1', 'a', 'node_1.example.com', 'a b', 'x@y:z', 'x'.repeat(63)]) {
      must(applyUpdate(emptyConfig('c'), { op: 'node-add', node: good }));
    }
    const notString = { op: 'node-add', node: 42 } as unknown as ConfigUpdate;
    assert.equal(codeOf(applyUpdate(emptyConfig('c'), notString)), 'BAD_ARGUMENT');
  });

  test('node-remove removes the node and drops it from every owner list', () => {
    const c = fold([{ op: 'group-set', group: 'other', possibleOwners: ['n1', 'n3'], preferredOwners: ['n3'] }], base());
    const next = must(applyUpdate(c, { op: 'node-remove', node: 'n1' }));
    assert.deepEqual(Object.keys(next.nodes).sort(), ['n2', 'n3']);
    assert.deepEqual(next.groups.web!.preferredOwners, ['n2']);
    assert.deepEqual(next.groups.other!.possibleOwners, ['n3']);
    assert.deepEqual(next.groups.other!.preferredOwners, ['n3']);
    assert.equal(codeOf(applyUpdate(next, { op: 'node-remove', node: 'n1' })), 'NODE_NOT_FOUND');
  });

  test('node-pause sets and clears the pause flag; unknown node is NODE_NOT_FOUND', () => {
    const c = fold([{ op: 'node-pause', node: 'n2', paused: true }], base());
    assert.equal(c.nodes.n2!.paused, true);
    assert.equal(c.nodes.n1!.paused, false);
    assert.equal(fold([{ op: 'node-pause', node: 'n2', paused: false }], c).nodes.n2!.paused, false);
    assert.equal(codeOf(applyUpdate(c, { op: 'node-pause', node: 'nx', paused: true })), 'NODE_NOT_FOUND');
  });
});

// ---- groups -------------------------------------------------------------------------------

describe('config: groups', () => {
  test('group-create applies the defaults', () => {
    const c = fold([{ op: 'group-create', group: 'g' }]);
    assert.deepEqual(c.groups.g, {
      name: 'g', preferredOwners: [], possibleOwners: [], failoverThreshold: groupDefaults.failoverThreshold,
      failoverPeriodMs: groupDefaults.failoverPeriodMs, failback: { mode: 'never' },
    });
  });

  test('group-create takes every field', () => {
    const c = fold([{
      op: 'group-create', group: 'g', preferredOwners: ['n2', 'n1'], possibleOwners: ['n1', 'n2'],
      failoverThreshold: 4, failoverPeriodMs: 60_000, failback: { mode: 'window', startHour: 22, endHour: 6 },
    }], base());
    assert.deepEqual(c.groups.g, {
      name: 'g', preferredOwners: ['n2', 'n1'], possibleOwners: ['n1', 'n2'], failoverThreshold: 4,
      failoverPeriodMs: 60_000, failback: { mode: 'window', startHour: 22, endHour: 6 },
    });
  });

  test('group-create: duplicate is GROUP_EXISTS, bad name is BAD_ARGUMENT', () => {
    assert.equal(codeOf(applyUpdate(base(), { op: 'group-create', group: 'web' })), 'GROUP_EXISTS');
    for (const bad of ['', '/web', 'a/b', '_g']) {
      assert.equal(codeOf(applyUpdate(base(), { op: 'group-create', group: bad })), 'BAD_ARGUMENT', JSON.stringify(bad));
    }
  });

  test('owners must be known, distinct nodes', () => {
    const c = base();
    const unknownPref = applyUpdate(c, { op: 'group-create', group: 'g', preferredOwners: ['n1', 'n9'] });
    assert.equal(codeOf(unknownPref), 'NODE_NOT_FOUND');
    assert.equal(!unknownPref.ok && unknownPref.error.path, 'groups.g.preferredOwners');
    const unknownPoss = applyUpdate(c, { op: 'group-create', group: 'g', possibleOwners: ['n9'] });
    assert.equal(codeOf(unknownPoss), 'NODE_NOT_FOUND');
    assert.equal(!unknownPoss.ok && unknownPoss.error.path, 'groups.g.possibleOwners');
    assert.equal(codeOf(applyUpdate(c, { op: 'group-set', group: 'web', preferredOwners: ['n4'] })), 'NODE_NOT_FOUND');
    assert.equal(codeOf(applyUpdate(c, { op: 'group-create', group: 'g', preferredOwners: ['n1', 'n1'] })), 'BAD_PROPERTY');
    assert.equal(codeOf(applyUpdate(c, { op: 'group-create', group: 'g', possibleOwners: 'n1' as unknown as string[] })), 'BAD_PROPERTY');
  });

  test('failover threshold, period and failback are bounded (BAD_PROPERTY)', () => {
    const c = base();
    const bad: Partial<Extract<ConfigUpdate, { op: 'group-set' }>>[] = [
      { failoverThreshold: -1 }, { failoverThreshold: 1.5 }, { failoverThreshold: 1001 },
      { failoverPeriodMs: -1 }, { failoverPeriodMs: 7 * 86_400_000 + 1 }, { failoverPeriodMs: 0.5 },
      { failback: { mode: 'window', startHour: 24, endHour: 2 } },
      { failback: { mode: 'window', startHour: -1, endHour: 2 } },
      { failback: { mode: 'window', startHour: 1, endHour: 2.5 } },
      { failback: { mode: 'sometimes' } as unknown as { mode: 'never' } },
    ];
    for (const b of bad) {
      assert.equal(codeOf(applyUpdate(c, { op: 'group-set', group: 'web', ...b })), 'BAD_PROPERTY', JSON.stringify(b));
      assert.equal(codeOf(applyUpdate(c, { op: 'group-create', group: 'g', ...b })), 'BAD_PROPERTY', JSON.stringify(b));
    }
    for (const good of [{ failoverThreshold: 0 }, { failoverThreshold: 1000 }, { failoverThreshold: null },
      { failoverPeriodMs: 0 }, { failoverPeriodMs: 7 * 86_400_000 },
      { failback: { mode: 'window' as const, startHour: 0, endHour: 23 } }, { failback: { mode: 'immediate' as const } }]) {
      must(applyUpdate(c, { op: 'group-set', group: 'web', ...good }));
    }
  });

  test('group-set changes only the given fields', () => {
    const c = base();
    const next = must(applyUpdate(c, { op: 'group-set', group: 'web', failoverThreshold: 2 }));
    assert.deepEqual(next.groups.web, { ...c.groups.web!, failoverThreshold: 2 });
    const next2 = must(applyUpdate(next, { op: 'group-set', group: 'web', possibleOwners: ['n1'], failback: { mode: 'immediate' } }));
    assert.deepEqual(next2.groups.web, { ...next.groups.web!, possibleOwners: ['n1'], failback: { mode: 'immediate' } });
    assert.equal(codeOf(applyUpdate(c, { op: 'group-set', group: 'nope', failoverThreshold: 2 })), 'GROUP_NOT_FOUND');
  });

  test('group-delete: only an empty group; unknown group is GROUP_NOT_FOUND', () => {
    const c = base();
    assert.equal(codeOf(applyUpdate(c, { op: 'group-delete', group: 'other' })), 'GROUP_NOT_EMPTY');
    const emptied = fold([{ op: 'resource-delete', resource: 'x' }, { op: 'group-delete', group: 'other' }], c);
    assert.equal(emptied.groups.other, undefined);
    assert.ok(emptied.groups.web);
    assert.equal(codeOf(applyUpdate(emptied, { op: 'group-delete', group: 'other' })), 'GROUP_NOT_FOUND');
  });

  test('group-desired sets every resource of the group and no other', () => {
    const c = fold([{ op: 'group-desired', group: 'web', desired: 'online' }], base());
    assert.deepEqual(groupResources(c, 'web').map((r) => r.desired), ['online', 'online', 'online']);
    assert.equal(c.resources.x!.desired, 'offline');
    const off = fold([{ op: 'group-desired', group: 'web', desired: 'offline' }], c);
    assert.deepEqual(groupResources(off, 'web').map((r) => r.desired), ['offline', 'offline', 'offline']);
    assert.equal(codeOf(applyUpdate(c, { op: 'group-desired', group: 'nope', desired: 'online' })), 'GROUP_NOT_FOUND');
  });
});

// ---- resources ----------------------------------------------------------------------------

describe('config: resources', () => {
  test('resource-create applies the defaults', () => {
    const c = base();
    assert.deepEqual(c.resources.db, {
      name: 'db', group: 'web', type: 'disk', props: { ...commonPropDefaults }, priv: {}, dependsOn: [], desired: 'offline',
    });
    const d = fold([{ op: 'resource-create', resource: 'y', group: 'other', type: 'process', desired: 'online',
      props: { restartThreshold: 7 }, priv: { agent: 'heartbeat:IPaddr2', n: 1, on: true, list: ['a', 'b'] } }], c);
    assert.equal(d.resources.y!.desired, 'online');
    assert.deepEqual(d.resources.y!.props, { ...commonPropDefaults, restartThreshold: 7 });
    assert.deepEqual(d.resources.y!.priv, { agent: 'heartbeat:IPaddr2', n: 1, on: true, list: ['a', 'b'] });
  });

  test('resource-create: duplicate, unknown group, unknown type, bad name', () => {
    const c = base();
    assert.equal(codeOf(applyUpdate(c, { op: 'resource-create', resource: 'db', group: 'web', type: 'disk' })), 'RESOURCE_EXISTS');
    assert.equal(codeOf(applyUpdate(c, { op: 'resource-create', resource: 'db', group: 'other', type: 'disk' })), 'RESOURCE_EXISTS',
      'resource names are unique across groups');
    assert.equal(codeOf(applyUpdate(c, { op: 'resource-create', resource: 'r', group: 'nope', type: 'disk' })), 'GROUP_NOT_FOUND');
    const unknownType = { op: 'resource-create', resource: 'r', group: 'web', type: 'floppy' } as unknown as ConfigUpdate;
    assert.equal(codeOf(applyUpdate(c, unknownType)), 'RESOURCE_TYPE_UNKNOWN');
    for (const bad of ['', '-r', 'r/1', 'x'.repeat(64)]) {
      assert.equal(codeOf(applyUpdate(c, { op: 'resource-create', resource: bad, group: 'web', type: 'disk' })), 'BAD_ARGUMENT', JSON.stringify(bad));
    }
    // Every type of the model, and a retired one (records of older builds replay).
    // (ocf and lsb records are checked in the fold: no record of theirs predates their checkers.)
    for (const t of [...resourceTypes, ...retiredResourceTypes].filter((x) => x !== 'ocf' && x !== 'lsb')) {
      must(applyUpdate(c, { op: 'resource-create', resource: `r-${t}`, group: 'web', type: t }));
    }
    must(applyUpdate(c, { op: 'resource-create', resource: 'r-ocf', group: 'web', type: 'ocf', priv: { agent: 'heartbeat:Dummy' } }));
    must(applyUpdate(c, { op: 'resource-create', resource: 'r-lsb', group: 'web', type: 'lsb', priv: { script: 'nginx' } }));
  });

  test('common properties are bounded integers (BAD_PROPERTY with a path)', () => {
    const c = base();
    const cases: [string, unknown][] = [
      ['looksAliveIntervalMs', 99], ['looksAliveIntervalMs', 86_400_001], ['isAliveIntervalMs', 0],
      ['pendingTimeoutMs', 50], ['restartThreshold', -1], ['restartThreshold', 1001], ['restartPeriodMs', -5],
      ['restartPeriodMs', 7 * 86_400_000 + 1], ['restartDelayMs', 3_600_001], ['stopGraceMs', 600_001],
      ['stopGraceMs', 1.5], ['stopGraceMs', '3000'], ['stopGraceMs', null], ['restartThreshold', Number.NaN],
    ];
    for (const [key, value] of cases) {
      const props = { [key]: value } as never;
      const r = applyUpdate(c, { op: 'resource-create', resource: 'r', group: 'web', type: 'process', props });
      assert.equal(codeOf(r), 'BAD_PROPERTY', `${key}=${String(value)}`);
      assert.equal(!r.ok && r.error.path, `resources.r.props.${key}`);
      assert.equal(codeOf(applyUpdate(c, { op: 'resource-set', resource: 'db', props })), 'BAD_PROPERTY', `set ${key}=${String(value)}`);
    }
    const edges = { looksAliveIntervalMs: 100, isAliveIntervalMs: 86_400_000, pendingTimeoutMs: 100, restartThreshold: 0,
      restartPeriodMs: 0, restartDelayMs: 3_600_000, stopGraceMs: 0 };
    const ok = must(applyUpdate(c, { op: 'resource-set', resource: 'db', props: edges }));
    assert.deepEqual(ok.resources.db!.props, { ...commonPropDefaults, ...edges });
  });

  test('unknown common property is BAD_PROPERTY', () => {
    const props = { restartTreshold: 3 } as never;
    const r = applyUpdate(base(), { op: 'resource-create', resource: 'r', group: 'web', type: 'process', props });
    assert.equal(codeOf(r), 'BAD_PROPERTY');
    assert.equal(!r.ok && r.error.path, 'resources.r.props.restartTreshold');
    assert.equal(codeOf(applyUpdate(base(), { op: 'resource-set', resource: 'db', props })), 'BAD_PROPERTY');
  });

  test('restartAction accepts names and WSFC numbers 0/1/2', () => {
    const c = base();
    const mapping: [unknown, string][] = [[0, 'none'], [1, 'restart'], [2, 'restart-failover'],
      ['none', 'none'], ['restart', 'restart'], ['restart-failover', 'restart-failover']];
    for (const [given, stored] of mapping) {
      const next = must(applyUpdate(c, { op: 'resource-set', resource: 'db', props: { restartAction: given as never } }));
      assert.equal(next.resources.db!.props.restartAction, stored, `restartAction ${String(given)}`);
      const created = must(applyUpdate(c, { op: 'resource-create', resource: 'r', group: 'web', type: 'process', props: { restartAction: given as never } }));
      assert.equal(created.resources.r!.props.restartAction, stored);
    }
    for (const bad of [3, -1, '1', 'fail', null, true]) {
      assert.equal(codeOf(applyUpdate(c, { op: 'resource-set', resource: 'db', props: { restartAction: bad as never } })), 'BAD_PROPERTY', String(bad));
    }
  });

  test('private properties: strings, numbers, booleans, string lists', () => {
    const c = base();
    for (const bad of [{ a: null }, { a: { b: 1 } }, { a: [1, 2] }, { a: undefined }]) {
      assert.equal(codeOf(applyUpdate(c, { op: 'resource-set', resource: 'db', priv: bad as never })), 'BAD_PROPERTY', JSON.stringify(bad));
    }
    for (const bad of [[], 'x', 3]) {
      assert.equal(codeOf(applyUpdate(c, { op: 'resource-create', resource: 'r', group: 'web', type: 'disk', priv: bad as never })), 'BAD_PROPERTY');
    }
  });

  test('resource-set merges props and priv', () => {
    const c = fold([{ op: 'resource-set', resource: 'db', props: { stopGraceMs: 10 }, priv: { path: '/a', size: 1 } }], base());
    const next = must(applyUpdate(c, { op: 'resource-set', resource: 'db', props: { restartDelayMs: 0 }, priv: { path: '/b' } }));
    assert.deepEqual(next.resources.db!.props, { ...commonPropDefaults, stopGraceMs: 10, restartDelayMs: 0 });
    assert.deepEqual(next.resources.db!.priv, { path: '/b', size: 1 });
    assert.equal(codeOf(applyUpdate(c, { op: 'resource-set', resource: 'nope', props: {} })), 'RESOURCE_NOT_FOUND');
  });

  test('resource-delete: refused while others depend on it', () => {
    const c = base();
    assert.equal(codeOf(applyUpdate(c, { op: 'resource-delete', resource: 'db' })), 'RESOURCE_HAS_DEPENDENTS');
    assert.equal(codeOf(applyUpdate(c, { op: 'resource-delete', resource: 'app' })), 'RESOURCE_HAS_DEPENDENTS');
    const next = fold([{ op: 'resource-delete', resource: 'web-ip' }, { op: 'resource-delete', resource: 'app' }, { op: 'resource-delete', resource: 'db' }], c);
    assert.deepEqual(Object.keys(next.resources), ['x']);
    assert.equal(codeOf(applyUpdate(next, { op: 'resource-delete', resource: 'db' })), 'RESOURCE_NOT_FOUND');
  });

  test('unknown op is BAD_ARGUMENT', () => {
    assert.equal(codeOf(applyUpdate(base(), { op: 'group-explode', group: 'web' } as unknown as ConfigUpdate)), 'BAD_ARGUMENT');
  });
});

// ---- dependencies -------------------------------------------------------------------------

describe('config: dependencies', () => {
  const chain = () => fold([
    { op: 'group-create', group: 'g' },
    { op: 'resource-create', resource: 'a', group: 'g', type: 'process' },
    { op: 'resource-create', resource: 'b', group: 'g', type: 'process', dependsOn: ['a'] },
    { op: 'resource-create', resource: 'c', group: 'g', type: 'process', dependsOn: ['b'] },
    { op: 'resource-create', resource: 'd', group: 'g', type: 'process' },
  ], base());

  test('resource-create with dependsOn: deduplicated; unknown is DEPENDENCY_NOT_FOUND', () => {
    const c = fold([{ op: 'resource-create', resource: 'r', group: 'web', type: 'process', dependsOn: ['db', 'db', 'app'] }], base());
    assert.deepEqual(c.resources.r!.dependsOn, ['db', 'app']);
    const r = applyUpdate(base(), { op: 'resource-create', resource: 'r', group: 'web', type: 'process', dependsOn: ['nope'] });
    assert.equal(codeOf(r), 'DEPENDENCY_NOT_FOUND');
    assert.equal(!r.ok && r.error.path, 'resources.r.dependsOn');
  });

  test('a resource cannot depend on itself (DEPENDENCY_CYCLE)', () => {
    const r = applyUpdate(chain(), { op: 'resource-add-dep', resource: 'a', dependsOn: 'a' });
    assert.equal(codeOf(r), 'DEPENDENCY_CYCLE');
    assert.equal(!r.ok && r.error.path, 'resources.a.dependsOn');
  });

  test('2-cycle and 3-cycle are DEPENDENCY_CYCLE', () => {
    const c = chain();
    assert.equal(codeOf(applyUpdate(c, { op: 'resource-add-dep', resource: 'a', dependsOn: 'b' })), 'DEPENDENCY_CYCLE');
    assert.equal(codeOf(applyUpdate(c, { op: 'resource-add-dep', resource: 'a', dependsOn: 'c' })), 'DEPENDENCY_CYCLE');
    assert.equal(codeOf(applyUpdate(c, { op: 'resource-add-dep', resource: 'b', dependsOn: 'c' })), 'DEPENDENCY_CYCLE');
    // A diamond is not a cycle.
    const diamond = fold([{ op: 'resource-add-dep', resource: 'd', dependsOn: 'b' }, { op: 'resource-add-dep', resource: 'd', dependsOn: 'a' },
      { op: 'resource-add-dep', resource: 'c', dependsOn: 'a' }], c);
    assert.deepEqual(diamond.resources.d!.dependsOn, ['b', 'a']);
    assert.equal(codeOf(applyUpdate(diamond, { op: 'resource-add-dep', resource: 'a', dependsOn: 'd' })), 'DEPENDENCY_CYCLE');
  });

  test('a refused cycle is named as the walk found it, last dependency first', () => {
    // b -> a, c -> b, d -> b, d -> c, e -> d, e -> a
    const c = fold(['a', 'b', 'c', 'd', 'e'].map((r): ConfigUpdate => ({ op: 'resource-create', resource: r, group: 'web', type: 'process', priv: { command: 'x' } })).concat(
      [['b', 'a'], ['c', 'b'], ['d', 'b'], ['d', 'c'], ['e', 'd'], ['e', 'a']].map(([r, d]): ConfigUpdate => ({ op: 'resource-add-dep', resource: r!, dependsOn: d! }))), base());
    const msg = (u: ConfigUpdate) => { const r = applyUpdate(c, u); return r.ok ? 'ok' : r.error.message; };
    assert.equal(msg({ op: 'resource-add-dep', resource: 'a', dependsOn: 'e' }), 'dependency a -> e would create a cycle: a -> e -> a');
    assert.equal(msg({ op: 'resource-add-dep', resource: 'b', dependsOn: 'd' }), 'dependency b -> d would create a cycle: b -> d -> c -> b');
    assert.equal(msg({ op: 'resource-add-dep', resource: 'a', dependsOn: 'a' }), 'dependency a -> a would create a cycle: a -> a');
  });

  test('dependencies stay inside one group (DEPENDENCY_OTHER_GROUP)', () => {
    const c = chain();
    assert.equal(codeOf(applyUpdate(c, { op: 'resource-add-dep', resource: 'a', dependsOn: 'db' })), 'DEPENDENCY_OTHER_GROUP');
    assert.equal(codeOf(applyUpdate(c, { op: 'resource-create', resource: 'r', group: 'other', type: 'process', dependsOn: ['db'] })), 'DEPENDENCY_OTHER_GROUP');
  });

  test('add-dep: existing is DEPENDENCY_EXISTS, unknown target is DEPENDENCY_NOT_FOUND, unknown resource is RESOURCE_NOT_FOUND', () => {
    const c = chain();
    assert.equal(codeOf(applyUpdate(c, { op: 'resource-add-dep', resource: 'b', dependsOn: 'a' })), 'DEPENDENCY_EXISTS');
    assert.equal(codeOf(applyUpdate(c, { op: 'resource-add-dep', resource: 'b', dependsOn: 'zz' })), 'DEPENDENCY_NOT_FOUND');
    assert.equal(codeOf(applyUpdate(c, { op: 'resource-add-dep', resource: 'zz', dependsOn: 'a' })), 'RESOURCE_NOT_FOUND');
    const next = must(applyUpdate(c, { op: 'resource-add-dep', resource: 'd', dependsOn: 'c' }));
    assert.deepEqual(next.resources.d!.dependsOn, ['c']);
  });

  test('remove-dep removes the edge; a missing edge is DEPENDENCY_NOT_FOUND', () => {
    const c = chain();
    const next = must(applyUpdate(c, { op: 'resource-remove-dep', resource: 'c', dependsOn: 'b' }));
    assert.deepEqual(next.resources.c!.dependsOn, []);
    assert.equal(codeOf(applyUpdate(next, { op: 'resource-remove-dep', resource: 'c', dependsOn: 'b' })), 'DEPENDENCY_NOT_FOUND');
    assert.equal(codeOf(applyUpdate(next, { op: 'resource-remove-dep', resource: 'zz', dependsOn: 'b' })), 'RESOURCE_NOT_FOUND');
    // After removing b's dependents, b can be deleted.
    must(applyUpdate(next, { op: 'resource-delete', resource: 'b' }));
  });

  test('resource-desired online brings its dependencies online (transitively), nothing else', () => {
    const c = fold([{ op: 'resource-desired', resource: 'web-ip', desired: 'online' }], base());
    assert.deepEqual(['db', 'app', 'web-ip', 'x'].map((r) => c.resources[r]!.desired), ['online', 'online', 'online', 'offline']);
    const onlyDb = fold([{ op: 'resource-desired', resource: 'db', desired: 'online' }], base());
    assert.deepEqual(['db', 'app', 'web-ip'].map((r) => onlyDb.resources[r]!.desired), ['online', 'offline', 'offline']);
    assert.equal(codeOf(applyUpdate(base(), { op: 'resource-desired', resource: 'nope', desired: 'online' })), 'RESOURCE_NOT_FOUND');
  });

  test('resource-desired offline takes its dependents offline (transitively), nothing else', () => {
    const on = fold([{ op: 'group-desired', group: 'web', desired: 'online' }, { op: 'group-desired', group: 'other', desired: 'online' }], base());
    const c = fold([{ op: 'resource-desired', resource: 'db', desired: 'offline' }], on);
    assert.deepEqual(['db', 'app', 'web-ip', 'x'].map((r) => c.resources[r]!.desired), ['offline', 'offline', 'offline', 'online']);
    const leaf = fold([{ op: 'resource-desired', resource: 'web-ip', desired: 'offline' }], on);
    assert.deepEqual(['db', 'app', 'web-ip'].map((r) => leaf.resources[r]!.desired), ['online', 'online', 'offline']);
  });

  test('closures and online order on a fixed graph', () => {
    const c = base();
    assert.deepEqual(dependencyClosure(c, 'web-ip').sort(), ['app', 'db', 'web-ip']);
    assert.deepEqual(dependentClosure(c, 'db').sort(), ['app', 'db', 'web-ip']);
    assert.deepEqual(onlineOrder(c, 'web'), ['db', 'app', 'web-ip']);
    assert.deepEqual(onlineOrder(c, 'other'), ['x']);
    assert.deepEqual(onlineOrder(c, 'nope'), []);
  });
});

// ---- properties ---------------------------------------------------------------------------

describe('config: properties', () => {
  const names = ['m', 'b', 'z', 'a', 'q', 'c', 'y', 'k', 'e', 'p'];

  test('onlineOrder is a topological order of any DAG (fast-check)', () => {
    // Random DAG: resource i may depend only on resources j < i (created first); the names are
    // chosen so that name order is not creation order.
    const dag = fc.integer({ min: 1, max: names.length }).chain((n) =>
      fc.tuple(fc.constant(n), fc.array(fc.tuple(fc.nat(n - 1), fc.nat(n - 1)), { maxLength: 30 })));
    fc.assert(fc.property(dag, ([n, pairs]) => {
      const deps: string[][] = Array.from({ length: n }, () => []);
      for (const [x, y] of pairs) {
        if (x === y) continue;
        const [hi, lo] = x > y ? [x, y] : [y, x];
        if (!deps[hi]!.includes(names[lo]!)) deps[hi]!.push(names[lo]!);
      }
      let c = fold([{ op: 'group-create', group: 'g' }, { op: 'group-create', group: 'h' }]);
      for (let i = 0; i < n; i++) c = fold([{ op: 'resource-create', resource: names[i]!, group: 'g', type: 'process', dependsOn: deps[i] }], c);
      c = fold([{ op: 'resource-create', resource: 'other', group: 'h', type: 'process' }], c);
      const order = onlineOrder(c, 'g');
      assert.deepEqual([...order].sort(), names.slice(0, n).sort(), 'every member exactly once, no other group');
      for (const r of Object.values(c.resources)) {
        if (r.group !== 'g') continue;
        for (const d of r.dependsOn) assert.ok(order.indexOf(d) < order.indexOf(r.name), `${d} before ${r.name} in ${order.join(',')}`);
      }
    }), { numRuns: 200 });
  });

  test('add-dep never lets a cycle in, whatever the order of edges (fast-check)', () => {
    const n = 6;
    const edges = fc.array(fc.tuple(fc.nat(n - 1), fc.nat(n - 1)), { maxLength: 40 });
    fc.assert(fc.property(edges, (pairs) => {
      let c = fold([{ op: 'group-create', group: 'g' }]);
      for (let i = 0; i < n; i++) c = fold([{ op: 'resource-create', resource: names[i]!, group: 'g', type: 'process' }], c);
      for (const [x, y] of pairs) {
        const r = applyUpdate(c, { op: 'resource-add-dep', resource: names[x]!, dependsOn: names[y]! });
        if (r.ok) c = r.value;
        else assert.ok(['DEPENDENCY_CYCLE', 'DEPENDENCY_EXISTS'].includes(r.error.code), r.error.code);
      }
      const order = onlineOrder(c, 'g'); // throws on a cycle
      for (const r of Object.values(c.resources)) {
        for (const d of r.dependsOn) assert.ok(order.indexOf(d) < order.indexOf(r.name));
      }
    }), { numRuns: 200 });
  });

  test('applyUpdate never mutates its input (deep-frozen input, every op, ok and failing)', () => {
    const c = fold([{ op: 'group-set', group: 'other', possibleOwners: ['n1', 'n2'] }], base());
    const snapshot = JSON.stringify(c);
    deepFreeze(c);
    const updates: ConfigUpdate[] = [
      { op: 'node-add', node: 'n4' }, { op: 'node-add', node: 'n1' }, { op: 'node-remove', node: 'n1' },
      { op: 'node-pause', node: 'n2', paused: true },
      { op: 'group-create', group: 'g', preferredOwners: ['n1'] }, { op: 'group-create', group: 'web' },
      { op: 'group-delete', group: 'other' }, { op: 'group-set', group: 'web', preferredOwners: ['n3'], failback: { mode: 'immediate' } },
      { op: 'group-desired', group: 'web', desired: 'online' },
      { op: 'resource-create', resource: 'r', group: 'web', type: 'process', dependsOn: ['db'], props: { restartAction: 1 as never } },
      { op: 'resource-delete', resource: 'web-ip' }, { op: 'resource-delete', resource: 'db' },
      { op: 'resource-set', resource: 'db', props: { stopGraceMs: 5 }, priv: { a: 'b' } },
      { op: 'resource-add-dep', resource: 'web-ip', dependsOn: 'db' }, { op: 'resource-add-dep', resource: 'db', dependsOn: 'web-ip' },
      { op: 'resource-remove-dep', resource: 'app', dependsOn: 'db' },
      { op: 'resource-desired', resource: 'web-ip', desired: 'online' }, { op: 'resource-desired', resource: 'db', desired: 'offline' },
    ];
    for (const u of updates) {
      applyUpdate(c, u); // a TypeError here means the input was written to
      assert.equal(JSON.stringify(c), snapshot, u.op);
    }
    // And the output is a new value: changing it does not reach the input.
    const next = must(applyUpdate(c, { op: 'node-add', node: 'n9' }));
    assert.notEqual(next, c);
    assert.notEqual(next.nodes, c.nodes);
  });
});

describe('config: resource types that can be created', () => {
  test('types without an agent are refused with the types that work; unknown and retired names are unknown; the fold still replays them', () => {
    for (const t of resourceTypes.filter((x) => !resourceTypesSupported.includes(x))) {
      const r = checkTypeSupported('x', t, 'type');
      assert.deepEqual(r.ok ? 'ok' : [r.error.code, r.error.path], ['RESOURCE_TYPE_UNSUPPORTED', 'type']);
      assert.match(r.ok ? '' : r.error.hint ?? '', /process, disk, ip/);
    }
    const floppy = checkTypeSupported('x', 'floppy');
    assert.equal(floppy.ok ? 'ok' : floppy.error.code, 'RESOURCE_TYPE_UNKNOWN');
    const witness = checkTypeSupported('x', 'witness', 'type');
    assert.deepEqual(witness.ok ? 'ok' : [witness.error.code, witness.error.path], ['RESOURCE_TYPE_UNKNOWN', 'type']);
    assert.match(witness.ok ? '' : witness.error.message, /no longer a resource type.*etcd member/);
    for (const t of ['process', 'disk', 'ip', 'ocf', 'lsb']) assert.ok(checkTypeSupported('x', t).ok);
    // A record an older build accepted still folds: replay never refuses a type of the model, nor
    // a retired one, nor an ip resource without the address the API and apply now ask for.
    const c = must(applyUpdate(must(applyUpdate(emptyConfig('c'), { op: 'group-create', group: 'g' })), { op: 'group-create', group: 'h' }));
    assert.ok(applyUpdate(c, { op: 'resource-create', resource: 'vip', group: 'g', type: 'ip' }).ok);
    assert.ok(applyUpdate(c, { op: 'resource-create', resource: 'quorum', group: 'g', type: 'witness' }).ok);
  });
});

describe('config: ocf and lsb private properties', () => {
  const base = () => must(applyUpdate(must(applyUpdate(emptyConfig('c'), { op: 'node-add', node: 'n1' })), { op: 'group-create', group: 'g' }));
  const create = (type: 'ocf' | 'lsb', priv: unknown) => applyUpdate(base(), { op: 'resource-create', resource: 'r', group: 'g', type, priv: priv as never });
  const refusal = (r: ReturnType<typeof create>) => (r.ok ? 'ok' : [r.error.code, r.error.path]);

  test('an ocf resource names PROVIDER:AGENT and a map of string parameters; timeouts are bounded', () => {
    const ok1 = must(create('ocf', { agent: 'heartbeat:IPaddr2', params: { ip: '10.0.0.5', cidr_netmask: '24' }, startTimeoutMs: 20_000 }));
    assert.deepEqual(ok1.resources.r!.priv.params, { ip: '10.0.0.5', cidr_netmask: '24' });
    assert.deepEqual(refusal(create('ocf', {})), ['BAD_PROPERTY', 'resources.r.priv.agent']);
    for (const agent of ['IPaddr2', 'heartbeat/IPaddr2', '../x:y', 'heartbeat:..', 'a:b:c']) {
      assert.deepEqual(refusal(create('ocf', { agent })), ['BAD_PROPERTY', 'resources.r.priv.agent'], agent);
    }
    assert.deepEqual(refusal(create('ocf', { agent: 'heartbeat:IPaddr2', params: { cidr_netmask: 24 } })), ['BAD_PROPERTY', 'resources.r.priv.params.cidr_netmask']);
    assert.deepEqual(refusal(create('ocf', { agent: 'heartbeat:IPaddr2', params: { 'bad-name': 'x' } })), ['BAD_PROPERTY', 'resources.r.priv.params.bad-name']);
    assert.deepEqual(refusal(create('ocf', { agent: 'heartbeat:IPaddr2', params: JSON.parse('{"__proto__": "x"}') })), ['BAD_PROPERTY', 'resources.r.priv.params.__proto__']);
    assert.deepEqual(refusal(create('ocf', { agent: 'heartbeat:IPaddr2', stopTimeoutMs: 5 })), ['BAD_PROPERTY', 'resources.r.priv.stopTimeoutMs']);
    assert.deepEqual(refusal(create('ocf', { agent: 'heartbeat:IPaddr2', command: '/bin/true' })), ['BAD_PROPERTY', 'resources.r.priv.command']);
  });

  test('an lsb resource names a script of the init directory, never a path', () => {
    assert.ok(create('lsb', { script: 'nginx' }).ok);
    for (const script of ['', '../x', '/etc/init.d/nginx', '.hidden']) assert.deepEqual(refusal(create('lsb', { script })), ['BAD_PROPERTY', 'resources.r.priv.script'], script);
    assert.deepEqual(refusal(create('lsb', { script: 'nginx', params: { a: 'b' } })), ['BAD_PROPERTY', 'resources.r.priv.params']);
  });

  test('a map is allowed in any type\'s private properties only with name keys and string values', () => {
    const c = base();
    assert.ok(applyUpdate(c, { op: 'resource-create', resource: 'p', group: 'g', type: 'process', priv: { command: 'x', labels: { a: 'b' } } }).ok);
    const bad = applyUpdate(c, { op: 'resource-create', resource: 'p', group: 'g', type: 'process', priv: { command: 'x', labels: { a: ['b'] } } as never });
    assert.equal(bad.ok ? 'ok' : bad.error.code, 'BAD_PROPERTY');
  });
});
