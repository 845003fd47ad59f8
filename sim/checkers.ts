// Safety and liveness checkers. They read the simulation's ground truth (the process table,
// the store's state) and every node's own picture, after every step (every delivered event):
//
// SAFETY
//  S1 no group has live processes on two machines at once (checked at every spawn, the only
//     moment it can begin; a paused node's processes are alive until something kills them);
//  S2 the coordinator term only grows, in the store and in every node's view;
//  S3 a group's epoch never goes back, and every change of owner carries a new epoch;
//  S4 every acknowledged configuration update (node.commit resolved ok) is in the quorum log at
//     the seq it was acknowledged with, and every record of the log applies;
//  S6 (DESIGN rule 4) no write that depends on leadership (ownership, log append, checkpoint)
//     lands under a term other than the coordinator's current term;
//  B1 (issue 7) no spurious freeze timeout: a backup whose thaw reached its node before the
//     freeze limit never fails with BACKUP_FREEZE_TIMEOUT;
//  B2 (issue 7) no writer outlives its freeze limit frozen: a frozen process is thawed (or gone)
//     within the limit + frozenSlackMs of its backup's start;
//  S5 every node's configuration is exactly the fold of the log up to its appliedSeq (so an
//     acknowledged update survives in every node that has applied that far), appliedSeq never
//     goes back within an incarnation, and a new incarnation loads no less than the store held
//     when it started and than the machine had applied before (both within one history);
//  S7 a recovery that starts a new history (--reset-quorum-log, --no-quorum-logging) keeps every
//     intact record: it forks at or after the store's last intact seq (when it follows the
//     store's history) and this node's own copy, and its checkpoint is that history's fold there;
//  S8 a seq is never seen with two contents within one history: every store write, every node's
//     configuration and every node copy (history, seq, configuration) matches the fold of that
//     history (or, up to its fork, of the one it came from); a copy never claims a seq of a
//     history that never held it;
//  S9 terms and epochs never go back across any recovery, a rebuilt store included: no term is
//     elected twice, and every new assignment of a group carries an epoch above every epoch that
//     group ever had.
// LIVENESS
//  L1 once faults stop, every group that needs to run and has a healthy possible owner is Online
//     (every needed resource Online in its owner's state, with a live process there) within the
//     bound computed by `livenessBoundMs`.

import { applyUpdate, dependencyClosure } from '../src/core/config.js';
import type { ClusterConfig, ConfigUpdate, GroupName } from '../src/core/types.js';
import type { Timing } from '../src/core/timing.js';
import type { CoordinatorRecord, LogRecord, OwnershipRecord, RecoverOptions } from '../src/store/types.js';
import type { History } from '../src/core/load-plan.js';
import type { SimProcess, ProcessTable } from './sim-host.js';
import type { Machine } from './sim-node.js';
import type { SimDisk, StoreObserver } from './sim-store.js';
import type { World } from './world.js';

/**
 * How long past its freeze limit a writer may stay frozen: the thaw call's own timeout (at most
 * 2 s in the simulation), 1 s of deadlock detection if the monitor hangs, the self-fence
 * deadline (a paused clusterd's monitor fences, and a fence thaws first), and 2 s of a loaded
 * event loop.
 */
export const frozenSlackMs = 6_000;

interface BackupSeen {
  machine: string;
  limitMs: number;
  startedWorldMs: number;
  /** The freeze limit on the owner's monotonic clock. */
  deadlineNodeMs: number;
  /** A thaw reached the owner before the limit (node clock). */
  thawInTime: boolean;
}

/** One history of the cluster database: where it forked from, and the configuration at every seq seen in it (JSON). */
interface HistorySeen {
  parent: { id: string; forkSeq: number } | null;
  configs: Map<number, string>;
}

interface NodeSeen {
  incarnation: string;
  term: number;
  appliedSeq: number;
  config: ClusterConfig | null;
}

export class Checkers implements StoreObserver {
  /** Every history seen, with the fold at each seq (the truth every node and copy must match). */
  private readonly histories = new Map<string, HistorySeen>();
  private refConfig: ClusterConfig;
  private readonly seen = new Map<string, NodeSeen>();
  /** Every record ever appended, by history and seq (checkpoints fold the store's log away; this keeps them). */
  private readonly appended = new Map<string, string>();
  /** Seqs written as whole checkpoints by --no-quorum-logging (history:seq): acknowledged without a log record. */
  private readonly checkpointOnly = new Set<string>();
  /** S9: every term elected (with its node), and the highest epoch each group ever had, across rebuilds of the store. */
  private readonly termsElected = new Map<number, string>();
  private readonly epochMax = new Map<GroupName, number>();
  /** S8: the copy version last checked, per machine. */
  private readonly copyChecked = new Map<string, number>();
  recoveries = 0;
  acks = 0;
  private readonly backups = new Map<string, BackupSeen>();
  backupsFrozen = 0;
  backupsThawedInTime = 0;
  /** Groups counted Online with a resource left Failed by its restart policy (see onlineAt). */
  readonly excusedGroups = new Set<GroupName>();

  constructor(private readonly world: World, private readonly disk: SimDisk, private readonly procs: ProcessTable, private readonly machines: Machine[]) {
    const cp = disk.readCheckpoint();
    if (!cp.ok || !cp.value) throw new Error('the simulated store is initialized before the checkers start');
    this.refConfig = cp.value.config;
    this.histories.set(disk.history.id, { parent: null, configs: new Map([[cp.value.seq, JSON.stringify(this.refConfig)]]) });
    procs.onSpawn = (p) => this.onSpawn(p);
    disk.observer = this;
  }

  /** The fold at `seq` of history `id`, or of the history it forked from when `seq` is at or before the fork. */
  refAt(id: string, seq: number): string | undefined {
    for (let h = this.histories.get(id), limit = Infinity; h; ) {
      if (seq <= limit) {
        const c = h.configs.get(seq);
        if (c !== undefined) return c;
      }
      if (!h.parent || seq > h.parent.forkSeq) return undefined;
      limit = h.parent.forkSeq;
      h = this.histories.get(h.parent.id);
    }
    return undefined;
  }

  private historyOf(id: string): HistorySeen {
    let h = this.histories.get(id);
    if (!h) {
      h = { parent: null, configs: new Map() };
      this.histories.set(id, h);
    }
    return h;
  }

  /** S8: `json` at `seq` of history `id`: the same as anything seen there before. */
  private record(id: string, seq: number, json: string, what: string): void {
    const before = this.refAt(id, seq);
    if (before !== undefined && before !== json) {
      this.world.fail(`SAFETY S8 ${what}: seq ${seq} of history ${id} is seen with two contents: ${firstDifference(JSON.parse(before) as ClusterConfig, JSON.parse(json) as ClusterConfig)}`);
    }
    this.historyOf(id).configs.set(seq, json);
  }

  /** The configuration the store holds now (the fold of the whole log). */
  get config(): ClusterConfig {
    return this.refConfig;
  }

  // ---- S1 ----

  private onSpawn(p: SimProcess): void {
    const elsewhere = [...this.procs.procs.values()].filter((q) => q.group === p.group && q.machine !== p.machine);
    if (elsewhere.length === 0) return;
    const other = elsewhere.map((q) => `${q.machine} (${q.resource} pid ${q.pid}, epoch ${q.epoch})`).join(', ');
    this.world.fail(`SAFETY split brain: group ${p.group} starts on ${p.machine} (${p.resource} pid ${p.pid}, epoch ${p.epoch}) while it runs on ${other}`);
  }

  // ---- S2, S3 and S4 as the store changes ----

  coordinatorChanged(prev: CoordinatorRecord, next: CoordinatorRecord): void {
    this.world.trace('store', `coordinator term ${next.term}: ${next.node ?? '(none)'}`);
    if (next.term <= prev.term) this.world.fail(`SAFETY term went back in the store: ${prev.term} -> ${next.term}`);
    if (next.node === null) return;
    const before = this.termsElected.get(next.term);
    if (before !== undefined) this.world.fail(`SAFETY S9 term ${next.term} elected twice: ${before}, then ${next.node} (the store was rebuilt in between: its terms must start above every term used)`);
    this.termsElected.set(next.term, next.node);
  }

  ownershipWritten(term: number, prev: OwnershipRecord | undefined, next: OwnershipRecord | undefined, group: GroupName): void {
    if (!next) {
      this.world.trace('store', `ownership ${group} deleted (term ${term})`);
      return;
    }
    if (!prev || prev.node !== next.node || prev.epoch !== next.epoch || prev.phase !== next.phase) {
      this.world.trace('store', `ownership ${group} -> ${next.node ?? '(none)'} epoch ${next.epoch} ${next.phase} (term ${term})`);
    }
    const max = this.epochMax.get(group);
    this.epochMax.set(group, Math.max(max ?? next.epoch, next.epoch));
    if (next.node !== null && max !== undefined && next.epoch <= max && (!prev || prev.node !== next.node || prev.epoch !== next.epoch)) {
      this.world.fail(`SAFETY S9 group ${group} assigned to ${next.node} at epoch ${next.epoch}, not above epoch ${max} it had before${prev ? '' : ' (its record was lost with a rebuilt store)'}`);
    }
    if (!prev) return;
    if (next.epoch < prev.epoch) this.world.fail(`SAFETY epoch of group ${group} went back: ${prev.epoch} -> ${next.epoch} (term ${term})`);
    else if (next.node !== prev.node && next.epoch <= prev.epoch) {
      this.world.fail(`SAFETY group ${group} changed owner ${prev.node ?? '(none)'} -> ${next.node ?? '(none)'} without a new epoch (${prev.epoch} -> ${next.epoch})`);
    }
  }

  logAppended(records: LogRecord[]): void {
    const history = this.disk.history.id;
    for (const r of records) {
      const next = applyUpdate(this.refConfig, r.update);
      this.world.trace('store', `log seq ${r.seq} term ${r.term}: ${describeUpdate(r.update)}`);
      if (!next.ok) {
        this.world.fail(`SAFETY quorum log record ${r.seq} does not apply to the configuration before it: ${next.error.message}`);
        return;
      }
      this.refConfig = next.value;
      this.record(history, r.seq, JSON.stringify(next.value), `log record ${r.seq}`);
      this.appended.set(`${history}:${r.seq}`, JSON.stringify(r.update));
    }
  }

  /** S6: checked as the write lands, independently of the store's own term check. */
  leadershipWrite(what: string, term: number, currentTerm: number): void {
    if (term !== currentTerm) this.world.fail(`SAFETY ${what} landed under stale term ${term} (the coordinator term is ${currentTerm}): rule 4`);
  }

  /** S4: a checkpoint must hold exactly the fold up to its seq; a recovery must not drop acknowledged records. */
  checkpointWritten(kind: 'checkpoint' | 'recover', seq: number, config: ClusterConfig, headBefore: number): void {
    this.world.trace('store', `${kind} at seq ${seq} (head was ${headBefore})`);
    const json = JSON.stringify(config);
    const history = this.disk.history.id;
    if (kind === 'recover' && seq < headBefore) {
      this.world.fail(`SAFETY the quorum log was rebuilt at seq ${seq}, dropping records up to seq ${headBefore} (only an operator's --reset-quorum-log may)`);
    } else if (kind === 'recover' && seq > headBefore) {
      // A new history's checkpoint, or --no-quorum-logging's change written as a checkpoint: the new truth.
      this.refConfig = config;
      this.record(history, seq, json, 'recovery checkpoint');
    } else if (this.refAt(history, seq) !== json) {
      const ref = this.refAt(history, seq);
      this.world.fail(`SAFETY ${kind} at seq ${seq} differs from the fold of the log: ${ref === undefined ? `history ${history} never held seq ${seq}` : firstDifference(JSON.parse(ref) as ClusterConfig, config)}`);
    }
  }

  /** S7 as a recovery lands: what it keeps, and the history it starts. */
  recovering(machine: string | null, seq: number, config: ClusterConfig, opts: RecoverOptions, before: { head: number; intactThrough: number; readable: boolean; history: History }): void {
    const m = this.machines.find((x) => x.name === machine);
    const h = opts.history;
    this.world.trace('store', `recovery by ${machine ?? '?'} at seq ${seq}${h ? ` history ${h.id}${h.parents[0] ? ` (from ${h.parents[0].id} at seq ${h.parents[0].forkSeq})` : ''}` : ''}${opts.floor ? ` floor term ${opts.floor.term} epoch ${opts.floor.epoch}` : ''}; store head was ${before.head}, intact through ${before.intactThrough}`);
    if (h) this.checkpointOnly.add(`${h.id}:${seq}`);
    if (!h || this.histories.has(h.id)) return;
    this.recoveries++;
    const fork = h.parents[0];
    this.histories.set(h.id, { parent: fork ? { id: fork.id, forkSeq: fork.forkSeq } : null, configs: new Map() });
    if (!fork) return;
    if (fork.id === before.history.id && fork.forkSeq < before.intactThrough) {
      this.world.fail(`SAFETY S7 recovery by ${machine} drops intact records: its new history ${h.id} forks at seq ${fork.forkSeq}, but the store's records are intact through seq ${before.intactThrough}`);
      return;
    }
    const copy = m?.copyAtStart;
    if (copy && copy.history.id === fork.id && fork.forkSeq < copy.seq) {
      this.world.fail(`SAFETY S7 recovery by ${machine} drops intact records of its own copy: its new history ${h.id} forks at seq ${fork.forkSeq}, but its copy reached seq ${copy.seq}`);
      return;
    }
    const ref = this.refAt(fork.id, fork.forkSeq);
    if (ref !== JSON.stringify(config)) {
      this.world.fail(`SAFETY S7 recovery by ${machine} writes a configuration at seq ${seq} that is not the fold of history ${fork.id} at its fork seq ${fork.forkSeq}: ${ref === undefined ? 'that history never held that seq' : firstDifference(JSON.parse(ref) as ClusterConfig, config)}`);
    }
  }

  rebuilt(): void {
    this.world.trace('store', 'database set aside and made anew (term 0, no ownership, genesis history, seq 0)');
    this.refConfig = { name: this.disk.clusterName, nodes: {}, groups: {}, resources: {} };
    this.record(this.disk.history.id, 0, JSON.stringify(this.refConfig), 'rebuilt store');
  }

  leaseChanged(node: string, prev: { state: string; incarnation: string } | null, next: { state: string; incarnation: string }): void {
    if (prev && prev.incarnation === next.incarnation) this.world.trace('store', `lease ${node} ${next.state}`);
    else this.world.trace('store', `lease ${node} claimed by ${next.incarnation}`);
  }

  /** S4: an operator's commit resolved ok with `seq`. */
  acknowledged(updates: ConfigUpdate[], seq: number): void {
    this.acks++;
    const history = this.disk.history.id;
    if (this.checkpointOnly.has(`${history}:${seq}`)) return;
    const first = seq - updates.length + 1;
    updates.forEach((u, i) => {
      const payload = this.appended.get(`${history}:${first + i}`);
      if (payload !== JSON.stringify(u)) {
        this.world.fail(`SAFETY acknowledged update lost: seq ${first + i} should hold ${JSON.stringify(u)}, the log got ${payload ?? 'nothing'}`);
      }
    });
  }

  // ---- B1 and B2: backups ----

  /** The operator's freeze was accepted by `m` at `nodeNowMs` on its clock, with this limit. */
  backupStarted(id: string, m: Machine, limitMs: number, nodeNowMs: number): void {
    this.backupsFrozen += 1;
    this.backups.set(id, { machine: m.name, limitMs, startedWorldMs: this.world.now, deadlineNodeMs: nodeNowMs + limitMs, thawInTime: false });
  }

  /** The operator's thaw reached the backup's node at `nodeNowMs` on its clock. */
  thawDelivered(id: string, nodeNowMs: number): void {
    const b = this.backups.get(id);
    if (!b || nodeNowMs >= b.deadlineNodeMs) return;
    b.thawInTime = true;
    this.backupsThawedInTime += 1;
  }

  nodeEvent(m: Machine, e: { event: string; message?: string; data?: Record<string, unknown> }): void {
    // Nodes run with checkQuietCycles (node/quiet.ts): a part of a cycle that the quiet rule would
    // have skipped did something, so production would have missed it.
    if (e.event === 'CYCLE_ERROR' && e.message?.includes('invariant quiet-')) {
      this.world.fail(`QUIET a cycle on ${m.name} would have skipped work it had to do: ${e.message.split('\n')[0]}`);
      return;
    }
    if (e.event !== 'BACKUP_FREEZE_TIMEOUT') return;
    const id = String(e.data?.backup);
    if (this.backups.get(id)?.thawInTime) {
      this.world.fail(`SAFETY spurious freeze timeout: backup ${id} on ${m.name} failed with BACKUP_FREEZE_TIMEOUT although its thaw reached the node before the limit`);
    }
  }

  private checkFrozen(): void {
    for (const p of this.procs.procs.values()) {
      if (!p.alive || p.frozen === null) continue;
      const b = this.backups.get(p.frozen.backup);
      if (!b) {
        this.world.fail(`SAFETY ${p.resource} (pid ${p.pid}) on ${p.machine} is frozen by backup ${p.frozen.backup}, which no operator started`);
      } else if (this.world.now > b.startedWorldMs + b.limitMs + frozenSlackMs) {
        this.world.fail(`SAFETY writer ${p.resource} (pid ${p.pid}) on ${p.machine} is still frozen by backup ${p.frozen.backup} ${Math.round(this.world.now - b.startedWorldMs)} ms after it began: past its limit of ${b.limitMs} ms + ${frozenSlackMs} ms`);
      }
    }
  }

  // ---- S2 and S5 per node, after every step ----

  afterStep(): void {
    this.checkFrozen();
    for (const m of this.machines) this.checkCopy(m);
    for (const m of this.machines) {
      const node = m.node;
      if (!node || m.state === 'down' || m.state === 'starting') continue;
      let s = this.seen.get(m.name);
      if (!s || s.incarnation !== node.incarnation) {
        s = { incarnation: node.incarnation, term: node.coordinatorRecord.term, appliedSeq: node.appliedSeq, config: null };
        this.seen.set(m.name, s);
      }
      if (node.coordinatorRecord.term < s.term) this.world.fail(`SAFETY node ${m.name} saw the coordinator term go back: ${s.term} -> ${node.coordinatorRecord.term}`);
      s.term = node.coordinatorRecord.term;
      if (node.appliedSeq < s.appliedSeq) this.world.fail(`SAFETY node ${m.name} went back from configuration seq ${s.appliedSeq} to ${node.appliedSeq}`);
      s.appliedSeq = node.appliedSeq;
      const history = m.localDb.readState().history.id;
      if (m.maxApplied.history !== history) m.maxApplied = { history, seq: node.appliedSeq };
      m.maxApplied.seq = Math.max(m.maxApplied.seq, node.appliedSeq);
      if (s.config !== node.config) {
        s.config = node.config;
        const ref = this.refAt(history, node.appliedSeq);
        if (ref === undefined) this.world.fail(`SAFETY S8 node ${m.name} claims configuration seq ${node.appliedSeq} of history ${history} (its copy's), which that history never held (the store's is ${this.disk.history.id}, head ${this.disk.headSeq()})`);
        else if (JSON.stringify(node.config) !== ref) {
          this.world.fail(`SAFETY node ${m.name}'s configuration at seq ${node.appliedSeq} differs from the quorum log's: ${firstDifference(JSON.parse(ref) as ClusterConfig, node.config)}`);
        }
      }
    }
  }

  /** S5 at start: a new incarnation loads at least what the store held and what the machine had applied (in the history it loaded). */
  started(m: Machine): void {
    const node = m.node!;
    const history = m.localDb.readState().history.id;
    if (history === m.historyAtStart && node.appliedSeq < m.headAtStart) {
      this.world.fail(`SAFETY node ${m.name} (${node.incarnation}) loaded configuration seq ${node.appliedSeq}, older than the quorum store's ${m.headAtStart} when it started`);
    } else if (history === m.maxApplied.history && node.appliedSeq < m.maxApplied.seq) {
      this.world.fail(`SAFETY node ${m.name} (${node.incarnation}) loaded configuration seq ${node.appliedSeq}, older than the ${m.maxApplied.seq} it had applied before`);
    }
  }

  /** S8 for a node's copy, whenever it changed: its (history, seq, configuration) is that history's fold at seq. */
  private checkCopy(m: Machine): void {
    const db = m.localDb;
    if (this.copyChecked.get(m.name) === db.version) return;
    this.copyChecked.set(m.name, db.version);
    const c = db.content();
    if (!c) return;
    const ref = this.refAt(c.history.id, c.seq);
    const json = JSON.stringify(c.config);
    if (ref === undefined) {
      this.world.fail(`SAFETY S8 ${m.name}'s copy holds seq ${c.seq} of history ${c.history.id}, which that history never held (the store's is ${this.disk.history.id}, head ${this.disk.headSeq()}): a later start would take it for a diverged copy`);
    } else if (ref !== json) {
      this.world.fail(`SAFETY S8 ${m.name}'s copy at seq ${c.seq} of history ${c.history.id} differs from that history's fold: ${firstDifference(JSON.parse(ref) as ClusterConfig, c.config)}`);
    }
  }

  // ---- L1 ----

  /** Resources of `group` that should be Online: desired online with everything they depend on. */
  neededResources(config: ClusterConfig, group: GroupName): string[] {
    return Object.values(config.resources).filter((r) => r.group === group && r.desired === 'online' &&
      dependencyClosure(config, r.name).every((d) => config.resources[d]?.desired === 'online')).map((r) => r.name).sort();
  }

  /** Groups that must be Online now: they need to run and some healthy node may own them. */
  groupsThatMustRun(): GroupName[] {
    const c = this.refConfig;
    return Object.keys(c.groups).sort().filter((g) => {
      if (this.neededResources(c, g).length === 0) return false;
      const possible = c.groups[g]!.possibleOwners;
      return this.machines.some((m) => m.state === 'up' && !m.paused && c.nodes[m.name] && !c.nodes[m.name]!.paused &&
        (possible.length === 0 || possible.includes(m.name)));
    });
  }

  /**
   * Where `group` is Online, or null. A resource left Failed by its own restart policy
   * (restartAction restart or none, threshold reached: RESOURCE_LEFT_FAILED), and whatever
   * depends on it, is excused: the group stays there by design (no operator command restarts
   * it in place: only a move, a new epoch, does; see the report).
   */
  onlineAt(group: GroupName): string | null {
    const config = this.refConfig;
    const needed = this.neededResources(config, group);
    for (const m of this.machines) {
      const lg = m.node?.localState.groups[group];
      if (!lg || m.state !== 'up') continue;
      const live = new Set(this.procs.onMachine(m.name).filter((p) => p.group === group).map((p) => p.resource));
      const leftFailed = needed.filter((r) => {
        const lr = lg.resources[r];
        // Whatever its restart action now: the one in force when it failed decided (a later change does not restart it).
        return lr?.state === 'Failed' && lr.op === null && lr.restartAtMs === null && !lg.failoverRequested && !lg.released;
      });
      const excused = new Set(needed.filter((r) => dependencyClosure(config, r).some((d) => leftFailed.includes(d))));
      if (needed.every((r) => excused.has(r) || (lg.resources[r]?.state === 'Online' && live.has(r)))) {
        if (excused.size > 0) this.excusedGroups.add(group);
        return m.name;
      }
    }
    return null;
  }

  /** The groups not Online yet, with what each node knows about them. */
  notOnline(): string[] {
    return this.groupsThatMustRun().filter((g) => this.onlineAt(g) === null).map((g) => {
      const rec = this.disk.ownership.get(g);
      const states = this.machines.filter((m) => m.node?.localState.groups[g]).map((m) => {
        const lg = m.node!.localState.groups[g]!;
        const rs = Object.entries(lg.resources).map(([r, lr]) => `${r}=${lr.state}${lr.op ? `(${lr.op.kind})` : ''}`).join(' ');
        return `${m.name}: epoch ${lg.epoch}${lg.released ? ' released' : ''}${lg.failoverRequested ? ' failover-requested' : ''}${lg.fenced ? ' fenced' : ''} ${rs}`;
      });
      const coord = this.machines.find((m) => m.node?.isCoordinator());
      const why = coord?.node ? coord.node.why(g).reasons.join('; ') : 'no coordinator';
      return `${g}: record ${rec ? `${rec.node ?? '(none)'} epoch ${rec.epoch} ${rec.phase} term ${rec.term}` : '(none)'}; ${states.join(' | ') || 'no node holds it'}; why: ${why}`;
    });
  }
}

/**
 * How long after the faults stop every group must be Online, from the timing settings and the
 * largest resource properties in the configuration. Worst case, these happen one after another:
 */
export function livenessBoundMs(timing: Timing, config: ClusterConfig): { boundMs: number; terms: Record<string, number> } {
  const res = Object.values(config.resources);
  const max = (f: (p: (typeof res)[number]['props']) => number, dflt: number) => Math.max(dflt, ...res.map((r) => f(r.props)));
  const depth = Math.max(1, ...Object.keys(config.groups).map((g) => res.filter((r) => r.group === g).length));
  const terms: Record<string, number> = {
    // A dead owner or coordinator is judged Down after the TTL on the observer's clock, seen at the
    // next cycle (one heartbeat); the election and the new owner's first cycle take a heartbeat each.
    'lease TTL + 3 heartbeats (failure detection, election, assignment)': timing.leaseTtlMs + 3 * timing.heartbeatIntervalMs,
    // An agent call started during the faults (a hung start) ends at its pending timeout (+250 ms
    // overrun); a monitor that stopped answering is declared deadlocked 1 s later and restarted
    // after at most 5 s of backoff.
    'pending timeout + 250 ms overrun + 1 s deadlock slack + 5 s monitor restart backoff': max((p) => p.pendingTimeoutMs, 0) + 250 + 1_000 + 5_000,
    // A resource that failed just before waits its restart delay.
    'restart delay': max((p) => p.restartDelayMs, 0),
    // A move under way takes the group offline in reverse dependency order, each resource with its stop grace.
    'depth x stop grace (a move under way)': depth * (max((p) => p.stopGraceMs, 0) + 50),
    // Then online in dependency order: spawn (a few ms), probe passes within 200 ms (+25 ms retry).
    'depth x (start-up 200 ms + probe retry 25 ms + spawn 5 ms)': depth * 230,
    // A node in a planned shutdown finishes it (drain bounded by the shutdown timeout, fence 5 s,
    // monitor shutdown 5 s) before it restarts, and it may be a group's only possible owner.
    'shutdown pending timeout + 10 s (a shutdown under way)': timing.shutdownPendingTimeoutMs + 10_000,
    // Store round trips (a few ms each, a dozen per cycle) and wake-ups, over the few cycles above.
    'store round trips and cycles (slack)': 2_000,
  };
  return { boundMs: Object.values(terms).reduce((a, b) => a + b, 0), terms };
}

export function describeUpdate(u: ConfigUpdate): string {
  const { op, ...rest } = u as { op: string } & Record<string, unknown>;
  const body = JSON.stringify(rest);
  return `${op} ${body.length > 160 ? `${body.slice(0, 157)}...` : body}`;
}

function firstDifference(want: ClusterConfig, got: ClusterConfig): string {
  for (const k of ['nodes', 'groups', 'resources'] as const) {
    const keys = new Set([...Object.keys(want[k]), ...Object.keys(got[k])]);
    for (const key of [...keys].sort()) {
      const a = JSON.stringify((want[k] as Record<string, unknown>)[key]);
      const b = JSON.stringify((got[k] as Record<string, unknown>)[key]);
      if (a !== b) return `${k}.${key}: log has ${a ?? 'nothing'}, node has ${b ?? 'nothing'}`;
    }
  }
  return 'key order or name';
}
