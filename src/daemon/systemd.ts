// systemd's service protocol for `Type=notify` units: READY=1 once the node serves, STOPPING=1 at
// a planned shutdown, and WATCHDOG=1 from the decision thread (WatchdogSec in the unit). Node.js cannot send to the notify socket (a Unix datagram socket) itself, so this runs
// `systemd-notify` with the main PID; the unit needs NotifyAccess=all for that.
// Without NOTIFY_SOCKET (not started by systemd) nothing is sent.

import { execFile } from 'node:child_process';
import type { NodeFacade } from '../node/snapshot.js';

export interface SystemdNotifier {
  stopping(): void;
}

/**
 * The watchdog is fed by a timer of the decision thread, at half the watchdog period as
 * sd_watchdog_enabled(3) advises: a clusterd whose event loop hangs stops feeding it and systemd
 * restarts it (its resource monitor has fenced it by then: the heartbeat thread fences a decision
 * loop that makes no progress for --decision-stall). It is not tied to lease renewals: while the
 * quorum store is unreachable the node has stopped its resources and waits for the store, and a
 * restart would not help.
 */
export function notifySystemd(env: NodeJS.ProcessEnv, node: NodeFacade, warn: (message: string) => void): SystemdNotifier {
  if (!env.NOTIFY_SOCKET) return { stopping() { /* not under systemd */ } };
  const send = (...state: string[]) => execFile('systemd-notify', [`--pid=${process.pid}`, ...state], { timeout: 5_000 }, (err) => {
    if (err) warn(`systemd-notify ${state.join(' ')} failed: ${err.message}`);
  });
  send('--ready', `MAINPID=${process.pid}`, `STATUS=node ${node.name} serving`);
  const usec = Number(env.WATCHDOG_USEC);
  const forUs = env.WATCHDOG_PID === undefined || Number(env.WATCHDOG_PID) === process.pid;
  let timer: NodeJS.Timeout | undefined;
  if (Number.isFinite(usec) && usec > 0 && forUs) {
    timer = setInterval(() => { if (!node.snapshot().stopped) send('WATCHDOG=1'); }, Math.max(100, usec / 2000));
    timer.unref();
  }
  return {
    stopping() {
      if (timer) clearInterval(timer);
      send('STOPPING=1');
    },
  };
}
