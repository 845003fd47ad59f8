// `cluster apply`: turn a declarative document into the configuration updates that make the
// cluster match it (create or update; nothing is deleted), with one readable line per change.
// The updates are then validated by the same fold as every other change.

import { checkGroupFields, checkProps, checkTypePriv, checkTypeSupported, ConfigDraft } from './config.js';
import { clusterError, fail, ok, type ClusterError, type Result } from './errors.js';
import { invariant } from './invariant.js';
import { own } from './table.js';
import { commonPropDefaults, groupDefaults, type ClusterConfig, type CommonProps, type ConfigUpdate, type DesiredState, type FailbackPolicy, type GroupConfig, type PrivProps, type ResourceConfig, type ResourceType } from './types.js';

export interface ApplyResourceSpec {
  type: ResourceType;
  dependsOn?: string[];
  props?: Partial<CommonProps>;
  priv?: PrivProps;
  /** Desired state of this resource when it differs from its group's (cluster export writes it then). */
  state?: DesiredState;
}

export interface ApplyGroupSpec {
  preferredOwners?: string[];
  possibleOwners?: string[];
  failoverThreshold?: number | null;
  failoverPeriodMs?: number;
  failback?: FailbackPolicy;
  state?: DesiredState;
  resources?: Record<string, ApplyResourceSpec>;
}

export interface ApplyDoc {
  groups: Record<string, ApplyGroupSpec>;
}

/** Deep equality of plain data (what a document or the configuration holds), whatever the key order. */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bs = b as unknown[];
    return a.length === bs.length && a.every((v, i) => same(v, bs[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = Object.keys(ao).filter((k) => ao[k] !== undefined);
  return keys.length === Object.keys(bo).filter((k) => bo[k] !== undefined).length && keys.every((k) => k in bo && same(ao[k], bo[k]));
}

/**
 * A group field as the fold would store it (e.g. failback `{mode, startHour, endHour}`, extra keys
 * dropped): what the fold's field check makes of that one field. A value the fold rejects is
 * returned as is; it differs, and validating the plan reports the error.
 */
function normalGroupField(config: ClusterConfig, group: string, key: string, value: unknown): unknown {
  const r = checkGroupFields(group, { [key]: value } as Partial<GroupConfig>, config);
  return r.ok ? (r.value as Record<string, unknown>)[key] : value;
}

/** A common property as the fold stores it (restartAction 0/1/2 becomes none/restart/restart-failover). */
function normalProp(resource: string, key: string, value: unknown): unknown {
  const r = checkProps(resource, { [key]: value });
  return r.ok ? (r.value as Record<string, unknown>)[key] : value;
}

function groupFields(spec: ApplyGroupSpec) {
  const f: Record<string, unknown> = {};
  for (const k of ['preferredOwners', 'possibleOwners', 'failoverThreshold', 'failoverPeriodMs', 'failback'] as const) {
    if (spec[k] !== undefined) f[k] = spec[k];
  }
  return f;
}

/**
 * Groups and resources in one document. Why these numbers: planning is linear and done in
 * slices, but the commit of the whole document is one quorum-log append validated in one turn of
 * the coordinator's loop (all or nothing); at 20,000 groups and as many resources that turn costs
 * some tens of ms (npm run bench:apply). A larger cluster is applied in several documents.
 */
export const applyGroupsMax = 20_000;
export const applyResourcesMax = 20_000;

/**
 * `lines` says what the plan changes, deletions first; `deletions` is that first part (the lines
 * of `--prune`), `deleted` the resources it deletes (the API refuses to delete one that runs).
 */
export interface ApplyPlan { updates: ConfigUpdate[]; lines: string[]; deletions: string[]; deleted: string[]; config: ClusterConfig }

export interface ApplyOptions {
  /**
   * Delete the groups and resources of the configuration that the document does not name (their
   * dependencies go with them). Nodes are never deleted: they are not in an apply document (a node
   * joins when its clusterd starts and leaves by cluster node N /evict).
   */
  prune?: boolean;
}

/** What to do with a document past a bound of one apply (APPLY_TOO_LARGE, or BODY_TOO_LARGE from the API). */
export const applySplitHint = 'split the document and apply the parts one after the other, without --prune (an apply creates and updates; with --prune each part would delete what the others hold)';

/** Refuse a document past the bounds before doing any work on it; counting is linear and cheap. */
export function checkApplySize(doc: ApplyDoc): Result<void> {
  const groups = Object.keys(doc.groups);
  let resources = 0;
  for (const g of groups) resources += Object.keys(doc.groups[g]!.resources ?? {}).length;
  if (groups.length > applyGroupsMax) {
    return fail(clusterError('APPLY_TOO_LARGE', `the apply document has ${groups.length} groups: at most ${applyGroupsMax} in one apply`, applySplitHint, 'groups'));
  }
  if (resources > applyResourcesMax) {
    return fail(clusterError('APPLY_TOO_LARGE', `the apply document has ${resources} resources: at most ${applyResourcesMax} in one apply`, applySplitHint, 'groups'));
  }
  return ok(undefined);
}

/** planApply all at once: for callers with a small document or no loop to share (the CLI, tests). */
export function planApply(config: ClusterConfig, doc: ApplyDoc, opts: ApplyOptions = {}): Result<ApplyPlan> {
  const steps = planApplySteps(config, doc, opts);
  for (;;) {
    const s = steps.next();
    if (s.done) return s.value;
  }
}

/**
 * The plan of an apply, made in steps: each `next()` does a bounded piece of work (one group of
 * the document, or the validation of one update) and the last one returns the plan. A caller
 * that shares its thread (the API) runs steps for a slice of time and lets other work run in
 * between. The work is linear in the document: the configuration is copied once (a ConfigDraft),
 * never once per update. `config` must not change while the steps run.
 */
export function* planApplySteps(config: ClusterConfig, doc: ApplyDoc, opts: ApplyOptions = {}): Generator<void, Result<ApplyPlan>> {
  const size = checkApplySize(doc);
  if (!size.ok) return size;
  const pruned = opts.prune ? planPrune(config, doc) : ok({ updates: [], lines: [], deleted: [] });
  if (!pruned.ok) return pruned;
  const updates: ConfigUpdate[] = [];
  const lines: string[] = [];
  // Dependencies once every resource of the whole document exists (a dependency may name a
  // resource listed later, in this group or another); then each group's desired state.
  const deps: ConfigUpdate[] = [];
  const desiredUpdates: ConfigUpdate[] = [];
  const desiredLines: string[] = [];
  for (const [group, spec] of Object.entries(doc.groups)) {
    const existing = own(config.groups, group);
    const fields = groupFields(spec);
    if (!existing) {
      updates.push({ op: 'group-create', group, ...fields });
      lines.push(`create group ${group}`);
    } else {
      const changed = Object.fromEntries(Object.entries(fields).filter(([k, v]) =>
        !same((existing as unknown as Record<string, unknown>)[k], normalGroupField(config, group, k, v))));
      if (Object.keys(changed).length > 0) {
        updates.push({ op: 'group-set', group, ...changed });
        for (const [k, v] of Object.entries(changed)) lines.push(`set group ${group} ${k} = ${JSON.stringify(v)}`);
      }
    }
    const bad = planResources(config, group, spec, updates, deps, lines);
    if (!bad.ok) return bad;
    planDesired(config, group, spec, desiredUpdates, desiredLines);
    yield;
  }
  updates.push(...deps, ...desiredUpdates, ...pruned.value.updates);
  lines.unshift(...pruned.value.lines);
  lines.push(...desiredLines);
  const done = { deletions: pruned.value.lines, deleted: pruned.value.deleted };
  // Nothing to change: no copy of the configuration to validate nothing on.
  if (updates.length === 0) return ok({ updates, lines, ...done, config });
  // Validate the whole plan with the same fold the log uses, on one draft; errors keep their paths.
  const draft = new ConfigDraft(config, { saving: true });
  for (const u of updates) {
    const next = draft.apply(u);
    if (!next.ok) return fail(errorInDoc(config, draft.config, doc, u, next.error));
    yield;
  }
  return ok({ updates, lines, ...done, config: draft.config });
}

/**
 * The desired states of one group of the document: the group's `state` (default online) for its
 * resources that give none, then each resource's own `state`. A resource is created Offline
 * (desired offline), so a new one always gets a desired-state update.
 */
function planDesired(config: ClusterConfig, group: string, spec: ApplyGroupSpec, updates: ConfigUpdate[], lines: string[]): void {
  const desired = spec.state ?? 'online';
  const members = Object.entries(spec.resources ?? {});
  const groupWide = members.some(([r, x]) => x.state === undefined && own(config.resources, r)?.desired !== desired);
  if (groupWide) {
    updates.push({ op: 'group-desired', group, desired });
    lines.push(`bring group ${group} ${desired}`);
  }
  // Online ones first: bringing a resource online brings its dependencies online with it.
  for (const want of ['online', 'offline'] as const) {
    for (const [r, x] of members) {
      if (x.state !== want) continue;
      const now = groupWide ? desired : own(config.resources, r)?.desired ?? 'offline';
      if (now === want) continue;
      updates.push({ op: 'resource-desired', resource: r, desired: want });
      lines.push(`bring resource ${r} ${want}`);
    }
  }
}

/**
 * `--prune`: delete what the configuration has and the document does not name. Resources go
 * first, each after every deleted resource that depends on it (a kept resource names its
 * dependencies in the document, so its dependencies on deleted ones are removed by the plan
 * itself), then the groups. A kept resource that depends on a resource the document leaves out is
 * refused: the dependency would stop it from ever starting.
 */
function planPrune(config: ClusterConfig, doc: ApplyDoc): Result<{ updates: ConfigUpdate[]; lines: string[]; deleted: string[] }> {
  const kept = new Set<string>();
  for (const spec of Object.values(doc.groups)) for (const r of Object.keys(spec.resources ?? {})) kept.add(r);
  const doomed = new Set(Object.keys(config.resources).filter((r) => !kept.has(r)));
  for (const [group, spec] of Object.entries(doc.groups)) {
    for (const [r, x] of Object.entries(spec.resources ?? {})) {
      const gone = (x.dependsOn ?? []).find((d) => doomed.has(d));
      if (gone !== undefined) {
        return fail(clusterError('DEPENDENCY_NOT_FOUND', `resource '${r}' depends on '${gone}', which the file does not name: --prune would delete it`,
          `add '${gone}' to the file (cluster export prints the whole configuration), or drop the dependency`, `groups.${group}.resources.${r}.dependsOn`));
      }
    }
  }
  const updates: ConfigUpdate[] = [];
  const lines: string[] = [];
  const deleted: string[] = [];
  // Dependents first: a resource is deleted once no remaining doomed resource depends on it (linear: counts of doomed dependents).
  const dependents = new Map<string, number>();
  for (const r of doomed) for (const d of own(config.resources, r)!.dependsOn) if (doomed.has(d)) dependents.set(d, (dependents.get(d) ?? 0) + 1);
  const ready = [...doomed].filter((r) => !dependents.has(r)).sort().reverse();
  while (ready.length > 0) {
    const r = ready.pop()!;
    const res = own(config.resources, r)!;
    updates.push({ op: 'resource-delete', resource: r });
    lines.push(`delete resource ${r} (${res.type}, group ${res.group})`);
    deleted.push(r);
    for (const d of res.dependsOn) {
      const n = dependents.get(d);
      if (n === undefined) continue;
      if (n > 1) dependents.set(d, n - 1);
      else { dependents.delete(d); ready.push(d); }
    }
  }
  invariant(deleted.length === doomed.size, 'prune-dag', () => `dependencies among the resources to delete form a cycle (${deleted.length} of ${doomed.size} ordered)`);
  for (const g of Object.keys(config.groups).sort()) {
    if (own(doc.groups, g) !== undefined) continue;
    updates.push({ op: 'group-delete', group: g });
    lines.push(`delete group ${g}`);
  }
  return ok({ updates, lines, deleted });
}

/** A fold error, with its path moved into the document (groups.G.resources.R...). */
function errorInDoc(config: ClusterConfig, cfg: ClusterConfig, doc: ApplyDoc, u: ConfigUpdate, e: ClusterError): ClusterError {
  if (e.path !== undefined && e.path.startsWith('groups.')) return e;
  // The group of a resource: from the configuration being built (it may have been created by
  // this document), else from the document itself.
  const groupOf = (r: string) => own(cfg.resources, r)?.group ?? own(config.resources, r)?.group ??
    Object.entries(doc.groups).find(([, g]) => g.resources?.[r] !== undefined)?.[0];
  const where = 'resource' in u ? `groups.${'group' in u ? u.group : groupOf(u.resource)}.resources.${u.resource}` : `groups.${'group' in u ? u.group : ''}`;
  const sub = e.path?.startsWith('resources.') ? e.path.split('.').slice(2).join('.') : e.path;
  return Object.assign(e, { path: sub ? `${where}.${sub}` : where });
}

/** A resource's error (path resources.R...) with its path in the document (groups.G.resources.R...). */
function inGroup<T>(r: Result<T> & { ok: false }, group: string): Result<void> {
  const path = r.error.path;
  return fail(path?.startsWith('resources.') ? Object.assign(r.error, { path: `groups.${group}.${path}` }) : r.error);
}

/** Resource updates of one group go to `updates`; dependency updates to `deps`, applied after every resource of the document exists. */
function planResources(config: ClusterConfig, group: string, spec: ApplyGroupSpec, updates: ConfigUpdate[], deps: ConfigUpdate[], lines: string[]): Result<void> {
  for (const [name, r] of Object.entries(spec.resources ?? {})) {
    const existing = own(config.resources, name);
    if (!existing) {
      const supported = checkTypeSupported(name, r.type, `groups.${group}.resources.${name}.type`);
      if (!supported.ok) return supported;
      const typed = checkTypePriv(name, r.type, r.priv ?? {});
      if (!typed.ok) return inGroup(typed, group);
      updates.push({ op: 'resource-create', resource: name, group, type: r.type, props: r.props ?? {}, priv: r.priv ?? {} });
      lines.push(`create resource ${name} (${r.type}) in group ${group}`);
      for (const d of r.dependsOn ?? []) {
        deps.push({ op: 'resource-add-dep', resource: name, dependsOn: d });
        lines.push(`add dependency ${name} -> ${d}`);
      }
      continue;
    }
    const props = Object.fromEntries(Object.entries(r.props ?? {}).filter(([k, v]) =>
      !same((existing.props as unknown as Record<string, unknown>)[k], normalProp(name, k, v))));
    const priv = Object.fromEntries(Object.entries(r.priv ?? {}).filter(([k, v]) => !same(own(existing.priv, k), v)));
    if (Object.keys(priv).length > 0) {
      const typed = checkTypePriv(name, existing.type, { ...existing.priv, ...priv });
      if (!typed.ok) return inGroup(typed, group);
    }
    if (Object.keys(props).length + Object.keys(priv).length > 0) {
      updates.push({ op: 'resource-set', resource: name, props, priv });
      for (const [k, v] of Object.entries(props)) lines.push(`set ${name}.props.${k} = ${JSON.stringify(v)}`);
      for (const [k, v] of Object.entries(priv)) lines.push(`set ${name}.priv.${k} = ${JSON.stringify(v)}`);
    }
    const want = new Set(r.dependsOn ?? []);
    for (const d of existing.dependsOn) if (!want.has(d)) { deps.push({ op: 'resource-remove-dep', resource: name, dependsOn: d }); lines.push(`remove dependency ${name} -> ${d}`); }
    for (const d of want) if (!existing.dependsOn.includes(d)) { deps.push({ op: 'resource-add-dep', resource: name, dependsOn: d }); lines.push(`add dependency ${name} -> ${d}`); }
  }
  return ok(undefined);
}

/**
 * The live configuration as an apply document (`cluster export`): every group and resource, with
 * what differs from the defaults (empty owner lists, default group fields and default common
 * properties are left out: apply leaves a field the document omits as it is). Each group's `state`
 * is the desired state most of its resources share; a resource whose own differs says so. Applying
 * the document to the configuration it came from changes nothing. Nodes and credentials are not in
 * it: nodes join by starting clusterd, credentials are managed with cluster credentials.
 */
export function exportDoc(config: ClusterConfig): ApplyDoc {
  const members = new Map<string, ResourceConfig[]>();
  for (const name of Object.keys(config.resources).sort()) {
    const r = own(config.resources, name)!;
    const list = members.get(r.group);
    if (list) list.push(r); else members.set(r.group, [r]);
  }
  const groups: Record<string, ApplyGroupSpec> = Object.create(null) as Record<string, ApplyGroupSpec>;
  for (const name of Object.keys(config.groups).sort()) {
    const g = own(config.groups, name)!;
    const spec: ApplyGroupSpec = {};
    if (g.preferredOwners.length > 0) spec.preferredOwners = [...g.preferredOwners];
    if (g.possibleOwners.length > 0) spec.possibleOwners = [...g.possibleOwners];
    if (g.failoverThreshold !== groupDefaults.failoverThreshold) spec.failoverThreshold = g.failoverThreshold;
    if (g.failoverPeriodMs !== groupDefaults.failoverPeriodMs) spec.failoverPeriodMs = g.failoverPeriodMs;
    if (g.failback.mode !== 'never') spec.failback = { ...g.failback };
    const list = members.get(name) ?? [];
    if (list.length > 0) {
      const online = list.filter((r) => r.desired === 'online').length;
      const state: DesiredState = online * 2 >= list.length ? 'online' : 'offline';
      spec.state = state;
      const resources: Record<string, ApplyResourceSpec> = Object.create(null) as Record<string, ApplyResourceSpec>;
      for (const r of list) resources[r.name] = exportResource(r, state);
      spec.resources = resources;
    }
    groups[name] = spec;
  }
  return { groups };
}

function exportResource(r: ResourceConfig, groupState: DesiredState): ApplyResourceSpec {
  const out: ApplyResourceSpec = { type: r.type };
  if (r.dependsOn.length > 0) out.dependsOn = [...r.dependsOn];
  const props: Partial<CommonProps> = {};
  for (const k of Object.keys(commonPropDefaults) as (keyof CommonProps)[]) {
    if (r.props[k] !== commonPropDefaults[k]) (props as Record<string, unknown>)[k] = r.props[k];
  }
  if (Object.keys(props).length > 0) out.props = props;
  if (Object.keys(r.priv).length > 0) out.priv = structuredClone({ ...r.priv });
  if (r.desired !== groupState) out.state = r.desired;
  return out;
}
