// Membership: which nodes are alive, judged on this observer's own monotonic clock (safety
// rule 3). A node is alive while its lease counter keeps moving: each time we see a new value
// we note our own time; once it has not moved for the lease TTL, the node is Down. A lease
// that says `stopped` (clean exit) or `fenced` (its monitor stopped everything after clusterd
// died) is Down at once: that node has itself reported its resources offline.

import type { NodeName, NodeState } from './types.js';

export type LeaseStateView = 'running' | 'draining' | 'stopped' | 'fenced';

export interface LeaseObservation {
  node: NodeName;
  counter: number;
  state: LeaseStateView;
  incarnation: string;
}

export interface PeerView {
  counter: number;
  state: LeaseStateView;
  incarnation: string;
  /** Observer's monotonic time when the counter (or incarnation) last changed. */
  lastChangeMs: number;
}

export type Membership = Record<NodeName, PeerView>;

export function observeLeases(m: Membership, leases: LeaseObservation[], nowMs: number): Membership {
  const next: Membership = {};
  for (const l of leases) {
    const prev = m[l.node];
    const changed = !prev || prev.counter !== l.counter || prev.incarnation !== l.incarnation;
    next[l.node] = { counter: l.counter, state: l.state, incarnation: l.incarnation, lastChangeMs: changed ? nowMs : prev.lastChangeMs };
  }
  return next;
}

export function isAlive(m: Membership, node: NodeName, nowMs: number, leaseTtlMs: number): boolean {
  const p = m[node];
  if (!p || p.state === 'stopped' || p.state === 'fenced') return false;
  return nowMs - p.lastChangeMs < leaseTtlMs;
}

export interface NodeStateInput {
  alive: boolean;
  paused: boolean;
  draining: boolean;
  /** The node has published a report from its current incarnation. */
  reported: boolean;
}

/**
 * Every node's state as this observer judges it (configured nodes and nodes seen in the leases),
 * at `atMs`: the send time of the newest lease read, never later (a lease view says nothing about
 * the time after it was asked for). With `staleView` (the records acted on were read after the
 * leases) nobody is judged Down: they show Joining until the next lease read.
 */
export function judgeNodes(m: Membership, configured: Record<NodeName, { paused?: boolean }>, reported: (node: NodeName) => boolean,
  o: { atMs: number; leaseTtlMs: number; staleView: boolean }): Record<NodeName, { state: NodeState; draining: boolean }> {
  const out: Record<NodeName, { state: NodeState; draining: boolean }> = {};
  for (const n of new Set([...Object.keys(configured), ...Object.keys(m)])) {
    const alive = isAlive(m, n, o.atMs, o.leaseTtlMs);
    const draining = m[n]?.state === 'draining';
    const state = nodeState({ alive, paused: !!configured[n]?.paused, draining, reported: reported(n) });
    out[n] = { state: o.staleView && state === 'Down' ? 'Joining' : state, draining };
  }
  return out;
}

export function nodeState(i: NodeStateInput): NodeState {
  if (!i.alive) return 'Down';
  if (!i.reported) return 'Joining';
  if (i.paused || i.draining) return 'Paused';
  return 'Up';
}

export type NodeStateEvent = 'NODE_UP' | 'NODE_DOWN' | 'NODE_PAUSED' | 'NODE_JOINING';

export interface NodeStateNote {
  node: NodeName;
  event: NodeStateEvent;
  level: 'info' | 'warning';
  message: string;
  state: NodeState;
  /** The state announced before; null: none (a new coordinator, or a node it has not judged before). */
  was: NodeState | null;
}

const stateEvents: Readonly<Record<NodeState, { event: NodeStateEvent; level: 'info' | 'warning' }>> = {
  Up: { event: 'NODE_UP', level: 'info' }, Down: { event: 'NODE_DOWN', level: 'warning' },
  Paused: { event: 'NODE_PAUSED', level: 'info' }, Joining: { event: 'NODE_JOINING', level: 'info' },
};

/**
 * The coordinator's membership notes: one event per node whose judged state (judgeNodes) differs
 * from the one it announced last (`said`), so that a node going Down shows in the event log even
 * when it ran no group. A coordinator starts from `said` null: for a node it has not judged
 * before, it announces a state other than Up (a new coordinator announces the nodes it finds not
 * Up, among them the one whose loss elected it) and nothing for the others. A node judged Joining whose lease does not move (a view that is
 * stale for one cycle, see judgeNodes) has not changed: nothing is said and its last state is kept.
 * A node no longer judged (removed from the configuration) is forgotten silently.
 */
export function nodeStateNotes(said: Readonly<Record<NodeName, NodeState>> | null, views: Readonly<Record<NodeName, { state: NodeState; draining: boolean }>>,
  m: Membership, o: { atMs: number; leaseTtlMs: number }): { said: Record<NodeName, NodeState>; notes: NodeStateNote[] } {
  const next: Record<NodeName, NodeState> = {};
  const notes: NodeStateNote[] = [];
  for (const n of Object.keys(views).sort()) {
    const v = views[n]!;
    const was = said && Object.hasOwn(said, n) ? said[n]! : null;
    if (v.state === 'Joining' && was !== 'Joining' && !isAlive(m, n, o.atMs, o.leaseTtlMs)) {
      if (was !== null) next[n] = was;
      continue;
    }
    next[n] = v.state;
    if (v.state === was || (was === null && v.state === 'Up')) continue;
    notes.push({ node: n, ...stateEvents[v.state], state: v.state, was, message: `node ${n} is ${v.state} (${was === null ? 'as the coordinator first judges it' : `was ${was}`}): ${stateReason(n, v, m, o)}` });
  }
  return { said: next, notes };
}

function stateReason(n: NodeName, v: { state: NodeState; draining: boolean }, m: Membership, o: { atMs: number; leaseTtlMs: number }): string {
  const p = m[n];
  switch (v.state) {
    case 'Down':
      if (!p) return 'it holds no lease';
      if (p.state === 'stopped') return 'it stopped (a clean shutdown)';
      if (p.state === 'fenced') return 'its resource monitor stopped its resources after its clusterd died';
      return `its lease has not moved for ${Math.max(0, Math.round(o.atMs - p.lastChangeMs))} ms (lease TTL ${o.leaseTtlMs} ms)`;
    case 'Paused': return v.draining ? 'it is draining' : 'paused by an operator';
    case 'Joining': return 'its lease moves; its first report is awaited';
    case 'Up': return 'its lease moves and it reports';
  }
}
