// Timing settings of a node: one set, validated once at startup, then frozen.
//
// Why these defaults (measured on a 2-core machine, see the README's benchmark section):
// - heartbeatIntervalMs 100: a lease write is one pwrite; ten a second costs nothing.
// - selfFenceMs 800: the monitor stops every resource if clusterd has not pinged it for this
//   long. Event-loop stalls on a machine with both cores saturated stay well under 300 ms.
// - leaseTtlMs 1400: observers declare a node Down after its counter has not moved this long.
//   It must exceed selfFenceMs by fenceMarginMs so that a stalled node's resources are dead
//   before anyone else may start them (safety rule 2).
// - decisionStallMs 4000 (5 self-fence deadlines): the heartbeat (lease renewal and the
//   watchdog ping) runs on its own thread, so a busy decision loop no longer fences the node; a
//   decision loop that makes no progress for this long is judged hung and the heartbeat fences
//   it. Five deadlines absorb the bursts a large apply or a garbage collection of a large heap
//   cause, and keep a hung node's groups stuck at most this long plus the lease TTL.
// A crashed clusterd is detected at once (its monitor fences and marks the lease), so the TTL
// only bounds failover for stalls and lost hosts.

import { clusterError, fail, ok, type Result } from './errors.js';

export interface Timing {
  heartbeatIntervalMs: number;
  leaseTtlMs: number;
  selfFenceMs: number;
  shutdownPendingTimeoutMs: number;
  /** The heartbeat stops renewing and fences when the decision loop has made no progress for this long. */
  decisionStallMs: number;
}

export const timingDefaults: Readonly<Timing> = Object.freeze({
  heartbeatIntervalMs: 100,
  leaseTtlMs: 1_400,
  selfFenceMs: 800,
  shutdownPendingTimeoutMs: 15_000,
  decisionStallMs: 4_000,
});

/** Time for the monitor to SIGKILL its process groups after the self-fence deadline. */
export const fenceMarginMs = 300;
/** A lease must survive at least this many missed heartbeats before a node is judged Down. */
export const heartbeatsPerTtlMin = 4;
/**
 * The decision-stall bound is at least this many self-fence deadlines: a stall shorter than two
 * deadlines is what isolating the heartbeat exists to absorb; below that, the old single bound
 * would be back.
 */
export const decisionStallDeadlinesMin = 2;
/** A hung decision loop keeps its groups at most this long (plus the lease TTL) before failover. */
export const decisionStallMaxMs = 60_000;

export function validateTiming(t: Timing): Result<Timing> {
  const errors: string[] = [];
  for (const [k, v] of Object.entries(t)) {
    if (!Number.isInteger(v) || v <= 0) errors.push(`${k} must be a positive integer of milliseconds, not ${v}`);
  }
  if (errors.length === 0) {
    if (t.selfFenceMs + fenceMarginMs > t.leaseTtlMs) {
      errors.push(`self-fence deadline (${t.selfFenceMs} ms) + fence margin (${fenceMarginMs} ms) must not exceed the lease TTL (${t.leaseTtlMs} ms): a stalled node could still run its resources when another node takes them over`);
    }
    if (t.heartbeatIntervalMs * heartbeatsPerTtlMin > t.selfFenceMs) {
      errors.push(`self-fence deadline (${t.selfFenceMs} ms) must be at least ${heartbeatsPerTtlMin} heartbeat intervals (${t.heartbeatIntervalMs} ms each): one late heartbeat would fence the node`);
    }
    if (t.decisionStallMs < decisionStallDeadlinesMin * t.selfFenceMs) {
      errors.push(`decision-stall bound (${t.decisionStallMs} ms) must be at least ${decisionStallDeadlinesMin} self-fence deadlines (${t.selfFenceMs} ms each): a busy decision loop would fence the node as if its lease were lost`);
    }
    if (t.decisionStallMs > decisionStallMaxMs) {
      errors.push(`decision-stall bound (${t.decisionStallMs} ms) must not exceed ${decisionStallMaxMs} ms: a hung node would keep its groups from failing over that long`);
    }
  }
  if (errors.length > 0) {
    return fail(clusterError('BAD_TIMING', `inconsistent timing settings: ${errors.join('; ')}`,
      `defaults: --heartbeat-interval ${timingDefaults.heartbeatIntervalMs} --self-fence ${timingDefaults.selfFenceMs} --lease-ttl ${timingDefaults.leaseTtlMs} --decision-stall ${timingDefaults.decisionStallMs}`));
  }
  return ok(Object.freeze({ ...t }));
}
