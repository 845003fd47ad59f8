import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigDraft, emptyConfig } from './config.js';
import { agentCheckTargets, agentCheckVerdict, mayNeedAgentCheck, planAgentCheck, type CheckNode } from './agent-check.js';
import type { ClusterConfig, ConfigUpdate } from './types.js';

function configOf(updates: ConfigUpdate[]): ClusterConfig {
  const d = new ConfigDraft(emptyConfig('c'));
  const r = d.applyAll(updates);
  assert.ok(r.ok, r.ok ? '' : r.error.message);
  return d.config;
}

const base: ConfigUpdate[] = [
  { op: 'node-add', node: 'n1' }, { op: 'node-add', node: 'n2' }, { op: 'node-add', node: 'n3' },
  { op: 'group-create', group: 'g' }, { op: 'group-create', group: 'h', possibleOwners: ['n1', 'n2'] },
  { op: 'resource-create', resource: 'a', group: 'g', type: 'ocf', priv: { agent: 'test:codes', params: { dir: '/x' } } },
  { op: 'resource-create', resource: 'b', group: 'h', type: 'lsb', priv: { script: 'demo' } },
  { op: 'resource-create', resource: 'p', group: 'g', type: 'process', priv: { command: '/bin/true' } },
];
const up: CheckNode = { state: 'Up', apiUrl: 'http://x' };

test('targets: created and priv-changed agent resources, and every agent resource of a group whose possible owners change', () => {
  const c = configOf(base);
  assert.deepEqual(agentCheckTargets(c, base), ['a', 'b']);
  assert.deepEqual(agentCheckTargets(c, [{ op: 'resource-set', resource: 'a', props: { restartThreshold: 1 } }]), []);
  assert.deepEqual(agentCheckTargets(c, [{ op: 'resource-set', resource: 'a', priv: { agent: 'test:other' } }]), ['a']);
  assert.deepEqual(agentCheckTargets(c, [{ op: 'group-set', group: 'h', possibleOwners: ['n1', 'n2', 'n3'] }]), ['b']);
  assert.deepEqual(agentCheckTargets(c, [{ op: 'group-set', group: 'g', failoverThreshold: 3 }]), []);
});

test('mayNeedAgentCheck: false only for batches whose targets are empty, so that skipping the fold skips no check', () => {
  const c = configOf(base);
  const cases: [ConfigUpdate[], boolean][] = [
    [[{ op: 'group-create', group: 'x' }], false],
    [[{ op: 'group-set', group: 'g', failoverThreshold: 3 }], false],
    [[{ op: 'resource-set', resource: 'a', props: { restartThreshold: 1 } }], false],
    [[{ op: 'resource-create', resource: 'q', group: 'g', type: 'process', priv: { command: '/bin/true' } }], false],
    [[{ op: 'resource-set', resource: 'p', priv: { command: '/bin/false' } }], false],
    [[{ op: 'resource-create', resource: 'o', group: 'g', type: 'ocf', priv: { agent: 'test:codes' } }], true],
    [[{ op: 'resource-set', resource: 'a', priv: { agent: 'test:other' } }], true],
    [[{ op: 'group-create', group: 'y', possibleOwners: ['n1'] }], true],
    [[{ op: 'group-set', group: 'h', possibleOwners: ['n1', 'n2', 'n3'] }], true],
  ];
  for (const [updates, may] of cases) {
    assert.equal(mayNeedAgentCheck(c, updates), may, JSON.stringify(updates));
    const d = new ConfigDraft(c);
    assert.ok(d.applyAll(updates).ok);
    if (!may) assert.deepEqual(agentCheckTargets(d.config, updates), [], JSON.stringify(updates));
  }
});

test('plan: each possible owner (all nodes when unrestricted); the coordinator itself, Up owners asked, the others skipped with why', () => {
  const c = configOf(base);
  const plan = planAgentCheck(c, ['a', 'b'], 'n1', { n1: up, n2: { state: 'Up', apiUrl: 'http://n2' }, n3: { state: 'Down', apiUrl: null } });
  assert.deepEqual(plan.owners, { a: ['n1', 'n2', 'n3'], b: ['n1', 'n2'] });
  assert.deepEqual(plan.local, ['a', 'b']);
  assert.deepEqual(plan.remote, [{ node: 'n2', apiUrl: 'http://n2', resources: ['a', 'b'] }]);
  assert.deepEqual(plan.skipped, [{ node: 'n3', reason: 'n3 is Down' }]);
  // The coordinator is not a possible owner of b: it does not check it.
  const other = planAgentCheck(c, ['b'], 'n3', { n1: up, n2: up, n3: up });
  assert.deepEqual(other.local, []);
  assert.deepEqual(other.remote.map((r) => r.node), ['n1', 'n2']);
});

test('verdict: every owner\'s problem at once, with the node; one code when they share it, AGENT_CHECK_REFUSED when not', () => {
  const c = configOf(base);
  const plan = planAgentCheck(c, ['a'], 'n1', { n1: up, n2: up, n3: up });
  const ok = agentCheckVerdict(plan, [{ node: 'n1', checks: { a: { monitorIntervalMs: 1000 } } }, { node: 'n2', checks: { a: {} } }, { node: 'n3', checks: { a: {} } }]);
  assert.equal(ok.error, null);
  assert.deepEqual(ok.monitorIntervalsMs, { a: 1000 });
  const missing = { code: 'AGENT_NOT_FOUND' as const, message: 'not installed' };
  const one = agentCheckVerdict(plan, [{ node: 'n1', checks: { a: {} } }, { node: 'n3', checks: { a: { problem: missing } } }, { node: 'n2', checks: { a: { problem: missing } } }]);
  assert.equal(one.error?.code, 'AGENT_NOT_FOUND');
  assert.match(one.error!.message, /refused on 2 of its 3 possible owners: AGENT_NOT_FOUND on n2: not installed; AGENT_NOT_FOUND on n3: not installed/);
  assert.match(one.error!.hint ?? '', /cluster group g \/prop possibleOwners=/);
  assert.equal(one.error?.path, 'resources.a.priv');
  const mixed = agentCheckVerdict(plan, [{ node: 'n2', checks: { a: { problem: { code: 'AGENT_INVALID', message: 'bad' } } } }, { node: 'n3', checks: { a: { problem: missing } } }]);
  assert.equal(mixed.error?.code, 'AGENT_CHECK_REFUSED');
  assert.match(mixed.error!.message, /AGENT_INVALID on n2: bad; AGENT_NOT_FOUND on n3/);
});

test('verdict: an owner that could not be asked does not refuse the save; it is named, in the refusal too', () => {
  const c = configOf(base);
  const plan = planAgentCheck(c, ['a'], 'n1', { n1: up, n2: up, n3: { state: 'Joining', apiUrl: null } });
  const v = agentCheckVerdict(plan, [{ node: 'n1', checks: { a: {} } }, { node: 'n2', unreachable: 'ENDPOINT_UNREACHABLE: timed out' }]);
  assert.equal(v.error, null);
  assert.deepEqual(v.skipped.map((s) => s.node), ['n2', 'n3']);
  const refused = agentCheckVerdict(plan, [{ node: 'n1', checks: { a: { problem: { code: 'AGENT_NOT_FOUND', message: 'gone' } } } }, { node: 'n2', unreachable: 'timed out' }]);
  assert.match(refused.error!.message, /not checked: n2 could not be asked: timed out; n3 is Joining/);
});
