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
