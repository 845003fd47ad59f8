// The body depth check: one pass over the bytes, brackets inside strings (and escaped quotes)
// do not count, and a 100,000-deep body is measured without recursion.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsonDeeperThan } from './http.js';

const bytes = (s: string) => Buffer.from(s, 'utf8');

test('depth counts nesting of objects and lists, not brackets inside strings', () => {
  assert.equal(jsonDeeperThan(bytes('{"a":[1,{"b":[]}]}'), 4), false);
  assert.equal(jsonDeeperThan(bytes('{"a":[1,{"b":[]}]}'), 3), true);
  assert.equal(jsonDeeperThan(bytes('{"a":"[[[[[[{{{{"}'), 1), false);
  assert.equal(jsonDeeperThan(bytes('{"a":"\\"[[[[\\\\"}'), 1), false, 'escaped quotes and backslashes keep the string open or closed as JSON does');
  assert.equal(jsonDeeperThan(bytes('{"é[":"ü{"}'), 1), false, 'multi-byte characters are not brackets');
});

test('a 100,000-deep body is found too deep in one pass', () => {
  const n = 100_000;
  assert.equal(jsonDeeperThan(bytes('['.repeat(n) + ']'.repeat(n)), 32), true);
  assert.equal(jsonDeeperThan(bytes('[]'.repeat(n)), 32), false);
});
