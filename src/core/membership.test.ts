// Unit tests of membership: liveness judged on the observer's own clock from lease counters.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isAlive, judgeNodes, nodeState, nodeStateNotes, observeLeases, type LeaseObservation, type LeaseStateView, type Membership } from './membership.js';

const TTL = 1_400;
const lease = (counter: number, state: LeaseStateView = 'running', incarnation = 'i1', node = 'n1'): LeaseObservation => ({ node, counter, state, incarnation });

describe('membership: leases', () => {
  test('a node seen for the first time is alive from that moment', () => {
    const m = observeLeases({}, [lease(5)], 1_000);
    assert.deepEqual(m.n1, { counter: 5, state: 'running', incarnation: 'i1', lastChangeMs: 1_000 });
    assert.equal(isAlive(m, 'n1', 1_000, TTL), true);
    assert.equal(isAlive(m, 'n1', 1_000 + TTL - 1, TTL), true);
    assert.equal(isAlive(m, 'n2', 1_000, TTL), false, 'never seen: not alive');
  });

  test('a moving counter keeps the node alive indefinitely', () => {
    let m: Membership = {};
    for (let i = 0; i < 100; i++) {
      const now = i * 1_000; // slower than the heartbeat, faster than the TTL
      m = observeLeases(m, [lease(i)], now);
      assert.equal(isAlive(m, 'n1', now + 999, TTL), true, `at ${now}`);
    }
  });

  test('a counter that does not move for the TTL: Down (measured from when it last moved here)', () => {
    let m = observeLeases({}, [lease(1)], 0);
    m = observeLeases(m, [lease(2)], 500);
    for (const t of [600, 1_000, 1_500, 1_899]) {
      m = observeLeases(m, [lease(2)], t);
      assert.equal(m.n1!.lastChangeMs, 500, 'unchanged counter: the time of the last change stays');
      assert.equal(isAlive(m, 'n1', t, TTL), true, `at ${t}`);
    }
    m = observeLeases(m, [lease(2)], 1_900);
    assert.equal(isAlive(m, 'n1', 1_900, TTL), false, 'exactly TTL after the last change');
    assert.equal(isAlive(m, 'n1', 10_000, TTL), false);
    // It moves again: alive again.
    m = observeLeases(m, [lease(3)], 10_000);
    assert.equal(isAlive(m, 'n1', 10_000, TTL), true);
  });

  test('a counter going backwards counts as movement (it changed)', () => {
    let m = observeLeases({}, [lease(9)], 0);
    m = observeLeases(m, [lease(1)], 1_000);
    assert.equal(m.n1!.lastChangeMs, 1_000);
  });

  test('stopped or fenced: Down at once, whatever the counter does', () => {
    for (const state of ['stopped', 'fenced'] as LeaseStateView[]) {
      let m = observeLeases({}, [lease(1)], 0);
      m = observeLeases(m, [lease(2, state)], 100);
      assert.equal(isAlive(m, 'n1', 100, TTL), false, state);
      m = observeLeases(m, [lease(3, state)], 200);
      assert.equal(isAlive(m, 'n1', 200, TTL), false, state);
    }
    const m = observeLeases({}, [lease(1, 'draining')], 0);
    assert.equal(isAlive(m, 'n1', 0, TTL), true, 'draining is alive');
  });

  test('a new incarnation with the same counter counts as movement', () => {
    let m = observeLeases({}, [lease(7, 'running', 'old')], 0);
    m = observeLeases(m, [lease(7, 'running', 'old')], 1_000);
    assert.equal(m.n1!.lastChangeMs, 0);
    m = observeLeases(m, [lease(7, 'running', 'new')], 1_300);
    assert.equal(m.n1!.lastChangeMs, 1_300);
    assert.equal(m.n1!.incarnation, 'new');
    assert.equal(isAlive(m, 'n1', 2_000, TTL), true);
  });

  test('nodes are judged independently; a lease no longer listed is forgotten', () => {
    let m = observeLeases({}, [lease(1, 'running', 'a', 'n1'), lease(1, 'running', 'b', 'n2')], 0);
    m = observeLeases(m, [lease(2, 'running', 'a', 'n1'), lease(1, 'running', 'b', 'n2')], 1_000);
    assert.equal(isAlive(m, 'n1', 1_500, TTL), true);
    assert.equal(isAlive(m, 'n2', 1_500, TTL), false);
    m = observeLeases(m, [lease(3, 'running', 'a', 'n1')], 1_600);
    assert.deepEqual(Object.keys(m), ['n1']);
    assert.equal(isAlive(m, 'n2', 1_600, TTL), false);
  });

  test('observeLeases does not modify the previous view', () => {
    const m0 = Object.freeze({ n1: Object.freeze({ counter: 1, state: 'running' as const, incarnation: 'i', lastChangeMs: 0 }) });
    const m1 = observeLeases(m0, [lease(2, 'running', 'i')], 50);
    assert.equal(m0.n1.counter, 1);
    assert.equal(m1.n1!.counter, 2);
  });

  test('alive iff the counter moved within the TTL (fast-check)', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 3_000 }), fc.boolean()), { minLength: 1, maxLength: 30 }), (steps) => {
      let m: Membership = {};
      let now = 0;
      let counter = 0;
      let lastMove = 0;
      m = observeLeases(m, [lease(counter)], now);
      for (const [dt, moves] of steps) {
        now += dt;
        if (moves) { counter++; lastMove = now; }
        m = observeLeases(m, [lease(counter)], now);
        assert.equal(isAlive(m, 'n1', now, TTL), now - lastMove < TTL);
      }
    }));
  });
});

describe('membership: nodeState', () => {
  test('Down, Joining, Paused, Up', () => {
    const s = (alive: boolean, reported: boolean, paused: boolean, draining: boolean) => nodeState({ alive, reported, paused, draining });
    assert.equal(s(false, true, false, false), 'Down');
    assert.equal(s(false, true, true, true), 'Down', 'Down wins over everything');
    assert.equal(s(true, false, false, false), 'Joining');
    assert.equal(s(true, false, true, false), 'Joining', 'no report yet: Joining even if paused');
    assert.equal(s(true, true, true, false), 'Paused');
    assert.equal(s(true, true, false, true), 'Paused', 'a draining node shows Paused');
    assert.equal(s(true, true, false, false), 'Up');
  });
});

test('judgeNodes: judged at the given time; a stale view shows Joining instead of Down', () => {
  const m = observeLeases({}, [{ node: 'a', counter: 1, state: 'running', incarnation: 'i' }, { node: 'b', counter: 1, state: 'stopped', incarnation: 'j' }], 0);
  const cfg = { a: {}, b: {}, c: { paused: true } };
  const fresh = judgeNodes(m, cfg, (n) => n === 'a', { atMs: 100, leaseTtlMs: 1_000, staleView: false });
  assert.deepEqual(fresh, { a: { state: 'Up', draining: false }, b: { state: 'Down', draining: false }, c: { state: 'Down', draining: false } });
  assert.equal(judgeNodes(m, cfg, () => true, { atMs: 1_000, leaseTtlMs: 1_000, staleView: false }).a!.state, 'Down', 'silent for the TTL at the judging time');
  const stale = judgeNodes(m, cfg, () => true, { atMs: 1_000, leaseTtlMs: 1_000, staleView: true });
  assert.deepEqual(Object.values(stale).map((v) => v.state), ['Joining', 'Joining', 'Joining']);
});

describe('membership: the coordinator announces node state changes (nodeStateNotes)', () => {
  const o = { atMs: 10_000, leaseTtlMs: TTL };
  const v = (state: 'Up' | 'Down' | 'Paused' | 'Joining', draining = false) => ({ state, draining });
  const m: Membership = observeLeases({}, [lease(1, 'running', 'i1', 'n1'), lease(1, 'running', 'i1', 'n2'), lease(1, 'running', 'i1', 'n3')], 9_000);

  test('a node going Down with nothing on it is one NODE_DOWN event, said once', () => {
    const up = nodeStateNotes(null, { n1: v('Up'), n2: v('Up'), n3: v('Up') }, m, o);
    assert.deepEqual(up.notes, [], 'a new coordinator says nothing of the nodes it finds Up');
    const stale = { ...m, n3: { ...m.n3!, lastChangeMs: 8_000 } };
    const down = nodeStateNotes(up.said, { n1: v('Up'), n2: v('Up'), n3: v('Down') }, stale, o);
    assert.deepEqual(down.notes.map((n) => [n.node, n.event, n.level, n.was, n.state]), [['n3', 'NODE_DOWN', 'warning', 'Up', 'Down']]);
    assert.match(down.notes[0]!.message, /^node n3 is Down \(was Up\): its lease has not moved for 2000 ms \(lease TTL 1400 ms\)$/);
    assert.deepEqual(nodeStateNotes(down.said, { n1: v('Up'), n2: v('Up'), n3: v('Down') }, stale, o).notes, [], 'no repeat while it stays Down');
    const back = nodeStateNotes(down.said, { n1: v('Up'), n2: v('Up'), n3: v('Up') }, m, o);
    assert.deepEqual(back.notes.map((n) => [n.node, n.event, n.was]), [['n3', 'NODE_UP', 'Down']]);
  });

  test('a clean stop and a fence say so; a pause and a drain are NODE_PAUSED', () => {
    const said = { n1: 'Up', n2: 'Up', n3: 'Up' } as const;
    const mm: Membership = { ...m, n2: { ...m.n2!, state: 'stopped' }, n3: { ...m.n3!, state: 'fenced' } };
    const r = nodeStateNotes(said, { n1: v('Paused', true), n2: v('Down'), n3: v('Down') }, mm, o);
    assert.deepEqual(r.notes.map((n) => [n.node, n.event, n.message]), [
      ['n1', 'NODE_PAUSED', 'node n1 is Paused (was Up): it is draining'],
      ['n2', 'NODE_DOWN', 'node n2 is Down (was Up): it stopped (a clean shutdown)'],
      ['n3', 'NODE_DOWN', 'node n3 is Down (was Up): its resource monitor stopped its resources after its clusterd died'],
    ]);
  });

  test('a new coordinator announces the nodes it finds not Up, among them the one whose loss elected it', () => {
    const r = nodeStateNotes(null, { n1: v('Down'), n2: v('Up'), n3: v('Joining') }, m, o);
    assert.deepEqual(r.notes.map((n) => [n.node, n.event, n.was]), [['n1', 'NODE_DOWN', null], ['n3', 'NODE_JOINING', null]]);
    assert.match(r.notes[0]!.message, /as the coordinator first judges it/);
  });

  test('a Joining that only means a stale view (its lease does not move) is no change; a restarted node joining is', () => {
    const deadLease = { ...m, n3: { ...m.n3!, lastChangeMs: 1_000 } };
    const down = { n1: 'Up', n2: 'Up', n3: 'Down' } as const;
    const stale = nodeStateNotes(down, { n1: v('Up'), n2: v('Up'), n3: v('Joining') }, deadLease, o);
    assert.deepEqual(stale.notes, []);
    assert.equal(stale.said.n3, 'Down', 'the announced state is kept');
    const rejoined = nodeStateNotes(down, { n1: v('Up'), n2: v('Up'), n3: v('Joining') }, m, o);
    assert.deepEqual(rejoined.notes.map((n) => [n.node, n.event, n.was]), [['n3', 'NODE_JOINING', 'Down']]);
  });

  test('every note is a registered event at a registered level', async () => {
    const { eventRegistry } = await import('./events.js');
    const r = nodeStateNotes({ a: 'Up', b: 'Down', c: 'Up', d: 'Down' }, { a: v('Down'), b: v('Up'), c: v('Paused'), d: v('Joining') },
      observeLeases({}, ['a', 'b', 'c', 'd'].map((n) => lease(1, 'running', 'i1', n)), 10_000), o);
    assert.equal(r.notes.length, 4);
    for (const n of r.notes) assert.ok((eventRegistry[n.event] as readonly string[]).includes(n.level), `${n.event} at ${n.level}`);
  });
});
