// node/memory-release.ts: when clusterd runs a full collection of its own to give memory back.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getHeapStatistics } from 'node:v8';
import { MemoryRelease, nextSpacingMs, releaseBusyMax, releaseDue, releaseGainMinBytes, releaseHeapMaxBytes, releaseSlackMinBytes, releaseSpacingMaxMs, releaseSpacingMs, type HeapLook } from './memory-release.js';

const MiB = 1024 * 1024;
/** bench:memory's n1 15 s after its burst: 103 MiB committed for 39 used, 25 live after the last collection. */
const quietAfterBurst: HeapLook = { heapBytes: 39 * MiB, committedBytes: 107 * MiB, liveBytes: 29 * MiB, busy: 0.05, sinceReleaseMs: Infinity, spacingMs: releaseSpacingMs };

test('after a burst, once the loop is quiet, memory committed well over twice what was live is given back', () => {
  assert.equal(releaseDue(quietAfterBurst), true);
});

test('no collection while the loop is busy, before the wait is over, or of a heap too large to collect in a short pause', () => {
  assert.equal(releaseDue({ ...quietAfterBurst, busy: releaseBusyMax }), false);
  assert.equal(releaseDue({ ...quietAfterBurst, sinceReleaseMs: releaseSpacingMs - 1 }), false);
  assert.equal(releaseDue({ ...quietAfterBurst, sinceReleaseMs: releaseSpacingMs }), true);
  assert.equal(releaseDue({ ...quietAfterBurst, sinceReleaseMs: releaseSpacingMs, spacingMs: 4 * releaseSpacingMs }), false);
  assert.equal(releaseDue({ ...quietAfterBurst, heapBytes: releaseHeapMaxBytes + 1, committedBytes: 3 * releaseHeapMaxBytes }), false);
  // Outside the heap, memory costs a mark-compact nothing: only the heap's size bounds the pause.
  assert.equal(releaseDue({ ...quietAfterBurst, heapBytes: 100 * MiB, committedBytes: 3 * releaseHeapMaxBytes }), true);
});

test('no collection for a slack that is small, in bytes or beside what is live', () => {
  // Less than releaseSlackMinBytes: an idle node has that much between V8's own collections.
  assert.equal(releaseDue({ ...quietAfterBurst, liveBytes: 10 * MiB, committedBytes: 10 * MiB + releaseSlackMinBytes - 1 }), false);
  assert.equal(releaseDue({ ...quietAfterBurst, liveBytes: 10 * MiB, committedBytes: 10 * MiB + releaseSlackMinBytes }), true);
  // A large live heap: slack under its size is V8's to manage.
  assert.equal(releaseDue({ ...quietAfterBurst, liveBytes: 100 * MiB, committedBytes: 199 * MiB }), false);
  assert.equal(releaseDue({ ...quietAfterBurst, liveBytes: 100 * MiB, committedBytes: 200 * MiB }), true);
});

test('a collection that gave little back doubles the wait for the next, up to its bound; one that gave back much resets it', () => {
  assert.equal(nextSpacingMs(releaseSpacingMs, 100 * MiB, 100 * MiB - releaseGainMinBytes + 1), 2 * releaseSpacingMs);
  assert.equal(nextSpacingMs(releaseSpacingMaxMs, 100 * MiB, 100 * MiB), releaseSpacingMaxMs);
  assert.equal(nextSpacingMs(8 * releaseSpacingMs, 100 * MiB, 100 * MiB - releaseGainMinBytes), releaseSpacingMs);
  let wait = releaseSpacingMs;
  for (let i = 0; i < 20; i++) wait = nextSpacingMs(wait, 50 * MiB, 50 * MiB);
  assert.equal(wait, releaseSpacingMaxMs);
});

test('in this process: no collection while the loop was busy; once it is quiet, one, which gives back the pages of what was dropped; then none before the wait is over', async () => {
  let now = 0;
  const m = new MemoryRelease(() => now);
  // About 50 MiB made, held through a look (so that it is promoted and its pages committed), then dropped.
  let held: string[] = [];
  for (let i = 0; i < 200_000; i++) held.push(`${i} `.repeat(40));
  now = releaseSpacingMs;
  assert.equal(m.look(), false, 'the loop was busy since the last look');
  assert.equal(held.length, 200_000);
  held = [];
  // Quiet intervals of the loop: on a loaded host a look may still find it busy (it then waits for the next).
  let released = false;
  let committed = 0;
  for (let i = 0; i < 40 && !released; i++) {
    await new Promise((r) => setTimeout(r, 300));
    committed = getHeapStatistics().total_heap_size + getHeapStatistics().external_memory;
    released = m.look();
  }
  assert.equal(released, true, `quiet, with ${committed} bytes committed, ${m.liveBytes} live`);
  assert.equal(m.releases, 1);
  const after = getHeapStatistics().total_heap_size + getHeapStatistics().external_memory;
  assert.ok(after <= committed - releaseSlackMinBytes, `the pages of what was dropped are given back: ${committed} bytes committed before, ${after} after`);
  await new Promise((r) => setTimeout(r, 300));
  now += releaseSpacingMs - 1;
  assert.equal(m.look(), false, 'no second collection before the wait is over');
});
