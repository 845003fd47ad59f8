// The guard before a store rebuild (--reset-quorum-log on a database that cannot be read): the
// rebuilt store has no ownership records, so no other clusterd may be running. Read the lease
// slots (the lease file outlives a damaged database), wait one lease TTL on this node's clock, read
// them again: an other node whose lease moved runs (core/load-plan.ts leasesMoved).

import { ClusterError, fail, ok, type Result } from '../core/errors.js';
import { leasesMoved, nodesRunningError, type LeaseSeen } from '../core/load-plan.js';

export interface RebuildGuardDeps {
  self: string;
  store: string;
  readLeases: () => Promise<LeaseSeen[]>;
  sleep: (ms: number) => Promise<void>;
  /** The lease TTL: a running node renews well within it (heartbeat < self-fence < TTL). */
  leaseTtlMs: number;
}

export async function refuseWhileOthersRun(d: RebuildGuardDeps): Promise<Result<void>> {
  try {
    const before = await d.readLeases();
    await d.sleep(d.leaseTtlMs);
    const after = await d.readLeases();
    const running = leasesMoved(before, after, d.self);
    return running.length === 0 ? ok(undefined) : fail(nodesRunningError(running, d.store, d.leaseTtlMs));
  } catch (e) {
    if (e instanceof ClusterError) return fail(e);
    throw e;
  }
}
