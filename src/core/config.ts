// The cluster database as a fold: applyUpdate(config, update) validates one update against the
// current configuration and returns the next configuration, or an error that names the rule.
// The coordinator validates before appending to the quorum log; replay applies the same
// function, so a record that was accepted once is accepted again on every node.

import { clusterError, fail, ok, type Result } from './errors.js';
import {
  commonPropDefaults, groupDefaults, resourceTypes, retiredResourceTypes, roles,
  type ClusterConfig, type CommonProps, type CredentialConfig, type ConfigUpdate, type FailbackPolicy, type GroupConfig,
  type NodeConfig, type PrivProps, type ResourceConfig, type ResourceName, type ResourceType,
} from './types.js';
import { checkIpPriv } from './priv-ip.js';
import { checkTypePriv as checkRegisteredPriv } from './priv.js';
import { newTable, own, tableOf } from './table.js';
import { checkWriterPriv } from './writer-props.js';
import { checkOcfPriv } from './priv-ocf.js';
import { checkLsbPriv } from './priv-lsb.js';

export function emptyConfig(name: string): ClusterConfig {
  return { name, nodes: newTable(), groups: newTable(), resources: newTable() };
}

/**
 * Names: what an operator can type and a filesystem can hold. One rule for nodes, groups and
 * resources: 1-63 letters, digits, space or ._:@-, starting with a letter or digit, not ending
 * with a space; and none of JavaScript's built-in property names (constructor, toString, ...),
 * which every program that keeps names as object keys would mistake for an entry.
 */
const nameRe = /^[A-Za-z0-9](?:[A-Za-z0-9 ._:@-]{0,61}[A-Za-z0-9._:@-])?$/;
const nameMax = 63;

export function checkName(kind: string, name: unknown, path?: string): Result<string> {
  if (typeof name !== 'string' || !nameRe.test(name)) {
    return fail(clusterError('BAD_ARGUMENT',
      `${kind} name ${JSON.stringify(name)} is not valid: use 1-${nameMax} letters, digits, space or ._:@- starting with a letter or digit and not ending with a space`,
      undefined, path));
  }
  if (name in Object.prototype) {
    return fail(clusterError('BAD_ARGUMENT', `${kind} name '${name}' is reserved (a built-in name of the JavaScript runtime)`, 'choose another name', path));
  }
  return ok(name);
}

/**
 * Resource types that have an agent in this build: what a new resource may be. The model names
 * more (types.ts); those are refused when a resource is created (API create and apply), with the
 * types that work, rather than at online. The fold itself keeps accepting every type of the
 * model, so a record an older build accepted still replays.
 */
export const resourceTypesSupported: readonly ResourceType[] = ['process', 'disk', 'ip', 'ocf', 'lsb'];

export function checkTypeSupported(resource: string, type: string, path?: string): Result<void> {
  if ((resourceTypesSupported as readonly string[]).includes(type)) return ok(undefined);
  if ((retiredResourceTypes as readonly string[]).includes(type)) {
    return fail(clusterError('RESOURCE_TYPE_UNKNOWN', `resource '${resource}' has type '${type}', which is no longer a resource type: quorum is the quorum store's, and a third etcd member is the tie-breaker a witness was`,
      `types that work: ${resourceTypesSupported.join(', ')}`, path));
  }
  const named = (resourceTypes as readonly string[]).includes(type);
  return fail(clusterError(named ? 'RESOURCE_TYPE_UNSUPPORTED' : 'RESOURCE_TYPE_UNKNOWN',
    `resource '${resource}' has type '${type}', ${named ? 'which has no agent in this build yet' : 'which is not a resource type'}`,
    `types that work: ${resourceTypesSupported.join(', ')}`, path));
}

/**
 * The private properties a type needs, checked when a resource is created or changed (API and
 * apply), with the path of the first problem in an apply document's terms (resources.R.priv.KEY).
 * Not in the fold: a record an older build accepted (an `ip` resource without its address) still
 * replays, and fails at online with the same message.
 */
export function checkTypePriv(resource: string, type: ResourceType, priv: PrivProps): Result<void> {
  if (type === 'ip') return checkIpPriv(resource, priv);
  if (type === 'ocf' || type === 'lsb') return checkAgentTypePriv(resource, type, priv);
  return checkRegisteredPriv(resource, type, priv);
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

/** Keys of a private map (an OCF agent's params): environment-variable-safe names, so never __proto__ and the like. */
export const privMapKeyRe = /^(?!__)[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export function checkPriv(resource: string, priv: unknown): Result<PrivProps> {
  if (typeof priv !== 'object' || priv === null || Array.isArray(priv)) {
    return fail(clusterError('BAD_PROPERTY', `private properties of '${resource}' must be an object`));
  }
  for (const [key, value] of Object.entries(priv)) {
    const path = `resources.${resource}.priv.${key}`;
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value as object)) {
        if (!privMapKeyRe.test(k)) return fail(clusterError('BAD_PROPERTY', `private property ${key} of '${resource}' has key ${JSON.stringify(k)}: keys are letters, digits and _, not starting with a digit`, undefined, `${path}.${k}`));
        if (typeof v !== 'string') return fail(clusterError('BAD_PROPERTY', `private property ${key}.${k} of '${resource}' must be a string, not ${JSON.stringify(v)}`, 'quote it in the apply file: "24"', `${path}.${k}`));
      }
      continue;
    }
    const okValue = ['string', 'number', 'boolean'].includes(typeof value) ||
      (Array.isArray(value) && value.every((v) => typeof v === 'string'));
    if (!okValue) {
      return fail(clusterError('BAD_PROPERTY', `private property ${key} of '${resource}' must be a string, number, boolean, list of strings or map of strings`, undefined, path));
    }
  }
  return ok(priv as PrivProps);
}

/** The type's own checks of its private properties (the whole set, after a change is merged). */
/** The agent types' private properties, checked in the fold too (no record of these types predates their checkers). */
function checkAgentTypePriv(resource: string, type: ResourceType, priv: PrivProps): Result<void> {
  if (type === 'ocf') return checkOcfPriv(resource, priv);
  if (type === 'lsb') return checkLsbPriv(resource, priv);
  return ok(undefined);
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

export function checkGroupFields(group: string, u: Partial<GroupConfig>, config: ClusterConfig): Result<Partial<GroupConfig>> {
  const out: Partial<GroupConfig> = {};
  for (const key of ['preferredOwners', 'possibleOwners'] as const) {
    const list = u[key];
    if (list === undefined) continue;
    if (!Array.isArray(list) || new Set(list).size !== list.length) {
      return fail(clusterError('BAD_PROPERTY', `${key} of group '${group}' must be a list of distinct node names`, undefined, `groups.${group}.${key}`));
    }
    for (const n of list) {
      if (!own(config.nodes, n)) {
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
  const get = typeof resources === 'function' ? resources : (n: string) => own(resources, n);
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
  const lookup = (n: string) => (n === res.name ? res : own(config.resources, n));
  for (const d of deps) {
    const target = own(config.resources, d);
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

/**
 * What one update changes: entries of the configuration's maps, each set to a new value or
 * deleted (value undefined). Updaters read the configuration, validate, and return the changes;
 * they never write. Who applies the changes decides how: applyUpdate on a copy (the input stays
 * untouched), a ConfigDraft in place (one copy for a whole batch, so replaying a million records
 * or validating a 20,000-group apply does not copy the configuration once per update).
 */
type Change =
  | { map: 'nodes'; name: string; value: NodeConfig | undefined }
  | { map: 'groups'; name: string; value: GroupConfig | undefined }
  | { map: 'resources'; name: string; value: ResourceConfig | undefined }
  | { map: 'credentials'; name: string; value: CredentialConfig | undefined };

/**
 * The resources of a group, by name. Updaters that act on a group's members (group-delete,
 * group-desired, dependents) ask this instead of scanning every resource, so that their cost is
 * the group's size, not the configuration's.
 */
type Members = (group: string) => Iterable<string>;

type Updater = (c: ClusterConfig, u: never, members: Members) => Result<Change[]>;

function needGroup(c: ClusterConfig, g: string): Result<GroupConfig> {
  const group = own(c.groups, g);
  return group ? ok(group) : fail(clusterError('GROUP_NOT_FOUND', `no group '${g}'`, 'cluster group lists the groups'));
}
function needResource(c: ClusterConfig, r: string): Result<ResourceConfig> {
  const res = own(c.resources, r);
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

const setResource = (r: ResourceConfig): Change => ({ map: 'resources', name: r.name, value: r });

const updaters: { [K in ConfigUpdate['op']]: (c: ClusterConfig, u: Extract<ConfigUpdate, { op: K }>, members: Members) => Result<Change[]> } = {
  'node-add': (c, u) => {
    const n = checkName('node', u.node);
    if (!n.ok) return n;
    return ok([{ map: 'nodes', name: u.node, value: own(c.nodes, u.node) ?? { name: u.node, paused: false } }]);
  },
  'node-remove': (c, u) => {
    if (!own(c.nodes, u.node)) return fail(clusterError('NODE_NOT_FOUND', `no node '${u.node}'`));
    const changes: Change[] = [{ map: 'nodes', name: u.node, value: undefined }];
    for (const [name, g] of Object.entries(c.groups)) {
      changes.push({ map: 'groups', name, value: { ...g, preferredOwners: g.preferredOwners.filter((n) => n !== u.node), possibleOwners: g.possibleOwners.filter((n) => n !== u.node) } });
    }
    return ok(changes);
  },
  'node-pause': (c, u) => {
    const node = own(c.nodes, u.node);
    if (!node) return fail(clusterError('NODE_NOT_FOUND', `no node '${u.node}'`, 'cluster node lists the nodes'));
    return ok([{ map: 'nodes', name: u.node, value: { ...node, paused: u.paused } }]);
  },
  'group-create': (c, u) => {
    const n = checkName('group', u.group, 'name');
    if (!n.ok) return n;
    if (own(c.groups, u.group)) return fail(clusterError('GROUP_EXISTS', `group '${u.group}' exists already`, `cluster group "${u.group}" /prop:K=V changes it`));
    const fields = checkGroupFields(u.group, u, c);
    if (!fields.ok) return fields;
    return ok([{ map: 'groups', name: u.group, value: {
      name: u.group, preferredOwners: [], possibleOwners: [], failoverThreshold: groupDefaults.failoverThreshold,
      failoverPeriodMs: groupDefaults.failoverPeriodMs, failback: groupDefaults.failback, ...fields.value,
    } }]);
  },
  'group-delete': (c, u, members) => {
    const g = needGroup(c, u.group);
    if (!g.ok) return g;
    const names = [...members(u.group)];
    if (names.length > 0) {
      return fail(clusterError('GROUP_NOT_EMPTY', `group '${u.group}' still has resources: ${names.join(', ')}`, `delete them first: cluster res NAME /delete`));
    }
    return ok([{ map: 'groups', name: u.group, value: undefined }]);
  },
  'group-set': (c, u) => {
    const g = needGroup(c, u.group);
    if (!g.ok) return g;
    const fields = checkGroupFields(u.group, u, c);
    if (!fields.ok) return fields;
    return ok([{ map: 'groups', name: u.group, value: groupWith(g.value, fields.value) }]);
  },
  'group-desired': (c, u, members) => {
    const g = needGroup(c, u.group);
    if (!g.ok) return g;
    const changes: Change[] = [];
    for (const name of members(u.group)) changes.push(setResource(resourceWith(own(c.resources, name)!, { desired: u.desired })));
    return ok(changes);
  },
  'resource-create': (c, u) => {
    const n = checkName('resource', u.resource, 'name');
    if (!n.ok) return n;
    if (own(c.resources, u.resource)) return fail(clusterError('RESOURCE_EXISTS', `resource '${u.resource}' exists already`, `cluster res "${u.resource}" /prop:K=V or /priv:K=V changes it`));
    const g = needGroup(c, u.group);
    if (!g.ok) return g;
    // A retired type still replays (records older builds accepted); the API and apply refuse it first.
    if (!(resourceTypes as readonly string[]).includes(u.type) && !(retiredResourceTypes as readonly string[]).includes(u.type)) {
      return fail(clusterError('RESOURCE_TYPE_UNKNOWN', `resource type '${u.type}' is unknown`, `types: ${resourceTypes.join(', ')}`, 'type'));
    }
    const props = checkProps(u.resource, u.props ?? {});
    if (!props.ok) return props;
    const priv = checkPriv(u.resource, u.priv ?? {});
    if (!priv.ok) return priv;
    const writer = checkWriterPriv(u.resource, u.type, priv.value); // backup freeze/thaw actions
    if (!writer.ok) return writer;
    const typed = checkAgentTypePriv(u.resource, u.type, priv.value);
    if (!typed.ok) return typed;
    const res: ResourceConfig = {
      name: u.resource, group: u.group, type: u.type, props: { ...commonPropDefaults, ...props.value },
      priv: { ...priv.value }, dependsOn: [], desired: u.desired ?? 'offline',
    };
    const deps = checkDeps(c, res, u.dependsOn ?? []);
    if (!deps.ok) return deps;
    return ok([setResource({ ...res, dependsOn: [...new Set(u.dependsOn ?? [])] })]);
  },
  'resource-delete': (c, u, members) => {
    const r = needResource(c, u.resource);
    if (!r.ok) return r;
    const dependents = [...members(r.value.group)].filter((x) => own(c.resources, x)!.dependsOn.includes(u.resource));
    if (dependents.length > 0) {
      return fail(clusterError('RESOURCE_HAS_DEPENDENTS', `resource '${u.resource}' is needed by ${dependents.join(', ')}`, `remove the dependencies first: cluster res ${dependents[0]} /removedep:"${u.resource}"`));
    }
    return ok([{ map: 'resources', name: u.resource, value: undefined }]);
  },
  'resource-set': (c, u) => {
    const r = needResource(c, u.resource);
    if (!r.ok) return r;
    const props = checkProps(u.resource, u.props ?? {});
    if (!props.ok) return props;
    const priv = checkPriv(u.resource, u.priv ?? {});
    if (!priv.ok) return priv;
    const writer = checkWriterPriv(u.resource, r.value.type, { ...r.value.priv, ...priv.value }); // backup freeze/thaw actions
    if (!writer.ok) return writer;
    const typed = checkAgentTypePriv(u.resource, r.value.type, { ...r.value.priv, ...priv.value });
    if (!typed.ok) return typed;
    return ok([setResource(resourceWith(r.value, { props: { ...r.value.props, ...props.value }, priv: { ...r.value.priv, ...priv.value } }))]);
  },
  'resource-add-dep': (c, u) => {
    const r = needResource(c, u.resource);
    if (!r.ok) return r;
    if (r.value.dependsOn.includes(u.dependsOn)) {
      return fail(clusterError('DEPENDENCY_EXISTS', `resource '${u.resource}' already depends on '${u.dependsOn}'`));
    }
    const deps = checkDeps(c, r.value, [u.dependsOn]);
    if (!deps.ok) return deps;
    return ok([setResource(resourceWith(r.value, { dependsOn: [...r.value.dependsOn, u.dependsOn] }))]);
  },
  'resource-remove-dep': (c, u) => {
    const r = needResource(c, u.resource);
    if (!r.ok) return r;
    if (!r.value.dependsOn.includes(u.dependsOn)) {
      return fail(clusterError('DEPENDENCY_NOT_FOUND', `resource '${u.resource}' does not depend on '${u.dependsOn}'`, `cluster res "${u.resource}" /listdep shows its dependencies`));
    }
    return ok([setResource(resourceWith(r.value, { dependsOn: r.value.dependsOn.filter((d) => d !== u.dependsOn) }))]);
  },
  'resource-desired': (c, u, members) => {
    const r = needResource(c, u.resource);
    if (!r.ok) return r;
    // Bringing a resource online brings what it needs online; taking it offline takes what needs it offline.
    const closure = u.desired === 'online' ? dependencyClosure(c, u.resource) : dependentsWithin(c, u.resource, members(r.value.group));
    return ok(closure.map((name) => setResource(resourceWith(own(c.resources, name)!, { desired: u.desired }))));
  },
  'credential-set': (_c, u) => {
    const n = checkName('user', u.user, 'user');
    if (!n.ok) return n;
    if (!(roles as readonly string[]).includes(u.role)) return fail(clusterError('BAD_ARGUMENT', `role ${JSON.stringify(u.role)} is not one of ${roles.join(', ')}`, undefined, 'role'));
    if (!/^[0-9a-f]{64}$/.test(u.tokenSha256)) return fail(clusterError('BAD_ARGUMENT', 'tokenSha256 must be 64 lowercase hex digits', undefined, 'tokenSha256'));
    return ok([{ map: 'credentials', name: u.user, value: { user: u.user, role: u.role, tokenSha256: u.tokenSha256, createdWallMs: u.createdWallMs } }]);
  },
  'credential-remove': (c, u) => {
    if (!c.credentials?.[u.user]) return fail(clusterError('CREDENTIAL_NOT_FOUND', `no credential for user '${u.user}'`, 'cluster credentials list shows them'));
    return ok([{ map: 'credentials', name: u.user, value: undefined }]);
  },
};

function changesOf(config: ClusterConfig, update: ConfigUpdate, members: Members): Result<Change[]> {
  const f = updaters[update.op] as Updater | undefined;
  if (!f) return fail(clusterError('BAD_ARGUMENT', `unknown update op ${JSON.stringify((update as { op: unknown }).op)}`));
  return f(config, update as never, members);
}

/**
 * A configuration whose maps are still those of `c`. Maps are copied on their first change (copy
 * on write, per map), so an update to groups leaves the resources map, and what is cached by its
 * identity (groupResources, onlineOrder), as it was: a group-create at 20,000 resources copies the
 * groups and nothing else.
 */
const shareOf = (c: ClusterConfig): ClusterConfig =>
  (c.credentials ? { name: c.name, nodes: c.nodes, groups: c.groups, resources: c.resources, credentials: c.credentials } : { name: c.name, nodes: c.nodes, groups: c.groups, resources: c.resources });

/** Write one change into `c`'s maps, copying the map first unless `owned` has it; returns the value it replaced. */
function put(c: ClusterConfig, ch: Change, owned: Set<Change['map']>): Change['value'] {
  if (!owned.has(ch.map)) {
    (c as unknown as Record<string, object>)[ch.map] = tableOf((c[ch.map] ?? {}) as Record<string, unknown>);
    owned.add(ch.map);
  }
  const map = c[ch.map] as Record<string, Change['value']>;
  const old = own(map, ch.name);
  if (ch.value === undefined) delete map[ch.name];
  else map[ch.name] = ch.value;
  return old;
}

/** The next configuration: `config` with the update's changes, in copies of the maps they touch (`config` is not changed). */
export function applyUpdate(config: ClusterConfig, update: ConfigUpdate): Result<ClusterConfig> {
  // One scan of the resources: a standalone update may copy a map anyway, so it stays linear.
  const members: Members = function* (g) { for (const r of Object.values(config.resources)) if (r.group === g) yield r.name; };
  const r = changesOf(config, update, members);
  if (!r.ok) return r;
  const next = shareOf(config);
  const owned = new Set<Change['map']>();
  for (const ch of r.value) put(next, ch, owned);
  return ok(next);
}

/**
 * A mutable draft for folding many updates: each map copied once (on its first change), then changed in place, with its own
 * index of each group's resources kept as it changes. `apply` validates each update like
 * applyUpdate; a refused update leaves the draft as it was. Every update costs what it touches,
 * not the size of the configuration (beyond the one copy and one index build per draft).
 */
/**
 * The checks of a value being saved, beyond the fold: the type has an agent in this build, and
 * its private properties are valid for that type's agent (priv.ts). The fold itself does not
 * make them, so that a record an older build accepted still replays; the coordinator's commit and
 * `cluster apply` make them (a saving ConfigDraft).
 */
export function checkSaved(c: ClusterConfig, u: ConfigUpdate): Result<void> {
  if (u.op === 'resource-create') {
    const supported = checkTypeSupported(u.resource, u.type, 'type');
    if (!supported.ok) return supported;
    return checkTypePriv(u.resource, u.type, u.priv ?? {});
  }
  if (u.op === 'resource-set' && u.priv !== undefined && Object.keys(u.priv).length > 0) {
    const r = own(c.resources, u.resource);
    if (!r) return ok(undefined); // the fold answers RESOURCE_NOT_FOUND
    return checkTypePriv(u.resource, r.type, { ...r.priv, ...u.priv });
  }
  return ok(undefined);
}

export interface DraftOptions {
  /** Check each update as a value being saved (checkSaved), not only as the fold replays it. */
  saving?: boolean;
}

export class ConfigDraft {
  private c: ClusterConfig;
  /** The config was handed out: copy before changing it again, so what was read stays as read. */
  private sealed = false;
  /** Maps of `c` copied by this draft since it was last handed out; the others are shared and copied on their first change. */
  private readonly owned = new Set<Change['map']>();
  /** Resource names of each group, in the order of the resources map; built on first need. */
  private index: Map<string, Set<string>> | null = null;
  private readonly members: Members = (g) => this.groupIndex().get(g) ?? [];
  private readonly saving: boolean;
  constructor(base: ClusterConfig, opts: DraftOptions = {}) {
    this.c = shareOf(base);
    this.saving = opts.saving === true;
  }
  apply(update: ConfigUpdate): Result<void> {
    return this.applyAll([update]);
  }
  /** Several updates, all or nothing: each is validated against the ones before it, and a refusal undoes them. */
  applyAll(updates: readonly ConfigUpdate[]): Result<void> {
    if (this.sealed) { this.c = shareOf(this.c); this.owned.clear(); this.sealed = false; }
    const undo: Change[] = [];
    // Key order before the first delete of each map: undoing a delete re-adds the key at the end,
    // and the configuration's text (checkpoints) must not depend on a refused batch.
    const orderBefore = new Map<Change['map'], string[]>();
    for (const u of updates) {
      const saved = this.saving ? checkSaved(this.c, u) : ok(undefined);
      const r = saved.ok ? changesOf(this.c, u, this.members) : saved;
      if (!r.ok) {
        this.undo(undo, orderBefore);
        return r;
      }
      for (const ch of r.value) {
        if (ch.value === undefined && updates.length > 1 && !orderBefore.has(ch.map)) orderBefore.set(ch.map, Object.keys(this.c[ch.map] ?? {}));
        undo.push({ map: ch.map, name: ch.name, value: this.write(ch) } as Change);
      }
    }
    return ok(undefined);
  }
  private undo(undo: readonly Change[], orderBefore: ReadonlyMap<Change['map'], string[]>): void {
    for (let i = undo.length - 1; i >= 0; i--) this.write(undo[i]!);
    for (const [map, keys] of orderBefore) {
      const now = this.c[map] as Record<string, unknown>;
      const ordered = newTable<unknown>();
      // Keys made earlier in the refused batch were in the order too, and are gone again.
      for (const k of keys) if (Object.hasOwn(now, k)) ordered[k] = now[k];
      (this.c as unknown as Record<string, unknown>)[map] = ordered;
      this.owned.add(map);
      this.index = null;
    }
  }
  get config(): ClusterConfig {
    this.sealed = true;
    return this.c;
  }
  private write(ch: Change): Change['value'] {
    const old = put(this.c, ch, this.owned);
    if (this.index && ch.map === 'resources') {
      const r = (ch.value ?? old) as ResourceConfig | undefined;
      if (r) {
        let set = this.index.get(r.group);
        if (!set) this.index.set(r.group, set = new Set());
        if (ch.value === undefined) set.delete(ch.name); else set.add(ch.name);
      }
    }
    return old;
  }
  private groupIndex(): Map<string, Set<string>> {
    if (!this.index) {
      this.index = new Map();
      for (const r of Object.values(this.c.resources)) {
        const set = this.index.get(r.group);
        if (set) set.add(r.name); else this.index.set(r.group, new Set([r.name]));
      }
    }
    return this.index;
  }
}

/** The resource and everything it depends on, transitively. */
export function dependencyClosure(c: ClusterConfig, name: string): string[] {
  const out = new Set<string>();
  const walk = (n: string) => {
    if (out.has(n)) return;
    out.add(n);
    for (const d of own(c.resources, n)?.dependsOn ?? []) walk(d);
  };
  walk(name);
  return [...out];
}

/** The resource and everything that depends on it, transitively. */
export function dependentClosure(c: ClusterConfig, name: string): string[] {
  const group = own(c.resources, name)?.group;
  return dependentsWithin(c, name, group === undefined ? [] : groupResources(c, group).map((r) => r.name));
}

/**
 * dependentClosure among `members` (the resource's group: dependencies stay inside one group):
 * one pass builds who-needs-whom, then a walk; linear in the group's resources and edges.
 */
function dependentsWithin(c: ClusterConfig, name: string, members: Iterable<string>): string[] {
  const neededBy = new Map<string, string[]>();
  for (const m of members) {
    for (const d of own(c.resources, m)!.dependsOn) {
      const list = neededBy.get(d);
      if (list) list.push(m); else neededBy.set(d, [m]);
    }
  }
  const out = new Set<string>([name]);
  const stack = [name];
  while (stack.length > 0) {
    for (const m of neededBy.get(stack.pop()!) ?? []) if (!out.has(m)) { out.add(m); stack.push(m); }
  }
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
const jsonCache = new WeakMap<ClusterConfig, { name: string; nodes: object; groups: object; resources: object; credentials: object | undefined; json: string }>();

export function configJson(c: ClusterConfig): string {
  const hit = jsonCache.get(c);
  if (hit && hit.name === c.name && hit.nodes === c.nodes && hit.groups === c.groups && hit.resources === c.resources && hit.credentials === c.credentials) return hit.json;
  const json = JSON.stringify(c);
  jsonCache.set(c, { name: c.name, nodes: c.nodes, groups: c.groups, resources: c.resources, credentials: c.credentials, json });
  return json;
}

/** The text configJson made of `c` already, if any (configJsonSteps makes it in slices otherwise). */
export function configJsonCached(c: ClusterConfig): string | undefined {
  const hit = jsonCache.get(c);
  return hit && hit.name === c.name && hit.nodes === c.nodes && hit.groups === c.groups && hit.resources === c.resources ? hit.json : undefined;
}

/** `c` was just parsed from `json` (a checkpoint): writing it again needs no new text. */
export function noteConfigJson(c: ClusterConfig, json: string): void {
  jsonCache.set(c, { name: c.name, nodes: c.nodes, groups: c.groups, resources: c.resources, credentials: c.credentials, json });
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

/**
 * A configuration from its JSON text (a checkpoint): its tables become null-prototype records,
 * so that a name like `constructor` or `toString` finds nothing in them.
 */
export function configFromJson(json: string): ClusterConfig {
  return ownTables(JSON.parse(json) as ClusterConfig);
}

/** `c` with null-prototype tables (copied once; a configuration whose tables are such already is returned as is). */
export function ownTables(c: ClusterConfig): ClusterConfig {
  const plain = (m: object | undefined) => typeof m !== 'object' || m === null || Object.getPrototypeOf(m) !== null;
  if (!plain(c.nodes) && !plain(c.groups) && !plain(c.resources) && (c.credentials === undefined || !plain(c.credentials))) return c;
  return {
    ...c, nodes: tableOf(c.nodes ?? {}), groups: tableOf(c.groups ?? {}), resources: tableOf(c.resources ?? {}),
    ...(c.credentials === undefined ? {} : { credentials: tableOf(c.credentials) }),
  };
}
