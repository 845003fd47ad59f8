// What the dashboard derives from the event log (src/web/static/history.js, plain browser
// JavaScript without DOM): owners over time, failovers with reasons and time to Online, the
// dependency tree. Events here are shaped as the coordinator and the owners write them
// (core/placement.ts notes, core/local.ts RESOURCE_ONLINE).

import { test } from 'node:test';
import assert from 'node:assert/strict';

interface Ev { id: number; wallMs: number; node: string; event: string; level: string; message: string; data?: Record<string, unknown> }
interface History {
  owners: { node: string | null; epoch: number | null; kind: string; reason: string }[];
  failovers: { node: string; reason: string; onlineAfterMs: number | null }[];
  restarts: number; failures: number;
}
interface Tree { name: string; repeat: boolean; children: Tree[] }
const lib = await import(new URL('../../src/web/static/history.js', import.meta.url).href) as {
  groupHistory(events: Ev[], group: string, resources: string[], byRes: Map<string, string>): History;
  spread(v: number[]): { median: number; max: number; count: number } | null;
  dependencyTree(r: { name: string; dependsOn: string[] }[]): Tree[];
  groupOf(e: Ev, byRes: Map<string, string>): string | null;
};

let id = 0;
const ev = (wallMs: number, node: string, event: string, message: string, data: Record<string, unknown>, level = 'info'): Ev => ({ id: ++id, wallMs, node, event, level, message, data });

test('a group\'s owners over time and its failovers, with the time to Online on the new owner', () => {
  const byRes = new Map([['db-disk', 'db'], ['db-srv', 'db'], ['web-srv', 'web']]);
  const events = [
    ev(1_000, 'n1', 'GROUP_PLACED', 'group db placed on n1', { group: 'db' }),
    ev(1_200, 'n1', 'RESOURCE_ONLINE', 'resource db-disk is Online on n1', { resource: 'db-disk', group: 'db' }),
    ev(1_300, 'n1', 'RESOURCE_ONLINE', 'resource db-srv is Online on n1', { resource: 'db-srv', group: 'db' }),
    ev(2_000, 'n1', 'GROUP_MOVED', 'group db assigned to n2 (epoch 2): n1 released it', { group: 'db' }),
    ev(2_500, 'n2', 'RESOURCE_ONLINE', 'resource db-disk is Online on n2', { resource: 'db-disk', group: 'db' }),
    ev(2_600, 'n2', 'RESOURCE_ONLINE', 'resource db-srv is Online on n2', { resource: 'db-srv', group: 'db' }),
    ev(5_000, 'n3', 'GROUP_FAILOVER', 'group db assigned to n3 (epoch 3): n2 is Down', { group: 'db' }, 'warning'),
    ev(5_100, 'n1', 'GROUP_FAILOVER', 'group web assigned to n1 (epoch 4): n2 is Down', { group: 'web' }, 'warning'),
    ev(5_400, 'n3', 'RESOURCE_ONLINE', 'resource db-disk is Online on n3', { resource: 'db-disk', group: 'db' }),
    ev(5_450, 'n3', 'RESOURCE_RESTARTING', 'restarting resource db-srv in place on n3 (restart 1 of 3)', { resource: 'db-srv' }, 'warning'),
    ev(5_900, 'n3', 'RESOURCE_ONLINE', 'resource db-srv is Online on n3', { resource: 'db-srv', group: 'db' }),
    ev(7_000, 'n3', 'RESOURCE_FAILED', 'resource db-srv failed on n3: looksAlive check failed', { resource: 'db-srv', group: 'db' }, 'error'),
    ev(7_100, 'n3', 'GROUP_MOVED', 'group db assigned to n1 (epoch 4): it failed on n3', { group: 'db' }, 'warning'),
    ev(7_300, 'n1', 'RESOURCE_ONLINE', 'resource db-disk is Online on n1', { resource: 'db-disk', group: 'db' }),
  ];
  const h = lib.groupHistory(events, 'db', ['db-disk', 'db-srv'], byRes);
  assert.deepEqual(h.owners.map((o) => [o.node, o.epoch, o.kind, o.reason]), [
    ['n1', 1, 'placed', 'first placement'], ['n2', 2, 'moved', 'n1 released it'],
    ['n3', 3, 'failover', 'n2 is Down'], ['n1', 4, 'failed over', 'it failed on n3'],
  ]);
  assert.deepEqual(h.failovers.map((f) => [f.node, f.reason, f.onlineAfterMs]), [
    ['n3', 'n2 is Down', 900], // decision at 5,000, last resource Online on n3 at 5,900
    ['n1', 'it failed on n3', null], // db-srv not Online on n1 yet
  ]);
  assert.equal(h.restarts, 1, 'RESOURCE_RESTARTING names only the resource: its group comes from the status');
  assert.equal(h.failures, 1);
  assert.equal(lib.groupHistory(events, 'web', ['web-srv'], byRes).failovers.length, 1, 'another group\'s failover is its own');
  assert.deepEqual(lib.spread([900, 100, 400]), { median: 400, max: 900, count: 3 });
  assert.deepEqual(lib.spread([100, 300]), { median: 200, max: 300, count: 2 });
  assert.equal(lib.spread([]), null);
});

test('the dependency tree: what the group offers at the top, what it needs below, a shared dependency shown once then marked', () => {
  const tree = lib.dependencyTree([
    { name: 'disk', dependsOn: [] }, { name: 'ip', dependsOn: [] },
    { name: 'db', dependsOn: ['disk'] }, { name: 'app', dependsOn: ['db', 'ip'] }, { name: 'backup', dependsOn: ['disk'] },
  ]);
  const flat = (t: Tree): unknown => [t.name + (t.repeat ? '*' : ''), ...t.children.map(flat)];
  assert.deepEqual(tree.map(flat), [['app', ['db', ['disk']], ['ip']], ['backup', ['disk*']]]);
});
