// Backups on the node that owns the group: the shell around core/backup.ts. It names
// backups, carries out the state machine's actions (writer calls on the resource monitor, events),
// keeps one timer at the state machine's next wake-up, and feeds answers and ticks back.
//
// The timer is only a wake-up: the freeze limit lives in the backup record (core/backup.ts). A
// timer that fires early finds nothing due and is armed again; one that fires after a thaw finds
// nothing to do; one that is never cancelled is harmless. So no order of thaw, timer start and
// timer callback can cause a spurious timeout (seed KB915331).

import { isEventName } from '../core/events.js';
import type { EventName } from '../core/events.js';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import {
  backupView, backupViews, emptyBook, nextWakeMs, reconcileBackups, requestFreeze, requestThaw, tick, writerAnswered,
  type BackupAction, type BackupContext, type BackupView,
} from '../core/backup.js';
import type { ClusterErrorData } from '../core/errors.js';
import type { EventLevel } from '../store/types.js';
import type { ResourceSpec } from '../monitor/protocol.js';
import type { Clock } from './clock.js';
import type { ResourceHost } from './resource-host.js';

export interface BackupShell {
  name: string;
  host: ResourceHost;
  clock: Clock;
  /** The node's picture now: configuration, ownership, its local resources, whether it is stopping. */
  context(): Omit<BackupContext, 'nowMs' | 'wallMs'>;
  emitEvent(event: EventName, level: EventLevel, message: string, data?: Record<string, unknown>): void;
  /** Eight hex digits naming a new backup (random unless given: the simulator's are seeded). */
  newId?: () => string;
}

/** A stray freeze stays in `cluster status` this long: long enough for an operator to see it after the fact. */
const strayWarningMs = 3_600_000;
/** Stray freezes remembered for the warnings: a bound on a tool that freezes over and over. */
const strayWarningsMax = 8;

export interface BackupAnswer {
  view?: BackupView;
  error?: ClusterErrorData;
}

/** `8 hex digits@node`: the node that holds a backup is in its id, so any node can route to it. */
export function backupNodeOf(id: string): string | null {
  const m = /^[0-9a-f]{8}@(.+)$/.exec(id);
  return m ? m[1]! : null;
}

export class BackupManager {
  private readonly book = emptyBook();
  private cancelTimer: (() => void) | null = null;
  private closed = false;
  private timerAtMs: number | null = null;
  private readonly changes = new EventEmitter();
  /** Filesystems found frozen with no backup holding them (the monitor thawed them): status warnings for a while. */
  private readonly strays: { wallMs: number; message: string }[] = [];

  constructor(private readonly s: BackupShell) {
    this.changes.setMaxListeners(0); // one per waiting API request; they are bounded by the API
    // What the monitor's freezer did on its own (thawed a writer before a stop, thawed what an
    // earlier monitor left frozen): events in the cluster log. Subscribed before the monitor
    // starts (main.ts creates the node first), so a thaw at its very first start is seen too.
    s.host.on('log', (level: EventLevel, message: string, event?: string, data?: Record<string, unknown>) => {
      if (event?.startsWith('BACKUP_') && isEventName(event)) s.emitEvent(event, level, message, data);
      if (event === 'BACKUP_STRAY_FREEZE_THAWED') {
        this.strays.push({ wallMs: s.clock.wallMs(), message });
        this.strays.splice(0, Math.max(0, this.strays.length - strayWarningsMax));
      }
    });
  }

  freeze(target: string, limitMs: number): BackupAnswer {
    const id = `${this.s.newId?.() ?? randomBytes(4).toString('hex')}@${this.s.name}`;
    const step = requestFreeze(this.book, this.context(), { id, target, limitMs });
    this.run(step.actions);
    return step.error ? { error: step.error } : { view: this.view(id)! };
  }

  thaw(id: string): BackupAnswer {
    const step = requestThaw(this.book, this.s.clock.nowMs(), id);
    this.run(step.actions);
    const view = this.view(id);
    const out: BackupAnswer = {};
    if (view) out.view = view;
    if (step.error) out.error = step.error;
    return out;
  }

  /** Every cycle (node.ts): a backup whose group no longer runs here as it did fails and thaws. */
  check(): void {
    if (Object.keys(this.book.backups).length === 0) return;
    this.run(reconcileBackups(this.book, this.context()));
  }

  view(id: string): BackupView | undefined {
    const b = this.book.backups[id];
    return b ? backupView(b) : undefined;
  }

  /** `cluster status` warnings: the stray freezes of the last strayWarningMs on this node. */
  strayWarnings(): string[] {
    const now = this.s.clock.wallMs();
    return this.strays.filter((x) => now - x.wallMs < strayWarningMs)
      .map((x) => `${x.message} (${Math.max(0, Math.round((now - x.wallMs) / 60_000))} min ago, on ${this.s.name})`);
  }

  /** Newest first: the unfinished ones and the newest finished ones (published in this node's report). */
  list(): BackupView[] {
    return backupViews(this.book);
  }

  /** Resolves with the view once `done(view)` holds, or after `maxMs` with the view as it is then. */
  until(id: string, done: (v: BackupView) => boolean, maxMs: number): Promise<BackupView | undefined> {
    const first = this.view(id);
    if (first === undefined || done(first)) return Promise.resolve(first);
    return new Promise((resolve) => {
      let settled = false;
      const finish = (v: BackupView | undefined) => {
        if (settled) return;
        settled = true;
        cancel();
        this.changes.off('change', onChange);
        resolve(v);
      };
      const onChange = () => {
        const v = this.view(id);
        if (v === undefined || done(v)) finish(v);
      };
      this.changes.on('change', onChange);
      const cancel = this.s.clock.setTimeout(() => finish(this.view(id)), maxMs);
    });
  }

  private context(): BackupContext {
    return { ...this.s.context(), nowMs: this.s.clock.nowMs(), wallMs: this.s.clock.wallMs() };
  }

  /** Carry out actions in order; then keep the timer at the next wake-up (arm-timer actions are covered by it). */
  private run(actions: BackupAction[]): void {
    for (const a of actions) {
      if (a.kind === 'event') this.s.emitEvent(a.event, a.level, a.message, a.data);
      else if (a.kind === 'writer-call') this.call(a);
    }
    this.rearm();
    if (actions.length > 0) this.changes.emit('change');
  }

  private call(a: Extract<BackupAction, { kind: 'writer-call' }>): void {
    const spec: ResourceSpec = { ...a.spec, node: this.s.name, epoch: a.epoch, backup: { id: a.backup, quiet: a.quiet } };
    void this.s.host.call(a.op, spec, a.timeoutMs).then((r) => {
      this.run(writerAnswered(this.book, this.s.clock.nowMs(), a.id, r.ok, r.ok ? undefined : r.error));
    });
  }

  /** clusterd stops (its monitor is gone next): no more timers, no more writer calls. */
  close(): void {
    this.closed = true;
    this.cancelTimer?.();
    this.cancelTimer = null;
    this.timerAtMs = null;
  }

  private rearm(): void {
    if (this.closed) return;
    const at = nextWakeMs(this.book);
    if (at === this.timerAtMs) return;
    this.cancelTimer?.();
    this.cancelTimer = null;
    this.timerAtMs = at;
    if (at === null) return;
    this.cancelTimer = this.s.clock.setTimeout(() => {
      this.cancelTimer = null;
      this.timerAtMs = null;
      this.run(tick(this.book, this.s.clock.nowMs())); // early: nothing due, run() arms it again
    }, Math.max(0, Math.ceil(at - this.s.clock.nowMs())));
  }
}
