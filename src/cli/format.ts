// Pure text formatters for the `cluster` command. Status tables copy cluster.exe's message
// templates (cmderror.mc) byte for byte: `%1!-20s! %2!-20s! %3!-15s! %4` pads without truncating,
// so a long name pushes the rest of its row to the right, as cluster.exe does.

import type { ApplyResult, ClusterEvent, GroupView, NodeView, ResourceView, StatusSnapshot, WhyView } from '../api/types.js';
import type { FailbackPolicy, PrivValue } from '../core/types.js';
import type { BackupView } from '../core/backup.js';
import { msText } from '../core/duration-text.js';

const pad = (text: string, width: number): string => text.padEnd(width);
const lines = (rows: readonly string[]): string => rows.map((r) => r + '\n').join('');

/** Anything with cluster's error shape: ClusterError, an API error body, a CLI failure. */
export interface ErrorLike {
  code: string;
  message: string;
  hint?: string | undefined;
}

/** `error[CODE]: message` and `hint: ...` on the next line, as every clusterd tool prints errors. */
export function formatError(e: ErrorLike): string {
  return `error[${e.code}]: ${e.message}\n` + (e.hint ? `hint: ${e.hint}\n` : '');
}

// ---------------------------------------------------------------------------------------------
// cluster.exe messages (text before a table; most are followed by a blank line)

export const say = {
  nodeStatus: (n: string) => `Listing status for node '${n}':`,
  nodeStatusAll: () => 'Listing status for all available nodes:',
  pause: (n: string) => `Pausing node '${n}'...`,
  resume: (n: string) => `Resuming node '${n}'...`,
  evict: (n: string) => `Evicting node '${n}'...`,
  /** No cluster.exe equivalent (WSFC 2012 calls it drain roles); same shape as pause. */
  drain: (n: string) => `Draining node '${n}'...`,
  groupStatus: (g: string) => `Listing status for resource group '${g}':`,
  groupStatusAll: () => 'Listing status for all available resource groups:',
  groupStatusForNode: (n: string) => `Listing status of resource group for node '${n}':`,
  groupCreate: (g: string) => `Creating resource group '${g}'...`,
  groupDelete: (g: string) => `Deleting resource group '${g}'`,
  groupMove: (g: string) => `Moving resource group '${g}'...`,
  groupOnline: (g: string) => `Bringing resource group '${g}' online...`,
  /** Sic: cluster.exe says "Bringing ... offline" for groups (MSG_GROUPCMD_OFFLINE). */
  groupOffline: (g: string) => `Bringing resource group '${g}' offline...`,
  groupListOwners: (g: string) => `Listing preferred owners for resource group '${g}':`,
  resourceStatus: (r: string) => `Listing status for resource '${r}':`,
  resourceStatusAll: () => 'Listing status for all available resources:',
  resourceStatusForNode: (n: string) => `Listing status of resource for node '${n}':`,
  resourceCreate: (r: string) => `Creating resource '${r}'...`,
  resourceDelete: (r: string) => `Deleting resource '${r}'`,
  resourceOnline: (r: string) => `Bringing resource '${r}' online...`,
  resourceOffline: (r: string) => `Taking resource '${r}' offline...`,
  resourceFail: (r: string) => `Failing resource '${r}'...`,
  resourceCleanup: (r: string) => `Cleaning up resource '${r}' (its failures are forgotten)...`,
  addDep: (r: string, d: string) => `Making resource '${r}' depend on resource '${d}'...`,
  removeDep: (r: string, d: string) => `Removing dependency of resource '${r}' on resource '${d}'...`,
  listDep: (r: string) => `Listing resource dependencies for '${r}':`,
  addOwner: (r: string, n: string) => `Adding '${n}' to possible owners of '${r}'...`,
  removeOwner: (r: string, n: string) => `Removing '${n}' from possible owners of '${r}'...`,
  /** cluster.exe prints no blank line after this one. */
  listOwners: (r: string) => `Listing possible owners for resource '${r}':`,
  /** The maintenance-mode article's lines (seed 004), no trailing dots. */
  maintSet: (r: string) => `Setting maintenance mode for resource '${r}'`,
  maintClear: (r: string) => `Clearing maintenance mode for resource '${r}'`,
  extMaintSet: (r: string) => `Setting extended maintenance mode for resource '${r}'`,
  extMaintClear: (r: string) => `Clearing extended maintenance mode for resource '${r}'`,
  props: (o: string) => `Listing properties for '${o}':`,
  priv: (o: string) => `Listing private properties for '${o}':`,
};

/** A message line then (usually) a blank line, as cluster.exe's .mc templates end. */
export function banner(message: string, blankLine = true): string {
  return message + '\n' + (blankLine ? '\n' : '');
}

// ---------------------------------------------------------------------------------------------
// Status tables

export function nodeTable(nodes: readonly NodeView[]): string {
  // MSG_NODE_STATUS: %1!-15s! %2!6s! %3
  return lines([
    'Node           Node ID Status',
    '-------------- ------- ---------------------',
    ...nodes.map((n) => `${pad(n.name, 15)} ${String(n.id).padStart(6)} ${n.state}`),
  ]);
}

export function groupTable(groups: readonly GroupView[]): string {
  // MSG_GROUP_STATUS: %1!-20s! %2!-15s! %3
  return lines([
    'Group                Node            Status',
    '-------------------- --------------- ------',
    ...groups.map((g) => `${pad(g.name, 20)} ${pad(g.node ?? '', 15)} ${g.state}`),
  ]);
}

export function resourceTable(resources: readonly ResourceView[]): string {
  // MSG_RESOURCE_STATUS: %1!-20s! %2!-20s! %3!-15s! %4
  return lines([
    'Resource             Group                Node            Status',
    '-------------------- -------------------- --------------- ------',
    ...resources.map((r) => `${pad(r.name, 20)} ${pad(r.group, 20)} ${pad(r.node ?? '', 15)} ${r.status}`),
  ]) + failedNotes(resources);
}

/** Under a table: why each Failed resource failed, and what to do (cluster.exe's columns stay as they are). */
function failedNotes(resources: readonly ResourceView[]): string {
  const failed = resources.filter((r) => r.state === 'Failed');
  if (failed.length === 0) return '';
  return lines(['', ...failed.map((r) => `Resource '${r.name}' is Failed${r.node ? ` on ${r.node}` : ''}: ${r.error ?? 'no reason reported'}` +
    ` (cluster res "${r.name}" /cleanup starts it afresh; /offline takes it offline)`)]);
}

/** "Preferred Owner Nodes" / "Possible Owner Nodes" lists. */
export function ownerList(title: 'Preferred Owner Nodes' | 'Possible Owner Nodes', nodes: readonly string[]): string {
  return lines([title, '-'.repeat(title.length), ...nodes]);
}

// ---------------------------------------------------------------------------------------------
// Property listings (cluster X /prop, /priv)

export interface PropEntry {
  name: string;
  value: PrivValue | null;
  readOnly?: boolean;
}

/** cluster.exe's format letter: S string, D number (with hex), M list. */
function propTypeAndText(value: PrivValue | null): [string, string] {
  if (Array.isArray(value)) return ['M', value.join(',')];
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return ['D', `${value} (0x${value.toString(16)})`];
  return ['S', value === null ? '' : String(value)];
}

export function propTable(ownerKind: 'Resource' | 'Resource Group', owner: string, entries: readonly PropEntry[]): string {
  // MSG_PROPERTY_HEADER_RES_ALL / _GROUP_ALL, then format char, R or space, %1!-20s! %2!-30s! %3
  return lines([
    `T  ${pad(ownerKind, 20)} Name                           Value`,
    '-- -------------------- ------------------------------ -----------------------',
    ...entries.map((e) => {
      const [t, text] = propTypeAndText(e.value);
      return `${t}${e.readOnly ? 'R' : ' '} ${pad(owner, 20)} ${pad(e.name, 30)} ${text}`.trimEnd();
    }),
  ]);
}

export function failbackText(f: FailbackPolicy): string {
  if (f.mode !== 'window') return f.mode;
  const hh = (h: number): string => String(h).padStart(2, '0');
  return `${hh(f.startHour)}-${hh(f.endHour)}`;
}

export function groupPropEntries(g: GroupView): PropEntry[] {
  return [
    { name: 'name', value: g.name, readOnly: true },
    { name: 'state', value: g.state, readOnly: true },
    { name: 'node', value: g.node, readOnly: true },
    { name: 'epoch', value: g.epoch, readOnly: true },
    { name: 'preferredOwners', value: g.preferredOwners },
    { name: 'possibleOwners', value: g.possibleOwners },
    { name: 'failoverThreshold', value: g.failoverThreshold ?? 'default' },
    { name: 'failoverPeriodMs', value: g.failoverPeriodMs },
    { name: 'failback', value: failbackText(g.failback) },
  ];
}

export function resourcePropEntries(r: ResourceView): PropEntry[] {
  const readOnly: PropEntry[] = [
    { name: 'name', value: r.name, readOnly: true },
    { name: 'type', value: r.type, readOnly: true },
    { name: 'group', value: r.group, readOnly: true },
    { name: 'state', value: r.state, readOnly: true },
    { name: 'desired', value: r.desired, readOnly: true },
    { name: 'restarts', value: r.restarts, readOnly: true },
  ];
  const common = Object.entries(r.props).map(([name, value]) => ({ name, value: value as PrivValue }));
  return [...readOnly, ...common];
}

export function privPropEntries(r: ResourceView): PropEntry[] {
  return Object.keys(r.priv).sort().map((name) => ({ name, value: r.priv[name]! }));
}

// ---------------------------------------------------------------------------------------------
// cluster status: an overview in the spirit of crm_mon

/** Left-aligned columns, the last one unpadded; rows are indented. */
export function columns(rows: readonly string[][], indent: string): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => { widths[i] = Math.max(widths[i] ?? 0, cell.length); });
  return rows.map((row) => (indent + row.map((c, i) => (i === row.length - 1 ? c : pad(c, widths[i]!))).join('  ')).trimEnd());
}

export function statusOverview(s: StatusSnapshot): string {
  const out: string[] = [
    `Cluster: ${s.cluster}  (answered by ${s.node}, applied seq ${s.appliedSeq})`,
    `Coordinator: ${s.coordinator ?? 'none'}  (term ${s.term})`,
    '',
    `Nodes (${s.nodes.length}):`,
    ...columns(s.nodes.map((n) => [n.name, n.state, nodeNotes(n)]), '  '),
    '',
    `Groups (${s.groups.length}):`,
    ...(s.groups.length === 0 ? ['  (none)'] : s.groups.flatMap((g) => groupBlock(g, s.resources))),
  ];
  if (s.warnings.length > 0) out.push('', 'Warnings:', ...s.warnings.map((w) => `  ! ${w}`));
  return lines(out);
}

function nodeNotes(n: NodeView): string {
  return [n.coordinator ? 'coordinator' : '', n.draining ? 'draining' : ''].filter((x) => x !== '').join(', ');
}

function groupBlock(g: GroupView, resources: readonly ResourceView[]): string[] {
  const where = g.node === null ? '(never placed)' : `on ${g.node}`;
  const rows = g.resources.map((name) => {
    const r = resources.find((x) => x.name === name);
    if (!r) return [name, '', '(unknown)'];
    return [r.name, r.type, r.status + (r.error ? `: ${r.error}` : '')];
  });
  return [`  ${g.name}  ${g.state}  ${where}${g.reason ? `  (${g.reason})` : ''}`, ...columns(rows, '      ')];
}

// ---------------------------------------------------------------------------------------------
// cluster log, cluster why, cluster apply

/** `2026-11-24T21:03:01.123Z n1 info NODE_UP node n1 is Up` */
export function logLine(e: ClusterEvent): string {
  return `${new Date(e.wallMs).toISOString()} ${e.node} ${e.level} ${e.event} ${e.message}\n`;
}

export function whyText(w: WhyView): string {
  const where = w.node === null ? 'is not placed on any node' : `is ${w.state} on ${w.node}`;
  const head = [`Group '${w.group}' ${w.node === null ? `(${w.state}) ` : ''}${where}.`, ''];
  const reasons = ['Reasons:', ...(w.reasons.length === 0 ? ['  (none given)'] : w.reasons.map((r) => `  - ${r}`)), ''];
  const candidates = [
    'Candidates:',
    'Node            Eligible Reason',
    '--------------- -------- ------',
    ...w.candidates.map((c) => `${pad(c.node, 15)} ${pad(c.eligible ? 'yes' : 'no', 8)} ${c.reason}`.trimEnd()),
  ];
  return lines([...head, ...reasons, ...candidates]);
}

export function planText(r: ApplyResult): string {
  const title = r.dryRun ? 'plan (dry run, nothing changed):' : r.applied ? 'plan (applied):' : 'plan (not applied):';
  if (r.plan.length === 0) return lines([title, '  (nothing to change)']);
  const deletions = r.deletions ?? [];
  if (deletions.length === 0) return lines([title, ...r.plan.map((p) => `  ${p}`)]);
  // The plan lists its deletions first (--prune): under their own heading, then the rest.
  const rest = r.plan.slice(deletions.length);
  return lines([title, `  deletions (--prune, ${deletions.length}):`, ...deletions.map((p) => `    ${p}`),
    ...(rest.length > 0 ? ['  changes:', ...rest.map((p) => `    ${p}`)] : [])]);
}

// ---------------------------------------------------------------------------------------------
// cluster backup: freeze, thaw, status and run results

/** 12 ms, 3.4 s, 2 min: durations in backup reports. */
export function durationText(ms: number): string {
  if (Math.round(ms) < 1_000) return msText(ms);
  if (ms < 120_000) return `${(ms / 1_000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  return `${Math.round(ms / 60_000)} min`;
}

/** The backup's state, with the cause of a failure and a lost node. */
function backupStatus(b: BackupView): string {
  return b.state + (b.error ? ` (${b.error.code})` : '') + (b.lost ? ' (node lost)' : '');
}

/** How long it held the freeze: frozen -> thaw asked, failure, or now. */
function frozenFor(b: BackupView): string {
  if (b.frozenAfterMs === null) return '-';
  const end = b.thawAskedAfterMs ?? b.failedAfterMs ?? b.endedAfterMs;
  return end === null ? 'frozen' : durationText(Math.max(0, end - b.frozenAfterMs));
}

export function backupTable(backups: readonly BackupView[]): string {
  return lines([
    'Backup               Group                Node            Started                  Held     Status',
    '-------------------- -------------------- --------------- ------------------------ -------- ------',
    ...backups.map((b) => `${pad(b.id, 20)} ${pad(b.group, 20)} ${pad(b.node, 15)} ${pad(new Date(b.startedWallMs).toISOString(), 24)} ${pad(frozenFor(b), 8)} ${backupStatus(b)}`),
  ]);
}

/** One backup: what, when, each writer, and the error with its hint. */
export function backupDetail(b: BackupView): string {
  const at = (label: string, ms: number | null) => (ms === null ? [] : [`  ${pad(label, 18)} ${durationText(ms)} after the freeze began`]);
  const head = [
    `Backup ${b.id} of group '${b.group}'${b.target !== b.group ? ` (resource '${b.target}')` : ''} on ${b.node}, epoch ${b.epoch}: ${backupStatus(b)}`,
    `  ${pad('started', 18)} ${new Date(b.startedWallMs).toISOString()}, freeze limit ${durationText(b.limitMs)}`,
    ...at('all frozen', b.frozenAfterMs), ...at('thaw asked', b.thawAskedAfterMs), ...at('failed', b.failedAfterMs), ...at('all thawed', b.endedAfterMs),
    '',
  ];
  const writers = b.writers.length === 0 ? [] : [
    'Writer               Type       Action                         Status',
    '-------------------- ---------- ------------------------------ ------',
    ...b.writers.map((w) => `${pad(w.resource, 20)} ${pad(w.type, 10)} ${pad(w.action, 30)} ${w.state}${w.error ? `: ${w.error}` : ''}`),
  ];
  const error = b.error ? ['', `error[${b.error.code}]: ${b.error.message}`, ...(b.error.hint ? [`hint: ${b.error.hint}`] : [])] : [];
  const lost = b.lost ? ['', `note: ${b.lost}`] : [];
  return lines([...head, ...writers, ...error, ...lost]);
}
