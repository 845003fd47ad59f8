// Messages between clusterd (the node service) and its resource monitor child process, over
// Node's IPC channel. The monitor hosts resource agents so that a hung or crashing agent
// cannot hang clusterd (WSFC's resource hosting subsystem), and it is the node's watchdog.

import type { CommonProps, PrivProps, ResourceType } from '../core/types.js';

/** Everything an agent needs to act on one resource. */
export interface ResourceSpec {
  name: string;
  group: string;
  type: ResourceType;
  props: CommonProps;
  priv: PrivProps;
  node: string;
  /** The group's ownership epoch: the fencing token, exported as CLUSTERD_EPOCH. */
  epoch: number;
}

export type AgentOp = 'online' | 'offline' | 'terminate' | 'looksAlive' | 'isAlive';

export type ToMonitor =
  /** Sent once after spawn. selfFenceMs: stop everything if no ping arrives for this long. */
  | { t: 'init'; selfFenceMs: number; node: string }
  /** Watchdog feed, sent every heartbeat. */
  | { t: 'ping' }
  /**
   * Run an agent operation. `online` resolves once the resource is up (process spawned and its
   * probe, if any, passed); `offline` once it has stopped (grace, then SIGKILL of the process
   * group); `terminate` kills at once; looksAlive/isAlive resolve with data.alive.
   */
  | { t: 'call'; id: number; op: AgentOp; resource: ResourceSpec; timeoutMs: number }
  /** Stop every resource at once (SIGKILL), then answer 'fenced'. */
  | { t: 'fence'; reason: string }
  /** Planned exit: the monitor exits after answering. Resources must already be offline. */
  | { t: 'shutdown' };

export type FromMonitor =
  | { t: 'ready'; pid: number }
  | { t: 'result'; id: number; ok: true; data?: { alive?: boolean; pid?: number } }
  | { t: 'result'; id: number; ok: false; error: string }
  /** A resource's main process exited while it was supposed to be online (known at once, no polling). */
  | { t: 'exited'; resource: string; code: number | null; signal: string | null }
  /** Process group ids the monitor runs for a resource: clusterd kills them itself if the monitor dies. */
  | { t: 'pids'; resource: string; pgids: number[] }
  | { t: 'fenced'; reason: string; killed: string[] }
  | { t: 'log'; level: 'info' | 'warning' | 'error'; message: string };
