// The node's self-fence policy (safety rule 2), pure: when a node must stop everything it runs,
// and when it may start something. The shell feeds it times read from its monotonic clock.
//
// One threshold governs both decisions. A node whose last successful lease renewal is older
// than `selfFenceMs - heartbeatIntervalMs` fences at its next beat (beats are one interval
// apart, so the last beat before the self-fence deadline is the one that fences), and from that
// same moment it starts nothing. Two thresholds would leave a window in which a node starts a
// resource that its own fence then fails to cover (for example a fence at 700 ms and starts
// allowed until 800 ms).
//
// The heartbeat (lease renewal and the watchdog ping) runs apart from the decision loop (in
// clusterd a worker thread, in the simulator a timer of its own), and beatDecision() is what it
// decides at each beat. It fences for three causes:
// - lease-lost: renewals failed past the threshold above;
// - stalled: the decision loop reported no progress for decisionStallMs. The heartbeat then stops
//   renewing and pinging, exactly as if the lease were lost, so a hung decision loop cannot keep
//   its groups: its resources are killed now, the watchdog fires one self-fence deadline after
//   the last ping if the fence request is lost, and other nodes take over one lease TTL after
//   the last renewal, which is later (selfFenceMs + fenceMarginMs <= leaseTtlMs);
// - paused: the heartbeat itself did not run for longer than the self-fence deadline (the whole
//   process was stopped): the watchdog has fired or is about to.
// A busy decision loop that comes back within decisionStallMs has lost nothing: its lease stayed
// fresh, so nobody took its groups, and its resources kept running under the monitor.

import { isAlive, type Membership } from './membership.js';
import type { Timing } from './timing.js';
import type { NodeName } from './types.js';

type FenceTiming = Pick<Timing, 'heartbeatIntervalMs' | 'selfFenceMs' | 'leaseTtlMs'>;
type BeatTiming = FenceTiming & Pick<Timing, 'decisionStallMs'>;

/** Has the lease gone unrenewed for so long that the node must fence at this beat? */
export function renewalOverdue(nowMs: number, lastRenewOkMs: number, t: FenceTiming): boolean {
  return nowMs - lastRenewOkMs + t.heartbeatIntervalMs >= t.selfFenceMs;
}

/** Was the heartbeat itself stopped (no beat for longer than the self-fence deadline)? The watchdog has fired or is about to. */
export function paused(gapMs: number, t: FenceTiming): boolean {
  return gapMs > t.selfFenceMs;
}

/** Has the decision loop made no progress for so long that the heartbeat must stop renewing and fence? */
export function decisionStalled(nowMs: number, lastProgressMs: number, t: BeatTiming): boolean {
  return nowMs - lastProgressMs >= t.decisionStallMs;
}

export type FenceCause = 'lease-lost' | 'stalled' | 'paused';

/** What the heartbeat knows at a beat, all on one monotonic clock. */
export interface BeatState {
  /** The previous beat (-Infinity: this is the first). */
  lastBeatMs: number;
  /** The newest successful renewal (-Infinity: none yet). */
  lastRenewOkMs: number;
  /** The decision loop's newest report of progress. */
  lastProgressMs: number;
  /** lastRenewOkMs at the newest fence: one lease-lost fence per outage. */
  leaseLostFencedAt: number;
  /** lastProgressMs at the newest stall fence: one per stall. */
  stallFencedAt: number;
}

export interface BeatDecision {
  /** Fence now (kill every resource), and why; null: no fence at this beat. */
  fence: FenceCause | null;
  /** How long the cause has lasted, for the message. */
  forMs: number;
  /** Renew the lease and ping the watchdog at this beat (false while the decision loop is stalled). */
  renew: boolean;
  /** The state after this beat. */
  next: BeatState;
}

/** The heartbeat's decision at one beat (see the top of this file). */
export function beatDecision(nowMs: number, s: BeatState, t: BeatTiming): BeatDecision {
  const next = { ...s, lastBeatMs: nowMs };
  if (decisionStalled(nowMs, s.lastProgressMs, t)) {
    const first = s.stallFencedAt !== s.lastProgressMs;
    // The stall's fence is the fence of this outage: no lease-lost fence follows when renewals resume.
    if (first) { next.stallFencedAt = s.lastProgressMs; next.leaseLostFencedAt = s.lastRenewOkMs; }
    return { fence: first ? 'stalled' : null, forMs: nowMs - s.lastProgressMs, renew: false, next };
  }
  const gapMs = Number.isFinite(s.lastBeatMs) ? nowMs - s.lastBeatMs : 0;
  if (paused(gapMs, t)) {
    next.leaseLostFencedAt = s.lastRenewOkMs;
    return { fence: 'paused', forMs: gapMs, renew: true, next };
  }
  if (Number.isFinite(s.lastRenewOkMs) && s.leaseLostFencedAt !== s.lastRenewOkMs && renewalOverdue(nowMs, s.lastRenewOkMs, t)) {
    next.leaseLostFencedAt = s.lastRenewOkMs;
    return { fence: 'lease-lost', forMs: nowMs - s.lastRenewOkMs, renew: true, next };
  }
  return { fence: null, forMs: 0, renew: true, next };
}

export interface StartCheck {
  nowMs: number;
  self: NodeName;
  /** Monotonic time of the newest successful lease renewal (-Infinity: none yet). */
  lastRenewOkMs: number;
  /**
   * A fence was asked of the monitor and not yet confirmed, or the assignments read before a
   * lost lease or a stall are not yet revoked (a cycle under way may still hold them).
   */
  fencing: boolean;
  shuttingDown: boolean;
  /** The term the ownership record was written under, and the coordinator's current term. */
  recordTerm: number;
  currentTerm: number;
  membership: Membership;
}

/**
 * May the node start resources under an ownership record now? Only with a fresh lease (the same
 * threshold as the fence), under the current term, with no fence under way, not shutting down,
 * and alive in its own membership view judged now (its own liveness is judged strictly).
 */
export function mayStart(c: StartCheck, t: FenceTiming): boolean {
  return !c.fencing && !c.shuttingDown && Number.isFinite(c.lastRenewOkMs) && !renewalOverdue(c.nowMs, c.lastRenewOkMs, t) &&
    c.recordTerm === c.currentTerm && isAlive(c.membership, c.self, c.nowMs, t.leaseTtlMs);
}
