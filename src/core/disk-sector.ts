// What a disk's online does with the private sector it finds (the on-disk witness of the group's
// ownership record; see monitor/disk-agent.ts). The rule:
//
//   - absent, or marked `released`: the last owner stopped on purpose: take the disk at once.
//   - a newer epoch than the one this node brings the disk online with: refuse. Inside one cluster
//     epochs only grow, so it was written by another cluster, or by this one before its store was
//     rebuilt, or (briefly) by the node a move under way has just given the group to.
//   - not released, but written by this cluster for this group and resource under an older epoch
//     (or by this node under this very epoch, before its resource monitor was replaced): take the
//     disk at once. The coordinator gave this node the epoch only after that writer reported the
//     group released, or its lease expired on the coordinator's clock (later than its self-fence
//     deadline, when its monitor kills every resource and stops writing the sector), or its monitor
//     marked the lease fenced after killing every resource. The ownership rules already prove the
//     writer stopped; watching the sector would only add its length to the outage.
//   - anything else (an unreadable record, another cluster's or another group's, an older sector
//     without a cluster name): a writer outside this cluster's rules may still use the disk:
//     watch the sector for one device-check interval before taking it.

import { clusterError, type ClusterError } from './errors.js';

/** The fields of a sector record the rule reads. */
export interface SectorOwner {
  /** The cluster's name; absent in sectors written before it was recorded. */
  cluster?: string;
  node: string;
  group: string;
  resource: string;
  epoch: number;
  state: 'online' | 'released';
}

/** The node bringing the disk online: its cluster, name, the group and resource, the group's epoch. */
export interface SectorClaimant {
  cluster: string | undefined;
  node: string;
  group: string;
  resource: string;
  epoch: number;
}

export type SectorFound = { kind: 'absent' } | { kind: 'bad'; why: string } | { kind: 'ok'; rec: SectorOwner };

export type SectorVerdict =
  /** Take the disk now: nobody wrote the sector, or its last owner released it. */
  | { kind: 'free'; found: 'absent' | 'released' }
  /** Take the disk now: not released, but the ownership rules prove its writer stopped. */
  | { kind: 'stopped'; found: 'unreleased' }
  /** Watch the sector first: its writer is outside what this cluster's rules account for. */
  | { kind: 'watch'; why: string }
  /** Refuse: the sector carries a newer epoch. */
  | { kind: 'ahead' };

export function judgeSector(found: SectorFound, me: SectorClaimant): SectorVerdict {
  if (found.kind === 'absent') return { kind: 'free', found: 'absent' };
  if (found.kind === 'bad') return { kind: 'watch', why: `an unreadable record (${found.why})` };
  const rec = found.rec;
  if (rec.epoch > me.epoch) return { kind: 'ahead' };
  if (rec.state === 'released') return { kind: 'free', found: 'released' };
  if (rec.cluster === undefined || me.cluster === undefined) return { kind: 'watch', why: 'a record that names no cluster' };
  if (rec.cluster !== me.cluster) return { kind: 'watch', why: `a record of another cluster ('${rec.cluster}')` };
  if (rec.group !== me.group || rec.resource !== me.resource) return { kind: 'watch', why: `a record of another resource ('${rec.resource}' of group '${rec.group}')` };
  if (rec.epoch < me.epoch || rec.node === me.node) return { kind: 'stopped', found: 'unreleased' };
  return { kind: 'watch', why: `a record of node ${rec.node} under this very epoch ${rec.epoch}` };
}

/**
 * The refusal of a sector whose epoch is newer than the claimant's. `found.node` is named, with
 * its epoch and the claimant's, and what it means when no move is under way.
 */
export function sectorAheadError(disk: string, sectorPath: string, rec: SectorOwner, me: SectorClaimant, clearCommand: string): ClusterError {
  const writer = `node ${rec.node}${rec.cluster !== undefined ? ` of cluster '${rec.cluster}'` : ''}`;
  const foreign = rec.cluster !== undefined && me.cluster !== undefined && rec.cluster !== me.cluster;
  const meaning = foreign
    ? `another cluster ('${rec.cluster}') uses this disk`
    : `either another cluster uses this disk, or this cluster's store was rebuilt and its epochs started again lower` +
      (rec.node === me.node ? '' : ` (unless ${rec.node} has just been given group '${me.group}' under epoch ${rec.epoch} by a move under way: then this refusal passes by itself)`);
  return clusterError('DISK_SECTOR_EPOCH_AHEAD',
    `disk '${disk}': its private sector ${sectorPath} holds epoch ${rec.epoch} (${rec.state}) written by ${writer}, newer than epoch ${me.epoch} that node ${me.node} brings it online with: ${meaning}`,
    `if no other cluster uses this disk, clear the sector while no node holds the disk Online: ${clearCommand}; then cluster res "${disk}" /online`);
}
