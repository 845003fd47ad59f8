import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GroupView, NodeView, ResourceView, StatusSnapshot } from '../api/types.js';
import { commonPropDefaults } from '../core/types.js';
import {
  banner, formatError, groupPropEntries, groupTable, logLine, nodeTable, ownerList, planText, propTable,
  resourceTable, say, statusOverview, whyText,
} from './format.js';

function resource(over: Partial<ResourceView> = {}): ResourceView {
  return {
    name: 'Disk H:', group: 'Exchange', type: 'disk', node: 'Node1', state: 'Online', status: 'Online(Maintenance)',
    desired: 'online', dependsOn: [], props: { ...commonPropDefaults }, priv: {}, restarts: 0, ...over,
  };
}

function group(over: Partial<GroupView> = {}): GroupView {
  return {
    name: 'Exchange', state: 'Online', node: 'Node1', epoch: 4, preferredOwners: ['Node1', 'Node2'], possibleOwners: [],
    failoverThreshold: 2, failoverPeriodMs: 21_600_000, failback: { mode: 'never' }, resources: ['Disk H:'], ...over,
  };
}

function node(name: string, id: number, over: Partial<NodeView> = {}): NodeView {
  return { name, id, state: 'Up', apiUrl: null, coordinator: false, draining: false, ...over };
}

// The maintenance-mode article's sample, with cluster.exe's real column widths (20, 20, 15).
test('resource status: the maintenance-mode article, byte for byte', () => {
  const text = banner(say.resourceStatus('Disk H:')) + resourceTable([resource()]);
  assert.equal(text,
    "Listing status for resource 'Disk H:':\n" +
    '\n' +
    'Resource             Group                Node            Status\n' +
    '-------------------- -------------------- --------------- ------\n' +
    'Disk H:              Exchange             Node1           Online(Maintenance)\n');
});

test('resource status: extended maintenance and long names push the row, never truncate', () => {
  const text = resourceTable([
    resource({ status: "Online(Ext Maintenance, Internal State 'Offline')" }),
    resource({ name: 'Exchange Mailbox Store (EVS1)', group: 'g', node: null, status: 'Offline' }),
  ]);
  assert.equal(text,
    'Resource             Group                Node            Status\n' +
    '-------------------- -------------------- --------------- ------\n' +
    "Disk H:              Exchange             Node1           Online(Ext Maintenance, Internal State 'Offline')\n" +
    'Exchange Mailbox Store (EVS1) g                                    Offline\n');
});

test('action banners: online, offline, move, with the blank line cluster.exe prints', () => {
  assert.equal(banner(say.resourceOnline('Disk H:')), "Bringing resource 'Disk H:' online...\n\n");
  assert.equal(banner(say.resourceOffline('Disk H:')), "Taking resource 'Disk H:' offline...\n\n");
  assert.equal(banner(say.groupMove('Exchange')), "Moving resource group 'Exchange'...\n\n");
  assert.equal(banner(say.resourceStatusAll()), 'Listing status for all available resources:\n\n');
  assert.equal(banner(say.resourceDelete('Disk H:'), false), "Deleting resource 'Disk H:'\n");
});

test('group status', () => {
  const text = banner(say.groupStatusAll()) + groupTable([group(), group({ name: 'Cluster Group', node: null, state: 'Offline' })]);
  assert.equal(text,
    'Listing status for all available resource groups:\n' +
    '\n' +
    'Group                Node            Status\n' +
    '-------------------- --------------- ------\n' +
    'Exchange             Node1           Online\n' +
    'Cluster Group                        Offline\n');
});

test('node status: name 15, id right-aligned in 6, as cluster.exe', () => {
  const text = banner(say.nodeStatusAll()) + nodeTable([node('BJMSAPG1A', 1), node('BJMSAPG1B', 2, { state: 'Paused' })]);
  assert.equal(text,
    'Listing status for all available nodes:\n' +
    '\n' +
    'Node           Node ID Status\n' +
    '-------------- ------- ---------------------\n' +
    'BJMSAPG1A            1 Up\n' +
    'BJMSAPG1B            2 Paused\n');
});

test('owner lists', () => {
  assert.equal(ownerList('Preferred Owner Nodes', ['Node1', 'Node2']),
    'Preferred Owner Nodes\n---------------------\nNode1\nNode2\n');
  assert.equal(ownerList('Possible Owner Nodes', []), 'Possible Owner Nodes\n--------------------\n');
});

test('property listing: type letter, read-only flag, owner 20, name 30', () => {
  const text = propTable('Resource Group', 'Exchange', groupPropEntries(group()));
  assert.equal(text,
    'T  Resource Group       Name                           Value\n' +
    '-- -------------------- ------------------------------ -----------------------\n' +
    'SR Exchange             name                           Exchange\n' +
    'SR Exchange             state                          Online\n' +
    'SR Exchange             node                           Node1\n' +
    'DR Exchange             epoch                          4 (0x4)\n' +
    'M  Exchange             preferredOwners                Node1,Node2\n' +
    'M  Exchange             possibleOwners\n' +
    'D  Exchange             failoverThreshold              2 (0x2)\n' +
    'D  Exchange             failoverPeriodMs               21600000 (0x1499700)\n' +
    'S  Exchange             failback                       never\n');
});

test('errors: code, message, hint on its own line', () => {
  assert.equal(formatError({ code: 'ENDPOINT_UNREACHABLE', message: 'no clusterd answers at http://127.0.0.1:7400', hint: 'start a node' }),
    'error[ENDPOINT_UNREACHABLE]: no clusterd answers at http://127.0.0.1:7400\nhint: start a node\n');
  assert.equal(formatError({ code: 'BAD_ARGUMENT', message: 'x' }), 'error[BAD_ARGUMENT]: x\n');
});

test('log line: ISO time, node, level, event id, message', () => {
  const line = logLine({ id: 7, wallMs: Date.UTC(2026, 10, 24, 21, 3, 1, 123), node: 'n1', event: 'NODE_UP', level: 'info', message: 'node n1 is Up' });
  assert.equal(line, '2026-11-24T21:03:01.123Z n1 info NODE_UP node n1 is Up\n');
});

test('why: reasons then a candidates table', () => {
  const text = whyText({
    group: 'web', node: 'n1', state: 'Online',
    reasons: ['n1 is the first Up preferred owner'],
    candidates: [{ node: 'n1', eligible: true, reason: 'preferred owner #1, Up' }, { node: 'n3', eligible: false, reason: 'Down' }],
  });
  assert.equal(text,
    "Group 'web' is Online on n1.\n" +
    '\n' +
    'Reasons:\n' +
    '  - n1 is the first Up preferred owner\n' +
    '\n' +
    'Candidates:\n' +
    'Node            Eligible Reason\n' +
    '--------------- -------- ------\n' +
    'n1              yes      preferred owner #1, Up\n' +
    'n3              no       Down\n');
  assert.match(whyText({ group: 'db', node: null, state: 'Failed', reasons: [], candidates: [] }), /^Group 'db' \(Failed\) is not placed on any node\.\n/);
});

test('apply plan: dry run and applied', () => {
  assert.equal(planText({ dryRun: true, applied: false, plan: ['create group web', 'set web-srv.priv.port = 8080'] }),
    'plan (dry run, nothing changed):\n  create group web\n  set web-srv.priv.port = 8080\n');
  assert.equal(planText({ dryRun: false, applied: true, plan: [] }), 'plan (applied):\n  (nothing to change)\n');
});

test('status overview: coordinator, nodes, groups with resources indented, warnings', () => {
  const snapshot: StatusSnapshot = {
    cluster: 'demo', node: 'n2', coordinator: 'n1', term: 3, appliedSeq: 42,
    nodes: [node('n1', 1, { coordinator: true }), node('n2', 2, { draining: true }), node('n3', 3, { state: 'Down' })],
    groups: [group({ name: 'web', node: 'n1', resources: ['web-ip', 'web-srv'] }), group({ name: 'db', node: null, state: 'Failed', resources: ['db-disk'] })],
    resources: [
      resource({ name: 'web-ip', group: 'web', type: 'ip', status: 'Online' }),
      resource({ name: 'web-srv', group: 'web', type: 'process', status: 'Online' }),
      resource({ name: 'db-disk', group: 'db', type: 'disk', node: null, state: 'Failed', status: 'Failed', error: 'mount failed' }),
    ],
    warnings: ['node n3 is Down'],
  };
  assert.equal(statusOverview(snapshot),
    'Cluster: demo  (answered by n2, applied seq 42)\n' +
    'Coordinator: n1  (term 3)\n' +
    '\n' +
    'Nodes (3):\n' +
    '  n1  Up    coordinator\n' +
    '  n2  Up    draining\n' +
    '  n3  Down\n' +
    '\n' +
    'Groups (2):\n' +
    '  web  Online  on n1\n' +
    '      web-ip   ip       Online\n' +
    '      web-srv  process  Online\n' +
    '  db  Failed  (never placed)\n' +
    '      db-disk  disk  Failed: mount failed\n' +
    '\n' +
    'Warnings:\n' +
    '  ! node n3 is Down\n');
});

test('status overview: a group on a Down owner shows Pending with its reason, its resources Unknown, and the full-disk warning', () => {
  const reason = 'owner n2 is Down; failover to n3 (epoch 5) blocked: the quorum disk is full';
  const snapshot: StatusSnapshot = {
    cluster: 'demo', node: 'n1', coordinator: 'n1', term: 3, appliedSeq: 42,
    nodes: [node('n1', 1, { coordinator: true }), node('n2', 2, { state: 'Down' }), node('n3', 3)],
    groups: [group({ name: 'web', node: 'n2', state: 'Pending', resources: ['web-srv'], reason, blockedBy: 'QUORUM_DISK_FULL' })],
    resources: [resource({ name: 'web-srv', group: 'web', type: 'process', node: 'n2', state: 'Unknown', status: 'Unknown' })],
    warnings: ['the quorum disk is full: ...', 'node n2 is Down', `group web is Pending: ${reason}: cluster why web`],
    quorumWritesBlocked: { code: 'QUORUM_DISK_FULL', message: '...' },
  };
  const text = statusOverview(snapshot);
  assert.match(text, /\n {2}web {2}Pending {2}on n2 {2}\(owner n2 is Down; failover to n3 \(epoch 5\) blocked: the quorum disk is full\)\n {6}web-srv {2}process {2}Unknown\n/);
  assert.match(text, /Warnings:\n {2}! the quorum disk is full/);
});

test('backups: the list and one backup with its writers and error', async () => {
  const { backupDetail, backupTable, durationText } = await import('./format.js');
  const b = {
    id: '3f9a1c2e@n1', group: 'db', target: 'db', node: 'n1', epoch: 4, state: 'Failed' as const, limitMs: 60_000, startedWallMs: Date.UTC(2026, 0, 2, 3, 4, 5),
    frozenAfterMs: 12, thawAskedAfterMs: null, failedAfterMs: 60_000, endedAfterMs: 60_004,
    writers: [
      { resource: 'pg', type: 'process' as const, action: 'signal SIGSTOP/SIGCONT', state: 'Thawed' as const },
      { resource: 'data', type: 'disk' as const, action: 'fsfreeze /mnt/data', state: 'Thawed' as const },
    ],
    error: { code: 'BACKUP_FREEZE_TIMEOUT' as const, message: "backup 3f9a1c2e@n1 of group 'db': the freeze limit of 60000 ms passed", hint: 'take the snapshot within the limit' },
  };
  assert.equal(backupTable([b]),
    'Backup               Group                Node            Started                  Held     Status\n' +
    '-------------------- -------------------- --------------- ------------------------ -------- ------\n' +
    '3f9a1c2e@n1          db                   n1              2026-01-02T03:04:05.000Z 60 s     Failed (BACKUP_FREEZE_TIMEOUT)\n');
  const d = backupDetail(b);
  assert.match(d, /^Backup 3f9a1c2e@n1 of group 'db' on n1, epoch 4: Failed \(BACKUP_FREEZE_TIMEOUT\)\n/);
  assert.match(d, /  all frozen +12 ms after the freeze began\n/);
  assert.match(d, /pg +process +signal SIGSTOP\/SIGCONT +Thawed\n/);
  assert.match(d, /\nerror\[BACKUP_FREEZE_TIMEOUT\]: .*\nhint: take the snapshot within the limit\n$/);
  assert.deepEqual([durationText(12), durationText(3_456), durationText(60_000), durationText(300_000)], ['12 ms', '3.5 s', '60 s', '5 min']);
});
