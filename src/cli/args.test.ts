import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  extMaintWaitSecondsDefault, groupWaitSecondsDefault, logLimitDefault, parseArgs, parseDurationMs, privValue, resourceWaitSecondsDefault,
  usageText, waitSecondsMax, type Command, type ParsedArgs,
} from './args.js';
import { exitUsage } from '../core/errors.js';
import { main } from './main.js';
import { freezeLimitMsMax, freezeLimitMsMin } from '../core/backup.js';

function parsed(argv: string[]): ParsedArgs {
  const r = parseArgs(argv);
  if (!r.ok) assert.fail(`expected ${JSON.stringify(argv)} to parse, got ${r.error.format()}`);
  return r.value;
}
const cmd = (argv: string[]): Command => parsed(argv).command;

function errorCode(argv: string[]): string {
  const r = parseArgs(argv);
  if (r.ok) assert.fail(`expected ${JSON.stringify(argv)} to fail, got ${JSON.stringify(r.value)}`);
  return r.error.code;
}

test('switch prefixes /, - and -- and any case mean the same', () => {
  const want: Command = { kind: 'resource-online', resource: 'web', waitSeconds: resourceWaitSecondsDefault };
  for (const s of ['/online', '-online', '--online', '/ONLINE', '/Online', '/on', '/onl', '--on']) {
    assert.deepEqual(cmd(['res', 'web', s]), want, s);
  }
});

test('values follow : or =', () => {
  const want: Command = { kind: 'group-move', group: 'web', node: 'n2', waitSeconds: groupWaitSecondsDefault };
  for (const s of ['/move:n2', '/move=n2', '--move=n2', '--move:n2', '-move:n2', '/moveto:n2', '/MOVETO=n2']) {
    assert.deepEqual(cmd(['group', 'web', s]), want, s);
  }
  assert.deepEqual(cmd(['group', 'web', '/move']), { ...want, node: null });
  assert.deepEqual(cmd(['group', 'web', '/move:']), { ...want, node: null });
});

test('the first word may name the cluster or be a dot; both are ignored', () => {
  const want: Command = { kind: 'resource-status', resource: 'Disk H:', onNode: null };
  assert.deepEqual(cmd(['TestCluster', 'res', 'Disk H:']), want);
  assert.deepEqual(cmd(['.', 'res', 'Disk H:']), want);
  assert.deepEqual(cmd(['res', 'Disk H:', '/status']), want);
  assert.deepEqual(cmd(['resource', 'Disk H:', '/stat']), want);
  assert.deepEqual(cmd(['/cluster:TestCluster', 'res', 'Disk H:']), want);
});

test('a quoted name with spaces is one argument; two bare words are a mistake', () => {
  assert.deepEqual(cmd(['group', 'Cluster Group', '/online']), { kind: 'group-online', group: 'Cluster Group', waitSeconds: groupWaitSecondsDefault });
  assert.equal(errorCode(['group', 'Cluster', 'Group', '/online']), 'BAD_ARGUMENT');
});

test('node: list, status and actions', () => {
  assert.deepEqual(cmd(['node']), { kind: 'node-status', node: null });
  assert.deepEqual(cmd(['node', 'n1']), { kind: 'node-status', node: 'n1' });
  assert.deepEqual(cmd(['node', 'n1', '/status']), { kind: 'node-status', node: 'n1' });
  for (const action of ['pause', 'resume', 'drain', 'evict'] as const) {
    assert.deepEqual(cmd(['node', 'n1', `/${action}`]), { kind: 'node-action', node: 'n1', action });
  }
  assert.equal(errorCode(['node', '/pause']), 'BAD_ARGUMENT');
  assert.equal(errorCode(['node', 'n1', '/online']), 'BAD_ARGUMENT');
  assert.equal(errorCode(['node', 'n1', '/pause:now']), 'BAD_ARGUMENT');
});

test('group: every switch', () => {
  assert.deepEqual(cmd(['group']), { kind: 'group-status', group: null, onNode: null });
  assert.deepEqual(cmd(['group', '/node:n1']), { kind: 'group-status', group: null, onNode: 'n1' });
  assert.deepEqual(cmd(['group', 'web', '/create']), { kind: 'group-create', group: 'web', patch: {} });
  assert.deepEqual(cmd(['group', 'web', '/create', '/prop', 'failback=never']), { kind: 'group-create', group: 'web', patch: { failback: { mode: 'never' } } });
  assert.deepEqual(cmd(['group', 'web', '/delete']), { kind: 'group-delete', group: 'web' });
  assert.deepEqual(cmd(['group', 'web', '/offline']), { kind: 'group-offline', group: 'web', waitSeconds: groupWaitSecondsDefault });
  assert.deepEqual(cmd(['group', 'web', '/off']), { kind: 'group-offline', group: 'web', waitSeconds: groupWaitSecondsDefault });
  assert.deepEqual(cmd(['group', 'web', '/prop']), { kind: 'group-prop-list', group: 'web' });
  assert.deepEqual(cmd(['group', 'web', '/properties']), { kind: 'group-prop-list', group: 'web' });
  assert.deepEqual(cmd(['group', 'web', '/listowners']), { kind: 'group-list-owners', group: 'web' });
  assert.deepEqual(cmd(['group', 'web', '/setowners:n1,n2']), { kind: 'group-prop-set', group: 'web', patch: { preferredOwners: ['n1', 'n2'] } });
  assert.equal(errorCode(['group', 'web', '/setowners']), 'BAD_ARGUMENT');
  assert.equal(errorCode(['group', 'web', '/priv']), 'BAD_ARGUMENT');
});

test('group properties: /prop:K=V, /prop K=V K=V, units and policies', () => {
  const set = (argv: string[]) => {
    const c = cmd(argv);
    assert.equal(c.kind, 'group-prop-set');
    return c.kind === 'group-prop-set' ? c.patch : {};
  };
  assert.deepEqual(set(['group', 'web', '/prop:failoverPeriod=6h']), { failoverPeriodMs: 21_600_000 });
  assert.deepEqual(set(['group', 'web', '--prop=failoverPeriodMs=30000']), { failoverPeriodMs: 30_000 });
  assert.deepEqual(set(['group', 'web', '/prop', 'failoverThreshold=3', 'failback=22-06', 'preferredOwners=n1,n2']), {
    failoverThreshold: 3, failback: { mode: 'window', startHour: 22, endHour: 6 }, preferredOwners: ['n1', 'n2'],
  });
  assert.deepEqual(set(['group', 'web', '/prop:FAILBACK=Immediate', 'possibleOwners=']), { failback: { mode: 'immediate' }, possibleOwners: [] });
  assert.deepEqual(set(['group', 'web', '/prop:failoverThreshold=default']), { failoverThreshold: null });
  assert.equal(errorCode(['group', 'web', '/prop:failback=sometimes']), 'BAD_PROPERTY');
  assert.equal(errorCode(['group', 'web', '/prop:failback=5-5']), 'BAD_PROPERTY');
  assert.equal(errorCode(['group', 'web', '/prop:failoverPeriod=6 hours']), 'BAD_PROPERTY');
  assert.equal(errorCode(['group', 'web', '/prop:colour=blue']), 'BAD_PROPERTY');
  assert.equal(errorCode(['group', 'web', '/prop:failback=never', 'failback=immediate']), 'BAD_PROPERTY');
});

test('resource: every switch', () => {
  assert.deepEqual(cmd(['res']), { kind: 'resource-status', resource: null, onNode: null });
  assert.deepEqual(cmd(['res', '/node:n2']), { kind: 'resource-status', resource: null, onNode: 'n2' });
  assert.deepEqual(cmd(['res', 'db', '/delete']), { kind: 'resource-delete', resource: 'db' });
  assert.deepEqual(cmd(['res', 'db', '/offline']), { kind: 'resource-offline', resource: 'db', waitSeconds: resourceWaitSecondsDefault });
  assert.deepEqual(cmd(['res', 'db', '/move:n3']), { kind: 'resource-move', resource: 'db', node: 'n3', waitSeconds: groupWaitSecondsDefault });
  assert.deepEqual(cmd(['res', 'db', '/fail']), { kind: 'resource-fail', resource: 'db' });
  assert.deepEqual(cmd(['res', 'db', '/prop']), { kind: 'resource-prop-list', resource: 'db', which: 'prop' });
  assert.deepEqual(cmd(['res', 'db', '/priv']), { kind: 'resource-prop-list', resource: 'db', which: 'priv' });
  assert.deepEqual(cmd(['res', 'db', '/adddep:disk']), { kind: 'resource-dep', resource: 'db', op: 'add', dependency: 'disk' });
  assert.deepEqual(cmd(['res', 'db', '/adddependency:disk']), { kind: 'resource-dep', resource: 'db', op: 'add', dependency: 'disk' });
  assert.deepEqual(cmd(['res', 'db', '/removedep:disk']), { kind: 'resource-dep', resource: 'db', op: 'remove', dependency: 'disk' });
  assert.deepEqual(cmd(['res', 'db', '/listdep']), { kind: 'resource-list-deps', resource: 'db' });
  assert.deepEqual(cmd(['res', 'db', '/addowner:n1']), { kind: 'resource-owner', resource: 'db', op: 'add', node: 'n1' });
  assert.deepEqual(cmd(['res', 'db', '/removeowner:n1']), { kind: 'resource-owner', resource: 'db', op: 'remove', node: 'n1' });
  assert.deepEqual(cmd(['res', 'db', '/listowners']), { kind: 'resource-list-owners', resource: 'db' });
  assert.equal(errorCode(['res', 'db', '/adddep']), 'BAD_ARGUMENT');
  assert.equal(errorCode(['res', '/online']), 'BAD_ARGUMENT');
});

test('resource /create needs /group and /type, and takes initial /prop and /priv', () => {
  assert.deepEqual(cmd(['res', 'web-srv', '/create', '/group:web', '/type:Process', '/prop:restartAction=1', '/priv', 'command=sleep', 'args=["60"]', 'port=8080']), {
    kind: 'resource-create', resource: 'web-srv', group: 'web', type: 'process',
    props: { restartAction: 'restart' }, priv: { command: 'sleep', args: ['60'], port: 8080 },
  });
  assert.equal(errorCode(['res', 'x', '/create', '/type:process']), 'BAD_ARGUMENT');
  assert.equal(errorCode(['res', 'x', '/create', '/group:g']), 'BAD_ARGUMENT');
  assert.equal(errorCode(['res', 'x', '/create', '/group:g', '/type:dll']), 'RESOURCE_TYPE_UNKNOWN');
  assert.equal(errorCode(['res', 'x', '/online', '/group:g']), 'BAD_ARGUMENT');
});

test('resource properties: common by name with units, private by type', () => {
  assert.deepEqual(cmd(['res', 'db', '/prop:looksAliveInterval=10s', 'pendingTimeoutMs=60000', 'RESTARTACTION=none']), {
    kind: 'resource-prop-set', resource: 'db', props: { looksAliveIntervalMs: 10_000, pendingTimeoutMs: 60_000, restartAction: 'none' }, priv: {},
  });
  assert.deepEqual(cmd(['res', 'db', '/priv:path=/srv/data', 'mode=a,b,c']), {
    kind: 'resource-prop-set', resource: 'db', props: {}, priv: { path: '/srv/data', mode: 'a,b,c' },
  });
  assert.deepEqual(cmd(['res', 'db', '/prop', 'stopGraceMs=1000', '/priv', 'port=5432']), {
    kind: 'resource-prop-set', resource: 'db', props: { stopGraceMs: 1000 }, priv: { port: 5432 },
  });
  assert.equal(errorCode(['res', 'db', '/prop:colour=blue']), 'BAD_PROPERTY');
  assert.equal(errorCode(['res', 'db', '/prop:restartThreshold=many']), 'BAD_PROPERTY');
  assert.equal(errorCode(['res', 'db', '/priv:args=["a",1]']), 'BAD_PROPERTY');
  assert.equal(errorCode(['res', 'db', '/priv:novalue']), 'BAD_PROPERTY');
});

test('private values: numbers stay numbers, lists only for args and env', () => {
  const v = (k: string, raw: string) => {
    const r = privValue(k, raw);
    return r.ok ? r.value : r.error.code;
  };
  assert.equal(v('port', '8080'), 8080);
  assert.equal(v('ratio', '-1.5'), -1.5);
  assert.equal(v('port', '08080'), '08080');
  assert.equal(v('hosts', 'a,b,c'), 'a,b,c');
  assert.equal(v('args', 'a,b,c'), 'a,b,c');
  assert.deepEqual(v('args', '["-c", "sleep 60"]'), ['-c', 'sleep 60']);
  assert.deepEqual(v('env', '["A=1","B=2"]'), ['A=1', 'B=2']);
  assert.equal(v('command', '["a"]'), '["a"]');
  assert.equal(v('env', '[not json'), 'BAD_PROPERTY');
});

test('durations', () => {
  assert.equal(parseDurationMs('250'), 250);
  assert.equal(parseDurationMs('250ms'), 250);
  assert.equal(parseDurationMs('30s'), 30_000);
  assert.equal(parseDurationMs('1h30m'), 5_400_000);
  assert.equal(parseDurationMs('2d'), 172_800_000);
  assert.equal(parseDurationMs('6 h'), null);
  assert.equal(parseDurationMs('-1s'), null);
  assert.equal(parseDurationMs(''), null);
});

test('waits: cluster.exe defaults, /wait:N, bare /wait, --no-wait', () => {
  const wait = (argv: string[]) => {
    const c = cmd(argv);
    return 'waitSeconds' in c ? c.waitSeconds : -1;
  };
  assert.equal(wait(['res', 'db', '/online']), 10);
  assert.equal(wait(['res', 'db', '/offline']), 10);
  assert.equal(wait(['group', 'g', '/move']), 20);
  assert.equal(wait(['group', 'g', '/online']), 20);
  assert.equal(wait(['group', 'g', '/offline']), 20);
  assert.equal(wait(['res', 'db', '/online', '/wait:3']), 3);
  assert.equal(wait(['res', 'db', '/online', '--wait=0']), 0);
  assert.equal(wait(['group', 'g', '/move:n2', '/wait']), waitSecondsMax);
  assert.equal(wait(['group', 'g', '/move:n2', '--no-wait']), 0);
  assert.equal(wait(['res', 'db', '--no-wait', '/online']), 0);
  assert.equal(errorCode(['res', 'db', '/online', '/wait:soon']), 'BAD_ARGUMENT');
  assert.equal(errorCode(['res', 'db', '/online', `/wait:${waitSecondsMax + 1}`]), 'BAD_ARGUMENT');
  assert.equal(errorCode(['res', 'db', '/online', '/wait:3', '--no-wait']), 'BAD_ARGUMENT');
  assert.equal(errorCode(['res', 'db', '/delete', '/wait:3']), 'BAD_ARGUMENT');
  // --no-wait is global: harmless where nothing waits.
  assert.deepEqual(cmd(['node', 'n1', '/pause', '--no-wait']), { kind: 'node-action', node: 'n1', action: 'pause' });
});

test('unknown objects, unknown switches and conflicts are BAD_ARGUMENT with the valid choices', () => {
  const r = parseArgs(['res', 'db', '/frobnicate']);
  assert.ok(!r.ok);
  assert.equal(r.error.code, 'BAD_ARGUMENT');
  assert.match(r.error.message, /\/frobnicate/);
  assert.match(r.error.hint ?? '', /\/online/);
  const o = parseArgs(['nodes']);
  assert.ok(!o.ok);
  assert.equal(o.error.code, 'BAD_ARGUMENT');
  assert.match(o.error.message, /'nodes'/);
  assert.match(o.error.hint ?? '', /res\|resource/);
  assert.equal(errorCode(['res', 'db', '/online', '/offline']), 'BAD_ARGUMENT');
  assert.equal(errorCode(['res', 'db', '/online', '/online']), 'BAD_ARGUMENT');
  assert.equal(errorCode(['group', 'web', '/node:n1']), 'BAD_ARGUMENT');
  assert.equal(errorCode(['/online']), 'BAD_ARGUMENT');
});

test('help: --help, /?, -h and per object', () => {
  assert.deepEqual(cmd([]), { kind: 'help', topic: 'main' });
  assert.deepEqual(cmd(['--help']), { kind: 'help', topic: 'main' });
  assert.deepEqual(cmd(['/?']), { kind: 'help', topic: 'main' });
  assert.deepEqual(cmd(['res', '/?']), { kind: 'help', topic: 'resource' });
  assert.deepEqual(cmd(['group', 'web', '-h']), { kind: 'help', topic: 'group' });
  assert.deepEqual(cmd(['help', 'node']), { kind: 'help', topic: 'node' });
  assert.match(usageText('resource'), /\/adddep:RES/);
  assert.match(usageText('main'), /cluster apply -f FILE/);
});

test('status, log, why, apply', () => {
  assert.deepEqual(cmd(['status']), { kind: 'status', watch: false });
  assert.deepEqual(cmd(['.', 'status', '--watch']), { kind: 'status', watch: true });
  assert.deepEqual(cmd(['log']), { kind: 'log', follow: false, limit: logLimitDefault });
  assert.deepEqual(cmd(['log', '--follow', '--limit', '5']), { kind: 'log', follow: true, limit: 5 });
  assert.deepEqual(cmd(['log', '--limit=7']), { kind: 'log', follow: false, limit: 7 });
  assert.deepEqual(cmd(['log', '-n', '3']), { kind: 'log', follow: false, limit: 3 });
  assert.equal(errorCode(['log', '--limit', '0']), 'BAD_ARGUMENT');
  assert.equal(errorCode(['log', '--limit']), 'BAD_ARGUMENT');
  assert.deepEqual(cmd(['why', 'web']), { kind: 'why', group: 'web' });
  assert.equal(errorCode(['why']), 'BAD_ARGUMENT');
  assert.deepEqual(cmd(['apply', '-f', 'cluster.yaml']), { kind: 'apply', file: 'cluster.yaml', dryRun: false, prune: false });
  assert.deepEqual(cmd(['apply', '--file=cluster.yaml', '--dry-run']), { kind: 'apply', file: 'cluster.yaml', dryRun: true, prune: false });
  assert.deepEqual(cmd(['apply', '-f', 'cluster.yaml', '--prune', '--dry-run']), { kind: 'apply', file: 'cluster.yaml', dryRun: true, prune: true });
  assert.deepEqual(cmd(['export']), { kind: 'export' });
  assert.deepEqual(cmd(['res', 'srv', '/cleanup']), { kind: 'resource-cleanup', resource: 'srv', waitSeconds: 10 });
  assert.equal(errorCode(['apply']), 'BAD_ARGUMENT');
  assert.equal(errorCode(['status', '/online']), 'BAD_ARGUMENT');
});

test('global options: --json and --endpoint anywhere', () => {
  assert.deepEqual(parsed(['--json', 'node']).options, { json: true, endpoint: null });
  assert.deepEqual(parsed(['node', '--endpoint', 'http://h:7400,http://g:7400']).options, { json: false, endpoint: 'http://h:7400,http://g:7400' });
  assert.deepEqual(parsed(['--endpoint=http://h:7400', 'status', '--json']).options, { json: true, endpoint: 'http://h:7400' });
  assert.equal(errorCode(['status', '--endpoint']), 'BAD_ARGUMENT');
});

test('disk maintenance: /maint, /extmaint, /waitmaint[pending] as in the maintenance-mode article', () => {
  const maint = (on: boolean | null, mode: 'maint' | 'extmaint' = 'maint', waitSeconds = mode === 'maint' ? resourceWaitSecondsDefault : extMaintWaitSecondsDefault) =>
    ({ kind: 'resource-maint', resource: 'Disk H:', mode, on, waitSeconds });
  assert.deepEqual(cmd(['TestCluster', 'res', 'Disk H:', '/maint']), maint(null));
  assert.deepEqual(cmd(['.', 'res', 'Disk H:', '/maint:on']), maint(true));
  assert.deepEqual(cmd(['res', 'Disk H:', '/maint:1']), maint(true));
  assert.deepEqual(cmd(['res', 'Disk H:', '/MAINT:OFF']), maint(false));
  assert.deepEqual(cmd(['res', 'Disk H:', '--maint=0']), maint(false));
  assert.deepEqual(cmd(['res', 'Disk H:', '/maintenance:on']), maint(true));
  assert.deepEqual(cmd(['res', 'Disk H:', '/extmaint:1']), maint(true, 'extmaint'));
  assert.deepEqual(cmd(['res', 'Disk H:', '/extmaint:0']), maint(false, 'extmaint'));
  assert.deepEqual(cmd(['res', 'Disk H:', '/extmaint:1', '--no-wait']), maint(true, 'extmaint', 0));
  assert.deepEqual(cmd(['res', 'Disk H:', '/extmaint:1', '/wait:5']), maint(true, 'extmaint', 5));
  assert.deepEqual(cmd(['res', 'Disk H:', '/waitmaint']), { kind: 'resource-waitmaint', resource: 'Disk H:', waitSeconds: waitSecondsMax });
  assert.deepEqual(cmd(['res', 'Disk H:', '/waitmaint:30']), { kind: 'resource-waitmaint', resource: 'Disk H:', waitSeconds: 30 });
  assert.deepEqual(cmd(['res', 'Disk H:', '/waitmaintpending']), { kind: 'resource-waitmaint', resource: 'Disk H:', waitSeconds: waitSecondsMax });
  assert.equal(errorCode(['res', 'Disk H:', '/maint:maybe']), 'BAD_ARGUMENT');
  assert.equal(errorCode(['res', 'Disk H:', '/extmaint:2']), 'BAD_ARGUMENT');
  assert.equal(errorCode(['res', 'Disk H:', '/maint:on', '/extmaint:1']), 'BAD_ARGUMENT');
  assert.equal(errorCode(['res', 'Disk H:', '/waitmaint:soon']), 'BAD_ARGUMENT');
  assert.equal(errorCode(['res', '/maint:on']), 'BAD_ARGUMENT');
  assert.match(usageText('resource'), /\/extmaint\[:1\|0\]/);
});

test('backup: freeze, thaw, status, run with its command after --', () => {
  assert.deepEqual(cmd(['backup', 'freeze', 'web']), { kind: 'backup-freeze', target: 'web', limitMs: null, quiet: false });
  assert.deepEqual(cmd(['backup', 'freeze', 'Disk H:', '--timeout', '90s', '-q']), { kind: 'backup-freeze', target: 'Disk H:', limitMs: 90_000, quiet: true });
  assert.deepEqual(cmd(['.', 'backup', 'FREEZE', 'web', '/timeout:500ms']), { kind: 'backup-freeze', target: 'web', limitMs: 500, quiet: false });
  assert.deepEqual(cmd(['backup', 'thaw', '3f9a1c2e@n1']), { kind: 'backup-thaw', id: '3f9a1c2e@n1' });
  assert.deepEqual(cmd(['backup', 'status']), { kind: 'backup-status', id: null });
  assert.deepEqual(cmd(['backup', 'status', '3f9a1c2e@n1', '--json']), { kind: 'backup-status', id: '3f9a1c2e@n1' });
  assert.deepEqual(parsed(['backup', 'status', '--json']).options.json, true);
  // Everything after -- is the command as typed, switches and slashes included.
  assert.deepEqual(cmd(['backup', 'run', 'web', '--timeout', '2m', '--', 'lvcreate', '--snapshot', '-n', 'snap', '/dev/vg/data', '--json']),
    { kind: 'backup-run', target: 'web', limitMs: 120_000, argv: ['lvcreate', '--snapshot', '-n', 'snap', '/dev/vg/data', '--json'] });
  assert.deepEqual(cmd(['--json', 'backup', 'run', 'web', '--', 'true']), { kind: 'backup-run', target: 'web', limitMs: null, argv: ['true'] });
  assert.deepEqual(privValueOf('freezeCommand', '["/usr/bin/db-freeze","--all"]'), ['/usr/bin/db-freeze', '--all']);
});

test('backup: mistakes are BAD_ARGUMENT with the usage', () => {
  for (const argv of [
    ['backup'], ['backup', 'freeze'], ['backup', 'thaw'], ['backup', 'snapshot', 'web'], ['backup', 'freeze', 'web', 'extra'],
    ['backup', 'freeze', 'web', '--timeout', '60'], ['backup', 'freeze', 'web', '--timeout', 'soon'], ['backup', 'freeze', 'web', '--timeout'],
    ['backup', 'thaw', 'x@n1', '--timeout', '5s'], ['backup', 'run', 'web'], ['backup', 'run', 'web', '--'], ['backup', 'run', 'web', '-q', '--', 'true'],
    ['backup', 'freeze', 'web', '--', 'true'], ['group', 'web', '/online', '--', 'x'], ['backup', 'freeze', 'web', '/online'],
  ]) assert.equal(errorCode(argv), 'BAD_ARGUMENT', JSON.stringify(argv));
  const r = parseArgs(['backup', 'freeze', 'web', '--timeout', '60']);
  assert.ok(!r.ok && /give a unit, for example 60s/.test(r.error.message));
  assert.deepEqual(cmd(['backup', '/?']), { kind: 'help', topic: 'backup' });
  assert.match(usageText('backup'), /cluster backup run GROUP \[--timeout 60s\] -- COMMAND ARGS/);
  assert.match(usageText('main'), /cluster backup freeze GROUP\|RESOURCE/);
});

function privValueOf(key: string, raw: string): unknown {
  const r = privValue(key, raw);
  return r.ok ? r.value : r.error.code;
}

test('backup: the freeze limit out of range is refused by the parser (BAD_ARGUMENT), never sent to a node', () => {
  for (const t of ['11m', '601s', '600001ms', '1h', '99ms', '0s', '0ms']) {
    for (const verb of [['freeze', 'web'], ['run', 'web']]) {
      const argv = ['backup', ...verb, '--timeout', t, ...(verb[0] === 'run' ? ['--', 'true'] : [])];
      assert.equal(errorCode(argv), 'BAD_ARGUMENT', JSON.stringify(argv));
    }
  }
  const r = parseArgs(['backup', 'freeze', 'web', '--timeout', '11m']);
  assert.ok(!r.ok && r.error.hint !== undefined, 'the refusal says what to give instead');
  assert.deepEqual(cmd(['backup', 'freeze', 'web', '--timeout', '10m']), { kind: 'backup-freeze', target: 'web', limitMs: freezeLimitMsMax, quiet: false });
  assert.deepEqual(cmd(['backup', 'freeze', 'web', '/timeout:100ms']), { kind: 'backup-freeze', target: 'web', limitMs: freezeLimitMsMin, quiet: false });
});

test('backup freeze --timeout 11m: the command exits 2 with BAD_ARGUMENT before any request', async () => {
  let out = '';
  let err = '';
  let requests = 0;
  const io = {
    out: (x: string) => { out += x; }, err: (x: string) => { err += x; }, env: { CLUSTERD_ENDPOINT: 'http://127.0.0.1:1' },
    fetch: (async () => { requests++; throw new Error('no request expected'); }) as typeof fetch,
  };
  const code = await main(['backup', 'freeze', 'web', '--timeout', '11m'], io);
  assert.equal(code, exitUsage, err);
  assert.match(err, /error\[BAD_ARGUMENT\]/);
  assert.equal(requests, 0);
  assert.equal(out, '');
});
