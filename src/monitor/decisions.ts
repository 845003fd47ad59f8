// The resource monitor's decisions and its client's supervision bounds, as pure functions and
// constants. The real monitor (monitor.ts, process-agent.ts, freezer.ts), the real client
// (client.ts) and the simulator's twin of both (sim/sim-host.ts) all decide through `decide`:
// only the OS edges (processes, signals, timers, IPC) differ between production and the twin, so
// a decision broken here is broken in the simulator too, and its checkers see it. The simulator's
// teeth plant their bug here, in the rule's own body, through a flaw switch (DecisionFlaws) that
// only the simulator sets: production decides through `decide`, built with none.
// No I/O, timers or clocks here: the callers pass the times.

import type { AgentOp } from './protocol.js';

export interface WatchdogVerdict {
  /** Stop every resource now. */
  fence: boolean;
  /** Otherwise: judge again after this long (the newest ping is younger than the deadline). */
  rearmMs: number;
}

export interface Decisions {
  /**
   * An `online` call reaching a monitor that fenced and whose fence clusterd has not acknowledged
   * yet ('unfence') is refused: the call was decided before the fence.
   */
  refuseOnline(fencedUnacknowledged: boolean): boolean;
  /** The watchdog's verdict on the age of the newest ping: fence at the self-fence deadline, else judge again when it would be reached. */
  watchdog(pingAgeMs: number, selfFenceMs: number): WatchdogVerdict;
  /** A start or a freeze that straddles a fence (the kill-all count moved since it began) must not go on. */
  straddlesFence(fencesAtStart: number, fencesNow: number): boolean;
  /** A thaw aborts a freeze under way of the same writer when it is for that freeze's backup (a thaw naming no backup aborts any). */
  thawAbortsFreeze(freezeBackup: string, thawBackup: string | undefined): boolean;
  /** The delay before restarting a monitor that crashed, and the consecutive crash count after it (a monitor that ran long enough starts the count again). */
  restart(crashes: number, uptimeMs: number): { delayMs: number; crashes: number };
  /** A monitor lost while a fence sent to it is unconfirmed: every resource died with it, so the fence holds and is reported done. */
  fenceHoldsOnLoss(fencePending: boolean): boolean;
  /** A fence asked while no monitor runs holds at once (the monitor's loss killed every resource): it is reported done without one. */
  fenceHoldsAtOnce(monitorRunning: boolean): boolean;
}

/** The client's supervision bounds (client.ts; the twin follows them). */
export const supervision = Object.freeze({
  /** Past a call's own timeout, how long before the call counts as late (the monitor answers an overrun 250 ms after it). */
  deadlockSlackMs: 1_000,
  /** A fresh monitor must answer init within this: Node starts in ~50 ms, a loaded host takes longer. */
  readyTimeoutMs: 10_000,
  /** Bound on a planned shutdown before the monitor is killed. */
  shutdownWaitMs: 5_000,
  /** Delays before restarting after consecutive crashes: a monitor that dies at start must not spin. */
  restartDelaysMs: Object.freeze([0, 100, 1_000, 5_000] as const),
  /** A monitor that ran this long resets the consecutive crash count. */
  stableUptimeMs: 30_000,
});

/**
 * Breaks of one rule each, for the simulator's teeth (sim/scenario.ts) only: the twin decides
 * through decisionsWith(its tooth's flaws), so the tooth's bug is in the rule below, not in a copy.
 * Nothing under src/ sets a flaw (`decide` is built with none, frozen); a flaw only turns a check off.
 */
export interface DecisionFlaws {
  /** watchdog: never fences. */
  noWatchdog?: boolean;
  /** refuseOnline: a fenced monitor starts what it is asked to. */
  noStartCheck?: boolean;
  /** straddlesFence: a start or freeze that straddles a fence goes on. */
  noFenceCheck?: boolean;
  /** thawAbortsFreeze: a thaw never cancels a freeze under way. */
  noFreezeAbort?: boolean;
  /** fenceHoldsOnLoss: the fence sent to a lost monitor is never reported done. */
  noFenceHoldsOnLoss?: boolean;
}

/** The decisions, with the given checks turned off (DecisionFlaws). */
export function decisionsWith(flaws: Readonly<DecisionFlaws>): Readonly<Decisions> {
  const f: Readonly<DecisionFlaws> = Object.freeze({ ...flaws });
  return Object.freeze({
    refuseOnline: (fencedUnacknowledged: boolean): boolean => fencedUnacknowledged && !f.noStartCheck,
    watchdog: (pingAgeMs: number, selfFenceMs: number): WatchdogVerdict =>
      pingAgeMs < selfFenceMs ? { fence: false, rearmMs: selfFenceMs - pingAgeMs } : { fence: !f.noWatchdog, rearmMs: selfFenceMs },
    straddlesFence: (fencesAtStart: number, fencesNow: number): boolean => fencesAtStart !== fencesNow && !f.noFenceCheck,
    thawAbortsFreeze: (freezeBackup: string, thawBackup: string | undefined): boolean => (thawBackup === undefined || thawBackup === freezeBackup) && !f.noFreezeAbort,
    restart: (crashes: number, uptimeMs: number): { delayMs: number; crashes: number } => {
      const n = uptimeMs >= supervision.stableUptimeMs ? 0 : crashes;
      return { delayMs: supervision.restartDelaysMs[Math.min(n, supervision.restartDelaysMs.length - 1)]!, crashes: n + 1 };
    },
    fenceHoldsOnLoss: (fencePending: boolean): boolean => fencePending && !f.noFenceHoldsOnLoss,
    fenceHoldsAtOnce: (monitorRunning: boolean): boolean => !monitorRunning,
  });
}

/** The decisions production takes: every check on. */
export const decide: Readonly<Decisions> = decisionsWith({});

/**
 * Online, offline and terminate calls made and not answered yet (ResourceHost.changesUnderWay),
 * for the monitor's client and the simulator's twin. Counted on a side branch of each call's
 * promise: the caller gets the call's own promise, so the order in which results reach the node
 * (and every simulator seed's schedule) is the same as without the count.
 */
export class ChangeCount {
  private n = 0;

  get value(): number {
    return this.n;
  }

  track<T>(op: AgentOp, result: Promise<T>): Promise<T> {
    if (op !== 'online' && op !== 'offline' && op !== 'terminate') return result;
    this.n++;
    const done = () => { this.n--; };
    void result.then(done, done);
    return result;
  }
}
