// `cluster apply -f FILE` with a YAML "billion laughs" (aliases of aliases that expand
// exponentially): refused as a problem of the file, not thrown as a bug.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatProblem, loadApplyFile } from './apply-file.js';

/** Nine levels of nine aliases to the level before: 9^9 strings once expanded, ~500 bytes of text. */
function aliasBomb(): string {
  const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
  for (let i = 1; i < 9; i++) {
    const name = String.fromCharCode(97 + i);
    lines.push(`${name}: &${name} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
  }
  lines.push('groups: {}');
  return lines.join('\n');
}

test('an alias bomb is a BAD_CONFIG problem of the file, found without expanding it', () => {
  const r = loadApplyFile(aliasBomb());
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.problems.length, 1);
  assert.equal(r.problems[0]!.code, 'BAD_CONFIG');
  assert.match(formatProblem('bomb.yaml', r.problems[0]!), /^bomb\.yaml:\d+:\d+: .*alias/i);
});

test('a few aliases are still fine', () => {
  const r = loadApplyFile('owners: &o [n1, n2]\ngroups:\n  web:\n    preferredOwners: *o\n');
  // The unknown top-level key is a problem; the aliases are not.
  assert.equal(r.ok, false);
  if (!r.ok) assert.ok(r.problems.every((p) => !/alias/i.test(p.message)), JSON.stringify(r.problems));
});
