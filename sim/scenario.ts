// One simulation run: a seed decides the cluster (nodes, groups, resources, dependencies,
// owners, properties), which fault kinds are on and how often they strike (swarm testing: some
// seeds see a few kinds rarely, some many kinds often), and every time and latency. Phases:
//   1. setup: every node starts; the operator creates the groups once a coordinator is elected;
//   2. faults: `steps` steps of `stepMs` each; at each step every enabled kind may strike;
//   3. heal: faults stop (paused processes resume, links and disks heal, crashed nodes restart,
//      applications behave), and the liveness clock starts;
//   4. liveness: every group that must run is Online within the bound (checkers.ts), or the run fails.
// The checkers run after every delivered event throughout; the first violation ends the run.

import { timingDefaults, validateTiming, type Timing } from '../src/core/timing.js';
import type { ConfigUpdate, FailbackPolicy, GroupName } from '../src/core/types.js';
import { Checkers, describeUpdate, livenessBoundMs } from './checkers.js';
import { Apps, ProcessTable, type HostFlaws } from './sim-host.js';
import { Machine, type NodeFlaws, type Recovery } from './sim-node.js';
import type { LocalDamage } from './sim-local-db.js';
import { SimDisk, type StoreFlaws } from './sim-store.js';
import { World } from './world.js';
import type { Rng } from './random.js';
import { Patches } from './patches.js';

export const faultKinds = [
  'crash', 'poweroff', 'pause', 'monitor', 'store-slow', 'store-down', 'db-down', 'lease-down', 'disk-full',
  'resource', 'clock', 'load', 'operator', 'shutdown', 'recovery', 'double-fault', 'fence-loss',
] as const;
export type FaultKind = (typeof faultKinds)[number];

/**
 * Kinds chosen when --faults is not given. Not `double-fault`: the resource monitor is the only
 * thing on a machine that can fence, so a monitor that hangs while its clusterd also fails
 * (stalls, dies, loses the store) leaves the resources running past the lease TTL. That is a
 * limitation of a user-space watchdog (Pacemaker adds sbd, a kernel or hardware watchdog), not a
 * protocol bug: by default, one failure at a time hits a machine's fencing path.
 * Not `fence-loss` either (the monitor lost just as clusterd fences): opt-in, so that the seeds of
 * the default kinds replay as they did before it existed; the monitor tests of test/sim.test.ts name it.
 */
export const defaultFaultKinds: readonly FaultKind[] = faultKinds.filter((k) => k !== 'double-fault' && k !== 'fence-loss');

/** Ways to break the protocol on purpose (teeth tests): each must make the checkers fire. */
export const teethKinds = ['stale-term', 'no-watchdog', 'no-start-check', 'no-fence-check', 'short-ttl', 'no-release-wait', 'no-freeze-abort', 'forget-floor', 'no-fence-on-loss'] as const;
export type TeethKind = (typeof teethKinds)[number];

export interface SimOptions {
  seed: number;
  nodes?: number;
  groups?: number;
  steps?: number;
  /** Fault kinds that may be chosen (default: all). */
  faults?: readonly FaultKind[];
  teeth?: TeethKind | null;
  /** Apply, in the harness, the fixes proposed for these bugs (sim/patches.ts); true: all of them. */
  patched?: boolean | readonly number[];
  /** Every trace line to this function as it happens. */
  echo?: ((line: string) => void) | null;
}

export interface SeedResult {
  seed: number;
  /** The options as resolved for this seed (what `--seed S` replays). */
  nodes: number;
  groups: number;
  steps: number;
  faults: FaultKind[];
  teeth: TeethKind | null;
  /** The bugs whose proposed fixes this run applied. */
  patched: number[];
  ok: boolean;
  violation: string | null;
  traceHash: string;
  events: number;
  simMs: number;
  /** Time from heal to every group Online, when reached. */
  livenessMs: number | null;
  livenessBoundMs: number;
  injected: Record<string, number>;
  acks: number;
  /** Groups that counted as Online with a resource left Failed by its restart policy. */
  leftFailed: number;
  /** Backups the operator started, and how many of them got their thaw to the node before the limit (B1 checks those). */
  backups: { frozen: number; thawedInTime: number };
  lastTrace: string[];
}

/** Simulated time per step. Why 250 ms: a few heartbeats, so that faults overlap with protocol steps at every phase. */
export const stepMs = 250;
const stepsDefault = 80;
/** Setup must elect a coordinator and create the groups within this (there are no faults yet). */
const setupMaxMs = 20_000;

interface FaultPlan { kind: FaultKind; ratePerStep: number }

export async function runSeed(o: SimOptions): Promise<SeedResult> {
  const sim = new Simulation(o);
  return sim.run();
}

export class Simulation {
  readonly world: World;
  readonly rng: Rng;
  readonly disk: SimDisk;
  readonly procs: ProcessTable;
  readonly apps: Apps;
  readonly machines: Machine[] = [];
  readonly checkers: Checkers;
  readonly timing: Timing;
  readonly nodes: number;
  readonly groups: number;
  readonly steps: number;
  readonly plan: FaultPlan[];
  readonly teeth: TeethKind | null;
  readonly patches: Patches;
  healing = false;
  injected: Record<string, number> = {};
  private groupSeq = 0;
  private resourceSeq = 0;

  constructor(private readonly o: SimOptions) {
    this.world = new World(o.seed);
    this.world.echo = o.echo ?? null;
    this.rng = this.world.rng;
    const rng = this.rng;
    this.nodes = o.nodes ?? rng.range(2, 5);
    this.groups = o.groups ?? rng.range(1, 6);
    this.steps = o.steps ?? stepsDefault;
    this.teeth = o.teeth ?? null;
    this.patches = o.patched === true ? Patches.all() : new Patches(o.patched || []);
    const allowed = o.faults ?? defaultFaultKinds;
    // Swarm: each allowed kind is on for this seed with probability 1/2, at a rate of its own.
    this.plan = allowed.filter(() => rng.chance(0.5)).map((kind) => ({ kind, ratePerStep: rng.real(0.01, 0.12) }));
    if (this.plan.length === 0 && allowed.length > 0) this.plan.push({ kind: rng.pick(allowed), ratePerStep: rng.real(0.02, 0.12) });
    const t = this.teeth;
    const storeFlaws: StoreFlaws = { acceptStaleTerm: t === 'stale-term' };
    // The host's and the store's teeth turn off one check in the real rule (src/monitor/decisions.ts, src/store/term-rule.ts).
    const hostFlaws: HostFlaws = {
      noWatchdog: t === 'no-watchdog', noFenceCheck: t === 'no-fence-check', noStartCheck: t === 'no-start-check',
      noFreezeAbort: t === 'no-freeze-abort', noFenceHoldsOnLoss: t === 'no-fence-on-loss',
    };
    const nodeFlaws: NodeFlaws = { noStartCheck: t === 'no-start-check', noReleaseWait: t === 'no-release-wait', forgetFloor: t === 'forget-floor' };
    // The defaults, with a shorter shutdown timeout so that a drain fits in a run.
    const timing = validateTiming({ ...timingDefaults, shutdownPendingTimeoutMs: 3_000 });
    if (!timing.ok) throw timing.error;
    // short-ttl: the lease TTL below the self-fence deadline (validateTiming refuses this).
    this.timing = t === 'short-ttl' ? { ...timing.value, leaseTtlMs: 500 } : timing.value;
    this.disk = new SimDisk(storeFlaws);
    this.disk.notify = (sub) => {
      // inotify: each subscriber hears of a write a little later, in its own process.
      if (sub.proc && !sub.proc.alive) { this.disk.subscribers.delete(sub); return; }
      this.world.schedule(this.rng.real(0.1, 3), sub.proc, 'io', sub.cb);
    };
    const init = this.disk.init('sim', 0);
    if (!init.ok) throw init.error;
    this.procs = new ProcessTable(this.world);
    this.apps = new Apps(this.world);
    const wallStartMs = Date.UTC(2025, 0, 1) + rng.range(0, 24 * 3_600_000);
    const deps = {
      world: this.world, disk: this.disk, procs: this.procs, apps: this.apps, timing: this.timing, hostFlaws, nodeFlaws, patches: this.patches,
      onStarted: (m: Machine) => this.checkers.started(m),
      onEvent: (m: Machine, e: { event: string; message?: string; data?: Record<string, unknown> }) => this.checkers.nodeEvent(m, e),
      onRefused: (m: Machine, code: string) => this.refused(m, code),
    };
    for (let i = 1; i <= this.nodes; i++) this.machines.push(new Machine(`n${i}`, deps, wallStartMs + rng.range(-2_000, 2_000)));
    this.checkers = new Checkers(this.world, this.disk, this.procs, this.machines);
    this.world.afterStep = () => this.checkers.afterStep();
  }

  private count(what: string): void {
    this.injected[what] = (this.injected[what] ?? 0) + 1;
  }

  async run(): Promise<SeedResult> {
    const w = this.world;
    w.trace('sim', `seed ${this.o.seed}: ${this.nodes} nodes, ${this.groups} groups, ${this.steps} steps; faults ${this.plan.map((p) => `${p.kind}@${p.ratePerStep.toFixed(3)}`).join(' ') || 'none'}${this.teeth ? `; TEETH ${this.teeth}` : ''}`);
    for (const m of this.machines) w.schedule(this.rng.real(0, 300), null, 'io', () => m.start());
    await this.setup();
    for (let step = 0; step < this.steps && !w.violation; step++) {
      for (const f of this.plan) if (this.rng.chance(f.ratePerStep)) this.inject(f.kind);
      await w.run(w.now + stepMs);
    }
    let livenessMs: number | null = null;
    const bound = livenessBoundMs(this.timing, this.checkers.config);
    if (!w.violation) livenessMs = await this.liveness(bound.boundMs);
    return {
      seed: this.o.seed, nodes: this.nodes, groups: this.groups, steps: this.steps, faults: this.plan.map((p) => p.kind),
      teeth: this.teeth, patched: this.patches.list(), ok: w.violation === null, violation: w.violation, traceHash: w.traceHash(), events: w.eventsFired,
      simMs: w.now, livenessMs, livenessBoundMs: bound.boundMs, injected: this.injected, acks: this.checkers.acks,
      leftFailed: this.checkers.excusedGroups.size,
      backups: { frozen: this.checkers.backupsFrozen, thawedInTime: this.checkers.backupsThawedInTime },
      lastTrace: w.lastTrace(80),
    };
  }

  // ---- setup ----

  private coordinatorMachine(): Machine | null {
    const name = this.disk.coordinator.node;
    const m = this.machines.find((x) => x.name === name);
    return m?.node && m.state !== 'down' && m.node.isCoordinator() ? m : null;
  }

  private async setup(): Promise<void> {
    const w = this.world;
    const deadline = w.now + setupMaxMs;
    const allJoined = () => this.coordinatorMachine() !== null && this.machines.every((m) => this.checkers.config.nodes[m.name]);
    await w.run(deadline, allJoined);
    const pending = new Set<number>();
    for (let g = 0; g < this.groups; g++) pending.add(g);
    while (pending.size > 0 && w.now < deadline && !w.violation) {
      for (const g of [...pending]) {
        this.commit(this.newGroupUpdates(`g${g + 1}`), (ok) => { if (ok) pending.delete(g); });
      }
      await w.run(w.now + 500, () => pending.size === 0);
    }
    if (pending.size > 0 && !w.violation) w.fail(`LIVENESS setup: ${pending.size} group(s) could not be created within ${setupMaxMs} ms without faults`);
    this.groupSeq = this.groups;
    // Let the groups come online before the faults begin (not checked: liveness is checked after the faults).
    await w.run(w.now + 2_000);
  }

  private newGroupUpdates(group: GroupName): ConfigUpdate[] {
    const rng = this.rng;
    const names = this.machines.map((m) => m.name);
    const updates: ConfigUpdate[] = [{
      op: 'group-create', group, preferredOwners: rng.subset(names, 0.6),
      possibleOwners: rng.chance(0.25) ? rng.subset(names, 0.7) : [],
      failoverThreshold: rng.chance(0.5) ? null : rng.range(1, 6), failoverPeriodMs: rng.pick([10_000, 60_000, 6 * 3_600_000]),
      failback: this.randomFailback(),
    }];
    const count = rng.range(1, 4);
    const made: string[] = [];
    for (let i = 0; i < count; i++) {
      const name = `r${++this.resourceSeq}`;
      const dependsOn = made.filter(() => rng.chance(0.4));
      updates.push({
        op: 'resource-create', resource: name, group, type: 'process', desired: 'online', dependsOn,
        priv: { command: '/usr/bin/sim-app', probe: 'tcp:127.0.0.1:1', ...this.randomWriter() }, props: this.randomProps(),
      });
      made.push(name);
    }
    return updates;
  }

  /** Half the resources are backup writers (freeze by SIGSTOP, each action bounded). */
  private randomWriter(): Record<string, string | number> {
    return this.rng.chance(0.5) ? { freezeSignal: 'SIGSTOP', freezeTimeoutMs: this.rng.range(200, 2_000) } : {};
  }

  private randomFailback(): FailbackPolicy {
    const r = this.rng.int(4);
    if (r === 0) return { mode: 'immediate' };
    if (r === 1) return { mode: 'window', startHour: this.rng.range(0, 23), endHour: this.rng.range(0, 23) };
    return { mode: 'never' };
  }

  private randomProps(): Record<string, number | string> {
    const rng = this.rng;
    return {
      looksAliveIntervalMs: rng.range(100, 1_000), isAliveIntervalMs: rng.range(300, 3_000),
      pendingTimeoutMs: rng.range(500, 4_000), restartThreshold: rng.range(0, 3), restartPeriodMs: rng.pick([5_000, 30_000, 900_000]),
      restartDelayMs: rng.range(0, 500), stopGraceMs: rng.range(50, 1_000),
      restartAction: rng.chance(0.9) ? 'restart-failover' : rng.pick(['restart', 'none']),
    };
  }

  // ---- operator (through the coordinator, as the API forwards writes to it) ----

  /** Run `fn` inside the coordinator's process, as an API request would (held while it is paused). */
  private atCoordinator(what: string, fn: (m: Machine) => void): boolean {
    const m = this.coordinatorMachine();
    if (!m || !m.proc) {
      this.world.trace('operator', `${what}: error[NO_COORDINATOR]`);
      return false;
    }
    this.world.schedule(this.rng.real(0.1, 2), m.proc, 'io', () => { if (m.node) fn(m); });
    return true;
  }

  private commit(updates: ConfigUpdate[], done?: (ok: boolean) => void): void {
    const what = updates.map(describeUpdate).join('; ');
    const sent = this.atCoordinator(what, (m) => {
      const node = m.node!;
      void node.commit(updates).then((res) => {
        if (res.ok) {
          this.world.trace('operator', `ok seq ${res.value} (${m.name}): ${what}`);
          this.checkers.acknowledged(updates, res.value);
        } else {
          this.world.trace('operator', `error[${res.error.code}] (${m.name}): ${what}: ${res.error.message}`);
          if (res.error.code === 'INTERNAL') this.count(`operator-error-INTERNAL`);
        }
        done?.(res.ok);
      });
    });
    if (!sent) done?.(false);
  }

  private operatorAction(): void {
    const rng = this.rng;
    const c = this.checkers.config;
    const groups = Object.keys(c.groups);
    const resources = Object.keys(c.resources);
    const names = this.machines.map((m) => m.name);
    const action = rng.int(13);
    this.count(`operator-${action}`);
    if (action === 0 && groups.length > 0) {
      const g = rng.pick(groups);
      const target = rng.chance(0.3) ? null : rng.pick(names);
      this.atCoordinator(`move ${g} to ${target ?? 'best other node'}`, (m) => {
        void m.node!.requestMove(g, target).then((r) =>
          this.world.trace('operator', `move ${g} to ${target ?? '(any)'}: ${r.ok ? `ok ${r.value}` : `error[${r.error.code}]`}`));
      });
    } else if (action === 1) {
      const n = rng.pick(names);
      this.commit([{ op: 'node-pause', node: n, paused: rng.chance(0.4) }]);
    } else if (action === 2) {
      const n = rng.pick(names);
      this.commit([{ op: 'node-pause', node: n, paused: true }], (ok) => {
        if (ok) this.atCoordinator(`drain ${n}`, (m) => { const r = m.node!.drain(n); this.world.trace('operator', `drain ${n}: ${r.ok ? 'ok' : `error[${r.error.code}]`}`); });
      });
    } else if (action === 3 && groups.length > 0) {
      const g = rng.pick(groups);
      const u: ConfigUpdate = { op: 'group-set', group: g };
      const which = rng.int(4);
      if (which === 0) u.preferredOwners = rng.subset(names, 0.6);
      else if (which === 1) u.possibleOwners = rng.chance(0.4) ? [] : rng.subset(names, 0.7);
      else if (which === 2) u.failback = this.randomFailback();
      else u.failoverThreshold = rng.chance(0.5) ? null : rng.range(0, 5);
      this.commit([u]);
    } else if (action === 4 && resources.length > 0) {
      this.commit([{ op: 'resource-set', resource: rng.pick(resources), props: this.randomProps() as never }]);
    } else if (action === 5 && resources.length > 0) {
      this.commit([{ op: 'resource-desired', resource: rng.pick(resources), desired: rng.chance(0.7) ? 'online' : 'offline' }]);
    } else if (action === 6 && groups.length > 0) {
      const g = rng.pick(groups);
      const desired = rng.chance(0.75) ? 'online' : 'offline';
      if (desired === 'online') this.atCoordinator(`clear failed ${g}`, (m) => m.node!.clearFailed(g));
      this.commit([{ op: 'group-desired', group: g, desired }]);
    } else if (action === 7) {
      this.createOrDelete();
    } else if (action === 8 && resources.length > 0) {
      this.failResource(rng.pick(resources));
    } else if (action === 9 && resources.length > 1) {
      const r = rng.pick(resources);
      const res = c.resources[r]!;
      const sameGroup = resources.filter((x) => c.resources[x]!.group === res.group && x !== r);
      if (res.dependsOn.length > 0 && rng.chance(0.5)) this.commit([{ op: 'resource-remove-dep', resource: r, dependsOn: rng.pick(res.dependsOn) }]);
      else if (sameGroup.length > 0) this.commit([{ op: 'resource-add-dep', resource: r, dependsOn: rng.pick(sameGroup) }]);
    } else if (action === 10) {
      this.commit([{ op: 'node-pause', node: rng.pick(names), paused: false }]);
    } else if (action >= 11 && groups.length > 0) {
      this.backup(rng.pick(groups));
    }
  }

  /**
   * `cluster backup freeze G --timeout L` at the group's owner (the API forwards it there), then
   * `cluster backup thaw ID` at once, after a while (before or after the limit), or never.
   */
  private backup(group: GroupName): void {
    const rng = this.rng;
    const owner = this.disk.ownership.get(group)?.node ?? null;
    const m = this.machines.find((x) => x.name === owner);
    const limitMs = rng.range(300, 3_000);
    const r = rng.real(0, 1);
    const thawAfterMs = r < 0.2 ? null : r < 0.5 ? 0 : rng.real(0, limitMs * 1.3);
    if (!m || !m.proc) {
      this.world.trace('operator', `backup freeze ${group}: error[NODE_NOT_UP] (owner ${owner ?? 'none'})`);
      return;
    }
    this.world.schedule(rng.real(0.1, 2), m.proc, 'io', () => {
      const node = m.node;
      if (!node) return;
      const nowMs = m.clock.nowMs();
      const ans = node.backups.freeze(group, limitMs);
      if (!ans.view) {
        this.world.trace('operator', `backup freeze ${group} --timeout ${limitMs}ms (${m.name}): error[${ans.error?.code ?? '?'}]`);
        return;
      }
      const id = ans.view.id;
      this.checkers.backupStarted(id, m, limitMs, nowMs);
      this.world.trace('operator', `backup freeze ${group} --timeout ${limitMs}ms (${m.name}): ${id} ${ans.view.state}; thaw ${thawAfterMs === null ? 'never' : `after ${Math.round(thawAfterMs)} ms`}`);
      if (thawAfterMs === null) return;
      const thaw = () => {
        if (!m.node || !m.proc) return;
        this.checkers.thawDelivered(id, m.clock.nowMs());
        const t = m.node.backups.thaw(id);
        this.world.trace('operator', `backup thaw ${id}: ${t.error ? `error[${t.error.code}]` : t.view?.state ?? '?'}`);
      };
      if (thawAfterMs === 0) thaw();
      else this.world.schedule(thawAfterMs, m.proc, 'io', thaw);
    });
  }

  private createOrDelete(): void {
    const rng = this.rng;
    const c = this.checkers.config;
    if (rng.chance(0.5)) {
      if (rng.chance(0.3) || Object.keys(c.groups).length === 0) {
        this.commit(this.newGroupUpdates(`g${++this.groupSeq}`));
      } else {
        const g = rng.pick(Object.keys(c.groups));
        const name = `r${++this.resourceSeq}`;
        const deps = Object.values(c.resources).filter((r) => r.group === g && rng.chance(0.3)).map((r) => r.name);
        this.commit([{ op: 'resource-create', resource: name, group: g, type: 'process', desired: 'online', dependsOn: deps, priv: { command: '/usr/bin/sim-app', ...this.randomWriter() }, props: this.randomProps() as never }]);
      }
      return;
    }
    // As the API: a resource is deleted only once it is Offline in the coordinator's view; a group once it is empty.
    const coord = this.coordinatorMachine();
    if (!coord?.node) return;
    const views = coord.node.currentReports();
    const deletable = Object.values(c.resources).filter((r) => {
      if (Object.values(c.resources).some((x) => x.dependsOn.includes(r.name))) return false;
      const owner = coord.node!.snapshot().ownership[r.group]?.node;
      const state = owner ? views[owner]?.groups[r.group]?.resources[r.name]?.state ?? 'Offline' : 'Offline';
      return state === 'Offline';
    });
    const emptyGroups = Object.keys(c.groups).filter((g) => !Object.values(c.resources).some((r) => r.group === g));
    if (emptyGroups.length > 0 && rng.chance(0.5)) this.commit([{ op: 'group-delete', group: rng.pick(emptyGroups) }]);
    else if (deletable.length > 0) this.commit([{ op: 'resource-delete', resource: rng.pick(deletable).name }]);
    else {
      const r = rng.pick(Object.keys(c.resources).length > 0 ? Object.keys(c.resources) : ['-']);
      if (r !== '-') this.commit([{ op: 'resource-desired', resource: r, desired: 'offline' }]);
    }
  }

  /** `cluster res R /fail`: on the node that runs it. */
  private failResource(resource: string): void {
    const group = this.checkers.config.resources[resource]?.group;
    const owner = group ? this.disk.ownership.get(group)?.node : null;
    const m = this.machines.find((x) => x.name === owner);
    if (!m?.proc || !m.node) return;
    this.world.schedule(this.rng.real(0.1, 2), m.proc, 'io', () => {
      const r = m.node?.failResource(resource);
      this.world.trace('operator', `fail ${resource} on ${m.name}: ${r?.ok ? 'ok' : `error[${r?.error.code}]`}`);
    });
  }

  // ---- faults ----

  /** The machine's fencing path is failing already: its monitor hangs, or its clusterd is stalled or cut off from its lease. */
  private fencingPathDown(m: Machine): boolean {
    return m.host?.monitorProc?.state === 'paused' || m.proc?.state === 'paused' || m.link.down || m.link.leaseDown;
  }

  private inject(kind: FaultKind): void {
    const rng = this.rng;
    const w = this.world;
    // Half of the node faults aim at the coordinator: its stalls and losses are the ones that matter most.
    const coordinator = this.coordinatorMachine();
    const aimed = ['crash', 'pause', 'store-slow', 'store-down', 'lease-down'].includes(kind) && coordinator !== null && rng.chance(0.5);
    const m = aimed ? coordinator : rng.pick(this.machines);
    const later = (ms: number, fn: () => void) => w.schedule(ms, null, 'io', () => { if (!this.healing) fn(); });
    // One failure at a time on a machine's fencing path (see defaultFaultKinds).
    if (['crash', 'pause', 'store-down', 'lease-down', 'monitor'].includes(kind) && this.fencingPathDown(m)) return;
    this.count(kind);
    switch (kind) {
      case 'crash':
        if (m.crash()) later(rng.real(50, 3_000), () => m.start());
        return;
      case 'poweroff':
        if (m.powerOff()) later(rng.real(200, 5_000), () => m.start());
        return;
      case 'pause': {
        const proc = m.proc;
        if (!proc || proc.state !== 'running') return;
        // Short stalls, stalls past the self-fence deadline, and stalls past the lease TTL; half of
        // them strike at the node's next store call, in the middle of a cycle (GC pauses come with
        // busy work), the others at once, wherever the node is.
        const ms = rng.pick([rng.real(50, 700), rng.real(800, 1_400), rng.real(1_400, 5_000)]);
        const pause = () => {
          if (proc.state !== 'running' || this.healing) return;
          if (this.fencingPathDown(m)) return; // one failure at a time on the fencing path
          w.trace(proc.id, `FAULT pause (SIGSTOP) for ${Math.round(ms)} ms`);
          w.pause(proc);
          w.schedule(ms, null, 'io', () => { if (proc.state === 'paused') { w.trace(proc.id, 'resume (SIGCONT)'); w.resume(proc); } });
        };
        if (rng.chance(0.5)) pause();
        else {
          // At one of the next few calls: before a cycle's reads, between them, or before its writes.
          let calls = rng.range(1, 8);
          m.link.onCall = () => { if (--calls === 0) { m.link.onCall = null; pause(); } };
        }
        return;
      }
      case 'monitor': {
        const mon = m.host?.monitorProc;
        if (!mon || !mon.alive) return;
        if (rng.chance(0.5)) {
          w.trace(mon.id, 'FAULT monitor crashes');
          m.host!.crashMonitor();
        } else {
          if (this.fencingPathDown(m)) return; // one failure at a time on the fencing path
          const ms = rng.real(100, 6_000);
          w.trace(mon.id, `FAULT monitor hangs for ${Math.round(ms)} ms`);
          w.pause(mon);
          w.schedule(ms, null, 'io', () => { if (mon.state === 'paused') w.resume(mon); });
        }
        return;
      }
      case 'store-slow': {
        const ms = rng.real(20, 600);
        w.trace(m.name, `FAULT store link slow (+${Math.round(ms)} ms)`);
        m.link.slowMs = ms;
        later(rng.real(500, 5_000), () => { m.link.slowMs = 0; w.trace(m.name, 'store link fast again'); });
        return;
      }
      case 'store-down':
        w.trace(m.name, 'FAULT cut off from the quorum store (every call fails)');
        m.link.down = true;
        later(rng.real(200, 5_000), () => { m.link.down = false; w.trace(m.name, 'store link back'); });
        return;
      case 'lease-down':
        w.trace(m.name, 'FAULT lease slot writes and reads fail (the database still works)');
        m.link.leaseDown = true;
        later(rng.real(200, 5_000), () => { m.link.leaseDown = false; w.trace(m.name, 'lease slots back'); });
        return;
      case 'db-down':
        w.trace(m.name, 'FAULT quorum database unavailable (lease slots still work)');
        m.link.dbDown = true;
        later(rng.real(200, 5_000), () => { m.link.dbDown = false; w.trace(m.name, 'quorum database back'); });
        return;
      case 'disk-full':
        w.trace('store', 'FAULT quorum disk full');
        this.disk.full = true;
        later(rng.real(200, 5_000), () => { this.disk.full = false; w.trace('store', 'quorum disk has room again'); });
        return;
      case 'resource':
        this.resourceFault(m);
        return;
      case 'clock': {
        const jump = rng.pick([-1, 1]) * rng.range(60_000, 12 * 3_600_000);
        m.clock.wallOffsetMs += jump;
        w.trace(m.name, `FAULT wall clock jumps ${jump > 0 ? '+' : ''}${Math.round(jump / 60_000)} min`);
        return;
      }
      case 'load': {
        m.clock.loadLagMs = rng.real(20, 250);
        w.trace(m.name, `FAULT loaded machine: timers up to ${Math.round(m.clock.loadLagMs)} ms late`);
        later(rng.real(500, 5_000), () => { m.clock.loadLagMs = 0; });
        return;
      }
      case 'operator':
        this.operatorAction();
        return;
      case 'fence-loss': {
        // The next fence this clusterd sends meets a monitor that is lost with it (the fence dies
        // unanswered), or finds none running (lost a moment before): either way its answer must come.
        // The fence comes from a stall of clusterd past its self-fence deadline, made here.
        const host = m.host;
        const proc = m.proc;
        if (!host || !proc || proc.state !== 'running' || this.fencingPathDown(m)) return;
        host.fenceFault = rng.pick(['lose-monitor', 'no-monitor'] as const);
        const ms = rng.real(900, 1_300);
        w.trace(proc.id, `FAULT pause (SIGSTOP) for ${Math.round(ms)} ms; the fence that follows ${host.fenceFault === 'lose-monitor' ? 'is lost with the monitor' : 'finds no monitor running'}`);
        w.pause(proc);
        w.schedule(ms, null, 'io', () => { if (proc.state === 'paused') { w.trace(proc.id, 'resume (SIGCONT)'); w.resume(proc); } });
        return;
      }
      case 'double-fault': {
        // The monitor hangs and, meanwhile, its clusterd stalls, dies or is cut off from the
        // store: nothing on the machine can fence.
        const mon = m.host?.monitorProc;
        const proc = m.proc;
        if (!proc || !mon || proc.state !== 'running' || mon.state !== 'running') return;
        const ms = rng.real(1_500, 5_000);
        const second = rng.pick(['stalls', 'is killed', 'is cut off from the store']);
        w.trace(proc.id, `FAULT the monitor hangs for ${Math.round(ms)} ms and clusterd ${second}`);
        w.pause(mon);
        w.schedule(ms, null, 'io', () => w.resume(mon));
        if (second === 'stalls') {
          w.pause(proc);
          w.schedule(ms, null, 'io', () => w.resume(proc));
        } else if (second === 'is killed') {
          if (m.crash()) later(ms + rng.real(50, 1_000), () => m.start());
        } else {
          m.link.down = true;
          later(ms, () => { m.link.down = false; });
        }
        return;
      }
      case 'shutdown':
        m.shutdown(() => { if (!this.healing) m.scheduleRestart(rng.real(100, 3_000)); else m.start(); });
        return;
      case 'recovery':
        this.recoveryFault(m);
        return;
    }
  }

  // ---- damaged databases and the operator's recovery (KB257905) ----

  /**
   * Damage in the quorum store (a log record after the checkpoint, the checkpoint, or the whole
   * database unreadable) that the operator answers a little later, half the time, with a restart
   * under a recovery switch; damage in one machine's own copy (a torn tail, a record, the
   * checkpoint) seen at its next start after a power cut; or an operator's restart of one machine
   * under a switch on an intact store.
   */
  private recoveryFault(m: Machine): void {
    const rng = this.rng;
    const w = this.world;
    const disk = this.disk;
    const kind = rng.int(5);
    this.count(`recovery-${kind}`);
    if (kind <= 2) {
      if (disk.unreadable) return;
      if (kind === 2) {
        disk.unreadable = true;
        w.trace('store', 'FAULT the quorum database cannot be read (quick_check fails); the lease file still works');
      } else {
        const where = kind === 0 && disk.log.length > 0 ? { record: rng.int(disk.log.length) } : 'checkpoint' as const;
        w.trace('store', `FAULT damaged ${disk.damage(where)}`);
      }
      if (rng.chance(0.5)) w.schedule(rng.real(500, 4_000), null, 'io', () => { if (!this.healing) this.operatorRecovers(false); });
      return;
    }
    if (kind === 3) {
      const damage = rng.pick<LocalDamage>(['torn-tail', 'record', 'checkpoint']);
      if (!m.localDb.damage(damage, (n) => rng.int(n))) return;
      w.trace(m.name, `FAULT the node's own copy is damaged: ${damage}; the machine loses power`);
      if (m.powerOff()) w.schedule(rng.real(200, 3_000), null, 'io', () => { if (!this.healing) m.start(); });
      return;
    }
    // On a damaged store the operator follows the runbook; on an intact one, any node may be restarted with a switch.
    if (!disk.intact) this.operatorRecovers(false);
    else this.restartWithSwitch(m, rng.chance(0.7) ? { resetQuorumLog: true } : { noQuorumLogging: true });
  }

  /**
   * The operator's runbook for a damaged store: on the node with the newest copy of the store's
   * history (as `clusterd quorum-log verify --data-dir` shows), or now and then on another node,
   * `clusterd start --reset-quorum-log` (the only way for a database that cannot be read), or
   * `--no-quorum-logging`. At heal always the newest copy and a reset.
   */
  private operatorRecovers(atHeal: boolean): void {
    const disk = this.disk;
    if (disk.intact) return;
    const rng = this.rng;
    const copies = this.machines.filter((x) => x.localDb.seq >= 0);
    const onLine = copies.filter((x) => x.localDb.content()!.history.id === disk.history.id);
    const pool = onLine.length > 0 ? onLine : copies;
    // "The node that was up last": its copy has seen the newest terms and epochs (floor), then the newest seq.
    const upLast = (x: Machine) => (x.state === 'up' || x.state === 'stopping' ? Infinity : x.lastUpMs);
    const newer = (a: Machine, b: Machine) => (upLast(a) === upLast(b) ? 0 : upLast(a) > upLast(b) ? 1 : -1) || a.localDb.seq - b.localDb.seq;
    const newest = pool.reduce<Machine | null>((a, x) => (a === null || newer(x, a) > 0 ? x : a), null);
    const m = atHeal || disk.unreadable || rng.chance(0.5) ? newest : rng.pick(this.machines);
    if (!m) return;
    const recovery: Recovery = atHeal || disk.unreadable || rng.chance(0.7) ? { resetQuorumLog: true } : { noQuorumLogging: true };
    this.world.trace('operator', `the quorum store is damaged: ${m.name}${m === newest ? ' (up last, newest copy)' : ''} restarts with ${recovery.resetQuorumLog ? '--reset-quorum-log' : '--no-quorum-logging'}`);
    this.restartWithSwitch(m, recovery);
    // At heal, until the store is whole again.
    if (atHeal) this.world.schedule(5_000, null, 'io', () => this.operatorRecovers(true));
  }

  /** QUORUM_NODES_RUNNING's hint: every other clusterd is stopped (here: powered off) while `m` rebuilds the store, and started again later. */
  private othersStopped(m: Machine): void {
    for (const x of this.machines) {
      if (x === m || !x.proc) continue;
      this.world.trace('operator', `${x.name}: stopped (powered off) while the store is rebuilt`);
      x.powerOff();
      this.world.schedule(this.rng.real(2_000, 4_000), null, 'io', () => x.start());
    }
  }

  /** kill -9 of clusterd on `m` (if it runs), then `clusterd start` with the switch, once. */
  private restartWithSwitch(m: Machine, recovery: Recovery): void {
    if (m.state === 'stopping' || (!this.healing && this.fencingPathDown(m))) return;
    if (m.state !== 'down') m.crash();
    this.world.schedule(this.rng.real(50, 500), null, 'io', () => {
      // A supervisor's restart may have begun meanwhile: the operator stops that one too.
      if (m.state === 'starting') m.crash();
      if (m.state !== 'down') return;
      if (m.restartEvent) m.restartEvent.cancelled = true;
      m.start(recovery);
    });
  }

  /**
   * A start was refused: a rebuild refused while other nodes run is done again once they are
   * stopped, as QUORUM_NODES_RUNNING's hint says; a copy of a history the store left is moved
   * aside, as HISTORY_DIVERGED's hint says (to follow the store).
   */
  private refused(m: Machine, code: string): void {
    if (code === 'QUORUM_NODES_RUNNING') {
      this.world.trace('operator', `${m.name}: error[QUORUM_NODES_RUNNING]: stopping clusterd on the other nodes, then --reset-quorum-log again`);
      this.othersStopped(m);
      this.restartWithSwitch(m, { resetQuorumLog: true });
      return;
    }
    if (code !== 'HISTORY_DIVERGED') return;
    this.world.trace('operator', `${m.name}: error[HISTORY_DIVERGED]: moving its copy aside to follow the store`);
    m.localDb.moveAside();
  }

  private resourceFault(m: Machine): void {
    const rng = this.rng;
    const w = this.world;
    const resources = Object.keys(this.checkers.config.resources);
    if (resources.length === 0) return;
    const r = rng.pick(resources);
    const where = rng.chance(0.5) ? m.name : null;
    const until = rng.real(200, 5_000);
    const kind = rng.int(7);
    const restore = () => { if (!this.healing) this.apps.override(r, where, { failStart: false, hangStart: false, hangStop: false, crashAfterMs: null, probeFails: false, spawnDelayMs: 0 }); };
    if (kind === 0) {
      const live = this.procs.onMachine(m.name).filter((p) => p.resource === r);
      for (const p of live) this.procs.exit(p, 1, null, 'FAULT crashed');
      return;
    }
    const change = [
      {}, { failStart: true }, { hangStart: true }, { hangStop: true }, { crashAfterMs: rng.real(30, 1_000) }, { probeFails: true },
      { spawnDelayMs: rng.real(200, 3_000) },
    ][kind]!;
    w.trace(where ?? 'apps', `FAULT resource ${r}${where ? ` on ${where}` : ''}: ${JSON.stringify(change)} for ${Math.round(until)} ms`);
    this.apps.override(r, where, change);
    if ('hangStop' in change) for (const p of this.procs.procs.values()) if (p.resource === r && (!where || p.machine === where)) p.ignoresTerm = true;
    w.schedule(until, null, 'io', restore);
  }

  // ---- heal and liveness ----

  private heal(): void {
    const w = this.world;
    this.healing = true;
    w.trace('sim', 'HEAL: faults stop; every node runs, links and disks heal, applications behave');
    this.disk.full = false;
    this.apps.clearOverrides();
    for (const p of this.procs.procs.values()) p.ignoresTerm = false;
    for (const m of this.machines) {
      m.link.down = false;
      m.link.dbDown = false;
      m.link.leaseDown = false;
      m.link.onCall = null;
      m.link.slowMs = 0;
      m.clock.loadLagMs = 0;
      if (m.proc?.state === 'paused') w.resume(m.proc);
      const mon = m.host?.monitorProc;
      if (mon?.state === 'paused') w.resume(mon);
      if (m.state === 'down') m.start();
    }
    // A store still damaged is the operator's to recover (nothing else repairs a database that cannot be read).
    w.schedule(1_000, null, 'io', () => this.operatorRecovers(true));
  }

  /** After heal: the operator's runbook retries groups left Failed (`cluster group G /online` clears it). */
  private clearFailedGroups(): void {
    const m = this.coordinatorMachine();
    if (!m?.proc) return;
    this.world.schedule(0.5, m.proc, 'io', () => { for (const g of Object.keys(this.checkers.config.groups)) m.node?.clearFailed(g); });
  }

  private async liveness(boundMs: number): Promise<number | null> {
    const w = this.world;
    this.heal();
    const healedAt = w.now;
    let reachedAt: number | null = null;
    // Every fence gets its answer (the host contract): a node whose fence is never answered stays fencing and starts nothing again.
    const unanswered = () => this.machines.filter((m) => m.host?.fenceUnanswered === true).map((m) => m.name);
    const allOnline = () => {
      if (this.machines.some((m) => m.state !== 'up')) return false;
      if (unanswered().length > 0) return false;
      return this.checkers.groupsThatMustRun().every((g) => this.checkers.onlineAt(g) !== null);
    };
    while (w.now < healedAt + boundMs && !w.violation) {
      this.clearFailedGroups();
      await w.run(Math.min(w.now + 1_000, healedAt + boundMs), () => {
        if (allOnline()) reachedAt = w.now;
        return reachedAt !== null;
      });
      if (reachedAt !== null) break;
    }
    if (w.violation) return null;
    if (reachedAt === null) {
      const down = this.machines.filter((m) => m.state !== 'up').map((m) => `${m.name} ${m.state}`);
      const fences = unanswered();
      if (fences.length > 0) w.fail(`LIVENESS a fence was never answered on ${fences.join(', ')} ${boundMs} ms after the faults stopped: the node stays fencing and starts nothing`);
      else w.fail(`LIVENESS not every group Online ${boundMs} ms after the faults stopped${down.length ? ` (nodes not up: ${down.join(', ')})` : ''}: ${this.checkers.notOnline().join(' || ')}`);
      return null;
    }
    const ms = (reachedAt as number) - healedAt;
    w.trace('sim', `every group that must run is Online ${Math.round(ms)} ms after heal (bound ${boundMs} ms)`);
    return ms;
  }
}
