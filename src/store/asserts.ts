// Argument checks shared by every quorum-store backend: a malformed argument is a bug in the
// caller, so these are assertions (they crash), not errors returned to an operator.

import assert from 'node:assert/strict';
import type { CoordinatorRecord, OwnershipRecord } from './types.js';

export function assertTerm(term: number): void {
  assert.ok(Number.isSafeInteger(term) && term >= 0, `term ${term} must be an integer >= 0`);
}

export function assertSeq(seq: number): void {
  assert.ok(Number.isSafeInteger(seq) && seq >= 0, `seq ${seq} must be an integer >= 0`);
}

export function assertCoordinator(c: CoordinatorRecord): void {
  assertTerm(c.term);
  assert.ok(c.node === null || (typeof c.node === 'string' && c.node !== ''), `coordinator node ${String(c.node)} must be a name or null`);
}

export function assertOwnership(r: OwnershipRecord): void {
  assert.ok(typeof r.group === 'string' && r.group !== '', 'an ownership record names its group');
  assert.ok(r.node === null || (typeof r.node === 'string' && r.node !== ''), `ownership node ${String(r.node)} must be a name or null`);
  assert.ok(Number.isSafeInteger(r.epoch) && r.epoch >= 0, `epoch ${r.epoch} must be an integer >= 0`);
  assertTerm(r.term);
  assert.ok(r.phase === 'run' || r.phase === 'stop', `ownership phase ${String(r.phase)} must be run or stop`);
}
