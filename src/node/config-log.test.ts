// node/config-log.ts group commit: batches that follow each other yield the event loop once the
// work since the last yield passed a slice (node/slices.ts). With a synchronous store (dir) each
// append resolves at once, so without this a run of batches is one long turn: each copies the
// tables it changes (20-45 ms for 40,000 groups), and answers, reads and cycles wait behind all of them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyConfig } from '../core/config.js';
import { ok } from '../core/errors.js';
import type { ConfigUpdate } from '../core/types.js';
import type { Clock } from './clock.js';
import { ConfigLog } from './config-log.js';
import type { Shell } from './shell.js';
import { workSliceMs } from './slices.js';

interface Harness { log: ConfigLog; clock: Clock & { at: number }; trace: string[]; onAppend: (u: ConfigUpdate[]) => void }

function harness(): Harness {
  const trace: string[] = [];
  const timers: (() => void)[] = [];
  const clock = {
    at: 0,
    nowMs: () => clock.at, wallMs: () => clock.at, localHour: () => 12,
    setInterval: () => () => {},
    // A yield: recorded, then run on a real macrotask turn.
    setTimeout: (fn: () => void) => { trace.push('yield'); timers.push(fn); setImmediate(() => timers.shift()!()); return () => {}; },
  };
  let seq = 0;
  const h: Harness = { log: null as never, clock, trace, onAppend: () => {} };
  const store = {
    readLog: async () => ok([]),
    logHead: async () => seq,
    // A synchronous store: the append is done before its promise is looked at.
    appendLog: async (term: number, _base: number, updates: ConfigUpdate[]) => {
      trace.push(`append ${updates.map((u) => (u as { group: string }).group).join(',')}`);
      h.onAppend(updates);
      return ok(updates.map((update) => ({ seq: ++seq, term, update })));
    },
  };
  const shell = {
    o: { clock, store, freezeSnapshots: false },
    name: 'n1',
    problems: { wrote: <T>(r: T) => r },
    emitEvent: () => {},
    isCoordinator: () => true,
    coordinator: () => ({ term: 1, node: 'n1' }),
    kick: () => {},
    markDirty: () => {},
  } as unknown as Shell;
  h.log = new ConfigLog(shell);
  h.log.useBase(0, { ...emptyConfig('t'), nodes: Object.assign(Object.create(null) as object, { n1: {} }) } as never);
  return h;
}

const create = (group: string): ConfigUpdate[] => [{ op: 'group-create', group }];

test('a batch that follows a long one waits for a turn of the event loop; one that follows a short one does not', async () => {
  const h = harness();
  const later: Promise<unknown>[] = [];
  // While the first batch is appended, two more changes arrive; the first batch took a whole slice.
  h.onAppend = (u) => {
    if ((u[0] as { group: string }).group !== 'a') return;
    h.clock.at += workSliceMs + 5;
    later.push(h.log.commit(create('b')), h.log.commit(create('c')));
  };
  const a = await h.log.commit(create('a'));
  assert.equal(a.ok, true);
  const rest = await Promise.all(later);
  assert.deepEqual(rest.map((r) => (r as { ok: boolean }).ok), [true, true]);
  assert.deepEqual(h.trace, ['append a', 'yield', 'append b,c']);
  assert.deepEqual(Object.keys(h.log.config.groups), ['a', 'b', 'c']);

  // Batches that took no time follow each other without a yield.
  const quick = harness();
  const quickLater: Promise<unknown>[] = [];
  quick.onAppend = (u) => { if ((u[0] as { group: string }).group === 'a') quickLater.push(quick.log.commit(create('b'))); };
  await quick.log.commit(create('a'));
  await Promise.all(quickLater);
  assert.deepEqual(quick.trace, ['append a', 'append b']);
});
