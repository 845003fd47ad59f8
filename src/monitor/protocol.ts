// Messages between clusterd (the node service) and its resource monitor child process, over
// Node's IPC channel. The monitor hosts resource agents so that a hung or crashing agent
// cannot hang clusterd (WSFC's resource hosting subsystem), and it is the node's watchdog.

import type { FailureKind } from '../core/agent-codes.js';
import type { CommonProps, PrivProps, ResourceType } from '../core/types.js';

/** Everything an agent needs to act on one resource. */
export interface ResourceSpec {
  name: string;
  group: string;
  type: ResourceType;
  props: CommonProps;
  priv: PrivProps;
  node: string;
  /** The node's address (the host of its --listen), for ${CLUSTERD_NODE_ADDRESS}; absent when it listens on a wildcard. */
  nodeAddress?: string;
  /** The cluster's name: disks record it in their private sectors (another cluster's record is watched, not trusted). */
  cluster?: string;
  /** The group's ownership epoch: the fencing token, exported as CLUSTERD_EPOCH. */
  epoch: number;
  /** Private sectors of the disks this resource depends on (transitively): CLUSTERD_DISK_SECTOR. */
  diskSectors?: string[];
  /**
   * freeze and thaw calls (backups): the backup, and the resources whose health checks
   * pause while this writer is frozen (the writer and what runs above it in its group).
   */
  backup?: { id: string; quiet: string[] };
}

/**
 * maintOffline / maintOnline: a disk entering / leaving extended maintenance (dismount and stop
 * device checks / remount and resume them) while the resource stays Online.
 */
export type AgentOp = 'online' | 'offline' | 'terminate' | 'looksAlive' | 'isAlive' | 'maintOffline' | 'maintOnline' | BackupOp | AgentInfoOp;

/**
 * Agents that run other programs (ocf, lsb): `validate` checks a resource before it is saved
 * (the agent exists, its required parameters are given, validate-all passes) and answers with
 * data.check; `describe` lists the agents installed (spec.priv.agent absent) or describes one
 * (spec.priv.agent = PROVIDER:AGENT), answering with data.agents or data.agent.
 */
export type AgentInfoOp = 'validate' | 'describe';

/** One parameter of an OCF agent, from its meta-data. */
export interface AgentParam {
  name: string;
  required: boolean;
  default?: string;
  shortdesc?: string;
}

/** An OCF agent as its meta-data describes it. */
export interface AgentInfo {
  /** PROVIDER:AGENT */
  name: string;
  shortdesc?: string;
  params: AgentParam[];
  /** Action timeouts and the monitor interval the meta-data advertises, in ms. */
  timeoutsMs: { start?: number; stop?: number; monitor?: number };
  monitorIntervalMs?: number;
}

/** What `validate` found: no problem, or the first one with its error code (core/errors.ts). */
export interface AgentCheck {
  problem?: { code: 'AGENT_NOT_FOUND' | 'AGENT_PARAM_MISSING' | 'AGENT_INVALID' | 'AGENT_CHECK_FAILED'; message: string; hint?: string };
  /** The agent's advertised monitor interval (ms), used when the resource sets no isAliveIntervalMs. */
  monitorIntervalMs?: number;
}

/**
 * Backups: freeze a writer's writes (its declared action: signals, commands, fsfreeze)
 * or thaw them. Carried out by monitor/freezer.ts, which records what it froze durably.
 */
export type BackupOp = 'freeze' | 'thaw';

/** What a successful call may return. `warning`: something an operator should see (an event), the call still succeeded. */
export interface CallData {
  alive?: boolean;
  /** A check that finds the resource dead: why, when the agent knows (`process exited (exit code 3)`). */
  why?: string;
  pid?: number;
  warning?: string;
  /** validate: the verdict. */
  check?: AgentCheck;
  /** describe without an agent: PROVIDER:AGENT of every agent installed. */
  agents?: string[];
  /** describe with an agent. */
  agent?: AgentInfo;
}

/** The disk's private sector: a small fixed file at the root of the disk (its path, or its mount point). */
export const diskSectorFile = '.clusterd-sector';

/** Where a disk's private sector lives, from its private properties; null if they name no root. */
export function diskSectorPath(priv: PrivProps): string | null {
  const root = typeof priv.path === 'string' && priv.path !== '' ? priv.path : typeof priv.mountPoint === 'string' && priv.mountPoint !== '' ? priv.mountPoint : null;
  return root === null ? null : `${root.replace(/\/+$/, '')}/${diskSectorFile}`;
}

/**
 * Monotonic milliseconds of the host (CLOCK_MONOTONIC, the same in every thread and process of
 * the machine): pings carry their send time on it, so the monitor judges a ping's age whatever
 * delayed its reading.
 */
export function monoMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/**
 * The heartbeat channel: a Unix socket the monitor listens on, apart from clusterd's IPC channel,
 * so that the heartbeat thread feeds the watchdog without waiting behind clusterd's main thread.
 * One line per message: `ping SENTMS` (monoMs at sending) or `fence REASON`.
 */
export function heartbeatLine(msg: { t: 'ping'; sentMs: number } | { t: 'fence'; reason: string }): string {
  return msg.t === 'ping' ? `ping ${msg.sentMs}\n` : `fence ${msg.reason.replace(/\n/g, ' ')}\n`;
}

export function parseHeartbeatLine(line: string): { t: 'ping'; sentMs: number } | { t: 'fence'; reason: string } | null {
  if (line.startsWith('ping ')) {
    const sentMs = Number(line.slice(5));
    return Number.isFinite(sentMs) ? { t: 'ping', sentMs } : null;
  }
  if (line.startsWith('fence ')) return { t: 'fence', reason: line.slice(6) };
  return null;
}

export type ToMonitor =
  /**
   * Sent once after spawn. selfFenceMs: stop everything if no ping arrives for this long.
   * heartbeatSocket: where to listen for the heartbeat channel (pings and fences from clusterd's heartbeat thread).
   */
  /** umask: the one resources start with (clusterd itself runs with 077; a resource's files are its own to share). */
  | { t: 'init'; selfFenceMs: number; node: string; heartbeatSocket?: string; umask?: number; /** The nice resources start with: what clusterd was started with (its own threads run raised). */ resourceNice?: number }
  /** Watchdog feed over IPC (when no heartbeat thread feeds it). sentMs: monoMs at sending. */
  | { t: 'ping'; sentMs?: number }
  /**
   * Run an agent operation. `online` resolves once the resource is up (process spawned and its
   * probe, if any, passed); `offline` once it has stopped (grace, then SIGKILL of the process
   * group); `terminate` kills at once; looksAlive/isAlive resolve with data.alive.
   */
  | { t: 'call'; id: number; op: AgentOp; resource: ResourceSpec; timeoutMs: number }
  /** Several calls in one message (clusterd batches the calls it sends in one turn); each as if sent alone, in order. */
  | { t: 'calls'; calls: { t: 'call'; id: number; op: AgentOp; resource: ResourceSpec; timeoutMs: number }[] }
  /** Answer with the same echo at once: clusterd asks when a call is late, to tell a busy monitor from a deadlocked one. */
  | { t: 'echo'; seq: number }
  /**
   * Stop every resource at once (SIGKILL), then answer 'fenced'. From a fence on (its own
   * watchdog's or this one) the monitor refuses `online` until 'unfence': calls that clusterd
   * decided before it learned of the fence may still be in the channel, and must not start
   * anything.
   */
  | { t: 'fence'; reason: string }
  /** clusterd has applied a 'fenced' answer: calls sent from now on were decided after the fence. */
  | { t: 'unfence' }
  /** Planned exit: the monitor exits after answering. Resources must already be offline. */
  | { t: 'shutdown' };

export type FromMonitor =
  | { t: 'ready'; pid: number }
  | { t: 'result'; id: number; ok: true; data?: CallData }
  /** failure: what a failed online or check asks of the cluster (core/agent-codes.ts); restart when absent. */
  | { t: 'result'; id: number; ok: false; error: string; failure?: FailureKind }
  /** A resource's main process exited while it was supposed to be online (known at once, no polling). */
  | { t: 'exited'; resource: string; code: number | null; signal: string | null }
  /** Process group ids the monitor runs for a resource: clusterd kills them itself if the monitor dies. */
  | { t: 'pids'; resource: string; pgids: number[] }
  | { t: 'fenced'; reason: string; killed: string[] }
  /** event (optional): a stable event id for clusterd's event log (backups: BACKUP_LEFTOVER_THAWED...), with its data. */
  | { t: 'log'; level: 'info' | 'warning' | 'error'; message: string; event?: string; data?: Record<string, unknown> }
  /**
   * A disk's private sector shows a newer epoch than this node's: another node has taken the
   * disk. The agent has stopped writing to it; clusterd must stop its dependents at once.
   */
  | { t: 'lost'; resource: string; reason: string }
  /** The answer to an echo: the monitor's loop runs. */
  | { t: 'echo'; seq: number }
  /** Several messages in one (the monitor batches what it sends in one turn); each as if sent alone, in order. */
  | { t: 'batch'; msgs: FromMonitor[] };
