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
//   watchdog ping) runs on its own thread, so a busy decision loop does not fence the node; a
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

/**
 * Time an etcd leader change needs beyond its election timeouts: the pre-vote and vote round
 * trips and the new leader's first append on a LAN.
 */
export const etcdLeaderChangeSlackMs = 200;

/**
 * The longest etcd election timeout that fits clusterd's timing. etcd elects a new leader one to
 * two election timeouts after the old one fell silent; during that time no renewal commits. The
 * renewal that last succeeded may be one heartbeat old, so the change must end within the
 * self-fence deadline less one heartbeat: 2 x election timeout + slack <= selfFence - heartbeat.
 */
export function etcdElectionTimeoutMaxMs(t: Pick<Timing, 'selfFenceMs' | 'heartbeatIntervalMs'>): number {
  return Math.floor((t.selfFenceMs - t.heartbeatIntervalMs - etcdLeaderChangeSlackMs) / 2);
}

/** etcd's raft timing as one member reports it (its command line); undefined where it cannot tell, with the reason. */
export interface EtcdMemberTiming {
  member: string;
  electionTimeoutMs: number | undefined;
  heartbeatIntervalMs: number | undefined;
  /** Why the election timeout is not known (set when electionTimeoutMs is undefined). */
  unknownWhy?: string;
}

export interface EtcdTimingVerdict {
  /** The settings cannot work: the node must not start. */
  refuse: ReturnType<typeof clusterError> | null;
  /** The settings could not be checked: start, and say so. */
  warn: ReturnType<typeof clusterError> | null;
  /** What was checked, for the startup log. */
  checked: string;
}

/**
 * Judges etcd's election timeout against clusterd's timing. What a member's command line shows
 * wins; `statedMs` (the operator's --etcd-election-timeout) stands for members that show nothing.
 * A known timeout over the limit refuses; a member whose timeout is neither shown nor stated is
 * a warning (etcd's default, 1000 ms, does not fit the default timing).
 */
export function judgeEtcdTiming(t: Pick<Timing, 'selfFenceMs' | 'heartbeatIntervalMs'>, members: readonly EtcdMemberTiming[], statedMs: number | undefined): EtcdTimingVerdict {
  const maxMs = etcdElectionTimeoutMaxMs(t);
  const limit = `the longest that fits is ${maxMs} ms: (self-fence ${t.selfFenceMs} - heartbeat ${t.heartbeatIntervalMs} - ${etcdLeaderChangeSlackMs} ms for the votes) / 2, because a leader change takes up to two election timeouts and the nodes fence themselves when renewals stop for their self-fence deadline`;
  const fix = `on every etcd member set ETCD_ELECTION_TIMEOUT=${maxMs} and ETCD_HEARTBEAT_INTERVAL=${Math.max(1, Math.floor(maxMs / 10))} (or lower), restart the members one at a time, and state it to clusterd with --etcd-election-timeout ${maxMs}`;
  const tooSlow: string[] = [];
  const unknown: string[] = [];
  const seen: string[] = [];
  for (const m of members) {
    if (m.electionTimeoutMs === undefined) {
      if (statedMs === undefined) unknown.push(`${m.member} (${m.unknownWhy ?? 'not known'})`);
      continue;
    }
    seen.push(`${m.member} ${m.electionTimeoutMs} ms`);
    if (m.electionTimeoutMs > maxMs) tooSlow.push(`${m.member} runs with --election-timeout ${m.electionTimeoutMs}`);
  }
  if (statedMs !== undefined && statedMs > maxMs) tooSlow.push(`the stated --etcd-election-timeout is ${statedMs} ms`);
  const checked = `etcd election timeout: ${[...seen.map((s) => `${s} (read)`), ...(statedMs !== undefined ? [`${statedMs} ms (stated)`] : [])].join(', ') || 'not known'}; at most ${maxMs} ms fits`;
  if (tooSlow.length > 0) {
    return { refuse: clusterError('ETCD_TIMING_UNFIT', `etcd's election timeout is too long for clusterd's timing: ${tooSlow.join('; ')}; ${limit}`, fix), warn: null, checked };
  }
  if (unknown.length > 0) {
    return {
      refuse: null, checked,
      warn: clusterError('ETCD_TIMING_UNKNOWN', `etcd's election timeout could not be checked on ${unknown.join(', ')}; etcd publishes it only when given on its command line, and its default (1000 ms) does not fit: ${limit}`,
        `if the members run with ETCD_ELECTION_TIMEOUT <= ${maxMs} (deploy/README.md), state it with --etcd-election-timeout MS (or etcdElectionTimeoutMs in the settings file); otherwise ${fix}`),
    };
  }
  return { refuse: null, warn: null, checked };
}
