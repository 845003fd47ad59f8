// `cluster`: argv -> one API conversation -> cluster.exe's tables (or --json). The parser,
// formatters and apply-file checks are pure; this file does the I/O: HTTP, waiting, files.

import { spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type {
  ApplyResult, ClusterEvent, GroupView, NodeView, ResourceView, StatusSnapshot, WhyView,
} from '../api/types.js';
import { parseArgs, usageText, type Command } from './args.js';
import { formatProblem, loadApplyFile, locatePath } from './apply-file.js';
import { bashCompletion, zshCompletion } from './completion.js';
import { droppedText, importExit, importPacemaker, importText } from './import-pacemaker.js';
import { ApiClient, applyTimeoutMs, CliError, cliError, resolveEndpoints, seg } from './client.js';
import { findCredential, type FoundCredential } from './credentials.js';
import { writeCredentialFile, type CredentialFile } from '../api/auth-files.js';
import { tlsFetch } from '../api/tls-fetch.js';
import { exitCodeOf } from '../core/errors.js';
import { clusterdVersion } from '../core/version.js';
import { maintenanceStable } from '../core/maintenance.js';
import { applySplitHint } from '../core/apply.js';
import { applyDocumentBytesMax } from '../core/limits.js';
import type { BackupView } from '../core/backup.js';
import type { AgentInfo } from '../monitor/protocol.js';
import { Progress, waitedText } from './progress.js';
import {
  backupDetail, backupTable, banner, durationText, formatError, groupPropEntries, groupTable, logLine, nodeTable, ownerList, planText, privPropEntries,
  propTable, resourcePropEntries, resourceTable, say, statusOverview, whyText, type ErrorLike,
} from './format.js';

export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
  env: NodeJS.ProcessEnv;
  /** stdout is a terminal: --watch redraws the screen; otherwise (a pipe, a file) it writes frames one after another, without escape codes. */
  isTty?: boolean;
  /** stderr is a terminal: long waits and applies show a progress line there (erased when done); otherwise nothing. */
  errIsTty?: boolean;
  /** Aborted on Ctrl-C: --watch and --follow then end with exit code 0. */
  signal?: AbortSignal;
  /** For tests; default reads the file system. */
  readFile?: (path: string) => Promise<string>;
  /** For tests; default global fetch. */
  fetch?: typeof fetch;
}

export const exitOk = 0;
/** Conventional exit code after Ctrl-C (128 + SIGINT) for commands that were not meant to run forever. */
export const exitInterrupted = 130;

/** cluster.exe polls; 100 ms keeps a 10 s wait to at most 100 cheap GETs. */
export const pollIntervalMs = 100;
export const watchIntervalMs = 1_000;
/** The apply progress line ticks this often while the request is under way. */
const applyProgressEveryMs = 1_000;
/** How long pause/resume/drain wait for the answering node to show the new state before printing what it shows. */
export const nodeActionShownMs = 5_000;
/** The API pages events forward from an id; this many per page, at most this many pages (1M events). */
export const eventPageSize = 1_000;
export const eventPagesMax = 1_000;
/** An apply file may hold as much as one apply takes; a larger one is refused before it is parsed, with how to split it. */
export const applyFileBytesMax = applyDocumentBytesMax;

interface Ctx {
  client: ApiClient;
  io: CliIo;
  json: boolean;
  /** The credential file in use, if any (named in authentication errors; the base of credentials add). */
  credential: FoundCredential | null;
}

export async function main(argv: string[], io: CliIo): Promise<number> {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V' || argv[0] === '/version')) {
    io.out(`cluster ${clusterdVersion}\n`);
    return exitOk;
  }
  if (argv[0] === 'completion') {
    const shell = argv[1];
    if (argv.length === 2 && (shell === 'bash' || shell === 'zsh')) {
      io.out(shell === 'bash' ? bashCompletion() : zshCompletion());
      return exitOk;
    }
    io.err(formatError({ code: 'BAD_ARGUMENT', message: 'completion needs a shell: bash or zsh', hint: 'cluster completion bash > /etc/bash_completion.d/cluster' }));
    return exitCodeOf('BAD_ARGUMENT');
  }
  const parsed = parseArgs(argv);
  if (!parsed.ok) {
    // --json asks for JSON errors too; the parse failed, so look for the switch in argv itself.
    const json = argv.some((a) => /^(--|\/|-)json$/i.test(a));
    io.err(json ? jsonError(parsed.error) : formatError(parsed.error));
    return exitCodeOf(parsed.error.code);
  }
  const { command, options } = parsed.value;
  if (command.kind === 'help') {
    io.out(usageText(command.topic));
    return exitOk;
  }
  if (command.kind === 'import-pacemaker') return importFile(command.file, io);
  let credential: FoundCredential | null = null;
  try {
    credential = await findCredential(io.env, options.endpoint, io.readFile);
    const c = credential?.credential;
    const fetchImpl = tlsFetch(c && c.ca !== '' ? { ca: c.ca } : null, io.fetch ?? fetch);
    const client = new ApiClient(resolveEndpoints(options.endpoint, io.env, c?.endpoints ?? []), fetchImpl, c?.token ?? null);
    return await run(command, { client, io, json: options.json, credential });
  } catch (e) {
    if (io.signal?.aborted) return runsUntilInterrupted(command) ? exitOk : exitInterrupted;
    const err = asErrorLike(e);
    const shown = authContext(err, credential);
    io.err(options.json ? jsonError(shown) : formatError(shown));
    return exitCodeOf(err.code);
  }
}

/** An error as the API answers it ({"error": {code, message, hint}}), one line, for --json. */
function jsonError(e: ErrorLike): string {
  return `${JSON.stringify({ error: { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) } })}\n`;
}

/** An authentication error names the credential file that was used (or that none was found). */
function authContext(err: ErrorLike, found: FoundCredential | null): ErrorLike {
  if (err.code !== 'AUTH_REQUIRED' && err.code !== 'AUTH_INVALID' && err.code !== 'AUTH_FORBIDDEN') return err;
  const used = found ? `credential file ${found.path} (user ${found.credential.user}, role ${found.credential.role})` : 'no credential file found';
  return { ...err, message: `${err.message} [${used}]` };
}

const runsUntilInterrupted = (c: Command): boolean => (c.kind === 'status' && c.watch) || (c.kind === 'log' && c.follow);

function asErrorLike(e: unknown): ErrorLike {
  if (e instanceof CliError) return e;
  if (e instanceof Error && 'code' in e && typeof e.code === 'string' && /^[A-Z_]+$/.test(e.code)) {
    return { code: e.code, message: e.message, hint: (e as { hint?: string }).hint };
  }
  return { code: 'INTERNAL', message: e instanceof Error ? e.message : String(e), hint: 'this is a bug in cluster: please report it' };
}

function run(c: Command, ctx: Ctx): Promise<number> {
  switch (c.kind) {
    case 'help': return Promise.resolve(exitOk);
    case 'node-status': case 'node-action': return runNode(c, ctx);
    case 'group-status': case 'group-create': case 'group-delete': case 'group-online': case 'group-offline':
    case 'group-move': case 'group-prop-list': case 'group-prop-set': case 'group-list-owners':
      return runGroup(c, ctx);
    case 'status': return c.watch ? watchStatus(ctx) : showStatus(ctx);
    case 'log': return showLog(c.limit, c.follow, ctx);
    case 'why': return showWhy(c.group, ctx);
    case 'checkpoint': return takeCheckpoint(ctx);
    case 'agents': return showAgents(c.agent, ctx);
    case 'apply': return apply(c.file, c.dryRun, c.prune, ctx);
    case 'export': return showExport(ctx);
    case 'import-pacemaker': return importFile(c.file, ctx.io);
    case 'backup-freeze': case 'backup-thaw': case 'backup-status': case 'backup-run': return runBackup(c, ctx);
    case 'credentials-add': case 'credentials-list': case 'credentials-revoke': case 'dashboard': return runAuth(c, ctx);
    default: return runResource(c, ctx);
  }
}

// ---------------------------------------------------------------------------------------------
// Output helpers

/** Text for people, or the API object for --json. */
function emit(ctx: Ctx, text: string, json: unknown): number {
  ctx.io.out(ctx.json ? JSON.stringify(json, null, 2) + '\n' : text);
  return exitOk;
}

/** Progress lines ("Bringing resource 'x' online...") go out before waiting, never in --json. */
function progress(ctx: Ctx, text: string): void {
  if (!ctx.json) ctx.io.out(text);
}

// ---------------------------------------------------------------------------------------------
// node

type Of<K extends Command['kind']> = Extract<Command, { kind: K }>;

async function runNode(c: Of<'node-status' | 'node-action'>, ctx: Ctx): Promise<number> {
  if (c.kind === 'node-status') {
    if (c.node === null) {
      const nodes = await ctx.client.get<NodeView[]>('/v1/nodes');
      return emit(ctx, banner(say.nodeStatusAll()) + nodeTable(nodes), nodes);
    }
    const node = await ctx.client.get<NodeView>(`/v1/nodes/${seg(c.node)}`);
    return emit(ctx, banner(say.nodeStatus(c.node)) + nodeTable([node]), node);
  }
  if (c.action === 'evict') {
    const res = await ctx.client.delete<unknown>(`/v1/nodes/${seg(c.node)}`);
    return emit(ctx, banner(say.evict(c.node)), res);
  }
  progress(ctx, banner(say[c.action](c.node)));
  await ctx.client.post(`/v1/nodes/${seg(c.node)}/${c.action}`);
  // The answering node may show the change a cycle later: print the state after it (bounded wait).
  const changed = (n: NodeView) => (c.action === 'resume' ? n.state !== 'Paused' : n.state === 'Paused' || n.state === 'Down');
  let node = await ctx.client.get<NodeView>(`/v1/nodes/${seg(c.node)}`);
  for (const until = Date.now() + nodeActionShownMs; !changed(node) && Date.now() < until;) {
    await sleep(pollIntervalMs, undefined, { signal: ctx.io.signal });
    node = await ctx.client.get<NodeView>(`/v1/nodes/${seg(c.node)}`);
  }
  return emit(ctx, nodeTable([node]), node);
}

// ---------------------------------------------------------------------------------------------
// group

const groupPath = (g: string): string => `/v1/groups/${seg(g)}`;

async function runGroup(c: Of<'group-status' | 'group-create' | 'group-delete' | 'group-online' | 'group-offline'
  | 'group-move' | 'group-prop-list' | 'group-prop-set' | 'group-list-owners'>, ctx: Ctx): Promise<number> {
  const api = ctx.client;
  switch (c.kind) {
    case 'group-status': return groupStatus(c.group, c.onNode, ctx);
    case 'group-create': {
      const g = await api.post<GroupView>('/v1/groups', { name: c.group, ...c.patch });
      return emit(ctx, banner(say.groupCreate(c.group)) + groupTable([g]), g);
    }
    case 'group-delete': return emit(ctx, banner(say.groupDelete(c.group), false), await api.delete<unknown>(groupPath(c.group)));
    case 'group-online': case 'group-offline': return groupOnOff(c.group, c.kind === 'group-online' ? 'Online' : 'Offline', c.waitSeconds, ctx);
    case 'group-move': return moveGroup(c.group, c.node, c.waitSeconds, ctx);
    case 'group-prop-list': {
      const g = await api.get<GroupView>(groupPath(c.group));
      return emit(ctx, banner(say.props(c.group)) + propTable('Resource Group', g.name, groupPropEntries(g)), g);
    }
    case 'group-prop-set': return emit(ctx, '', await api.patch<GroupView>(groupPath(c.group), c.patch));
    case 'group-list-owners': {
      const g = await api.get<GroupView>(groupPath(c.group));
      return emit(ctx, banner(say.groupListOwners(c.group)) + ownerList('Preferred Owner Nodes', g.preferredOwners), g.preferredOwners);
    }
  }
}

async function groupStatus(group: string | null, onNode: string | null, ctx: Ctx): Promise<number> {
  if (group !== null) {
    const g = await ctx.client.get<GroupView>(groupPath(group));
    return emit(ctx, banner(say.groupStatus(group)) + groupTable([g]), g);
  }
  const all = await ctx.client.get<GroupView[]>('/v1/groups');
  const groups = onNode === null ? all : all.filter((g) => g.node === onNode);
  const title = onNode === null ? say.groupStatusAll() : say.groupStatusForNode(onNode);
  return emit(ctx, banner(title) + groupTable(groups), groups);
}

async function groupOnOff(group: string, target: 'Online' | 'Offline', waitSeconds: number, ctx: Ctx): Promise<number> {
  progress(ctx, banner(target === 'Online' ? say.groupOnline(group) : say.groupOffline(group)));
  const before = await ctx.client.get<GroupView>(groupPath(group));
  await ctx.client.post(`${groupPath(group)}/${target.toLowerCase()}`);
  const judge = stateJudge<GroupView>((g) => g.state, target, before.state === 'Failed');
  const { view, verdict } = await waitFor(ctx, () => ctx.client.get<GroupView>(groupPath(group)), judge, waitSeconds, (g) => `group '${group}' is ${g.state}`);
  emit(ctx, groupTable([view]), view);
  return finishWait(verdict, waitSeconds, `group '${group}'`, target, view.state, undefined, `cluster why "${group}"`);
}

async function moveGroup(group: string, node: string | null, waitSeconds: number, ctx: Ctx): Promise<number> {
  progress(ctx, banner(say.groupMove(group)));
  const before = await ctx.client.get<GroupView>(groupPath(group));
  const moved = await ctx.client.post<{ ok: true; node: string }>(`${groupPath(group)}/move`, node === null ? {} : { node });
  const target = moved.node ?? node;
  const { view, verdict } = await waitFor(ctx, () => ctx.client.get<GroupView>(groupPath(group)), moveJudge(target, before.state), waitSeconds, (g) => `group '${group}' is ${g.state} on ${g.node ?? 'no node'}`);
  emit(ctx, groupTable([view]), view);
  const want = target ? `${target} (${view.state})` : 'another node';
  return finishWait(verdict, waitSeconds, `group '${group}'`, `moved to ${want}`, view.state, undefined, `cluster why "${group}"`);
}

/** A move is done when the group is on the target node and back in the state it had before the move. */
function moveJudge(target: string | null, before: GroupView['state']): (g: GroupView) => Verdict {
  const wantOnline = before === 'Online' || before === 'Partially Online';
  let seenOther = false;
  return (g) => {
    if (g.state === 'Failed' && seenOther) return 'failed';
    if (g.state !== 'Failed') seenOther = true;
    if (target !== null && g.node !== target) return 'pending';
    if (wantOnline) return g.state === 'Online' || (before === 'Partially Online' && g.state === 'Partially Online') ? 'done' : 'pending';
    return g.state === 'Pending' ? 'pending' : 'done';
  };
}

// ---------------------------------------------------------------------------------------------
// credentials and the dashboard login

async function runAuth(c: Of<'credentials-add' | 'credentials-list' | 'credentials-revoke' | 'dashboard'>, ctx: Ctx): Promise<number> {
  const api = ctx.client;
  switch (c.kind) {
    case 'credentials-list': {
      const list = await api.get<{ user: string; role: string; createdWallMs: number }[]>('/v1/credentials');
      const rows = list.map((x) => `${x.user.padEnd(20)} ${x.role.padEnd(9)} ${new Date(x.createdWallMs).toISOString()}`);
      return emit(ctx, `${'User'.padEnd(20)} ${'Role'.padEnd(9)} Created\n${'-'.repeat(20)} ${'-'.repeat(9)} ${'-'.repeat(24)}\n${rows.join('\n')}\n`, list);
    }
    case 'credentials-revoke':
      return emit(ctx, `Revoked the credential of ${c.user}: every node refuses its token from now on.\n`, await api.delete(`/v1/credentials/${seg(c.user)}`));
    case 'credentials-add': {
      const r = await api.post<{ user: string; role: CredentialFile['role']; token: string }>('/v1/credentials', { user: c.user, role: c.role });
      const base = ctx.credential?.credential;
      const file: CredentialFile = { cluster: base?.cluster ?? 'cluster', endpoints: base?.endpoints ?? [api.endpoint], token: r.token, role: r.role, user: r.user, ca: base?.ca ?? '' };
      if (c.out === null) return emit(ctx, `${JSON.stringify(file, null, 2)}\n`, file);
      writeCredentialFile(c.out, file);
      return emit(ctx, `Wrote the ${r.role} credential of ${r.user} to ${c.out} (mode 0600).\nGive it to ${r.user}: it goes to ~/.config/clusterd/credentials/${file.cluster}.json, or CLUSTERD_CREDENTIALS=FILE.\n`, { ...file, token: undefined, path: c.out });
    }
    case 'dashboard': {
      const t = await api.post<{ ticket: string; path: string }>('/v1/login-tickets');
      const url = `${api.endpoint}${t.path}`;
      return emit(ctx, c.urlOnly ? `${url}\n` : `Open this URL in a browser on this machine (valid once, for 60 s):\n${url}\n`, { url });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// resource

const resPath = (r: string): string => `/v1/resources/${seg(r)}`;
type ResourceCommand = Exclude<Command, Of<'help' | 'node-status' | 'node-action' | 'status' | 'log' | 'why' | 'apply' | 'export' | 'checkpoint' | 'import-pacemaker' | 'agents'
  | 'backup-freeze' | 'backup-thaw' | 'backup-status' | 'backup-run'
  | 'credentials-add' | 'credentials-list' | 'credentials-revoke' | 'dashboard'
  | 'group-status' | 'group-create' | 'group-delete' | 'group-online' | 'group-offline' | 'group-move'
  | 'group-prop-list' | 'group-prop-set' | 'group-list-owners'>>;

async function runResource(c: ResourceCommand, ctx: Ctx): Promise<number> {
  const api = ctx.client;
  switch (c.kind) {
    case 'resource-status': return resourceStatus(c.resource, c.onNode, ctx);
    case 'resource-create': {
      const body = { name: c.resource, group: c.group, type: c.type, ...nonEmptyProps(c.props, c.priv) };
      const r = await api.post<ResourceView>('/v1/resources', body);
      return emit(ctx, banner(say.resourceCreate(c.resource)) + resourceTable([r]), r);
    }
    case 'resource-delete': return emit(ctx, banner(say.resourceDelete(c.resource), false), await api.delete<unknown>(resPath(c.resource)));
    case 'resource-online': case 'resource-offline':
      return resourceOnOff(c.resource, c.kind === 'resource-online' ? 'Online' : 'Offline', c.waitSeconds, ctx);
    case 'resource-move': {
      const r = await api.get<ResourceView>(resPath(c.resource));
      return moveGroup(r.group, c.node, c.waitSeconds, ctx);
    }
    case 'resource-fail': {
      progress(ctx, banner(say.resourceFail(c.resource)));
      await api.post(`${resPath(c.resource)}/fail`);
      const r = await api.get<ResourceView>(resPath(c.resource));
      return emit(ctx, resourceTable([r]), r);
    }
    case 'resource-cleanup': return resourceCleanup(c.resource, c.waitSeconds, ctx);
    case 'resource-prop-list': return resourceProps(c.resource, c.which, ctx);
    case 'resource-prop-set': return emit(ctx, '', await api.patch<ResourceView>(resPath(c.resource), nonEmptyProps(c.props, c.priv)));
    case 'resource-dep': return resourceDep(c.resource, c.op, c.dependency, ctx);
    case 'resource-list-deps': return listDeps(c.resource, ctx);
    case 'resource-owner': return resourceOwner(c.resource, c.op, c.node, ctx);
    case 'resource-list-owners': return listOwners(c.resource, ctx);
    case 'resource-maint': return resourceMaint(c, ctx);
    case 'resource-waitmaint': return waitMaint(c.resource, c.waitSeconds, ctx);
  }
}

// ---------------------------------------------------------------------------------------------
// Maintenance modes of disks (seed 004): the article's lines and table, and no "System error 997":
// the command waits (bounded) until the disk's internal state has settled.

async function resourceMaint(c: Of<'resource-maint'>, ctx: Ctx): Promise<number> {
  if (c.on === null) {
    // `cluster res "Disk H:" /maint`: the status table alone, as cluster.exe prints it.
    const r = await ctx.client.get<ResourceView>(resPath(c.resource));
    return emit(ctx, resourceTable([r]), r);
  }
  const title = c.mode === 'maint' ? (c.on ? say.maintSet : say.maintClear) : (c.on ? say.extMaintSet : say.extMaintClear);
  // The line comes once the owner has accepted the change: a refusal prints only its error.
  const asked = await ctx.client.post<ResourceView>(`${resPath(c.resource)}/${c.mode}`, { on: c.on });
  progress(ctx, banner(title(c.resource)));
  if (c.waitSeconds === 0) return emit(ctx, resourceTable([asked]), asked);
  const { view, verdict } = await waitFor(ctx, () => ctx.client.get<ResourceView>(resPath(c.resource)), maintJudge(asked), c.waitSeconds, maintText(c.resource));
  emit(ctx, resourceTable([view]), view);
  return finishMaint(verdict, c.waitSeconds, c.resource, view);
}

/**
 * Done when the views show the mode the owner moved to, with a stable internal state. Failed when
 * the transition was undone (a dismount that failed) or the disk left Online (a remount that
 * failed, or anything else that cleared maintenance). Views older than the answer are ignored.
 */
function maintJudge(asked: ResourceView): (v: ResourceView) => Verdict {
  const want = asked.maintenance?.mode ?? null;
  const seen = asked.maintenance?.transition ?? -1;
  return (v) => {
    const m = v.maintenance;
    if (asked.state === 'Online' && v.state !== 'Online' && v.state !== 'OnlinePending' && v.state !== 'OfflinePending') return 'failed';
    if (m !== undefined && m.transition < seen) return 'pending'; // a view from before the request
    if (!maintenanceStable(m)) return 'pending';
    if ((m?.mode ?? null) === want) return 'done';
    return m?.error !== undefined && m.transition > seen ? 'failed' : 'pending';
  };
}

function finishMaint(verdict: Verdict, waitSeconds: number, resource: string, view: ResourceView): number {
  if (verdict === 'done') return exitOk;
  const hint = `cluster log --limit 20; cluster res "${resource}" /status`;
  if (verdict === 'failed') {
    const why = view.maintenance?.error ?? view.error ?? `it is ${view.status}`;
    throw new CliError({ code: 'MAINTENANCE_FAILED', message: `the maintenance change of resource '${resource}' did not complete: ${why}`, hint });
  }
  throw cliError('TIMEOUT', `resource '${resource}' did not reach a stable maintenance state within ${waitSeconds} s (it is ${view.status})`,
    `it may still be in progress: cluster res "${resource}" /waitmaint`);
}

/** The progress line of a maintenance wait: the resource's status and the disk's internal state. */
function maintText(resource: string): (v: ResourceView) => string {
  return (v) => `resource '${resource}' is ${v.status}${v.maintenance ? ` (maintenance ${v.maintenance.mode}, internally ${v.maintenance.internal})` : ''}`;
}

/** `/waitmaint`: block until the disk's internal state is stable (no dismount or remount under way). */
async function waitMaint(resource: string, waitSeconds: number, ctx: Ctx): Promise<number> {
  const judge = (v: ResourceView): Verdict => (maintenanceStable(v.maintenance) ? 'done' : 'pending');
  const { view, verdict } = await waitFor(ctx, () => ctx.client.get<ResourceView>(resPath(resource)), judge, waitSeconds, maintText(resource));
  emit(ctx, banner(say.resourceStatus(resource)) + resourceTable([view]), view);
  if (verdict === 'done') return exitOk;
  throw cliError('TIMEOUT', `resource '${resource}' did not reach a stable internal state within ${waitSeconds} s (it is ${view.status})`,
    `wait longer: cluster res "${resource}" /waitmaint:SECONDS`);
}

/** Send only what was given: an empty object is noise in the request and in the quorum log. */
function nonEmptyProps(props: object, priv: object): { props?: object; priv?: object } {
  return { ...(Object.keys(props).length > 0 ? { props } : {}), ...(Object.keys(priv).length > 0 ? { priv } : {}) };
}

async function resourceStatus(resource: string | null, onNode: string | null, ctx: Ctx): Promise<number> {
  if (resource !== null) {
    const r = await ctx.client.get<ResourceView>(resPath(resource));
    return emit(ctx, banner(say.resourceStatus(resource)) + resourceTable([r]), r);
  }
  const all = await ctx.client.get<ResourceView[]>('/v1/resources');
  const list = onNode === null ? all : all.filter((r) => r.node === onNode);
  const title = onNode === null ? say.resourceStatusAll() : say.resourceStatusForNode(onNode);
  return emit(ctx, banner(title) + resourceTable(list), list);
}

async function resourceOnOff(resource: string, target: 'Online' | 'Offline', waitSeconds: number, ctx: Ctx): Promise<number> {
  progress(ctx, banner(target === 'Online' ? say.resourceOnline(resource) : say.resourceOffline(resource)));
  const before = await ctx.client.get<ResourceView>(resPath(resource));
  await ctx.client.post(`${resPath(resource)}/${target.toLowerCase()}`);
  const judge = stateJudge<ResourceView>((r) => r.state, target, before.state === 'Failed');
  const { view, verdict } = await waitFor(ctx, () => ctx.client.get<ResourceView>(resPath(resource)), judge, waitSeconds, (r) => `resource '${resource}' is ${r.state}`);
  emit(ctx, resourceTable([view]), view);
  return finishWait(verdict, waitSeconds, `resource '${resource}'`, target, view.state, view.error, `cluster log --limit 20; cluster res "${resource}" /status`);
}

/**
 * `/cleanup`: the cluster forgets the resource's failures (restart counters, its group's failover
 * history and Failed state) and a Failed resource becomes Offline, then goes to its desired state.
 * Waits (bounded) until it is no longer Failed.
 */
async function resourceCleanup(resource: string, waitSeconds: number, ctx: Ctx): Promise<number> {
  progress(ctx, banner(say.resourceCleanup(resource)));
  await ctx.client.post(`${resPath(resource)}/cleanup`);
  const judge = (r: ResourceView): Verdict => (r.state === 'Failed' ? 'pending' : 'done');
  const { view, verdict } = await waitFor(ctx, () => ctx.client.get<ResourceView>(resPath(resource)), judge, waitSeconds, (r) => `resource '${resource}' is ${r.state}`);
  emit(ctx, resourceTable([view]), view);
  if (verdict === 'done' || waitSeconds === 0) return exitOk;
  throw cliError('RESOURCE_FAILED', `resource '${resource}' is still Failed ${waitSeconds} s after its cleanup${view.error ? `: ${view.error}` : ''}`,
    `it fails again as it starts: cluster log --limit 20; fix it, or take it offline: cluster res "${resource}" /offline`);
}

async function resourceProps(resource: string, which: 'prop' | 'priv', ctx: Ctx): Promise<number> {
  const r = await ctx.client.get<ResourceView>(resPath(resource));
  const entries = which === 'prop' ? resourcePropEntries(r) : privPropEntries(r);
  const title = which === 'prop' ? say.props(resource) : say.priv(resource);
  return emit(ctx, banner(title) + propTable('Resource', r.name, entries), which === 'prop' ? r.props : r.priv);
}

async function resourceDep(resource: string, op: 'add' | 'remove', dep: string, ctx: Ctx): Promise<number> {
  const r = op === 'add'
    ? await ctx.client.post<ResourceView>(`${resPath(resource)}/deps`, { dependsOn: dep })
    : await ctx.client.delete<ResourceView>(`${resPath(resource)}/deps/${seg(dep)}`);
  return emit(ctx, banner(op === 'add' ? say.addDep(resource, dep) : say.removeDep(resource, dep)), r);
}

async function listDeps(resource: string, ctx: Ctx): Promise<number> {
  const r = await ctx.client.get<ResourceView>(resPath(resource));
  const all = await ctx.client.get<ResourceView[]>('/v1/resources');
  const deps = r.dependsOn.flatMap((d) => all.filter((x) => x.name === d));
  return emit(ctx, banner(say.listDep(resource)) + resourceTable(deps), deps);
}

/** A resource's possible owners are its group's; an empty list there means every node. */
async function possibleOwnersOf(resource: string, ctx: Ctx): Promise<{ group: GroupView; owners: string[]; all: string[] }> {
  const r = await ctx.client.get<ResourceView>(resPath(resource));
  const group = await ctx.client.get<GroupView>(groupPath(r.group));
  const all = (await ctx.client.get<NodeView[]>('/v1/nodes')).map((n) => n.name);
  return { group, owners: group.possibleOwners.length === 0 ? all : group.possibleOwners, all };
}

async function resourceOwner(resource: string, op: 'add' | 'remove', node: string, ctx: Ctx): Promise<number> {
  const { group, owners, all } = await possibleOwnersOf(resource, ctx);
  if (!all.includes(node)) throw cliError('NODE_NOT_FOUND', `no node '${node}' in the cluster`, `nodes: ${all.join(', ')}`);
  const next = op === 'add' ? (owners.includes(node) ? owners : [...owners, node]) : owners.filter((n) => n !== node);
  if (next.length === 0) {
    throw cliError('BAD_ARGUMENT', `'${node}' is the last possible owner of group '${group.name}': an empty list would mean every node`,
      `add another owner first: cluster res "${resource}" /addowner:NODE`);
  }
  const changed = next.length !== owners.length || group.possibleOwners.length === 0 && op === 'remove';
  const view = changed ? await ctx.client.patch<GroupView>(groupPath(group.name), { possibleOwners: next }) : group;
  return emit(ctx, banner(op === 'add' ? say.addOwner(resource, node) : say.removeOwner(resource, node)), view);
}

async function listOwners(resource: string, ctx: Ctx): Promise<number> {
  const { owners } = await possibleOwnersOf(resource, ctx);
  return emit(ctx, banner(say.listOwners(resource), false) + ownerList('Possible Owner Nodes', owners), owners);
}

// ---------------------------------------------------------------------------------------------
// Waiting, as cluster.exe does: poll until the state is reached, failed, or time is up.

type Verdict = 'done' | 'failed' | 'pending';

/**
 * Failed counts only once something else has been seen: an operator bringing a Failed resource
 * online must not get an error from the state it had before the request was acted on.
 */
function stateJudge<T>(stateOf: (v: T) => string, target: string, initiallyFailed: boolean): (v: T) => Verdict {
  let armed = !initiallyFailed;
  return (v) => {
    const s = stateOf(v);
    if (s === target) return 'done';
    if (s !== 'Failed') { armed = true; return 'pending'; }
    return armed ? 'failed' : 'pending';
  };
}

/** `describe`: what the view shows now, for the progress line ("group 'web' is OnlinePending"). */
async function waitFor<T>(ctx: Ctx, read: () => Promise<T>, judge: (v: T) => Verdict, waitSeconds: number, describe: (v: T) => string): Promise<{ view: T; verdict: Verdict }> {
  const startMs = performance.now();
  const deadline = startMs + waitSeconds * 1000;
  const pollsMax = Math.ceil((waitSeconds * 1000) / pollIntervalMs);
  const progress = new Progress(ctx.io.err, ctx.io.errIsTty === true);
  try {
    let view = await read();
    let verdict = judge(view);
    for (let polls = 0; verdict === 'pending' && polls < pollsMax && performance.now() < deadline; polls++) {
      progress.show(`${describe(view)}: waiting, ${waitedText(performance.now() - startMs, waitSeconds)}`);
      await sleep(pollIntervalMs, undefined, { signal: ctx.io.signal });
      view = await read();
      verdict = judge(view);
    }
    return { view, verdict };
  } finally {
    progress.done();
  }
}

function finishWait(verdict: Verdict, waitSeconds: number, what: string, target: string, state: string,
  error: string | undefined, hint: string): number {
  if (verdict === 'done' || waitSeconds === 0) return exitOk;
  if (verdict === 'failed') {
    throw new CliError({ code: 'RESOURCE_FAILED', message: `${what} failed instead of reaching ${target}${error ? `: ${error}` : ''}`, hint });
  }
  throw cliError('TIMEOUT', `${what} did not reach ${target} within ${waitSeconds} s (it is ${state})`,
    `it may still be in progress: wait longer with /wait:SECONDS, or look: ${hint}`);
}

// ---------------------------------------------------------------------------------------------
// cluster status, log, why

async function showStatus(ctx: Ctx): Promise<number> {
  const s = await ctx.client.get<StatusSnapshot>('/v1/status');
  return emit(ctx, statusOverview(s), s);
}

const clearScreen = '\x1b[2J\x1b[H';

async function watchStatus(ctx: Ctx): Promise<number> {
  const signal = ctx.io.signal;
  while (!signal?.aborted) {
    let frame: string;
    // A terminal is redrawn; a pipe or file gets each frame after a time line, with no escape codes.
    const top = ctx.io.isTty ? clearScreen : `--- ${new Date().toISOString()} ---\n`;
    try {
      const s = await ctx.client.get<StatusSnapshot>('/v1/status', signal);
      frame = ctx.json ? JSON.stringify(s) + '\n' : top + statusOverview(s);
    } catch (e) {
      if (signal?.aborted) break;
      // Keep watching through an outage: the endpoint may come back, as crm_mon does.
      frame = ctx.json ? jsonError(asErrorLike(e)) : top + formatError(asErrorLike(e));
    }
    ctx.io.out(frame + (ctx.json || !ctx.io.isTty ? '' : `\n(every ${watchIntervalMs / 1000} s from ${ctx.client.endpoint}; Ctrl-C to stop)\n`));
    await sleep(watchIntervalMs, undefined, { signal }).catch(() => undefined);
  }
  return exitOk;
}

async function takeCheckpoint(ctx: Ctx): Promise<number> {
  const r = await ctx.client.post<{ ok: true; seq: number }>('/v1/checkpoint');
  return emit(ctx, `Checkpoint of the cluster database taken at seq ${r.seq}; the quorum log restarts after it.\n`, r);
}

async function showAgents(agent: string | null, ctx: Ctx): Promise<number> {
  if (agent === null) {
    const list = await ctx.client.get<{ node: string; agents: string[] }>('/v1/agents');
    return emit(ctx, list.agents.length === 0 ? `no OCF agents on node ${list.node}\n` : `${list.agents.join('\n')}\n`, list);
  }
  const colon = agent.indexOf(':');
  const info = await ctx.client.get<AgentInfo & { node: string }>(`/v1/agents/${seg(agent.slice(0, colon))}/${seg(agent.slice(colon + 1))}`);
  const rows = info.params.map((p) => [p.name, p.required ? 'yes' : 'no', p.default ?? '', p.shortdesc ?? '']);
  const widths = [0, 1, 2].map((i) => Math.max(['Parameter', 'Required', 'Default'][i]!.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `${r.slice(0, 3).map((c, i) => c.padEnd(widths[i]!)).join('  ')}  ${r[3]}`.trimEnd();
  const timeouts = Object.entries(info.timeoutsMs).map(([a, ms]) => `${a} ${ms / 1000} s`).join(', ');
  const head = `${info.name}${info.shortdesc ? `: ${info.shortdesc}` : ''} (node ${info.node})\n` +
    (timeouts !== '' ? `timeouts: ${timeouts}${info.monitorIntervalMs !== undefined ? `; monitor interval ${info.monitorIntervalMs / 1000} s` : ''}\n` : '');
  return emit(ctx, `${head}${[line(['Parameter', 'Required', 'Default', 'Description']), ...rows.map(line)].join('\n')}\n`, info);
}

async function showWhy(group: string, ctx: Ctx): Promise<number> {
  const w = await ctx.client.get<WhyView>(`${groupPath(group)}/why`);
  return emit(ctx, whyText(w), w);
}

/** Events after `after`, oldest first, keeping only the newest `keep`; pages are bounded. */
async function eventsAfter(ctx: Ctx, after: number, keep: number): Promise<ClusterEvent[]> {
  const out: ClusterEvent[] = [];
  let cursor = after;
  for (let page = 0; page < eventPagesMax; page++) {
    const { events } = await ctx.client.get<{ events: ClusterEvent[] }>(`/v1/events?after=${cursor}&limit=${eventPageSize}`, ctx.io.signal);
    if (events.length === 0) break;
    out.push(...events);
    if (out.length > keep) out.splice(0, out.length - keep);
    cursor = events[events.length - 1]!.id;
  }
  return out;
}

async function showLog(limit: number, follow: boolean, ctx: Ctx): Promise<number> {
  const events = await eventsAfter(ctx, 0, limit);
  if (!follow) return emit(ctx, events.map(logLine).join(''), { events });
  const printer = eventPrinter(ctx);
  events.forEach(printer.print);
  await followEvents(ctx, printer);
  return exitOk;
}

interface Printer { print: (e: ClusterEvent) => void; lastId: () => number }

/** Prints each event once, in id order: the stream and catch-up reads overlap. */
function eventPrinter(ctx: Ctx): Printer {
  let last = 0;
  return {
    print: (e) => {
      if (e.id <= last) return;
      last = e.id;
      ctx.io.out(ctx.json ? JSON.stringify(e) + '\n' : logLine(e));
    },
    lastId: () => last,
  };
}

/** Stream events (SSE) when the server streams, else poll; reconnect (any endpoint) after an outage. */
async function followEvents(ctx: Ctx, printer: Printer): Promise<void> {
  const signal = ctx.io.signal ?? new AbortController().signal;
  let reported = false;
  while (!signal.aborted) {
    try {
      // The stream starts after the last event printed; a stream that ends (the node stopped, or
      // dropped a reader that fell behind) is opened again from there.
      const stream = await ctx.client.stream(`/v1/events/stream?after=${printer.lastId()}`, signal);
      if (!stream) (await eventsAfter(ctx, printer.lastId(), eventPageSize * eventPagesMax)).forEach(printer.print);
      if (stream) {
        for await (const data of stream) {
          const e = parseEvent(data);
          if (e) printer.print(e);
        }
      }
      reported = false;
    } catch (e) {
      if (signal.aborted) return;
      if (!reported) ctx.io.err(formatError(asErrorLike(e)) + 'still following; retrying every second\n');
      reported = true;
    }
    await sleep(watchIntervalMs, undefined, { signal }).catch(() => undefined);
  }
}

function parseEvent(data: string): ClusterEvent | null {
  try {
    const e = JSON.parse(data) as Partial<ClusterEvent>;
    return typeof e === 'object' && e !== null && typeof e.id === 'number' && typeof e.event === 'string' ? (e as ClusterEvent) : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// cluster apply

async function readApplyFile(file: string, io: CliIo): Promise<string> {
  if (io.readFile) return io.readFile(file);
  const info = await stat(file).catch((e: NodeJS.ErrnoException) => {
    throw cliError('BAD_ARGUMENT', `cannot read ${file}: ${e.code ?? e.message}`, 'cluster apply -f PATH-TO-YAML');
  });
  if (info.size > applyFileBytesMax) throw cliError('BAD_CONFIG', `${file} is ${info.size} bytes, more than one apply takes (${applyFileBytesMax >> 20} MiB)`, applySplitHint);
  return readFile(file, 'utf8');
}

/** `cluster export`: the live configuration as an apply file, as the answering node has it. */
async function showExport(ctx: Ctx): Promise<number> {
  const r = await ctx.client.get<{ seq: number; text: string }>('/v1/export');
  return emit(ctx, r.text, r);
}

async function apply(file: string, dryRun: boolean, prune: boolean, ctx: Ctx): Promise<number> {
  const loaded = loadApplyFile(await readApplyFile(file, ctx.io));
  if (!loaded.ok) {
    for (const p of loaded.problems) ctx.io.err(formatProblem(file, p));
    const n = loaded.problems.length;
    throw cliError('BAD_CONFIG', `${file}: ${n} problem${n === 1 ? '' : 's'}; nothing was sent`, `fix ${n === 1 ? 'it' : 'them'} and run cluster apply -f ${file} again`);
  }
  let result: ApplyResult;
  // One request, as long as the commit of every change takes: a ticking line says it is under way.
  const groups = Object.values(loaded.spec.groups ?? {});
  const resources = groups.reduce((n, g) => n + Object.keys(g?.resources ?? {}).length, 0);
  const progress = new Progress(ctx.io.err, ctx.io.errIsTty === true);
  const startMs = performance.now();
  const tell = () => progress.show(`${dryRun ? 'planning' : 'applying'} ${groups.length} group(s), ${resources} resource(s): ${Math.floor((performance.now() - startMs) / 1000)} s`);
  tell();
  const ticker = setInterval(tell, applyProgressEveryMs);
  try {
    result = await ctx.client.post<ApplyResult>('/v1/apply', { spec: loaded.spec, dryRun, ...(prune ? { prune } : {}) }, applyTimeoutMs);
  } catch (e) {
    clearInterval(ticker);
    progress.done();
    const pos = e instanceof CliError && e.path ? locatePath(loaded.file, e.path) : null;
    if (!pos) throw e;
    ctx.io.err(`${file}:${pos.line}:${pos.col}: ${formatError(e as CliError)}`);
    return exitCodeOf((e as CliError).code);
  } finally {
    clearInterval(ticker);
    progress.done();
  }
  return emit(ctx, planText(result), result);
}

// ---------------------------------------------------------------------------------------------
// cluster import pacemaker: no cluster needed

async function importFile(file: string, io: CliIo): Promise<number> {
  let text: string;
  try {
    text = await readApplyFile(file, io);
  } catch (e) {
    io.err(formatError(asErrorLike(e)));
    return importExit.failed;
  }
  const r = importPacemaker(text);
  if (!r.ok) {
    io.err(formatError({ code: 'BAD_CONFIG', message: `${file}: ${r.error}` }));
    return importExit.failed;
  }
  io.out(importText(r.result, file));
  io.err(droppedText(r.result.dropped));
  return r.result.dropped.length === 0 ? importExit.complete : importExit.partial;
}

// ---------------------------------------------------------------------------------------------
// cluster backup: freeze, thaw, status, run

const backupPath = (id: string): string => `/v1/backups/${seg(id)}`;
/** A freeze or thaw the server has not finished within its answer: poll this long beyond the limit. */
const backupPollSlackMs = 10_000;
/** While `backup run`'s command runs, look this often whether the backup still holds its freeze. */
const runWatchMs = 250;

async function runBackup(c: Of<'backup-freeze' | 'backup-thaw' | 'backup-status' | 'backup-run'>, ctx: Ctx): Promise<number> {
  switch (c.kind) {
    case 'backup-freeze': {
      if (!c.quiet) progress(ctx, banner(`Freezing the writers of '${c.target}' for a backup${c.limitMs === null ? '' : ` (freeze limit ${durationText(c.limitMs)})`}...`));
      const v = await freezeBackup(c.target, c.limitMs, ctx);
      if (c.quiet && !ctx.json) { ctx.io.out(`${v.id}\n`); return exitOk; }
      const left = v.limitMs - (v.frozenAfterMs ?? 0);
      return emit(ctx, backupDetail(v) + `\nFrozen. Thaw within ${durationText(left)} (the cluster thaws it at the limit): cluster backup thaw ${v.id}\n`, v);
    }
    case 'backup-thaw': {
      progress(ctx, banner(`Thawing backup ${c.id}...`));
      const v = await thawBackup(c.id, ctx);
      return emit(ctx, backupDetail(v), v);
    }
    case 'backup-status': {
      if (c.id !== null) {
        const v = await ctx.client.get<BackupView>(backupPath(c.id));
        return emit(ctx, backupDetail(v), v);
      }
      const { backups } = await ctx.client.get<{ backups: BackupView[] }>('/v1/backups');
      return emit(ctx, banner('Listing backups (newest first):') + backupTable(backups), { backups });
    }
    case 'backup-run': return runSnapshot(c, ctx);
  }
}

/** POST the freeze; if the owner answered before every writer was frozen, poll until it is (bounded by the limit). */
async function freezeBackup(target: string, limitMs: number | null, ctx: Ctx): Promise<BackupView> {
  let v = await ctx.client.post<BackupView>('/v1/backups', limitMs === null ? { target } : { target, timeoutMs: limitMs });
  const until = performance.now() + v.limitMs + backupPollSlackMs;
  while (v.state === 'Freezing' && performance.now() < until) {
    await sleep(pollIntervalMs, undefined, { signal: ctx.io.signal });
    v = await ctx.client.get<BackupView>(backupPath(v.id));
  }
  if (v.state !== 'Frozen') throw backupError(v, 'the freeze did not complete');
  return v;
}

/** POST the thaw; if writers are still being thawed, poll until they are. A backup that failed is an error. */
async function thawBackup(id: string, ctx: Ctx): Promise<BackupView> {
  let v = await ctx.client.post<BackupView>(`${backupPath(id)}/thaw`);
  const until = performance.now() + backupPollSlackMs * 3;
  while (v.endedAfterMs === null && performance.now() < until) {
    await sleep(pollIntervalMs, undefined, { signal: ctx.io.signal });
    v = await ctx.client.get<BackupView>(backupPath(id));
  }
  if (v.state !== 'Thawed') throw backupError(v, 'the thaw did not complete');
  return v;
}

function backupError(v: BackupView, fallback: string): CliError {
  if (v.error) return new CliError(v.error);
  return cliError('TIMEOUT', `backup ${v.id}: ${fallback} (it is ${v.state})`, `cluster backup status ${v.id}`);
}

/**
 * `cluster backup run GROUP -- CMD ARGS...`: freeze, run the snapshot command here with
 * CLUSTERD_BACKUP_ID/GROUP/NODE, thaw, report. If the backup fails while the command runs (the
 * limit, a failover), the command gets SIGTERM: a snapshot taken after the thaw is not consistent.
 */
async function runSnapshot(c: Of<'backup-run'>, ctx: Ctx): Promise<number> {
  const v = await freezeBackup(c.target, c.limitMs, ctx);
  progress(ctx, `Backup ${v.id}: ${v.writers.length} writer(s) of group '${v.group}' frozen on ${v.node} in ${durationText(v.frozenAfterMs ?? 0)}; running ${c.argv.join(' ')}\n`);
  const started = performance.now();
  const outcome = await runWatched(c.argv, v, ctx);
  const ranMs = performance.now() - started;
  let thawed: BackupView;
  try {
    thawed = await thawBackup(v.id, ctx);
  } catch (e) {
    if (outcome.kind === 'failed-backup' || !(e instanceof CliError)) throw e;
    throw new CliError({ code: e.code, message: `${e.message} (the snapshot command ${outcome.kind === 'exited' && outcome.code === 0 ? 'succeeded' : 'failed'} after ${durationText(ranMs)})`, hint: e.hint });
  }
  if (outcome.kind === 'failed-backup') throw outcome.error;
  if (outcome.kind !== 'exited' || outcome.code !== 0) {
    const why = outcome.kind === 'exited' ? `exited with ${outcome.signal ? `signal ${outcome.signal}` : `code ${outcome.code}`}` : `could not start: ${outcome.message}`;
    throw cliError('BACKUP_SNAPSHOT_FAILED', `backup ${v.id}: the snapshot command ${c.argv[0]} ${why}; the writers were thawed`, 'fix the command and run the backup again');
  }
  const held = thawed.thawAskedAfterMs !== null && thawed.frozenAfterMs !== null ? thawed.thawAskedAfterMs - thawed.frozenAfterMs : ranMs;
  return emit(ctx, `Backup ${v.id} of group '${v.group}' done: frozen in ${durationText(v.frozenAfterMs ?? 0)}, snapshot command ran ${durationText(ranMs)}, writers held for ${durationText(held)}, all thawed (limit ${durationText(v.limitMs)}).\n`, thawed);
}

type RunOutcome =
  | { kind: 'exited'; code: number | null; signal: string | null }
  | { kind: 'no-start'; message: string }
  | { kind: 'failed-backup'; error: CliError };

/** Run the snapshot command with inherited stdio; stop it if the backup fails meanwhile or on Ctrl-C. */
function runWatched(argv: string[], v: BackupView, ctx: Ctx): Promise<RunOutcome> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: ctx.json ? ['inherit', 'ignore', 'inherit'] : 'inherit',
      env: { ...ctx.io.env, CLUSTERD_BACKUP_ID: v.id, CLUSTERD_BACKUP_GROUP: v.group, CLUSTERD_BACKUP_NODE: v.node },
    });
    let failure: CliError | null = null;
    let watching = true;
    const onAbort = () => child.kill('SIGTERM');
    ctx.io.signal?.addEventListener('abort', onAbort, { once: true });
    const watch = async (): Promise<void> => {
      while (watching) {
        await sleep(runWatchMs);
        if (!watching) return;
        const now = await ctx.client.get<BackupView>(backupPath(v.id)).catch(() => null);
        if (now !== null && now.state !== 'Frozen' && watching) {
          failure = backupError(now, `the backup stopped holding its freeze while the snapshot command ran (it is ${now.state})`);
          ctx.io.err(`backup ${v.id} is ${now.state} while the snapshot command runs: stopping it (SIGTERM)\n`);
          child.kill('SIGTERM');
          return;
        }
      }
    };
    void watch();
    const done = (o: RunOutcome) => {
      watching = false;
      ctx.io.signal?.removeEventListener('abort', onAbort);
      resolve(failure !== null ? { kind: 'failed-backup', error: failure } : o);
    };
    child.once('error', (err) => done({ kind: 'no-start', message: err.message }));
    child.once('exit', (code, signal) => done({ kind: 'exited', code, signal }));
  });
}
