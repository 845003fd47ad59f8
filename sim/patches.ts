// The bugs the simulator found in src/ (see the report), each with the fix proposed for it. A run
// may apply any set of these fixes inside the harness (the twins and a node subclass; src/ is
// untouched), so that seeds explore past bugs already known, and so that a pinned seed shows
// which fix it needs: it fails with every fix applied but its own.

export const bugs = {
  1: 'a node whose lease renewals fail keeps feeding its watchdog: its resources outlive its lease (node.ts beat()); FIXED in src by c08d2e9 (NODE_LEASE_LOST)',
  2: 'online calls queued at a stalled monitor run after its watchdog fenced: resources start that clusterd believes stopped (monitor.ts, process-agent.ts); FIXED in src: the monitor refuses online from a fence until clusterd acknowledges it (monitor.ts, client.ts unfence)',
  3: 'a call made while the monitor restarts fails at once, and the recycle() this triggers does nothing: the resource stays OfflinePending for ever (monitor/client.ts call(), recycle()); FIXED in src: calls wait (bounded) for a restarting monitor, recycle() with no monitor reports the crash (client.ts)',
  4: 'liveness is judged against the current time with a lease view read earlier: a slow cycle or a pause makes live nodes, the coordinator itself included, look Down (node.ts nodeViews(), elect(), cycle()); FIXED in src: liveness judged at the newest lease read\'s send time, leases read after ownership, nobody Down on a stale view (node.ts nodeViews, elect, cycle)',
  5: 'a fence sent to a monitor that is then lost, or while none runs, is never confirmed: fencing stays true and the node never starts anything again (node.ts fenceNow/beat, monitor/client.ts fence()); FIXED in src: a fence always gets its answer: at once with no monitor, or from the monitor\'s loss (client.ts)',
  6: 'a node that lost what it ran (restarted) or its lease (NODE_LEASE_LOST, NODE_STALLED) runs the groups it then finds assigned to its name under the old epoch, while a coordinator that saw it Down (lease expired, fenced or stopped) gives them to another node at once (node.ts start(), beat(), core/local.ts reconcile); FIXED in src: a new incarnation, and a node after NODE_LEASE_LOST/NODE_STALLED, revoke what names them and they do not run (core/local.ts revokeInherited, node.ts)',
  8: 'a store rebuilt by --reset-quorum-log is visible before the recovery lands in it: running nodes read coordinator term 0 and no ownership between rebuildDamaged and recoverLog(floor) (node.ts rebuildStore/loadConfig, store rebuildDamaged), so a coordinator steps down and a new one can be elected at a term used before; and a rebuilding node that dies before its recovery lands leaves an empty store of the genesis history, the history of every copy, so the next start "repairs" it from a copy that may be behind ("Nothing was lost") and seqs after that copy are reused; proposed fix: build the new database aside and rename it into place with the checkpoint, history and floor in it (in the harness: every other process, a later incarnation of the same node too, keeps reading QUORUM_DB_DAMAGED until the recovery lands); FIXED in src: dir builds the rebuilt database aside and renames it into place with its recovery (dir.ts rebuildDamaged, recoverLog)',
  9: 'a running node that loads the store\'s checkpoint to catch up (after another node\'s reset or no-logging change) keeps its copy labelled with its old history (node.ts catchUp, SEQ_CONFLICT branch: writeCheckpoint without setHistory): its next start is refused with HISTORY_DIVERGED though it holds nothing the store lacks; proposed fix: read the store\'s history with the checkpoint and record it in the copy (in the harness: the copy takes the history the checkpoint was read from); FIXED in src: catchUp labels the copy with the history read around the checkpoint (node.ts catchUp)',
  10: 'a recovery on a readable store (--reset-quorum-log, --no-quorum-logging) overwrites every ownership record below the floor epoch with one naming no node (store recoverLog raiseFloor, dir and twin alike): a group still running on its owner looks free, the coordinator gives it to another node at once, split brain; proposed fix: the floor only creates records that are missing (a rebuilt store); a record naming a node stays, and the coordinator moves that group with the usual release wait; FIXED in src: the floor keeps records naming a node (dir.ts raiseFloor)',
  11: 'a store rebuilt by --reset-quorum-log while other nodes still run their groups has no ownership (records with no node at the floor epoch): the coordinator gives those groups to new owners at once while the old ones run them, split brain (node.ts loadConfig/rebuildStore, placement of node-less records); proposed fix (runbook, until the coordinator waits for every node that may run a group): stop clusterd on every node before rebuilding (in the harness: the operator powers the other machines off first); FIXED in src: a rebuild is refused while another node\'s lease moves within a lease TTL (QUORUM_NODES_RUNNING, node/rebuild-guard.ts)',
  12: 'the floor in a node copy misses the term a node has just won and the epochs a coordinator has just written until its next read of the store (node.ts elect() casCoordinator, ownership writes; noteFloor only after reads): a database damaged in between is rebuilt below them and a term or an epoch is used twice; proposed fix: note the floor before the write that uses the token; FIXED in src: the floor is noted before the election, handover and ownership writes (node.ts elect, handOverCoordinator, writePlan)',
  13: 'a rebuilt store takes its floor from the one node copy it is rebuilt from (node.ts loadConfig recoveryFloor): the node up last may have been cut off from the database while another node won a term or moved a group, and the rebuilt store reuses that term or epoch; proposed fix: every node writes its floor into its lease slot (the lease file survives a damaged database), and a rebuild takes the highest floor of all slots (in the harness: the highest floor of all copies); FIXED in src: a node records its floor in its lease slot before it uses a term or epoch, and every recovery starts above the highest floor of all slots, refusing QUORUM_FLOOR_UNREADABLE when one cannot be read (node/floor-notes.ts, node/load.ts, core/load-plan.ts recoveryFloor, store raiseLeaseFloor/readLeaseFloors)',
  14: 'a --no-quorum-logging (or --reset-quorum-log) start on a store whose checkpoint is damaged runs on this node\'s copy only, though the store still holds intact log records after the copy\'s seq (a coordinator kept appending after the damage): an acknowledged change is dropped (core/load-plan.ts planLoad: with a damaged checkpoint intactThrough is -1, node.ts storeFacts scans nothing); proposed fix (not in the harness yet): with a copy on the store\'s line, scan the store\'s log from the copy\'s seq and count what follows it in order as intact',
  7: 'the fix for bug 1 fences once per outage at self-fence - heartbeat (700 ms) after the last renewal, but mayStart allows starts until 800 ms: what starts in between runs on with a lost lease (node.ts beat(), mayStart()); FIXED in src: one threshold for the fence and for starts (core/self-fence.ts)',
} as const;

export type BugId = keyof typeof bugs;
/** Bugs fixed in src/ since the simulator found them: their harness fixes are gone, their seeds are regression tests. */
export const fixedBugIds: readonly BugId[] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
/** Open bugs with no proposed fix in the harness yet: a run cannot step past them, so no seed is pinned for them. */
export const unpatchedBugIds: readonly BugId[] = [14];
/** Bugs still open: the ones whose proposed fixes a run may apply. */
export const bugIds = (Object.keys(bugs).map(Number) as BugId[]).filter((b) => !fixedBugIds.includes(b));

/** Which proposed fixes a run applies. */
export class Patches {
  private readonly on: ReadonlySet<number>;
  constructor(ids: Iterable<number> = []) {
    this.on = new Set(ids);
  }
  static all(): Patches {
    return new Patches(bugIds);
  }
  has(id: BugId): boolean {
    return this.on.has(id);
  }
  get any(): boolean {
    return this.on.size > 0;
  }
  list(): number[] {
    return [...this.on].sort((a, b) => a - b);
  }
}
