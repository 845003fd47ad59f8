// Executes one cycle's Step (core/step.ts) in the order written on that type, and nothing else:
// what to do was decided by the core.

import type { LocalAction } from '../core/local.js';
import type { Step } from '../core/step.js';
import type { MoveWaiter } from './coordinator.js';

export interface StepExecDeps {
  /** Part 1: send the local manager's actions to the monitor (node/local-exec.ts). */
  monitor(actions: LocalAction[]): void;
  /** After part 1: a backup whose group stopped running here as it was fails and thaws (node/backups.ts). */
  checkBackups(): void;
  /** Parts 2 and 3 (node/coordinator.ts): true once 2c was durable and its records read back. */
  persist(step: Step, asked: MoveWaiter[]): Promise<boolean>;
  /** Part 3b: the monitor part of a local-only step planned from the records read back (core/step.ts). */
  followUp(): LocalAction[];
  /** Part 4 (node/config-log.ts): the checkpoint triggers, when the quorum log is kept. */
  maybeCheckpoint(): Promise<void>;
  /** Part 5 (node/report.ts). */
  publish(): Promise<void>;
  /** Part 6 (node/event-queue.ts): not awaited, the next cycle need not wait for the event log. */
  flushEvents(): void;
}

/** Carry out `step`: monitor, persist, settle, follow-up, checkpoint, publish, events. `asked`: the moves the persist part answers. */
export async function executeStep(d: StepExecDeps, step: Step, asked: MoveWaiter[]): Promise<void> {
  d.monitor(step.monitor);
  d.checkBackups();
  const wrote = step.settle !== null || asked.length > 0 ? await d.persist(step, asked) : false;
  if (wrote) {
    d.monitor(d.followUp());
    d.checkBackups();
  }
  if (step.checkpoint) await d.maybeCheckpoint();
  await d.publish();
  d.flushEvents();
}
