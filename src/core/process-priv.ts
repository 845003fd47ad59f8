// The `process` type's private properties: one parser, used when a value is saved (the
// coordinator, `cluster apply`) and by the agent that runs it (monitor/process-agent.ts), so that
// what the configuration accepts is exactly what the agent can run. Pure: facts of a node (a user
// exists there, a directory exists there) are checked by the agent on that node before it starts
// the process.
//
//   command         the program to run (required); never through a shell
//   args            its arguments, a list of strings
//   cwd             an absolute directory; default `/` (processDefaultCwd), never clusterd's own
//   env             a list of KEY=VALUE entries added to the environment
//   user            a user name or a numeric uid (0 or more) to run as
//   probe           tcp:HOST:PORT, http(s)://URL or cmd:COMMAND ARG... (health and readiness)
//   probeTimeoutMs  bound on one probe attempt, in [10, 600000], default 2000
// plus the backup writer keys of writer-props.ts (checked there).
//
// Node values: `${CLUSTERD_NODE_NAME}` and `${CLUSTERD_NODE_ADDRESS}` in args, env values, probe
// and cwd are replaced on the node that starts the process, by that node's name and address (the
// host of its --listen), so one configuration serves "this machine's address" on every node.
// `$${NAME}` is a literal `${NAME}`. Any other `${...}` is refused when the configuration is saved.

import type { PrivProblem, PrivProps } from './types.js';
import { writerPrivKeys } from './writer-props.js';

export type Probe =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'http'; url: URL }
  | { kind: 'cmd'; argv: [string, ...string[]] };

export interface ProcessPriv {
  command: string;
  args: string[];
  /** Always set: processDefaultCwd when the configuration gives none. */
  cwd: string;
  env: string[];
  /** A KEY=VALUE file on the node, read at each start: the secrets never travel through the cluster, only this path. */
  secretEnvFile: string | undefined;
  user: string | number | undefined;
  probe: Probe | undefined;
  probeText: string | undefined;
  probeTimeoutMs: number;
}

/** Where a process runs when its configuration names no directory: `/`, never clusterd's working directory (a checkout, a home). */
export const processDefaultCwd = '/';
/** Default bound on one probe attempt (a connect, a GET, a command). */
export const probeTimeoutMsDefault = 2_000;
/** Why these: under 10 ms nothing answers; over 10 min a probe is a hang. */
export const probeTimeoutMsMin = 10;
export const probeTimeoutMsMax = 600_000;
/** Highest uid a process may run as: 2^32 - 2 (2^32 - 1 is (uid_t) -1, "no change", which spawn refuses). */
const uidMax = 4_294_967_294;

export const processPrivKeys: readonly string[] = ['command', 'args', 'cwd', 'env', 'secretEnvFile', 'user', 'probe', 'probeTimeoutMs', ...writerPrivKeys];

const userNameRe = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/;
const envKeyRe = /^[A-Za-z_][A-Za-z0-9_]*$/;
const hasNul = (s: string) => s.includes('\0');

/** The names a process's settings may use, each replaced by the starting node's value. */
export const nodeValueNames = ['CLUSTERD_NODE_NAME', 'CLUSTERD_NODE_ADDRESS'] as const;
export type NodeValueName = (typeof nodeValueNames)[number];
/** A node's values; an address is undefined when the node listens on a wildcard (0.0.0.0, ::). */
export type NodeValues = Record<NodeValueName, string | undefined>;
/**
 * What a configuration is checked with when it is saved, away from any node: the names are
 * known, the values stand in for any node's (every address is a valid host in a probe or URL).
 */
export const nodeValuesForCheck: Readonly<NodeValues> = Object.freeze({ CLUSTERD_NODE_NAME: 'node', CLUSTERD_NODE_ADDRESS: '127.0.0.1' });
/** The properties where node values are replaced: strings or lists of strings (env: the values after `=`). */
const substitutedKeys: readonly string[] = ['args', 'env', 'probe', 'cwd'];

/** `text` with `${NAME}` replaced by `values`, `$${NAME}` by a literal `${NAME}`; or what is wrong. */
export function substituteNodeValues(text: string, values: NodeValues): { ok: true; value: string } | { ok: false; message: string } {
  let out = '';
  let i = 0;
  while (i < text.length) {
    const at = text.indexOf('${', i);
    if (at < 0) { out += text.slice(i); break; }
    const end = text.indexOf('}', at + 2);
    if (end < 0) return { ok: false, message: `has '\${' without a closing '}' in ${JSON.stringify(text)}` };
    const escaped = at > i && text[at - 1] === '$';
    out += text.slice(i, escaped ? at - 1 : at);
    const name = text.slice(at + 2, end);
    if (escaped) out += `\${${name}}`;
    else if (!(nodeValueNames as readonly string[]).includes(name)) {
      return { ok: false, message: `uses \${${name}}, which is not a node value (known: ${nodeValueNames.map((n) => `\${${n}}`).join(', ')}; write $\${${name}} for the literal text)` };
    } else {
      const v = values[name as NodeValueName];
      if (v === undefined) {
        return { ok: false, message: `uses \${${name}}, but this node's address is not known: it listens on a wildcard address (set clusterd start --listen to the machine's own address)` };
      }
      out += v;
    }
    i = end + 1;
  }
  return { ok: true, value: out };
}

/** `priv` with node values replaced in args, env, probe and cwd; problems name the property. */
function withNodeValues(priv: PrivProps, values: NodeValues, bad: (key: string, message: string) => void): PrivProps {
  const out: PrivProps = { ...priv };
  const one = (key: string, text: string): string => {
    const r = substituteNodeValues(text, values);
    if (r.ok) return r.value;
    bad(key, r.message);
    return text;
  };
  for (const key of substitutedKeys) {
    if (!Object.prototype.hasOwnProperty.call(priv, key)) continue;
    const v = priv[key];
    if (typeof v === 'string') out[key] = one(key, v);
    else if (Array.isArray(v) && v.every((x) => typeof x === 'string')) {
      out[key] = key === 'env'
        ? v.map((pair: string) => { const eq = pair.indexOf('='); return eq < 0 ? pair : `${pair.slice(0, eq + 1)}${one(key, pair.slice(eq + 1))}`; })
        : v.map((x: string) => one(key, x));
    }
  }
  return out;
}

/**
 * Every problem of `priv` at once, or the parsed properties with node values replaced by
 * `values` (the starting node's; by default the stand-ins of a check at save time).
 */
export function parseProcessPriv(rawPriv: PrivProps, values: NodeValues = nodeValuesForCheck): { ok: true; value: ProcessPriv } | { ok: false; problems: PrivProblem[] } {
  const problems: PrivProblem[] = [];
  const bad = (key: string, message: string, hint?: string) => { problems.push(hint === undefined ? { key, message } : { key, message, hint }); };
  for (const key of Object.keys(rawPriv)) {
    if (!processPrivKeys.includes(key)) bad(key, 'is not a property of process resources', `process properties: ${processPrivKeys.join(', ')}`);
  }
  const priv = withNodeValues(rawPriv, values, bad);
  const get = (key: string) => (Object.prototype.hasOwnProperty.call(priv, key) ? priv[key] : undefined);

  const command = get('command');
  if (command === undefined) bad('command', 'is required (the program to run)', '/priv command=/usr/bin/myservice');
  else if (typeof command !== 'string' || command.trim() === '' || hasNul(command)) bad('command', `must be a program (a non-empty string without NUL), not ${JSON.stringify(command)}`);

  const list = (key: string): string[] => {
    const v = get(key);
    if (v === undefined) return [];
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) { bad(key, 'must be a list of strings', `a JSON list: /priv ${key}='["a","b"]'`); return []; }
    if (v.some(hasNul)) bad(key, 'must not hold a NUL character');
    return v;
  };
  const args = list('args');
  const env = list('env');
  for (const pair of env) {
    const eq = pair.indexOf('=');
    if (eq <= 0 || !envKeyRe.test(pair.slice(0, eq))) { bad('env', `must hold KEY=VALUE entries (KEY: letters, digits, _), not ${JSON.stringify(pair)}`); break; }
  }

  const cwdValue = get('cwd');
  let cwd = processDefaultCwd;
  if (cwdValue !== undefined) {
    if (typeof cwdValue !== 'string' || !cwdValue.startsWith('/') || hasNul(cwdValue)) bad('cwd', `must be an absolute directory path, not ${JSON.stringify(cwdValue)}`);
    else cwd = cwdValue;
  }

  const secretEnvFile = get('secretEnvFile');
  if (secretEnvFile !== undefined && (typeof secretEnvFile !== 'string' || !secretEnvFile.startsWith('/') || hasNul(secretEnvFile))) {
    bad('secretEnvFile', `must be an absolute path to a KEY=VALUE file on the node, not ${JSON.stringify(secretEnvFile)}`);
  }

  const user = get('user');
  let runAs: string | number | undefined;
  if (user !== undefined) {
    if (typeof user === 'number') {
      if (!Number.isInteger(user) || user < 0 || user > uidMax) bad('user', `must be a user name or a uid in [0, ${uidMax}], not ${user}`);
      else runAs = user;
    } else if (typeof user === 'string' && /^\d+$/.test(user) && Number(user) <= uidMax) runAs = Number(user);
    else if (typeof user === 'string' && userNameRe.test(user)) runAs = user;
    else bad('user', `must be a user name or a uid (0 or more), not ${JSON.stringify(user)}`);
  }

  const timeout = get('probeTimeoutMs') ?? probeTimeoutMsDefault;
  if (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < probeTimeoutMsMin || timeout > probeTimeoutMsMax) {
    bad('probeTimeoutMs', `must be a whole number of milliseconds in [${probeTimeoutMsMin}, ${probeTimeoutMsMax}], not ${JSON.stringify(timeout)}`);
  }

  const probeText = get('probe');
  let probe: Probe | undefined;
  if (probeText !== undefined) {
    if (typeof probeText !== 'string') bad('probe', 'must be tcp:HOST:PORT, an http(s):// URL or cmd:COMMAND ARG...');
    else {
      const p = parseProbe(probeText);
      if (typeof p === 'string') bad('probe', p, 'tcp:127.0.0.1:8080, http://127.0.0.1:8080/health or cmd:/usr/bin/check');
      else probe = p;
    }
  }
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    value: { command: command as string, args, cwd, env, secretEnvFile: secretEnvFile as string | undefined, user: runAs, probe, probeText: probeText as string | undefined, probeTimeoutMs: timeout as number },
  };
}

/** The checker of the registry (priv.ts). */
export function processPrivProblems(priv: PrivProps): PrivProblem[] {
  const r = parseProcessPriv(priv);
  return r.ok ? [] : r.problems;
}

/** A probe, or what is wrong with its text. */
export function parseProbe(text: string): Probe | string {
  if (hasNul(text)) return 'must not hold a NUL character';
  if (text.startsWith('tcp:')) {
    const colon = text.lastIndexOf(':');
    const host = text.slice(4, colon).replace(/^\[(.*)\]$/, '$1'); // [::1] for IPv6
    const port = Number(text.slice(colon + 1));
    if (host === '' || !Number.isInteger(port) || port < 1 || port > 65535) return `must be tcp:HOST:PORT, not '${text}'`;
    return { kind: 'tcp', host, port };
  }
  if (text.startsWith('http://') || text.startsWith('https://')) {
    try {
      const url = new URL(text);
      if (url.hostname === '') return `is not a valid URL: '${text}'`;
      return { kind: 'http', url };
    } catch {
      return `is not a valid URL: '${text}'`;
    }
  }
  if (text.startsWith('cmd:')) {
    // Split on blanks, never through a shell: what is written is what runs.
    const argv = text.slice(4).trim().split(/\s+/).filter((arg) => arg !== '');
    const [command, ...args] = argv;
    if (command === undefined) return 'cmd: needs a command';
    return { kind: 'cmd', argv: [command, ...args] };
  }
  return `must start with tcp:, http://, https:// or cmd:, not '${text}'`;
}
