// The event registry (events.ts): names are UPPER_SNAKE, each has its level(s), and names that
// arrive as data are checked against it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { conditionKeys, eventRegistry, isEventName } from './events.js';

test('every registered event is UPPER_SNAKE with at least one level, and no condition key is also a plain event', () => {
  for (const [name, levels] of Object.entries(eventRegistry)) {
    assert.match(name, /^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$/, name);
    assert.ok(levels.length > 0, name);
  }
  for (const k of conditionKeys) assert.ok(!Object.hasOwn(eventRegistry, k), k);
});

test('isEventName knows the registry, the condition keys and their _RECOVERED ends, and nothing else', () => {
  assert.equal(isEventName('GROUP_MOVED'), true);
  assert.equal(isEventName('QUORUM_DISK_FULL'), true);
  assert.equal(isEventName('QUORUM_DISK_FULL_RECOVERED'), true);
  assert.equal(isEventName('GROUP_MOVED_RECOVERED'), false);
  assert.equal(isEventName('NOT_AN_EVENT'), false);
  assert.equal(isEventName('toString'), false);
});
