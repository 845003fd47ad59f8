// Unit tests of the day-two parts of `cluster apply`: a partial document that names resources
// already in the cluster, per-resource desired states, `--prune` (deletions planned first, in an
// order the fold accepts, never nodes), and `cluster export` (apply(export) changes nothing, and
// rebuilds the same groups and resources from nothing).

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { exportDoc, planApply, type ApplyDoc } from './apply.js';
import { applyUpdate, emptyConfig } from './config.js';
import type { Result } from './errors.js';
import type { ClusterConfig, ConfigUpdate } from './types.js';

function must<T>(r: Result<T>): T {
  if (!r.ok) assert.fail(`expected ok, got ${r.error.code} at ${r.error.path}: ${r.error.message}`);
  return r.value;
}

function fold(updates: ConfigUpdate[], from: ClusterConfig = emptyConfig('c')): ClusterConfig {
  let c = from;
  for (const u of updates) c = must(applyUpdate(c, u));
  return c;
}

const cmd = (command: string) => ({ command });

/** Two groups: web (db <- app <- vip, non-default props, a failback window) and batch (job, a map of priv), three nodes. */
function live(): ClusterConfig {
  return fold([
    { op: 'node-add', node: 'n1' }, { op: 'node-add', node: 'n2' }, { op: 'node-add', node: 'n3' },
    { op: 'group-create', group: 'web', preferredOwners: ['n2', 'n1'], failback: { mode: 'window', startHour: 22, endHour: 6 }, failoverThreshold: 2 },
    { op: 'resource-create', resource: 'db', group: 'web', type: 'process', priv: cmd('db --serve') },
    { op: 'resource-create', resource: 'app', group: 'web', type: 'process', priv: { command: 'app', env: ['A=1', 'TOKEN=s3cret'] }, props: { restartThreshold: 7, restartAction: 'restart' } },
    { op: 'resource-create', resource: 'vip', group: 'web', type: 'process', priv: cmd('vip') },
    { op: 'resource-add-dep', resource: 'app', dependsOn: 'db' },
    { op: 'resource-add-dep', resource: 'vip', dependsOn: 'app' },
    { op: 'group-desired', group: 'web', desired: 'online' },
    { op: 'group-create', group: 'batch', possibleOwners: ['n3'], failoverPeriodMs: 60_000 },
    { op: 'resource-create', resource: 'job', group: 'batch', type: 'process', priv: cmd('job') },
    { op: 'group-create', group: 'empty' },
  ]);
}

describe('apply: a partial document', () => {
  test('a new resource that depends on a resource already in the cluster (not in the file) is accepted', () => {
    const d: ApplyDoc = { groups: { web: { resources: { cache: { type: 'process', priv: cmd('cache'), dependsOn: ['db'] } } } } };
    const r = must(planApply(live(), d));
    assert.deepEqual(r.config.resources.cache!.dependsOn, ['db']);
    assert.equal(r.config.resources.app!.desired, 'online', 'the resources the file does not name are left as they are');
    assert.deepEqual(r.deletions, []);
  });
});

describe('apply: a resource state of its own', () => {
  test('a resource may say offline in an online group; applied again, nothing changes', () => {
    const d: ApplyDoc = { groups: { g: { resources: { a: { type: 'process', priv: cmd('a') }, b: { type: 'process', priv: cmd('b'), state: 'offline' } } } } };
    const r = must(planApply(live(), d));
    assert.deepEqual([r.config.resources.a!.desired, r.config.resources.b!.desired], ['online', 'offline']);
    assert.ok(r.lines.includes('bring resource b offline'), r.lines.join('\n'));
    assert.deepEqual(must(planApply(r.config, d)).updates, []);
  });
});

describe('apply --prune', () => {
  test('deletes the resources and groups the document leaves out, dependents first, and lists them first', () => {
    const d: ApplyDoc = { groups: { web: { preferredOwners: ['n2', 'n1'], failback: { mode: 'window', startHour: 22, endHour: 6 }, failoverThreshold: 2, resources: { db: { type: 'process', priv: cmd('db --serve') } } } } };
    const r = must(planApply(live(), d, { prune: true }));
    assert.deepEqual(r.deletions, [
      'delete resource job (process, group batch)', 'delete resource vip (process, group web)', 'delete resource app (process, group web)',
      'delete group batch', 'delete group empty',
    ]);
    assert.deepEqual(r.lines.slice(0, r.deletions.length), r.deletions, 'the deletions come first');
    assert.deepEqual(new Set(r.deleted), new Set(['vip', 'app', 'job']));
    assert.ok(r.deleted.indexOf('vip') < r.deleted.indexOf('app'), 'vip depends on app: deleted before it');
    assert.deepEqual(Object.keys(r.config.groups), ['web']);
    assert.deepEqual(Object.keys(r.config.resources), ['db']);
    assert.deepEqual(Object.keys(r.config.nodes).sort(), ['n1', 'n2', 'n3'], 'nodes are never pruned');
    // Replayed one by one, as the quorum log does.
    assert.deepEqual(fold(r.updates, live()), r.config);
    // Applied again with --prune: nothing left to delete.
    const again = must(planApply(r.config, d, { prune: true }));
    assert.deepEqual([again.updates, again.deletions], [[], []]);
  });

  test('without --prune nothing is deleted', () => {
    const r = must(planApply(live(), { groups: { web: { resources: { db: { type: 'process', priv: cmd('db --serve') } } } } }));
    assert.deepEqual(r.deletions, []);
    assert.ok(r.config.groups.batch && r.config.resources.vip);
  });

  test('a kept resource that depends on one the file leaves out is refused, at its dependsOn', () => {
    const d: ApplyDoc = { groups: { web: { resources: { app: { type: 'process', dependsOn: ['db'] } } } } };
    const r = planApply(live(), d, { prune: true });
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.error.code, 'DEPENDENCY_NOT_FOUND');
    assert.equal(r.error.path, 'groups.web.resources.app.dependsOn');
    assert.match(r.error.hint ?? '', /cluster export/);
  });

  test('a kept resource loses its dependency on a deleted one (the file names its dependencies)', () => {
    const d: ApplyDoc = { groups: { web: { resources: { app: { type: 'process' }, vip: { type: 'process', dependsOn: ['app'] } } } } };
    const r = must(planApply(live(), d, { prune: true }));
    assert.deepEqual(r.deleted.sort(), ['db', 'job']);
    assert.deepEqual(r.config.resources.app!.dependsOn, []);
  });

  test('an empty document with --prune deletes every group and resource, and no node', () => {
    const r = must(planApply(live(), { groups: {} }, { prune: true }));
    assert.deepEqual([Object.keys(r.config.groups), Object.keys(r.config.resources)], [[], []]);
    assert.equal(Object.keys(r.config.nodes).length, 3);
  });
});

describe('cluster export', () => {
  test('apply(export) changes nothing, with --prune too', () => {
    const c = live();
    const d = exportDoc(c);
    assert.deepEqual(must(planApply(c, d)).updates, []);
    assert.deepEqual(must(planApply(c, d, { prune: true })).updates, []);
  });

  test('what it writes: non-default fields only, the group state, a resource state that differs', () => {
    const c = fold([{ op: 'resource-desired', resource: 'vip', desired: 'offline' }], live());
    const d = exportDoc(c);
    assert.deepEqual(JSON.parse(JSON.stringify(d)), {
      groups: {
        batch: { possibleOwners: ['n3'], failoverPeriodMs: 60_000, state: 'offline', resources: { job: { type: 'process', priv: { command: 'job' } } } },
        empty: {},
        web: {
          preferredOwners: ['n2', 'n1'], failoverThreshold: 2, failback: { mode: 'window', startHour: 22, endHour: 6 }, state: 'online',
          resources: {
            app: { type: 'process', dependsOn: ['db'], props: { restartAction: 'restart', restartThreshold: 7 }, priv: { command: 'app', env: ['A=1', 'TOKEN=s3cret'] } },
            db: { type: 'process', priv: { command: 'db --serve' } },
            vip: { type: 'process', dependsOn: ['app'], priv: { command: 'vip' }, state: 'offline' },
          },
        },
      },
    });
    assert.deepEqual(must(planApply(c, d)).updates, []);
  });

  test('applied to an empty cluster it rebuilds the same groups and resources', () => {
    const c = live();
    const fresh = fold([{ op: 'node-add', node: 'n1' }, { op: 'node-add', node: 'n2' }, { op: 'node-add', node: 'n3' }]);
    const r = must(planApply(fresh, exportDoc(c)));
    assert.deepEqual(JSON.parse(JSON.stringify(r.config.groups)), JSON.parse(JSON.stringify(c.groups)));
    assert.deepEqual(JSON.parse(JSON.stringify(r.config.resources)), JSON.parse(JSON.stringify(c.resources)));
  });

  test('property: whatever the desired states, apply(export) changes nothing', () => {
    const names = ['db', 'app', 'vip', 'job'];
    fc.assert(fc.property(fc.array(fc.record({ r: fc.constantFrom(...names), on: fc.boolean() }), { maxLength: 8 }), (flips) => {
      let c = live();
      for (const f of flips) c = fold([{ op: 'resource-desired', resource: f.r, desired: f.on ? 'online' : 'offline' }], c);
      assert.deepEqual(must(planApply(c, exportDoc(c))).updates, []);
    }));
  });
});
