// `cluster import pacemaker CIB.xml`: a Pacemaker configuration (the CIB as `cibadmin --query`,
// `pcs cluster cib` or crmsh write it) -> an apply document (YAML) for `cluster apply -f`. Pure:
// text in, document and the list of what was not translated out; main.ts does the file and the
// printing. What has the same meaning in clusterd is translated; everything else is listed with the
// element's id and why, never dropped silently.
//
//   primitive class ocf            -> resource type ocf, priv.agent PROVIDER:AGENT, priv.params
//   primitive class lsb            -> resource type lsb, priv.script NAME
//   primitive other classes        -> not translated (systemd, service, stonith, upstart, nagios)
//   op monitor interval / timeout  -> props.isAliveIntervalMs / priv.monitorTimeoutMs
//   op start, stop timeout         -> priv.startTimeoutMs, priv.stopTimeoutMs (op_defaults timeout as default)
//   meta migration-threshold N     -> props.restartThreshold N-1 (Pacemaker moves at the Nth failure,
//                                     clusterd after restartThreshold restarts); INFINITY (the default)
//                                     -> restartAction restart (restart in place for ever)
//   meta failure-timeout           -> props.restartPeriodMs (failures older than it are forgotten)
//   meta target-role Stopped       -> group state offline (all members, or the group itself)
//   meta resource-stickiness       -> group failback: immediate when the best-scored node beats every
//                                     other by more than the stickiness, never otherwise
//   group                          -> group; each member depends on the one before it (order + colocation)
//   primitive outside any group    -> a group of its own, named after it
//   rsc_location node score        -> preferredOwners by score (positive), possibleOwners without the
//                                     -INFINITY nodes (or only positive ones when symmetric-cluster=false)
//   rsc_colocation INFINITY        -> the two are put in one group (same node is what a group means)
//   rsc_order Mandatory A then B   -> B depends on A, when both end up in one group
//
// Exit codes of the command (importExit): 0 everything translated; 3 a document was printed but
// something was not translated (listed on stderr); 1 nothing printed (not a CIB, unreadable).

import { XMLParser } from 'fast-xml-parser';
import { stringify } from 'yaml';
import { checkName } from '../core/config.js';

export const importExit = { complete: 0, failed: 1, partial: 3 } as const;

/** One element (or attribute of one) that has no translation, with why. */
export interface Dropped {
  id: string;
  why: string;
}

type Scalar = string | number | boolean;
export interface ImportedResource {
  type: 'ocf' | 'lsb';
  dependsOn?: string[];
  props?: Record<string, Scalar>;
  priv: Record<string, Scalar | Record<string, string>>;
}
export interface ImportedGroup {
  preferredOwners?: string[];
  possibleOwners?: string[];
  failback?: 'never' | 'immediate';
  state: 'online' | 'offline';
  resources: Record<string, ImportedResource>;
}
export interface ImportResult {
  groups: Record<string, ImportedGroup>;
  /** Node names of the CIB: clusterd nodes must be started with these names before the apply. */
  nodes: string[];
  dropped: Dropped[];
}

export type ImportOutcome = { ok: true; result: ImportResult } | { ok: false; error: string };

// ---------------------------------------------------------------------------------------------
// XML

type El = Record<string, unknown>;
const repeated = new Set(['node', 'primitive', 'group', 'clone', 'master', 'bundle', 'nvpair', 'op', 'instance_attributes', 'meta_attributes',
  'rsc_location', 'rsc_colocation', 'rsc_order', 'rsc_ticket', 'cluster_property_set', 'resource_set', 'resource_ref', 'rule', 'template', 'tag']);

function parseXml(text: string): El | null {
  const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (name, _path, _leaf, isAttribute) => !isAttribute && repeated.has(name), parseAttributeValue: false, parseTagValue: false });
  try {
    return parser.parse(text) as El;
  } catch {
    return null;
  }
}

const list = (v: unknown): El[] => (Array.isArray(v) ? (v as El[]) : v === undefined || v === '' ? [] : [v as El]);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const child = (e: El | undefined, name: string): El | undefined => {
  const v = e?.[name];
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as El) : undefined;
};

// ---------------------------------------------------------------------------------------------
// Values

/** Pacemaker scores: integers, INFINITY (+ and -); crmsh writes inf too. */
export function parseScore(text: string | undefined): number | null {
  if (text === undefined) return null;
  const t = text.trim().toLowerCase();
  if (t === 'infinity' || t === '+infinity' || t === 'inf' || t === '+inf') return Infinity;
  if (t === '-infinity' || t === '-inf') return -Infinity;
  return /^[+-]?\d+$/.test(t) ? Number(t) : null;
}

/** Pacemaker durations: 10, 10s, 500ms, 2min, 1h, and ISO 8601 (PT10S); a bare number is seconds. */
export function parseDurationMs(text: string | undefined): number | null {
  if (text === undefined) return null;
  const t = text.trim().toLowerCase();
  const iso = /^pt(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?$/.exec(t);
  if (iso !== null && t !== 'pt') return Math.round(((Number(iso[1] ?? 0) * 60 + Number(iso[2] ?? 0)) * 60 + Number(iso[3] ?? 0)) * 1000);
  const m = /^(\d+)\s*(ms|msec|us|usec|s|sec|m|min|h|hr)?$/.exec(t);
  if (m === null) return null;
  const n = Number(m[1]);
  switch (m[2]) {
    case 'ms': case 'msec': return n;
    case 'us': case 'usec': return Math.ceil(n / 1000);
    case 'm': case 'min': return n * 60_000;
    case 'h': case 'hr': return n * 3_600_000;
    default: return n * 1000;
  }
}

// ---------------------------------------------------------------------------------------------
// Translation

interface Primitive {
  id: string;
  resource: ImportedResource;
  /** Meta attributes that act on the group: target-role, resource-stickiness. */
  targetRole: string | undefined;
  stickiness: number | undefined;
}

interface Ctx {
  dropped: Dropped[];
  metaDefaults: Map<string, string>;
  opTimeoutDefaultMs: number | null;
}

/** Name/value pairs of the attribute sets of `el` (first set without a rule; others are reported). */
function attrs(ctx: Ctx, el: El, setName: 'instance_attributes' | 'meta_attributes', owner: string): Map<string, string> {
  const out = new Map<string, string>();
  list(el[setName]).forEach((set, i) => {
    const setId = str(set.id) ?? `${owner}-${setName}`;
    if (set.rule !== undefined) return void ctx.dropped.push({ id: setId, why: `a ${setName} set with a rule: clusterd has one value per setting, not node- or time-dependent ones` });
    if (set['id-ref'] !== undefined) return void ctx.dropped.push({ id: setId, why: `a ${setName} reference (id-ref) to another set: write the values in the resource itself` });
    if (i > 0 && out.size > 0) ctx.dropped.push({ id: setId, why: `a second ${setName} set: only the first one is translated` });
    if (i > 0 && out.size > 0) return;
    for (const nv of list(set.nvpair)) {
      const name = str(nv.name);
      if (name === undefined) continue;
      out.set(name, str(nv.value) ?? '');
    }
  });
  return out;
}

function translatePrimitive(ctx: Ctx, el: El): Primitive | null {
  const id = str(el.id) ?? '(no id)';
  const cls = str(el.class);
  const agent = str(el.type);
  if (el.template !== undefined) {
    ctx.dropped.push({ id, why: `a primitive made from a template ('${str(el.template)}'): expand it in Pacemaker (crm configure show) first` });
    return null;
  }
  if (cls !== 'ocf' && cls !== 'lsb') {
    const why = cls === 'stonith' ? 'a fencing device: clusterd fences by leases (a node that loses its lease stops its resources itself), it has no STONITH devices'
      : `resource class ${cls ?? '(none)'} is not supported (clusterd runs ocf and lsb agents; a systemd unit can be run as a process resource: systemctl start is not waited on the same way)`;
    ctx.dropped.push({ id, why });
    return null;
  }
  const name = checkName('resource', id);
  if (!name.ok) {
    ctx.dropped.push({ id, why: `the id is not a valid clusterd resource name: ${name.error.message}` });
    return null;
  }
  const params = attrs(ctx, el, 'instance_attributes', id);
  const meta = new Map([...ctx.metaDefaults, ...attrs(ctx, el, 'meta_attributes', id)]);
  const props: Record<string, Scalar> = {};
  const priv: ImportedResource['priv'] = {};
  if (cls === 'ocf') {
    const provider = str(el.provider) ?? 'heartbeat';
    priv.agent = `${provider}:${agent ?? ''}`;
    if (params.size > 0) priv.params = Object.fromEntries(params);
  } else {
    priv.script = agent ?? '';
    if (params.size > 0) ctx.dropped.push({ id: `${id}-instance_attributes`, why: 'an lsb script takes no parameters' });
  }
  translateOps(ctx, el, id, props, priv);
  let targetRole: string | undefined;
  let stickiness: number | undefined;
  for (const [key, value] of meta) {
    const where = `${id} meta ${key}=${value}`;
    switch (key) {
      case 'migration-threshold': {
        const n = parseScore(value);
        if (n === Infinity) props.restartAction = 'restart';
        else if (n !== null && n > 0) props.restartThreshold = Math.min(n - 1, 1000);
        else if (n !== null && n <= 0) props.restartAction = 'restart'; // 0 also means "never move away"
        else ctx.dropped.push({ id: where, why: 'not a number' });
        break;
      }
      case 'failure-timeout': {
        const ms = parseDurationMs(value);
        if (ms !== null && ms > 0) props.restartPeriodMs = Math.min(ms, 7 * 86_400_000);
        else if (ms !== 0) ctx.dropped.push({ id: where, why: 'not a duration' });
        break;
      }
      case 'target-role':
        targetRole = value;
        if (!['Started', 'Stopped', 'started', 'stopped'].includes(value)) ctx.dropped.push({ id: where, why: 'roles other than Started and Stopped (promotable clones) have no equivalent: translated as Started' });
        break;
      case 'resource-stickiness': {
        const n = parseScore(value);
        if (n === null) ctx.dropped.push({ id: where, why: 'not a score' });
        else stickiness = n;
        break;
      }
      case 'is-managed':
        if (value !== 'true') ctx.dropped.push({ id: where, why: 'clusterd manages every resource it has (an unmanaged resource: leave it out of the apply file)' });
        break;
      default:
        ctx.dropped.push({ id: where, why: 'this meta attribute has no clusterd equivalent' });
    }
  }
  const resource: ImportedResource = { type: cls, priv };
  if (Object.keys(props).length > 0) resource.props = props;
  return { id, resource, targetRole, stickiness };
}

function translateOps(ctx: Ctx, el: El, id: string, props: Record<string, Scalar>, priv: ImportedResource['priv']): void {
  if (ctx.opTimeoutDefaultMs !== null) {
    priv.startTimeoutMs = ctx.opTimeoutDefaultMs;
    priv.stopTimeoutMs = ctx.opTimeoutDefaultMs;
    priv.monitorTimeoutMs = ctx.opTimeoutDefaultMs;
  }
  let monitors = 0;
  for (const op of list(child(el, 'operations')?.op)) {
    const opId = str(op.id) ?? `${id}-${str(op.name)}`;
    const name = str(op.name);
    const interval = parseDurationMs(str(op.interval) ?? '0');
    const timeout = op.timeout === undefined ? null : parseDurationMs(str(op.timeout));
    if (op.timeout !== undefined && timeout === null) ctx.dropped.push({ id: opId, why: `timeout '${str(op.timeout)}' is not a duration` });
    for (const key of Object.keys(op)) {
      if (['id', 'name', 'interval', 'timeout'].includes(key)) continue;
      if (key === 'enabled' && op[key] === 'true') continue;
      if (key === 'role' && name === 'monitor' && ['Started', 'Slave', 'Unpromoted'].includes(str(op[key]) ?? '')) continue;
      ctx.dropped.push({ id: opId, why: `operation attribute ${key}=${String(op[key])} has no clusterd equivalent` });
    }
    if (name === 'monitor') {
      if (interval === 0) continue; // a probe: clusterd checks a resource before it starts it anyway
      if (interval === null) { ctx.dropped.push({ id: opId, why: `interval '${str(op.interval)}' is not a duration` }); continue; }
      if (++monitors > 1) { ctx.dropped.push({ id: opId, why: 'a second monitor operation: clusterd runs one health check per resource (the first is kept)' }); continue; }
      props.isAliveIntervalMs = Math.max(100, Math.min(interval, 86_400_000));
      if (timeout !== null) priv.monitorTimeoutMs = timeout;
    } else if (name === 'start' || name === 'stop') {
      if (timeout !== null) priv[name === 'start' ? 'startTimeoutMs' : 'stopTimeoutMs'] = timeout;
    } else {
      ctx.dropped.push({ id: opId, why: `operation ${name ?? '(none)'}: clusterd runs start, stop and monitor only` });
    }
  }
}

interface Unit {
  /** Group name in the document. */
  name: string;
  members: Primitive[];
  /** Dependencies between members: dependent -> what it needs. */
  deps: Map<string, string[]>;
  targetRole: string | undefined;
  stickiness: number | undefined;
  /** CIB ids that name this unit (its group id, or its primitive's id; more after a merge). */
  ids: string[];
}

/** Whether `from` needs `to`, directly or through others. */
function reaches(deps: Map<string, string[]>, from: string, to: string): boolean {
  const seen = new Set<string>();
  const stack = [from];
  while (stack.length > 0) {
    const at = stack.pop()!;
    if (at === to) return true;
    if (seen.has(at)) continue;
    seen.add(at);
    stack.push(...(deps.get(at) ?? []));
  }
  return false;
}

/** The CIB -> apply document. Never throws on a CIB: what it cannot translate is in `dropped`. */
export function importPacemaker(xml: string): ImportOutcome {
  const doc = parseXml(xml);
  const cib = child(doc ?? undefined, 'cib');
  const cfg = child(cib, 'configuration');
  if (cib === undefined || cfg === undefined) {
    return { ok: false, error: 'not a Pacemaker CIB: no <cib><configuration> element (write one with cibadmin --query > cib.xml or pcs cluster cib cib.xml)' };
  }
  const dropped: Dropped[] = [];
  // Cluster properties.
  const props = new Map<string, string>();
  for (const set of list(child(cfg, 'crm_config')?.cluster_property_set)) for (const nv of list(set.nvpair)) props.set(str(nv.name) ?? '', str(nv.value) ?? '');
  const informational = new Set(['dc-version', 'cluster-infrastructure', 'cluster-name', 'have-watchdog', 'last-lrm-refresh', 'stonith-enabled', 'symmetric-cluster']);
  for (const [key, value] of props) {
    if (informational.has(key)) continue;
    if (key === 'no-quorum-policy' && value === 'stop') continue; // what clusterd does: a node without its lease stops its resources
    dropped.push({ id: `crm_config ${key}=${value}`, why: 'this cluster property has no clusterd equivalent (see README: Timing)' });
  }
  const symmetric = (props.get('symmetric-cluster') ?? 'true') !== 'false';
  const ctx: Ctx = { dropped, metaDefaults: new Map(), opTimeoutDefaultMs: null };
  const rscDefaults = child(cfg, 'rsc_defaults');
  if (rscDefaults !== undefined) for (const [k, v] of attrs(ctx, rscDefaults, 'meta_attributes', 'rsc_defaults')) ctx.metaDefaults.set(k, v);
  const opDefaults = child(cfg, 'op_defaults');
  if (opDefaults !== undefined) {
    for (const [k, v] of attrs(ctx, opDefaults, 'meta_attributes', 'op_defaults')) {
      if (k === 'timeout' && parseDurationMs(v) !== null) ctx.opTimeoutDefaultMs = parseDurationMs(v);
      else dropped.push({ id: `op_defaults ${k}=${v}`, why: 'no clusterd equivalent' });
    }
  }
  const nodes = list(child(cfg, 'nodes')?.node).map((n) => str(n.uname) ?? str(n.id) ?? '').filter((n) => n !== '');

  // Resources: groups and lone primitives become units.
  const res = child(cfg, 'resources') ?? {};
  const units: Unit[] = [];
  const unitOf = new Map<string, Unit>();
  for (const g of list(res.group)) {
    const gid = str(g.id) ?? '(no id)';
    const gname = checkName('group', gid);
    if (!gname.ok) { dropped.push({ id: gid, why: `the id is not a valid clusterd group name: ${gname.error.message}` }); continue; }
    const gmeta = new Map([...attrs(ctx, g, 'meta_attributes', gid)]);
    const unit: Unit = { name: gid, members: [], deps: new Map(), targetRole: undefined, stickiness: undefined, ids: [gid] };
    for (const [k, v] of gmeta) {
      if (k === 'target-role') unit.targetRole = v;
      else if (k === 'resource-stickiness') unit.stickiness = parseScore(v) ?? undefined;
      else dropped.push({ id: `${gid} meta ${k}=${v}`, why: k === 'ordered' || k === 'collocated' ? 'a group that is not ordered or not collocated: translated as an ordinary group' : 'this meta attribute has no clusterd group equivalent' });
    }
    let prev: string | undefined;
    for (const p of list(g.primitive)) {
      const prim = translatePrimitive(ctx, p);
      if (prim === null) continue;
      // Members start in order and run together: each one needs the one before it.
      if (prev !== undefined) unit.deps.set(prim.id, [prev]);
      prev = prim.id;
      unit.members.push(prim);
      unitOf.set(prim.id, unit);
    }
    unitOf.set(gid, unit);
    units.push(unit);
  }
  for (const p of list(res.primitive)) {
    const prim = translatePrimitive(ctx, p);
    if (prim === null) continue;
    const unit: Unit = { name: prim.id, members: [prim], deps: new Map(), targetRole: undefined, stickiness: undefined, ids: [prim.id] };
    unitOf.set(prim.id, unit);
    units.push(unit);
  }
  for (const kind of ['clone', 'master', 'bundle'] as const) {
    for (const c of list(res[kind])) dropped.push({ id: str(c.id) ?? `(${kind})`, why: `a ${kind === 'master' ? 'promotable clone (master)' : kind}: clusterd runs each group on one node at a time; it has no clones` });
  }
  for (const t of list(res.template)) dropped.push({ id: str(t.id) ?? '(template)', why: 'a resource template: expand it first' });

  // Constraints.
  const cons = child(cfg, 'constraints') ?? {};
  const live = (u: Unit): Unit => { let x = u; while (merged.has(x)) x = merged.get(x)!; return x; };
  const merged = new Map<Unit, Unit>();
  const find = (id: string | undefined): Unit | undefined => (id === undefined ? undefined : unitOf.has(id) ? live(unitOf.get(id)!) : undefined);
  const hasSets = (c: El) => c.resource_set !== undefined;
  for (const c of list(cons.rsc_colocation)) {
    const id = str(c.id) ?? '(colocation)';
    if (hasSets(c)) { dropped.push({ id, why: 'a colocation of resource sets: write it as groups' }); continue; }
    const score = parseScore(str(c.score));
    const a = find(str(c.rsc));
    const b = find(str(c['with-rsc']));
    if (c['rsc-role'] !== undefined || c['with-rsc-role'] !== undefined) { dropped.push({ id, why: 'a colocation with roles (promotable clones): no equivalent' }); continue; }
    if (a === undefined || b === undefined) { dropped.push({ id, why: `names a resource that was not translated (${str(c.rsc)}, ${str(c['with-rsc'])})` }); continue; }
    if (score === -Infinity) { dropped.push({ id, why: 'a -INFINITY colocation (keep apart): clusterd has no anti-affinity between groups; give them different preferred owners' }); continue; }
    if (score !== Infinity) { dropped.push({ id, why: `a colocation of score ${str(c.score)} is a preference: clusterd places whole groups, only INFINITY (same node) is translated` }); continue; }
    if (a === b) continue;
    // Same node always: one group. The dependent side joins the side it is placed with.
    for (const m of a.members) { b.members.push(m); unitOf.set(m.id, b); }
    for (const [k, v] of a.deps) b.deps.set(k, v);
    b.ids.push(...a.ids);
    b.targetRole ??= a.targetRole;
    if (a.stickiness !== undefined) b.stickiness = (b.stickiness ?? 0) + a.stickiness;
    merged.set(a, b);
  }
  for (const c of list(cons.rsc_order)) {
    const id = str(c.id) ?? '(order)';
    if (hasSets(c)) { dropped.push({ id, why: 'an order of resource sets: write it as a group' }); continue; }
    const first = str(c.first);
    const then = str(c.then);
    const kind = str(c.kind) ?? (parseScore(str(c.score)) === 0 ? 'Optional' : 'Mandatory');
    const actionsOk = (str(c['first-action']) ?? 'start') === 'start' && (str(c['then-action']) ?? 'start') === 'start';
    if (kind !== 'Mandatory') { dropped.push({ id, why: `an ${kind} order: clusterd dependencies are mandatory (a dependent stops when what it needs fails)` }); continue; }
    if (!actionsOk || str(c.symmetrical) === 'false') { dropped.push({ id, why: 'an order other than start-then-start, symmetrical: no equivalent' }); continue; }
    const a = find(first);
    const b = find(then);
    if (a === undefined || b === undefined) { dropped.push({ id, why: `names a resource that was not translated (${first}, ${then})` }); continue; }
    if (a !== b) { dropped.push({ id, why: `orders ${first} before ${then}, which may run on different nodes: clusterd dependencies stay inside one group (add an INFINITY colocation to put them together)` }); continue; }
    // A group stands for its members: its last member is up when it is, its first starts first.
    const membersOf = (rid: string) => {
      const g = list(res.group).find((x) => str(x.id) === rid);
      return g ? list(g.primitive).map((p) => str(p.id) ?? '').filter((p) => unitOf.has(p)) : [rid];
    };
    const need = membersOf(first!).at(-1);
    const dependent = membersOf(then!)[0];
    if (need === undefined || dependent === undefined || need === dependent) continue;
    if (reaches(a.deps, need, dependent)) { dropped.push({ id, why: `${first} already starts after ${then}: this order would close a cycle` }); continue; }
    const cur = a.deps.get(dependent) ?? [];
    if (!cur.includes(need)) a.deps.set(dependent, [...cur, need]);
  }
  for (const c of list(cons.rsc_ticket)) dropped.push({ id: str(c.id) ?? '(ticket)', why: 'tickets (multi-site clusters) have no equivalent' });

  // Locations: node scores per unit.
  const scores = new Map<Unit, Map<string, number>>();
  for (const c of list(cons.rsc_location)) {
    const id = str(c.id) ?? '(location)';
    if (c.rule !== undefined || hasSets(c) || c['rsc-pattern'] !== undefined) { dropped.push({ id, why: 'a location with rules, resource sets or a pattern: only node scores are translated' }); continue; }
    if (c.role !== undefined) { dropped.push({ id, why: 'a location for a role: no equivalent' }); continue; }
    const u = find(str(c.rsc));
    const node = str(c.node);
    const score = parseScore(str(c.score));
    if (u === undefined) { dropped.push({ id, why: `names a resource that was not translated (${str(c.rsc)})` }); continue; }
    if (node === undefined || score === null) { dropped.push({ id, why: 'no node or score' }); continue; }
    if (score < 0 && score !== -Infinity) { dropped.push({ id, why: `a negative score (${str(c.score)}) is an avoidance: clusterd has preferred and possible owners only (use -INFINITY to exclude the node)` }); continue; }
    const m = scores.get(u) ?? new Map<string, number>();
    m.set(node, (m.get(node) ?? 0) + score);
    scores.set(u, m);
  }

  // The document.
  const groups: Record<string, ImportedGroup> = {};
  for (const u of units) {
    if (merged.has(u) || u.members.length === 0) continue;
    const s = scores.get(u) ?? new Map<string, number>();
    const order = (n: string) => nodes.indexOf(n);
    const preferred = [...s].filter(([, v]) => v > 0).sort((x, y) => y[1] - x[1] || order(x[0]) - order(y[0])).map(([n]) => n);
    const excluded = new Set([...s].filter(([, v]) => v === -Infinity).map(([n]) => n));
    const g: ImportedGroup = { state: 'online', resources: {} };
    if (preferred.length > 0) g.preferredOwners = preferred;
    if (!symmetric) g.possibleOwners = preferred;
    else if (excluded.size > 0) g.possibleOwners = nodes.filter((n) => !excluded.has(n));
    // Stickiness: the group's, else the sum of its members' (Pacemaker adds them up).
    const memberSticky = u.members.reduce((sum, m) => sum + (m.stickiness ?? 0), 0);
    const sticky = u.stickiness ?? memberSticky;
    if (preferred.length > 0) {
      const ranked = [...s].filter(([, v]) => v !== -Infinity).map(([, v]) => v).sort((x, y) => y - x);
      const top = ranked[0] ?? 0;
      const second = ranked[1] ?? 0;
      g.failback = top - second > sticky ? 'immediate' : 'never';
    }
    const roles = [u.targetRole, ...u.members.map((m) => m.targetRole)];
    const stopped = (r: string | undefined) => r?.toLowerCase() === 'stopped';
    if (stopped(u.targetRole) || u.members.every((m) => stopped(m.targetRole))) g.state = 'offline';
    else if (roles.some(stopped)) {
      for (const m of u.members.filter((x) => stopped(x.targetRole))) dropped.push({ id: `${m.id} meta target-role=Stopped`, why: `a stopped member of a group that runs: apply sets the whole group online; take it offline after the apply with cluster res "${m.id}" /offline` });
    }
    for (const m of u.members) {
      const r: ImportedResource = { ...m.resource };
      const deps = u.deps.get(m.id);
      if (deps !== undefined && deps.length > 0) r.dependsOn = deps;
      g.resources[m.id] = r;
    }
    groups[u.name] = g;
  }
  return { ok: true, result: { groups, nodes, dropped } };
}

/** The apply document's text: a header saying where it comes from and what to do, then the YAML. */
export function importText(result: ImportResult, source: string): string {
  const doc = { groups: Object.fromEntries(Object.entries(result.groups).map(([name, g]) => {
    const { resources, ...rest } = g;
    return [name, { ...rest, resources: Object.fromEntries(Object.entries(resources).map(([rn, r]) => [rn, { type: r.type, ...(r.dependsOn ? { dependsOn: r.dependsOn } : {}), ...(r.props ? { props: r.props } : {}), priv: r.priv }])) }];
  })) };
  const head = [
    `# cluster apply file, from the Pacemaker configuration ${source} (cluster import pacemaker).`,
    `# Nodes of that cluster: ${result.nodes.join(', ') || '(none)'}. Owners below name them: start clusterd with these --node names before cluster apply.`,
    result.dropped.length === 0 ? '# Everything was translated.' : `# ${result.dropped.length} element(s) were not translated: see the list printed on stderr.`,
  ];
  return `${head.join('\n')}\n${stringify(doc, { lineWidth: 0 })}`;
}

/** One stderr line per element not translated. */
export function droppedText(dropped: readonly Dropped[]): string {
  return dropped.map((d) => `not translated: ${d.id}: ${d.why}\n`).join('');
}
