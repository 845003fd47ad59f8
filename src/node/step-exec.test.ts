// node/step-exec.ts carries out a Step in the order core/step.ts writes on the type, and the
// follow-up (3b) comes only after a durable ownership write: a group the coordinator placed on
// itself is started in the same cycle, from the records read back.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LocalAction } from '../core/local.js';
import type { Step } from '../core/step.js';
import { executeStep, type StepExecDeps } from './step-exec.js';

const event = (message: string): LocalAction => ({ kind: 'event', event: 'GROUP_ASSIGNED', level: 'info', message });

function step(coordinator: boolean): Step {
  const none = { register: [], floor: null, ownership: null };
  if (!coordinator) return { monitor: [event('planned')], persist: none, settle: null, checkpoint: false };
  return {
    monitor: [event('planned')],
    persist: { register: [], floor: { term: 2, epoch: 1 }, ownership: { term: 2, records: [{ group: 'G', node: 'n1', epoch: 1, term: 2, phase: 'run' }], deleted: [] } },
    settle: { carried: { moves: {}, cleared: [] }, settled: [], notes: [] },
    checkpoint: true,
  };
}

/** The deps, recording each call in order; `durable`: what persist answers. */
function recorder(durable: boolean): { deps: StepExecDeps; calls: string[] } {
  const calls: string[] = [];
  const deps: StepExecDeps = {
    monitor: (a) => { calls.push(`monitor:${a.map((x) => (x.kind === 'event' ? x.message : x.kind)).join(',')}`); },
    checkBackups: () => { calls.push('backups'); },
    persist: async () => { calls.push('persist'); await Promise.resolve(); calls.push('persisted'); return durable; },
    followUp: () => { calls.push('follow-up planned'); return [event('follow-up')]; },
    maybeCheckpoint: async () => { calls.push('checkpoint'); },
    publish: async () => { calls.push('publish'); },
    flushEvents: () => { calls.push('events'); },
  };
  return { deps, calls };
}

test('a durable ownership write is followed, before the checkpoint and the report, by a local step planned from the records read back', async () => {
  const { deps, calls } = recorder(true);
  await executeStep(deps, step(true), []);
  assert.deepEqual(calls, [
    'monitor:planned', 'backups', 'persist', 'persisted',
    'follow-up planned', 'monitor:follow-up', 'backups',
    'checkpoint', 'publish', 'events',
  ]);
});

test('a refused write has no follow-up: the next cycle plans again from the same facts', async () => {
  const { deps, calls } = recorder(false);
  await executeStep(deps, step(true), []);
  assert.deepEqual(calls, ['monitor:planned', 'backups', 'persist', 'persisted', 'checkpoint', 'publish', 'events']);
});

test('a step of a node that is not coordinator: monitor, report, events only', async () => {
  const { deps, calls } = recorder(true);
  await executeStep(deps, step(false), []);
  assert.deepEqual(calls, ['monitor:planned', 'backups', 'publish', 'events']);
});
