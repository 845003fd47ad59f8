// The clusterd shell: wires the pure core (membership, placement, local resource manager,
// configuration fold) to the quorum store, the resource monitor and the clock. It executes
// the core's actions and feeds results back as facts. Policy lives in core; the shell only
// decides *when* to ask and *how* to carry out. This file is the cycle driver, the heartbeat
// and the node's picture of the cluster; its parts are one file each:
//   config-log.ts   the configuration: log catch-up, group commit, checkpoints
//   load.ts         loading and recovering the configuration at start
//   coordinator.ts  election, the facts a coordinator plans from, its writes, moves, hand-over
//   step-exec.ts    executes the cycle's one output (core/step.ts) in its order
//   operations.ts   operator operations reaching this node
//   report.ts       this node's report; event-queue.ts its events; problems.ts repeated failures
//   snapshot.ts     what the API reads (a snapshot) and calls (commands)
//
// Order of work in one cycle (see cycle()):
//   1. read leases, coordinator, ownership, reports, new log records (facts)
//   2. elect a coordinator if there is none alive (CAS on the term): the role this cycle plans in
//   3. ask the core for the cycle's one output (core/step.ts planStep), and execute it in the
//      order written on its type (step-exec.ts): monitor, persist, settle, follow-up, checkpoint, publish, events
// The heartbeat (lease renewal, the watchdog ping) runs apart from all this (heartbeat.ts: a worker
// thread in clusterd), so that no cycle, request or burst of work delays it; the node reports its
// progress to it every turn and handles the fences it makes (fence-observer.ts).

import type { EventName } from '../core/events.js';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { stoppingCheckpointReason } from '../core/checkpoint-policy.js';
import { msText } from '../core/duration-text.js';
import { clusterError, ok, type Result } from '../core/errors.js';
import { emptyLocal, fenced, quiescent, revokeInherited, type LocalState } from '../core/local.js';
import type { MaintRequest } from '../core/maintenance.js';
import type { Membership } from '../core/membership.js';
import type { FloorFacts } from '../core/load-plan.js';
import { redactSecretText } from '../core/redact.js';
import type { NodeView, OwnershipRec, PlacementInput } from '../core/placement.js';
import { mayStart } from '../core/self-fence.js';
import { planStep } from '../core/step.js';
import type { ClusterConfig, ConfigUpdate, GroupName, NodeName } from '../core/types.js';
import type { ClusterEvent, CoordinatorRecord, EventLevel, NewEvent, NodeReport } from '../store/types.js';
import { agentCheckContext, agentsHere, checkAgentUpdates, type AgentsHere } from './agent-check.js';
import { BackupManager } from './backups.js';
import { ConfigLog } from './config-log.js';
import { CycleRunner } from './cycle-runner.js';
import { Coordinator } from './coordinator.js';
import { EventQueue } from './event-queue.js';
import { ConfigLoader } from './load.js';
import { FloorNotes } from './floor-notes.js';
import { LocalExec } from './local-exec.js';
import { Operations } from './operations.js';
import type { NodeOptions } from './options.js';
import { Problems } from './problems.js';
import { FenceObserver } from './fence-observer.js';
import { inlineHeartbeat, type HeartbeatPort } from './heartbeat.js';
import { Picture } from './picture.js';
import { planQuietStep, QuietCycles } from './quiet.js';
import { Reporter } from './report.js';
import type { Shell } from './shell.js';
import { executeStep, type StepExecDeps } from './step-exec.js';
import { freezeSnapshot, type NodeFacade, type NodeSnapshot } from './snapshot.js';

export type { Clock } from './clock.js';
export type { ResourceHost } from './resource-host.js';
export type { NodeOptions } from './options.js';
export type { NodeFacade, NodeSnapshot } from './snapshot.js';

export class ClusterNode extends EventEmitter implements NodeFacade {
  readonly name: NodeName;
  /** This start of clusterd: random unless given (the simulator seeds it). */
  readonly incarnation: string;
  /** Set once the API listens (the port may be chosen by the OS). */
  apiUrl: string;
  /** Backups of the groups this node runs: node/backups.ts around core/backup.ts. */
  readonly backups: BackupManager;

  /** The picture from the last reads (picture.ts); the heartbeat reads it through the getters below. */
  private readonly pic: Picture;
  private local: LocalState = emptyLocal();
  private localChanges = 0; // changes of `local` outside a reconcile, and reconciles: its version (node/quiet.ts)
  private shuttingDown = false;
  private stopped = false;
  /** True once the first cycle has read the store: before that, views would be empty. */
  private ready = false;

  private readonly o: NodeOptions;
  /** Renews the lease and feeds the watchdog apart from the decision loop (heartbeat.ts); set by start(). */
  private heartbeat: HeartbeatPort | null = null;
  private readonly fences: FenceObserver;
  private fencing = false;
  /** Set at a planned shutdown once the last cycle has run, before the last renewal. */
  private cyclesEnded = false;
  /** Set when this node lost its lease or stalled (NODE_LEASE_LOST, NODE_STALLED): the coordinator may have judged it Down
   * meanwhile, so the first ownership read sent after that moment revokes every assignment naming this node that it does not run. */
  private revokeAfterMs: number | null = null;
  private changeVersion = -1;
  private dirty = true;
  private cancelTimers: (() => void)[] = [];

  private readonly problems: Problems;
  private readonly events: EventQueue;
  private readonly log: ConfigLog;
  private readonly loader: ConfigLoader;
  private readonly coord: Coordinator;
  private readonly ops: Operations;
  private readonly reporter: Reporter;
  private readonly cycles: CycleRunner;
  private readonly exec: LocalExec;
  private readonly stepDeps: StepExecDeps;
  private readonly quiet: QuietCycles;

  constructor(o: NodeOptions) {
    super();
    this.o = o;
    this.name = o.name;
    this.incarnation = o.incarnation ?? randomBytes(8).toString('hex');
    this.apiUrl = o.apiUrl;
    this.quiet = new QuietCycles(o.checkQuietCycles ?? false);
    const emitEvent = this.emitEvent.bind(this);
    this.cycles = new CycleRunner({ clock: o.clock, stopped: () => this.stopped || this.cyclesEnded, cycle: () => this.cycle(), settled: (f) => this.problems.cycleSettled(f),
      changesUnderWay: () => o.host.changesUnderWay() });
    this.pic = new Picture(o.clock, o.timing.leaseTtlMs);
    this.problems = new Problems(o.clock, emitEvent);
    this.events = new EventQueue({ store: o.store, clock: o.clock, wrote: (r) => this.problems.wrote(r), sleep: (ms) => this.sleep(ms) });
    const floorNotes = new FloorNotes(o);
    const shell: Shell = {
      o, name: o.name, problems: this.problems, emitEvent,
      coordinator: () => this.coordinator, membership: () => this.membership, ownership: () => this.pic.ownership, reports: () => this.pic.reports,
      local: () => this.local, shuttingDown: () => this.shuttingDown, fencing: () => this.fencing, isCoordinator: () => this.isCoordinator(),
      judgeAtMs: () => this.pic.judgeAtMs(), nodeViews: () => this.nodeViews(), currentReports: () => this.currentReports(),
      placementInput: () => this.placementInput(), refresh: () => this.refresh(), kick: () => this.kick(), markDirty: () => { this.dirty = true; },
      apply: (a) => this.exec.apply(a), localChanged: () => { this.localChanges++; }, localVersion: () => this.localChanges, sleep: (ms) => this.sleep(ms), noteFloor: (term, epoch) => floorNotes.note(term, epoch),
    };
    this.log = new ConfigLog(shell);
    this.exec = new LocalExec(shell, this.log);
    this.loader = new ConfigLoader({ o, incarnation: () => this.incarnation, emitEvent, log: this.log, floorFacts: (f) => this.floorFacts(f), newHistoryId: () => this.newHistoryId() });
    this.coord = new Coordinator(shell, this.log);
    this.fences = new FenceObserver({
      name: o.name, timing: o.timing, emitEvent, fencing: () => this.fencing, fence: (why) => { this.fencing = true; o.host.fence(why); },
      revokeAfter: (atMs) => this.revokeAfter(atMs), holdsGroups: () => Object.keys(this.local.groups).length > 0,
    });
    this.ops = new Operations(shell, this.log, this.coord);
    this.backups = new BackupManager({
      name: o.name, host: o.host, clock: o.clock, emitEvent, ...(o.newBackupId ? { newId: o.newBackupId } : {}),
      context: () => ({ self: this.name, config: this.config, ownership: this.pic.ownership, local: this.local, shuttingDown: this.shuttingDown }),
    });
    this.stepDeps = { monitor: (a) => this.exec.send(a), checkBackups: () => this.backups.check(), persist: (step, asked) => this.coord.persist(step, asked),
      followUp: () => { this.localChanges++; return planStep({ local: this.local, localContext: this.localContext(), coordinator: null }).monitor; },
      maybeCheckpoint: () => this.log.noQuorumLogging ? Promise.resolve() : this.log.maybeCheckpoint(), publish: () => this.reporter.publish(), flushEvents: () => void this.events.flush() };
    this.reporter = new Reporter({
      s: shell, log: this.log, backups: this.backups, incarnation: () => this.incarnation, apiUrl: () => this.apiUrl,
      // This node's own views read its report like any other's: show it now, not after the next read.
      published: (report) => { this.pic.reports = { ...this.pic.reports, [this.name]: report }; },
    });
  }

  /** Recovery floor and new history ids: methods, so that the simulator seeds the ids and plants its forget-floor tooth here. */
  protected floorFacts(f: FloorFacts): FloorFacts { return f; }
  protected newHistoryId(): string { return randomBytes(8).toString('hex'); }
  /** The configuration this node has applied (replaced whole by each change, never changed in place). */
  get config(): ClusterConfig { return this.log.config; }
  get appliedSeq(): number { return this.log.appliedSeq; }
  get eventsDropped(): number { return this.events.dropped; }
  /** The coordinator record of the last read (the simulator's checkers watch it never go back). */
  get coordinatorRecord(): CoordinatorRecord { return this.pic.coordinator; }
  private get coordinator(): CoordinatorRecord { return this.pic.coordinator; }
  private get membership(): Membership { return this.pic.membership; }
  /** This node's resource manager (the simulator's checkers and the benchmarks read it). */
  get localState(): Readonly<LocalState> { return this.local; }

  // ---- start and stop ------------------------------------------------------------------

  async start(): Promise<Result<void>> {
    const { store, host } = this.o;
    // A store database that cannot be read refuses the claim: loadConfig says so with the recovery
    // switches, or rebuilds it for --reset-quorum-log and claims again.
    const claimed = await store.claimLeaseSlot(this.name, this.incarnation);
    if (!claimed.ok && claimed.error.code !== 'QUORUM_DB_DAMAGED') return claimed;
    const loaded = await this.loader.load();
    if (!loaded.ok) return loaded;
    if (!claimed.ok && !this.loader.storeRebuilt) return claimed;
    this.log.lastCheckpointMs = this.o.clock.nowMs();
    // A new incarnation runs nothing yet. Whatever the store still assigns to this node's name was
    // given to an earlier incarnation, which a coordinator may have seen stopped, fenced or Down and
    // be giving away right now: report it released and fenced, and wait for a new epoch.
    const inherited = revokeInherited(this.local, this.name, await store.readOwnership(), 'assigned to an earlier incarnation of this node', true);
    this.exec.listen();
    host.on('fenced', (reason: string) => {
      this.fencing = false;
      // The heartbeat fences on a lost lease whether or not anything runs here: nothing to report then.
      if (Object.keys(this.local.groups).length > 0) this.exec.apply(fenced(this.local, this.name, typeof reason === 'string' ? reason : 'watchdog'));
    });
    this.exec.apply(inherited);
    this.heartbeat = (this.o.heartbeat ?? inlineHeartbeat)({ name: this.name, incarnation: this.incarnation, timing: this.o.timing, store, host, clock: this.o.clock });
    this.heartbeat.start();
    this.beat();
    this.cancelTimers.push(this.o.clock.setInterval(() => this.beat(), this.o.timing.heartbeatIntervalMs));
    this.cancelTimers.push(this.o.clock.setInterval(() => this.kick(), this.o.timing.heartbeatIntervalMs));
    this.cancelTimers.push(store.onChange(() => { this.dirty = true; this.kick(); }));
    this.emitEvent('NODE_STARTED', 'info', `node ${this.name} started (incarnation ${this.incarnation}, API ${this.apiUrl})`);
    this.kick();
    return ok(undefined);
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
      this.emitEvent('SHUTDOWN_TIMEOUT', 'error', `node ${this.name}: groups did not go offline within ${msText(timing.shutdownPendingTimeoutMs)}; stopping every resource now`);
      await this.fenceNow('shutdown pending timeout');
    } else {
      this.emitEvent('NODE_DRAINED', 'info', `node ${this.name}: all its groups are offline here`);
    }
    if (this.isCoordinator() && !this.log.noQuorumLogging) {
      const cp = await this.log.checkpoint(stoppingCheckpointReason(this.name));
      if (!cp.ok) this.o.log('warning', 'CHECKPOINT_FAILED', cp.error.message);
    }
    const local = this.o.localDb?.writeCheckpoint(this.appliedSeq, this.coordinator.term, this.config);
    if (local && !local.ok) this.o.log('warning', 'LOCAL_CHECKPOINT_FAILED', local.error.message);
    await this.coord.handOver(deadline);
    this.emitEvent('HEARTBEAT_STOPPING', 'info', `node ${this.name} stops heartbeating now (its groups are offline)`);
    await this.events.flushBeforeStop();
    for (const c of this.cancelTimers) c();
    this.cancelTimers = [];
    await this.cycles.idle();
    // The last renewal goes through the heartbeat thread and takes turns of the event loop: a cycle
    // kicked before the timers were cancelled must not run in them (HEARTBEAT_STOPPING stays last).
    this.cyclesEnded = true;
    await this.heartbeat?.stop('stopped');
    this.stopped = true;
    this.coord.dropMoves(clusterError('NO_COORDINATOR', `node ${this.name} stopped`, 'retry: another node takes over as coordinator'));
    this.backups.close();
    await this.o.host.shutdown();
  }

  private async fenceNow(reason: string): Promise<void> {
    this.fencing = true;
    this.o.host.fence(reason);
    const until = this.o.clock.nowMs() + 5_000;
    while (this.fencing && this.o.clock.nowMs() < until) await this.sleep(10);
  }

  private sleep(ms: number): Promise<void> { return new Promise((resolve) => this.o.clock.setTimeout(resolve, ms)); }

  // ---- heartbeat ------------------------------------------------------------------------

  /**
   * One turn of the decision loop, on the main thread's own timer: handle the fences the heartbeat
   * made (fence-observer.ts), then tell it the loop makes progress (a loop silent for
   * decisionStallMs is fenced by the heartbeat, core/self-fence.ts).
   */
  private beat(): void {
    if (this.stopped || this.heartbeat === null) return;
    this.fences.observe(this.heartbeat, this.o.clock.nowMs());
    this.heartbeat.setState(this.shuttingDown ? 'draining' : 'running');
    this.heartbeat.progress();
  }

  /** Revoke, at the next ownership read sent after `atMs`, what names this node and it does not run; and make that read happen. */
  private revokeAfter(atMs: number): void {
    this.revokeAfterMs = atMs;
    this.dirty = true;
  }

  /** May this node start resources under `rec` now? Valid lease, current term, no fence under way (core/self-fence.ts). */
  private mayStart(rec: OwnershipRec): boolean {
    if (this.heartbeat === null) return false;
    this.fences.observe(this.heartbeat, this.o.clock.nowMs()); // a fence the heartbeat made a moment ago counts already
    return mayStart({
      nowMs: this.o.clock.nowMs(), self: this.name, lastRenewOkMs: this.heartbeat.lastRenewOkMs(), fencing: this.fencing || this.revokeAfterMs !== null, shuttingDown: this.shuttingDown,
      recordTerm: rec.term, currentTerm: this.coordinator.term, membership: this.membership,
    }, this.o.timing);
  }

  // ---- the cycle ------------------------------------------------------------------------

  /** Run a cycle now, or right after the one under way. */
  kick(): void {
    this.cycles.kick();
  }

  /** Resolves once a cycle that began after this call has finished (its report published), within `maxMs`. */
  afterNextCycle(maxMs = 2_000): Promise<void> {
    return this.cycles.afterNextCycle(maxMs);
  }

  private async cycle(): Promise<void> {
    const { store } = this.o;
    // Ownership first, leases after: the lease view is then at least as new as the records the
    // cycle acts on (see nodeViews).
    await this.refresh();
    // A full quorum disk is seen by every node, also one with nothing to write (status, why, moves).
    this.problems.noteQuorumSpace(store.freeSpaceProblem?.());
    // Slots as a fresh renewal saw them, else read (picture.ts observeLeases states the rule).
    await this.pic.observeLeases(this.heartbeat?.renewalView?.(), () => store.readLeases());
    await this.coord.elect();
    // The coordinator announces changes of its judgement of the nodes (NODE_DOWN, NODE_UP, ...).
    if (this.isCoordinator()) this.coord.noteNodeStates();
    // The cycle's one output (core/step.ts), executed in the order written on its type (quiet parts skipped: quiet.ts).
    const { step, asked } = planQuietStep(this.quiet, { local: this.local, context: this.localContext(), version: () => this.localChanges,
      reconciled: () => ++this.localChanges, coordinator: this.isCoordinator() ? this.coord : null });
    await executeStep(this.stepDeps, step, asked);
    this.ready = true;
  }

  private async refresh(): Promise<void> {
    const { store } = this.o;
    const view = this.heartbeat?.renewalView?.() ?? null; // a fresh renewal's change version stands for the poll
    const version = view ? Math.max(view.changeVersion, this.changeVersion) : await store.changeVersion();
    if (version === this.changeVersion && !this.dirty) return;
    this.dirty = false;
    this.changeVersion = version;
    const prevCoord = this.coordinator;
    this.pic.coordinator = await store.readCoordinator();
    if (prevCoord.term !== this.coordinator.term) this.coord.onNewTerm(prevCoord, this.coordinator);
    const sentMs = this.o.clock.nowMs();
    const records = await store.readOwnership();
    const epochMax = this.pic.readOwnership(records);
    // Durable before anything acts on them: a rebuilt store starts above every token seen (rule 6).
    this.o.localDb?.noteFloor(this.coordinator.term, epochMax);
    this.pic.ownershipReadAtMs = Math.max(this.pic.ownershipReadAtMs, sentMs);
    if (this.revokeAfterMs !== null && sentMs >= this.revokeAfterMs) {
      this.revokeAfterMs = null;
      this.exec.apply(revokeInherited(this.local, this.name, records, 'assigned to this node before it lost its lease or stalled'));
    }
    const reports: Record<NodeName, NodeReport> = {};
    for (const r of await store.readReports()) reports[r.node] = r;
    this.pic.reports = reports;
    await this.log.follow();
  }

  isCoordinator(): boolean { return this.coordinator.node === this.name; }

  currentReports(): Record<NodeName, NodeReport> { return this.pic.currentReports(); }
  nodeViews(): Record<NodeName, NodeView> { return this.pic.nodeViews(this.config); }

  private localContext() {
    return {
      self: this.name, nowMs: this.o.clock.nowMs(), config: this.config, ownership: this.pic.ownership,
      mayStart: (rec: OwnershipRec) => this.mayStart(rec), shuttingDown: this.shuttingDown,
    };
  }

  // ---- events ---------------------------------------------------------------------------

  emitEvent(event: EventName, level: EventLevel, text: string, data?: Record<string, unknown>): void {
    const message = redactSecretText(text); // logs and events are read by every role: no secret inside a message reaches them
    this.o.log(level, event, message, data);
    const e: NewEvent = { wallMs: this.o.clock.wallMs(), node: this.name, event, level, message };
    if (data) e.data = data;
    if (this.events.add(e)) this.emit('event', e);
  }

  // ---- what the API reads and calls (snapshot.ts) -------------------------------------------

  /** What placement decides from (the simulator's teeth override it to plant a bug). */
  placementInput(): PlacementInput { return this.coord.placementInput(); }

  /** The node's picture now, read only (frozen under CLUSTERD_FREEZE_SNAPSHOTS or freezeSnapshots). */
  snapshot(): NodeSnapshot {
    let placement: PlacementInput | undefined; // built at its first read: a pass over every group
    const placementInput = () => (placement ??= this.placementInput());
    const s: NodeSnapshot = {
      name: this.name, incarnation: this.incarnation, ready: this.ready, stopped: this.stopped,
      config: this.config, appliedSeq: this.appliedSeq, coordinator: this.coordinator, membership: this.membership,
      nodes: this.nodeViews(), ownership: this.pic.ownership, reports: this.currentReports(), allReports: this.pic.reports, local: this.local,
      writesBlocked: this.problems.quorumWritesBlocked(), get placement() { return placementInput(); }, eventsDropped: this.eventsDropped, skippedRecords: this.log.skipped, wallMs: this.o.clock.wallMs(),
      monoMs: this.o.clock.nowMs(), lastRenewOkMs: this.heartbeat?.lastRenewOkMs() ?? -Infinity,
      renewGapMaxMs: this.heartbeat?.renewGapMaxMs() ?? 0, leaseTtlMs: this.o.timing.leaseTtlMs,
    };
    return this.o.freezeSnapshots ? freezeSnapshot(s) : s;
  }

  /** Write every queued event now (before exiting on a refused start, for example). */
  flushAll(): Promise<void> { return this.events.flush(); }
  readEvents(afterId: number, limit: number): Promise<ClusterEvent[]> { return this.events.read(afterId, limit); }

  /** An operator's change: resources of agent types are checked against their agent on each possible owner first (agent-check.ts). */
  async commit(updates: ConfigUpdate[]): Promise<Result<number>> {
    const checked = await checkAgentUpdates(agentCheckContext(this, this.o), this.config, updates);
    return checked.ok ? this.log.commit(checked.value) : checked;
  }
  get agentsHere(): AgentsHere { return agentsHere(this.o.host, this.name); }
  checkpoint(reason: string): Promise<Result<number>> { return this.log.checkpoint(reason); }
  requestMove(group: GroupName, node: NodeName | null): Promise<Result<NodeName>> { return this.ops.requestMove(group, node); }
  drain(node: NodeName): Result<void> { return this.ops.drain(node); }
  clearFailed(group: GroupName, resetFailovers = false): void { this.ops.clearFailed(group, resetFailovers); }
  retryFailed(group: GroupName, resource: string | null, cleanup = false): string[] { return this.ops.retryFailed(group, resource, cleanup); }
  failResource(resource: string): Result<void> { return this.ops.failResource(resource); }
  setMaintenance(resource: string, req: MaintRequest): Result<void> { return this.ops.setMaintenance(resource, req); }
  why(group: GroupName) { return this.ops.why(group); }
}
