// A fencing token (a coordinator term, a group epoch) is used only once it is recorded where a
// recovery finds it (DESIGN rule 6): in this node's copy (its floor) and in its lease slot in the
// quorum store, which a rebuild of a damaged database keeps and reads from every node. One copy
// alone may be behind: its node was cut off while another node won a term or moved a group.

import { ok, type Result } from '../core/errors.js';
import type { Floor } from '../core/load-plan.js';
import type { NodeOptions } from './options.js';

export class FloorNotes {
  /** What this node's lease slot is known to hold: the slot is written only when a floor rises past it. */
  private recorded: Floor = { term: 0, epoch: 0 };

  constructor(private readonly o: Pick<NodeOptions, 'name' | 'store' | 'localDb'>) {}

  /** Record `term` and `epoch` in the copy, then in the lease slot; the caller writes the token only if this succeeds. */
  async note(term: number, epoch: number): Promise<Result<void>> {
    const local = this.o.localDb?.noteFloor(term, epoch) ?? ok(undefined);
    if (!local.ok) return local;
    if (term <= this.recorded.term && epoch <= this.recorded.epoch) return ok(undefined);
    // The slot gets the whole floor this node knows, the tokens it read from the store included.
    const known = this.o.localDb?.readState().floor ?? { term: 0, epoch: 0 };
    const floor = { term: Math.max(term, known.term, this.recorded.term), epoch: Math.max(epoch, known.epoch, this.recorded.epoch) };
    const slot = await this.o.store.raiseLeaseFloor(this.o.name, floor);
    if (!slot.ok) return slot;
    this.recorded = floor;
    return ok(undefined);
  }
}
