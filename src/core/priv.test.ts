// Private properties are validated when they are saved, by the parser the agent uses: the values
// that used to be saved and then fail at start-up (user -1, env with NUL, no command, ...) are
// refused by the coordinator's commit (a saving ConfigDraft) and by apply's plan, every problem at once.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { planApply } from './apply.js';
import { applyUpdate, ConfigDraft, emptyConfig } from './config.js';
import type { Result } from './errors.js';
import { parseDiskPriv } from './disk-priv.js';
import { privCheckers, privProblems } from './priv.js';
import { parseProcessPriv, processDefaultCwd, substituteNodeValues } from './process-priv.js';
import type { ClusterConfig, ConfigUpdate, PrivProps } from './types.js';

function must<T>(r: Result<T>): T {
  if (!r.ok) assert.fail(`expected ok, got ${r.error.code}: ${r.error.message}`);
  return r.value;
}

function base(): ClusterConfig {
  let c = emptyConfig('c');
  for (const u of [
    { op: 'node-add', node: 'n1' },
    { op: 'group-create', group: 'web' },
    { op: 'resource-create', resource: 'app', group: 'web', type: 'process', priv: { command: '/bin/true' } },
  ] as ConfigUpdate[]) c = must(applyUpdate(c, u));
  return c;
}

const saving = (c: ClusterConfig, u: ConfigUpdate) => new ConfigDraft(c, { saving: true }).apply(u);
const create = (priv: PrivProps, type: 'process' | 'disk' = 'process'): ConfigUpdate => ({ op: 'resource-create', resource: 'r', group: 'web', type, priv });

const badProcess: [string, PrivProps][] = [
  ['no command', {}],
  ['empty command', { command: '' }],
  ['user -1', { command: '/bin/true', user: -1 }],
  ['user 1.5', { command: '/bin/true', user: 1.5 }],
  ['user with a space', { command: '/bin/true', user: 'a b' }],
  ['env with NUL', { command: '/bin/true', env: ['A=b\0c'] }],
  ['env without =', { command: '/bin/true', env: ['AB'] }],
  ['env as a string', { command: '/bin/true', env: 'A=b' }],
  ['args as a string', { command: '/bin/true', args: '-x' }],
  ['relative cwd', { command: '/bin/true', cwd: 'srv' }],
  ['probeTimeoutMs -1', { command: '/bin/true', probeTimeoutMs: -1 }],
  ['probeTimeoutMs a day', { command: '/bin/true', probeTimeoutMs: 86_400_000 }],
  ['probe ftp', { command: '/bin/true', probe: 'ftp://x' }],
  ['probe tcp without port', { command: '/bin/true', probe: 'tcp:host' }],
  ['misspelled key', { command: '/bin/true', prbe: 'tcp:127.0.0.1:80' }],
  ['unknown ${...} in args', { command: '/bin/true', args: ['--bind', '${HOST_IP}'] }],
  ['unknown ${...} in an env value', { command: '/bin/true', env: ['ADDR=${CLUSTERD_NODE_ADRESS}'] }],
  ['unknown ${...} in the probe', { command: '/bin/true', probe: 'tcp:${NODE_IP}:80' }],
  ['unknown ${...} in cwd', { command: '/bin/true', cwd: '/srv/${HOSTNAME}' }],
  ['${ without }', { command: '/bin/true', args: ['${CLUSTERD_NODE_NAME'] }],
];

describe('priv: process', () => {
  for (const [what, priv] of badProcess) {
    test(`${what}: refused when saved (create, set, apply), accepted by the plain fold (replay)`, () => {
      const c = base();
      const r = saving(c, create(priv));
      assert.equal(r.ok, false, what);
      if (!r.ok) assert.equal(r.error.code, 'BAD_PROPERTY');
      if (Object.keys(priv).length > 0) assert.equal(saving(c, { op: 'resource-set', resource: 'app', priv }).ok, false, `${what} (set)`);
      const plan = planApply(c, { groups: { web: { resources: { r: { type: 'process', priv } } } } });
      assert.equal(plan.ok, false, `${what} (apply)`);
      if (!plan.ok) assert.match(plan.error.path ?? '', /^groups\.web\.resources\.r\.priv\./);
      assert.equal(applyUpdate(c, create(priv)).ok, true, 'a record already in the log still replays');
    });
  }

  test('every problem is reported at once', () => {
    const problems = privProblems('process', { user: -1, env: ['x'], cwd: 'rel', probe: 'ftp://x', prvi: 1 });
    assert.deepEqual(problems.map((p) => p.key).sort(), ['command', 'cwd', 'env', 'probe', 'prvi', 'user']);
    const r = saving(base(), create({ user: -1, env: ['x'] }));
    assert.ok(!r.ok && /3 problems/.test(r.error.message), r.ok ? '' : r.error.message);
  });

  test('valid properties parse as the agent runs them; cwd defaults to /, never clusterd\'s directory', () => {
    const p = parseProcessPriv({ command: '/usr/bin/app', args: ['-p', '80'], env: ['A=1', 'B=x=y'], user: 'www-data', probe: 'http://127.0.0.1:80/health', probeTimeoutMs: 500 });
    assert.ok(p.ok);
    assert.equal(p.value.cwd, processDefaultCwd);
    assert.equal(processDefaultCwd, '/');
    assert.equal(p.value.probe?.kind, 'http');
    const uid = parseProcessPriv({ command: 'x', user: 0 });
    assert.ok(uid.ok && uid.value.user === 0);
    const uidText = parseProcessPriv({ command: 'x', user: '1000' });
    assert.ok(uidText.ok && uidText.value.user === 1000);
    assert.equal(saving(base(), create({ command: '/bin/true', freezeSignal: 'SIGSTOP', cwd: '/srv' })).ok, true);
  });
});

describe('priv: disk', () => {
  for (const [what, priv] of [
    ['nothing', {}],
    ['relative path', { path: 'srv' }],
    ['path and device', { path: '/a', device: '/dev/sdb', fstype: 'ext4', mountPoint: '/m' }],
    ['device without fstype', { device: '/dev/sdb', mountPoint: '/m' }],
    ['minFreeMb -1', { path: '/a', minFreeMb: -1 }],
    ['unknown key', { path: '/a', mountpoint: '/m' }],
  ] as [string, PrivProps][]) {
    test(`${what}: refused when saved`, () => {
      assert.equal(saving(base(), create(priv, 'disk')).ok, false);
    });
  }
  test('valid disks parse', () => {
    assert.ok(parseDiskPriv({ path: '/srv/data/' }).ok);
    const d = parseDiskPriv({ device: '/dev/sdb1', fstype: 'ext4', mountPoint: '/mnt/x', freeze: 'fsfreeze' });
    assert.ok(d.ok && d.value.root === '/mnt/x');
  });
});

test('the registry has a checker for each type that has an agent', () => {
  assert.ok(privCheckers.has('process'));
  assert.ok(privCheckers.has('disk'));
});

describe('priv: process node values', () => {
  const values = { CLUSTERD_NODE_NAME: 'node-b', CLUSTERD_NODE_ADDRESS: '10.0.0.2' };
  const priv = {
    command: '/usr/bin/app', args: ['--bind', '${CLUSTERD_NODE_ADDRESS}:80', '--id=${CLUSTERD_NODE_NAME}', 'literal $${CLUSTERD_NODE_NAME}'],
    env: ['SELF=${CLUSTERD_NODE_NAME}@${CLUSTERD_NODE_ADDRESS}', 'PLAIN=x'], probe: 'http://${CLUSTERD_NODE_ADDRESS}:8080/health', cwd: '/srv/${CLUSTERD_NODE_NAME}',
  };

  test('the starting node\'s name and address replace them in args, env values, probe and cwd; $${...} stays literal', () => {
    const p = parseProcessPriv(priv, values);
    assert.ok(p.ok, p.ok ? '' : JSON.stringify(p.problems));
    assert.deepEqual(p.value.args, ['--bind', '10.0.0.2:80', '--id=node-b', 'literal ${CLUSTERD_NODE_NAME}']);
    assert.deepEqual(p.value.env, ['SELF=node-b@10.0.0.2', 'PLAIN=x']);
    assert.equal(p.value.cwd, '/srv/node-b');
    assert.equal(p.value.probe?.kind === 'http' ? p.value.probe.url.host : '', '10.0.0.2:8080');
    assert.equal(p.value.command, '/usr/bin/app', 'the command is not substituted');
  });

  test('saved as written: known names pass the check at save time, the configuration keeps the placeholders', () => {
    must(saving(base(), create(priv)));
    const c = must(applyUpdate(base(), create(priv)));
    assert.deepEqual(c.resources.r?.priv.args, priv.args);
    assert.deepEqual(privProblems('process', priv), []);
  });

  test('an unknown name is refused naming the property and the known names; a node with no address refuses to start it', () => {
    const problems = privProblems('process', { command: '/bin/true', args: ['${HOST_IP}'] });
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.key, 'args');
    assert.match(problems[0]!.message, /\$\{HOST_IP\}, which is not a node value.*CLUSTERD_NODE_NAME.*CLUSTERD_NODE_ADDRESS/);
    const r = parseProcessPriv({ command: '/bin/true', probe: 'tcp:${CLUSTERD_NODE_ADDRESS}:80' }, { CLUSTERD_NODE_NAME: 'n1', CLUSTERD_NODE_ADDRESS: undefined });
    assert.ok(!r.ok && /address is not known.*--listen/.test(r.problems[0]!.message));
    assert.deepEqual(substituteNodeValues('a $ b $x ${CLUSTERD_NODE_NAME}}', values), { ok: true, value: 'a $ b $x node-b}' });
  });
});
