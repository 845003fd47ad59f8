// The `cluster` command line: argv -> one typed command, or a BAD_ARGUMENT / BAD_PROPERTY error.
// Pure: no I/O, no environment. Syntax is cluster.exe's (`cluster [CLUSTER|.] res "Disk H:"
// /online /wait:30`) with Unix spellings beside it (`--online`, `--move=n2`, `--json`).

import { clusterError, fail, ok, type ClusterError, type Result } from '../core/errors.js';
import { resourceTypes, roles, type Role, type CommonProps, type PrivProps, type PrivValue, type ResourceType } from '../core/types.js';
import type { GroupPatch } from '../api/types.js';
import { freezeLimitMsMax, freezeLimitMsMin } from '../core/backup.js';

// ---------------------------------------------------------------------------------------------
// The command union

export type HelpTopic = 'main' | 'node' | 'group' | 'resource' | 'status' | 'log' | 'why' | 'apply' | 'export' | 'checkpoint' | 'backup' | 'import' | 'agents' | 'credentials' | 'dashboard';
export type NodeAction = 'pause' | 'resume' | 'drain' | 'evict';

export interface GlobalOptions {
  /** Print the raw API JSON instead of tables. */
  json: boolean;
  /** --endpoint value (comma-separated list allowed); null: CLUSTERD_ENDPOINT or the default. */
  endpoint: string | null;
}

export type Command =
  | { kind: 'help'; topic: HelpTopic }
  | { kind: 'node-status'; node: string | null }
  | { kind: 'node-action'; node: string; action: NodeAction }
  | { kind: 'group-status'; group: string | null; onNode: string | null }
  | { kind: 'group-create'; group: string; patch: GroupPatch }
  | { kind: 'group-delete'; group: string }
  | { kind: 'group-online' | 'group-offline'; group: string; waitSeconds: number }
  | { kind: 'group-move'; group: string; node: string | null; waitSeconds: number }
  | { kind: 'group-prop-list'; group: string }
  /** /prop:K=V and /setowners:N1,N2 (which sets preferredOwners). */
  | { kind: 'group-prop-set'; group: string; patch: GroupPatch }
  | { kind: 'group-list-owners'; group: string }
  | { kind: 'resource-status'; resource: string | null; onNode: string | null }
  | { kind: 'resource-create'; resource: string; group: string; type: ResourceType; props: Partial<CommonProps>; priv: PrivProps }
  | { kind: 'resource-delete'; resource: string }
  | { kind: 'resource-online' | 'resource-offline'; resource: string; waitSeconds: number }
  /** Moves the resource's group. */
  | { kind: 'resource-move'; resource: string; node: string | null; waitSeconds: number }
  | { kind: 'resource-fail'; resource: string }
  /** Pacemaker's resource cleanup: restart counters, failover history and the Failed state reset; waits for the resource to leave Failed. */
  | { kind: 'resource-cleanup'; resource: string; waitSeconds: number }
  | { kind: 'resource-prop-list'; resource: string; which: 'prop' | 'priv' }
  | { kind: 'resource-prop-set'; resource: string; props: Partial<CommonProps>; priv: PrivProps }
  | { kind: 'resource-dep'; resource: string; op: 'add' | 'remove'; dependency: string }
  | { kind: 'resource-list-deps'; resource: string }
  /** Owners of a resource are its group's possible owners. */
  | { kind: 'resource-owner'; resource: string; op: 'add' | 'remove'; node: string }
  | { kind: 'resource-list-owners'; resource: string }
  /**
   * /maint (query: on null), /maint:on|off|1|0, /extmaint:1|0. waitSeconds bounds the wait for the
   * internal state to settle (0: return at once), so that no "System error 997" is ever needed.
   */
  | { kind: 'resource-maint'; resource: string; mode: 'maint' | 'extmaint'; on: boolean | null; waitSeconds: number }
  /** /waitmaint[:S] (and the article's /waitmaintpending): block until the internal state is stable. */
  | { kind: 'resource-waitmaint'; resource: string; waitSeconds: number }
  | { kind: 'status'; watch: boolean }
  | { kind: 'log'; follow: boolean; limit: number }
  | { kind: 'why'; group: string }
  | { kind: 'checkpoint' }
  /** The OCF agents of the answering node (agent null), or one agent's parameters (PROVIDER:AGENT). */
  | { kind: 'agents'; agent: string | null }
  | { kind: 'apply'; file: string; dryRun: boolean; prune: boolean }
  /** Print the live configuration as an apply file. */
  | { kind: 'export' }
  /** Print an apply file translated from a Pacemaker CIB (no cluster needed). */
  | { kind: 'import-pacemaker'; file: string }
  /** Backups. limitMs null: the server's default (60 s). quiet: print only the backup id. */
  | { kind: 'backup-freeze'; target: string; limitMs: number | null; quiet: boolean }
  | { kind: 'backup-thaw'; id: string }
  | { kind: 'backup-status'; id: string | null }
  /** Freeze GROUP, run argv (the snapshot command) here, thaw, report. */
  | { kind: 'backup-run'; target: string; limitMs: number | null; argv: string[] }
  /** Mint a credential for USER; out: write it as a credential file there (else print it). */
  | { kind: 'credentials-add'; user: string; role: Role; out: string | null }
  | { kind: 'credentials-list' }
  | { kind: 'credentials-revoke'; user: string }
  /** A one-time login URL of the dashboard (printed; url: only the URL). */
  | { kind: 'dashboard'; urlOnly: boolean };

export interface ParsedArgs {
  command: Command;
  options: GlobalOptions;
}

// ---------------------------------------------------------------------------------------------
// Bounds and defaults (cluster.exe's waits)

/** cluster.exe waits this long for a resource /online or /offline without /wait. */
export const resourceWaitSecondsDefault = 10;
/** cluster.exe waits this long for a group /move, /online, /offline without /wait. */
export const groupWaitSecondsDefault = 20;
/**
 * /extmaint waits this long for the internal dismount or remount (a large filesystem's mount can
 * take a while; the agent's own bound is the resource's pending timeout). /maint waits the
 * resource default: the change itself is immediate, only the views catch up.
 */
export const extMaintWaitSecondsDefault = 60;
/** Bare /wait means "until done" in cluster.exe; we still stop after an hour so a script never hangs. */
export const waitSecondsMax = 3_600;
export const logLimitDefault = 50;
/** The event store is bounded anyway; more than this on one screen is not a log, it is an export. */
export const logLimitMax = 100_000;

// ---------------------------------------------------------------------------------------------
// Lexing: argv -> words and switches

interface SwitchToken {
  /** Lower-cased, prefix (/ - --) stripped. */
  name: string;
  value: string | null;
  /** As typed, for messages. */
  raw: string;
  /** K=V words that followed a /prop or /priv switch. */
  pairs: string[];
}

interface Lexed {
  words: string[];
  switches: SwitchToken[];
}

const switchRe = /^(?:--|-|\/)([A-Za-z][A-Za-z0-9-]*|\?)(?:[:=]([\s\S]*))?$/;
/** Unix-style flags whose value may be the next argument (`--endpoint URL`, `-f FILE`). */
const flagsWithNextValue = new Set(['endpoint', 'limit', 'n', 'f', 'file', 'timeout', 'role', 'out']);
const isPairWord = (w: string): boolean => /^[^=]+=/.test(w);
const takesPairs = (name: string): boolean => name.startsWith('prop') || name.startsWith('priv');

function lex(argv: readonly string[]): Result<Lexed> {
  const words: string[] = [];
  const switches: SwitchToken[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = switchRe.exec(arg);
    const last = switches[switches.length - 1];
    if (!m) {
      // `/prop K=V K2=V2`: cluster.exe's prop-list follows the switch as separate words.
      if (last && takesPairs(last.name) && isPairWord(arg)) last.pairs.push(arg);
      else words.push(arg);
      continue;
    }
    const name = m[1]!.toLowerCase();
    let value = m[2] ?? null;
    if (value === null && flagsWithNextValue.has(name)) {
      if (i + 1 >= argv.length) return fail(badArg(`${arg} needs a value`, `for example ${arg} ${name === 'endpoint' ? 'http://127.0.0.1:7400' : 'VALUE'}`));
      value = argv[++i]!;
    }
    switches.push({ name, value, raw: arg, pairs: [] });
  }
  return ok({ words, switches });
}

// ---------------------------------------------------------------------------------------------
// Switch tables

type ValueRule = 'none' | 'optional' | 'required';

interface SwitchSpec {
  /** Canonical name (what the command builder looks up). */
  name: string;
  /** cluster.exe abbreviations: any prefix of `full` at least `min` long. */
  full?: string;
  min?: number;
  aliases?: readonly string[];
  value: ValueRule;
  /** Shown in usage and in "valid switches" hints. */
  usage: string;
}

const sw = (name: string, value: ValueRule, usage: string, extra: Partial<SwitchSpec> = {}): SwitchSpec =>
  ({ name, value, usage, ...extra });

const nodeSwitches: readonly SwitchSpec[] = [
  sw('status', 'none', '/status', { full: 'status', min: 4 }),
  sw('pause', 'none', '/pause'),
  sw('resume', 'none', '/resume'),
  sw('drain', 'none', '/drain'),
  sw('evict', 'none', '/evict'),
];

const groupSwitches: readonly SwitchSpec[] = [
  sw('status', 'none', '/status', { full: 'status', min: 4 }),
  sw('create', 'none', '/create'),
  sw('delete', 'none', '/delete'),
  sw('online', 'none', '/online', { full: 'online', min: 2 }),
  sw('offline', 'none', '/offline', { full: 'offline', min: 3 }),
  sw('move', 'optional', '/move[:NODE]', { aliases: ['moveto'] }),
  sw('prop', 'optional', '/prop[:K=V]', { full: 'properties', min: 4 }),
  sw('setowners', 'required', '/setowners:N1,N2'),
  sw('listowners', 'none', '/listowners'),
  sw('wait', 'optional', '/wait[:SECONDS]'),
  sw('node', 'required', '/node:NODE'),
];

const resourceSwitches: readonly SwitchSpec[] = [
  sw('status', 'none', '/status', { full: 'status', min: 4 }),
  sw('create', 'none', '/create /group:G /type:T'),
  sw('delete', 'none', '/delete'),
  sw('online', 'none', '/online', { full: 'online', min: 2 }),
  sw('offline', 'none', '/offline', { full: 'offline', min: 3 }),
  sw('move', 'optional', '/move[:NODE]', { aliases: ['moveto'] }),
  sw('fail', 'none', '/fail'),
  sw('cleanup', 'none', '/cleanup'),
  sw('prop', 'optional', '/prop[:K=V]', { full: 'properties', min: 4 }),
  sw('priv', 'optional', '/priv[:K=V]', { full: 'privproperties', min: 4 }),
  sw('adddep', 'required', '/adddep:RES', { full: 'adddependency', min: 6 }),
  sw('removedep', 'required', '/removedep:RES', { full: 'removedependency', min: 9 }),
  sw('listdep', 'none', '/listdep', { full: 'listdependencies', min: 7 }),
  sw('addowner', 'required', '/addowner:NODE'),
  sw('removeowner', 'required', '/removeowner:NODE'),
  sw('listowners', 'none', '/listowners'),
  sw('maint', 'optional', '/maint[:on|off|1|0]', { full: 'maintenance', min: 5 }),
  sw('extmaint', 'optional', '/extmaint[:1|0]', { full: 'extmaintenance', min: 8 }),
  sw('waitmaint', 'optional', '/waitmaint[pending][:SECONDS]', { aliases: ['waitmaintpending'] }),
  sw('wait', 'optional', '/wait[:SECONDS]'),
  sw('group', 'required', '/group:GROUP'),
  sw('type', 'required', '/type:TYPE'),
  sw('node', 'required', '/node:NODE'),
];

const statusSwitches: readonly SwitchSpec[] = [sw('watch', 'none', '--watch', { aliases: ['w'] })];
const logSwitches: readonly SwitchSpec[] = [
  sw('follow', 'none', '--follow'),
  sw('limit', 'required', '--limit N', { aliases: ['n'] }),
];
const applySwitches: readonly SwitchSpec[] = [
  sw('file', 'required', '-f FILE', { aliases: ['f'] }),
  sw('dry-run', 'none', '--dry-run', { aliases: ['dryrun'] }),
  sw('prune', 'none', '--prune'),
];

function matches(spec: SwitchSpec, name: string): boolean {
  if (name === spec.name || spec.aliases?.includes(name)) return true;
  return spec.full !== undefined && spec.min !== undefined && name.length >= spec.min && spec.full.startsWith(name);
}

interface SwitchUse {
  value: string | null;
  pairs: string[];
  raw: string;
}
type Switches = Map<string, SwitchUse>;

/** Match every switch against `specs`; unknown ones, bad values and repeats are errors. */
function resolveSwitches(object: string, specs: readonly SwitchSpec[], tokens: readonly SwitchToken[]): Result<Switches> {
  const out: Switches = new Map();
  for (const t of tokens) {
    const spec = specs.find((s) => matches(s, t.name));
    if (!spec) {
      return fail(badArg(`unknown switch '${t.raw}' for ${object}`,
        `valid switches for ${object}: ${specs.map((s) => s.usage).join(', ')}; see cluster ${object} /?`));
    }
    if (spec.value === 'none' && t.value !== null) return fail(badArg(`switch ${t.raw} takes no value`));
    if (spec.value === 'required' && (t.value === null || t.value === '')) {
      return fail(badArg(`switch ${t.raw} needs a value`, `for example ${spec.usage}`));
    }
    const seen = out.get(spec.name);
    if (seen && !takesPairs(spec.name)) return fail(badArg(`switch ${t.raw} is given more than once`));
    const pairs = [...(seen?.pairs ?? []), ...(t.value !== null && takesPairs(spec.name) ? [t.value] : []), ...t.pairs];
    out.set(spec.name, { value: t.value ?? seen?.value ?? null, pairs, raw: t.raw });
  }
  return ok(out);
}

// ---------------------------------------------------------------------------------------------
// Entry point

const objectWords: Record<string, Exclude<HelpTopic, 'main'> | 'help'> = {
  node: 'node', group: 'group', res: 'resource', resource: 'resource',
  status: 'status', log: 'log', why: 'why', apply: 'apply', export: 'export', checkpoint: 'checkpoint', backup: 'backup', help: 'help',
  import: 'import', agents: 'agents', credentials: 'credentials', dashboard: 'dashboard',
};
const objectList = 'node, group, res|resource, status, log, why, apply, export, checkpoint, backup, import, agents, credentials, dashboard';

export function parseArgs(argv: readonly string[]): Result<ParsedArgs> {
  // `cluster backup run G -- CMD ARGS...`: everything after the first `--` is the command, as typed.
  const dashes = argv.indexOf('--');
  const tail = dashes < 0 ? null : argv.slice(dashes + 1);
  const lexed = lex(dashes < 0 ? argv : argv.slice(0, dashes));
  if (!lexed.ok) return lexed;
  const globals = takeGlobals(lexed.value.switches);
  if (!globals.ok) return globals;
  const { options, help, noWait, rest } = globals.value;
  const words = dropClusterName(lexed.value.words);
  if (words.length === 0) {
    if (help || rest.length === 0) return ok({ command: { kind: 'help', topic: 'main' }, options });
    return fail(badArg(`no object given before ${rest[0]!.raw}`, `objects: ${objectList}; see cluster --help`));
  }
  const object = objectWords[words[0]!.toLowerCase()];
  if (!object) return fail(badArg(`unknown object '${words[0]}'`, `valid objects: ${objectList}; see cluster --help`));
  if (object === 'help') return ok({ command: { kind: 'help', topic: helpTopic(words[1]) }, options });
  if (help) return ok({ command: { kind: 'help', topic: object }, options });
  if (tail !== null && object !== 'backup') return fail(badArg("'--' only separates the snapshot command of cluster backup run", 'cluster backup run GROUP [--timeout 60s] -- COMMAND ARGS...'));
  const command = object === 'backup' ? withSwitches('backup', backupSwitches, rest, (s) => backupCommand(words.slice(1), s, tail)) : buildCommand(object, words.slice(1), rest, noWait);
  return command.ok ? ok({ command: command.value, options }) : command;
}

function helpTopic(word: string | undefined): HelpTopic {
  const o = word === undefined ? undefined : objectWords[word.toLowerCase()];
  return o === undefined || o === 'help' ? 'main' : o;
}

/** `cluster TestCluster res ...` and `cluster . res ...`: the first word names the cluster; the endpoint decides. */
function dropClusterName(words: readonly string[]): string[] {
  const first = words[0];
  if (first === undefined) return [];
  if (objectWords[first.toLowerCase()] !== undefined) return [...words];
  if (words.length >= 2 && objectWords[words[1]!.toLowerCase()] !== undefined) return words.slice(1);
  return [...words];
}

function takeGlobals(tokens: readonly SwitchToken[]): Result<{ options: GlobalOptions; help: boolean; noWait: boolean; rest: SwitchToken[] }> {
  const options: GlobalOptions = { json: false, endpoint: null };
  let help = false;
  let noWait = false;
  const rest: SwitchToken[] = [];
  for (const t of tokens) {
    if (t.name === 'json' && t.value === null) options.json = true;
    else if (t.name === 'endpoint') options.endpoint = t.value;
    else if (t.name === 'no-wait' || t.name === 'nowait') noWait = true;
    else if (t.name === '?' || t.name === 'help' || t.name === 'h') help = true;
    else if (t.name === 'cluster') continue; // cluster.exe's /cluster:NAME: the endpoint decides.
    else rest.push(t);
  }
  if (noWait && rest.some((t) => t.name === 'wait')) return fail(badArg('--no-wait and /wait contradict each other: give one'));
  return ok({ options, help, noWait, rest });
}

/** noWait: --no-wait, which makes every default wait 0 (return at once). */
function buildCommand(object: Exclude<HelpTopic, 'main' | 'backup'>, words: string[], tokens: SwitchToken[], noWait: boolean): Result<Command> {
  switch (object) {
    case 'node': return withSwitches('node', nodeSwitches, tokens, (s) => nodeCommand(oneName('node', words), s));
    case 'group': return withSwitches('group', groupSwitches, tokens, (s) => groupCommand(oneName('group', words), s, noWait));
    case 'resource': return withSwitches('res', resourceSwitches, tokens, (s) => resourceCommand(oneName('res', words), s, noWait));
    case 'status': return withSwitches('status', statusSwitches, tokens, (s) => statusCommand(words, s));
    case 'log': return withSwitches('log', logSwitches, tokens, (s) => logCommand(words, s));
    case 'apply': return withSwitches('apply', applySwitches, tokens, (s) => applyCommand(words, s));
    case 'why': return withSwitches('why', [], tokens, () => whyCommand(words));
    case 'export': return withSwitches('export', [], tokens, () =>
      words.length > 0 ? fail(badArg(`unexpected argument '${words[0]}' after export`, 'cluster export > cluster.yaml')) : ok({ kind: 'export' }));
    case 'checkpoint': return withSwitches('checkpoint', [], tokens, () =>
      words.length > 0 ? fail(badArg(`unexpected argument '${words[0]}' after checkpoint`, 'cluster checkpoint')) : ok({ kind: 'checkpoint' }));
    case 'import': return withSwitches('import', [], tokens, () => importCommand(words));
    case 'agents': return withSwitches('agents', [], tokens, () => agentsCommand(words));
    case 'credentials': return withSwitches('credentials', credentialSwitches, tokens, (s) => credentialsCommand(words, s));
    case 'dashboard': return withSwitches('dashboard', [sw('url', 'none', '--url')], tokens, (s) =>
      words.length > 0 ? fail(badArg(`unexpected argument '${words[0]}' after dashboard`, 'cluster dashboard [--url]')) : ok({ kind: 'dashboard', urlOnly: s.has('url') }));
  }
}

const credentialSwitches: readonly SwitchSpec[] = [
  sw('role', 'required', `--role ${roles.join('|')}`),
  sw('out', 'required', '--out FILE (write the new credential file there, mode 0600)'),
];
const credentialsUsage = `cluster credentials add USER --role ${roles.join('|')} [--out FILE] | list | revoke USER`;

function credentialsCommand(words: readonly string[], s: Switches): Result<Command> {
  const [sub, user, extra] = words;
  const verb = sub?.toLowerCase();
  if (extra !== undefined) return fail(badArg(`unexpected argument '${extra}'`, credentialsUsage));
  const noSwitches = (): Result<void> => (s.size > 0 ? fail(badArg(`switch ${[...s.values()][0]!.raw} does not apply to credentials ${verb}`, credentialsUsage)) : ok(undefined));
  switch (verb) {
    case 'add': {
      if (user === undefined) return fail(badArg('credentials add needs a user name', credentialsUsage));
      const role = s.get('role')?.value ?? null;
      if (role === null || !(roles as readonly string[]).includes(role)) return fail(badArg(`credentials add needs --role ${roles.join('|')}`, credentialsUsage));
      return ok({ kind: 'credentials-add', user, role: role as Role, out: s.get('out')?.value ?? null });
    }
    case 'list': case undefined: {
      const n = noSwitches();
      if (!n.ok) return n;
      return user === undefined ? ok({ kind: 'credentials-list' }) : fail(badArg(`unexpected argument '${user}'`, credentialsUsage));
    }
    case 'revoke': {
      const n = noSwitches();
      if (!n.ok) return n;
      return user === undefined ? fail(badArg('credentials revoke needs a user name', credentialsUsage)) : ok({ kind: 'credentials-revoke', user });
    }
    default: return fail(badArg(`unknown credentials action '${sub}'`, credentialsUsage));
  }
}

function withSwitches(object: string, specs: readonly SwitchSpec[], tokens: SwitchToken[],
  build: (s: Switches) => Result<Command>): Result<Command> {
  const s = resolveSwitches(object, specs, tokens);
  return s.ok ? build(s.value) : s;
}

/** The optional NAME after the object; a second word is a mistake (quote names with spaces). */
function oneName(object: string, words: readonly string[]): Result<string | null> {
  if (words.length > 1) {
    return fail(badArg(`unexpected argument '${words[1]}' after ${object} '${words[0]}'`,
      `a switch value goes after a colon (/move:NODE); a name with spaces goes in quotes: cluster ${object} "${words.join(' ')}"`));
  }
  return ok(words[0] ?? null);
}

// ---------------------------------------------------------------------------------------------
// Objects

/** At most one action switch; the rest must be modifiers the action accepts. */
function pickAction(object: string, s: Switches, actions: readonly string[]): Result<string> {
  const given = [...s.keys()].filter((k) => actions.includes(k));
  if (given.length > 1) {
    return fail(badArg(`switches ${given.map((g) => s.get(g)!.raw).join(' and ')} conflict: give one action per command`,
      `actions for ${object}: ${actions.map((a) => '/' + a).join(', ')}`));
  }
  return ok(given[0] ?? 'status');
}

function checkModifiers(action: string, s: Switches, allowed: Record<string, readonly string[]>): ClusterError | null {
  for (const [name, use] of s) {
    if (name === action) continue;
    if (!(allowed[name] ?? []).includes(action)) {
      return badArg(`switch ${use.raw} does not apply to /${action}`);
    }
  }
  return null;
}

function requireName(object: string, name: string | null, action: string): Result<string> {
  if (name !== null) return ok(name);
  return fail(badArg(`a ${object === 'res' ? 'resource' : object} name must be specified for /${action}`,
    `cluster ${object} NAME /${action}`));
}

function nodeCommand(nameR: Result<string | null>, s: Switches): Result<Command> {
  if (!nameR.ok) return nameR;
  const action = pickAction('node', s, ['status', 'pause', 'resume', 'drain', 'evict']);
  if (!action.ok) return action;
  if (action.value === 'status') return ok({ kind: 'node-status', node: nameR.value });
  const node = requireName('node', nameR.value, action.value);
  if (!node.ok) return node;
  return ok({ kind: 'node-action', node: node.value, action: action.value as NodeAction });
}

const groupActions = ['status', 'create', 'delete', 'online', 'offline', 'move', 'prop', 'setowners', 'listowners'] as const;
const groupModifiers: Record<string, readonly string[]> = { wait: ['online', 'offline', 'move'], node: ['status'], prop: ['create'] };

function groupCommand(nameR: Result<string | null>, s: Switches, noWait: boolean): Result<Command> {
  if (!nameR.ok) return nameR;
  const actionR = pickAction('group', s, groupActions.filter((a) => !(a === 'prop' && s.has('create'))));
  if (!actionR.ok) return actionR;
  const action = actionR.value;
  const modErr = checkModifiers(action, s, groupModifiers);
  if (modErr) return fail(modErr);
  if (action === 'status') return groupStatus(nameR.value, s);
  const nameOk = requireName('group', nameR.value, action);
  if (!nameOk.ok) return nameOk;
  const group = nameOk.value;
  const wait = waitSeconds(s, noWait ? 0 : groupWaitSecondsDefault);
  if (!wait.ok) return wait;
  switch (action) {
    case 'create': {
      const patch = groupPatch(s.get('prop')?.pairs ?? []);
      return patch.ok ? ok({ kind: 'group-create', group, patch: patch.value }) : patch;
    }
    case 'delete': return ok({ kind: 'group-delete', group });
    case 'online': return ok({ kind: 'group-online', group, waitSeconds: wait.value });
    case 'offline': return ok({ kind: 'group-offline', group, waitSeconds: wait.value });
    case 'move': return ok({ kind: 'group-move', group, node: nonEmpty(s.get('move')!.value), waitSeconds: wait.value });
    case 'prop': return groupProp(group, s.get('prop')!.pairs);
    case 'setowners': return ok({ kind: 'group-prop-set', group, patch: { preferredOwners: nodeList(s.get('setowners')!.value!) } });
    default: return ok({ kind: 'group-list-owners', group });
  }
}

function groupStatus(group: string | null, s: Switches): Result<Command> {
  const onNode = s.get('node')?.value ?? null;
  if (group !== null && onNode !== null) return fail(badArg(`/node:${onNode} lists all groups on a node: leave out the group name`));
  return ok({ kind: 'group-status', group, onNode });
}

function groupProp(group: string, pairs: readonly string[]): Result<Command> {
  if (pairs.length === 0) return ok({ kind: 'group-prop-list', group });
  const patch = groupPatch(pairs);
  return patch.ok ? ok({ kind: 'group-prop-set', group, patch: patch.value }) : patch;
}

const resourceActions = ['status', 'create', 'delete', 'online', 'offline', 'move', 'fail', 'cleanup', 'prop', 'priv',
  'adddep', 'removedep', 'listdep', 'addowner', 'removeowner', 'listowners', 'maint', 'extmaint', 'waitmaint'] as const;
const resourceModifiers: Record<string, readonly string[]> = {
  wait: ['online', 'offline', 'move', 'maint', 'extmaint', 'cleanup'], group: ['create'], type: ['create'], node: ['status'],
  prop: ['create'], priv: ['create', 'prop'],
};

function resourceCommand(nameR: Result<string | null>, s: Switches, noWait: boolean): Result<Command> {
  if (!nameR.ok) return nameR;
  // With /create, /prop and /priv carry initial values; `/prop a=1 /priv b=2` is one set action.
  const candidates = resourceActions.filter((a) =>
    !(s.has('create') && (a === 'prop' || a === 'priv')) && !(a === 'priv' && s.has('prop')));
  const actionR = pickAction('res', s, candidates);
  if (!actionR.ok) return actionR;
  const action = actionR.value;
  const modErr = checkModifiers(action, s, resourceModifiers);
  if (modErr) return fail(modErr);
  if (action === 'status') return resourceStatus(nameR.value, s);
  const nameOk = requireName('res', nameR.value, action);
  if (!nameOk.ok) return nameOk;
  return resourceAction(action, nameOk.value, s, noWait);
}

function resourceStatus(resource: string | null, s: Switches): Result<Command> {
  const onNode = s.get('node')?.value ?? null;
  if (resource !== null && onNode !== null) return fail(badArg(`/node:${onNode} lists all resources on a node: leave out the resource name`));
  return ok({ kind: 'resource-status', resource, onNode });
}

function resourceAction(action: string, resource: string, s: Switches, noWait: boolean): Result<Command> {
  const value = (name: string): string => s.get(name)!.value!;
  const wait = waitSeconds(s, noWait ? 0 : resourceWaitSecondsDefault);
  if (!wait.ok) return wait;
  switch (action) {
    case 'create': return resourceCreate(resource, s);
    case 'delete': return ok({ kind: 'resource-delete', resource });
    case 'online': return ok({ kind: 'resource-online', resource, waitSeconds: wait.value });
    case 'offline': return ok({ kind: 'resource-offline', resource, waitSeconds: wait.value });
    case 'move': {
      // A move is a group move: cluster.exe's group default (20 s) applies.
      const groupWait = waitSeconds(s, noWait ? 0 : groupWaitSecondsDefault);
      if (!groupWait.ok) return groupWait;
      return ok({ kind: 'resource-move', resource, node: nonEmpty(s.get('move')!.value), waitSeconds: groupWait.value });
    }
    case 'fail': return ok({ kind: 'resource-fail', resource });
    case 'cleanup': return ok({ kind: 'resource-cleanup', resource, waitSeconds: wait.value });
    case 'prop': case 'priv': return resourceProps(resource, action, s);
    case 'adddep': return ok({ kind: 'resource-dep', resource, op: 'add', dependency: value('adddep') });
    case 'removedep': return ok({ kind: 'resource-dep', resource, op: 'remove', dependency: value('removedep') });
    case 'listdep': return ok({ kind: 'resource-list-deps', resource });
    case 'addowner': return ok({ kind: 'resource-owner', resource, op: 'add', node: value('addowner') });
    case 'removeowner': return ok({ kind: 'resource-owner', resource, op: 'remove', node: value('removeowner') });
    case 'maint': case 'extmaint': return maintCommand(resource, action, s, noWait);
    case 'waitmaint': {
      const w = s.get('waitmaint')!;
      if (w.value === null || w.value === '') return ok({ kind: 'resource-waitmaint', resource, waitSeconds: waitSecondsMax });
      const n = intInRange(w.value, 0, waitSecondsMax);
      if (n === null) return fail(badArg(`${w.raw}: seconds must be an integer in [0, ${waitSecondsMax}]`, '/waitmaint blocks until the internal state is stable; /waitmaint:30 waits at most 30 s'));
      return ok({ kind: 'resource-waitmaint', resource, waitSeconds: n });
    }
    default: return ok({ kind: 'resource-list-owners', resource });
  }
}

const maintValues: Record<string, boolean> = { on: true, off: false, '1': true, '0': false, true: true, false: false, yes: true, no: false };

/** /maint[:on|off|1|0] and /extmaint[:1|0]: no value queries (prints the status), as cluster.exe. */
function maintCommand(resource: string, mode: 'maint' | 'extmaint', s: Switches, noWait: boolean): Result<Command> {
  const use = s.get(mode)!;
  let on: boolean | null = null;
  if (use.value !== null && use.value !== '') {
    const v = maintValues[use.value.toLowerCase()];
    if (v === undefined) return fail(badArg(`${use.raw}: the value must be on, off, 1 or 0, not '${use.value}'`, `cluster res "${resource}" /${mode}:${mode === 'maint' ? 'on' : '1'}`));
    on = v;
  }
  const wait = waitSeconds(s, noWait ? 0 : mode === 'extmaint' ? extMaintWaitSecondsDefault : resourceWaitSecondsDefault);
  if (!wait.ok) return wait;
  return ok({ kind: 'resource-maint', resource, mode, on, waitSeconds: wait.value });
}

function resourceCreate(resource: string, s: Switches): Result<Command> {
  const group = s.get('group')?.value;
  const type = s.get('type')?.value;
  if (!group) return fail(badArg(`/create needs /group:GROUP`, `cluster res "${resource}" /create /group:G /type:process`));
  if (!type) return fail(badArg(`/create needs /type:TYPE`, `resource types: ${resourceTypes.join(', ')}`));
  const t = resourceTypes.find((r) => r === type.toLowerCase());
  if (!t) return fail(clusterError('RESOURCE_TYPE_UNKNOWN', `unknown resource type '${type}'`, `resource types: ${resourceTypes.join(', ')}`));
  const props = commonProps(s.get('prop')?.pairs ?? []);
  if (!props.ok) return props;
  const priv = privProps(s.get('priv')?.pairs ?? []);
  if (!priv.ok) return priv;
  return ok({ kind: 'resource-create', resource, group, type: t, props: props.value, priv: priv.value });
}

function resourceProps(resource: string, action: 'prop' | 'priv', s: Switches): Result<Command> {
  const propPairs = s.get('prop')?.pairs ?? [];
  const privPairs = s.get('priv')?.pairs ?? [];
  if (propPairs.length === 0 && privPairs.length === 0) {
    if (s.has('prop') && s.has('priv')) return fail(badArg('list /prop or /priv, one at a time'));
    return ok({ kind: 'resource-prop-list', resource, which: action });
  }
  const props = commonProps(propPairs);
  if (!props.ok) return props;
  const priv = privProps(privPairs);
  if (!priv.ok) return priv;
  return ok({ kind: 'resource-prop-set', resource, props: props.value, priv: priv.value });
}

function statusCommand(words: readonly string[], s: Switches): Result<Command> {
  if (words.length > 0) return fail(badArg(`unexpected argument '${words[0]}' after status`, 'cluster status [--watch] [--json]'));
  return ok({ kind: 'status', watch: s.has('watch') });
}

function logCommand(words: readonly string[], s: Switches): Result<Command> {
  if (words.length > 0) return fail(badArg(`unexpected argument '${words[0]}' after log`, 'cluster log [--follow] [--limit N] [--json]'));
  const raw = s.get('limit')?.value;
  const limit = raw === undefined || raw === null ? logLimitDefault : intInRange(raw, 1, logLimitMax);
  if (limit === null) return fail(badArg(`--limit must be an integer in [1, ${logLimitMax}], not '${raw}'`));
  return ok({ kind: 'log', follow: s.has('follow'), limit });
}

function agentsCommand(words: readonly string[]): Result<Command> {
  if (words.length > 1) return fail(badArg(`unexpected argument '${words[1]}' after cluster agents ${words[0]}`, 'cluster agents [PROVIDER:AGENT]'));
  const agent = words[0] ?? null;
  if (agent !== null && !/^[^:/]+:[^:/]+$/.test(agent)) return fail(badArg(`'${agent}' is not PROVIDER:AGENT`, 'for example cluster agents heartbeat:IPaddr2'));
  return ok({ kind: 'agents', agent });
}

function whyCommand(words: readonly string[]): Result<Command> {
  if (words.length !== 1) return fail(badArg(words.length === 0 ? 'why needs a group name' : `unexpected argument '${words[1]}' after why '${words[0]}'`, 'cluster why GROUP'));
  return ok({ kind: 'why', group: words[0]! });
}

function applyCommand(words: readonly string[], s: Switches): Result<Command> {
  const flag = s.get('file')?.value ?? null;
  const file = flag ?? words[0] ?? null;
  const extra = flag !== null ? words[0] : words[1];
  if (file === null) return fail(badArg('apply needs a file', 'cluster apply -f cluster.yaml [--dry-run] [--prune]'));
  if (extra !== undefined) return fail(badArg(`unexpected argument '${extra}' after apply`, 'cluster apply -f cluster.yaml [--dry-run] [--prune]'));
  return ok({ kind: 'apply', file, dryRun: s.has('dry-run'), prune: s.has('prune') });
}

// ---------------------------------------------------------------------------------------------
// Backups: cluster backup freeze|thaw|status|run

const backupSwitches: readonly SwitchSpec[] = [
  sw('timeout', 'required', `--timeout DURATION (freeze limit from ${freezeLimitMsMin}ms to ${freezeLimitMsMax / 60_000}m, default 60s)`),
  sw('quiet', 'none', '--quiet (freeze: print only the backup id)', { aliases: ['q'] }),
];
const backupUsage = 'cluster backup freeze GROUP|RESOURCE [--timeout 60s] [--quiet] | thaw ID | status [ID] | run GROUP [--timeout 60s] -- COMMAND ARGS...';

function backupCommand(words: readonly string[], s: Switches, tail: string[] | null): Result<Command> {
  const [sub, name, extra] = words;
  const verb = sub?.toLowerCase();
  if (verb === undefined) return fail(badArg('backup needs an action: freeze, thaw, status or run', backupUsage));
  if (verb !== 'run' && tail !== null) return fail(badArg(`'--' only separates the snapshot command of cluster backup run`, backupUsage));
  if (extra !== undefined) return fail(badArg(`unexpected argument '${extra}' after backup ${verb} '${name}'`, `a name with spaces goes in quotes; ${backupUsage}`));
  const limit = freezeLimit(s);
  if (!limit.ok) return limit;
  const only = (allowed: string[]): Result<void> => {
    const bad = [...s.values()].find((u) => !allowed.some((a) => s.get(a) === u));
    return bad ? fail(badArg(`switch ${bad.raw} does not apply to backup ${verb}`, backupUsage)) : ok(undefined);
  };
  switch (verb) {
    case 'freeze': {
      if (name === undefined) return fail(badArg('backup freeze needs a group or resource name', 'cluster backup freeze GROUP [--timeout 60s]'));
      return ok({ kind: 'backup-freeze', target: name, limitMs: limit.value, quiet: s.has('quiet') });
    }
    case 'thaw': {
      const o = only([]);
      if (!o.ok) return o;
      if (name === undefined) return fail(badArg('backup thaw needs the backup id that freeze printed', 'cluster backup thaw ID (cluster backup status lists them)'));
      return ok({ kind: 'backup-thaw', id: name });
    }
    case 'status': {
      const o = only([]);
      return o.ok ? ok({ kind: 'backup-status', id: name ?? null }) : o;
    }
    case 'run': {
      const o = only(['timeout']);
      if (!o.ok) return o;
      if (name === undefined) return fail(badArg('backup run needs a group or resource name', 'cluster backup run GROUP [--timeout 60s] -- COMMAND ARGS...'));
      if (tail === null || tail.length === 0) return fail(badArg('backup run needs the snapshot command after --', `cluster backup run ${name} -- lvcreate --snapshot --name snap --size 1G vg/data`));
      return ok({ kind: 'backup-run', target: name, limitMs: limit.value, argv: tail });
    }
    default: return fail(badArg(`unknown backup action '${sub}'`, backupUsage));
  }
}

/** --timeout 60s | 90s | 2m | 500ms: a unit is required (is 60 seconds or milliseconds?). */
function freezeLimit(s: Switches): Result<number | null> {
  const t = s.get('timeout');
  if (t === undefined) return ok(null);
  const v = t.value ?? '';
  if (/^\d+$/.test(v.trim())) return fail(badArg(`${t.raw} ${v}: give a unit, for example ${v}s or ${v}ms`, 'the freeze limit: --timeout 60s (default), 500ms, 2m'));
  const ms = parseDurationMs(v);
  if (ms === null) return fail(badArg(`${t.raw}: '${v}' is not a duration`, 'for example --timeout 60s, 90s, 2m, 500ms'));
  // The node refuses the same range; checked here so that the mistake is a usage error (exit 2) before any request.
  if (ms < freezeLimitMsMin || ms > freezeLimitMsMax) {
    const [lo, hi] = [`${freezeLimitMsMin}ms`, `${freezeLimitMsMax / 60_000}m`];
    return fail(badArg(`${t.raw} ${v}: the freeze limit must be from ${lo} to ${hi}, not ${ms} ms`,
      ms > freezeLimitMsMax ? `its service stalls while frozen, ${hi} at most: --timeout ${hi}` : `a freeze needs time to reach every writer: --timeout ${lo} or more`));
  }
  return ok(ms);
}

// ---------------------------------------------------------------------------------------------
// Values

function waitSeconds(s: Switches, fallback: number): Result<number> {
  const w = s.get('wait');
  if (!w) return ok(fallback);
  if (w.value === null || w.value === '') return ok(waitSecondsMax);
  const n = intInRange(w.value, 0, waitSecondsMax);
  return n === null ? fail(badArg(`${w.raw}: seconds must be an integer in [0, ${waitSecondsMax}]`)) : ok(n);
}

function intInRange(text: string, min: number, max: number): number | null {
  if (!/^\d+$/.test(text)) return null;
  const n = Number(text);
  return n >= min && n <= max ? n : null;
}

const nonEmpty = (v: string | null): string | null => (v === null || v === '' ? null : v);
const nodeList = (v: string): string[] => v.split(',').map((n) => n.trim()).filter((n) => n !== '');

function splitPair(pair: string): { key: string; value: string } {
  const at = pair.indexOf('=');
  return { key: pair.slice(0, at).trim(), value: pair.slice(at + 1) };
}

/** Read K=V pairs, rejecting a pair without '=' and a key given twice. */
function readPairs(pairs: readonly string[]): Result<{ key: string; value: string }[]> {
  const out: { key: string; value: string }[] = [];
  for (const p of pairs) {
    if (!p.includes('=') || p.startsWith('=')) return fail(badProp(`'${p}' is not a property assignment`, 'write K=V, for example /prop:failback=never'));
    const kv = splitPair(p);
    if (out.some((o) => o.key.toLowerCase() === kv.key.toLowerCase())) return fail(badProp(`property '${kv.key}' is given more than once`));
    out.push(kv);
  }
  return ok(out);
}

const durationUnitMs: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "21600000" (ms), "6h", "30s", "1h30m", "250ms". */
export function parseDurationMs(text: string): number | null {
  const t = text.trim().toLowerCase();
  if (/^\d+$/.test(t)) return Number(t);
  if (!/^(?:\d+(?:ms|s|m|h|d))+$/.test(t)) return null;
  let total = 0;
  for (const m of t.matchAll(/(\d+)(ms|s|m|h|d)/g)) total += Number(m[1]) * durationUnitMs[m[2]!]!;
  return Number.isSafeInteger(total) ? total : null;
}

const groupPropNames: Record<string, keyof GroupPatch> = {
  preferredowners: 'preferredOwners', possibleowners: 'possibleOwners', failoverthreshold: 'failoverThreshold',
  failoverperiod: 'failoverPeriodMs', failoverperiodms: 'failoverPeriodMs', failback: 'failback',
};

export function groupPatch(pairs: readonly string[]): Result<GroupPatch> {
  const kvs = readPairs(pairs);
  if (!kvs.ok) return kvs;
  const patch: GroupPatch = {};
  for (const { key, value } of kvs.value) {
    const name = groupPropNames[key.toLowerCase()];
    if (!name) return fail(badProp(`group has no property '${key}'`, 'group properties: preferredOwners, possibleOwners, failoverThreshold, failoverPeriod, failback'));
    const err = setGroupProp(patch, name, value);
    if (err) return fail(err);
  }
  return ok(patch);
}

function setGroupProp(patch: GroupPatch, name: keyof GroupPatch, value: string): ClusterError | null {
  switch (name) {
    case 'preferredOwners': case 'possibleOwners': patch[name] = nodeList(value); return null;
    case 'failoverThreshold': {
      if (value.toLowerCase() === 'default') { patch.failoverThreshold = null; return null; }
      const n = intInRange(value, 0, Number.MAX_SAFE_INTEGER);
      if (n === null) return badProp(`failoverThreshold must be a whole number or 'default' (nodes - 1), not '${value}'`);
      patch.failoverThreshold = n;
      return null;
    }
    case 'failoverPeriodMs': {
      const ms = parseDurationMs(value);
      if (ms === null) return badProp(`failoverPeriod must be milliseconds or a duration like 6h, 30m, 90s, not '${value}'`);
      patch.failoverPeriodMs = ms;
      return null;
    }
    case 'failback': {
      const fb = parseFailback(value);
      if (fb === null) return badProp(`failback must be never, immediate or an hour window HH-HH (e.g. 22-06), not '${value}'`);
      patch.failback = fb;
      return null;
    }
  }
}

export function parseFailback(text: string): GroupPatch['failback'] | null {
  const t = text.trim().toLowerCase();
  if (t === 'never' || t === 'immediate') return { mode: t };
  const m = /^(\d{1,2})-(\d{1,2})$/.exec(t);
  if (!m) return null;
  const startHour = Number(m[1]);
  const endHour = Number(m[2]);
  if (startHour > 23 || endHour > 23 || startHour === endHour) return null;
  return { mode: 'window', startHour, endHour };
}

const commonPropNames = ['looksAliveIntervalMs', 'isAliveIntervalMs', 'pendingTimeoutMs', 'restartAction',
  'restartThreshold', 'restartPeriodMs', 'restartDelayMs', 'stopGraceMs'] as const satisfies readonly (keyof CommonProps)[];

/** Case-insensitive; `looksAliveInterval` is accepted for `looksAliveIntervalMs`. */
function commonPropName(key: string): keyof CommonProps | null {
  const k = key.toLowerCase();
  return commonPropNames.find((n) => n.toLowerCase() === k || (n.endsWith('Ms') && n.slice(0, -2).toLowerCase() === k)) ?? null;
}

const restartActionNames = { '0': 'none', '1': 'restart', '2': 'restart-failover', none: 'none', restart: 'restart', 'restart-failover': 'restart-failover' } as const;

export function commonProps(pairs: readonly string[]): Result<Partial<CommonProps>> {
  const kvs = readPairs(pairs);
  if (!kvs.ok) return kvs;
  const out: Partial<CommonProps> = {};
  for (const { key, value } of kvs.value) {
    const name = commonPropName(key);
    if (!name) return fail(badProp(`resource has no common property '${key}'`, `common properties: ${commonPropNames.join(', ')}; type-specific settings go in /priv`));
    if (name === 'restartAction') {
      const a = restartActionNames[value.toLowerCase() as keyof typeof restartActionNames];
      if (!a) return fail(badProp(`restartAction must be none, restart or restart-failover (or 0, 1, 2), not '${value}'`));
      out.restartAction = a;
      continue;
    }
    const n = name === 'restartThreshold' ? intInRange(value, 0, Number.MAX_SAFE_INTEGER) : parseDurationMs(value);
    if (n === null) return fail(badProp(`${name} must be ${name === 'restartThreshold' ? 'a whole number' : 'milliseconds or a duration like 5s'}, not '${value}'`));
    out[name] = n;
  }
  return ok(out);
}

/** Priv keys whose value is a list: a JSON array is accepted there (the freeze and thaw commands take lists). */
const listPrivKeys = new Set(['args', 'env', 'freezeCommand', 'thawCommand']);

export function privProps(pairs: readonly string[]): Result<PrivProps> {
  const kvs = readPairs(pairs);
  if (!kvs.ok) return kvs;
  const out: PrivProps = {};
  for (const { key, value } of kvs.value) {
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key)) return fail(badProp(`private property name '${key}' is not valid`, 'use letters, digits, _ . -'));
    const v = privValue(key, value);
    if (!v.ok) return v;
    out[key] = v.value;
  }
  return ok(out);
}

/** Numbers stay numbers ("8080" -> 8080, but "08080" stays text); `a,b,c` stays one string. */
export function privValue(key: string, raw: string): Result<PrivValue> {
  if (listPrivKeys.has(key) && raw.trimStart().startsWith('[')) {
    let parsed: unknown;
    try { parsed = JSON.parse(raw); } catch { parsed = undefined; }
    if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string')) {
      return fail(badProp(`${key} must be a JSON array of strings, like ["-c","sleep 60"], not ${raw}`));
    }
    return ok(parsed as string[]);
  }
  if (/^-?\d+(?:\.\d+)?$/.test(raw) && String(Number(raw)) === raw) return ok(Number(raw));
  return ok(raw);
}

function badArg(message: string, hint?: string): ClusterError {
  return clusterError('BAD_ARGUMENT', message, hint);
}
function badProp(message: string, hint?: string): ClusterError {
  return clusterError('BAD_PROPERTY', message, hint);
}

const importUsage = 'cluster import pacemaker CIB.xml > cluster.yaml';

function importCommand(words: readonly string[]): Result<Command> {
  const [source, file, extra] = words;
  if (source?.toLowerCase() !== 'pacemaker') return fail(badArg(source === undefined ? 'import needs a source: pacemaker' : `cannot import from '${source}': only pacemaker`, importUsage));
  if (file === undefined) return fail(badArg('import pacemaker needs the CIB file (cibadmin --query > cib.xml, or pcs cluster cib cib.xml)', importUsage));
  if (extra !== undefined) return fail(badArg(`unexpected argument '${extra}' after import pacemaker '${file}'`, importUsage));
  return ok({ kind: 'import-pacemaker', file });
}

// ---------------------------------------------------------------------------------------------
// Usage (cluster --help, cluster res /?)

const usageIntro = `Options: --json (raw API JSON), --endpoint URL[,URL...] (default $CLUSTERD_ENDPOINT or http://127.0.0.1:7400),
--no-wait. Switches are case-insensitive and take /, - or -- (/online, --online); values follow : or = (/move:n2).`;

export function usageText(topic: HelpTopic): string {
  const objectUsage = (obj: string, name: string, specs: readonly SwitchSpec[]): string =>
    `The syntax of this command is:\n\nCLUSTER [cluster-name|.] ${obj} [${name}] <switch>\n\n<switch> =\n` +
    specs.map((s) => `  ${s.usage}`).join('\n') + `\n\n${usageIntro}\n`;
  switch (topic) {
    case 'node': return objectUsage('NODE', 'node-name', nodeSwitches);
    case 'group': return objectUsage('GROUP', 'group-name', groupSwitches) +
      'Group properties: preferredOwners, possibleOwners, failoverThreshold, failoverPeriod (6h, 30s, ms), failback (never|immediate|HH-HH).\n';
    case 'resource': return objectUsage('RES[OURCE]', 'resource-name', resourceSwitches) +
      `Resource types: ${resourceTypes.join(', ')}. Common properties (/prop): ${commonPropNames.join(', ')}.\n` +
      'Disks: /maint:on puts an Online disk in maintenance (health checks suppressed); /extmaint:1 then also dismounts it\n' +
      'internally (still Online to its dependents); /extmaint:0 and /maint:off go back. /waitmaint blocks until the\n' +
      `internal state is stable; /maint and /extmaint wait for it themselves (${resourceWaitSecondsDefault} s, ${extMaintWaitSecondsDefault} s; /wait:S, --no-wait).\n`;
    case 'status': return 'cluster status [--watch] [--json]\n  An overview: nodes, groups and their resources, warnings. --watch redraws every second.\n';
    case 'log': return `cluster log [--follow] [--limit N] [--json]\n  The event log, newest last (default ${logLimitDefault} events).\n`;
    case 'why': return 'cluster why GROUP [--json]\n  Why the group runs where it runs, or why it does not run: reasons and candidate nodes.\n';
    case 'apply': return 'cluster apply -f FILE [--dry-run] [--prune] [--json]\n  Make the cluster match a YAML file (groups, resources, owners, properties). --prune also deletes the\n' +
      '  groups and resources the file does not name (each must be Offline; never nodes); --dry-run lists it all, deletions first.\n';
    case 'export': return 'cluster export [--json]\n  Print the live configuration as an apply file (cluster apply -f takes it back unchanged).\n' +
      '  With a viewer credential, secret-looking private values are redacted.\n';
    case 'checkpoint': return 'cluster checkpoint [--json]\n  Take a checkpoint of the cluster database now; the quorum log restarts after it.\n';
    case 'backup': return backupHelp;
    case 'import': return `${importUsage}\n  Print an apply file (YAML) translated from a Pacemaker CIB; what cannot be translated is listed on stderr.\n` +
      '  Exit code: 0 everything translated, 3 printed but something was not translated, 1 nothing printed.\n';
    case 'agents': return 'cluster agents [PROVIDER:AGENT] [--json]\n  The OCF resource agents installed on the node that answers (--endpoint picks it), or one agent\'s\n  parameters (name, required, default, description) from its meta-data.\n';
    case 'credentials': return `${credentialsUsage}\n  Credentials of the API (admin only). add mints a token for USER with a role (viewer: reads, secrets\n  redacted; operator: online/offline/move/maintenance/backups/pause/resume/drain; admin: everything) and\n  prints a credential file (or writes it with --out); revoke removes it at once on every node.\n`;
    case 'dashboard': return 'cluster dashboard [--url]\n  A one-time login URL of the web dashboard (valid 60 s, once): open it in a browser on this machine.\n';
    case 'main': return mainUsage;
  }
}

const mainUsage = `The syntax of this command is:

CLUSTER [cluster-name|.] NODE [node-name] [/status|/pause|/resume|/drain|/evict]
CLUSTER [cluster-name|.] GROUP [group-name] [/status|/create|/delete|/online|/offline|/move[:node]|/prop[:K=V]|...]
CLUSTER [cluster-name|.] RES[OURCE] [resource-name] [/status|/create|/online|/offline|/fail|/cleanup|/prop|/priv|/maint[:on|off]|/extmaint[:1|0]|/waitmaint|...]
cluster status [--watch]
cluster log [--follow] [--limit N]
cluster why GROUP
cluster apply -f FILE [--dry-run] [--prune]
cluster export
cluster checkpoint
cluster import pacemaker CIB.xml
cluster agents [PROVIDER:AGENT]
cluster backup freeze GROUP|RESOURCE [--timeout 60s] | thaw ID | status [ID] | run GROUP -- COMMAND ARGS...
cluster credentials add USER --role viewer|operator|admin [--out FILE] | list | revoke USER
cluster dashboard [--url]

${usageIntro}
More: cluster node /?, cluster group /?, cluster res /?, cluster backup /?
`;

const backupHelp = `cluster backup freeze GROUP|RESOURCE [--timeout 60s] [--quiet] [--json]
  Freeze the group's writers (resources declaring freeze/thaw actions), top-down, and print the
  backup id. The freeze limit (default 60s, at most 10m) starts with the freeze: past it the
  cluster thaws every writer itself and the backup fails (BACKUP_FREEZE_TIMEOUT).
cluster backup thaw ID [--json]
  Thaw every writer of the backup; fails with the backup's error if it failed meanwhile.
cluster backup status [ID] [--json]
  The backups (newest first), or one with its writers.
cluster backup run GROUP [--timeout 60s] -- COMMAND ARGS...
  Freeze, run the snapshot COMMAND here (CLUSTERD_BACKUP_ID in its environment), thaw, report.
  The command is stopped (SIGTERM) if the backup fails while it runs; exit 1 then.
Writers: process resources (/priv freezeSignal=SIGSTOP, or freezeCommand=... thawCommand=...),
block-device disks (/priv freeze=fsfreeze). ${usageIntro}
`;

// ---------------------------------------------------------------------------------------------
// Shell completion: the words and switches the parser accepts, from the same tables.

/** Objects (first words) and, for each, its switches as the parser knows them (cluster.exe's /name and Unix --name). */
export function completionTable(): { objects: string[]; globals: string[]; switches: Record<string, string[]> } {
  const names = (specs: readonly SwitchSpec[]) => specs.flatMap((s) => [s.full ?? s.name, ...(s.aliases ?? [])].filter((n) => n.length > 1));
  const byObject: Record<string, readonly SwitchSpec[]> = {
    node: nodeSwitches, group: groupSwitches, resource: resourceSwitches, status: statusSwitches, log: logSwitches, apply: applySwitches, backup: backupSwitches,
  };
  const switches: Record<string, string[]> = {};
  for (const [word, object] of Object.entries(objectWords)) {
    const specs = byObject[object];
    if (specs) switches[word] = [...new Set(names(specs))];
  }
  return { objects: Object.keys(objectWords), globals: ['json', 'endpoint', 'help', 'no-wait'], switches };
}
