import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { applyUpdate, ConfigDraft, configJson, emptyConfig, groupResources, noteConfigJson, onlineOrder } from './config.js';
import type { ConfigUpdate } from './types.js';

const name = fc.constantFrom('a', 'b', 'c', 'd');
const update: fc.Arbitrary<ConfigUpdate> = fc.oneof(
  name.map((n): ConfigUpdate => ({ op: 'node-add', node: `n-${n}` })),
  name.map((n): ConfigUpdate => ({ op: 'group-create', group: `g-${n}` })),
  name.map((n): ConfigUpdate => ({ op: 'group-delete', group: `g-${n}` })),
  fc.tuple(name, name).map(([r, g]): ConfigUpdate => ({ op: 'resource-create', resource: `r-${r}`, group: `g-${g}`, type: 'process', priv: { command: '/bin/true' } })),
  name.map((n): ConfigUpdate => ({ op: 'resource-delete', resource: `r-${n}` })),
  fc.tuple(name, name).map(([a, b]): ConfigUpdate => ({ op: 'resource-add-dep', resource: `r-${a}`, dependsOn: `r-${b}` })),
  fc.tuple(name, fc.constantFrom('online', 'offline') as fc.Arbitrary<'online' | 'offline'>).map(([r, d]): ConfigUpdate => ({ op: 'resource-desired', resource: `r-${r}`, desired: d })),
  fc.tuple(name, fc.integer({ min: -1, max: 5 })).map(([r, t]): ConfigUpdate => ({ op: 'resource-set', resource: `r-${r}`, props: { restartThreshold: t } })),
);

test('ConfigDraft folds exactly like applyUpdate, refuses the same updates, and leaves its base untouched', () => {
  fc.assert(fc.property(fc.array(update, { maxLength: 40 }), (updates) => {
    const base = emptyConfig('x');
    const frozen = JSON.stringify(base);
    let expected = base;
    const draft = new ConfigDraft(base);
    for (const u of updates) {
      const a = applyUpdate(expected, u);
      const b = draft.apply(u);
      assert.equal(b.ok, a.ok);
      if (!a.ok && !b.ok) assert.equal(b.error.code, a.error.code);
      if (a.ok) expected = a.value;
      assert.deepEqual(draft.config, expected);
    }
    assert.equal(JSON.stringify(base), frozen);
  }));
});

test('applyAll is all or nothing', () => {
  const draft = new ConfigDraft(emptyConfig('x'));
  const r = draft.applyAll([{ op: 'group-create', group: 'g' }, { op: 'group-create', group: 'g' }]);
  assert.equal(r.ok, false);
  assert.deepEqual({ ...draft.config.groups }, {});
});

test('caches by configuration identity (JSON text, online order, group index) always see the configuration as it is now', () => {
  fc.assert(fc.property(fc.array(update, { maxLength: 40 }), (updates) => {
    const draft = new ConfigDraft(emptyConfig('x'));
    for (const u of updates) {
      draft.apply(u);
      const c = draft.config; // read after every update: the draft copies before its next change
      const fresh = structuredClone(c); // same content, never seen by any cache
      assert.equal(configJson(c), JSON.stringify(c));
      for (const g of Object.keys(c.groups)) {
        assert.deepEqual(onlineOrder(c, g), onlineOrder(fresh, g));
        assert.deepEqual(groupResources(c, g), groupResources(fresh, g));
      }
    }
  }));
});

test('noteConfigJson: a configuration parsed from a text is written back as that text', () => {
  const text = JSON.stringify({ name: 'x', nodes: { n1: { name: 'n1', paused: false } }, groups: {}, resources: {} });
  const parsed = JSON.parse(text) as ReturnType<typeof emptyConfig>;
  noteConfigJson(parsed, text);
  assert.equal(configJson(parsed), text);
  // A draft built on it is a new configuration: its own text.
  const draft = new ConfigDraft(parsed);
  draft.apply({ op: 'node-add', node: 'n2' });
  assert.equal(configJson(draft.config), JSON.stringify(draft.config));
  assert.notEqual(configJson(draft.config), text);
});

test('a draft takes the first credential of a configuration that has none yet (clusterd init\'s record)', () => {
  const d = new ConfigDraft(emptyConfig('t'));
  const r = d.apply({ op: 'credential-set', user: 'admin', role: 'admin', tokenSha256: 'a'.repeat(64), createdWallMs: 1 });
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  assert.equal(d.config.credentials?.admin?.role, 'admin');
  assert.equal(Object.getPrototypeOf(d.config.credentials), null, 'a table: no prototype');
});

test('a refused batch that made and deleted a group leaves no trace of it: a later node-remove walks only real groups', () => {
  const draft = new ConfigDraft(emptyConfig('x'));
  assert.ok(draft.applyAll([{ op: 'node-add', node: 'n-a' }]).ok);
  const refused = draft.applyAll([
    { op: 'group-create', group: 'g-c', preferredOwners: ['n-a'] },
    { op: 'group-delete', group: 'g-c' },
    { op: 'resource-remove-dep', resource: 'r-a', dependsOn: 'r-a' },
  ]);
  assert.equal(refused.ok, false);
  assert.deepEqual(Object.keys(draft.config.groups), []);
  assert.ok(draft.applyAll([{ op: 'node-remove', node: 'n-a' }, { op: 'group-create', group: 'g-a', preferredOwners: [] }]).ok);
  assert.deepEqual(Object.keys(draft.config.groups), ['g-a']);
});
