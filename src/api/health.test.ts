import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readiness } from './health.js';
import type { NodeSnapshot } from '../node/snapshot.js';

const base = { name: 'n1', ready: true, stopped: false, nodes: { n1: { state: 'Up', draining: false } }, monoMs: 10_000, lastRenewOkMs: 9_900, leaseTtlMs: 1_500 };
const snap = (over: Record<string, unknown>) => ({ ...base, ...over }) as unknown as NodeSnapshot;
const failed = (over: Record<string, unknown>) => Object.entries(readiness(snap(over))).filter(([, c]) => !c.ok).map(([k]) => k);

test('ready: started, joined (Up or Paused) and a lease renewal younger than the TTL', () => {
  assert.deepEqual(failed({}), []);
  assert.deepEqual(failed({ nodes: { n1: { state: 'Paused', draining: false } } }), []);
});

test('not ready: before the first store read, while joining, stopping, or with the store out of reach', () => {
  assert.deepEqual(failed({ ready: false, nodes: {}, lastRenewOkMs: -Infinity }), ['started', 'joined', 'store']);
  assert.deepEqual(failed({ nodes: { n1: { state: 'Joining', draining: false } } }), ['joined']);
  assert.deepEqual(failed({ stopped: true }), ['started']);
  assert.deepEqual(failed({ lastRenewOkMs: 8_000 }), ['store']);
});
