// The `ocf` resource type's private properties (an OCF resource agent, as Pacemaker runs them):
//
//   agent             PROVIDER:AGENT, required: $OCF_ROOT/resource.d/PROVIDER/AGENT (heartbeat:IPaddr2)
//   params            map of the agent's parameters, passed as OCF_RESKEY_<name>; string values
//   startTimeoutMs    bound on one start (default: the agent's meta-data, else 20 s)
//   stopTimeoutMs     bound on one stop (same default)
//   monitorTimeoutMs  bound on one monitor (same default)
//
// The monitor interval is the resource's isAliveIntervalMs (common property). Pure checks:
// config time, all or nothing, with the path of the first problem. Whether the agent exists and
// its required parameters are given is checked against the agent itself when the resource is
// saved (the resource monitor reads its meta-data), not here.

import { clusterError, fail, ok, type Result } from './errors.js';
import type { PrivMap, PrivProps, PrivValue } from './types.js';

/** OCF provider and agent names: a file name under $OCF_ROOT/resource.d, never a path. */
const agentPartRe = /^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}$/;
/** OCF parameter names (resource-agents' meta-data): they become environment variable names OCF_RESKEY_<name>. */
export const ocfParamRe = /^(?!__)[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/** A parameter value: one environment variable, no NUL (the kernel cuts there). */
const paramValueMaxChars = 4_096;
export const ocfTimeoutMsMin = 100;
export const ocfTimeoutMsMax = 86_400_000;
/** The OCF default for an action without a timeout of its own (Pacemaker's default operation timeout). */
export const ocfTimeoutMsDefault = 20_000;

export const ocfPrivKeys = ['agent', 'params', 'startTimeoutMs', 'stopTimeoutMs', 'monitorTimeoutMs'] as const;
export type OcfTimeoutKey = 'startTimeoutMs' | 'stopTimeoutMs' | 'monitorTimeoutMs';

export interface OcfPriv {
  provider: string;
  agent: string;
  /** In the order given; names checked by ocfParamRe. */
  params: [string, string][];
  startTimeoutMs: number | undefined;
  stopTimeoutMs: number | undefined;
  monitorTimeoutMs: number | undefined;
}

const has = (priv: PrivProps, key: string): boolean => Object.hasOwn(priv, key);
const isMap = (v: PrivValue | undefined): v is PrivMap => typeof v === 'object' && v !== null && !Array.isArray(v);

/** PROVIDER:AGENT split, or null when it is not one. */
export function splitAgentName(text: unknown): { provider: string; agent: string } | null {
  if (typeof text !== 'string') return null;
  const colon = text.indexOf(':');
  if (colon < 0) return null;
  const provider = text.slice(0, colon);
  const agent = text.slice(colon + 1);
  return agentPartRe.test(provider) && agentPartRe.test(agent) && !/^\.+$/.test(provider) && !/^\.+$/.test(agent) ? { provider, agent } : null;
}

export function checkOcfPriv(resource: string, priv: PrivProps): Result<void> {
  const bad = (key: string, message: string, hint?: string) =>
    fail<void>(clusterError('BAD_PROPERTY', `private property ${key} of ocf resource '${resource}' ${message}`, hint, `resources.${resource}.priv.${key}`));
  for (const key of Object.keys(priv)) {
    if (!(ocfPrivKeys as readonly string[]).includes(key)) {
      return bad(key, 'is not one of the ocf type\'s', `ocf private properties: ${ocfPrivKeys.join(', ')}; the agent's own parameters go in params`);
    }
  }
  if (!has(priv, 'agent')) return bad('agent', 'is required', 'the agent as PROVIDER:AGENT, for example heartbeat:IPaddr2 (cluster agents lists them)');
  if (splitAgentName(priv.agent) === null) {
    return bad('agent', `must be PROVIDER:AGENT (letters, digits, _.+-), not ${JSON.stringify(priv.agent)}`, 'for example heartbeat:IPaddr2 or pacemaker:Dummy (cluster agents lists them)');
  }
  if (has(priv, 'params')) {
    const params = priv.params;
    if (!isMap(params)) return bad('params', 'must be a map of parameter names to string values', 'for example params: { ip: "10.0.0.5", cidr_netmask: "24" }');
    for (const name of Object.keys(params)) {
      if (!ocfParamRe.test(name)) return bad(`params.${name}`, 'is not an OCF parameter name (letters, digits and _, not starting with a digit)');
      const value = params[name];
      if (typeof value !== 'string') return bad(`params.${name}`, `must be a string, not ${JSON.stringify(value)}`, 'quote it in the apply file: "24"');
      if (value.includes('\0') || value.length > paramValueMaxChars) return bad(`params.${name}`, `must be at most ${paramValueMaxChars} characters without NUL`);
    }
  }
  for (const key of ['startTimeoutMs', 'stopTimeoutMs', 'monitorTimeoutMs'] as const) {
    if (!has(priv, key)) continue;
    const t = priv[key];
    if (typeof t !== 'number' || !Number.isInteger(t) || t < ocfTimeoutMsMin || t > ocfTimeoutMsMax) {
      return bad(key, `must be an integer number of milliseconds in [${ocfTimeoutMsMin}, ${ocfTimeoutMsMax}], not ${JSON.stringify(t)}`);
    }
  }
  return ok(undefined);
}

/** The checked properties; throws (with the same words) when checkOcfPriv would refuse them. */
export function parseOcfPriv(resource: string, priv: PrivProps): OcfPriv {
  const checked = checkOcfPriv(resource, priv);
  if (!checked.ok) throw new Error(checked.error.message);
  const name = splitAgentName(priv.agent)!;
  const map = has(priv, 'params') && isMap(priv.params) ? priv.params : {};
  const params: [string, string][] = Object.keys(map).map((k) => [k, map[k]!]);
  const timeout = (key: OcfTimeoutKey): number | undefined => (has(priv, key) && typeof priv[key] === 'number' ? priv[key] : undefined);
  return { ...name, params, startTimeoutMs: timeout('startTimeoutMs'), stopTimeoutMs: timeout('stopTimeoutMs'), monitorTimeoutMs: timeout('monitorTimeoutMs') };
}
