// Moving a cluster from one quorum store to another (`clusterd migrate --from dir:PATH --to
// etcd:URL`): the checkpoint, the quorum log after it (each record keeps its seq and term), the
// coordinator term, ownership records (with their epochs) and the newest events. Leases and node
// reports are not copied: every node claims its slot and reports again when it starts on the new
// store. The coordinator itself is not carried over (node null, same term): the first node to
// start on the new store is elected for the next term, so no write of the old term can land there.
//
// Run it with every clusterd of the cluster stopped: it refuses if a lease in the source still
// moves. The target must be empty (CLUSTER_EXISTS otherwise); a failed migration leaves the
// source untouched and can be retried on an emptied target.

import { ClusterError, clusterError, fail, ok } from '../core/errors.js';
import { logReadMax } from '../core/limits.js';
import type { ConfigUpdate } from '../core/types.js';
import type { ClusterEvent, LogRecord, QuorumStore, StoreResult } from './types.js';

export interface MigrateOptions {
  /** How long to watch the source's leases for a clusterd still running (default 1500 ms, about a lease TTL). */
  liveCheckMs?: number;
  /** Events copied, the newest ones (default 10,000). */
  eventsMax?: number;
  /** Progress lines for the operator. */
  log?: (line: string) => void;
}

/**
 * Copies the cluster in `from` into the empty store `to`. Opens `from` if needed; leaves `to`
 * initialized and open. Returns a one-line summary.
 */
export async function migrateStore(from: QuorumStore, to: QuorumStore, opts: MigrateOptions = {}): Promise<StoreResult<string>> {
  const log = opts.log ?? (() => undefined);
  const opened = await from.open();
  if (!opened.ok) return opened;
  const clusterName = opened.value.clusterName;

  const live = await stillRunning(from, opts.liveCheckMs ?? 1_500);
  if (!live.ok) return live;
  if (live.value.length > 0) {
    return fail(clusterError('NODE_IS_UP', `node(s) ${live.value.join(', ')} still run on ${from.location}: their leases keep moving`,
      'stop every clusterd of the cluster (systemctl stop clusterd on each machine), then migrate'));
  }

  const cp = await from.readCheckpoint();
  if (!cp.ok) return cp;
  if (!cp.value) return fail(clusterError('CLUSTER_NOT_FOUND', `no checkpoint in ${from.location}`, 'the source holds no cluster to migrate'));
  const checkpoint = cp.value;
  const records: LogRecord[] = [];
  for (;;) {
    const after = records.length > 0 ? records[records.length - 1]!.seq : checkpoint.seq;
    const batch = await from.readLog(after, logReadMax);
    if (!batch.ok) return batch;
    records.push(...batch.value);
    if (batch.value.length < logReadMax) break;
  }
  const coordinator = await from.readCoordinator();
  const ownership = await from.readOwnership();
  const events = await newestEvents(from, opts.eventsMax ?? 10_000);
  const lastRecordTerm = records.length > 0 ? records[records.length - 1]!.term : checkpoint.term;
  const finalTerm = Math.max(coordinator.term, lastRecordTerm, checkpoint.term);
  log(`source ${from.location}: cluster '${clusterName}', checkpoint at seq ${checkpoint.seq}, ${records.length} log record(s), term ${coordinator.term}, ` +
    `${ownership.length} ownership record(s), ${events.length} event(s)`);

  const created = await to.init(clusterName, Date.now());
  if (!created.ok) return created;
  const recovered = await to.recoverLog(checkpoint.seq, checkpoint.term, checkpoint.config);
  if (!recovered.ok) return recovered;

  // Terms only grow by one per election: walk the target's term up, appending each run of
  // records under the term it was written in.
  let current = { term: 0, node: null as string | null };
  const advanceTo = async (term: number): Promise<StoreResult<void>> => {
    while (current.term < term) {
      const next = { term: current.term + 1, node: null };
      const won = await to.casCoordinator(current, next);
      if (!won.ok) return won;
      if (!won.value) return fail(clusterError('QUORUM_BUSY', `another writer changed the coordinator of ${to.location} during the migration`, 'stop it, empty the target and migrate again'));
      current = next;
    }
    return ok(undefined);
  };
  let head = checkpoint.seq;
  for (let i = 0; i < records.length;) {
    const term = records[i]!.term;
    let j = i;
    while (j < records.length && records[j]!.term === term && j - i < 50) j++;
    const advanced = await advanceTo(term);
    if (!advanced.ok) return advanced;
    const appended = await to.appendLog(term, head, records.slice(i, j).map((r) => r.update as ConfigUpdate));
    if (!appended.ok) return appended;
    head = records[j - 1]!.seq;
    i = j;
  }
  const advanced = await advanceTo(finalTerm);
  if (!advanced.ok) return advanced;
  if (ownership.length > 0) {
    const written = await to.writeOwnership(finalTerm, ownership);
    if (!written.ok) return written;
  }
  if (events.length > 0) {
    const copied = await to.appendEvents(events.map(({ id: _id, ...e }) => e));
    if (!copied.ok) return copied;
  }
  // Proof read: the target folds to the same head.
  const targetHead = await to.logHead();
  if (targetHead !== head) {
    return fail(clusterError('INTERNAL', `the target's log head is seq ${targetHead} after the migration, not ${head}`, 'empty the target and migrate again'));
  }
  const summary = `migrated cluster '${clusterName}' from ${from.location} to ${to.location}: checkpoint at seq ${checkpoint.seq}, ` +
    `${records.length} log record(s) up to seq ${head}, term ${finalTerm}, ${ownership.length} ownership record(s), ${events.length} event(s)`;
  log(summary);
  return ok(summary);
}

/** Nodes whose lease counter moves during `watchMs` (running or draining clusterd processes). */
async function stillRunning(store: QuorumStore, watchMs: number): Promise<StoreResult<string[]>> {
  try {
    const first = (await store.readLeases()).filter((l) => l.state === 'running' || l.state === 'draining');
    if (first.length === 0 || watchMs <= 0) return ok([]);
    await new Promise((resolve) => setTimeout(resolve, watchMs));
    const now = new Map((await store.readLeases()).map((l) => [l.node, l]));
    return ok(first.filter((l) => {
      const n = now.get(l.node);
      return n !== undefined && (n.counter !== l.counter || n.incarnation !== l.incarnation) && n.state !== 'stopped' && n.state !== 'fenced';
    }).map((l) => l.node));
  } catch (err) {
    return fail(err instanceof ClusterError ? err
      : clusterError('QUORUM_UNAVAILABLE', `reading the leases of ${store.location}: ${(err as Error).message}`, 'check that the source quorum store is reachable'));
  }
}

async function newestEvents(store: QuorumStore, max: number): Promise<ClusterEvent[]> {
  const all: ClusterEvent[] = [];
  let after = 0;
  for (;;) {
    const batch = await store.readEvents(after, 5_000);
    all.push(...batch);
    if (all.length > max) all.splice(0, all.length - max);
    if (batch.length < 5_000) return all;
    after = batch[batch.length - 1]!.id;
  }
}
