// Scale figures for the core: a cluster of 64 nodes and 10,000 resources (2,500 groups of 4
// resources, each a small dependency chain), built through the real configuration fold. Reports
// how long the coordinator's placement decision (planPlacement) takes on such a snapshot, in the
// situations that matter (first placement of everything, steady state, one node lost, eight
// nodes lost), and how much memory the core's data takes (configuration, placement snapshot, the
// local resource manager's state). Wall-clock timings: figures to read, never asserted by tests.

import vm from 'node:vm';
import v8 from 'node:v8';
import { ConfigDraft, applyUpdate, emptyConfig } from '../src/core/config.js';
import { emptyLocal, reconcile, type LocalState } from '../src/core/local.js';
import { planPlacement, type OwnershipRec, type PlacementInput } from '../src/core/placement.js';
import type { ClusterConfig, ConfigUpdate } from '../src/core/types.js';
import { Rng } from './random.js';

export const scaleNodes = 64;
export const scaleGroups = 2_500;
export const scaleResourcesPerGroup = 4;

/** The cluster, folded from updates as log replay does (one ConfigDraft, changed in place). */
export function scaleConfig(rng: Rng): ClusterConfig {
  const draft = new ConfigDraft(emptyConfig('scale'));
  const apply = (u: ConfigUpdate) => {
    const r = draft.apply(u);
    if (!r.ok) throw r.error;
  };
  const nodes = Array.from({ length: scaleNodes }, (_, i) => `node${String(i + 1).padStart(2, '0')}`);
  for (const n of nodes) apply({ op: 'node-add', node: n });
  for (let g = 0; g < scaleGroups; g++) {
    const group = `g${g}`;
    apply({ op: 'group-create', group, preferredOwners: rng.shuffle(nodes).slice(0, 3), possibleOwners: rng.chance(0.2) ? rng.shuffle(nodes).slice(0, 8) : [] });
    for (let r = 0; r < scaleResourcesPerGroup; r++) {
      apply({ op: 'resource-create', resource: `${group}-r${r}`, group, type: 'process', desired: 'online',
        dependsOn: r > 0 ? [`${group}-r${r - 1}`] : [], priv: { command: '/usr/bin/app', probe: 'tcp:127.0.0.1:8080' } });
    }
  }
  return draft.config;
}

function snapshot(config: ClusterConfig, ownership: Record<string, OwnershipRec>, down: Set<string>): PlacementInput {
  const nodes: PlacementInput['nodes'] = {};
  for (const n of Object.keys(config.nodes)) nodes[n] = { state: down.has(n) ? 'Down' : 'Up', draining: false };
  const reports: PlacementInput['reports'] = {};
  for (const rec of Object.values(ownership)) {
    if (!rec.node || down.has(rec.node)) continue;
    (reports[rec.node] ??= {})[rec.group] = { epoch: rec.epoch, released: false };
  }
  return {
    config, term: 1, wallMs: 1_000_000, wallHour: 12, nodes, ownership, reports, moveRequests: {},
    failoverHistoryMs: {}, failoverHandledEpoch: {}, failedGroups: {},
  };
}

/** Median wall time of `runs` calls, in ms. */
function timeMs(runs: number, fn: () => void): { medianMs: number; maxMs: number } {
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    fn();
    t.push(performance.now() - start);
  }
  t.sort((a, b) => a - b);
  return { medianMs: t[Math.floor(t.length / 2)]!, maxMs: t[t.length - 1]! };
}

const gc: () => void = (() => {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
})();

/** Bytes of heap that `make`'s result keeps alive. */
function retainedBytes<T>(make: () => T): { value: T; bytes: number } {
  gc();
  const before = process.memoryUsage().heapUsed;
  const value = make();
  gc();
  return { value, bytes: process.memoryUsage().heapUsed - before };
}

const mib = (b: number) => `${(b / 1_048_576).toFixed(1)} MiB`;

export async function scaleReport(out: (line: string) => void): Promise<void> {
  const rng = new Rng(64_10_000);
  const foldStart = performance.now();
  const built = retainedBytes(() => scaleConfig(rng));
  const foldMs = performance.now() - foldStart;
  const config = built.value;
  const resources = Object.keys(config.resources).length;
  const updates = scaleNodes + scaleGroups * (1 + scaleResourcesPerGroup);
  out(`scale: ${Object.keys(config.nodes).length} nodes, ${Object.keys(config.groups).length} groups, ${resources} resources (chains of ${scaleResourcesPerGroup})`);
  out(`  configuration in memory: ${mib(built.bytes)}; as JSON (a checkpoint): ${mib(JSON.stringify(config).length)}`);
  out(`  folding the ${updates} updates that build it (one ConfigDraft, as log replay does): ${(foldMs / 1000).toFixed(2)} s`);
  // applyUpdate (not a draft) copies the node, group and resource maps: what one isolated update costs at this size.
  const one = timeMs(11, () => applyUpdate(config, { op: 'resource-set', resource: 'g0-r0', props: { restartDelayMs: 100 } }));
  out(`  one applyUpdate at this size (copies the maps): ${one.medianMs.toFixed(2)} ms median`);

  const first = snapshot(config, {}, new Set());
  const firstPlan = planPlacement(first);
  const t1 = timeMs(5, () => planPlacement(first));
  out(`  planPlacement, first placement of every group: ${t1.medianMs.toFixed(1)} ms median, ${t1.maxMs.toFixed(1)} ms max (${firstPlan.records.length} records)`);

  const ownership: Record<string, OwnershipRec> = {};
  for (const r of firstPlan.records) ownership[r.group] = r;
  const perNode = new Map<string, number>();
  for (const r of firstPlan.records) perNode.set(r.node!, (perNode.get(r.node!) ?? 0) + 1);
  const loads = [...perNode.values()];
  out(`  spread: ${Math.min(...loads)}..${Math.max(...loads)} groups per node`);

  const steadySnap = retainedBytes(() => snapshot(config, ownership, new Set()));
  const steady = steadySnap.value;
  const t2 = timeMs(21, () => planPlacement(steady));
  out(`  planPlacement, steady state (nothing to do): ${t2.medianMs.toFixed(2)} ms median, ${t2.maxMs.toFixed(2)} ms max (${planPlacement(steady).records.length} records); snapshot ${mib(steadySnap.bytes)}`);

  const busiest = [...perNode.entries()].sort((a, b) => b[1] - a[1])[0]![0];
  const oneDown = snapshot(config, ownership, new Set([busiest]));
  const t3 = timeMs(11, () => planPlacement(oneDown));
  out(`  planPlacement, one node lost (${perNode.get(busiest)} groups to fail over): ${t3.medianMs.toFixed(1)} ms median, ${t3.maxMs.toFixed(1)} ms max (${planPlacement(oneDown).records.length} records)`);

  const eight = new Set(Object.keys(config.nodes).slice(0, 8));
  const eightDown = snapshot(config, ownership, eight);
  const t4 = timeMs(11, () => planPlacement(eightDown));
  out(`  planPlacement, eight nodes lost (${[...eight].reduce((n, x) => n + (perNode.get(x) ?? 0), 0)} groups): ${t4.medianMs.toFixed(1)} ms median, ${t4.maxMs.toFixed(1)} ms max (${planPlacement(eightDown).records.length} records)`);

  // The local resource manager of one node with its share of the groups, and of one node holding all of them.
  const localOf = (node: string, recs: Record<string, OwnershipRec>): { st: LocalState; ms: number } => {
    const st = emptyLocal();
    const ctx = { self: node, nowMs: 1_000_000, config, ownership: recs, mayStart: () => true, shuttingDown: false };
    const start = performance.now();
    reconcile(st, ctx);
    return { st, ms: performance.now() - start };
  };
  const share = retainedBytes(() => localOf(busiest, ownership));
  out(`  local resource manager of ${busiest} (${perNode.get(busiest)} groups, ${perNode.get(busiest)! * scaleResourcesPerGroup} resources): ${mib(share.bytes)}, one reconcile ${share.value.ms.toFixed(1)} ms`);
  const allMine: Record<string, OwnershipRec> = {};
  for (const r of firstPlan.records) allMine[r.group] = { ...r, node: busiest };
  const whole = retainedBytes(() => localOf(busiest, allMine));
  out(`  local resource manager holding all ${resources} resources on one node: ${mib(whole.bytes)}, one reconcile ${whole.value.ms.toFixed(1)} ms`);
  out(`  process heap in use now: ${mib(process.memoryUsage().heapUsed)}`);
}
