// What the dashboard derives from the event log (pure functions of the events and the status):
// the group of an event, a group's owners over time, its failovers with their reasons and
// durations, and the figures operators look at. The placement events are the coordinator's
// notes (core/placement.ts): "group G placed on N", "group G assigned to N (epoch E): WHY".

/** The events that give a group a new owner, and what each means. */
const ownerEvents = { GROUP_PLACED: 'placed', GROUP_MOVED: 'moved', GROUP_FAILOVER: 'failover', GROUP_NO_NODE: 'no node' };

/** The group an event is about, or null (a node's or the cluster's event). */
export function groupOf(e, groupOfResource) {
  const d = e.data ?? {};
  if (typeof d.group === 'string') return d.group;
  if (typeof d.resource === 'string') return groupOfResource.get(d.resource) ?? null;
  const m = /^group (\S+) /.exec(e.message);
  return m ? m[1] : null;
}

/** One owner change of `group`: when, to which node, epoch, how, and why. */
function ownerChange(e) {
  const kind = ownerEvents[e.event];
  if (!kind) return null;
  let m = /assigned to (\S+) \(epoch (\d+)\)(?::\s*(.*))?$/.exec(e.message);
  if (m) return { wallMs: e.wallMs, id: e.id, node: m[1], epoch: Number(m[2]), kind: kind === 'moved' && e.level === 'warning' ? 'failed over' : kind, reason: m[3] ?? '' };
  m = /placed on (\S+)/.exec(e.message);
  if (m) return { wallMs: e.wallMs, id: e.id, node: m[1], epoch: 1, kind, reason: 'first placement' };
  if (kind === 'no node') return { wallMs: e.wallMs, id: e.id, node: null, epoch: null, kind, reason: e.message.replace(/^group \S+ /, '') };
  return null;
}

/**
 * The history of one group from `events` (oldest first): owner changes, and for each failover
 * (owner Down, or failed on its owner) how long until every resource of the group reported
 * Online on the new owner (null: not yet, or its events are not in the log).
 */
export function groupHistory(events, group, resources, groupOfResource) {
  const mine = events.filter((e) => groupOf(e, groupOfResource) === group);
  const owners = [];
  for (const e of mine) {
    const c = ownerChange(e);
    if (c) owners.push(c);
  }
  const failovers = [];
  owners.forEach((c, i) => {
    if (c.kind !== 'failover' && c.kind !== 'failed over') return;
    const until = owners[i + 1]?.id ?? Infinity;
    const online = new Map();
    for (const e of mine) {
      if (e.id <= c.id || e.id >= until || e.event !== 'RESOURCE_ONLINE' || e.node !== c.node) continue;
      if (!online.has(e.data?.resource)) online.set(e.data?.resource, e.wallMs);
    }
    const all = resources.length > 0 && resources.every((r) => online.has(r));
    failovers.push({ ...c, onlineAfterMs: all ? Math.max(...online.values()) - c.wallMs : null });
  });
  const count = (name) => mine.filter((e) => e.event === name).length;
  return { owners, failovers, restarts: count('RESOURCE_RESTARTING'), failures: count('RESOURCE_FAILED'), events: mine.length };
}

/** Median and maximum of a list of numbers (null when empty). */
export function spread(values) {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return { median: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2, max: s[s.length - 1], count: s.length };
}

/**
 * A group's resources as a dependency tree: the roots are the resources nothing in the group
 * depends on (what the group offers), their children what they need. A resource reached twice is
 * shown again, marked; a cycle (refused by the configuration) would stop at the repeat.
 */
export function dependencyTree(resources) {
  const byName = new Map(resources.map((r) => [r.name, r]));
  const needed = new Set(resources.flatMap((r) => r.dependsOn.filter((d) => byName.has(d))));
  const roots = resources.filter((r) => !needed.has(r.name));
  const seen = new Set();
  const node = (r, path) => {
    const repeat = seen.has(r.name) || path.has(r.name);
    seen.add(r.name);
    const next = new Set(path).add(r.name);
    return { name: r.name, repeat, children: repeat ? [] : r.dependsOn.map((d) => byName.get(d)).filter(Boolean).map((c) => node(c, next)) };
  };
  return (roots.length > 0 ? roots : resources.slice(0, 1)).map((r) => node(r, new Set()));
}
