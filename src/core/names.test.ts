// Names are data: JavaScript's built-in property names (constructor, toString, ...) never count as
// an existing node, group or resource, whichever way the configuration was made (the fold, or a
// checkpoint parsed from JSON); and one name rule holds for every kind of name.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { planApply } from './apply.js';
import { applyUpdate, checkName, configFromJson, emptyConfig } from './config.js';
import type { Result } from './errors.js';
import { decideMove } from './move.js';
import type { ClusterConfig, ConfigUpdate } from './types.js';

const poison = ['constructor', 'toString', 'valueOf', '__proto__', 'hasOwnProperty'];

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

/** A small cluster, built by the fold and also as a checkpoint parsed from JSON (ordinary objects). */
function bases(): [string, ClusterConfig][] {
  const c = fold([
    { op: 'node-add', node: 'n1' },
    { op: 'group-create', group: 'web' },
    { op: 'resource-create', resource: 'app', group: 'web', type: 'process', priv: { command: '/bin/true' } },
  ]);
  return [['folded', c], ['parsed', JSON.parse(JSON.stringify(c)) as ClusterConfig], ['loaded', configFromJson(JSON.stringify(c))]];
}

describe('names: built-in names never exist', () => {
  for (const p of poison) {
    for (const [how, c] of bases()) {
      test(`${p} (${how}): pause, online, delete, dependencies and group fields find nothing`, () => {
        assert.equal(codeOf(applyUpdate(c, { op: 'node-pause', node: p, paused: true })), 'NODE_NOT_FOUND');
        assert.equal(codeOf(applyUpdate(c, { op: 'node-remove', node: p })), 'NODE_NOT_FOUND');
        assert.equal(codeOf(applyUpdate(c, { op: 'resource-desired', resource: p, desired: 'online' })), 'RESOURCE_NOT_FOUND');
        assert.equal(codeOf(applyUpdate(c, { op: 'resource-delete', resource: p })), 'RESOURCE_NOT_FOUND');
        assert.equal(codeOf(applyUpdate(c, { op: 'resource-set', resource: p, priv: { command: 'x' } })), 'RESOURCE_NOT_FOUND');
        assert.equal(codeOf(applyUpdate(c, { op: 'group-delete', group: p })), 'GROUP_NOT_FOUND');
        assert.equal(codeOf(applyUpdate(c, { op: 'group-desired', group: p, desired: 'online' })), 'GROUP_NOT_FOUND');
        assert.equal(codeOf(applyUpdate(c, { op: 'group-set', group: p, failoverPeriodMs: 1 })), 'GROUP_NOT_FOUND');
        assert.equal(codeOf(applyUpdate(c, { op: 'resource-add-dep', resource: 'app', dependsOn: p })), 'DEPENDENCY_NOT_FOUND');
        assert.equal(codeOf(applyUpdate(c, { op: 'resource-create', resource: 'x', group: p, type: 'process', priv: { command: 'x' } })), 'GROUP_NOT_FOUND');
        assert.equal(codeOf(applyUpdate(c, { op: 'group-set', group: 'web', preferredOwners: [p] })), 'NODE_NOT_FOUND');
        assert.equal(decideMove({ config: c, ownership: {}, nodes: {}, reports: {} } as never, p, null).kind, 'refuse');
      });

      test(`${p} (${how}): create refuses it as a name, in the fold and in apply, and the configuration is unchanged`, () => {
        assert.equal(codeOf(applyUpdate(c, { op: 'node-add', node: p })), 'BAD_ARGUMENT');
        assert.equal(codeOf(applyUpdate(c, { op: 'group-create', group: p })), 'BAD_ARGUMENT');
        assert.equal(codeOf(applyUpdate(c, { op: 'resource-create', resource: p, group: 'web', type: 'process', priv: { command: 'x' } })), 'BAD_ARGUMENT');
        const groups = Object.create(null) as Record<string, unknown>;
        groups[p] = { resources: { r1: { type: 'process', priv: { command: '/bin/true' } } } };
        assert.notEqual(planApply(c, { groups } as never).ok, true);
        const inExisting = Object.create(null) as Record<string, unknown>;
        inExisting[p] = { type: 'process', priv: { command: '/bin/true' } };
        assert.notEqual(planApply(c, { groups: { web: { resources: inExisting } } } as never).ok, true);
        assert.deepEqual(Object.keys(c.groups), ['web']);
        assert.deepEqual(Object.keys(c.resources), ['app']);
        assert.deepEqual(Object.keys(c.nodes), ['n1']);
      });
    }
  }

  test('a deleted ordinary resource is deleted after poison requests were refused', () => {
    let c = bases()[1]![1];
    for (const p of poison) assert.equal(applyUpdate(c, { op: 'resource-desired', resource: p, desired: 'online' }).ok, false);
    c = must(applyUpdate(c, { op: 'resource-delete', resource: 'app' }));
    assert.deepEqual(Object.keys(c.resources), []);
  });
});

describe('names: one rule', () => {
  test('no leading or trailing space; inner spaces and ._:@- stay valid', () => {
    for (const bad of ['web ', ' web', 'web\t', '', 'a/b', 'x'.repeat(64)]) assert.equal(checkName('group', bad).ok, false, JSON.stringify(bad));
    for (const good of ['web', 'web srv', 'Disk H:', 'a.b-c_d@e', 'x'.repeat(63), '1']) assert.equal(checkName('group', good).ok, true, good);
  });
  test('the rule holds for nodes, groups and resources alike', () => {
    const c = bases()[0]![1];
    assert.equal(codeOf(applyUpdate(c, { op: 'node-add', node: 'n2 ' })), 'BAD_ARGUMENT');
    assert.equal(codeOf(applyUpdate(c, { op: 'group-create', group: 'db ' })), 'BAD_ARGUMENT');
    assert.equal(codeOf(applyUpdate(c, { op: 'resource-create', resource: 'db ', group: 'web', type: 'process', priv: { command: 'x' } })), 'BAD_ARGUMENT');
  });
});
