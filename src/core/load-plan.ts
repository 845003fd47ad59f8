// How a starting node loads the cluster database (KB257905's lessons), decided from facts the
// shell gathered: this node's own copy, the quorum store's checkpoint, log and history, and the
// operator's recovery switches. Pure: the shell reads, this decides, the shell carries it out.
//
// Rules kept here:
// - Recovery keeps every intact record: the newest consistent configuration is the fold up to
//   the last intact record, wherever it is (this node's copy or the store's log before the
//   damage), checkpoint or not.
// - A sequence number is never reused for different content. A reset or a no-logging run starts
//   a new history: a random id, with the seq of the last record it shares with the history
//   before it (forkSeq), and its first checkpoint at a seq past everything the old history was
//   known to hold. A copy or a store of an older history is a prefix of the new one when it
//   stops at or before forkSeq; past it, it has diverged, and the message says which side is
//   newer and what to do.
// - A store older than the copy, or damaged with no copy proven current, is refused with the
//   exact recovery commands; only the operator's switches accept a loss, and they say what.
// - Fencing tokens never go back (DESIGN rule 6): every recovery starts terms and epochs above the
//   recovery floor, the highest of this node's copy's floor, the terms of the records it holds,
//   and the floor every node recorded in its lease slot before it used a token. One copy alone may
//   be behind (its node was cut off while another won a term or moved a group). An operator
//   recovery with a slot whose floor cannot be read is refused unless the operator accepts it.

import { invariant } from './invariant.js';
import { clusterError, type ClusterError } from './errors.js';
import { storeCheckEveryMs } from './checkpoint-policy.js';

/** Ancestors kept in a history: why 32: one per operator recovery, and 32 recoveries of one cluster is far past any real life. */
export const historyParentsMax = 32;
/** The history of a store or copy made before histories were recorded. */
export const genesisHistoryId = 'genesis';

export interface History {
  id: string;
  /** Earlier histories, newest first: each with the last seq this history shares with it. */
  parents: { id: string; forkSeq: number }[];
}

export const genesisHistory: History = Object.freeze({ id: genesisHistoryId, parents: [] }) as History;

/** The highest coordinator term and group epoch seen or used: recovery never goes below them. */
export interface Floor {
  term: number;
  epoch: number;
}

/** What the recovery floor is taken from. */
export interface FloorFacts {
  /** The floor recorded in this node's copy. */
  copy: Floor;
  /** The highest term of the records this node holds (its copy's and the store's checkpoints). */
  recordTerm: number;
  /** The floors recorded in the store's lease slots, read before any rebuild; `where` names the slot. */
  slots: { where: string; floor: Floor }[];
  /** Slots (or the whole lease file) whose floor could not be read, with why. */
  unreadable: string[];
}

export interface LoadFacts {
  /** `acceptUnreadableFloors`: the operator goes on although some lease slot's floor cannot be read. */
  switches: { resetQuorumLog: boolean; noQuorumLogging: boolean; acceptUnreadableFloors?: boolean };
  /** This node's copy (after cutting a torn tail and keeping what precedes any damage). */
  copy: { seq: number; history: History } | null;
  store:
    /** The store's database cannot be opened or read at all (truncated, malformed). */
    | { readable: false; reason: string }
    | {
      readable: true;
      history: History;
      /** null: the checkpoint is damaged. */
      checkpointSeq: number | null;
      head: number;
      /** Last seq read intact, in order, from the checkpoint on (the checkpoint's seq if none). */
      intactThrough: number;
      /** The first damage found reading the log (or the checkpoint), or null. */
      damage: string | null;
    };
  floors: FloorFacts;
  /** Where the store and the copy live, for messages. */
  where: { store: string; copy: string };
}

/** Start from the copy or from the store's checkpoint, then replay the store's intact records. */
export type LoadBase = 'copy' | 'store';

export type LoadPlan =
  /** Normal start: load `from`, replay the store's log to its head. */
  | { kind: 'load'; from: LoadBase; note: string | null }
  /** The store is damaged and this node's copy is current: rebuild the store's log from it (same history: nothing lost). */
  | { kind: 'repair'; note: string; floor: Floor }
  /**
   * `--reset-quorum-log`: a new history from the newest intact configuration (`from`, replayed
   * to `throughSeq`), checkpointed at `newSeq`; `rebuild` when the store's database must be
   * made anew first.
   */
  | { kind: 'reset'; from: LoadBase; throughSeq: number; newSeq: number; forkSeq: number; rebuild: boolean; note: string; floor: Floor }
  /** `--no-quorum-logging`: run on the newest intact configuration; the first change starts a new history at `newSeq`. */
  | { kind: 'no-logging'; from: LoadBase; throughSeq: number; newSeq: number; forkSeq: number; note: string; floor: Floor }
  | { kind: 'refuse'; error: ClusterError };

/** How a copy's history relates to the store's. */
export type Relation =
  | 'same'
  /** The copy is of an older history and stops within what the store's history shares with it. */
  | 'copy-prefix'
  /** The copy holds records of an older history that the store's history does not: the store was reset after them. */
  | 'copy-diverged'
  /** The store is of an older history than the copy and stops within what they share: the store is behind. */
  | 'store-prefix'
  /** The store holds records of an older history that the copy's does not: the copy was reset after them. */
  | 'store-diverged'
  | 'unrelated';

export function relate(copy: { seq: number; history: History }, store: { history: History; head: number }): Relation {
  if (copy.history.id === store.history.id) return 'same';
  const inStore = store.history.parents.find((p) => p.id === copy.history.id);
  if (inStore) return copy.seq <= inStore.forkSeq ? 'copy-prefix' : 'copy-diverged';
  const inCopy = copy.history.parents.find((p) => p.id === store.history.id);
  if (inCopy) return store.head <= inCopy.forkSeq ? 'store-prefix' : 'store-diverged';
  return 'unrelated';
}

/** A new history forked from `from` at `forkSeq` (the last seq the two share). */
export function forkHistory(from: History, newId: string, forkSeq: number): History {
  return { id: newId, parents: [{ id: from.id, forkSeq }, ...from.parents].slice(0, historyParentsMax) };
}

const recoveryHint = (copyDir: string) =>
  `if other nodes run, their coordinator finds the damage within ${storeCheckEveryMs / 1000} s and rewrites the log from its copy (QUORUM_LOG_REPAIRED in cluster log): start this node again then; ` +
  `otherwise start the node that was up last (its copy is current) and it repairs the log by itself; or, accepting that changes after the newest intact record may be lost: clusterd start --reset-quorum-log (a new history from the newest intact configuration, this node's copy ${copyDir} or the store's intact records); or clusterd start --no-quorum-logging (run on what is intact, writing changes as checkpoints)`;

export function planLoad(f: LoadFacts): LoadPlan {
  const plan = withFloor(f, decideLoad(f));
  assertLoadSeqs(f, plan);
  return plan;
}

/** The recovery floor: the highest of this node's copy, the terms of the records it holds, and every readable lease slot. */
export function recoveryFloor(f: FloorFacts): Floor {
  let term = Math.max(f.copy.term, f.recordTerm);
  let epoch = f.copy.epoch;
  for (const s of f.slots) {
    term = Math.max(term, s.floor.term);
    epoch = Math.max(epoch, s.floor.epoch);
  }
  return { term, epoch };
}

/**
 * A recovery's floor. An operator recovery (reset, no-logging) with a lease slot whose floor cannot
 * be read is refused unless the operator accepts it: that slot may hold the highest token used. An
 * automatic repair goes on above the readable floors: its store is readable, so its own
 * coordinator term and ownership records still stand, and the repair keeps them.
 */
function withFloor(f: LoadFacts, plan: PlanWithoutFloor): LoadPlan {
  if (plan.kind === 'refuse' || plan.kind === 'load') return plan;
  const floor = recoveryFloor(f.floors);
  const unreadable = f.floors.unreadable;
  const raisedBy = f.floors.slots.filter((s) => s.floor.term > Math.max(f.floors.copy.term, f.floors.recordTerm) || s.floor.epoch > f.floors.copy.epoch).map((s) => s.where);
  const from = `terms from ${floor.term}, epochs from ${floor.epoch}${raisedBy.length > 0 ? ` (raised above this node's copy by the lease slots of ${raisedBy.join(', ')})` : ''}`;
  if (unreadable.length > 0 && plan.kind !== 'repair' && !f.switches.acceptUnreadableFloors) {
    return { kind: 'refuse', error: floorsUnreadableError(f, plan.kind, floor) };
  }
  const accepted = unreadable.length > 0 ? `; the floors of ${unreadable.join('; ')} could not be read and are not counted` : '';
  return { ...plan, floor, note: `${plan.note}; ${from}${accepted}` };
}

type PlanWithoutFloor = LoadPlan extends infer P ? P extends { floor: Floor } ? Omit<P, 'floor'> : P : never;

function floorsUnreadableError(f: LoadFacts, kind: 'reset' | 'no-logging', floor: Floor): ClusterError {
  const sw = kind === 'reset' ? '--reset-quorum-log' : '--no-quorum-logging';
  return clusterError('QUORUM_FLOOR_UNREADABLE',
    `${sw} needs the floor (highest term and epoch used) every node recorded in its lease slot in ${f.where.store}, and ${f.floors.unreadable.join('; ')} could not be read: a token used by that node could be used again (the readable floors and this copy give terms from ${floor.term}, epochs from ${floor.epoch})`,
    `restore the lease file (or the etcd keys) from a backup, or start the node of that slot once so that it records its floor again; or, accepting that terms and epochs start from the readable floors only, clusterd start ${sw} --accept-unreadable-floors`);
}

/**
 * Sequence numbers never go back nor get reused: a new history's checkpoint seq is past every seq
 * the copy and a readable store hold, it forks at the seq it keeps through, and that seq is one the
 * copy or the store has.
 */
function assertLoadSeqs(f: LoadFacts, plan: LoadPlan): void {
  if (plan.kind !== 'reset' && plan.kind !== 'no-logging') return;
  const held = Math.max(f.copy?.seq ?? -1, f.store.readable ? f.store.head : -1);
  invariant(Number.isSafeInteger(plan.newSeq) && plan.newSeq > held, 'seq-new-past-all', () => `${plan.kind} checkpoints at seq ${plan.newSeq}, not past seq ${held} already held`);
  invariant(plan.forkSeq === plan.throughSeq && plan.throughSeq < plan.newSeq, 'seq-fork', () => `${plan.kind} keeps through seq ${plan.throughSeq}, forks at ${plan.forkSeq}, checkpoints at ${plan.newSeq}`);
  invariant(plan.throughSeq >= 0 && plan.throughSeq <= held, 'seq-kept-held', () => `${plan.kind} keeps through seq ${plan.throughSeq}, which no copy or store holds (highest ${held})`);
}

function decideLoad(f: LoadFacts): PlanWithoutFloor {
  const { switches: sw, copy, store } = f;
  if (!store.readable) return planUnreadable(f, store.reason);
  const relation = copy ? relate(copy, store) : null;
  const copyOnLine = copy !== null && (relation === 'same' || relation === 'copy-prefix');
  // The newest intact configuration on the store's line: the copy, or the store's intact log past it.
  const copyBase = copyOnLine && store.checkpointSeq !== null ? copy.seq >= store.checkpointSeq : copyOnLine;
  const best = Math.max(copyOnLine ? copy.seq : -1, store.checkpointSeq !== null ? store.intactThrough : -1);
  const from: LoadBase = copyBase ? 'copy' : 'store';
  const newSeq = Math.max(store.head, copy?.seq ?? 0, best) + 1;
  const damaged = store.checkpointSeq === null || store.damage !== null;
  const diverged = relation === 'copy-diverged' || relation === 'store-diverged' || relation === 'unrelated';
  if (diverged && !sw.resetQuorumLog) return { kind: 'refuse', error: divergedError(f, relation) };
  if (damaged) {
    if (copy && relation === 'same' && copy.seq >= store.head) {
      return { kind: 'repair', note: `this node's own copy is at seq ${copy.seq}, the store's head at seq ${store.head}, so the copy is current: rebuilt the log from it. Nothing was lost.` };
    }
    if (best < 0 && !(sw.resetQuorumLog && copy)) {
      return { kind: 'refuse', error: clusterError('QUORUM_LOG_DAMAGED', `the checkpoint of ${f.where.store} is damaged (${store.damage ?? 'checksum'}) and this node has no copy to start from`, recoveryHint(f.where.copy)) };
    }
  }
  if (sw.resetQuorumLog) {
    if (!copy) {
      return { kind: 'refuse', error: clusterError('QUORUM_LOG_DAMAGED', `--reset-quorum-log needs this node's own copy of the database, and ${f.where.copy} has none`, 'run it on the node that was up last (it has the newest copy)') };
    }
    // The operator chose this copy: on another line than the store's, it is the base whatever the store holds.
    const own = !copyOnLine;
    const base: LoadBase = own ? 'copy' : from;
    const through = own ? copy.seq : best;
    const forkSeq = through;
    const lost = store.head > through ? `; store records seq ${through + 1}..${store.head}${damaged ? ' (from the damage on)' : ''} are not kept and may be lost` : '';
    return { kind: 'reset', from: base, throughSeq: through, newSeq, forkSeq, rebuild: false,
      note: `--reset-quorum-log: a new history from the configuration up to seq ${through} (${base === 'copy' ? 'this node\'s copy' : 'the store\'s intact records'}), checkpointed at seq ${newSeq}${lost}` };
  }
  if (!damaged) {
    if (copy && (relation === 'store-prefix' || (relation === 'same' && copy.seq > store.head))) {
      return { kind: 'refuse', error: clusterError('STORE_BEHIND', `the quorum store ${f.where.store} is at seq ${store.head}, older than this node's own copy at seq ${copy.seq} (${f.where.copy}): it was restored from an old backup or belongs to another cluster, and loading it would roll the configuration back`,
        'if this node\'s copy is the truth, start this node once with --reset-quorum-log to write it to the store; otherwise point --quorum at the right store') };
    }
    return { kind: 'load', from, note: relation === 'copy-prefix' ? `this node's copy (seq ${copy!.seq}, history ${copy!.history.id}) is a prefix of the store's history ${store.history.id}: loading the store` : null };
  }
  if (sw.noQuorumLogging) {
    return { kind: 'no-logging', from, throughSeq: best, newSeq, forkSeq: best,
      note: `started with --no-quorum-logging: the quorum log is damaged (${store.damage ?? 'checkpoint damaged'}); running on the configuration up to seq ${best}, the last intact record; changes are written as checkpoints of a new history from seq ${newSeq}, and each one warns` };
  }
  const have = copy ? `this node's copy reaches seq ${copy.seq}` : 'this node has no copy of its own';
  return { kind: 'refuse', error: clusterError('QUORUM_LOG_DAMAGED',
    `the quorum log in ${f.where.store} is damaged (${store.damage ?? 'checkpoint damaged'}) and no copy can be proven current (${have}, the store's head is seq ${store.head}); the last intact seq is ${best}`,
    recoveryHint(f.where.copy)) };
}

function planUnreadable(f: LoadFacts, reason: string): PlanWithoutFloor {
  const { copy } = f;
  if (f.switches.resetQuorumLog && copy) {
    return { kind: 'reset', from: 'copy', throughSeq: copy.seq, newSeq: copy.seq + 1, forkSeq: copy.seq, rebuild: true,
      note: `--reset-quorum-log: the database of ${f.where.store} could not be read (${reason}); set it aside and rebuilt the store from this node's copy up to seq ${copy.seq}, checkpointed at seq ${copy.seq + 1} in a new history; changes newer than this copy, if any node had them, are lost` };
  }
  const what = `the database of the quorum store ${f.where.store} is damaged and cannot be read (${reason})`;
  if (f.switches.resetQuorumLog) {
    return { kind: 'refuse', error: clusterError('QUORUM_DB_DAMAGED', `${what}, and --reset-quorum-log needs this node's own copy: ${f.where.copy} has none`, 'run clusterd start --reset-quorum-log on the node that was up last (it has the newest copy)') };
  }
  const noLogging = f.switches.noQuorumLogging ? ': --no-quorum-logging cannot run on a database that cannot be read' : '';
  return { kind: 'refuse', error: clusterError('QUORUM_DB_DAMAGED', `${what}${noLogging}`,
    'on the node that was up last (it has the newest copy): clusterd start --reset-quorum-log sets the damaged file aside and rebuilds the store from that copy (terms and epochs carry on above the highest floor of that copy and of every node\'s lease slot); clusterd quorum-log verify --data-dir DIR shows each node\'s copy') };
}

function divergedError(f: LoadFacts, relation: Relation): ClusterError {
  const copy = f.copy!;
  const store = f.store as Extract<LoadFacts['store'], { readable: true }>;
  const c = `this node's copy ${f.where.copy} (history ${copy.history.id}, seq ${copy.seq})`;
  const s = `the quorum store ${f.where.store} (history ${store.history.id}, head seq ${store.head})`;
  if (relation === 'copy-diverged') {
    const fork = store.history.parents.find((p) => p.id === copy.history.id)!.forkSeq;
    return clusterError('HISTORY_DIVERGED', `${c} holds records after seq ${fork} of a history that ${s} left at seq ${fork} (a --reset-quorum-log or --no-quorum-logging run started a new one): the store is newer, and loading it would drop this copy's records ${fork + 1}..${copy.seq}`,
      `to follow the store (the usual case): move this copy aside (mv ${f.where.copy} ${f.where.copy}.history-${copy.history.id}) and start again; clusterd quorum-log dump --data-dir shows what it held. To make this copy the truth instead: clusterd start --reset-quorum-log on this node`);
  }
  if (relation === 'store-diverged') {
    const fork = copy.history.parents.find((p) => p.id === store.history.id)!.forkSeq;
    return clusterError('HISTORY_DIVERGED', `${s} holds records after seq ${fork} of a history that ${c} left at seq ${fork}: this node's copy is newer, the store was restored from before a reset or kept running without it`,
      `if this node's copy is the truth: clusterd start --reset-quorum-log on this node; otherwise move this copy aside (mv ${f.where.copy} ${f.where.copy}.history-${copy.history.id}) and start again`);
  }
  return clusterError('HISTORY_DIVERGED', `${c} and ${s} share no history: the store belongs to another cluster, or was re-created`,
    `point --quorum at this cluster's store; or, if the store was re-created on purpose, clusterd start --reset-quorum-log on the node with the newest copy; or move this copy aside (mv ${f.where.copy} ${f.where.copy}.history-${copy.history.id})`);
}

/** What the rebuild guard reads of a lease slot. */
export interface LeaseSeen { node: string; incarnation: string; counter: number }

/**
 * The other nodes whose lease moved between two reads of the lease slots taken a lease TTL apart
 * (on this node's clock): their clusterd runs, as membership judges a node alive. A slot that
 * appears, or changes incarnation or counter, moved.
 */
export function leasesMoved(before: readonly LeaseSeen[], after: readonly LeaseSeen[], self: string): string[] {
  const was = new Map(before.map((l) => [l.node, l]));
  const moved = after.filter((l) => {
    if (l.node === self) return false;
    const b = was.get(l.node);
    return !b || b.incarnation !== l.incarnation || b.counter !== l.counter;
  });
  return moved.map((l) => l.node).sort();
}

/**
 * A rebuilt store has lost its ownership records: every group looks free, and a coordinator gives
 * it to a new owner at once. So a rebuild is refused while another node runs (its groups would run
 * twice); the operator stops clusterd on those nodes first.
 */
export function nodesRunningError(running: readonly string[], store: string, waitedMs: number): ClusterError {
  return clusterError('QUORUM_NODES_RUNNING',
    `rebuilding the database of ${store} needs every other clusterd stopped: the leases of ${running.join(', ')} moved within ${waitedMs} ms (the lease TTL), so they run and may run groups the rebuilt store would give to another node`,
    `stop clusterd on ${running.join(', ')} first, then run clusterd start --reset-quorum-log here again; start them once this node is up`);
}
