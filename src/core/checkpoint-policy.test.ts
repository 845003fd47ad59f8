import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkpointDue, checkpointingDefaults, electionCheckpointReason, localCopyDue, newlyStopped, type CheckpointFacts } from './checkpoint-policy.js';

const c = { logResetBytes: 1000, checkpointIntervalMs: 60_000 };
const facts = (o: Partial<CheckpointFacts> = {}): CheckpointFacts =>
  ({ nowMs: 100_000, lastCheckpointMs: 90_000, logBytesSinceCheckpoint: 0, lastCheckpointBytes: 0, newlyStopped: [], damagedLogReported: false, damageFound: null, ...o });
const summary = (d: ReturnType<typeof checkpointDue>) => (d === null ? 'none' : `${d.repair ? 'repair: ' : ''}${d.reason}`);

test('checkpoint triggers: first match wins, nothing due on a quiet cycle', () => {
  const table: [string, CheckpointFacts, string][] = [
    ['quiet', facts(), 'none'],
    ['log below the reset size', facts({ logBytesSinceCheckpoint: 999 }), 'none'],
    ['log at the reset size', facts({ logBytesSinceCheckpoint: 1000 }), 'the log passed its reset size of 1000 bytes'],
    ['interval just short', facts({ nowMs: 149_999 }), 'none'],
    ['interval reached', facts({ nowMs: 150_000 }), 'checkpoint interval of 60000 ms'],
    ['a node stopped', facts({ newlyStopped: ['b', 'c'] }), 'clusterd stopped on b, c'],
    ['damaged log reported', facts({ damagedLogReported: true }), 'repair: a node reported a damaged quorum log: rewriting it from the coordinator\'s current copy'],
    ['size wins over a stop', facts({ logBytesSinceCheckpoint: 5000, newlyStopped: ['b'] }), 'the log passed its reset size of 1000 bytes'],
    ['a stop wins over a damaged log', facts({ newlyStopped: ['b'], damagedLogReported: true }), 'clusterd stopped on b'],
    ['interval wins over damage', facts({ nowMs: 200_000, damagedLogReported: true }), 'checkpoint interval of 60000 ms'],
    ['damage found by the coordinator wins over everything', facts({ damageFound: 'quorum log record seq 21 is corrupt', logBytesSinceCheckpoint: 5000, newlyStopped: ['b'] }),
      'repair: the coordinator\'s check of the quorum store found damage (quorum log record seq 21 is corrupt): rewriting it from the coordinator\'s current copy'],
    ['a small checkpoint: the reset size counts', facts({ logBytesSinceCheckpoint: 1000, lastCheckpointBytes: 999 }), 'the log passed its reset size of 1000 bytes'],
    ['below a large checkpoint\'s size', facts({ logBytesSinceCheckpoint: 4999, lastCheckpointBytes: 5000 }), 'none'],
    ['at a large checkpoint\'s size', facts({ logBytesSinceCheckpoint: 5000, lastCheckpointBytes: 5000 }), 'the log passed the size of the last checkpoint (5000 bytes, above the reset size of 1000)'],
  ];
  for (const [name, f, want] of table) assert.equal(summary(checkpointDue(f, c)), want, name);
});

test('election checkpoint: the first term forms the cluster, a later one takes over', () => {
  assert.equal(electionCheckpointReason(0), 'the cluster formed');
  assert.equal(electionCheckpointReason(7), 'a new coordinator took over');
});

test('newly stopped nodes and the local copy trigger', () => {
  assert.deepEqual(newlyStopped(['a', 'b'], new Set(['a'])), ['b']);
  assert.deepEqual(newlyStopped([], new Set(['a'])), []);
  assert.equal(localCopyDue(64 * 1024 - 1, 0, checkpointingDefaults), false);
  assert.equal(localCopyDue(64 * 1024, 0, checkpointingDefaults), true);
  // A copy whose checkpoint is 5 MB (20,000 groups) is appended to until its log is as large.
  assert.equal(localCopyDue(64 * 1024, 5_000_000, checkpointingDefaults), false);
  assert.equal(localCopyDue(5_000_000, 5_000_000, checkpointingDefaults), true);
});
