// The coordinator's read-back of the quorum store (core/checkpoint-policy.ts storeCheckEveryMs):
// every log record after its checkpoint, and the checkpoint itself when asked, read the way a
// starting node reads them (checksums, no gap). What is found damaged is rewritten from the
// coordinator's copy by the checkpoint triggers (config-log.ts maybeCheckpoint).

import type { ClusterError } from '../core/errors.js';
import { logReadMax } from '../core/limits.js';
import type { QuorumStore } from '../store/types.js';
import type { Clock } from './clock.js';
import { TurnBudget } from './slices.js';

/**
 * What is damaged between the checkpoint at `checkpointSeq` and `appliedSeq` (and in the
 * checkpoint if `withCheckpoint`), or null. Anything else that stops the read (the store
 * unreachable, a checkpoint taken meanwhile) is no damage: the next check reads again.
 */
export async function findStoreDamage(o: { store: QuorumStore; clock: Clock }, checkpointSeq: number, appliedSeq: number, withCheckpoint: boolean): Promise<string | null> {
  const damaged = (e: ClusterError): string | null => (e.code === 'QUORUM_LOG_DAMAGED' ? e.message : null);
  if (withCheckpoint) {
    const cp = await o.store.readCheckpoint();
    if (!cp.ok) return damaged(cp.error);
  }
  const budget = new TurnBudget(o.clock);
  let after = checkpointSeq;
  while (after < appliedSeq) {
    const page = await o.store.readLog(after, logReadMax);
    if (!page.ok) return damaged(page.error);
    const last = page.value[page.value.length - 1];
    if (last === undefined) return null;
    after = last.seq;
    await budget.pace();
  }
  return null;
}
