// Memory given back after a burst of work. Under load V8 commits heap pages for several times
// what is live (its limit grows with the allocation rate), and the memory outside the heap that
// JavaScript objects hold (buffers of requests, answers and streams) is freed only when a
// collection finds those objects dead. A node whose cycles keep allocating a little never looks
// idle enough to V8's own memory reducer: after `bench:memory`'s 15 s burst of API writes,
// clusterd kept 50-90 MiB more than before it (its heap committed 87-103 MiB for 25-39 MiB used).
// So clusterd looks every few seconds: once its loop is quiet again and what it has committed is
// well over twice what was live after its last collection, it runs one (gc(), a mark-compact that
// gives the pages it empties back). A collection that gave little back makes the next wait longer.
// The decisions are releaseDue's and nextSpacingMs's; the rest is the shell around V8.

import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Memory committed beyond what is live must reach this before a collection is worth running. Why 32 MiB: a tenth of a node under load, and several times what an idle node makes between V8's own collections. */
export const releaseSlackMinBytes = 32 * 1024 * 1024;
/**
 * Only while the event loop was busy less than this fraction of the last look's interval: during
 * a burst V8 collects by itself, and a collection of ours would only add a pause to the work.
 */
export const releaseBusyMax = 0.25;
/** At least this long between two collections of ours. Why 10 s: a mark-compact of a heap of a few tens of MiB costs 20-50 ms, so at most half a percent of a core. */
export const releaseSpacingMs = 10_000;
/** The wait after collections that gave little back doubles up to this: V8 may keep pages committed that no collection empties. */
export const releaseSpacingMaxMs = 320_000;
/** A collection that gave back less than this (committed bytes before, less after) counts as giving little back. */
export const releaseGainMinBytes = 8 * 1024 * 1024;
/**
 * A heap larger than this (garbage included) is left to V8: a mark-compact here takes about 1.5 ms
 * per MiB live (650 ms for 431 MiB, 345 ms for 208 MiB, measured), so ours holds the decision loop
 * at most about 200 ms, and only while it is quiet; the lease is renewed by its own thread meanwhile.
 */
export const releaseHeapMaxBytes = 128 * 1024 * 1024;

export interface HeapLook {
  /** Bytes the heap holds now, garbage included (V8's used_heap_size): what a mark-compact goes through. */
  heapBytes: number;
  /** Bytes the heap has committed (V8's total_heap_size) and the memory outside it held by JavaScript objects (external_memory). */
  committedBytes: number;
  /** Bytes in use, in the heap and outside it, after the last collection of ours, or at the first look. */
  liveBytes: number;
  /** Fraction of the interval since the last look the event loop was busy, 0 to 1. */
  busy: number;
  /** Milliseconds since the last collection of ours (Infinity before the first). */
  sinceReleaseMs: number;
  /** The wait due since the last collection (nextSpacingMs). */
  spacingMs: number;
}

/** Whether a full collection now gives memory back at a cost worth paying. */
export function releaseDue(h: HeapLook): boolean {
  const slack = h.committedBytes - h.liveBytes;
  return h.sinceReleaseMs >= h.spacingMs && h.busy < releaseBusyMax && h.heapBytes <= releaseHeapMaxBytes
    && slack >= releaseSlackMinBytes && slack >= h.liveBytes;
}

/** The wait before the next collection, after one that took committed memory from `before` to `after` bytes. */
export function nextSpacingMs(spacingMs: number, before: number, after: number): number {
  return before - after >= releaseGainMinBytes ? releaseSpacingMs : Math.min(spacingMs * 2, releaseSpacingMaxMs);
}

/** V8's gc(), without --expose-gc on the command line (clusterd runs as `node bin/clusterd.js`); null where this V8 does not give it. */
function v8Gc(): (() => void) | null {
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    return typeof gc === 'function' ? gc as () => void : null;
  } catch {
    return null;
  }
}

function heapNow(): { heapBytes: number; committedBytes: number; usedBytes: number } {
  const h = getHeapStatistics();
  return { heapBytes: h.used_heap_size, committedBytes: h.total_heap_size + h.external_memory, usedBytes: h.used_heap_size + h.external_memory };
}

export class MemoryRelease {
  /** Collections run so far (clusterd_memory_releases). */
  releases = 0;
  /** Bytes in use, in the heap and outside it, after the last collection of ours (clusterd_memory_live_bytes). */
  liveBytes: number;
  private spacingMs = releaseSpacingMs;
  private lastReleaseMs = -Infinity;
  private elu: EventLoopUtilization = performance.eventLoopUtilization();
  private readonly gc = v8Gc();

  constructor(private readonly nowMs: () => number) {
    this.liveBytes = heapNow().usedBytes;
  }

  /** Look once (every few seconds): collect when releaseDue says so. Returns whether it did. */
  look(): boolean {
    const elu = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(elu, this.elu).utilization;
    this.elu = elu;
    const now = this.nowMs();
    const before = heapNow();
    if (this.gc === null || !releaseDue({ ...before, liveBytes: this.liveBytes, busy, sinceReleaseMs: now - this.lastReleaseMs, spacingMs: this.spacingMs })) return false;
    this.gc();
    const after = heapNow();
    this.releases++;
    this.lastReleaseMs = now;
    this.liveBytes = after.usedBytes;
    this.spacingMs = nextSpacingMs(this.spacingMs, before.committedBytes, after.committedBytes);
    // The collection's own time is not the next interval's work.
    this.elu = performance.eventLoopUtilization();
    return true;
  }
}

/** The process's one MemoryRelease, once daemon/main.ts made it (read by /metrics). */
export let memoryRelease: MemoryRelease | null = null;

export function startMemoryRelease(nowMs: () => number): MemoryRelease {
  memoryRelease ??= new MemoryRelease(nowMs);
  return memoryRelease;
}
