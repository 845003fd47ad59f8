import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyUpdate, emptyConfig } from './config.js';
import { decideMove, moveRefused } from './move.js';
import { clusterError } from './errors.js';
import type { NodeView, PlacementInput } from './placement.js';
import type { ClusterConfig, ConfigUpdate } from './types.js';

function fold(updates: ConfigUpdate[]): ClusterConfig {
  let c = emptyConfig('c');
  for (const u of updates) {
    const r = applyUpdate(c, u);
    if (!r.ok) assert.fail(`${u.op}: ${r.error.code}`);
    c = r.value;
  }
  return c;
}

const cfg = fold([
  { op: 'node-add', node: 'n1' }, { op: 'node-add', node: 'n2' }, { op: 'node-add', node: 'n3' },
  { op: 'group-create', group: 'G' }, { op: 'group-create', group: 'P', possibleOwners: ['n1', 'n2'] },
]);
const up: NodeView = { state: 'Up', draining: false };
const input = (o: Partial<PlacementInput> = {}): PlacementInput => ({
  config: cfg, term: 3, wallMs: 1_000, wallHour: 12, nodes: { n1: up, n2: up, n3: up },
  ownership: { G: { group: 'G', node: 'n1', epoch: 1, term: 3, phase: 'run' }, P: { group: 'P', node: 'n1', epoch: 1, term: 3, phase: 'run' } },
  reports: {}, moveRequests: {}, failoverHistoryMs: {}, failoverHandledEpoch: {}, failedGroups: {}, ...o,
});
const summary = (d: ReturnType<typeof decideMove>) => (d.kind === 'refuse' ? `refuse ${d.error.code}` : `${d.kind} ${d.target}`);

test('move validation: group, target node, possible owner, Up, somewhere to go, writes accepted', () => {
  const full = { code: 'QUORUM_DISK_FULL', message: 'no space left' };
  const table: [string, PlacementInput, string, string | null, string][] = [
    ['to an Up node', input(), 'G', 'n2', 'move n2'],
    ['no such group', input(), 'X', 'n2', 'refuse GROUP_NOT_FOUND'],
    ['no such node', input(), 'G', 'n9', 'refuse NODE_NOT_FOUND'],
    ['not a possible owner', input(), 'P', 'n3', 'refuse NODE_NOT_POSSIBLE_OWNER'],
    ['target Paused', input({ nodes: { n1: up, n2: { state: 'Paused', draining: false }, n3: up } }), 'G', 'n2', 'refuse NODE_NOT_UP'],
    ['target Down', input({ nodes: { n1: up, n2: { state: 'Down', draining: false }, n3: up } }), 'G', 'n2', 'refuse NODE_NOT_UP'],
    ['to its owner: nothing to write', input(), 'G', 'n1', 'stay n1'],
    ['to its owner while writes are refused: still nothing to write', input({ writesBlocked: full }), 'G', 'n1', 'stay n1'],
    ['best other node', input(), 'P', null, 'move n2'],
    ['nowhere to go', input({ nodes: { n1: up, n2: { state: 'Down', draining: false }, n3: up } }), 'P', null, 'refuse NODE_NOT_UP'],
    ['quorum disk full', input({ writesBlocked: full }), 'G', 'n2', 'refuse QUORUM_DISK_FULL'],
  ];
  for (const [name, i, group, node, want] of table) assert.equal(summary(decideMove(i, group, node)), want, name);
});

test('a refused move keeps the store error code and says it is not remembered', () => {
  const e = moveRefused('G', 'n2', clusterError('QUORUM_DISK_FULL', 'disk full'));
  assert.equal(e.code, 'QUORUM_DISK_FULL');
  assert.match(e.message, /not remembered/);
  assert.match(e.hint ?? '', /free space/);
  assert.equal(moveRefused('G', 'n2', clusterError('TIMEOUT', 'slow', 'retry the move')).hint, 'retry the move');
});
