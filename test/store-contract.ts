// The semantics every quorum-store backend must have, tested through the QuorumStore interface
// only, so that the same tests run against `dir` now and `etcd` later. `makeStores` returns two
// or more stores on one fresh, empty cluster location (none initialized or opened yet), each
// standing for a different node.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClusterConfig, ConfigUpdate } from '../src/core/types.js';
import type { ErrorCode } from '../src/core/errors.js';
import { logReadMax } from '../src/core/limits.js';
import type { NewEvent, NodeReport, OwnershipRecord, QuorumStore, StoreResult } from '../src/store/types.js';
import { openLeaseRenewer } from '../src/store/lease-renewer.js';

export type MakeStores = () => Promise<{ stores: QuorumStore[]; cleanup: () => Promise<void> }>;

/** A generous bound for a wake-up hint to arrive: the test fails instead of hanging, it times nothing. */
const changeWaitMs = 10_000;

export function value<T>(result: StoreResult<T>): T {
  if (!result.ok) assert.fail(`expected success, got ${result.error.format()}`);
  return result.value;
}

export function errorCode(result: StoreResult<unknown>): ErrorCode {
  if (result.ok) assert.fail(`expected a failure, got ${JSON.stringify(result.value)}`);
  return result.error.code;
}

/** Runs `body` on an initialized cluster: stores[0] created it, the others opened it. */
async function withCluster(makeStores: MakeStores, body: (stores: [QuorumStore, QuorumStore, ...QuorumStore[]]) => Promise<void>): Promise<void> {
  const { stores, cleanup } = await makeStores();
  try {
    assert.ok(stores.length >= 2, 'makeStores gives at least two stores');
    const [a, b] = stores as [QuorumStore, QuorumStore];
    value(await a.init('contract', 1_000));
    for (const s of stores.slice(1)) value(await s.open());
    await body([a, b, ...stores.slice(2)]);
  } finally {
    for (const s of stores) await s.close();
    await cleanup();
  }
}

/** Makes `node` coordinator through `store` for the next term; returns the term. */
async function elect(store: QuorumStore, node: string): Promise<number> {
  const current = await store.readCoordinator();
  const term = current.term + 1;
  assert.equal(value(await store.casCoordinator(current, { term, node })), true, `${node} wins term ${term}`);
  return term;
}

const nodeAdd = (node: string): ConfigUpdate => ({ op: 'node-add', node });

function ownership(group: string, node: string | null, epoch: number, term: number): OwnershipRecord {
  return { group, node, epoch, term, phase: 'run' };
}

function report(node: string, version: number): NodeReport {
  return {
    node, incarnation: `inc-${node}`, version, apiUrl: `http://127.0.0.1:70${version}`, appliedSeq: version,
    groups: { web: { epoch: 3, released: false, resources: { ip: { state: 'Online', restarts: 0, pid: 42 } } } },
  };
}

function event(node: string, i: number, data?: Record<string, unknown>): NewEvent {
  const e: NewEvent = { wallMs: 1_000 + i, node, event: 'NODE_UP', level: 'info', message: `event ${i}` };
  if (data) e.data = data;
  return e;
}

function emptyConfig(name: string): ClusterConfig {
  return { name, nodes: {}, groups: {}, resources: {} };
}

/**
 * A configuration's content, whatever its tables' prototype: the real stores hand back
 * null-prototype tables (core/table.ts), the simulator's twin the objects it was given.
 */
function content(c: ClusterConfig | undefined): unknown {
  return c === undefined ? undefined : JSON.parse(JSON.stringify(c));
}

export function runStoreContract(name: string, makeStores: MakeStores): void {
  const inCluster = (title: string, body: Parameters<typeof withCluster>[1]): void => {
    test(`${name}: ${title}`, () => withCluster(makeStores, body));
  };

  test(`${name}: init creates an empty cluster that the other nodes open`, async () => {
    const { stores, cleanup } = await makeStores();
    const [a, b] = stores as [QuorumStore, QuorumStore];
    try {
      assert.equal(errorCode(await b.open()), 'CLUSTER_NOT_FOUND');
      value(await a.init('alpha', 1_000));
      assert.deepEqual(value(await b.open()), { clusterName: 'alpha' });
      assert.equal(errorCode(await b.init('beta', 2_000)), 'CLUSTER_EXISTS');
      assert.deepEqual(await b.readCoordinator(), { term: 0, node: null });
      assert.equal(await b.logHead(), 0);
      const checkpoint = value(await b.readCheckpoint());
      assert.equal(checkpoint?.seq, 0);
      assert.deepEqual(content(checkpoint?.config), emptyConfig('alpha'));
      assert.deepEqual(value(await b.readLog(0, 10)), []);
      assert.deepEqual(await b.readOwnership(), []);
      assert.deepEqual(await b.readReports(), []);
      assert.deepEqual(await b.readEvents(0, 10), []);
      assert.deepEqual(await b.readLeases(), []);
    } finally {
      for (const s of stores) await s.close();
      await cleanup();
    }
  });

  inCluster('of two candidates racing for one term exactly one wins', async ([a, b]) => {
    const start = { term: 0, node: null };
    const results = await Promise.all([a.casCoordinator(start, { term: 1, node: 'n1' }), b.casCoordinator(start, { term: 1, node: 'n2' })]);
    const wins = results.map(value);
    assert.equal(wins.filter(Boolean).length, 1);
    const winner = { term: 1, node: wins[0] ? 'n1' : 'n2' };
    assert.deepEqual(await a.readCoordinator(), winner);
    assert.deepEqual(await b.readCoordinator(), winner);
  });

  inCluster('an election succeeds only from the current record to the next term', async ([a, b]) => {
    await elect(a, 'n1');
    const now = { term: 1, node: 'n1' };
    assert.equal(value(await b.casCoordinator({ term: 0, node: null }, { term: 1, node: 'n2' })), false, 'stale expected');
    assert.equal(value(await b.casCoordinator({ term: 1, node: 'n2' }, { term: 2, node: 'n2' })), false, 'wrong node');
    assert.equal(value(await b.casCoordinator(now, { term: 3, node: 'n2' })), false, 'term skips one');
    assert.equal(value(await b.casCoordinator(now, { term: 1, node: 'n2' })), false, 'term does not grow');
    assert.deepEqual(await b.readCoordinator(), now);
    assert.equal(value(await b.casCoordinator(now, { term: 2, node: 'n2' })), true);
    assert.equal(value(await a.casCoordinator({ term: 2, node: 'n2' }, { term: 3, node: null })), true, 'a release');
    assert.deepEqual(await a.readCoordinator(), { term: 3, node: null });
  });

  inCluster('ownership is written only under the current term', async ([a, b]) => {
    const term1 = await elect(a, 'n1');
    value(await a.writeOwnership(term1, [ownership('web', 'n1', 1, term1), ownership('db', 'n2', 1, term1)]));
    assert.deepEqual(await b.readOwnership(), [ownership('db', 'n2', 1, term1), ownership('web', 'n1', 1, term1)]);
    const term2 = await elect(b, 'n2');
    assert.equal(errorCode(await a.writeOwnership(term1, [ownership('web', 'n3', 2, term1)])), 'STALE_TERM');
    assert.equal(errorCode(await a.writeOwnership(term2 + 1, [ownership('web', 'n3', 2, term2 + 1)])), 'STALE_TERM');
    assert.deepEqual((await b.readOwnership()).map((r) => r.node), ['n2', 'n1'], 'nothing of a rejected write lands');
    value(await b.writeOwnership(term2, [{ ...ownership('web', 'n2', 2, term2), phase: 'stop' }], ['db']));
    assert.deepEqual(await a.readOwnership(), [{ ...ownership('web', 'n2', 2, term2), phase: 'stop' }]);
  });

  inCluster('a record\'s books travel with it: read back as written, replaced by the next write, dropped with the record', async ([a, b]) => {
    const term = await elect(a, 'n1');
    const books = { failoversWallMs: [1_000, 2_000], countedEpoch: 1, failedEpoch: 2, moveTo: null };
    value(await a.writeOwnership(term, [{ ...ownership('web', 'n1', 2, term), books }, ownership('db', 'n2', 1, term)]));
    assert.deepEqual(await b.readOwnership(), [ownership('db', 'n2', 1, term), { ...ownership('web', 'n1', 2, term), books }]);
    value(await b.writeOwnership(term, [{ ...ownership('web', 'n1', 2, term), books: { moveTo: 'n3' } }]));
    assert.deepEqual((await a.readOwnership()).find((r) => r.group === 'web')?.books, { moveTo: 'n3' });
    value(await b.writeOwnership(term, [ownership('web', 'n3', 3, term)]));
    assert.deepEqual((await a.readOwnership()).find((r) => r.group === 'web'), ownership('web', 'n3', 3, term));
  });

  inCluster('the quorum log numbers records after the expected head', async ([a, b]) => {
    const term = await elect(a, 'n1');
    const records = value(await a.appendLog(term, 0, [nodeAdd('n1'), nodeAdd('n2')]));
    assert.deepEqual(records.map((r) => [r.seq, r.term, r.update]), [[1, term, nodeAdd('n1')], [2, term, nodeAdd('n2')]]);
    assert.equal(await b.logHead(), 2);
    assert.deepEqual(value(await b.readLog(0, 10)), records);
    assert.deepEqual(value(await b.readLog(1, 10)), records.slice(1));
    assert.deepEqual(value(await b.readLog(0, 1)), records.slice(0, 1));
    assert.deepEqual(value(await b.readLog(2, 10)), []);
    assert.equal(errorCode(await a.appendLog(term, 1, [nodeAdd('n3')])), 'SEQ_CONFLICT');
    assert.equal(errorCode(await a.appendLog(term, 5, [nodeAdd('n3')])), 'SEQ_CONFLICT');
    assert.equal(await b.logHead(), 2);
    const more = value(await b.appendLog(term, 2, [nodeAdd('n3')]));
    assert.equal(more[0]?.seq, 3);
  });

  inCluster('a deposed coordinator cannot append to the log', async ([a, b]) => {
    const term1 = await elect(a, 'n1');
    value(await a.appendLog(term1, 0, [nodeAdd('n1')]));
    const term2 = await elect(b, 'n2');
    assert.equal(errorCode(await a.appendLog(term1, 1, [nodeAdd('n9')])), 'STALE_TERM');
    assert.equal(await b.logHead(), 1);
    const next = value(await b.appendLog(term2, 1, [nodeAdd('n2')]));
    assert.deepEqual(next.map((r) => [r.seq, r.term]), [[2, term2]]);
  });

  inCluster('of two appends racing on one head exactly one lands', async ([a, b]) => {
    const term = await elect(a, 'n1');
    const results = await Promise.all([a.appendLog(term, 0, [nodeAdd('from-a')]), b.appendLog(term, 0, [nodeAdd('from-b')])]);
    const landed = results.filter((r) => r.ok);
    assert.equal(landed.length, 1);
    assert.equal(errorCode(results.find((r) => !r.ok) as StoreResult<unknown>), 'SEQ_CONFLICT');
    assert.equal(await a.logHead(), 1);
    assert.deepEqual(value(await b.readLog(0, 10)), value(landed[0] as StoreResult<unknown>));
  });

  inCluster('a checkpoint folds the log and the log goes on after it', async ([a, b]) => {
    const term = await elect(a, 'n1');
    value(await a.appendLog(term, 0, [nodeAdd('n1'), nodeAdd('n2'), nodeAdd('n3')]));
    const config: ClusterConfig = { ...emptyConfig('contract'), nodes: { n1: { name: 'n1', paused: false }, n2: { name: 'n2', paused: true } } };
    const checkpoint = value(await a.writeCheckpoint(term, 2, config));
    assert.deepEqual([checkpoint.seq, checkpoint.term, content(checkpoint.config)], [2, term, config]);
    const again = value(await b.readCheckpoint());
    assert.deepEqual({ ...again, config: content(again?.config) }, { ...checkpoint, config: content(checkpoint.config) });
    assert.deepEqual(value(await b.readLog(2, 10)).map((r) => r.seq), [3]);
    assert.equal(errorCode(await b.readLog(0, 10)), 'SEQ_CONFLICT', 'records folded into the checkpoint are never skipped silently');
    assert.equal(errorCode(await a.writeCheckpoint(term, 4, config)), 'SEQ_CONFLICT', 'beyond the head');
    assert.equal(errorCode(await a.writeCheckpoint(term, 1, config)), 'SEQ_CONFLICT', 'older than the checkpoint');
    value(await a.writeCheckpoint(term, 3, config));
    assert.equal(await b.logHead(), 3, 'the head stays at the checkpoint when the log is empty');
    assert.deepEqual(value(await b.readLog(3, 10)), []);
    assert.deepEqual(value(await b.appendLog(term, 3, [nodeAdd('n4')])).map((r) => r.seq), [4]);
    const term2 = await elect(b, 'n2');
    assert.equal(errorCode(await a.writeCheckpoint(term, 4, config)), 'STALE_TERM');
    assert.equal(value(await b.readCheckpoint())?.seq, 3);
    assert.equal(value(await b.writeCheckpoint(term2, 4, config)).term, term2);
  });

  inCluster('every node reads every lease', async ([a, b]) => {
    value(await a.claimLeaseSlot('n1', 'inc-a'));
    value(await b.claimLeaseSlot('n2', 'inc-b'));
    value(await a.renewLease('n1', 5, 'running'));
    value(await b.renewLease('n2', 7, 'draining'));
    const expected = [
      { node: 'n1', counter: 5, state: 'running', incarnation: 'inc-a' },
      { node: 'n2', counter: 7, state: 'draining', incarnation: 'inc-b' },
    ];
    for (const s of [a, b]) assert.deepEqual(sortByNode(await s.readLeases()), expected);
    value(await b.renewLease('n2', 8, 'stopped'));
    assert.deepEqual((await a.readLeases()).find((l) => l.node === 'n2'), { node: 'n2', counter: 8, state: 'stopped', incarnation: 'inc-b' });
    assert.equal(errorCode(await a.renewLease('never-claimed', 1, 'running')), 'BAD_ARGUMENT');
  });

  inCluster('a restarted node claims its slot again with a new incarnation', async ([a, b]) => {
    value(await a.claimLeaseSlot('n1', 'first'));
    value(await a.renewLease('n1', 9, 'running'));
    value(await b.claimLeaseSlot('n1', 'second'));
    assert.deepEqual(await a.readLeases(), [{ node: 'n1', counter: 0, state: 'running', incarnation: 'second' }]);
    value(await b.renewLease('n1', 1, 'running'));
    assert.deepEqual(await a.readLeases(), [{ node: 'n1', counter: 1, state: 'running', incarnation: 'second' }]);
  });

  inCluster('an evicted node leaves the leases and its slot is reused', async ([a, b]) => {
    for (const n of ['n1', 'n2', 'n3']) value(await a.claimLeaseSlot(n, `inc-${n}`));
    value(await b.removeLeaseSlot('n2'));
    value(await b.removeLeaseSlot('n2'));
    assert.deepEqual(sortByNode(await a.readLeases()).map((l) => l.node), ['n1', 'n3']);
    value(await b.claimLeaseSlot('n4', 'inc-n4'));
    assert.deepEqual(sortByNode(await a.readLeases()).map((l) => l.node), ['n1', 'n3', 'n4']);
  });

  inCluster('a node\'s floor in its lease slot only rises, every node reads it, and it outlives renewals, a new claim, an eviction and a rebuild', async ([a, b]) => {
    const floors = async (s: QuorumStore) => {
      const r = value(await s.readLeaseFloors());
      assert.deepEqual(r.unreadable, []);
      return r.floors.map((f) => [f.floor.term, f.floor.epoch]).sort((x, y) => x[0]! - y[0]! || x[1]! - y[1]!);
    };
    value(await a.claimLeaseSlot('n1', 'inc-a'));
    value(await b.claimLeaseSlot('n2', 'inc-b'));
    assert.deepEqual(await floors(a), [], 'no floor recorded yet');
    assert.equal(errorCode(await a.raiseLeaseFloor('never-claimed', { term: 1, epoch: 1 })), 'BAD_ARGUMENT');
    const version = await a.changeVersion();
    value(await a.raiseLeaseFloor('n1', { term: 5, epoch: 3 }));
    value(await b.raiseLeaseFloor('n2', { term: 2, epoch: 9 }));
    assert.equal(await b.changeVersion(), version, 'recording a floor wakes nobody');
    assert.deepEqual(await floors(b), [[2, 9], [5, 3]]);
    // Term and epoch each rise on their own, never fall.
    value(await a.raiseLeaseFloor('n1', { term: 4, epoch: 7 }));
    value(await a.raiseLeaseFloor('n1', { term: 1, epoch: 1 }));
    assert.deepEqual(await floors(b), [[2, 9], [5, 7]]);
    // Renewals, also through a lease renewer on its own connection, write the lease only.
    value(await a.renewLease('n1', 6, 'running'));
    const renewerOptions = a.leaseRenewerOptions?.('n1') ?? null;
    if (renewerOptions) {
      const renewer = await openLeaseRenewer(renewerOptions);
      try {
        assert.equal((await renewer.renew(7, 'draining')).ok, true);
      } finally {
        await renewer.close();
      }
    }
    value(await a.claimLeaseSlot('n1', 'inc-a2'));
    value(await a.removeLeaseSlot('n2'));
    assert.deepEqual(await floors(b), [[2, 9], [5, 7]], 'renewals, a new claim and an eviction keep the floors');
    value(await a.raiseLeaseFloor('n1', { term: 8, epoch: 7 }));
    assert.deepEqual(await floors(b), [[2, 9], [8, 7]]);
    if (a.rebuildDamaged) {
      value(await a.rebuildDamaged('contract', 2_000));
      assert.deepEqual(await floors(a), [[2, 9], [8, 7]], 'a rebuilt database keeps the floors');
    }
  });

  inCluster('many nodes hold distinct slots', async (stores) => {
    const names = Array.from({ length: 40 }, (_, i) => `node-${String(i).padStart(2, '0')}`);
    for (const [i, n] of names.entries()) value(await stores[i % stores.length]!.claimLeaseSlot(n, `inc-${i}`));
    for (const [i, n] of names.entries()) value(await stores[i % stores.length]!.renewLease(n, 100 + i, 'running'));
    const leases = sortByNode(await stores[0].readLeases());
    assert.deepEqual(leases.map((l) => [l.node, l.counter, l.incarnation]), names.map((n, i) => [n, 100 + i, `inc-${i}`]));
  });

  inCluster('a node report replaces that node\'s previous one', async ([a, b]) => {
    value(await a.writeReport(report('n1', 1)));
    value(await b.writeReport(report('n2', 1)));
    value(await a.writeReport(report('n1', 2)));
    assert.deepEqual(sortByNode(await b.readReports()), [report('n1', 2), report('n2', 1)]);
  });

  inCluster('events get growing ids and are read after an id', async ([a, b]) => {
    value(await a.appendEvents([event('n1', 1, { group: 'web', epoch: 3 }), event('n1', 2), event('n1', 3)]));
    value(await b.appendEvents([event('n2', 4), event('n2', 5)]));
    value(await b.appendEvents([]));
    const all = await a.readEvents(0, 100);
    assert.deepEqual(all.map((e) => e.message), ['event 1', 'event 2', 'event 3', 'event 4', 'event 5']);
    assert.ok(all.every((e, i) => i === 0 || e.id > all[i - 1]!.id), 'ids grow');
    const { id: _id, ...first } = all[0]!;
    assert.deepEqual(first, event('n1', 1, { group: 'web', epoch: 3 }));
    assert.equal('data' in all[1]!, false, 'an event without data reads back without data');
    assert.deepEqual((await b.readEvents(all[1]!.id, 2)).map((e) => e.message), ['event 3', 'event 4']);
  });

  inCluster('one read answers at most logReadMax records, so that a page of that many means more may follow', async ([a, b]) => {
    const term = await elect(a, 'n1');
    const count = logReadMax + 3;
    value(await a.appendLog(term, 0, Array.from({ length: count }, (_, i) => nodeAdd(`n${i}`))));
    const first = value(await b.readLog(0, count));
    assert.equal(first.length, logReadMax, 'asked for more than the bound: answers the bound');
    assert.deepEqual(value(await b.readLog(first[first.length - 1]!.seq, count)).map((r) => r.seq), [count - 2, count - 1, count]);
  });

  inCluster('the change version moves on every write but lease renewals', async ([a, b]) => {
    let last = await b.changeVersion();
    const moved = async (what: string, expectMove: boolean): Promise<void> => {
      const now = await b.changeVersion();
      if (expectMove) assert.ok(now > last, `${what} moves the change version (${last} -> ${now})`);
      else assert.equal(now, last, `${what} leaves the change version`);
      last = now;
    };
    value(await a.claimLeaseSlot('n1', 'inc'));
    await moved('claimLeaseSlot', true);
    value(await a.renewLease('n1', 1, 'running'));
    await moved('renewLease', false);
    const term = await elect(a, 'n1');
    await moved('casCoordinator', true);
    assert.equal(value(await a.casCoordinator({ term: 0, node: null }, { term: 1, node: 'x' })), false);
    await moved('a lost casCoordinator', false);
    value(await a.writeOwnership(term, [ownership('web', 'n1', 1, term)]));
    await moved('writeOwnership', true);
    assert.equal(errorCode(await a.writeOwnership(term + 1, [])), 'STALE_TERM');
    await moved('a rejected writeOwnership', false);
    value(await a.appendLog(term, 0, [nodeAdd('n1')]));
    await moved('appendLog', true);
    assert.equal(errorCode(await a.appendLog(term, 0, [nodeAdd('n1')])), 'SEQ_CONFLICT');
    await moved('a rejected appendLog', false);
    value(await a.writeCheckpoint(term, 1, emptyConfig('contract')));
    await moved('writeCheckpoint', true);
    value(await a.writeReport(report('n1', 1)));
    await moved('writeReport', true);
    value(await a.appendEvents([event('n1', 1)]));
    await moved('appendEvents', true);
    value(await a.removeLeaseSlot('n1'));
    await moved('removeLeaseSlot', true);
  });

  inCluster('onChange wakes a subscriber when another node writes', async ([a, b]) => {
    let calls = 0;
    let wake: () => void = () => undefined;
    const woken = new Promise<void>((resolve) => { wake = resolve; });
    const unsubscribe = b.onChange(() => {
      calls++;
      wake();
    });
    value(await a.writeReport(report('n1', 1)));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no change notification within ${changeWaitMs} ms`)), changeWaitMs);
    });
    try {
      await Promise.race([woken, timeout]);
    } finally {
      clearTimeout(timer);
    }
    assert.ok(calls >= 1);
    unsubscribe();
    unsubscribe();
  });

  inCluster('a closed store opens again and finds everything', async ([a, b]) => {
    const term = await elect(a, 'n1');
    const records = value(await a.appendLog(term, 0, [nodeAdd('n1')]));
    value(await a.writeOwnership(term, [ownership('web', 'n1', 1, term)]));
    value(await a.claimLeaseSlot('n1', 'inc'));
    await a.close();
    await a.close();
    assert.deepEqual(value(await a.open()), { clusterName: 'contract' });
    assert.deepEqual(await a.readCoordinator(), { term, node: 'n1' });
    assert.deepEqual(value(await a.readLog(0, 10)), records);
    assert.deepEqual(await a.readOwnership(), [ownership('web', 'n1', 1, term)]);
    assert.deepEqual((await b.readLeases()).map((l) => l.node), ['n1']);
    value(await a.claimLeaseSlot('n1', 'inc2'));
    value(await a.renewLease('n1', 3, 'running'));
    assert.deepEqual(await b.readLeases(), [{ node: 'n1', counter: 3, state: 'running', incarnation: 'inc2' }]);
  });
}

function sortByNode<T extends { node: string }>(items: T[]): T[] {
  return [...items].sort((x, y) => (x.node < y.node ? -1 : x.node > y.node ? 1 : 0));
}
