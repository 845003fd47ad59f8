import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startAfter } from './event-stream.js';

test('a stream starts after Last-Event-ID when there is one, else after ?after, else at the start', () => {
  assert.equal(startAfter(undefined, undefined), 0);
  assert.equal(startAfter(undefined, '17'), 17);
  assert.equal(startAfter('42', '17'), 42);
  assert.equal(startAfter(['42', '43'], undefined), 42);
  assert.equal(startAfter('', '17'), 17);
  assert.equal(startAfter('junk', '17'), 17);
  assert.equal(startAfter('-3', 'x'), 0);
  assert.equal(startAfter(undefined, '1.5'), 0);
});
