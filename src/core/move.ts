// An operator's move request, validated by the coordinator before anything is remembered: the
// group exists, the target is a node, a possible owner and Up (or, with no target, the best other
// node), and the quorum store accepts the ownership write that carries the move out.

import { ClusterError, clusterError } from './errors.js';
import { own } from './table.js';
import { blockedText, chooseNode, type PlacementInput } from './placement.js';
import type { GroupName, NodeName } from './types.js';

export type MoveDecision =
  | { kind: 'refuse'; error: ClusterError }
  /** The group already belongs to the target: nothing to write. */
  | { kind: 'stay'; target: NodeName }
  | { kind: 'move'; target: NodeName };

/** Decide a move of `group` to `node` (null: the best other node) from the coordinator's placement picture. */
export function decideMove(input: PlacementInput, group: GroupName, node: NodeName | null): MoveDecision {
  const refuse = (error: ClusterError): MoveDecision => ({ kind: 'refuse', error });
  const g = own(input.config.groups, group);
  if (!g) return refuse(clusterError('GROUP_NOT_FOUND', `no group '${group}'`, 'cluster group lists the groups'));
  const owner = input.ownership[group]?.node ?? null;
  if (node !== null) {
    const view = input.nodes[node];
    if (!view) return refuse(clusterError('NODE_NOT_FOUND', `no node '${node}'`, 'cluster node lists the nodes'));
    if (g.possibleOwners.length > 0 && !g.possibleOwners.includes(node)) {
      return refuse(clusterError('NODE_NOT_POSSIBLE_OWNER', `group '${group}' cannot move to node '${node}': ${node} is not a possible owner`, `cluster group "${group}" /setowners or cluster res R /addowner:${node}`));
    }
    if (view.state !== 'Up') return refuse(clusterError('NODE_NOT_UP', `group '${group}' cannot move to node '${node}': it is ${view.state}`, `cluster node ${node} /resume, or move to another node`));
  }
  const target = node ?? chooseNode(input, group, owner ? [owner] : []);
  if (!target) return refuse(clusterError('NODE_NOT_UP', `group '${group}' has nowhere to move: no other node is Up and a possible owner`, `cluster why ${group}`));
  if (target === owner) return { kind: 'stay', target };
  const blocked = input.writesBlocked;
  if (blocked) return refuse(moveRefused(group, target, clusterError('QUORUM_DISK_FULL', `the move needs an ownership write, and ${blockedText(blocked)} (${blocked.message})`)));
  return { kind: 'move', target };
}

/** A move whose ownership write was refused: it is not remembered, and never happens later. */
export function moveRefused(group: GroupName, target: NodeName, e: ClusterError): ClusterError {
  return clusterError(e.code, `group '${group}' was not moved to ${target}, and the move is not remembered: ${e.message}`,
    e.code === 'QUORUM_DISK_FULL' ? 'free space on the quorum filesystem, then move again (cluster status shows when writes resume)' : e.hint);
}
