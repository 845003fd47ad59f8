// This node's picture of the cluster from its last reads of the quorum store: leases (as
// membership), the coordinator record, ownership records and reports, with the send times of
// the reads that liveness is judged by. Each map is replaced whole by a read, never changed in
// place, so a snapshot may hold on to it.

import { judgeNodes, observeLeases, type LeaseObservation, type Membership } from '../core/membership.js';
import type { NodeView, OwnershipRec } from '../core/placement.js';
import type { ClusterConfig, GroupName, NodeName } from '../core/types.js';
import type { CoordinatorRecord, NodeReport } from '../store/types.js';
import type { Clock } from './clock.js';

export class Picture {
  membership: Membership = {};
  coordinator: CoordinatorRecord = { term: 0, node: null };
  ownership: Record<GroupName, OwnershipRec> = {};
  /** Every node's last report, also a dead incarnation's. */
  reports: Record<NodeName, NodeReport> = {};
  /**
   * Send times (this node's monotonic clock) of the newest completed lease and ownership reads.
   * Liveness is judged at the lease read's send time, never later: a lease view says nothing about
   * the time after it was asked for, so a slow store or a pause between the read and a decision
   * must not make a live node look Down.
   */
  leasesReadAtMs = -Infinity;
  ownershipReadAtMs = -Infinity;

  /** The records `ownership` was built from, and their highest epoch. */
  private ownershipRecords: readonly OwnershipRec[] = [];
  private ownershipEpochMax = 0;

  constructor(private readonly clock: Clock, private readonly leaseTtlMs: number) {}

  /**
   * An ownership read's records become the table; the same array as the last read's (the store's
   * table did not change, store/dir.ts) keeps the table as it is, so what is compared by identity
   * (node/quiet.ts) sees no change. Returns the highest epoch of the records.
   */
  readOwnership(records: readonly OwnershipRec[]): number {
    if (records === this.ownershipRecords) return this.ownershipEpochMax;
    const own: Record<GroupName, OwnershipRec> = {};
    let epochMax = 0;
    for (const r of records) { own[r.group] = r; epochMax = Math.max(epochMax, r.epoch); }
    this.ownership = own;
    this.ownershipRecords = records;
    this.ownershipEpochMax = epochMax;
    return epochMax;
  }

  /** Reports from each node's current incarnation only: a dead incarnation's report says nothing. */
  currentReports(): Record<NodeName, NodeReport> {
    const out: Record<NodeName, NodeReport> = {};
    for (const [n, r] of Object.entries(this.reports)) if (this.membership[n]?.incarnation === r.incarnation) out[n] = r;
    return out;
  }

  /**
   * Node states, judged at the send time of the newest lease read: the data is at least that
   * fresh and nothing newer is known. If the ownership records acted on were read after the
   * leases, the lease view says nothing about them: nobody is judged Down (they show Joining)
   * until the next cycle reads leases again.
   */
  nodeViews(config: ClusterConfig): Record<NodeName, NodeView> {
    const reps = this.currentReports();
    return judgeNodes(this.membership, config.nodes, (n) => !!reps[n], {
      atMs: this.judgeAtMs(), leaseTtlMs: this.leaseTtlMs, staleView: this.leasesReadAtMs < this.ownershipReadAtMs,
    });
  }

  /**
   * The cycle's lease observation: the slots the newest renewal read with it (`view`, times on this
   * node's clock) when the rule below admits them, else a read of its own (`read`). Observed at the
   * answer's arrival (a conservative start of each node's silence); judged from its send time.
   */
  async observeLeases(view: { leases: LeaseObservation[]; sentMs: number; arrivedMs: number } | null | undefined,
    read: () => Promise<LeaseObservation[]>): Promise<void> {
    // A renewal's read stands for the cycle's own only if it was sent after the ownership records
    // acted on were read, and not before the newest lease view already observed: an older one would
    // take a node back to an earlier incarnation or state (a clean stop is Down at once).
    const v = view && view.sentMs >= Math.max(this.ownershipReadAtMs, this.leasesReadAtMs) ? view : null;
    const sentMs = v ? v.sentMs : this.clock.nowMs();
    const leases = v ? v.leases : await read();
    this.membership = observeLeases(this.membership, leases, v ? v.arrivedMs : this.clock.nowMs());
    this.leasesReadAtMs = Math.max(this.leasesReadAtMs, sentMs);
  }

  /** The time at which other nodes' liveness is judged: the newest lease read's send time, never later than now. */
  judgeAtMs(): number {
    return Math.min(this.clock.nowMs(), this.leasesReadAtMs);
  }
}
