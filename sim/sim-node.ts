// One simulated machine: its clock, its link to the quorum store, and the clusterd it runs
// (the real ClusterNode from src/node/node.ts, with a simulated store, host and clock). The
// machine outlives clusterd incarnations: a crash, a power-off or a planned shutdown ends one,
// and a restart begins the next, on the same store, as `clusterd start` would (open the store,
// start the monitor, then node.start()).

import { ClusterNode, type NodeOptions } from '../src/node/node.js';
import { InlineHeartbeat } from '../src/node/heartbeat.js';
import type { OwnershipRec, PlacementInput } from '../src/core/placement.js';
import type { Timing } from '../src/core/timing.js';
import { SimHost, type Apps, type HostFlaws, type MachineEnv, type ProcessTable } from './sim-host.js';
import { MachineClock } from './sim-clock.js';
import { SimStoreClient, WorldTransport, healthyLink, type SimDisk, type StoreLink } from './sim-store.js';
import { SimProc, type World } from './world.js';
import type { Patches } from './patches.js';
import { SimLocalDb, type CopyContent } from './sim-local-db.js';
import type { LocalDb } from '../src/node/local-db.js';
import type { FloorFacts } from '../src/core/load-plan.js';

/** Deliberate protocol breaks in the node shell, for the teeth tests only. */
export interface NodeFlaws {
  /** Start resources without checking lease, term and fencing (mayStart always true). */
  noStartCheck?: boolean;
  /** The coordinator treats a group in phase 'stop' as released at once (no wait for the owner). */
  noReleaseWait?: boolean;
  /** A recovery ignores the floors in the node's copy and in the lease slots: terms and epochs start from the records' terms and 0. */
  forgetFloor?: boolean;
}

/** The operator's recovery switches for one `clusterd start`. */
export interface Recovery { resetQuorumLog?: boolean; noQuorumLogging?: boolean }

/**
 * The real node shell. Its logic is untouched: the incarnation comes from the simulation (the
 * real one is random), and a teeth test may break one rule on purpose.
 */
export class SimClusterNode extends ClusterNode {
  private readonly flaws: NodeFlaws;

  private histories = 0;

  constructor(o: NodeOptions, incarnation: string, flaws: NodeFlaws) {
    super({ ...o, incarnation });
    this.flaws = flaws;
    const self = this as unknown as { mayStart: (rec: OwnershipRec) => boolean };
    if (flaws.noStartCheck) self.mayStart = () => true;
  }

  /** Seeded, and unique in the run: the incarnation names the machine and the start. */
  protected override newHistoryId(): string {
    return `${this.incarnation}.${++this.histories}`;
  }

  protected override floorFacts(f: FloorFacts): FloorFacts {
    // The tooth forgets every floor recorded: terms start from the records' terms, epochs from 0.
    return this.flaws.forgetFloor ? { copy: { term: 0, epoch: 0 }, recordTerm: f.recordTerm, slots: [], unreadable: [] } : f;
  }

  override placementInput(): PlacementInput {
    const input = super.placementInput();
    if (!this.flaws.noReleaseWait) return input;
    for (const rec of Object.values(input.ownership)) {
      if (rec.phase !== 'stop' || !rec.node) continue;
      const groups = input.reports[rec.node] ??= {};
      groups[rec.group] = { ...(groups[rec.group] ?? { epoch: rec.epoch }), epoch: rec.epoch, released: true };
    }
    return input;
  }
}

export type MachineState = 'down' | 'starting' | 'up' | 'stopping';

export interface MachineDeps {
  world: World;
  disk: SimDisk;
  procs: ProcessTable;
  apps: Apps;
  timing: Timing;
  hostFlaws: HostFlaws;
  nodeFlaws: NodeFlaws;
  /** The fixes proposed for the bugs found (sim/patches.ts) that this run applies, in the harness only. */
  patches: Patches;
  /** Called when an incarnation is up (node.start() resolved ok): the load checks. */
  onStarted: (m: Machine) => void;
  /** Every event a clusterd incarnation of this machine emits (the backup checker reads them). */
  onEvent: (m: Machine, e: { event: string; message?: string; data?: Record<string, unknown> }) => void;
  /** A start ended with this error code (the operator's runbook reads it). */
  onRefused: (m: Machine, code: string) => void;
}

export class Machine implements MachineEnv {
  readonly clock: MachineClock;
  readonly link: StoreLink = healthyLink();
  readonly procs: ProcessTable;
  readonly apps: Apps;
  readonly disk: SimDisk;
  /** This machine's own copy of the database (its data directory): it outlives incarnations and power cuts. */
  readonly localDb: SimLocalDb;
  /** What the copy held when the current incarnation began to start, and the switches it was started with. */
  copyAtStart: CopyContent | null = null;
  recovery: Recovery = {};
  state: MachineState = 'down';
  node: SimClusterNode | null = null;
  proc: SimProc | null = null;
  host: SimHost | null = null;
  incarnations = 0;
  /** Highest quorum-log seq any incarnation of this machine applied, in the history its copy follows. */
  maxApplied = { history: '', seq: 0 };
  /** Store head and history when the current incarnation began to start. */
  headAtStart = 0;
  historyAtStart = '';
  /** When an incarnation of this machine was last up (world time): the operator's "node that was up last". */
  lastUpMs = -1;
  /** Backups named by this machine's incarnations: ids stay unique across restarts, and seeded. */
  private backupIds = 0;
  /** A pending restart (after a crash or shutdown), cancelled by heal's immediate restart. */
  restartEvent: { cancelled: boolean } | null = null;

  constructor(readonly name: string, private readonly d: MachineDeps, wallStartMs: number) {
    this.clock = new MachineClock(d.world, wallStartMs);
    this.procs = d.procs;
    this.apps = d.apps;
    this.disk = d.disk;
    this.localDb = new SimLocalDb(name);
  }

  get world(): World {
    return this.d.world;
  }

  /** `clusterd start`: open the store, start the monitor, start the node. A failure ends the process; a supervisor restarts it. */
  start(recovery: Recovery = {}): void {
    if (this.state !== 'down') return;
    if (this.restartEvent) this.restartEvent.cancelled = true;
    this.restartEvent = null;
    const world = this.d.world;
    const n = ++this.incarnations;
    const incarnation = `${this.name}-${n}`;
    const proc = new SimProc(`${this.name}#${n}`, this.name, 'clusterd');
    const store = new SimStoreClient(this.disk, new WorldTransport(world, proc, this.link, () => this.clock.loadLagMs > 0), proc, () => this.clock.nowMs());
    const timing = this.d.timing;
    const patches = this.d.patches;
    const host = new SimHost(world, this, proc, { selfFenceMs: timing.selfFenceMs, incarnation: () => incarnation, flaws: this.d.hostFlaws, patches });
    const node = new SimClusterNode({
      name: this.name, apiUrl: `sim://${this.name}`, timing, store, host, clock: this.clock.forProcess(proc),
      // clusterd's heartbeat runs on a thread of its own: its timer is never held behind the main thread's work.
      heartbeat: (c) => new InlineHeartbeat({ ...c, clock: this.clock.forProcess(proc, true) }),
      log: (level, event, message) => world.trace(proc.id, `${level === 'info' ? '' : `${level} `}${event}: ${message.split('\n')[0]}`),
      newBackupId: () => (++this.backupIds).toString(16).padStart(8, '0'), freezeSnapshots: true, checkQuietCycles: true,
      localDb: this.localDb as unknown as LocalDb, recovery,
    }, incarnation, this.d.nodeFlaws);
    node.on('event', (e: { event: string; message?: string; data?: Record<string, unknown> }) => this.d.onEvent(this, e));
    this.state = 'starting';
    this.proc = proc;
    this.host = host;
    this.node = node;
    this.headAtStart = this.disk.headSeq();
    this.historyAtStart = this.disk.history.id;
    this.copyAtStart = this.localDb.content();
    this.recovery = recovery;
    const switches = [recovery.resetQuorumLog ? ' --reset-quorum-log' : '', recovery.noQuorumLogging ? ' --no-quorum-logging' : ''].join('');
    world.trace(proc.id, `clusterd start${switches} (incarnation ${incarnation}; copy ${this.copyAtStart ? `seq ${this.copyAtStart.seq} history ${this.copyAtStart.history.id}` : 'none'})`);
    world.schedule(0, proc, 'io', () => {
      void (async () => {
        const opened = await store.open();
        if (!opened.ok) return this.startFailed(proc, opened.error.format(), opened.error.code);
        // As `clusterd start`: a monitor that cannot start (lost before ready) ends the process.
        const monitor = await host.start().then(() => null, (e: unknown) => (e instanceof Error ? e.message : String(e)));
        if (monitor !== null) return this.startFailed(proc, `the resource monitor did not start: ${monitor}`, 'MONITOR');
        // start() may also reject (a store read that throws): clusterd then exits with the error.
        const started = await node.start().catch((e: unknown) => ({ ok: false as const, error: { code: (e as { code?: string }).code ?? 'THREW', format: () => `start() threw: ${e instanceof Error ? e.message : String(e)}` } }));
        if (!started.ok) {
          await host.shutdown();
          return this.startFailed(proc, started.error.format(), started.error.code);
        }
        if (this.proc !== proc) return;
        this.state = 'up';
        this.d.onStarted(this);
      })();
    });
  }

  private startFailed(proc: SimProc, why: string, code: string): void {
    if (this.proc !== proc) return;
    this.world.trace(proc.id, `clusterd exits: ${why.split('\n')[0]}`);
    this.exited();
    this.scheduleRestart(1_000);
    this.d.onRefused(this, code);
  }

  /** The clusterd process is gone (after its own cleanup, if any). */
  private exited(): void {
    if (this.state === 'up' || this.state === 'stopping') this.lastUpMs = this.world.now;
    if (this.proc) {
      this.world.kill(this.proc);
      for (const sub of [...this.disk.subscribers]) if (sub.proc === this.proc) this.disk.subscribers.delete(sub);
    }
    this.proc = null;
    this.node = null;
    this.host = null;
    this.state = 'down';
  }

  scheduleRestart(delayMs: number): void {
    if (this.restartEvent) this.restartEvent.cancelled = true;
    this.restartEvent = this.world.schedule(delayMs, null, 'io', () => {
      this.restartEvent = null;
      this.start();
    });
  }

  /** kill -9 of clusterd: its monitor notices, kills everything and marks the lease fenced. */
  crash(): boolean {
    if (!this.proc || !this.host) return false;
    this.world.trace(this.proc.id, 'FAULT kill -9 clusterd');
    this.host.clusterdDied();
    this.exited();
    return true;
  }

  /** The machine loses power: clusterd, the monitor and every resource process die; nobody marks the lease. */
  powerOff(): boolean {
    if (!this.proc) return false;
    this.world.trace(this.proc.id, 'FAULT power off');
    const mon = this.host?.monitorProc;
    if (mon) this.world.kill(mon);
    for (const p of this.procs.onMachine(this.name)) this.procs.exit(p, null, 'SIGKILL', 'power off');
    this.exited();
    return true;
  }

  /** SIGTERM: the planned shutdown (drain, release, heartbeat last); the process exits once it returns. */
  shutdown(onDone: () => void): boolean {
    const proc = this.proc;
    const node = this.node;
    if (!proc || !node || this.state !== 'up') return false;
    this.state = 'stopping';
    this.world.trace(proc.id, 'SIGTERM (planned shutdown)');
    this.world.schedule(0.1, proc, 'io', () => {
      void node.shutdown().then(() => {
        if (this.proc !== proc) return;
        this.world.trace(proc.id, 'clusterd exited after its planned shutdown');
        this.exited();
        onDone();
      });
    });
    return true;
  }

  get paused(): boolean {
    return this.proc?.state === 'paused';
  }
}
