// What status shows for a group and its resources, pure. A node's report says what it ran when
// it last wrote it; once that node is Down the report is history, not state:
//
// - A resource its Down owner last reported Online, OnlinePending or OfflinePending shows
//   `Unknown` (WSFC's ClusterResourceStateUnknown): the owner cannot be asked, and by safety
//   rule 2 its self-fence has stopped it, but nobody has seen it stop. One last reported Offline
//   or Failed stays so: a node without a lease starts nothing.
// - A group whose owner is Down shows `Pending` (WSFC's group state while it fails over), with a
//   reason: "owner n2 is Down; failing over to n3", or, when the quorum store refuses the
//   ownership write, "owner n2 is Down; failover to n3 blocked: the quorum disk is full". It is
//   never Online: nothing is known to run it.
// - A group whose ownership change (a move, a placement) is blocked keeps its state and gets the
//   blocked change as its reason.

import { blockedText, changeText, type OwnershipRec, type WritesBlocked } from './placement.js';
import type { GroupState, NodeState, ResourceState } from './types.js';

/** A resource's state as status shows it: its owner's report, or Unknown when that owner is Down. */
export type ShownResourceState = ResourceState | 'Unknown';

/** A group's state from its resources' (cluster.exe's group states). */
export function groupStateOf(states: readonly ShownResourceState[]): GroupState {
  if (states.length === 0 || states.every((s) => s === 'Offline')) return 'Offline';
  if (states.every((s) => s === 'Online')) return 'Online';
  if (states.some((s) => s === 'OnlinePending' || s === 'OfflinePending' || s === 'Unknown')) return 'Pending';
  if (states.some((s) => s === 'Failed')) return 'Failed';
  return 'Partially Online';
}

/** A resource of a group whose owner is Down, from what that owner last reported (undefined: nothing). */
export function resourceOnDownOwner(reported: ResourceState | undefined): ShownResourceState {
  if (reported === undefined || reported === 'Offline' || reported === 'Failed') return reported ?? 'Offline';
  return 'Unknown';
}

export interface GroupFacts {
  /** The ownership record, if the group was ever placed. */
  rec: OwnershipRec | undefined;
  /** The owner's node state (undefined: not a member any more, judged as Down). */
  ownerState: NodeState | undefined;
  /** Its resources as shown (resourceOnDownOwner applied already when the owner is Down). */
  resourceStates: readonly ShownResourceState[];
  /** The ownership change the coordinator would write now, if any (placement.plannedChanges). */
  change: OwnershipRec | undefined;
  /** Why the quorum store refuses writes, if it does. */
  blocked: WritesBlocked | null;
}

export interface ShownGroup {
  state: GroupState;
  /** Why the group is in that state when it is not what it looks like: a Down owner, a blocked change. */
  reason?: string;
  /** The error code of the refusal that holds the group where it is (QUORUM_DISK_FULL). */
  blockedBy?: string;
}

export function ownerIsDown(f: Pick<GroupFacts, 'rec' | 'ownerState'>): boolean {
  return !!f.rec?.node && (f.ownerState ?? 'Down') === 'Down';
}

export function shownGroup(f: GroupFacts): ShownGroup {
  const down = ownerIsDown(f);
  const state: GroupState = down ? 'Pending' : groupStateOf(f.resourceStates);
  const head = down ? `owner ${f.rec!.node} is Down; ` : '';
  if (f.change && f.blocked) {
    return { state, reason: `${head}${changeText(f.rec, f.change, down)} blocked: ${blockedText(f.blocked)}`, blockedBy: f.blocked.code };
  }
  if (!down) return { state };
  if (f.change) return { state, reason: `${head}${f.change.node ? `failing over to ${f.change.node}` : 'no other node is eligible'}` };
  return { state, reason: `${head}waiting for the coordinator` };
}

