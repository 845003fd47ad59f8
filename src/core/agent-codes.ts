// What an OCF resource agent's or an LSB init script's exit code means to clusterd. Pure tables:
// the monitor's agents (monitor/ocf-agent.ts, monitor/lsb-agent.ts) classify each exit with
// them, and the local resource manager (core/local.ts) acts on the failure kind.
//
// OCF (resource-agents' ocf-returncodes, the OCF resource agent API 1.1):
//   0 success  1 generic error  2 invalid arguments  3 unimplemented  4 insufficient privileges
//   5 not installed  6 not configured  7 not running  8 running promoted  9 failed promoted
// LSB init scripts (LSB core, "Init Script Actions"): start and stop use 0-7 with the same
// meanings; status answers 0 running, 1 dead with a pid file, 2 dead with a lock file,
// 3 not running, 4 unknown.

/**
 * What a failure asks of the cluster:
 * - restart: restart in place per the resource's restart policy (and fail over when it is exhausted);
 * - failover: this node cannot run it (not installed, no permission, unimplemented here): never
 *   retry here, fail the group over at once;
 * - fatal: the configuration is wrong (bad arguments, not configured, an agent clusterd cannot
 *   drive): no node will do better, stop trying, leave the resource Failed with the reason.
 */
export type FailureKind = 'restart' | 'failover' | 'fatal';

export type OcfAction = 'start' | 'stop' | 'monitor' | 'validate-all' | 'meta-data';

/** What one exit of an action means. */
export type AgentOutcome =
  /** start, stop, validate-all, meta-data succeeded; monitor: running. */
  | { result: 'ok' }
  /** monitor/status: not running (cleanly stopped). After a stop, that is what was asked. */
  | { result: 'not-running' }
  /** stop did not succeed: ask monitor/status whether it is stopped anyway before calling it a stop failure. */
  | { result: 'check-stopped'; meaning: string }
  | { result: 'failed'; kind: FailureKind; meaning: string };

/** The name of each OCF exit code (resource-agents' names). */
export const ocfCodeNames: ReadonlyMap<number, string> = new Map([
  [0, 'OCF_SUCCESS'], [1, 'OCF_ERR_GENERIC'], [2, 'OCF_ERR_ARGS'], [3, 'OCF_ERR_UNIMPLEMENTED'], [4, 'OCF_ERR_PERM'],
  [5, 'OCF_ERR_INSTALLED'], [6, 'OCF_ERR_CONFIGURED'], [7, 'OCF_NOT_RUNNING'], [8, 'OCF_RUNNING_PROMOTED'], [9, 'OCF_FAILED_PROMOTED'],
]);

/** Failures by exit code, for start and monitor (and an LSB script's start): the kind and what it means. */
const failureByCode: ReadonlyMap<number, { kind: FailureKind; meaning: string }> = new Map([
  [1, { kind: 'restart', meaning: 'generic error' }],
  [2, { kind: 'fatal', meaning: 'invalid arguments: the resource\'s parameters are wrong (fix them; no node will do better)' }],
  [3, { kind: 'failover', meaning: 'action not implemented by the agent on this node' }],
  [4, { kind: 'failover', meaning: 'insufficient privileges on this node' }],
  [5, { kind: 'failover', meaning: 'not installed on this node (a program or file the agent needs is missing)' }],
  [6, { kind: 'fatal', meaning: 'not configured: the resource\'s configuration is wrong (fix it; no node will do better)' }],
  [7, { kind: 'restart', meaning: 'not running' }],
  [8, { kind: 'fatal', meaning: 'running promoted: promotable (master/slave) agents are not supported by clusterd' }],
  [9, { kind: 'fatal', meaning: 'failed promoted: promotable (master/slave) agents are not supported by clusterd' }],
]);

function codeText(code: number | null, signal: string | null): string {
  if (signal !== null) return `killed by ${signal}`;
  const name = code === null ? undefined : ocfCodeNames.get(code);
  return name === undefined ? `exit code ${code}` : `exit code ${code} (${name})`;
}

/** Classifies an OCF action's exit. `signal`: the agent was killed (its timeout): a generic failure. */
export function ocfOutcome(action: OcfAction, code: number | null, signal: string | null = null): AgentOutcome {
  const what = codeText(code, signal);
  if (signal !== null || code === null) {
    return action === 'stop' ? { result: 'check-stopped', meaning: what } : { result: 'failed', kind: 'restart', meaning: `${what}: timed out or killed` };
  }
  if (code === 0) return { result: 'ok' };
  if (action === 'stop') return { result: 'check-stopped', meaning: what };
  if (action === 'monitor' && code === 7) return { result: 'not-running' };
  const f = failureByCode.get(code);
  if (action === 'start' && code === 7) return { result: 'failed', kind: 'restart', meaning: `${what}: not running right after its start` };
  if (f === undefined) return { result: 'failed', kind: 'restart', meaning: `${what}: unknown code, taken as a generic error` };
  return { result: 'failed', kind: f.kind, meaning: `${what}: ${f.meaning}` };
}

/** LSB init script actions clusterd runs. */
export type LsbAction = 'start' | 'stop' | 'status';

/** Classifies an LSB init script's exit (see the header for the codes). */
export function lsbOutcome(action: LsbAction, code: number | null, signal: string | null = null): AgentOutcome {
  const what = signal !== null ? `killed by ${signal}` : `exit code ${code}`;
  if (signal !== null || code === null) {
    return action === 'stop' ? { result: 'check-stopped', meaning: what } : { result: 'failed', kind: 'restart', meaning: `${what}: timed out or killed` };
  }
  if (action === 'status') {
    if (code === 0) return { result: 'ok' };
    if (code === 3) return { result: 'not-running' };
    if (code === 1) return { result: 'failed', kind: 'restart', meaning: `${what}: program is dead and its pid file exists` };
    if (code === 2) return { result: 'failed', kind: 'restart', meaning: `${what}: program is dead and its lock file exists` };
    if (code === 4) return { result: 'failed', kind: 'restart', meaning: `${what}: program or service status is unknown` };
    return { result: 'failed', kind: 'restart', meaning: `${what}: not an LSB status code, taken as a generic error` };
  }
  if (code === 0) return { result: 'ok' };
  if (action === 'stop') return { result: 'check-stopped', meaning: what };
  const f = code <= 7 ? failureByCode.get(code) : undefined;
  if (code === 7) return { result: 'failed', kind: 'restart', meaning: `${what}: not running right after its start` };
  if (f === undefined) return { result: 'failed', kind: 'restart', meaning: `${what}: unknown code, taken as a generic error` };
  return { result: 'failed', kind: f.kind, meaning: `${what}: ${f.meaning}` };
}

/** Parses an OCF duration ("20s", "1m", "500ms", "90", "1h") to milliseconds; null if it is none. Bare numbers are seconds. */
export function ocfDurationMs(text: string | undefined): number | null {
  if (text === undefined) return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|msec|s|sec|m|min|h|hr)?\s*$/i.exec(text);
  if (m === null) return null;
  const n = Number(m[1]);
  const unit = (m[2] ?? 's').toLowerCase();
  const factor = unit === 'ms' || unit === 'msec' ? 1 : unit === 's' || unit === 'sec' ? 1_000 : unit === 'm' || unit === 'min' ? 60_000 : 3_600_000;
  return Math.round(n * factor);
}
