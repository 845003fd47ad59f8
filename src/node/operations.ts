// Operator operations that reach this node through the API: moves and drains (coordinator), and
// the ones carried out where a group runs (retry, fail, maintenance). Validation is core's
// (core/move.ts, core/local.ts, core/maintenance.ts); this file only carries the answer out.

import { clusterError, fail, ok, type Result } from '../core/errors.js';
import { operatorFail, operatorRetry, operatorCleanup, requestMaintenance } from '../core/local.js';
import { own } from '../core/table.js';
import type { MaintRequest } from '../core/maintenance.js';
import { decideMove, moveRefused } from '../core/move.js';
import { explain } from '../core/placement.js';
import type { GroupName, NodeName } from '../core/types.js';
import type { ConfigLog } from './config-log.js';
import type { Coordinator } from './coordinator.js';
import { notCoordinator, type Shell } from './shell.js';

export class Operations {
  constructor(private readonly s: Shell, private readonly log: ConfigLog, private readonly coord: Coordinator) {}

  /**
   * Operator move. It is accepted only once the ownership write that starts it is durable (the
   * stop on the owner, or the run on the target when the owner is Down or has released it): it
   * either fails at once with the store's error (QUORUM_DISK_FULL) and nothing is remembered, or
   * it succeeds and the placement plan carries out the rest. A refused move never happens later.
   */
  async requestMove(group: GroupName, node: NodeName | null): Promise<Result<NodeName>> {
    if (!this.s.isCoordinator()) return fail(notCoordinator(this.s.coordinator()));
    const d = decideMove(this.s.placementInput(), group, node);
    if (d.kind === 'refuse') return fail(d.error);
    if (d.kind === 'stay') return ok(d.target);
    const written = await this.coord.move(group, d.target);
    if (!written.ok) return fail(moveRefused(group, d.target, written.error));
    this.s.emitEvent('GROUP_MOVE_REQUESTED', 'info', `operator asked to move group ${group} to ${d.target}`, { group, node: d.target });
    return ok(d.target);
  }

  drain(node: NodeName): Result<void> {
    if (!this.s.isCoordinator()) return fail(notCoordinator(this.s.coordinator()));
    this.coord.drainNode(node);
    this.s.kick();
    return ok(undefined);
  }

  /** Group online clears a Failed (threshold) state so the coordinator places it again. */
  clearFailed(group: GroupName, resetFailovers = false): void {
    if (resetFailovers) this.coord.resetFailovers(group);
    else this.coord.clearFailed(group);
  }

  /**
   * Operator /online reaching the owner: resources this node left Failed start again (all of the
   * group's, or one). A cleanup instead resets restart counters and makes Failed resources Offline.
   */
  retryFailed(group: GroupName, resource: string | null, cleanup = false): string[] {
    const actions = (cleanup ? operatorCleanup : operatorRetry)(this.s.local(), this.s.name, group, resource);
    this.s.apply(actions);
    if (cleanup) this.s.kick();
    return actions.flatMap((a) => (a.kind === 'event' && typeof a.data?.resource === 'string' ? [a.data.resource] : []));
  }

  /** Operator /fail on a resource this node runs. */
  failResource(resource: string): Result<void> {
    const actions = operatorFail(this.s.local(), resource);
    if (actions.length === 0) return fail(clusterError('RESOURCE_NOT_FOUND', `resource '${resource}' is not Online on ${this.s.name}`, 'cluster res lists where each resource runs'));
    this.s.apply(actions);
    return ok(undefined);
  }

  why(group: GroupName) {
    return explain(this.s.placementInput(), group);
  }

  /**
   * Operator /maint or /extmaint on a disk. Maintenance lives in memory on the node that runs the
   * disk (the API forwards the request there), so a restart or a move clears it.
   */
  setMaintenance(resource: string, req: MaintRequest): Result<void> {
    const cfg = own(this.log.config.resources, resource);
    if (!cfg) return fail(clusterError('RESOURCE_NOT_FOUND', `no resource '${resource}'`, 'cluster res lists them'));
    const r = requestMaintenance(this.s.local(), this.s.name, cfg, req, this.s.o.clock.wallMs());
    if (!r.ok) return r;
    this.s.apply(r.value);
    this.s.kick();
    return ok(undefined);
  }
}
