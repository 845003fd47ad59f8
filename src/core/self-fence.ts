// The node's self-fence policy (safety rule 2), pure: when a node must stop everything it runs,
// and when it may start something. The shell feeds it times read from its monotonic clock.
//
// One threshold governs both decisions. A node whose last successful lease renewal is older
// than `selfFenceMs - heartbeatIntervalMs` fences at its next beat (beats are one interval
// apart, so the last beat before the self-fence deadline is the one that fences), and from that
// same moment it starts nothing. Two thresholds would leave a window in which a node starts a
// resource that its own fence then fails to cover (simulator bug 7: fence at 700 ms, starts
// allowed until 800 ms).

import { isAlive, type Membership } from './membership.js';
import type { Timing } from './timing.js';
import type { NodeName } from './types.js';

type FenceTiming = Pick<Timing, 'heartbeatIntervalMs' | 'selfFenceMs' | 'leaseTtlMs'>;

/** Has the lease gone unrenewed for so long that the node must fence at this beat? */
export function renewalOverdue(nowMs: number, lastRenewOkMs: number, t: FenceTiming): boolean {
  return nowMs - lastRenewOkMs + t.heartbeatIntervalMs >= t.selfFenceMs;
}

/** Was the node itself stalled (no beat for longer than its self-fence deadline)? Its watchdog has fired or is about to. */
export function stalled(gapMs: number, t: FenceTiming): boolean {
  return gapMs > t.selfFenceMs;
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
