// `cluster apply -f FILE`: the YAML document -> ApplySpec, with every problem reported at once
// as FILE:LINE:COL. Pure given the file text. The YAML tree keeps source ranges so that both our
// own findings (zod issues, cross-checks) and a server error's `path` map back to a line.

import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import { z } from 'zod';
import type { ApplySpec } from '../api/types.js';
import type { ErrorCode } from '../core/errors.js';
import { privProblems } from '../core/priv.js';
import { resourceTypes, type FailbackPolicy, type PrivProps } from '../core/types.js';
import { parseFailback } from './args.js';

export interface FileProblem {
  line: number;
  col: number;
  code: ErrorCode;
  message: string;
  /** Dotted path in the document, e.g. groups.web.resources.db.type. */
  path: string;
}

/** The parsed file, kept to map a server error's path back to a line. */
export interface ApplyFile {
  doc: Document.Parsed;
  lineCounter: LineCounter;
}

export type LoadResult =
  | { ok: true; spec: ApplySpec; file: ApplyFile }
  | { ok: false; problems: FileProblem[] };

/** Aliases (*name) may expand to this many values in all: an apply file needs few, a "billion laughs" needs billions. */
const yamlAliasCountMax = 100;

/** What a viewer's `cluster export` writes in place of a secret (api/auth.ts redacted). */
const redactedText = '(redacted)';

/** Past this many problems the rest is noise: the report ends with a count. */
export const applyProblemsMax = 100;

// ---------------------------------------------------------------------------------------------
// Schema. Key lists are shared with the "valid keys here" hints.

const topKeys = ['groups'] as const;
const groupKeys = ['preferredOwners', 'possibleOwners', 'failoverThreshold', 'failoverPeriodMs', 'failback', 'state', 'resources'] as const;
const resourceKeys = ['type', 'dependsOn', 'props', 'priv', 'state'] as const;
const propKeys = ['looksAliveIntervalMs', 'isAliveIntervalMs', 'pendingTimeoutMs', 'restartAction',
  'restartThreshold', 'restartPeriodMs', 'restartDelayMs', 'stopGraceMs'] as const;
const failbackKeys = ['mode', 'startHour', 'endHour'] as const;

// Each leaf carries what it expects as its message; problems read "must be <that>, not <value>".
const mapping = { error: 'a mapping' };
const wholeNumber = z.number({ error: 'a whole number >= 0' }).int({ error: 'a whole number >= 0' }).nonnegative({ error: 'a whole number >= 0' });
const nameList = z.array(z.string({ error: 'a name' }), { error: 'a list of names' });
const restartAction = z.enum(['none', 'restart', 'restart-failover'], { error: 'none, restart or restart-failover' });
const privValue = z.union([z.string(), z.number(), z.boolean(), z.array(z.string()), z.record(z.string(), z.string())], { error: 'a string, number, boolean, list of strings or map of strings (OCF params: quote numbers)' });

const failback = z.unknown().transform((v, ctx): FailbackPolicy => {
  const fb = toFailback(v);
  if (fb === null) {
    ctx.addIssue({ code: 'custom', message: 'never, immediate, an hour window like 22-06, or {mode: window, startHour, endHour}' });
    return z.NEVER;
  }
  return fb;
});

const propsSchema = z.strictObject({
  looksAliveIntervalMs: wholeNumber, isAliveIntervalMs: wholeNumber, pendingTimeoutMs: wholeNumber,
  restartAction, restartThreshold: wholeNumber, restartPeriodMs: wholeNumber, restartDelayMs: wholeNumber, stopGraceMs: wholeNumber,
}, mapping).partial();

const resourceSchema = z.strictObject({
  type: z.enum(resourceTypes, { error: `a resource type (${resourceTypes.join(', ')})` }),
  dependsOn: nameList.optional(),
  props: propsSchema.optional(),
  priv: z.record(z.string(), privValue, mapping).optional(),
  state: z.enum(['online', 'offline'], { error: "'online' or 'offline'" }).optional(),
}, mapping);

const groupSchema = z.strictObject({
  preferredOwners: nameList.optional(),
  possibleOwners: nameList.optional(),
  failoverThreshold: wholeNumber.nullable().optional(),
  failoverPeriodMs: wholeNumber.optional(),
  failback: failback.optional(),
  state: z.enum(['online', 'offline'], { error: "'online' or 'offline'" }).optional(),
  resources: z.record(z.string(), resourceSchema, mapping).optional(),
}, mapping);

const applySchema = z.strictObject({ groups: z.record(z.string(), groupSchema, mapping) }, mapping);

/** `never`, `immediate`, `22-06`, or the API's object form. */
function toFailback(v: unknown): FailbackPolicy | null {
  if (typeof v === 'string') return parseFailback(v) ?? null;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  if (Object.keys(o).some((k) => !(failbackKeys as readonly string[]).includes(k))) return null;
  if ((o.mode === 'never' || o.mode === 'immediate') && Object.keys(o).length === 1) return { mode: o.mode };
  const hour = (h: unknown): h is number => typeof h === 'number' && Number.isInteger(h) && h >= 0 && h <= 23;
  if (o.mode === 'window' && hour(o.startHour) && hour(o.endHour)) return { mode: 'window', startHour: o.startHour, endHour: o.endHour };
  return null;
}

/** Valid keys of the mapping at `path`, for "unknown key" hints. */
function keysAt(path: readonly PropertyKey[]): readonly string[] {
  const p = path.map(String);
  if (p.length === 0) return topKeys;
  if (p.length === 2) return groupKeys;
  if (p.length === 3 && p[2] === 'failback') return failbackKeys;
  if (p.length === 4) return resourceKeys;
  if (p.length === 5 && p[4] === 'props') return propKeys;
  return [];
}

// ---------------------------------------------------------------------------------------------
// Loading

export function loadApplyFile(text: string): LoadResult {
  const lineCounter = new LineCounter();
  // Duplicate keys are found by the index below in one pass (the library's own check is quadratic in a mapping's size).
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false });
  const file: ApplyFile = { doc, lineCounter };
  const syntax = [...doc.errors, ...doc.warnings].map((e) => problemAt(file, e.pos[0], 'BAD_CONFIG', `YAML: ${e.message}`, ''));
  if (syntax.length === 0) places(file);
  syntax.push(...(duplicatesOf.get(file) ?? []));
  // After a syntax error the tree is a guess: checking its shape would only add noise.
  if (syntax.length > 0) return { ok: false, problems: bound(syntax) };
  // Aliases that expand past yamlAliasCountMax nodes (a "billion laughs") are refused, not expanded.
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: yamlAliasCountMax });
  } catch (e) {
    return { ok: false, problems: [problemAt(file, 0, 'BAD_CONFIG', `YAML: its aliases expand to more than ${yamlAliasCountMax} values (${(e as Error).message})`, '')] };
  }
  const parsed = applySchema.safeParse(data);
  const problems = [
    ...(parsed.success ? [] : parsed.error.issues.flatMap((i) => issueProblems(file, data, i))),
    ...crossChecks(file, data),
  ];
  if (problems.length > 0 || !parsed.success) return { ok: false, problems: bound(sortProblems(problems)) };
  return { ok: true, spec: parsed.data as ApplySpec, file };
}

/** The first applyProblemsMax problems, the last line of the report counting the rest ("and N more"). */
function bound(problems: FileProblem[]): FileProblem[] {
  if (problems.length <= applyProblemsMax) return problems;
  const last = problems[applyProblemsMax - 1]!;
  return [...problems.slice(0, applyProblemsMax - 1),
    { ...last, message: `... and ${problems.length - applyProblemsMax + 1} more problems` }];
}

const sortProblems = (ps: FileProblem[]): FileProblem[] => [...ps].sort((a, b) => a.line - b.line || a.col - b.col);

export function formatProblem(fileName: string, p: FileProblem): string {
  return `${fileName}:${p.line}:${p.col}: error[${p.code}]: ${p.message}\n`;
}

// ---------------------------------------------------------------------------------------------
// zod issues -> problems

type Issue = z.core.$ZodIssue;

function issueProblems(file: ApplyFile, data: unknown, issue: Issue): FileProblem[] {
  const path = issue.path.map(String);
  const dotted = path.join('.');
  if (issue.code === 'unrecognized_keys') {
    const valid = keysAt(path);
    return issue.keys.map((k) => problemAtPath(file, [...path, k], 'key', 'BAD_CONFIG',
      `${[...path, k].join('.')}: unknown key '${k}'${valid.length > 0 ? ` (valid here: ${valid.join(', ')})` : ''}`));
  }
  const value = valueAt(data, path);
  if (value === undefined) {
    const key = path[path.length - 1] ?? '';
    return [problemAtPath(file, path, 'value', 'BAD_CONFIG', `${path.slice(0, -1).join('.') || 'document'}: missing required key '${key}'`)];
  }
  const isType = path.length === 5 && path[2] === 'resources' && path[4] === 'type' && typeof value === 'string';
  if (isType) {
    return [problemAtPath(file, path, 'value', 'RESOURCE_TYPE_UNKNOWN',
      `${dotted}: unknown resource type '${value}' (valid: ${resourceTypes.join(', ')})`)];
  }
  return [problemAtPath(file, path, 'value', 'BAD_CONFIG', `${dotted || 'document'}: must be ${issue.message}, not ${describe(value)}`)];
}

function valueAt(data: unknown, path: readonly string[]): unknown {
  let at: unknown = data;
  for (const seg of path) {
    if (typeof at !== 'object' || at === null) return undefined;
    at = (at as Record<string, unknown>)[seg];
  }
  return at;
}

function describe(value: unknown): string {
  if (value === null) return 'null (empty)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  const text = JSON.stringify(value);
  return `${typeof value} ${text.length > 40 ? text.slice(0, 37) + '...' : text}`;
}

// ---------------------------------------------------------------------------------------------
// Cross-checks the schema cannot express: dependencies stay in their group, names are unique.

function crossChecks(file: ApplyFile, data: unknown): FileProblem[] {
  const groups = asRecord(asRecord(data)?.groups);
  if (!groups) return [];
  const homeOf = new Map<string, string>();
  const problems: FileProblem[] = [];
  for (const [g, group] of Object.entries(groups)) {
    for (const r of Object.keys(asRecord(asRecord(group)?.resources) ?? {})) {
      const other = homeOf.get(r);
      if (other !== undefined) {
        problems.push(problemAtPath(file, ['groups', g, 'resources', r], 'key', 'RESOURCE_EXISTS',
          `groups.${g}.resources.${r}: resource '${r}' is also defined in group '${other}'; resource names are cluster-wide`));
      } else homeOf.set(r, g);
    }
  }
  for (const [g, group] of Object.entries(groups)) problems.push(...dependencyChecks(file, g, asRecord(asRecord(group)?.resources) ?? {}, homeOf));
  for (const [g, group] of Object.entries(groups)) problems.push(...privChecks(file, g, asRecord(asRecord(group)?.resources) ?? {}));
  return problems;
}

/**
 * Private properties by the checker of their type (core/priv.ts: the same one the coordinator
 * and the agent use), each problem at its key. A priv that is not a mapping of plain values is
 * the schema's problem, reported there.
 */
function privChecks(file: ApplyFile, g: string, resources: Record<string, unknown>): FileProblem[] {
  const problems: FileProblem[] = [];
  for (const [r, res] of Object.entries(resources)) {
    const type = asRecord(res)?.type;
    const priv = asRecord(res)?.priv ?? {};
    for (const [k, v] of Object.entries(asRecord(priv) ?? {})) {
      if (!JSON.stringify(v ?? null).includes(redactedText)) continue;
      problems.push(problemAtPath(file, ['groups', g, 'resources', r, 'priv', k], 'value', 'BAD_PROPERTY',
        `groups.${g}.resources.${r}.priv.${k}: holds ${redactedText}, a secret a viewer's cluster export left out; applied, it would replace the real value (put the real value, or export with an operator or admin credential)`));
    }
    if (typeof type !== 'string' || asRecord(priv) === null || !privValuesOk(priv as Record<string, unknown>)) continue;
    for (const p of privProblems(type, priv as PrivProps)) {
      const unknown = /^is not a property of/.test(p.message);
      problems.push(problemAtPath(file, ['groups', g, 'resources', r, 'priv', p.key], unknown ? 'key' : 'value', 'BAD_PROPERTY',
        `groups.${g}.resources.${r}.priv.${p.key}: ${unknown ? `unknown key '${p.key}' (${p.hint ?? ''})` : `${p.message}${p.hint ? ` (for example ${p.hint})` : ''}`}`));
    }
  }
  return problems;
}

function privValuesOk(priv: Record<string, unknown>): boolean {
  return Object.values(priv).every((v) => ['string', 'number', 'boolean'].includes(typeof v) || (Array.isArray(v) && v.every((x) => typeof x === 'string')));
}

function dependencyChecks(file: ApplyFile, g: string, resources: Record<string, unknown>, homeOf: Map<string, string>): FileProblem[] {
  const problems: FileProblem[] = [];
  for (const [r, res] of Object.entries(resources)) {
    const deps = asRecord(res)?.dependsOn;
    if (!Array.isArray(deps)) continue;
    deps.forEach((d, i) => {
      if (typeof d !== 'string') return;
      const path = ['groups', g, 'resources', r, 'dependsOn', String(i)];
      const where = `groups.${g}.resources.${r}.dependsOn`;
      // A name not in this file may be a resource of the cluster already: the server checks it.
      if (d === r) problems.push(problemAtPath(file, path, 'value', 'DEPENDENCY_CYCLE', `${where}: '${r}' cannot depend on itself`));
      else if (homeOf.get(d) !== undefined && homeOf.get(d) !== g) problems.push(problemAtPath(file, path, 'value', 'DEPENDENCY_OTHER_GROUP', `${where}: '${d}' is in group '${homeOf.get(d)}'; dependencies stay inside one group`));
    });
  }
  const cycle = findCycle(resources);
  if (cycle) {
    problems.push(problemAtPath(file, ['groups', g, 'resources', cycle[0]!, 'dependsOn'], 'value', 'DEPENDENCY_CYCLE',
      `groups.${g}.resources: dependency cycle ${cycle.join(' -> ')}`));
  }
  return problems;
}

/** A dependency cycle of length >= 2 among `resources`, as a path, or null. Bounded by the resource count. */
function findCycle(resources: Record<string, unknown>): string[] | null {
  const depsOf = (r: string): string[] => {
    const d = asRecord(resources[r])?.dependsOn;
    return Array.isArray(d) ? d.filter((x): x is string => typeof x === 'string' && x !== r && x in resources) : [];
  };
  const state = new Map<string, 'open' | 'done'>();
  const visit = (r: string, path: string[]): string[] | null => {
    if (state.get(r) === 'open') return [...path.slice(path.indexOf(r)), r];
    if (state.get(r) === 'done') return null;
    state.set(r, 'open');
    for (const d of depsOf(r)) {
      const c = visit(d, [...path, r]);
      if (c) return c;
    }
    state.set(r, 'done');
    return null;
  };
  for (const r of Object.keys(resources)) {
    const c = visit(r, []);
    if (c) return c;
  }
  return null;
}

function asRecord(v: unknown): Record<string, unknown> | null {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

// ---------------------------------------------------------------------------------------------
// Paths -> positions

interface Walked {
  /** The deepest node reached (a value), or null. */
  node: YamlNode | null;
  /** The key that led to it, when reached through a mapping. */
  key: YamlNode | null;
  complete: boolean;
}

/**
 * Follow `segs` through the YAML tree. greedy: a server path is dotted and names may contain
 * dots ("web.v2"), so at each mapping the longest run of segments that is a key wins.
 */
function walk(file: ApplyFile, segs: readonly string[], greedy: boolean): Walked {
  let node = (file.doc.contents ?? null) as YamlNode | null;
  let key: YamlNode | null = null;
  let i = 0;
  while (i < segs.length && node !== null) {
    if (isMap(node)) {
      const step = mapStep(node.items, segs, i, greedy);
      if (!step) break;
      key = step.key;
      node = step.value;
      i += step.used;
    } else if (isSeq(node)) {
      const item = node.items[Number(segs[i])];
      if (item === undefined || !isNodeLike(item)) break;
      node = item;
      key = null;
      i += 1;
    } else break;
  }
  return { node, key, complete: i === segs.length };
}

function mapStep(items: readonly unknown[], segs: readonly string[], i: number, greedy: boolean):
  { key: YamlNode; value: YamlNode | null; used: number } | null {
  for (let k = greedy ? segs.length - i : 1; k >= 1; k--) {
    const name = segs.slice(i, i + k).join('.');
    const pair = items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === name);
    if (pair && isPair(pair) && isScalar(pair.key)) {
      const value = isNodeLike(pair.value) && !(isScalar(pair.value) && pair.value.value === null) ? pair.value : null;
      return { key: pair.key, value, used: k };
    }
  }
  return null;
}

const isNodeLike = (v: unknown): v is YamlNode => typeof v === 'object' && v !== null && 'range' in v;

function offsetOf(n: YamlNode | null): number | null {
  return n?.range ? n.range[0] : null;
}

function problemAt(file: ApplyFile, offset: number, code: ErrorCode, message: string, path: string): FileProblem {
  const { line, col } = file.lineCounter.linePos(offset);
  return { line, col, code, message, path };
}

/** Key and value offsets of every path of the tree, built in one pass: each problem finds its place in O(depth), however many there are. */
interface Place { key: YamlNode | null; node: YamlNode | null }
const placesOf = new WeakMap<ApplyFile, Map<string, Place>>();
/** Keys given twice in one mapping, found while the index is built. */
const duplicatesOf = new WeakMap<ApplyFile, FileProblem[]>();

function places(file: ApplyFile): Map<string, Place> {
  let index = placesOf.get(file);
  if (index) return index;
  index = new Map();
  const duplicates: FileProblem[] = [];
  duplicatesOf.set(file, duplicates);
  const seen = new Set<YamlNode>();
  const visit = (node: YamlNode | null, at: string) => {
    if (node === null || seen.has(node)) return; // an alias-shared node is visited once
    seen.add(node);
    if (isMap(node)) {
      for (const p of node.items) {
        if (!isPair(p) || !isScalar(p.key)) continue;
        const value = isNodeLike(p.value) && !(isScalar(p.value) && p.value.value === null) ? p.value : null;
        const key = `${at}\u0000${String(p.key.value)}`;
        if (index!.has(key)) {
          duplicates.push(problemAt(file, p.key.range?.[0] ?? 0, 'BAD_CONFIG', `YAML: Map keys must be unique ('${String(p.key.value)}' is given twice)`, ''));
          continue;
        }
        index!.set(key, { key: p.key, node: value });
        visit(value, key);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => {
        if (!isNodeLike(item)) return;
        const key = `${at}\u0000${i}`;
        index!.set(key, { key: null, node: item });
        visit(item, key);
      });
    }
  };
  visit((file.doc.contents ?? null) as YamlNode | null, '');
  placesOf.set(file, index);
  return index;
}

/** walk(file, path, false) through the index. */
function walkIndexed(file: ApplyFile, path: readonly string[]): Walked {
  const index = places(file);
  let found: Walked = { node: (file.doc.contents ?? null) as YamlNode | null, key: null, complete: path.length === 0 };
  let at = '';
  for (let i = 0; i < path.length; i++) {
    at += `\u0000${path[i]}`;
    const p = index.get(at);
    if (!p) break;
    found = { node: p.node, key: p.key, complete: i === path.length - 1 };
    if (p.node === null) break;
  }
  return found;
}

/** `at: 'key'` points at the key of the last segment (unknown keys), `value` at its value. */
function problemAtPath(file: ApplyFile, path: readonly string[], at: 'key' | 'value', code: ErrorCode, message: string): FileProblem {
  const w = walkIndexed(file, path);
  const offset = (at === 'key' || !w.complete ? offsetOf(w.key) ?? offsetOf(w.node) : offsetOf(w.node) ?? offsetOf(w.key)) ?? 0;
  return problemAt(file, offset, code, message, path.join('.'));
}

/**
 * Where a server error's path (e.g. `groups.web.resources.db.dependsOn`, `resources.db.priv.port`,
 * `groups.web.preferredOwners[1]`) is in the file; null when the path does not reach it.
 */
export function locatePath(file: ApplyFile, path: string): { line: number; col: number } | null {
  let segs = path.replace(/\[(\d+)\]/g, '.$1').split('.').filter((s) => s !== '');
  if (segs[0] === 'resources') segs = resourcePathInGroups(file, segs);
  const w = walk(file, segs, true);
  const offset = offsetOf(w.node) ?? offsetOf(w.key);
  if (offset === null || (w.node === null && w.key === null)) return null;
  return file.lineCounter.linePos(offset);
}

/** The server's config paths name resources at top level; in the file they sit in a group. */
function resourcePathInGroups(file: ApplyFile, segs: string[]): string[] {
  const groups = asRecord(asRecord(file.doc.toJS({ maxAliasCount: 100 }))?.groups) ?? {};
  for (const [g, group] of Object.entries(groups)) {
    const names = Object.keys(asRecord(asRecord(group)?.resources) ?? {});
    for (let k = segs.length - 1; k >= 1; k--) {
      if (names.includes(segs.slice(1, 1 + k).join('.'))) return ['groups', g, ...segs];
    }
  }
  return segs;
}
