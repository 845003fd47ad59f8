// `cluster apply`: turn a declarative document into the configuration updates that make the
// cluster match it (create or update; nothing is deleted), with one readable line per change.
// The updates are then validated by the same fold as every other change.

import { applyUpdate, checkProps } from './config.js';
import { fail, ok, type Result } from './errors.js';
import type { ClusterConfig, CommonProps, ConfigUpdate, DesiredState, FailbackPolicy, PrivProps, ResourceType } from './types.js';

export interface ApplyResourceSpec {
  type: ResourceType;
  dependsOn?: string[];
  props?: Partial<CommonProps>;
  priv?: PrivProps;
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
 * dropped): the value of a group-set of that one field on the current configuration. A value the
 * fold rejects is returned as is; it differs, and validating the plan reports the error.
 */
function normalGroupField(config: ClusterConfig, group: string, key: string, value: unknown): unknown {
  const r = applyUpdate(config, { op: 'group-set', group, [key]: value } as ConfigUpdate);
  return r.ok ? (r.value.groups[group] as unknown as Record<string, unknown>)[key] : value;
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

export function planApply(config: ClusterConfig, doc: ApplyDoc): Result<{ updates: ConfigUpdate[]; lines: string[]; config: ClusterConfig }> {
  const updates: ConfigUpdate[] = [];
  const lines: string[] = [];
  // Dependencies once every resource of the whole document exists (a dependency may name a
  // resource listed later, in this group or another); then each group's desired state.
  const deps: ConfigUpdate[] = [];
  const desiredUpdates: ConfigUpdate[] = [];
  const desiredLines: string[] = [];
  for (const [group, spec] of Object.entries(doc.groups)) {
    const existing = config.groups[group];
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
    planResources(config, group, spec, updates, deps, lines);
    const desired = spec.state ?? 'online';
    const members = Object.keys(spec.resources ?? {});
    if (members.some((r) => config.resources[r]?.desired !== desired)) {
      desiredUpdates.push({ op: 'group-desired', group, desired });
      desiredLines.push(`bring group ${group} ${desired}`);
    }
  }
  updates.push(...deps, ...desiredUpdates);
  lines.push(...desiredLines);
  // Validate the whole plan with the same fold the log uses; errors keep their paths.
  let cfg = config;
  for (const u of updates) {
    const next = applyUpdate(cfg, u);
    if (!next.ok) {
      const e = next.error;
      if (e.path === undefined || !e.path.startsWith('groups.')) {
        // The group of a resource: from the configuration being built (it may have been created by
        // this document), else from the document itself.
        const groupOf = (r: string) => cfg.resources[r]?.group ?? config.resources[r]?.group ??
          Object.entries(doc.groups).find(([, g]) => g.resources?.[r] !== undefined)?.[0];
        const where = 'resource' in u ? `groups.${'group' in u ? u.group : groupOf(u.resource)}.resources.${u.resource}` : `groups.${'group' in u ? u.group : ''}`;
        const sub = e.path?.startsWith('resources.') ? e.path.split('.').slice(2).join('.') : e.path;
        return fail(Object.assign(e, { path: sub ? `${where}.${sub}` : where }));
      }
      return fail(e);
    }
    cfg = next.value;
  }
  return ok({ updates, lines, config: cfg });
}

/** Resource updates of one group go to `updates`; dependency updates to `deps`, applied after every resource of the document exists. */
function planResources(config: ClusterConfig, group: string, spec: ApplyGroupSpec, updates: ConfigUpdate[], deps: ConfigUpdate[], lines: string[]): void {
  for (const [name, r] of Object.entries(spec.resources ?? {})) {
    const existing = config.resources[name];
    if (!existing) {
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
    const priv = Object.fromEntries(Object.entries(r.priv ?? {}).filter(([k, v]) => !same(existing.priv[k], v)));
    if (Object.keys(props).length + Object.keys(priv).length > 0) {
      updates.push({ op: 'resource-set', resource: name, props, priv });
      for (const [k, v] of Object.entries(props)) lines.push(`set ${name}.props.${k} = ${JSON.stringify(v)}`);
      for (const [k, v] of Object.entries(priv)) lines.push(`set ${name}.priv.${k} = ${JSON.stringify(v)}`);
    }
    const want = new Set(r.dependsOn ?? []);
    for (const d of existing.dependsOn) if (!want.has(d)) { deps.push({ op: 'resource-remove-dep', resource: name, dependsOn: d }); lines.push(`remove dependency ${name} -> ${d}`); }
    for (const d of want) if (!existing.dependsOn.includes(d)) { deps.push({ op: 'resource-add-dep', resource: name, dependsOn: d }); lines.push(`add dependency ${name} -> ${d}`); }
  }
}
