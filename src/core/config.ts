// The cluster database as a fold: applyUpdate(config, update) validates one update against the
// current configuration and returns the next configuration, or an error that names the rule.
// The coordinator validates before appending to the quorum log; replay applies the same
// function, so a record that was accepted once is accepted again on every node.

import { clusterError, fail, ok, type Result } from './errors.js';
import {
  commonPropDefaults, groupDefaults, resourceTypes,
  type ClusterConfig, type CommonProps, type ConfigUpdate, type FailbackPolicy, type GroupConfig,
  type PrivProps, type ResourceConfig, type ResourceName,
} from './types.js';
import { checkWriterPriv } from './writer-props.js';

export function emptyConfig(name: string): ClusterConfig {
  return { name, nodes: {}, groups: {}, resources: {} };
}

/** Names: what an operator can type and a filesystem can hold. */
const nameRe = /^[A-Za-z0-9][A-Za-z0-9 ._:@-]{0,62}$/;
const nameMax = 63;

export function checkName(kind: string, name: unknown, path?: string): Result<string> {
  if (typeof name !== 'string' || !nameRe.test(name)) {
    return fail(clusterError('BAD_ARGUMENT',
      `${kind} name ${JSON.stringify(name)} is not valid: use 1-${nameMax} letters, digits, space or ._:@- starting with a letter or digit`,
      undefined, path));
  }
  return ok(name);
}

/** Bounds of common properties: [min, max]. Why these: a check more often than every 100 ms is a busy loop; a day is the longest useful period. */
const propBounds: Record<Exclude<keyof CommonProps, 'restartAction'>, [number, number]> = {
  looksAliveIntervalMs: [100, 86_400_000],
  isAliveIntervalMs: [100, 86_400_000],
  pendingTimeoutMs: [100, 86_400_000],
  restartThreshold: [0, 1_000],
  restartPeriodMs: [0, 7 * 86_400_000],
  restartDelayMs: [0, 3_600_000],
  stopGraceMs: [0, 600_000],
};
const restartActions = ['none', 'restart', 'restart-failover'];

export function checkProps(resource: string, props: Record<string, unknown>): Result<Partial<CommonProps>> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(props)) {
    const path = `resources.${resource}.props.${key}`;
    if (key === 'restartAction') {
      const v = value === 0 ? 'none' : value === 1 ? 'restart' : value === 2 ? 'restart-failover' : value;
      if (typeof v !== 'string' || !restartActions.includes(v)) {
        return fail(clusterError('BAD_PROPERTY', `property restartAction of resource '${resource}' must be one of ${restartActions.join(', ')} (or 0, 1, 2), not ${JSON.stringify(value)}`, undefined, path));
      }
      out[key] = v;
      continue;
    }
    const bounds = propBounds[key as keyof typeof propBounds];
    if (!bounds) {
      return fail(clusterError('BAD_PROPERTY', `resource '${resource}' has no common property '${key}'`,
        `common properties: ${Object.keys(commonPropDefaults).join(', ')}; type-specific settings go in /priv`, path));
    }
    if (typeof value !== 'number' || !Number.isInteger(value) || value < bounds[0] || value > bounds[1]) {
      return fail(clusterError('BAD_PROPERTY', `property ${key} of resource '${resource}' must be an integer in [${bounds[0]}, ${bounds[1]}], not ${JSON.stringify(value)}`, undefined, path));
    }
    out[key] = value;
  }
  return ok(out as Partial<CommonProps>);
}

export function checkPriv(resource: string, priv: unknown): Result<PrivProps> {
  if (typeof priv !== 'object' || priv === null || Array.isArray(priv)) {
    return fail(clusterError('BAD_PROPERTY', `private properties of '${resource}' must be an object`));
  }
  for (const [key, value] of Object.entries(priv)) {
    const okValue = ['string', 'number', 'boolean'].includes(typeof value) ||
      (Array.isArray(value) && value.every((v) => typeof v === 'string'));
    if (!okValue) {
      return fail(clusterError('BAD_PROPERTY', `private property ${key} of '${resource}' must be a string, number, boolean or list of strings`, undefined, `resources.${resource}.priv.${key}`));
    }
  }
  return ok(priv as PrivProps);
}

function checkFailback(group: string, fb: FailbackPolicy): Result<FailbackPolicy> {
  const path = `groups.${group}.failback`;
  if (fb.mode === 'never' || fb.mode === 'immediate') return ok({ mode: fb.mode });
  if (fb.mode === 'window') {
    const hourOk = (h: unknown) => typeof h === 'number' && Number.isInteger(h) && h >= 0 && h <= 23;
    if (!hourOk(fb.startHour) || !hourOk(fb.endHour)) {
      return fail(clusterError('BAD_PROPERTY', `failback window of group '${group}' needs startHour and endHour in 0..23`, undefined, path));
    }
    return ok({ mode: 'window', startHour: fb.startHour, endHour: fb.endHour });
  }
  return fail(clusterError('BAD_PROPERTY', `failback of group '${group}' must be never, immediate or a window`, 'cluster group G /prop:failback=never|immediate|HH-HH', path));
}

function checkGroupFields(group: string, u: Partial<GroupConfig>, config: ClusterConfig): Result<Partial<GroupConfig>> {
  const out: Partial<GroupConfig> = {};
  for (const key of ['preferredOwners', 'possibleOwners'] as const) {
    const list = u[key];
    if (list === undefined) continue;
    if (!Array.isArray(list) || new Set(list).size !== list.length) {
      return fail(clusterError('BAD_PROPERTY', `${key} of group '${group}' must be a list of distinct node names`, undefined, `groups.${group}.${key}`));
    }
    for (const n of list) {
      if (!config.nodes[n]) {
        return fail(clusterError('NODE_NOT_FOUND', `${key} of group '${group}' names node '${n}', which is not in the cluster`,
          `nodes: ${Object.keys(config.nodes).join(', ') || '(none yet)'}`, `groups.${group}.${key}`));
      }
    }
    out[key] = [...list];
  }
  if (u.failoverThreshold !== undefined) {
    const t = u.failoverThreshold;
    if (t !== null && (!Number.isInteger(t) || t < 0 || t > 1000)) {
      return fail(clusterError('BAD_PROPERTY', `failoverThreshold of group '${group}' must be an integer in [0, 1000] or null (nodes - 1), not ${t}`, undefined, `groups.${group}.failoverThreshold`));
    }
    out.failoverThreshold = t;
  }
  if (u.failoverPeriodMs !== undefined) {
    const p = u.failoverPeriodMs;
    if (!Number.isInteger(p) || p < 0 || p > 7 * 86_400_000) {
      return fail(clusterError('BAD_PROPERTY', `failoverPeriodMs of group '${group}' must be an integer in [0, 604800000], not ${p}`, undefined, `groups.${group}.failoverPeriodMs`));
    }
    out.failoverPeriodMs = p;
  }
  if (u.failback !== undefined) {
    const fb = checkFailback(group, u.failback);
    if (!fb.ok) return fb;
    out.failback = fb.value;
  }
  return ok(out);
}

/**
 * Would adding edge `from -> to` (from depends on to) close a cycle? Returns the cycle path.
 * `resources` is a map or a lookup (checkDeps passes a lookup that sees the resource being
 * created without copying the whole map). Each step keeps a link to the step it came from, so
 * a walk costs one small object per edge, not a copy of its path.
 */
export function wouldCycle(resources: Record<ResourceName, ResourceConfig> | ((name: string) => ResourceConfig | undefined), from: string, to: string): string[] | null {
  const get = typeof resources === 'function' ? resources : (n: string) => resources[n];
  // Walk from `to` along dependsOn (depth first, last dependency first); reaching `from` means a cycle.
  interface Step { at: string; prev: Step | null }
  const stack: Step[] = [{ at: to, prev: null }];
  const seen = new Set<string>();
  while (stack.length > 0) {
    const step = stack.pop()!;
    const at = step.at;
    if (at === from) {
      const path: string[] = [];
      for (let s: Step | null = step; s; s = s.prev) path.push(s.at);
      path.push(from);
      return path.reverse();
    }
    if (seen.has(at)) continue;
    seen.add(at);
    for (const d of get(at)?.dependsOn ?? []) stack.push({ at: d, prev: step });
  }
  return null;
}

function checkDeps(config: ClusterConfig, res: ResourceConfig, deps: string[]): Result<void> {
  // The resource as it will be, without copying the map: `res` is not in it yet on create.
  const lookup = (n: string) => (n === res.name ? res : config.resources[n]);
  for (const d of deps) {
    const target = config.resources[d];
    const path = `resources.${res.name}.dependsOn`;
    if (!target) return fail(clusterError('DEPENDENCY_NOT_FOUND', `resource '${res.name}' cannot depend on '${d}': no such resource`, undefined, path));
    if (target.group !== res.group) {
      return fail(clusterError('DEPENDENCY_OTHER_GROUP', `resource '${res.name}' (group '${res.group}') cannot depend on '${d}' (group '${target.group}'): dependencies stay inside one group`, `move one of them: both must be in the same group`, path));
    }
    const cycle = d === res.name ? [d, d] : wouldCycle(lookup, res.name, d);
    if (cycle) return fail(clusterError('DEPENDENCY_CYCLE', `dependency ${res.name} -> ${d} would create a cycle: ${cycle.join(' -> ')}`, `remove one edge with /removedep`, path));
  }
  return ok(undefined);
}

type Updater = (c: ClusterConfig, u: never, edit: Editor) => Result<ClusterConfig>;

/**
 * How an updater gets a configuration it may change: a copy (applyUpdate: the input stays
 * untouched) or the draft itself (applyUpdates: one copy for a whole batch, so replaying a
 * million records does not copy a 10,000-resource configuration a million times). Updaters
 * validate first and change nothing on failure.
 */
type Editor = (c: ClusterConfig) => ClusterConfig;
const clone: Editor = (c) => ({ name: c.name, nodes: { ...c.nodes }, groups: { ...c.groups }, resources: { ...c.resources } });
const inPlace: Editor = (c) => c;

function needGroup(c: ClusterConfig, g: string): Result<GroupConfig> {
  const group = c.groups[g];
  return group ? ok(group) : fail(clusterError('GROUP_NOT_FOUND', `no group '${g}'`, 'cluster group lists the groups'));
}
function needResource(c: ClusterConfig, r: string): Result<ResourceConfig> {
  const res = c.resources[r];
  return res ? ok(res) : fail(clusterError('RESOURCE_NOT_FOUND', `no resource '${r}'`, 'cluster res lists the resources'));
}

/**
 * A group or resource with some fields changed, built field by field in the order group-create
 * and resource-create give them (the same object as `{ ...old, ...changes }` for a configuration
 * object, which has exactly these fields): object spread costs about ten times more, and a replay
 * folds a million of these.
 */
function groupWith(g: GroupConfig, f: Partial<GroupConfig>): GroupConfig {
  return {
    name: g.name,
    preferredOwners: f.preferredOwners !== undefined ? f.preferredOwners : g.preferredOwners,
    possibleOwners: f.possibleOwners !== undefined ? f.possibleOwners : g.possibleOwners,
    failoverThreshold: f.failoverThreshold !== undefined ? f.failoverThreshold : g.failoverThreshold,
    failoverPeriodMs: f.failoverPeriodMs !== undefined ? f.failoverPeriodMs : g.failoverPeriodMs,
    failback: f.failback !== undefined ? f.failback : g.failback,
  };
}
function resourceWith(r: ResourceConfig, f: Partial<Pick<ResourceConfig, 'props' | 'priv' | 'dependsOn' | 'desired'>>): ResourceConfig {
  return {
    name: r.name, group: r.group, type: r.type,
    props: f.props !== undefined ? f.props : r.props,
    priv: f.priv !== undefined ? f.priv : r.priv,
    dependsOn: f.dependsOn !== undefined ? f.dependsOn : r.dependsOn,
    desired: f.desired !== undefined ? f.desired : r.desired,
  };
}

const updaters: { [K in ConfigUpdate['op']]: (c: ClusterConfig, u: Extract<ConfigUpdate, { op: K }>, edit: Editor) => Result<ClusterConfig> } = {
  'node-add': (c, u, edit) => {
    const n = checkName('node', u.node);
    if (!n.ok) return n;
    const next = edit(c);
    next.nodes[u.node] = c.nodes[u.node] ?? { name: u.node, paused: false };
    return ok(next);
  },
  'node-remove': (c, u, edit) => {
    if (!c.nodes[u.node]) return fail(clusterError('NODE_NOT_FOUND', `no node '${u.node}'`));
    const next = edit(c);
    delete next.nodes[u.node];
    for (const [name, g] of Object.entries(next.groups)) {
      next.groups[name] = { ...g, preferredOwners: g.preferredOwners.filter((n) => n !== u.node), possibleOwners: g.possibleOwners.filter((n) => n !== u.node) };
    }
    return ok(next);
  },
  'node-pause': (c, u, edit) => {
    const node = c.nodes[u.node];
    if (!node) return fail(clusterError('NODE_NOT_FOUND', `no node '${u.node}'`, 'cluster node lists the nodes'));
    const next = edit(c);
    next.nodes[u.node] = { ...node, paused: u.paused };
    return ok(next);
  },
  'group-create': (c, u, edit) => {
    const n = checkName('group', u.group, 'name');
    if (!n.ok) return n;
    if (c.groups[u.group]) return fail(clusterError('GROUP_EXISTS', `group '${u.group}' exists already`, `cluster group "${u.group}" /prop:K=V changes it`));
    const fields = checkGroupFields(u.group, u, c);
    if (!fields.ok) return fields;
    const next = edit(c);
    next.groups[u.group] = {
      name: u.group, preferredOwners: [], possibleOwners: [], failoverThreshold: groupDefaults.failoverThreshold,
      failoverPeriodMs: groupDefaults.failoverPeriodMs, failback: groupDefaults.failback, ...fields.value,
    };
    return ok(next);
  },
  'group-delete': (c, u, edit) => {
    const g = needGroup(c, u.group);
    if (!g.ok) return g;
    const members = Object.values(c.resources).filter((r) => r.group === u.group).map((r) => r.name);
    if (members.length > 0) {
      return fail(clusterError('GROUP_NOT_EMPTY', `group '${u.group}' still has resources: ${members.join(', ')}`, `delete them first: cluster res NAME /delete`));
    }
    const next = edit(c);
    delete next.groups[u.group];
    return ok(next);
  },
  'group-set': (c, u, edit) => {
    const g = needGroup(c, u.group);
    if (!g.ok) return g;
    const fields = checkGroupFields(u.group, u, c);
    if (!fields.ok) return fields;
    const next = edit(c);
    next.groups[u.group] = groupWith(g.value, fields.value);
    return ok(next);
  },
  'group-desired': (c, u, edit) => {
    const g = needGroup(c, u.group);
    if (!g.ok) return g;
    const next = edit(c);
    for (const r of Object.values(c.resources)) {
      if (r.group === u.group) next.resources[r.name] = resourceWith(r, { desired: u.desired });
    }
    return ok(next);
  },
  'resource-create': (c, u, edit) => {
    const n = checkName('resource', u.resource, 'name');
    if (!n.ok) return n;
    if (c.resources[u.resource]) return fail(clusterError('RESOURCE_EXISTS', `resource '${u.resource}' exists already`, `cluster res "${u.resource}" /prop:K=V or /priv:K=V changes it`));
    const g = needGroup(c, u.group);
    if (!g.ok) return g;
    if (!(resourceTypes as readonly string[]).includes(u.type)) {
      return fail(clusterError('RESOURCE_TYPE_UNKNOWN', `resource type '${u.type}' is unknown`, `types: ${resourceTypes.join(', ')}`, 'type'));
    }
    const props = checkProps(u.resource, u.props ?? {});
    if (!props.ok) return props;
    const priv = checkPriv(u.resource, u.priv ?? {});
    if (!priv.ok) return priv;
    const writer = checkWriterPriv(u.resource, u.type, priv.value); // backup freeze/thaw actions (issue 7)
    if (!writer.ok) return writer;
    const res: ResourceConfig = {
      name: u.resource, group: u.group, type: u.type, props: { ...commonPropDefaults, ...props.value },
      priv: { ...priv.value }, dependsOn: [], desired: u.desired ?? 'offline',
    };
    const deps = checkDeps(c, res, u.dependsOn ?? []);
    if (!deps.ok) return deps;
    const next = edit(c);
    next.resources[u.resource] = { ...res, dependsOn: [...new Set(u.dependsOn ?? [])] };
    return ok(next);
  },
  'resource-delete': (c, u, edit) => {
    const r = needResource(c, u.resource);
    if (!r.ok) return r;
    const dependents = Object.values(c.resources).filter((x) => x.dependsOn.includes(u.resource)).map((x) => x.name);
    if (dependents.length > 0) {
      return fail(clusterError('RESOURCE_HAS_DEPENDENTS', `resource '${u.resource}' is needed by ${dependents.join(', ')}`, `remove the dependencies first: cluster res ${dependents[0]} /removedep:"${u.resource}"`));
    }
    const next = edit(c);
    delete next.resources[u.resource];
    return ok(next);
  },
  'resource-set': (c, u, edit) => {
    const r = needResource(c, u.resource);
    if (!r.ok) return r;
    const props = checkProps(u.resource, u.props ?? {});
    if (!props.ok) return props;
    const priv = checkPriv(u.resource, u.priv ?? {});
    if (!priv.ok) return priv;
    const writer = checkWriterPriv(u.resource, r.value.type, { ...r.value.priv, ...priv.value }); // backup freeze/thaw actions (issue 7)
    if (!writer.ok) return writer;
    const next = edit(c);
    next.resources[u.resource] = resourceWith(r.value, { props: { ...r.value.props, ...props.value }, priv: { ...r.value.priv, ...priv.value } });
    return ok(next);
  },
  'resource-add-dep': (c, u, edit) => {
    const r = needResource(c, u.resource);
    if (!r.ok) return r;
    if (r.value.dependsOn.includes(u.dependsOn)) {
      return fail(clusterError('DEPENDENCY_EXISTS', `resource '${u.resource}' already depends on '${u.dependsOn}'`));
    }
    const deps = checkDeps(c, r.value, [u.dependsOn]);
    if (!deps.ok) return deps;
    const next = edit(c);
    next.resources[u.resource] = resourceWith(r.value, { dependsOn: [...r.value.dependsOn, u.dependsOn] });
    return ok(next);
  },
  'resource-remove-dep': (c, u, edit) => {
    const r = needResource(c, u.resource);
    if (!r.ok) return r;
    if (!r.value.dependsOn.includes(u.dependsOn)) {
      return fail(clusterError('DEPENDENCY_NOT_FOUND', `resource '${u.resource}' does not depend on '${u.dependsOn}'`, `cluster res "${u.resource}" /listdep shows its dependencies`));
    }
    const next = edit(c);
    next.resources[u.resource] = resourceWith(r.value, { dependsOn: r.value.dependsOn.filter((d) => d !== u.dependsOn) });
    return ok(next);
  },
  'resource-desired': (c, u, edit) => {
    const r = needResource(c, u.resource);
    if (!r.ok) return r;
    const next = edit(c);
    // Bringing a resource online brings what it needs online; taking it offline takes what needs it offline.
    const closure = u.desired === 'online' ? dependencyClosure(c, u.resource) : dependentClosure(c, u.resource);
    for (const name of closure) next.resources[name] = resourceWith(c.resources[name]!, { desired: u.desired });
    return ok(next);
  },
};

export function applyUpdate(config: ClusterConfig, update: ConfigUpdate): Result<ClusterConfig> {
  return applyWith(config, update, clone);
}

function applyWith(config: ClusterConfig, update: ConfigUpdate, edit: Editor): Result<ClusterConfig> {
  const f = updaters[update.op] as Updater | undefined;
  if (!f) return fail(clusterError('BAD_ARGUMENT', `unknown update op ${JSON.stringify((update as { op: unknown }).op)}`));
  return f(config, update as never, edit);
}

/**
 * A mutable draft for folding many updates: copied once, then changed in place. `apply`
 * validates each update like applyUpdate; a refused update leaves the draft as it was.
 */
export class ConfigDraft {
  private c: ClusterConfig;
  /** The config was handed out: copy before changing it again, so what was read stays as read. */
  private sealed = false;
  constructor(base: ClusterConfig) {
    this.c = clone(base);
  }
  apply(update: ConfigUpdate): Result<void> {
    if (this.sealed) { this.c = clone(this.c); this.sealed = false; }
    const r = applyWith(this.c, update, inPlace);
    if (!r.ok) return r;
    this.c = r.value;
    return ok(undefined);
  }
  /** Several updates, all or nothing (copies once: for the rare multi-update change). */
  applyAll(updates: ConfigUpdate[]): Result<void> {
    if (updates.length === 1) return this.apply(updates[0]!);
    let next = this.c;
    for (const u of updates) {
      const r = applyUpdate(next, u);
      if (!r.ok) return r;
      next = r.value;
    }
    this.c = next;
    this.sealed = false; // applyUpdate copied: `next` is a configuration nobody has read yet
    return ok(undefined);
  }
  get config(): ClusterConfig {
    this.sealed = true;
    return this.c;
  }
}

/** The resource and everything it depends on, transitively. */
export function dependencyClosure(c: ClusterConfig, name: string): string[] {
  const out = new Set<string>();
  const walk = (n: string) => {
    if (out.has(n)) return;
    out.add(n);
    for (const d of c.resources[n]?.dependsOn ?? []) walk(d);
  };
  walk(name);
  return [...out];
}

/** The resource and everything that depends on it, transitively. */
export function dependentClosure(c: ClusterConfig, name: string): string[] {
  const out = new Set<string>();
  const walk = (n: string) => {
    if (out.has(n)) return;
    out.add(n);
    for (const r of Object.values(c.resources)) if (r.dependsOn.includes(n)) walk(r.name);
  };
  walk(name);
  return [...out];
}

/**
 * Resources of each group, built once per configuration version. Safe to cache by identity:
 * a published configuration's maps are never changed (applyUpdate copies; a ConfigDraft
 * copies again after its config has been read).
 */
const byGroupCache = new WeakMap<object, Map<string, ResourceConfig[]>>();

export function groupResources(c: ClusterConfig, group: string): ResourceConfig[] {
  let index = byGroupCache.get(c.resources);
  if (!index) {
    index = new Map();
    for (const r of Object.values(c.resources)) {
      const list = index.get(r.group);
      if (list) list.push(r); else index.set(r.group, [r]);
    }
    for (const list of index.values()) list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    byGroupCache.set(c.resources, index);
  }
  return index.get(group) ?? [];
}

/**
 * The JSON text of a configuration, made once per published configuration (its maps are never
 * changed once published: see groupResources). A checkpoint writes the same configuration, 4 MB
 * of JSON at 10,000 resources, to the quorum store and to the node's own copy, and a node that
 * loads the store's checkpoint copies it to its own: one text serves them all. The entry also
 * remembers the maps it was made from and is used only while they are the same objects.
 */
const jsonCache = new WeakMap<ClusterConfig, { name: string; nodes: object; groups: object; resources: object; json: string }>();

export function configJson(c: ClusterConfig): string {
  const hit = jsonCache.get(c);
  if (hit && hit.name === c.name && hit.nodes === c.nodes && hit.groups === c.groups && hit.resources === c.resources) return hit.json;
  const json = JSON.stringify(c);
  jsonCache.set(c, { name: c.name, nodes: c.nodes, groups: c.groups, resources: c.resources, json });
  return json;
}

/** `c` was just parsed from `json` (a checkpoint): writing it again needs no new text. */
export function noteConfigJson(c: ClusterConfig, json: string): void {
  jsonCache.set(c, { name: c.name, nodes: c.nodes, groups: c.groups, resources: c.resources, json });
}

/** onlineOrder per group, cached like groupResources (by the identity of a published resource map). */
const orderCache = new WeakMap<object, Map<string, readonly string[]>>();

/** Online order: dependencies before dependents (Kahn's algorithm, name order among equals). */
export function onlineOrder(c: ClusterConfig, group: string): string[] {
  let byGroup = orderCache.get(c.resources);
  if (!byGroup) orderCache.set(c.resources, byGroup = new Map());
  let order = byGroup.get(group);
  if (!order) byGroup.set(group, order = computeOnlineOrder(c, group));
  return [...order];
}

function computeOnlineOrder(c: ClusterConfig, group: string): string[] {
  const members = groupResources(c, group);
  const pending = new Map(members.map((r) => [r.name, new Set(r.dependsOn)]));
  const order: string[] = [];
  while (pending.size > 0) {
    const ready = [...pending].filter(([, deps]) => deps.size === 0).map(([n]) => n).sort();
    if (ready.length === 0) throw new Error(`dependency cycle in group ${group}: config invariant broken`);
    for (const n of ready) {
      order.push(n);
      pending.delete(n);
      for (const deps of pending.values()) deps.delete(n);
    }
  }
  return order;
}
