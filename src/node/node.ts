// The clusterd shell: wires the pure core (membership, placement, local resource manager,
// configuration fold) to the quorum store, the resource monitor and the clock. It executes
// the core's actions and feeds results back as facts. Policy lives in core; this file only
// decides *when* to ask and *how* to carry out.
//
// Order of work in one cycle (see cycle()):
//   1. read leases, coordinator, ownership, reports, new log records (facts)
//   2. elect a coordinator if there is none alive (CAS on the term)
//   3. as coordinator: register new nodes, plan placement, write ownership under the term
//   4. reconcile local resources (agent calls), publish this node's report
// The heartbeat runs on its own timer so that a slow cycle never delays a lease renewal.

import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { applyUpdate, emptyConfig } from '../core/config.js';
import { clusterError, fail, ok, type ClusterError, type Result } from '../core/errors.js';
import {
  agentResult, emptyLocal, fenced, monitorLost, operatorFail, quiescent, reconcile, resourceExited, runtimeOf,
  type LocalAction, type LocalState,
} from '../core/local.js';
import { isAlive, nodeState, observeLeases, type Membership } from '../core/membership.js';
import { chooseNode, explain, planPlacement, type OwnershipRec, type PlacementInput } from '../core/placement.js';
import type { Timing } from '../core/timing.js';
import type { ClusterConfig, ConfigUpdate, GroupName, NodeName, NodeState } from '../core/types.js';
import type { ClusterEvent, CoordinatorRecord, EventLevel, NewEvent, NodeReport, QuorumStore } from '../store/types.js';
import type { AgentOp, ResourceSpec } from '../monitor/protocol.js';

/** Where resources run: the monitor client in production, a fake in the simulator. */
export interface ResourceHost extends EventEmitter {
  call(op: AgentOp, spec: ResourceSpec, timeoutMs: number): Promise<{ ok: true; data?: { alive?: boolean; pid?: number } } | { ok: false; error: string; deadlock?: boolean }>;
  ping(): void;
  fence(reason: string): void;
  /** Kill the monitor and every process group it runs, then start a new one ('crashed' follows). */
  recycle(reason: string): void;
  shutdown(): Promise<void>;
}

export interface Clock {
  /** Monotonic milliseconds. */
  nowMs(): number;
  wallMs(): number;
  localHour(): number;
  setInterval(fn: () => void, ms: number): () => void;
  setTimeout(fn: () => void, ms: number): () => void;
}

export interface NodeOptions {
  name: NodeName;
  apiUrl: string;
  timing: Timing;
  store: QuorumStore;
  host: ResourceHost;
  clock: Clock;
  log: (level: EventLevel, event: string, message: string) => void;
}

/** Events waiting to be written to the store. Why 1000: a burst of a few hundred resources changing at once fits; beyond that we count drops. */
const eventQueueMax = 1_000;
/** Log records applied per read, so that a long catch-up does not stall the loop. */
const logReadMax = 5_000;

export class ClusterNode extends EventEmitter {
  readonly name: NodeName;
  readonly incarnation = randomBytes(8).toString('hex');
  /** Set once the API listens (the port may be chosen by the OS). */
  apiUrl: string;
  config: ClusterConfig = emptyConfig('');
  appliedSeq = 0;
  membership: Membership = {};
  coordinator: CoordinatorRecord = { term: 0, node: null };
  ownership: Record<GroupName, OwnershipRec> = {};
  reports: Record<NodeName, NodeReport> = {};
  local: LocalState = emptyLocal();
  shuttingDown = false;
  stopped = false;
  /** True once the first cycle has read the store: before that, views would be empty. */
  ready = false;
  eventsDropped = 0;

  private readonly o: NodeOptions;
  private counter = 0;
  private lastBeatMs = 0;
  private lastRenewOkMs = -Infinity;
  private fencing = false;
  private changeVersion = -1;
  private dirty = true;
  private cycleRunning: Promise<void> | null = null;
  private cycleAgain = false;
  private reportVersion = 0;
  private lastReportJson = '';
  private eventQueue: NewEvent[] = [];
  private flushing = false;
  private cancelTimers: (() => void)[] = [];
  private updateChain: Promise<unknown> = Promise.resolve();
  // Coordinator bookkeeping (in memory: a new coordinator starts afresh, see README).
  private moveRequests: Record<GroupName, NodeName | null> = {};
  private failoverHistoryMs: Record<GroupName, number[]> = {};
  private failoverHandledEpoch: Record<GroupName, number> = {};
  private failedGroups: Record<GroupName, number> = {};
  private wasCoordinator = false;

  constructor(o: NodeOptions) {
    super();
    this.o = o;
    this.name = o.name;
    this.apiUrl = o.apiUrl;
  }

  // ---- start and stop ------------------------------------------------------------------

  async start(): Promise<Result<void>> {
    const { store, host } = this.o;
    const claimed = await store.claimLeaseSlot(this.name, this.incarnation);
    if (!claimed.ok) return claimed;
    const loaded = await this.loadConfig();
    if (!loaded.ok) return loaded;
    host.on('exited', (resource: string, code: number | null, signal: string | null) =>
      this.apply(resourceExited(this.local, this.name, resource, signal ? `signal ${signal}` : `exit code ${code}`, this.o.clock.nowMs())));
    host.on('crashed', (info: { reason: string }) => {
      this.emitEvent('MONITOR_RESTARTED', 'error', `resource monitor on ${this.name} was lost and restarted: ${info.reason}`);
      this.apply(monitorLost(this.local, this.name, `resource monitor lost: ${info.reason}`, this.o.clock.nowMs()));
    });
    host.on('fenced', (reason: string) => {
      this.fencing = false;
      this.apply(fenced(this.local, this.name, typeof reason === 'string' ? reason : 'watchdog'));
    });
    this.beat();
    this.cancelTimers.push(this.o.clock.setInterval(() => this.beat(), this.o.timing.heartbeatIntervalMs));
    this.cancelTimers.push(this.o.clock.setInterval(() => this.kick(), this.o.timing.heartbeatIntervalMs));
    this.cancelTimers.push(store.onChange(() => { this.dirty = true; this.kick(); }));
    this.emitEvent('NODE_STARTED', 'info', `node ${this.name} started (incarnation ${this.incarnation}, API ${this.apiUrl})`);
    this.kick();
    return ok(undefined);
  }

  private async loadConfig(): Promise<Result<void>> {
    const cp = await this.o.store.readCheckpoint();
    if (!cp.ok) return cp;
    if (!cp.value) return fail(clusterError('CLUSTER_NOT_FOUND', `no checkpoint in ${this.o.store.location}`, 'create the cluster first: clusterd init --quorum ...'));
    this.config = cp.value.config;
    this.appliedSeq = cp.value.seq;
    return this.catchUp();
  }

  /** Apply every log record after appliedSeq. A record that does not apply is corruption or a bug: refuse. */
  private async catchUp(): Promise<Result<void>> {
    for (;;) {
      const recs = await this.o.store.readLog(this.appliedSeq, logReadMax);
      if (!recs.ok) return recs;
      for (const r of recs.value) {
        if (r.seq !== this.appliedSeq + 1) {
          return fail(clusterError('INTERNAL', `quorum log gap: expected seq ${this.appliedSeq + 1}, found ${r.seq}`, 'run clusterd quorum-log verify'));
        }
        const next = applyUpdate(this.config, r.update);
        if (!next.ok) return fail(clusterError('INTERNAL', `quorum log record ${r.seq} does not apply: ${next.error.message}`, 'run clusterd quorum-log verify'));
        this.config = next.value;
        this.appliedSeq = r.seq;
      }
      if (recs.value.length < logReadMax) return ok(undefined);
    }
  }

  /** Planned shutdown (safety rule 5): drain, release, then stop heartbeating last. */
  async shutdown(): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    const { clock, timing } = this.o;
    this.emitEvent('NODE_DRAINING', 'info', `node ${this.name} is shutting down: moving its groups away`);
    this.beat();
    this.kick();
    const deadline = clock.nowMs() + timing.shutdownPendingTimeoutMs;
    const drained = () => quiescent(this.local) && Object.values(this.local.groups).every((g) => g.released);
    while (!drained() && clock.nowMs() < deadline) await this.sleep(20);
    if (!drained()) {
      this.emitEvent('SHUTDOWN_TIMEOUT', 'error', `node ${this.name}: groups did not go offline within ${timing.shutdownPendingTimeoutMs} ms; stopping every resource now`);
      await this.fenceNow('shutdown pending timeout');
    } else {
      this.emitEvent('NODE_DRAINED', 'info', `node ${this.name}: all its groups are offline here`);
    }
    await this.handOverCoordinator(deadline);
    this.emitEvent('HEARTBEAT_STOPPING', 'info', `node ${this.name} stops heartbeating now (its groups are offline)`);
    await this.flushEvents();
    for (const c of this.cancelTimers) c();
    this.cancelTimers = [];
    if (this.cycleRunning) await this.cycleRunning;
    await this.o.store.renewLease(this.name, ++this.counter, 'stopped');
    this.stopped = true;
    await this.o.host.shutdown();
  }

  /** As coordinator, wait (bounded) until our released groups have new owners, then step down. */
  private async handOverCoordinator(deadline: number): Promise<void> {
    const { clock } = this.o;
    const mine = () => Object.values(this.ownership).some((r) => r.node === this.name && this.hasOtherUpNode());
    while (this.isCoordinator() && mine() && clock.nowMs() < deadline) { this.kick(); await this.sleep(20); }
    if (!this.isCoordinator()) return;
    const res = await this.o.store.casCoordinator(this.coordinator, { term: this.coordinator.term + 1, node: null });
    if (res.ok && res.value) this.emitEvent('COORDINATOR_RELEASED', 'info', `node ${this.name} gave up the coordinator role (term ${this.coordinator.term + 1})`);
  }

  private hasOtherUpNode(): boolean {
    return Object.entries(this.nodeViews()).some(([n, v]) => n !== this.name && v.state === 'Up');
  }

  private async fenceNow(reason: string): Promise<void> {
    this.fencing = true;
    this.o.host.fence(reason);
    const until = this.o.clock.nowMs() + 5_000;
    while (this.fencing && this.o.clock.nowMs() < until) await this.sleep(10);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.o.clock.setTimeout(resolve, ms));
  }

  // ---- heartbeat ------------------------------------------------------------------------

  private beat(): void {
    if (this.stopped) return;
    const now = this.o.clock.nowMs();
    const gap = this.lastBeatMs ? now - this.lastBeatMs : 0;
    this.lastBeatMs = now;
    if (gap > this.o.timing.selfFenceMs && !this.fencing) {
      // We were stalled past our own deadline: the watchdog has fired or is about to. Make sure,
      // and start nothing until it confirms (safety rule 2).
      this.emitEvent('NODE_STALLED', 'error', `node ${this.name} was stalled for ${Math.round(gap)} ms (self-fence deadline ${this.o.timing.selfFenceMs} ms): stopping its resources`);
      this.fencing = true;
      this.o.host.fence(`clusterd stalled for ${Math.round(gap)} ms`);
    }
    this.o.host.ping();
    const state = this.shuttingDown ? 'draining' : 'running';
    void this.o.store.renewLease(this.name, ++this.counter, state).then((r) => {
      if (r.ok) this.lastRenewOkMs = now;
    });
  }

  /** May this node start resources under `rec` now? Valid lease, current term, no fence under way. */
  private mayStart(rec: OwnershipRec): boolean {
    const now = this.o.clock.nowMs();
    return !this.fencing && !this.shuttingDown && now - this.lastRenewOkMs < this.o.timing.selfFenceMs &&
      rec.term === this.coordinator.term && isAlive(this.membership, this.name, now, this.o.timing.leaseTtlMs);
  }

  // ---- the cycle ------------------------------------------------------------------------

  /** Run a cycle now, or right after the one under way. */
  kick(): void {
    if (this.stopped) return;
    if (this.cycleRunning) { this.cycleAgain = true; return; }
    this.cycleRunning = this.cycle().catch((e: unknown) => {
      this.o.log('error', 'CYCLE_ERROR', `cycle failed: ${e instanceof Error ? e.stack : String(e)}`);
    }).finally(() => {
      this.cycleRunning = null;
      if (this.cycleAgain) { this.cycleAgain = false; this.kick(); }
    });
  }

  private async cycle(): Promise<void> {
    const { store, clock } = this.o;
    this.membership = observeLeases(this.membership, await store.readLeases(), clock.nowMs());
    await this.refresh();
    await this.elect();
    if (this.isCoordinator()) await this.coordinate();
    this.apply(reconcile(this.local, this.localContext()));
    await this.publishReport();
    this.ready = true;
    void this.flushEvents();
  }

  private async refresh(): Promise<void> {
    const { store } = this.o;
    const version = await store.changeVersion();
    if (version === this.changeVersion && !this.dirty) return;
    this.dirty = false;
    this.changeVersion = version;
    const prevCoord = this.coordinator;
    this.coordinator = await store.readCoordinator();
    if (prevCoord.term !== this.coordinator.term) this.onNewTerm(prevCoord);
    const own: Record<GroupName, OwnershipRec> = {};
    for (const r of await store.readOwnership()) own[r.group] = r;
    this.ownership = own;
    const reports: Record<NodeName, NodeReport> = {};
    for (const r of await store.readReports()) reports[r.node] = r;
    this.reports = reports;
    if ((await store.logHead()) > this.appliedSeq) {
      const res = await this.catchUp();
      if (!res.ok) this.emitEvent('QUORUM_LOG_UNREADABLE', 'error', res.error.message);
    }
  }

  private onNewTerm(prev: CoordinatorRecord): void {
    const c = this.coordinator;
    if (this.wasCoordinator && c.node !== this.name) {
      this.emitEvent('COORDINATOR_LOST', 'warning', `node ${this.name} is no longer coordinator (term ${c.term} belongs to ${c.node ?? 'nobody'})`);
      this.moveRequests = {};
    }
    this.wasCoordinator = c.node === this.name;
    if (c.node && c.node !== prev.node) this.o.log('info', 'COORDINATOR', `coordinator is ${c.node} (term ${c.term})`);
  }

  isCoordinator(): boolean {
    return this.coordinator.node === this.name;
  }

  private async elect(): Promise<void> {
    const now = this.o.clock.nowMs();
    const c = this.coordinator;
    if (this.shuttingDown || this.fencing) return;
    if (c.node && isAlive(this.membership, c.node, now, this.o.timing.leaseTtlMs)) return;
    if (!isAlive(this.membership, this.name, now, this.o.timing.leaseTtlMs)) return;
    const won = await this.o.store.casCoordinator(c, { term: c.term + 1, node: this.name });
    this.dirty = true;
    if (won.ok && won.value) {
      this.emitEvent('COORDINATOR_ELECTED', 'info', `node ${this.name} is coordinator for term ${c.term + 1}` + (c.node ? ` (${c.node} was lost)` : ''));
      this.moveRequests = {};
      this.failoverHistoryMs = {};
      this.failoverHandledEpoch = {};
      this.failedGroups = {};
    }
    await this.refresh();
  }

  private async coordinate(): Promise<void> {
    const missing = Object.keys(this.membership).filter((n) => !this.config.nodes[n] && this.membership[n]!.state !== 'stopped');
    if (missing.length > 0) {
      const r = await this.commit(missing.map((node) => ({ op: 'node-add' as const, node })));
      if (!r.ok) this.emitEvent('NODE_ADD_FAILED', 'error', r.error.message);
    }
    const input = this.placementInput();
    const plan = planPlacement(input);
    for (const g of plan.movesDone) delete this.moveRequests[g];
    for (const f of plan.failoversCounted) {
      this.failoverHandledEpoch[f.group] = f.epoch;
      (this.failoverHistoryMs[f.group] ??= []).push(input.nowMs);
    }
    for (const f of plan.newlyFailed) this.failedGroups[f.group] = f.epoch;
    const deleted = Object.keys(this.ownership).filter((g) => !this.config.groups[g] && this.releasedOrDown(g));
    if (plan.records.length === 0 && deleted.length === 0) return;
    const res = await this.o.store.writeOwnership(this.coordinator.term, plan.records, deleted);
    if (!res.ok) {
      this.o.log('warning', 'OWNERSHIP_WRITE_FAILED', res.error.message);
      this.dirty = true;
      return;
    }
    for (const n of plan.notes) this.emitEvent(n.event, n.level, n.message, { group: n.group });
    this.dirty = true;
    await this.refresh();
  }

  /** A deleted group's record may go once nothing runs it. */
  private releasedOrDown(g: GroupName): boolean {
    const rec = this.ownership[g]!;
    if (!rec.node) return true;
    const rep = this.reports[rec.node]?.groups[g];
    return !rep || rep.released || this.nodeViews()[rec.node]?.state === 'Down';
  }

  placementInput(): PlacementInput {
    const views = this.nodeViews();
    const reports: PlacementInput['reports'] = {};
    for (const [n, r] of Object.entries(this.currentReports())) reports[n] = r.groups;
    const nodes: PlacementInput['nodes'] = {};
    for (const [n, v] of Object.entries(views)) nodes[n] = { state: v.state, draining: v.draining };
    return {
      config: this.config, term: this.coordinator.term, nowMs: this.o.clock.nowMs(), wallHour: this.o.clock.localHour(),
      nodes, ownership: this.ownership, reports, moveRequests: this.moveRequests,
      failoverHistoryMs: this.failoverHistoryMs, failoverHandledEpoch: this.failoverHandledEpoch, failedGroups: this.failedGroups,
    };
  }

  /** Reports from each node's current incarnation only: a dead incarnation's report says nothing. */
  currentReports(): Record<NodeName, NodeReport> {
    const out: Record<NodeName, NodeReport> = {};
    for (const [n, r] of Object.entries(this.reports)) if (this.membership[n]?.incarnation === r.incarnation) out[n] = r;
    return out;
  }

  nodeViews(): Record<NodeName, { state: NodeState; draining: boolean }> {
    const now = this.o.clock.nowMs();
    const reps = this.currentReports();
    const out: Record<NodeName, { state: NodeState; draining: boolean }> = {};
    for (const n of new Set([...Object.keys(this.config.nodes), ...Object.keys(this.membership)])) {
      const alive = isAlive(this.membership, n, now, this.o.timing.leaseTtlMs);
      const draining = this.membership[n]?.state === 'draining';
      out[n] = { state: nodeState({ alive, paused: !!this.config.nodes[n]?.paused, draining, reported: !!reps[n] }), draining };
    }
    return out;
  }

  private localContext() {
    return {
      self: this.name, nowMs: this.o.clock.nowMs(), config: this.config, ownership: this.ownership,
      mayStart: (rec: OwnershipRec) => this.mayStart(rec), shuttingDown: this.shuttingDown,
    };
  }

  /** Carry out the local manager's actions; results come back as facts. */
  apply(actions: LocalAction[]): void {
    for (const a of actions) {
      if (a.kind === 'event') { this.emitEvent(a.event, a.level, a.message, a.data); continue; }
      if (a.kind === 'recycle-monitor') { this.o.host.recycle(a.reason); continue; }
      const spec: ResourceSpec = { ...a.spec, node: this.name, epoch: a.epoch };
      void this.o.host.call(a.op, spec, a.timeoutMs).then((r) => {
        const nowMs = this.o.clock.nowMs();
        this.apply(agentResult(this.local, this.name, a.id, r.ok, r.ok ? undefined : r.error, r.ok ? r.data : undefined, nowMs));
        this.kick();
      });
    }
    if (actions.length > 0) this.kick();
  }

  private async publishReport(): Promise<void> {
    const groups: NodeReport['groups'] = {};
    for (const [g, lg] of Object.entries(this.local.groups)) {
      const resources: NodeReport['groups'][string]['resources'] = {};
      for (const [n, lr] of Object.entries(lg.resources)) resources[n] = runtimeOf(lr);
      groups[g] = { epoch: lg.epoch, resources, released: lg.released };
      if (lg.failoverRequested) groups[g]!.failoverRequested = true;
      if (lg.fenced) groups[g]!.fenced = true;
    }
    const body = { apiUrl: this.apiUrl, appliedSeq: this.appliedSeq, groups };
    const json = JSON.stringify(body);
    if (json === this.lastReportJson) return;
    const report: NodeReport = { node: this.name, incarnation: this.incarnation, version: ++this.reportVersion, ...body };
    const res = await this.o.store.writeReport(report);
    if (res.ok) this.lastReportJson = json;
  }

  // ---- events ---------------------------------------------------------------------------

  emitEvent(event: string, level: EventLevel, message: string, data?: Record<string, unknown>): void {
    this.o.log(level, event, message);
    if (this.eventQueue.length >= eventQueueMax) { this.eventsDropped++; return; }
    const e: NewEvent = { wallMs: this.o.clock.wallMs(), node: this.name, event, level, message };
    if (data) e.data = data;
    this.eventQueue.push(e);
    this.emit('event', e);
  }

  private async flushEvents(): Promise<void> {
    if (this.flushing || this.eventQueue.length === 0) return;
    this.flushing = true;
    const batch = this.eventQueue.splice(0, this.eventQueue.length);
    const res = await this.o.store.appendEvents(batch);
    if (!res.ok) {
      // Keep them for the next try, within the bound.
      const room = eventQueueMax - this.eventQueue.length;
      this.eventsDropped += Math.max(0, batch.length - room);
      this.eventQueue.unshift(...batch.slice(0, room));
    }
    this.flushing = false;
  }

  async readEvents(afterId: number, limit: number): Promise<ClusterEvent[]> {
    await this.flushEvents();
    return this.o.store.readEvents(afterId, limit);
  }

  // ---- operations (API) -----------------------------------------------------------------

  /**
   * Validate and durably append configuration updates (coordinator only). Serialized: each
   * append sees the previous one. Resolves once the records are durable and applied here.
   */
  commit(updates: ConfigUpdate[]): Promise<Result<number>> {
    const run = async (): Promise<Result<number>> => {
      if (!this.isCoordinator()) return fail(notCoordinator(this.coordinator));
      const caught = await this.catchUp();
      if (!caught.ok) return caught;
      let cfg = this.config;
      for (const u of updates) {
        const next = applyUpdate(cfg, u);
        if (!next.ok) return next;
        cfg = next.value;
      }
      const res = await this.o.store.appendLog(this.coordinator.term, this.appliedSeq, updates);
      if (!res.ok) { this.dirty = true; return res; }
      this.config = cfg;
      this.appliedSeq = res.value[res.value.length - 1]?.seq ?? this.appliedSeq;
      this.kick();
      return ok(this.appliedSeq);
    };
    const p = this.updateChain.then(run, run);
    this.updateChain = p;
    return p;
  }

  /** Operator move: remember it; the placement plan carries it out. */
  requestMove(group: GroupName, node: NodeName | null): Result<NodeName> {
    if (!this.isCoordinator()) return fail(notCoordinator(this.coordinator));
    const g = this.config.groups[group];
    if (!g) return fail(clusterError('GROUP_NOT_FOUND', `no group '${group}'`, 'cluster group lists the groups'));
    const input = this.placementInput();
    const owner = this.ownership[group]?.node ?? null;
    if (node !== null) {
      const views = this.nodeViews();
      if (!views[node]) return fail(clusterError('NODE_NOT_FOUND', `no node '${node}'`, 'cluster node lists the nodes'));
      if (g.possibleOwners.length > 0 && !g.possibleOwners.includes(node)) {
        return fail(clusterError('RESOURCE_NOT_POSSIBLE_OWNER', `group '${group}' cannot move to node '${node}': ${node} is not a possible owner`, `cluster group "${group}" /setowners or cluster res R /addowner:${node}`));
      }
      if (views[node]!.state !== 'Up') return fail(clusterError('NODE_NOT_UP', `group '${group}' cannot move to node '${node}': it is ${views[node]!.state}`, `cluster node ${node} /resume, or move to another node`));
    }
    const target = node ?? chooseNode(input, group, owner ? [owner] : []);
    if (!target) return fail(clusterError('NODE_NOT_UP', `group '${group}' has nowhere to move: no other node is Up and a possible owner`, `cluster why ${group}`));
    if (target === owner) return ok(target);
    this.moveRequests[group] = target;
    this.emitEvent('GROUP_MOVE_REQUESTED', 'info', `operator asked to move group ${group} to ${target}`, { group, node: target });
    this.kick();
    return ok(target);
  }

  /** Group online clears a Failed (threshold) state so the coordinator places it again. */
  clearFailed(group: GroupName): void {
    delete this.failedGroups[group];
  }

  drain(node: NodeName): Result<void> {
    if (!this.isCoordinator()) return fail(notCoordinator(this.coordinator));
    for (const rec of Object.values(this.ownership)) {
      if (rec.node === node) this.moveRequests[rec.group] = null;
    }
    this.kick();
    return ok(undefined);
  }

  /** Operator /fail on a resource this node runs. */
  failResource(resource: string): Result<void> {
    const actions = operatorFail(this.local, resource);
    if (actions.length === 0) return fail(clusterError('RESOURCE_NOT_FOUND', `resource '${resource}' is not Online on ${this.name}`, 'cluster res lists where each resource runs'));
    this.apply(actions);
    return ok(undefined);
  }

  why(group: GroupName) {
    return explain(this.placementInput(), group);
  }
}

export function notCoordinator(c: CoordinatorRecord): ClusterError {
  return clusterError('NO_COORDINATOR', c.node ? `this node is not the coordinator (${c.node} is, term ${c.term})` : 'no coordinator is elected right now',
    'retry in a second: a coordinator is elected within the lease TTL');
}
