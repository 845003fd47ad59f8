import { test } from 'node:test';
import assert from 'node:assert/strict';
import { liveNode, tryLines, type DemoNode, type DemoStatus } from './instructions.js';

const nodes = (pids: (number | undefined)[]): DemoNode[] =>
  pids.map((pid, i) => ({ name: `n${i + 1}`, endpoint: `http://127.0.0.1:${7401 + i}`, pid }));

const status = (coordinator: string | null, states: string[], owner: string | null): DemoStatus => ({
  coordinator, nodes: states.map((state, i) => ({ name: `n${i + 1}`, state })), groups: [{ name: 'web', node: owner, state: owner ? 'Online' : 'Pending' }],
});

test('before a failover: commands go to the coordinator, the move names another live node, kill names the owner', () => {
  const lines = tryLines(status('n1', ['Up', 'Up', 'Up'], 'n1'), nodes([101, 102, 103]), '/x/cluster.js', 'web');
  assert.match(lines.join('\n'), /CLUSTERD_ENDPOINT=http:\/\/127\.0\.0\.1:7401 node \/x\/cluster\.js group web \/move:n2/);
  assert.match(lines.join('\n'), /kill -9 101 /);
});

test('after kill -9 of n1: every command names a live node, never the dead one (Up in the status or not yet)', () => {
  for (const st of [
    status('n1', ['Up', 'Up', 'Up'], 'n1'), // its lease has not expired yet
    status('n2', ['Down', 'Up', 'Up'], 'n2'), // failed over
  ]) {
    const lines = tryLines(st, nodes([undefined, 102, 103]), '/x/cluster.js', 'web').join('\n');
    assert.doesNotMatch(lines, /:7401\b/, lines);
    assert.doesNotMatch(lines, /\/move:n1\b/, lines);
    assert.match(lines, /CLUSTERD_ENDPOINT=http:\/\/127\.0\.0\.1:740[23] /);
  }
  const after = tryLines(status('n2', ['Down', 'Up', 'Up'], 'n2'), nodes([undefined, 102, 103]), '/x/cluster.js', 'web').join('\n');
  assert.match(after, /CLUSTERD_ENDPOINT=http:\/\/127\.0\.0\.1:7402 .* group web \/move:n3/, 'the coordinator, and a move away from the owner');
  assert.match(after, /kill -9 102 /);
});

test('liveNode: the coordinator when alive, else another live node, else none', () => {
  assert.equal(liveNode(status('n3', ['Up', 'Up', 'Up'], 'n1'), nodes([1, 2, 3]))?.name, 'n3');
  assert.equal(liveNode(status('n3', ['Up', 'Up', 'Down'], 'n1'), nodes([1, 2, 3]))?.name, 'n1');
  assert.equal(liveNode(null, nodes([undefined, 2, 3]))?.name, 'n2');
  assert.equal(liveNode(null, nodes([undefined, undefined, undefined])), null);
  assert.match(tryLines(null, nodes([undefined, undefined, undefined]), '/x/cluster.js', 'web').join('\n'), /No clusterd node runs/);
});
