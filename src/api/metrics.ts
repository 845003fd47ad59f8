// Prometheus metrics (GET /metrics), named after Prometheus' conventions and ha_cluster_exporter:
// - states as gauges set to 1 for the current state (clusterd_node_state{state="Up"} 1);
// - what happened as counters (_total) taken from the cluster's event log: each node counts the
//   events that it wrote itself, so a sum over the nodes is the cluster's count and a restarted
//   node reads its history back (the counter continues from the log, not from zero);
// - durations as histograms in seconds (API requests by route and code, commits) and Node's
//   default process metrics (process_*, nodejs_*) without a prefix, as other exporters name them.
// Scrapes do bounded work: the event log is read at most `eventPagesPerScrape` pages per scrape.
// prom-client is loaded at the first scrape (a node nobody scrapes never holds it, about 5 MiB):
// until then the histograms count in plain tables here (a fixed set of buckets per label set),
// the counters are read back from the event log and the gauges read the node's state at scrape.

import type { FastifyInstance } from 'fastify';
import type { Gauge, Registry } from 'prom-client';
import type { NodeFacade, NodeSnapshot } from '../node/snapshot.js';
import type { ClusterEvent } from '../store/types.js';
import { backupGauge } from './backup-routes.js';
import type { Admission } from './admission.js';
import type { EventStreams } from './event-stream.js';
import { registerLoopDelay } from './loop-delay.js';
import { memoryRelease } from '../node/memory-release.js';
import { groupViews, nodeViews, resourceViews } from './views.js';
import type { GroupView, ResourceView } from './types.js';

/** Events read from the log per page, and pages per scrape: a scrape never reads the whole log at once. */
const eventPage = 1_000;
const eventPagesPerScrape = 10;

/** Seconds buckets for API requests and commits: 1 ms to 10 s. */
const secondsBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Why a group got a new owner, from the coordinator's placement events. */
function placementReason(e: ClusterEvent): string | null {
  if (e.event === 'GROUP_FAILOVER') return 'node_down';
  if (e.event === 'GROUP_MOVED') return e.level === 'warning' ? 'failed' : 'moved';
  return null;
}

const text = (v: unknown): string => (typeof v === 'string' ? v : '');

/** The exposition format /metrics answers in (prom-client's default registry type). */
export const metricsContentType = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * A Prometheus histogram kept without prom-client: per label set, a count per bucket, the sum and
 * the count. Its memory is bounded by the label sets its callers use (route patterns, methods,
 * status codes, error codes), never by the number of observations.
 */
export class PlainHistogram {
  private readonly series = new Map<string, { labels: Record<string, string>; buckets: number[]; sum: number; count: number }>();

  constructor(readonly name: string, readonly help: string, private readonly labelNames: string[], private readonly buckets: number[]) {}

  observe(labels: Record<string, string>, value: number): void {
    const key = this.labelNames.map((l) => labels[l] ?? '').join('\u0000');
    let s = this.series.get(key);
    if (s === undefined) {
      s = { labels: Object.fromEntries(this.labelNames.map((l) => [l, labels[l] ?? ''])), buckets: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    const i = this.buckets.findIndex((b) => value <= b);
    if (i >= 0) s.buckets[i]!++;
    s.sum += value;
    s.count++;
  }

  /** As prom-client's Registry takes a metric: its name, and get() with the histogram's samples (buckets cumulative). */
  metric(): { name: string; help: string; type: 'histogram'; get(): { name: string; help: string; type: 'histogram'; values: { labels: Record<string, string | number>; value: number; metricName: string }[] } } {
    const get = () => {
      const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
      for (const s of this.series.values()) {
        let acc = 0;
        this.buckets.forEach((le, i) => { acc += s.buckets[i]!; values.push({ labels: { le, ...s.labels }, value: acc, metricName: `${this.name}_bucket` }); });
        values.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: `${this.name}_bucket` });
        values.push({ labels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
        values.push({ labels: s.labels, value: s.count, metricName: `${this.name}_count` });
      }
      return { name: this.name, help: this.help, type: 'histogram' as const, values };
    };
    return { name: this.name, help: this.help, type: 'histogram', get };
  }
}

export interface Metrics {
  /** Count the events written since the last scrape, then the exposition text. */
  scrape(): Promise<string>;
  /** Time one commit as the API sees it (result: ok or the error code). */
  observeCommit(seconds: number, result: string): void;
  /** Time one API request (route pattern, method, status code). */
  observeRequest(labels: { route: string; method: string; code: string }, seconds: number): void;
  stop(): void;
}

export function createMetrics(node: NodeFacade, streams: EventStreams, admission?: Admission): Metrics {
  const requests = new PlainHistogram('clusterd_http_request_duration_seconds', 'API requests by route pattern, method and status code', ['route', 'method', 'code'], secondsBuckets);
  const commits = new PlainHistogram('clusterd_commit_duration_seconds', 'Configuration commits through the API, from request to the quorum log\'s answer, by result (ok or the error code)',
    ['result'], secondsBuckets);
  let registryLoaded: Promise<{ registry: Registry; scrape: () => Promise<string> }> | null = null;
  return {
    async scrape() {
      registryLoaded ??= import('prom-client').then((prom) => promRegistry(prom, node, streams, admission, [requests, commits]));
      return (await registryLoaded).scrape();
    },
    observeCommit: (seconds, result) => commits.observe({ result }, seconds),
    observeRequest: (labels, seconds) => requests.observe(labels, seconds),
    stop: () => undefined,
  };
}

/** The registry behind /metrics, made at the first scrape. */
function promRegistry(prom: typeof import('prom-client'), node: NodeFacade, streams: EventStreams, admission: Admission | undefined, histograms: PlainHistogram[]): { registry: Registry; scrape: () => Promise<string> } {
  const { collectDefaultMetrics, Counter, Gauge } = prom;
  const registry = new prom.Registry();
  collectDefaultMetrics({ register: registry });
  // prom-client names these gauges *_total, which Prometheus reserves for counters (promtool says so).
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);

  const gauge = (name: string, help: string, labelNames: string[], collect: (g: Gauge<string>) => void) =>
    new Gauge({ name, help, labelNames, registers: [registry], collect(this: Gauge<string>) { this.reset(); collect(this); } });

  // ---- states, as this node sees the cluster ---------------------------------------------------
  gauge('clusterd_node_state', 'Node state as this node sees it (1 for the current state)', ['node', 'state'], (g) => {
    for (const n of nodeViews(node.snapshot())) g.set({ node: n.name, state: n.state }, 1);
  });
  gauge('clusterd_coordinator_term', 'Current coordinator term', [], (g) => g.set(node.snapshot().coordinator.term));
  gauge('clusterd_is_coordinator', 'This node is the coordinator (1) or not (0)', [], (g) => g.set(node.isCoordinator() ? 1 : 0));
  gauge('clusterd_applied_seq', 'Highest quorum-log seq applied on this node (the log\'s length in records)', [], (g) => g.set(node.snapshot().appliedSeq));
  gauge('clusterd_quorum_writes_blocked', 'The quorum store refuses writes (1), by error code (QUORUM_DISK_FULL)', ['code'], (g) => {
    const b = node.snapshot().writesBlocked;
    if (b) g.set({ code: b.code }, 1);
  });
  gauge('clusterd_lease_age_seconds', 'Time since each node\'s lease counter last moved, on this node\'s clock (Down after the lease TTL)', ['node'], (g) => {
    const s = node.snapshot();
    for (const [name, p] of Object.entries(s.membership)) g.set({ node: name }, Math.max(0, (s.monoMs - p.lastChangeMs) / 1000));
  });
  gauge('clusterd_lease_renewal_age_seconds', 'Time since this node last renewed its lease (it fences itself before the lease TTL)', [], (g) => {
    const s = node.snapshot();
    if (Number.isFinite(s.lastRenewOkMs)) g.set(Math.max(0, (s.monoMs - s.lastRenewOkMs) / 1000));
  });
  gauge('clusterd_lease_renew_gap_max_seconds', 'Longest time between two successive successful lease renewals of this node since it started (the heartbeat interval when nothing delays them; it fences itself past the self-fence deadline)', [], (g) => {
    g.set(node.snapshot().renewGapMaxMs / 1000);
  });
  gauge('clusterd_lease_ttl_seconds', 'Lease TTL: a node whose lease does not move for this long is Down', [], (g) => g.set(node.snapshot().leaseTtlMs / 1000));
  registerLoopDelay(registry, Gauge);
  gauge('clusterd_writes_in_flight', 'Write requests this node handles now (its own and those it forwards)', [], (g) => g.set(admission?.writes ?? 0));
  gauge('clusterd_memory_live_bytes', 'Bytes in use, in the heap and outside it (buffers), after this node\'s last full collection of its own (node/memory-release.ts), or at its start', [], (g) => { if (memoryRelease) g.set(memoryRelease.liveBytes); });
  gauge('clusterd_memory_releases', 'Full collections this node ran to give memory back after a burst of work (node/memory-release.ts), since it started', [], (g) => g.set(memoryRelease?.releases ?? 0));
  gauge('clusterd_event_streams_open', 'Event streams (GET /v1/events/stream) open on this node', [], (g) => g.set(streams.open));
  gauge('clusterd_backup_frozen', 'A backup holds the freeze of a group (1): its writers are being frozen or are frozen', ['group', 'node', 'backup'], (g) => backupGauge(node, g));
  // ---- counters ---------------------------------------------------------------------------------
  const counter = (name: string, help: string, labelNames: string[]) => new Counter({ name, help, labelNames, registers: [registry] });
  const eventsTotal = counter('clusterd_events_total', 'Events this node wrote to the cluster\'s event log, by event and level', ['event', 'level']);
  const placements = counter('clusterd_group_owner_changes_total', 'New owners given to groups by this node as coordinator, by reason (node_down: failover after a node loss; failed: failover after a resource failed; moved: a planned move or failback)', ['group', 'reason']);
  const restarts = counter('clusterd_resource_restarts_total', 'Restarts in place this node made', ['resource']);
  const failures = counter('clusterd_resource_failures_total', 'Resources this node reported Failed', ['resource']);
  const selfFences = counter('clusterd_self_fences_total', 'Times this node fenced itself (stopped every resource), by event (NODE_SELF_FENCED, NODE_LEASE_LOST, NODE_STALLED)', ['event']);
  const eventsDropped = counter('clusterd_events_dropped_total', 'Events dropped because the event queue was full', []);
  const streamsDropped = counter('clusterd_event_streams_dropped_total', 'Event streams dropped because their reader did not keep up, by reason', ['reason']);
  const writesRefused = counter('clusterd_writes_refused_total', 'Write requests this node refused with 429, by code (NODE_BUSY: its own limit; QUORUM_BUSY: the commit queue)', ['code']);
  const refusedSeen = new Map<string, number>();
  let droppedSeen = 0;
  const streamsSeen = new Map<string, number>();
  let afterId = 0;

  const countEvent = (e: ClusterEvent) => {
    eventsTotal.inc({ event: e.event, level: e.level });
    const group = text(e.data?.['group']);
    const resource = text(e.data?.['resource']);
    const reason = placementReason(e);
    if (reason) placements.inc({ group, reason });
    if (e.event === 'RESOURCE_RESTARTING') restarts.inc({ resource });
    if (e.event === 'RESOURCE_FAILED') failures.inc({ resource });
    if (e.event === 'NODE_SELF_FENCED' || e.event === 'NODE_LEASE_LOST' || e.event === 'NODE_STALLED') selfFences.inc({ event: e.event });
  };
  /** Read the events written since the last scrape (bounded), count this node's. */
  const catchUp = async () => {
    for (let page = 0; page < eventPagesPerScrape; page++) {
      const evs = await node.readEvents(afterId, eventPage);
      for (const e of evs) {
        afterId = Math.max(afterId, e.id);
        if (e.node === node.name) countEvent(e);
      }
      if (evs.length < eventPage) break;
    }
    const dropped = node.snapshot().eventsDropped;
    if (dropped > droppedSeen) { eventsDropped.inc(dropped - droppedSeen); droppedSeen = dropped; }
    for (const [code, n] of Object.entries(admission?.refused ?? {})) {
      const seen = refusedSeen.get(code) ?? 0;
      if (n > seen) { writesRefused.inc({ code }, n - seen); refusedSeen.set(code, n); }
    }
    for (const [reason, n] of Object.entries(streams.dropped)) {
      const seen = streamsSeen.get(reason) ?? 0;
      if (n > seen) { streamsDropped.inc({ reason }, n - seen); streamsSeen.set(reason, n); }
    }
  };
  const readUpTo = new Gauge({ name: 'clusterd_events_read_up_to', help: 'Newest event id this node\'s counters have read', registers: [registry] });

  for (const h of histograms) registry.registerMetric(h.metric() as unknown as Gauge<string>);

  return {
    registry,
    async scrape() {
      try { await catchUp(); } catch { /* the store is unreachable: the counters stay as they were */ }
      readUpTo.set(afterId);
      return (await registry.metrics()) + (await perObjectText(node));
    },
  };
}

// ---- series per group and per resource ------------------------------------------------------

/** Lines of the exposition text written per turn of the event loop before it yields. */
const linesPerSlice = 2_000;

const escapeLabel = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const escapeHelp = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

interface ObjectFamily<T> {
  name: string;
  help: string;
  /** What it has a series per. */
  of: 'group' | 'resource';
  /** The series of one row: labels and value (none: the row has no series in this family). */
  series: (row: T, s: NodeSnapshot) => { labels: Record<string, string>; value: number } | null;
}

const family = <T>(f: ObjectFamily<T>): ObjectFamily<unknown> => f as ObjectFamily<unknown>;

/**
 * The gauges with a series per group or resource (20,000 groups: some 100,000 lines). They are
 * written as text here, a slice of lines at a time with the node's other work in between, rather
 * than through prom-client's gauges, whose one synchronous collect of them all held the event
 * loop for seconds at that size.
 */
const objectFamilies: readonly ObjectFamily<unknown>[] = [
  family<GroupView>({ name: 'clusterd_group_state', help: 'Group state (1 for the current state), with its owner', of: 'group',
    series: (g) => ({ labels: { group: g.name, node: g.node ?? '', state: g.state }, value: 1 }) }),
  family<GroupView>({ name: 'clusterd_group_online', help: 'Group is Online (1) or not (0)', of: 'group',
    series: (g) => ({ labels: { group: g.name, node: g.node ?? '' }, value: g.state === 'Online' ? 1 : 0 }) }),
  family<GroupView>({ name: 'clusterd_group_epoch', help: 'Epoch of the group\'s ownership record (grows with every new owner)', of: 'group',
    series: (g) => ({ labels: { group: g.name }, value: g.epoch }) }),
  family<ResourceView>({ name: 'clusterd_resource_state', help: 'Resource state as its owner reports it (1 for the current state)', of: 'resource',
    series: (r) => ({ labels: { resource: r.name, group: r.group, type: r.type, node: r.node ?? '', state: r.state }, value: 1 }) }),
  family<ResourceView>({ name: 'clusterd_resource_restarts', help: 'Restarts in place within the resource\'s restart period, as its owner counts them', of: 'resource',
    series: (r) => ({ labels: { resource: r.name, group: r.group }, value: r.restarts }) }),
  family<ResourceView>({ name: 'clusterd_disk_maintenance', help: 'Disk in maintenance mode (1), by mode (maintenance or extended): health checks suppressed', of: 'resource',
    series: (r) => (r.maintenance ? { labels: { resource: r.name, node: r.node ?? '', mode: r.maintenance.mode }, value: 1 } : null) }),
  family<ResourceView>({ name: 'clusterd_disk_maintenance_seconds', help: 'How long each disk has been in maintenance mode', of: 'resource',
    series: (r, s) => (r.maintenance ? { labels: { resource: r.name, node: r.node ?? '', mode: r.maintenance.mode }, value: Math.max(0, (s.wallMs - r.maintenance.sinceWallMs) / 1000) } : null) }),
];

/** The per-object families from one snapshot, their views built once, written in slices. */
async function perObjectText(node: NodeFacade): Promise<string> {
  const s = node.snapshot();
  const groups = groupViews(s);
  const resources = resourceViews(s);
  const parts: string[] = [];
  let lines = 0;
  for (const f of objectFamilies) {
    parts.push(`# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} gauge\n`);
    const rows: readonly unknown[] = f.of === 'group' ? groups : resources;
    for (const row of rows) {
      const one = f.series(row, s);
      if (one === null) continue;
      const labels = Object.entries(one.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',');
      parts.push(`${f.name}{${labels}} ${one.value}\n`);
      if (++lines % linesPerSlice === 0) await new Promise((resolve) => setImmediate(resolve));
    }
  }
  return parts.join('');
}

/** A request's URL as the log shows it: one-time login tickets are credentials for their minute, never written down. */
export function loggedUrl(url: string): string {
  return url.replace(/([?&]ticket=)[^&#]*/g, '$1[redacted]');
}

/** API request durations by route (the route's pattern, never the raw URL), method and status code. */
export function instrumentRequests(app: FastifyInstance, metrics: Metrics, log?: (fields: Record<string, unknown>, message: string) => void): void {
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unknown';
    const url = loggedUrl(req.url);
    log?.({ method: req.method, url, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, `${req.method} ${url} ${reply.statusCode}`);
    if (route === '/v1/events/stream') return;
    metrics.observeRequest({ route, method: req.method, code: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
}

/** The node as the routes see it, with every commit timed into clusterd_commit_duration_seconds. */
export function timedCommits(node: NodeFacade, metrics: Metrics): NodeFacade {
  const commit: NodeFacade['commit'] = async (updates) => {
    const t0 = performance.now();
    const r = await node.commit(updates);
    metrics.observeCommit((performance.now() - t0) / 1000, r.ok ? 'ok' : r.error.code);
    return r;
  };
  return new Proxy(node, {
    get(target, prop) {
      if (prop === 'commit') return commit;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
