// What the decision loop does about the fences the heartbeat made on its own (heartbeat.ts): it
// asked the monitor itself, not waiting for this thread. Here the node says so (NODE_STALLED,
// NODE_LEASE_LOST), makes sure a 'fenced' answer follows while it is fencing (safety rule 2), and
// revokes what was assigned to it at the next ownership read, since the coordinator may have
// judged it Down meanwhile.

import { msText } from '../core/duration-text.js';
import type { Timing } from '../core/timing.js';
import { fenceReason, type FenceCounts, type HeartbeatPort } from './heartbeat.js';
import type { EmitEvent } from './options.js';

export interface FenceObserverDeps {
  name: string;
  timing: Timing;
  emitEvent: EmitEvent;
  /** A fence is under way (asked, not yet confirmed by the monitor). */
  fencing(): boolean;
  /** Ask the monitor to stop every resource; sets fencing until it answers. */
  fence(reason: string): void;
  revokeAfter(atMs: number): void;
  holdsGroups(): boolean;
}

export class FenceObserver {
  /** The heartbeat's fences this node has handled, by cause. */
  private seen: Record<keyof FenceCounts, number> = { 'lease-lost': 0, stalled: 0, paused: 0 };

  constructor(private readonly d: FenceObserverDeps) {}

  observe(h: HeartbeatPort, nowMs: number): void {
    const f = h.fences();
    const { timing, name } = this.d;
    for (const cause of ['stalled', 'paused'] as const) {
      if (f[cause].count === this.seen[cause]) continue;
      this.seen[cause] = f[cause].count;
      this.d.revokeAfter(nowMs);
      if (this.d.fencing()) continue;
      const why = cause === 'stalled' ? `its decision loop made no progress for ${msText(f[cause].forMs)} (decision-stall bound ${msText(timing.decisionStallMs)})`
        : `it was stalled for ${msText(f[cause].forMs)} (self-fence deadline ${msText(timing.selfFenceMs)})`;
      this.d.emitEvent('NODE_STALLED', 'error', `node ${name}: ${why}: stopping its resources`);
      this.d.fence(fenceReason(cause, f[cause].forMs, timing));
    }
    if (f['lease-lost'].count !== this.seen['lease-lost']) {
      // What is assigned here and not yet running may be given away too while the lease is lost:
      // revoke it at the next ownership read, even with nothing to stop.
      this.seen['lease-lost'] = f['lease-lost'].count;
      this.d.revokeAfter(nowMs);
      if (!this.d.fencing() && this.d.holdsGroups()) {
        const forMs = f['lease-lost'].forMs;
        this.d.emitEvent('NODE_LEASE_LOST', 'error', `node ${name} could not renew its lease for ${msText(forMs)} (self-fence deadline ${msText(timing.selfFenceMs)}): stopping its resources`);
        this.d.fence(fenceReason('lease-lost', forMs, timing));
      }
    }
  }
}
