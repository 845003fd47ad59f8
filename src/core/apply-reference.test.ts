// The apply planner and the configuration fold against straightforward references: the
// planner as it was written first (each update validated by applyUpdate on a fresh copy of the
// whole configuration, quadratic in the document), and a batch fold as a chain of applyUpdate.
// The fast versions must give the same plans, the same configurations (to the key order of their
// JSON text) and the same refusals.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { planApply, planApplySteps, type ApplyDoc, type ApplyGroupSpec, type ApplyResourceSpec } from './apply.js';
import { applyUpdate, checkProps, checkSaved, checkTypePriv, ConfigDraft, emptyConfig, resourceTypesSupported } from './config.js';
import { clusterError, fail, ok, type Result } from './errors.js';
import type { ClusterConfig, ConfigUpdate } from './types.js';

// ---- reference planner (the first version, kept as the specification) -----------------------

/** Type errors the reference found (a type without an agent, private properties its type refuses); the first one is returned. */
let unsupported: Result<never>[] = [];

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

function referencePlan(config: ClusterConfig, doc: ApplyDoc): Result<{ updates: ConfigUpdate[]; lines: string[]; config: ClusterConfig }> {
  const updates: ConfigUpdate[] = [];
  const lines: string[] = [];
  // Dependencies once every resource of the whole document exists (a dependency may name a
  // resource listed later, in this group or another); then each group's desired state.
  const deps: ConfigUpdate[] = [];
  const desiredUpdates: ConfigUpdate[] = [];
  const desiredLines: string[] = [];
  unsupported = [];
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
  if (unsupported.length > 0) return unsupported[0]!;
  updates.push(...deps, ...desiredUpdates);
  lines.push(...desiredLines);
  // Validate the whole plan with the same fold the log uses; errors keep their paths.
  let cfg = config;
  for (const u of updates) {
    // The checks of a value being saved (checkSaved), then the fold.
    const saved = checkSaved(cfg, u);
    const next = saved.ok ? applyUpdate(cfg, u) : saved;
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
      if (!(resourceTypesSupported as readonly string[]).includes(r.type)) unsupported.push(fail(clusterError('RESOURCE_TYPE_UNSUPPORTED', 'unsupported', undefined, `groups.${group}.resources.${name}.type`)));
      else {
        const typed = checkTypePriv(name, r.type, r.priv ?? {});
        if (!typed.ok) unsupported.push(fail(Object.assign(typed.error, { path: `groups.${group}.${typed.error.path}` })));
      }
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
    if (Object.keys(priv).length > 0) {
      const typed = checkTypePriv(name, existing.type, { ...existing.priv, ...priv });
      if (!typed.ok) unsupported.push(fail(Object.assign(typed.error, { path: `groups.${group}.${typed.error.path}` })));
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
}

// ---- generators --------------------------------------------------------------------------

const pick = <T>(xs: readonly T[]) => fc.constantFrom(...xs);
const groupNames = ['web', 'db', 'mail', 'g.v2'];
const resourceNames = ['ra', 'rb', 'rc', 'rd', 're'];
const nodeNames = ['n1', 'n2', 'n3', 'n9'];

const resourceSpec: fc.Arbitrary<ApplyResourceSpec> = fc.record({
  type: pick(['process', 'process', 'disk', 'ip'] as const),
  dependsOn: fc.option(fc.uniqueArray(pick(resourceNames), { maxLength: 2 }), { nil: undefined }),
  props: fc.option(fc.record({ restartThreshold: fc.integer({ min: -1, max: 4 }), restartAction: pick([0, 1, 2, 'none'] as never[]) }, { requiredKeys: [] }), { nil: undefined }),
  priv: fc.option(fc.record({ command: pick(['a', 'b']) }, { requiredKeys: [] }), { nil: undefined }),
}, { requiredKeys: ['type'] }).map((r) => ({
  // Private properties valid for the type (they are checked when saved, which the reference does not model).
  ...r, priv: r.type === 'disk' ? { path: '/srv/d' } : r.type === 'process' ? { command: r.priv?.command ?? 'a' } : r.priv,
}));

const groupSpec: fc.Arbitrary<ApplyGroupSpec> = fc.record({
  preferredOwners: fc.uniqueArray(pick(nodeNames), { maxLength: 2 }),
  failoverThreshold: fc.option(fc.integer({ min: 0, max: 3 }), { nil: null }),
  failback: pick([{ mode: 'never' }, { mode: 'immediate' }, { endHour: 6, mode: 'window', startHour: 22 }] as never[]),
  state: pick(['online', 'offline'] as const),
  resources: fc.dictionary(pick(resourceNames), resourceSpec, { maxKeys: 3 }),
}, { requiredKeys: [] });

const docArb: fc.Arbitrary<ApplyDoc> = fc.dictionary(pick(groupNames), groupSpec, { maxKeys: 3 }).map((groups) => ({ groups }));

function cluster(): ClusterConfig {
  let c = emptyConfig('c');
  for (const node of ['n1', 'n2', 'n3']) { const r = applyUpdate(c, { op: 'node-add', node }); assert.ok(r.ok); c = r.value; }
  return c;
}

/** A configuration reached by applying some documents one after the other (those that apply). */
function after(docs: ApplyDoc[]): ClusterConfig {
  let c = cluster();
  for (const d of docs) { const r = referencePlan(c, d); if (r.ok) c = r.value.config; }
  return c;
}

// ---- properties --------------------------------------------------------------------------

test('planApply gives the reference plan: same updates, lines and configuration (to its JSON text), or the same refusal', () => {
  fc.assert(fc.property(fc.array(docArb, { maxLength: 3 }), docArb, (earlier, d) => {
    const c = after(earlier);
    const frozen = JSON.stringify(c);
    const want = referencePlan(c, d);
    const got = planApply(c, d);
    assert.equal(got.ok, want.ok, `${JSON.stringify(d)}: ${got.ok ? 'ok' : got.error.code} vs ${want.ok ? 'ok' : want.error.code}`);
    if (got.ok && want.ok) {
      assert.deepEqual(got.value.updates, want.value.updates);
      assert.deepEqual(got.value.lines, want.value.lines);
      assert.equal(JSON.stringify(got.value.config), JSON.stringify(want.value.config));
    } else if (!got.ok && !want.ok) {
      assert.equal(got.error.code, want.error.code);
      assert.equal(got.error.path, want.error.path);
    }
    assert.equal(JSON.stringify(c), frozen, 'the input configuration is never changed');
  }), { numRuns: 400 });
});

test('planApplySteps, run step by step, ends with what planApply returns', () => {
  fc.assert(fc.property(fc.array(docArb, { maxLength: 2 }), docArb, (earlier, d) => {
    const c = after(earlier);
    const steps = planApplySteps(c, d);
    let s = steps.next();
    while (!s.done) s = steps.next();
    assert.deepEqual(JSON.stringify(s.value), JSON.stringify(planApply(c, d)));
  }));
});

const name = pick(['a', 'b', 'c']);
const update: fc.Arbitrary<ConfigUpdate> = fc.oneof(
  name.map((n): ConfigUpdate => ({ op: 'node-add', node: `n-${n}` })),
  name.map((n): ConfigUpdate => ({ op: 'node-remove', node: `n-${n}` })),
  name.map((n): ConfigUpdate => ({ op: 'group-create', group: `g-${n}`, preferredOwners: ['n-a'] })),
  name.map((n): ConfigUpdate => ({ op: 'group-delete', group: `g-${n}` })),
  fc.tuple(name, pick(['online', 'offline'] as const)).map(([g, d]): ConfigUpdate => ({ op: 'group-desired', group: `g-${g}`, desired: d })),
  fc.tuple(name, name).map(([r, g]): ConfigUpdate => ({ op: 'resource-create', resource: `r-${r}`, group: `g-${g}`, type: 'process', priv: { command: 'x' } })),
  name.map((n): ConfigUpdate => ({ op: 'resource-delete', resource: `r-${n}` })),
  fc.tuple(name, name).map(([a, b]): ConfigUpdate => ({ op: 'resource-add-dep', resource: `r-${a}`, dependsOn: `r-${b}` })),
  fc.tuple(name, name).map(([a, b]): ConfigUpdate => ({ op: 'resource-remove-dep', resource: `r-${a}`, dependsOn: `r-${b}` })),
  fc.tuple(name, pick(['online', 'offline'] as const)).map(([r, d]): ConfigUpdate => ({ op: 'resource-desired', resource: `r-${r}`, desired: d })),
);

/** The reference batch: applyUpdate one after the other, all or nothing. */
function referenceAll(c: ClusterConfig, updates: ConfigUpdate[]): Result<ClusterConfig> {
  let next = c;
  for (const u of updates) {
    const r = applyUpdate(next, u);
    if (!r.ok) return r;
    next = r.value;
  }
  return ok(next);
}

test('ConfigDraft.applyAll folds batches like a chain of applyUpdate: same configuration to its JSON text, refused batches leave no trace', () => {
  fc.assert(fc.property(fc.array(fc.array(update, { minLength: 1, maxLength: 6 }), { maxLength: 12 }), fc.boolean(), (batches, readEach) => {
    let want = emptyConfig('x');
    const draft = new ConfigDraft(want);
    for (const batch of batches) {
      const a = referenceAll(want, batch);
      const b = draft.applyAll(batch);
      assert.equal(b.ok, a.ok);
      if (!a.ok && !b.ok) assert.equal(b.error.code, a.error.code);
      if (a.ok) want = a.value;
      if (readEach) assert.equal(JSON.stringify(draft.config), JSON.stringify(want));
    }
    assert.equal(JSON.stringify(draft.config), JSON.stringify(want));
  }), { numRuns: 400 });
});
