// The etcd quorum store (`--quorum etcd:http://HOST:PORT[,http://HOST:PORT...]`): the same
// semantics as `dir` (test/store-contract.ts), for clusters spanning machines. etcd is the
// consensus engine; this file only maps the store's records to keys and transactions.
//
// Keys, under one prefix (CLUSTERD_ETCD_PREFIX, default /clusterd/):
//   meta                 {schemaVersion, clusterName, createdWallMs}: written once by init
//   coord                {"term":T,"node":N}: the coordinator record (deterministic bytes: compared by value)
//   term                 T, zero-padded: the current term, compared by every term-guarded write
//   head                 the quorum-log head seq, zero-padded: compared by every append
//   checkpoint           "SEQ TERM CRC\n" + configuration JSON
//   log/<LASTSEQ>        a chunk of log records ("#NONCE\n" then "SEQ TERM CRC PAYLOAD" lines), named by its last seq
//   own/<group>          ownership records
//   report/<node>        node reports
//   event/<ID>, eventseq events (the newest eventsMax) and the last event id
//   slot/<node>          lease slots {node, counter, state, incarnation}: with slotfloor/, the only keys written without touching `change`
//   slotfloor/<node>     the floor {term, epoch} the node recorded with its lease slot: a key of its own, so that renewals
//                        (another connection) never overwrite it; only raised, and kept when the slot is evicted
//   change               rewritten by every write except lease renewals: its mod_revision is the change version
//
// Rules that keep it the same as `dir`:
// - Every write that depends on leadership is one etcd transaction comparing `term` (and `head`
//   for appends, `coord` for elections, the checkpoint's mod_revision for checkpoints): a stale
//   coordinator's write is refused inside etcd, never between a read and a write.
// - Liveness is never etcd's business: slots carry a counter that observers watch on their own
//   clock (safety rule 3). No etcd lease is used, so etcd's lease expiry cannot matter.
// - Every call has a deadline (callTimeoutMs, 500 ms); a call that runs out is QUORUM_UNAVAILABLE,
//   meaning "the outcome is unknown: read again". Every write can be re-sent safely: puts and
//   deletes are idempotent, and the compare-and-swap writes (append, election, events, checkpoint)
//   read back in their failure branch whether an earlier copy of the same request landed (by a
//   nonce or by the exact bytes), so a re-sent write that landed the first time reports success.
// - A renewal is one small transaction (compare the slot's mod_revision, put): only the
//   incarnation that claimed the slot can renew it, so an evicted node or a second clusterd under
//   the same name cannot keep a slot alive. Renewals of one node never overlap: a renewal asked
//   for while one is in flight replaces the pending one and shares its result.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { IKeyValue, IRequestOp, ICompare, ITxnResponse } from 'etcd3';
import { ClusterError, clusterError, fail, ok } from '../core/errors.js';
import { ownTables } from '../core/config.js';
import { recordChecksum } from '../core/crc32c.js';
import { logReadMax } from '../core/limits.js';
import { etcdElectionTimeoutMaxMs } from '../core/timing.js';
import type { ClusterConfig, ConfigUpdate, GroupName, NodeName } from '../core/types.js';
import type {
  Checkpoint, ClusterEvent, CoordinatorRecord, LeaseRecord, LeaseState, LogRecord, NewEvent, NodeReport,
  LeaseRenewerOptions, OwnershipRecord, QuorumStore, RenewalView, StoreResult,
} from './types.js';
import type { LeaseFloors } from './types.js';
import type { Floor } from '../core/load-plan.js';
import { leaseIdentityProblem } from './lease-file.js';
import { EtcdRejected, EtcdUnavailable, etcdSecurityFromEnv, type EtcdTls } from './etcd-config.js';
import { etcdRenewEveryBeats } from './etcd-timing.js';
// The gRPC client loads only when an etcd store connects: a dir cluster never pays for it.
import type { EtcdConn } from './etcd-conn.js';
import { assertCoordinator, assertOwnership, assertSeq, assertTerm } from './asserts.js';

export interface EtcdStoreOptions {
  /** Key prefix of the cluster, ending in '/'. Default: $CLUSTERD_ETCD_PREFIX or /clusterd/. */
  prefix?: string;
  /** Budget of every call to etcd, retries included. */
  callTimeoutMs?: number;
  /** Events kept in the store; older ones are dropped on append. */
  eventsMax?: number;
  /** Compact etcd's history every this many revisions (0: never; then run etcd with --auto-compaction-*). */
  compactEvery?: number;
  /** TLS and user/password; default: from CLUSTERD_ETCD_* (see etcd-conn.ts). */
  tls?: EtcdTls;
  auth?: { username: string; password: string };
}

export const etcdPrefixDefault = '/clusterd/';
const schemaVersion = 1;
const eventsMaxDefault = 10_000;
/** Well under the self-fence deadline (800 ms by default): a call that fails leaves time for the next. */
export const etcdCallTimeoutMsDefault = 500;
/** A few minutes of a busy cluster's history: 3 nodes renewing 10 times a second write 30 revisions a second. */
const compactEveryDefault = 10_000;
/** History kept behind the head when compacting (enough for a watcher that reconnects). */
const compactKeep = 1_000;
/** etcd refuses requests over 1.5 MiB by default (--max-request-bytes): stay clearly under it. */
const requestBytesMax = 1024 * 1024;
/** etcd refuses transactions of more than 128 operations by default (--max-txn-ops). */
const txnOpsMax = 100;
const chunkRecordsMax = 64;
const chunkBytesMax = 256 * 1024;
const eventsReadMax = 10_000;
const padWidth = 16;

/**
 * What clusterd's timing settings imply on the etcd store, for the startup check: problems (empty
 * when consistent) and the worst-case failover time after a machine is lost (before the service's
 * own start time): its lease expires on the observers' clocks (lease TTL), they notice at their
 * next lease read, which comes with their own renewal (every etcdRenewEveryBeats heartbeats, plus
 * the beat that reads it), a new coordinator is elected if it was the lost one (one etcd call), it
 * writes the new ownership (one call), the new owner reads it (one heartbeat and one call).
 */
export function etcdTimingCheck(t: { heartbeatIntervalMs: number; selfFenceMs: number; leaseTtlMs: number }, callTimeoutMs = etcdCallTimeoutMsDefault):
  { problems: string[]; worstCaseFailoverMs: number; explanation: string } {
  const problems: string[] = [];
  if (t.selfFenceMs < callTimeoutMs + 2 * t.heartbeatIntervalMs) {
    problems.push(`self-fence deadline (${t.selfFenceMs} ms) must be at least the etcd call deadline (${callTimeoutMs} ms) plus two heartbeat intervals ` +
      `(${2 * t.heartbeatIntervalMs} ms): one slow etcd call would make the node fence itself`);
  }
  const k = etcdRenewEveryBeats(t, callTimeoutMs);
  const worstCaseFailoverMs = t.leaseTtlMs + (k + 1) * t.heartbeatIntervalMs + 3 * callTimeoutMs;
  const explanation = `worst-case failover after a machine is lost: ${worstCaseFailoverMs} ms plus the service's start time ` +
    `(lease TTL ${t.leaseTtlMs} + ${k + 1} heartbeats ${(k + 1) * t.heartbeatIntervalMs} + 3 etcd calls ${3 * callTimeoutMs}; leases renewed every ${k} heartbeat(s)); ` +
    `an etcd leader change must end within ${t.selfFenceMs - t.heartbeatIntervalMs} ms or the nodes fence themselves (etcd --election-timeout <= ${etcdElectionTimeoutMaxMs(t)})`;
  return { problems, worstCaseFailoverMs, explanation };
}

const pad = (n: number): string => String(n).padStart(padWidth, '0');
const buf = (s: string): Buffer => Buffer.from(s, 'utf8');
const text = (kv: IKeyValue | undefined): string | undefined => (kv ? kv.value.toString('utf8') : undefined);
const nonce = (): string => randomBytes(8).toString('hex');
const byteLength = (s: string): number => Buffer.byteLength(s, 'utf8');

/** The first key after every key starting with `prefix`. */
function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix, 'utf8');
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      const end = Buffer.from(b.subarray(0, i + 1));
      end[i] = b[i]! + 1;
      return end;
    }
  }
  return Buffer.from([0]);
}

const putOp = (key: string, value: string): IRequestOp => ({ request_put: { key: buf(key), value: buf(value) } });
const getOp = (key: string): IRequestOp => ({ request_range: { key: buf(key) } });
const deleteOp = (key: string): IRequestOp => ({ request_delete_range: { key: buf(key) } });
const valueIs = (key: string, value: string): ICompare => ({ key: buf(key), target: 'Value', result: 'Equal', value: buf(value) });
const modIs = (key: string, rev: string | number): ICompare => ({ key: buf(key), target: 'Mod', result: 'Equal', mod_revision: rev });
const absent = (key: string): ICompare => ({ key: buf(key), target: 'Create', result: 'Equal', create_revision: 0 });

/** The single key read by the `i`th response of a transaction, if it exists. */
function kvAt(res: ITxnResponse, i: number): IKeyValue | undefined {
  return res.responses[i]?.response_range?.kvs[0];
}

interface SlotEntry {
  incarnation: string;
  /** mod_revision of our last write to the slot: a renewal compares it. */
  rev: string;
  /** Why renewals fail for good (evicted, or another clusterd claimed the slot). */
  lost: ClusterError | null;
  want: { counter: number; state: LeaseState } | null;
  waiters: ((r: StoreResult<RenewalView>) => void)[];
  running: boolean;
}

const recoveryHint =
  'the quorum log in etcd is damaged: restore it from the newest node-local copy (clusterd --reset-quorum-log) or from an etcd snapshot';

export class EtcdStore implements QuorumStore {
  readonly kind = 'etcd' as const;
  readonly location: string;
  readonly endpoints: string[];
  readonly prefix: string;
  private readonly callTimeoutMs: number;
  private readonly eventsMax: number;
  private readonly compactEvery: number;
  private readonly tls: EtcdTls | undefined;
  private readonly auth: { username: string; password: string } | undefined;
  private conn: EtcdConn | null = null;
  private clusterName = '';
  private readonly slots = new Map<NodeName, SlotEntry>();
  private readonly subscribers = new Set<{ cb: () => void }>();
  private lastCompactRev = 0;
  /** A lease renewer's own store (lease-renewer.ts): it renews one adopted slot and opens nothing else. */
  private renewOnly = false;

  constructor(endpoints: string[], opts: EtcdStoreOptions = {}) {
    assert.ok(endpoints.length > 0, 'an etcd store needs at least one endpoint');
    this.endpoints = [...endpoints];
    this.prefix = opts.prefix ?? etcdPrefixDefault;
    if (!this.prefix.startsWith('/') || !this.prefix.endsWith('/')) {
      throw clusterError('BAD_CONFIG', `etcd key prefix '${this.prefix}' must start and end with '/'`, 'for example CLUSTERD_ETCD_PREFIX=/clusterd/prod/');
    }
    this.callTimeoutMs = opts.callTimeoutMs ?? etcdCallTimeoutMsDefault;
    this.eventsMax = opts.eventsMax ?? eventsMaxDefault;
    this.compactEvery = opts.compactEvery ?? compactEveryDefault;
    assert.ok(Number.isSafeInteger(this.callTimeoutMs) && this.callTimeoutMs >= 50, `callTimeoutMs ${this.callTimeoutMs} must be >= 50`);
    assert.ok(Number.isSafeInteger(this.eventsMax) && this.eventsMax > 0, `eventsMax ${this.eventsMax} must be > 0`);
    let security: ReturnType<typeof etcdSecurityFromEnv>;
    try {
      security = { ...(opts.tls ? { tls: opts.tls } : {}), ...(opts.auth ? { auth: opts.auth } : {}) };
    } catch (err) {
      throw clusterError('BAD_CONFIG', (err as Error).message, 'CLUSTERD_ETCD_CA, CLUSTERD_ETCD_CERT, CLUSTERD_ETCD_KEY name PEM files; CLUSTERD_ETCD_USER and CLUSTERD_ETCD_PASSWORD go together');
    }
    this.tls = security.tls;
    this.auth = security.auth;
    const secure = endpoints.every((e) => e.startsWith('https://'));
    if (this.tls && !secure) {
      throw clusterError('BAD_CONFIG', `TLS files are set (CLUSTERD_ETCD_CA/CERT/KEY) but the etcd endpoints ${endpoints.join(',')} are not all https://`,
        'use https:// endpoints, or unset the CLUSTERD_ETCD_CA/CERT/KEY variables');
    }
    this.location = `etcd:${endpoints.join(',')}` + (this.prefix === etcdPrefixDefault ? '' : ` (prefix ${this.prefix})`);
  }

  // ---- keys ----

  private k(name: string): string {
    return this.prefix + name;
  }

  private slotKey(node: NodeName): string {
    return this.k(`slot/${encodeURIComponent(node)}`);
  }

  private ownKey(group: GroupName): string {
    return this.k(`own/${encodeURIComponent(group)}`);
  }

  private logKey(lastSeq: number): string {
    return this.k(`log/${pad(lastSeq)}`);
  }

  private eventKey(id: number): string {
    return this.k(`event/${pad(id)}`);
  }

  /** A range request over every key under `sub` (for example 'slot/'), starting at `from` if given. */
  private rangeOp(sub: string, opts: { from?: string; limit?: number } = {}): IRequestOp {
    const req: NonNullable<IRequestOp['request_range']> = { key: buf(opts.from ?? this.k(sub)), range_end: prefixEnd(this.k(sub)) };
    if (opts.limit !== undefined) req.limit = opts.limit;
    return { request_range: req };
  }

  private changeOp(): IRequestOp {
    return putOp(this.k('change'), nonce());
  }

  // ---- lifecycle ----

  private async connect(): Promise<EtcdConn> {
    if (!this.conn) {
      const { EtcdConn } = await import('./etcd-conn.js');
      const o: ConstructorParameters<typeof EtcdConn>[0] = { endpoints: this.endpoints, callTimeoutMs: this.callTimeoutMs };
      if (this.tls) o.tls = this.tls;
      if (this.auth) o.auth = this.auth;
      this.conn ??= new EtcdConn(o);
    }
    return this.conn;
  }

  async init(clusterName: string, wallMs: number): Promise<StoreResult<void>> {
    if (clusterName.trim() === '') return fail(clusterError('BAD_ARGUMENT', 'the cluster name is empty', 'give the cluster a name'));
    if (this.clusterName !== '') return fail(this.clusterExists(this.clusterName));
    const what = `creating cluster '${clusterName}' in ${this.location}`;
    const conn = await this.connect();
    const mine = nonce();
    try {
      const existing = await conn.range(what, { key: buf(this.prefix), range_end: prefixEnd(this.prefix), count_only: true });
      const meta = await conn.range(what, { key: buf(this.k('meta')) });
      if (meta.kvs.length === 0 && Number(existing.count) > 0) {
        this.disconnect();
        return fail(clusterError('QUORUM_UNAVAILABLE', `${this.location} holds ${existing.count} key(s) under ${this.prefix} but no cluster`,
          `another program uses that prefix, or a cluster was half deleted: choose another prefix (CLUSTERD_ETCD_PREFIX) or delete the keys under ${this.prefix}`));
      }
      const config: ClusterConfig = { name: clusterName, nodes: {}, groups: {}, resources: {} };
      const json = JSON.stringify(config);
      const res = await conn.txn(what, {
        compare: [absent(this.k('meta'))],
        success: [
          putOp(this.k('meta'), JSON.stringify({ schemaVersion, clusterName, createdWallMs: wallMs, nonce: mine })),
          putOp(this.k('coord'), coordValue({ term: 0, node: null })),
          putOp(this.k('term'), pad(0)),
          putOp(this.k('head'), pad(0)),
          putOp(this.k('checkpoint'), encodeCheckpoint(0, 0, recordChecksum(0, 0, json), json)),
          putOp(this.k('eventseq'), pad(0)),
          this.changeOp(),
        ],
        failure: [getOp(this.k('meta'))],
      });
      if (!res.succeeded) {
        const found = parseMeta(text(kvAt(res, 0)));
        if (found?.nonce !== mine) {
          this.disconnect();
          return fail(this.clusterExists(found?.clusterName ?? '?'));
        }
      }
      this.clusterName = clusterName;
      this.startWatching();
      return ok(undefined);
    } catch (err) {
      this.disconnect();
      return fail(this.failure(what, err));
    }
  }

  private clusterExists(name: string): ClusterError {
    return clusterError('CLUSTER_EXISTS', `cluster '${name}' exists already in ${this.location}`,
      'join that cluster instead, or choose another key prefix (CLUSTERD_ETCD_PREFIX) for a new one');
  }

  async open(): Promise<StoreResult<{ clusterName: string }>> {
    if (this.clusterName !== '') return ok({ clusterName: this.clusterName });
    const what = `opening ${this.location}`;
    const conn = await this.connect();
    try {
      const res = await conn.range(what, { key: buf(this.k('meta')) });
      const meta = parseMeta(text(res.kvs[0]));
      if (!meta) {
        this.disconnect();
        return fail(clusterError('CLUSTER_NOT_FOUND', `no cluster in ${this.location}`,
          'create one with clusterd init on this quorum store, or check the endpoints and CLUSTERD_ETCD_PREFIX'));
      }
      if (meta.schemaVersion !== schemaVersion) {
        this.disconnect();
        return fail(clusterError('STORE_SCHEMA_MISMATCH', `${this.location} has schema version ${meta.schemaVersion}; this clusterd reads version ${schemaVersion}`,
          'run the clusterd version that created this cluster, or upgrade this one'));
      }
      this.clusterName = meta.clusterName;
      this.startWatching();
      return ok({ clusterName: meta.clusterName });
    } catch (err) {
      this.disconnect();
      return fail(this.failure(what, err));
    }
  }

  private disconnect(): void {
    this.conn?.close();
    this.conn = null;
  }

  async close(): Promise<void> {
    this.subscribers.clear();
    for (const entry of this.slots.values()) {
      entry.want = null;
      for (const w of entry.waiters.splice(0)) w(fail(this.closedError()));
    }
    this.slots.clear();
    this.disconnect();
    this.clusterName = '';
  }

  private closedError(): ClusterError {
    return clusterError('QUORUM_UNAVAILABLE', `quorum store ${this.location} is closed`, 'open it again');
  }

  // ---- leases ----

  async claimLeaseSlot(node: NodeName, incarnation: string): Promise<StoreResult<void>> {
    const problem = leaseIdentityProblem(node, incarnation);
    if (problem) return fail(clusterError('BAD_ARGUMENT', problem, 'node names are 1 to 63 bytes'));
    const what = `claiming the lease slot of node '${node}'`;
    return this.write(what, async (conn) => {
      const slot: LeaseRecord = { node, counter: 0, state: 'running', incarnation };
      const res = await conn.txn(what, { success: [putOp(this.slotKey(node), JSON.stringify(slot)), this.changeOp()] });
      const previous = this.slots.get(node);
      if (previous) for (const w of previous.waiters.splice(0)) w(fail(this.slotLost(node, 'it was claimed again')));
      this.slots.set(node, { incarnation, rev: res.header.revision, lost: null, want: null, waiters: [], running: false });
      if (this.lastCompactRev === 0) this.lastCompactRev = Number(res.header.revision);
      return ok(undefined);
    });
  }

  async renewLease(node: NodeName, counter: number, state: LeaseState): Promise<StoreResult<void>> {
    const r = await this.renewLeaseAndRead(node, counter, state);
    return r.ok ? ok(undefined) : r;
  }

  /**
   * renewLease, and in the same transaction a read of every lease slot and of the change version
   * (after the renewal's put): a node's heartbeat thread hands them to the decision loop, which
   * then needs no read of its own for them (one etcd call a heartbeat instead of three).
   */
  async renewLeaseAndRead(node: NodeName, counter: number, state: LeaseState): Promise<StoreResult<RenewalView>> {
    assert.ok(Number.isSafeInteger(counter) && counter >= 0, `lease counter ${counter} must be a safe integer >= 0`);
    const entry = this.slots.get(node);
    if (!entry) {
      return fail(clusterError('BAD_ARGUMENT', `node '${node}' has no lease slot claimed through ${this.location}`,
        'claim the slot (claimLeaseSlot) before renewing it'));
    }
    if (entry.lost) return fail(entry.lost);
    entry.want = { counter, state };
    const result = new Promise<StoreResult<RenewalView>>((resolve) => entry.waiters.push(resolve));
    if (!entry.running) void this.renewLoop(node, entry);
    // The caller never waits longer than one call's budget, even behind a renewal in flight.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<StoreResult<RenewalView>>((resolve) => {
      timer = setTimeout(() => resolve(fail(this.failure(`renewing the lease of node '${node}'`,
        new EtcdUnavailable(`no answer within ${this.callTimeoutMs} ms`)))), this.callTimeoutMs + 20);
    });
    return Promise.race([result, late]).finally(() => clearTimeout(timer));
  }

  private async renewLoop(node: NodeName, entry: SlotEntry): Promise<void> {
    entry.running = true;
    try {
      while (entry.want && this.slots.get(node) === entry) {
        const { counter, state } = entry.want;
        entry.want = null;
        const waiters = entry.waiters.splice(0);
        const r = await this.writeSlot(node, entry, counter, state);
        for (const w of waiters) w(r);
      }
    } finally {
      entry.running = false;
    }
  }

  private async writeSlot(node: NodeName, entry: SlotEntry, counter: number, state: LeaseState): Promise<StoreResult<RenewalView>> {
    const what = `renewing the lease of node '${node}'`;
    const key = this.slotKey(node);
    const value = JSON.stringify({ node, counter, state, incarnation: entry.incarnation } satisfies LeaseRecord);
    return this.write(what, async (conn) => {
      // Twice at most: once more if an earlier renewal of ours landed after its answer was lost.
      for (let round = 0; round < 2; round++) {
        const res = await conn.txn(what, {
          compare: [modIs(key, entry.rev)],
          // The reads follow the put inside the transaction: they see this renewal.
          success: [putOp(key, value), this.rangeOp('slot/'), { request_range: { key: buf(this.k('change')), keys_only: true } }],
          failure: [getOp(key)],
        });
        if (res.succeeded) {
          entry.rev = res.header.revision;
          this.maybeCompact(Number(res.header.revision));
          return ok({
            leases: (res.responses[1]?.response_range?.kvs ?? []).map((kv) => parseSlot(text(kv))).filter((s): s is LeaseRecord => s !== null),
            changeVersion: Number(kvAt(res, 2)?.mod_revision ?? 0),
          });
        }
        const kv = kvAt(res, 0);
        const now = parseSlot(text(kv));
        if (!kv || !now) {
          entry.lost = this.slotLost(node, 'it was removed (the node was evicted)');
          return fail(entry.lost);
        }
        if (now.incarnation !== entry.incarnation || now.state === 'fenced') {
          entry.lost = this.slotLost(node, now.incarnation !== entry.incarnation
            ? `another clusterd (incarnation ${now.incarnation}) claimed it` : 'its resource monitor marked it fenced');
          return fail(entry.lost);
        }
        entry.rev = kv.mod_revision;
      }
      return fail(clusterError('QUORUM_UNAVAILABLE', `${what}: the slot kept changing under this clusterd`, 'the next renewal tries again'));
    });
  }

  /** What a lease renewer on its own connection needs to renew `node`'s slot (lease-renewer.ts); null if not claimed here. */
  leaseRenewerOptions(node: NodeName): LeaseRenewerOptions | null {
    const entry = this.slots.get(node);
    if (!entry || entry.lost) return null;
    // The renewer's own connection needs the same TLS and user as this one (etcd --client-cert-auth).
    return { kind: 'etcd', node, incarnation: entry.incarnation, endpoints: this.endpoints, prefix: this.prefix, callTimeoutMs: this.callTimeoutMs, rev: entry.rev,
      ...(this.tls ? { tls: this.tls } : {}), ...(this.auth ? { auth: this.auth } : {}) };
  }

  /**
   * Takes over the renewal of a slot claimed by another connection of this clusterd, at the
   * revision it claimed it: this store then renews that slot and does nothing else.
   */
  async adoptLeaseSlot(node: NodeName, incarnation: string, rev: string): Promise<void> {
    await this.connect();
    this.renewOnly = true;
    this.slots.set(node, { incarnation, rev, lost: null, want: null, waiters: [], running: false });
  }

  private slotLost(node: NodeName, why: string): ClusterError {
    return clusterError('NODE_NAME_IN_USE', `the lease slot of node '${node}' in ${this.location} no longer belongs to this clusterd: ${why}`,
      'this clusterd stops renewing; restart it to claim the slot again once the other one is gone');
  }

  private maybeCompact(revision: number): void {
    if (this.compactEvery <= 0 || !this.conn) return;
    if (this.lastCompactRev === 0) { this.lastCompactRev = revision; return; }
    if (revision - this.lastCompactRev < this.compactEvery) return;
    this.lastCompactRev = revision;
    void this.conn.compact(revision - compactKeep);
  }

  async readLeases(): Promise<LeaseRecord[]> {
    return this.read('reading the leases', async (conn) => {
      const res = await conn.range('reading the leases', { key: buf(this.k('slot/')), range_end: prefixEnd(this.k('slot/')) });
      return res.kvs.map((kv) => parseSlot(text(kv))).filter((s): s is LeaseRecord => s !== null);
    });
  }

  async removeLeaseSlot(node: NodeName): Promise<StoreResult<void>> {
    const what = `evicting the lease slot of node '${node}'`;
    const removed = await this.write(what, async (conn) => {
      await conn.txn(what, { success: [deleteOp(this.slotKey(node)), this.changeOp()] });
      return ok(undefined);
    });
    if (removed.ok) this.slots.delete(node);
    return removed;
  }

  private slotFloorKey(node: NodeName): string {
    return this.k(`slotfloor/${encodeURIComponent(node)}`);
  }

  async raiseLeaseFloor(node: NodeName, floor: Floor): Promise<StoreResult<void>> {
    if (!this.slots.has(node)) {
      return fail(clusterError('BAD_ARGUMENT', `node '${node}' has no lease slot claimed through ${this.location}`,
        'claim the slot (claimLeaseSlot) before recording a floor in it'));
    }
    const what = `recording the floor of node '${node}' with its lease slot`;
    const key = this.slotFloorKey(node);
    return this.write(what, async (conn) => {
      // A compare-and-put on what was read, so that the floor only rises; again if it moved meanwhile.
      for (let round = 0; round < 3; round++) {
        const kv = (await conn.range(what, { key: buf(key) })).kvs[0];
        const was = kv ? parseFloor(text(kv)) : null;
        const now = was ? { term: Math.max(was.term, floor.term), epoch: Math.max(was.epoch, floor.epoch) } : { term: floor.term, epoch: floor.epoch };
        if (was && was.term === now.term && was.epoch === now.epoch) return ok(undefined);
        const res = await conn.txn(what, { compare: [kv ? modIs(key, kv.mod_revision) : absent(key)], success: [putOp(key, JSON.stringify(now))] });
        if (res.succeeded) return ok(undefined);
      }
      return fail(clusterError('QUORUM_UNAVAILABLE', `${what}: the key kept changing under this clusterd`, 'the next write tries again'));
    });
  }

  async readLeaseFloors(): Promise<StoreResult<LeaseFloors>> {
    const what = 'reading the floors of the lease slots';
    try {
      return ok(await this.read(what, async (conn) => {
        const prefix = this.k('slotfloor/');
        const res = await conn.range(what, { key: buf(prefix), range_end: prefixEnd(prefix) });
        const out: LeaseFloors = { floors: [], unreadable: [] };
        for (const kv of res.kvs) {
          const key = kv.key.toString('utf8');
          let node: string;
          try { node = decodeURIComponent(key.slice(prefix.length)); } catch { node = key.slice(prefix.length); }
          const floor = parseFloor(text(kv));
          if (floor) out.floors.push({ node, where: `the floor of node '${node}' (${key})`, floor });
          else out.unreadable.push(`the floor of node '${node}' (${key}): not a floor record`);
        }
        return out;
      }));
    } catch (err) {
      return fail(err instanceof ClusterError ? err : this.failure(what, err));
    }
  }

  // ---- coordinator and ownership ----

  async readCoordinator(): Promise<CoordinatorRecord> {
    return this.read('reading the coordinator', async (conn) => {
      const res = await conn.range('reading the coordinator', { key: buf(this.k('coord')) });
      const c = parseCoord(text(res.kvs[0]));
      if (!c) throw clusterError('QUORUM_LOG_DAMAGED', `the coordinator record in ${this.location} is missing or unreadable`, recoveryHint);
      return c;
    });
  }

  async casCoordinator(expected: CoordinatorRecord, next: CoordinatorRecord): Promise<StoreResult<boolean>> {
    assertCoordinator(expected);
    assertCoordinator(next);
    if (next.term !== expected.term + 1) return ok(false);
    const what = `electing node '${next.node}' coordinator for term ${next.term}`;
    return this.write(what, async (conn) => {
      const res = await conn.txn(what, {
        compare: [valueIs(this.k('coord'), coordValue(expected))],
        success: [putOp(this.k('coord'), coordValue(next)), putOp(this.k('term'), pad(next.term)), this.changeOp()],
        failure: [getOp(this.k('coord'))],
      });
      // A re-sent election whose first copy landed finds exactly its own record.
      return ok(res.succeeded || text(kvAt(res, 0)) === coordValue(next));
    });
  }

  private staleTerm(term: number, current: string | undefined, what: string): ClusterError {
    return clusterError('STALE_TERM', `stale term ${term} for ${what}: the coordinator term is now ${current === undefined ? '?' : Number(current)}`,
      'this node is no longer the coordinator; it re-reads the coordinator and acts on the new term');
  }

  async readOwnership(): Promise<OwnershipRecord[]> {
    return this.read('reading ownership', async (conn) => {
      const res = await conn.txn('reading ownership', { success: [this.rangeOp('own/')] });
      const records = (res.responses[0]?.response_range?.kvs ?? []).map((kv) => JSON.parse(kv.value.toString('utf8')) as OwnershipRecord)
        .map(ownershipOf);
      return records.sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
    });
  }

  /**
   * Deletes `deleteGroups`, then upserts `records` (a group in both ends up written), in one
   * transaction compared on the term. More than ~100 records go in several transactions, each
   * compared on the term: a deposed coordinator lands none of the remaining ones.
   */
  async writeOwnership(term: number, records: OwnershipRecord[], deleteGroups: GroupName[] = []): Promise<StoreResult<void>> {
    assertTerm(term);
    records.forEach(assertOwnership);
    const what = `writing ownership of ${records.length} group(s) under term ${term}`;
    const written = new Set(records.map((r) => r.group));
    const ops: IRequestOp[] = [
      ...deleteGroups.filter((g) => !written.has(g)).map((g) => deleteOp(this.ownKey(g))),
      ...[...new Map(records.map((r) => [r.group, r])).values()].map((r) => putOp(this.ownKey(r.group),
        JSON.stringify({ group: r.group, node: r.node, epoch: r.epoch, term: r.term, phase: r.phase, ...(r.books ? { books: r.books } : {}) }))),
    ];
    return this.write(what, async (conn) => {
      for (let i = 0; i === 0 || i < ops.length; i += txnOpsMax) {
        const res = await conn.txn(what, {
          compare: [valueIs(this.k('term'), pad(term))],
          success: [...ops.slice(i, i + txnOpsMax), this.changeOp()],
          failure: [getOp(this.k('term'))],
        });
        if (!res.succeeded) return fail(this.staleTerm(term, text(kvAt(res, 0)), 'writing ownership'));
      }
      return ok(undefined);
    });
  }

  // ---- quorum log and checkpoint ----

  async appendLog(term: number, expectedHeadSeq: number, updates: ConfigUpdate[]): Promise<StoreResult<LogRecord[]>> {
    assertTerm(term);
    assertSeq(expectedHeadSeq);
    const payloads = updates.map((u) => JSON.stringify(u));
    const bytes = payloads.reduce((sum, p) => sum + byteLength(p), 0);
    if (bytes > requestBytesMax) {
      return fail(clusterError('BAD_ARGUMENT', `${updates.length} update(s) make ${bytes} bytes of JSON: one append to etcd holds at most ${requestBytesMax}`,
        'split the change into smaller updates'));
    }
    const mine = nonce();
    const records: LogRecord[] = updates.map((update, i) => {
      const seq = expectedHeadSeq + 1 + i;
      return { seq, term, crc: recordChecksum(seq, term, payloads[i]!), update };
    });
    const chunks: { lastSeq: number; value: string }[] = [];
    let lines: string[] = [];
    let size = 0;
    records.forEach((r, i) => {
      const line = `${r.seq} ${r.term} ${r.crc} ${payloads[i]!}`;
      lines.push(line);
      size += byteLength(line);
      if (lines.length >= chunkRecordsMax || size >= chunkBytesMax || i === records.length - 1) {
        chunks.push({ lastSeq: r.seq, value: `#${mine}\n${lines.join('\n')}` });
        lines = [];
        size = 0;
      }
    });
    if (chunks.length > txnOpsMax) {
      return fail(clusterError('BAD_ARGUMENT', `${updates.length} updates do not fit in one etcd transaction`, 'split the change into smaller updates'));
    }
    const newHead = expectedHeadSeq + updates.length;
    const lastKey = this.logKey(newHead);
    const what = `appending ${updates.length} update(s) to the quorum log`;
    return this.write(what, async (conn) => {
      const res = await conn.txn(what, {
        compare: [valueIs(this.k('term'), pad(term)), valueIs(this.k('head'), pad(expectedHeadSeq))],
        success: [...chunks.map((c) => putOp(this.logKey(c.lastSeq), c.value)), putOp(this.k('head'), pad(newHead)), this.changeOp()],
        failure: [getOp(this.k('term')), getOp(this.k('head')), getOp(lastKey)],
      });
      if (res.succeeded) return ok(records);
      if (chunks.length > 0 && text(kvAt(res, 2))?.startsWith(`#${mine}\n`)) return ok(records); // an earlier copy of this request landed
      const nowTerm = text(kvAt(res, 0));
      if (nowTerm !== pad(term)) return fail(this.staleTerm(term, nowTerm, 'appending to the quorum log'));
      const head = Number(text(kvAt(res, 1)) ?? NaN);
      return fail(clusterError('SEQ_CONFLICT', `the quorum log head is seq ${head}, not the expected seq ${expectedHeadSeq}`,
        'another write landed first: re-read the log, re-check the update and retry'));
    });
  }

  /**
   * Fails with SEQ_CONFLICT if records after `afterSeq` were folded into the checkpoint already
   * (the reader must load the checkpoint: returning the later records would skip updates).
   */
  async readLog(afterSeq: number, max: number): Promise<StoreResult<LogRecord[]>> {
    assertSeq(afterSeq);
    assert.ok(Number.isSafeInteger(max) && max > 0, `max ${max} must be > 0`);
    const limit = Math.min(max, logReadMax);
    const what = 'reading the quorum log';
    try {
      const conn = this.open_();
      // One read-only transaction: the checkpoint and the records come from the same revision.
      const res = await conn.txn(what, {
        success: [getOp(this.k('checkpoint')), this.rangeOp('log/', { from: this.logKey(afterSeq + 1), limit })],
      });
      const checkpointSeq = checkpointHeader(text(kvAt(res, 0)))?.seq ?? 0;
      if (afterSeq < checkpointSeq) {
        return fail(clusterError('SEQ_CONFLICT',
          `quorum log records up to seq ${checkpointSeq} were folded into the checkpoint; cannot read after seq ${afterSeq}`,
          'load the checkpoint, then read the log after its seq'));
      }
      return decodeChunks(res.responses[1]?.response_range?.kvs ?? [], afterSeq, limit);
    } catch (err) {
      return fail(this.failure(what, err));
    }
  }

  async logHead(): Promise<number> {
    return this.read('reading the quorum log head', async (conn) => {
      const res = await conn.range('reading the quorum log head', { key: buf(this.k('head')) });
      const head = Number(text(res.kvs[0]) ?? NaN);
      if (!Number.isSafeInteger(head)) throw clusterError('QUORUM_LOG_DAMAGED', `the quorum log head in ${this.location} is missing or unreadable`, recoveryHint);
      return head;
    });
  }

  async readCheckpoint(): Promise<StoreResult<Checkpoint | null>> {
    const what = 'reading the checkpoint';
    try {
      const res = await this.open_().range(what, { key: buf(this.k('checkpoint')) });
      const value = text(res.kvs[0]);
      return value === undefined ? ok(null) : decodeCheckpoint(value);
    } catch (err) {
      return fail(this.failure(what, err));
    }
  }

  async writeCheckpoint(term: number, seq: number, config: ClusterConfig): Promise<StoreResult<Checkpoint>> {
    assertTerm(term);
    assertSeq(seq);
    const json = JSON.stringify(config);
    const what = `writing the checkpoint at seq ${seq}`;
    if (byteLength(json) > requestBytesMax) {
      return fail(clusterError('STORE_VALUE_TOO_LARGE', `${what}: the configuration is ${byteLength(json)} bytes; one etcd value holds at most ${requestBytesMax} here`,
        'raise etcd --max-request-bytes on every member, or use the dir quorum store for a configuration this large'));
    }
    const crc = recordChecksum(seq, term, json);
    const value = encodeCheckpoint(seq, term, crc, json);
    return this.write(what, async (conn) => {
      for (let round = 0; round < 5; round++) {
        const now = await conn.txn(what, { success: [getOp(this.k('head')), getOp(this.k('checkpoint')), getOp(this.k('term'))] });
        const head = Number(text(kvAt(now, 0)) ?? NaN);
        const current = kvAt(now, 1);
        if (text(current) === value) return ok({ seq, term, crc, config }); // written already (a re-sent request)
        if (text(kvAt(now, 2)) !== pad(term)) return fail(this.staleTerm(term, text(kvAt(now, 2)), what));
        const currentSeq = checkpointHeader(text(current))?.seq ?? 0;
        if (seq > head || seq < currentSeq) {
          return fail(clusterError('SEQ_CONFLICT', `checkpoint seq ${seq} is outside the quorum log: the checkpoint is at seq ${currentSeq}, the head at seq ${head}`,
            'take the checkpoint from the configuration applied up to a seq between those two'));
        }
        const res = await conn.txn(what, {
          compare: [valueIs(this.k('term'), pad(term)), current ? modIs(this.k('checkpoint'), current.mod_revision) : absent(this.k('checkpoint'))],
          success: [
            putOp(this.k('checkpoint'), value),
            { request_delete_range: { key: buf(this.k('log/')), range_end: buf(this.logKey(seq + 1)) } },
            this.changeOp(),
          ],
          failure: [getOp(this.k('term')), getOp(this.k('checkpoint'))],
        });
        if (res.succeeded || text(kvAt(res, 1)) === value) return ok({ seq, term, crc, config });
        if (text(kvAt(res, 0)) !== pad(term)) return fail(this.staleTerm(term, text(kvAt(res, 0)), what));
        // Another checkpoint landed in between: judge the range again.
      }
      return fail(clusterError('QUORUM_UNAVAILABLE', `${what}: the checkpoint kept moving`, 'retry'));
    });
  }

  /** Replaces the checkpoint and drops every log record in one transaction; the head becomes `seq`. Not term-checked. */
  async recoverLog(seq: number, term: number, config: ClusterConfig): Promise<StoreResult<Checkpoint>> {
    assertTerm(term);
    assertSeq(seq);
    const json = JSON.stringify(config);
    const what = `rebuilding the quorum log from a copy at seq ${seq}`;
    if (byteLength(json) > requestBytesMax) {
      return fail(clusterError('STORE_VALUE_TOO_LARGE', `${what}: the configuration is ${byteLength(json)} bytes; one etcd value holds at most ${requestBytesMax} here`,
        'raise etcd --max-request-bytes on every member'));
    }
    const crc = recordChecksum(seq, term, json);
    return this.write(what, async (conn) => {
      await conn.txn(what, {
        success: [
          putOp(this.k('checkpoint'), encodeCheckpoint(seq, term, crc, json)),
          { request_delete_range: { key: buf(this.k('log/')), range_end: prefixEnd(this.k('log/')) } },
          putOp(this.k('head'), pad(seq)),
          this.changeOp(),
        ],
      });
      return ok({ seq, term, crc, config });
    });
  }

  // ---- reports and events ----

  async writeReport(report: NodeReport): Promise<StoreResult<void>> {
    assert.ok(report.node !== '', 'a report names its node');
    const what = `writing the report of node '${report.node}'`;
    return this.write(what, async (conn) => {
      await conn.txn(what, { success: [putOp(this.k(`report/${encodeURIComponent(report.node)}`), JSON.stringify(report)), this.changeOp()] });
      return ok(undefined);
    });
  }

  async readReports(): Promise<NodeReport[]> {
    return this.read('reading node reports', async (conn) => {
      const res = await conn.txn('reading node reports', { success: [this.rangeOp('report/')] });
      const reports = (res.responses[0]?.response_range?.kvs ?? []).map((kv) => JSON.parse(kv.value.toString('utf8')) as NodeReport);
      return reports.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
    });
  }

  async appendEvents(events: NewEvent[]): Promise<StoreResult<void>> {
    if (events.length === 0) return ok(undefined);
    const what = `appending ${events.length} event(s)`;
    return this.write(what, async (conn) => {
      for (let i = 0; i < events.length; i += txnOpsMax - 5) {
        const r = await this.appendEventBatch(conn, what, events.slice(i, i + txnOpsMax - 5));
        if (!r.ok) return r;
      }
      return ok(undefined);
    });
  }

  private async appendEventBatch(conn: EtcdConn, what: string, batch: NewEvent[]): Promise<StoreResult<void>> {
    const mine = nonce();
    const seqKey = this.k('eventseq');
    // Other nodes append too: on a lost race, read the new last id and try again.
    for (let round = 0; round < 20; round++) {
      const now = await conn.range(what, { key: buf(seqKey) });
      const kv = now.kvs[0];
      const last = Number(text(kv) ?? 0);
      const newLast = last + batch.length;
      // Only the newest eventsMax are kept, so a batch bigger than that writes only its tail.
      const dropBelow = newLast - this.eventsMax + 1;
      const keepFrom = Math.max(last + 1, dropBelow);
      const ops: IRequestOp[] = batch.slice(keepFrom - (last + 1))
        .map((e, i) => putOp(this.eventKey(keepFrom + i), JSON.stringify({ ...e, nonce: mine })));
      ops.push(putOp(seqKey, pad(newLast)), this.changeOp());
      if (dropBelow > 1) ops.push({ request_delete_range: { key: buf(this.k('event/')), range_end: buf(this.eventKey(Math.min(dropBelow, last + 1))) } });
      const res = await conn.txn(what, {
        compare: [kv ? modIs(seqKey, kv.mod_revision) : absent(seqKey)],
        success: ops,
        failure: [getOp(this.eventKey(newLast))],
      });
      if (res.succeeded) return ok(undefined);
      const first = text(kvAt(res, 0));
      if (first !== undefined && (JSON.parse(first) as { nonce?: string }).nonce === mine) return ok(undefined);
    }
    return fail(clusterError('QUORUM_UNAVAILABLE', `${what}: other nodes kept appending events first`, 'the events are kept and sent again'));
  }

  async readEvents(afterId: number, limit: number): Promise<ClusterEvent[]> {
    assert.ok(Number.isSafeInteger(limit) && limit > 0, `limit ${limit} must be > 0`);
    return this.read('reading events', async (conn) => {
      const res = await conn.txn('reading events', {
        success: [this.rangeOp('event/', { from: this.eventKey(Math.max(afterId, 0) + 1), limit: Math.min(limit, eventsReadMax) })],
      });
      return (res.responses[0]?.response_range?.kvs ?? []).map((kv) => {
        const id = Number(kv.key.toString('utf8').slice(this.k('event/').length));
        const { nonce: _nonce, ...e } = JSON.parse(kv.value.toString('utf8')) as NewEvent & { nonce?: string };
        const event: ClusterEvent = { id, wallMs: e.wallMs, node: e.node, event: e.event, level: e.level, message: e.message };
        if (e.data !== undefined) event.data = e.data;
        return event;
      });
    });
  }

  // ---- one-round-trip snapshot ----

  /**
   * Leases, change version, coordinator, ownership, reports and log head in one read-only
   * transaction: one round trip instead of six, all from one revision. Not part of QuorumStore
   * (yet): a node cycle that uses it costs one etcd call instead of six.
   */
  async readSnapshot(): Promise<{
    leases: LeaseRecord[]; changeVersion: number; coordinator: CoordinatorRecord; ownership: OwnershipRecord[]; reports: NodeReport[]; logHead: number;
  }> {
    return this.read('reading the cluster state', async (conn) => {
      const res = await conn.txn('reading the cluster state', {
        success: [
          this.rangeOp('slot/'), { request_range: { key: buf(this.k('change')), keys_only: true } }, getOp(this.k('coord')),
          this.rangeOp('own/'), this.rangeOp('report/'), getOp(this.k('head')),
        ],
      });
      const kvs = (i: number) => res.responses[i]?.response_range?.kvs ?? [];
      const coordinator = parseCoord(text(kvAt(res, 2)));
      const logHead = Number(text(kvAt(res, 5)) ?? NaN);
      if (!coordinator || !Number.isSafeInteger(logHead)) {
        throw clusterError('QUORUM_LOG_DAMAGED', `the coordinator record or log head in ${this.location} is missing or unreadable`, recoveryHint);
      }
      const byName = <T>(key: (x: T) => string) => (a: T, b: T) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
      return {
        leases: kvs(0).map((kv) => parseSlot(text(kv))).filter((s): s is LeaseRecord => s !== null),
        changeVersion: Number(kvAt(res, 1)?.mod_revision ?? 0),
        coordinator,
        ownership: kvs(3).map((kv) => JSON.parse(kv.value.toString('utf8')) as OwnershipRecord)
          .map(ownershipOf).sort(byName((r) => r.group)),
        reports: kvs(4).map((kv) => JSON.parse(kv.value.toString('utf8')) as NodeReport).sort(byName((r) => r.node)),
        logHead,
      };
    });
  }

  // ---- change notification ----

  async changeVersion(): Promise<number> {
    return this.read('reading the change version', async (conn) => {
      const res = await conn.range('reading the change version', { key: buf(this.k('change')), keys_only: true });
      return Number(res.kvs[0]?.mod_revision ?? 0);
    });
  }

  onChange(cb: () => void): () => void {
    const entry = { cb };
    this.subscribers.add(entry);
    this.startWatching();
    return () => {
      this.subscribers.delete(entry);
      if (this.subscribers.size === 0) this.conn?.unwatch();
    };
  }

  private startWatching(): void {
    if (!this.conn || this.clusterName === '' || this.subscribers.size === 0) return;
    // One key, rewritten by every write but lease renewals: heartbeats never wake anyone.
    this.conn.watchKey(buf(this.k('change')), () => {
      for (const s of [...this.subscribers]) s.cb();
    });
  }

  // ---- plumbing ----

  private open_(): EtcdConn {
    assert.ok(this.conn && this.clusterName !== '', `quorum store ${this.location} is not open: call init() or open() first`);
    return this.conn;
  }

  private async read<T>(what: string, body: (conn: EtcdConn) => Promise<T>): Promise<T> {
    const conn = this.open_();
    try {
      return await body(conn);
    } catch (err) {
      throw this.failure(what, err);
    }
  }

  private async write<T>(what: string, body: (conn: EtcdConn) => Promise<StoreResult<T>>): Promise<StoreResult<T>> {
    if (!this.conn || (this.clusterName === '' && !this.renewOnly)) return fail(this.closedError());
    try {
      return await body(this.conn);
    } catch (err) {
      return fail(this.failure(what, err));
    }
  }

  /** Maps an etcd failure to a ClusterError; anything else is a bug and is rethrown. */
  private failure(what: string, err: unknown): ClusterError {
    if (err instanceof ClusterError) return err;
    if (err instanceof SyntaxError) {
      return clusterError('QUORUM_LOG_DAMAGED', `${what} failed: a key under ${this.prefix} in ${this.location} holds unreadable JSON (${err.message})`, recoveryHint);
    }
    if (err instanceof EtcdUnavailable) {
      return clusterError('QUORUM_UNAVAILABLE', `${what} failed: ${err.message}`,
        `the outcome is unknown: read again. Check that a majority of the etcd members (${this.endpoints.join(', ')}) is up and reachable from this machine`);
    }
    if (err instanceof EtcdRejected) {
      if (err.kind === 'space') {
        return clusterError('QUORUM_DISK_FULL', `${what} failed: etcd is out of space (${err.message})`,
          'on the etcd members: free disk space, compact and defragment (etcdctl compact, etcdctl defrag), then etcdctl alarm disarm');
      }
      if (err.kind === 'auth') {
        return clusterError('QUORUM_UNAVAILABLE', `${what} failed: etcd refused the credentials (${err.message})`,
          'check CLUSTERD_ETCD_USER/CLUSTERD_ETCD_PASSWORD and the role granted on the key prefix, or CLUSTERD_ETCD_CA/CERT/KEY');
      }
      if (err.kind === 'too-large') {
        return clusterError('STORE_VALUE_TOO_LARGE', `${what} failed: etcd refused the request as too large (${err.message})`,
          'raise --max-request-bytes and --max-txn-ops on every etcd member');
      }
      return clusterError('QUORUM_UNAVAILABLE', `${what} failed: etcd refused it (${err.message})`, 'see the etcd members\' logs');
    }
    throw err;
  }
}

// ---- encodings ----

function coordValue(c: CoordinatorRecord): string {
  return JSON.stringify({ term: c.term, node: c.node });
}

function parseCoord(value: string | undefined): CoordinatorRecord | null {
  if (value === undefined) return null;
  try {
    const c = JSON.parse(value) as CoordinatorRecord;
    return { term: c.term, node: c.node };
  } catch {
    return null;
  }
}

function parseMeta(value: string | undefined): { schemaVersion: number; clusterName: string; nonce?: string } | null {
  if (value === undefined) return null;
  try {
    return JSON.parse(value) as { schemaVersion: number; clusterName: string; nonce?: string };
  } catch {
    return null;
  }
}

function parseSlot(value: string | undefined): LeaseRecord | null {
  if (value === undefined) return null;
  try {
    const s = JSON.parse(value) as LeaseRecord;
    if (typeof s.node !== 'string' || !Number.isSafeInteger(s.counter) || typeof s.incarnation !== 'string') return null;
    if (!['running', 'draining', 'stopped', 'fenced'].includes(s.state)) return null;
    return { node: s.node, counter: s.counter, state: s.state, incarnation: s.incarnation };
  } catch {
    return null;
  }
}

function parseFloor(value: string | undefined): Floor | null {
  if (value === undefined) return null;
  try {
    const f = JSON.parse(value) as Floor;
    if (!Number.isSafeInteger(f.term) || f.term < 0 || !Number.isSafeInteger(f.epoch) || f.epoch < 0) return null;
    return { term: f.term, epoch: f.epoch };
  } catch {
    return null;
  }
}

function encodeCheckpoint(seq: number, term: number, crc: number, json: string): string {
  return `${seq} ${term} ${crc}\n${json}`;
}

function checkpointHeader(value: string | undefined): { seq: number; term: number; crc: number } | null {
  if (value === undefined) return null;
  const m = /^(\d+) (\d+) (\d+)\n/.exec(value);
  return m ? { seq: Number(m[1]), term: Number(m[2]), crc: Number(m[3]) } : null;
}

function decodeCheckpoint(value: string): StoreResult<Checkpoint> {
  const h = checkpointHeader(value);
  const json = h ? value.slice(value.indexOf('\n') + 1) : '';
  const computed = h ? recordChecksum(h.seq, h.term, json) : NaN;
  const config = h && computed === h.crc ? parseJson(json) : undefined;
  if (!h || config === undefined) {
    return fail(clusterError('QUORUM_LOG_DAMAGED', `the checkpoint${h ? ` at seq ${h.seq}` : ''} is corrupt: stored checksum ${h?.crc ?? '?'}, computed ${computed}`, recoveryHint));
  }
  const tables = typeof config === 'object' && config !== null ? ownTables(config as ClusterConfig) : config;
  return ok({ seq: h.seq, term: h.term, crc: h.crc, config: tables as ClusterConfig });
}

/** Records with seq > afterSeq, at most `max`: verified to follow on without a gap and to match their checksums. */
function decodeChunks(kvs: IKeyValue[], afterSeq: number, max: number): StoreResult<LogRecord[]> {
  const records: LogRecord[] = [];
  for (const kv of kvs) {
    const lines = kv.value.toString('utf8').split('\n');
    for (const line of lines) {
      if (line.startsWith('#')) continue;
      const m = /^(\d+) (\d+) (\d+) (.*)$/s.exec(line);
      if (!m) return fail(clusterError('QUORUM_LOG_DAMAGED', `quorum log key ${kv.key.toString('utf8')} holds an unreadable record`, recoveryHint));
      const seq = Number(m[1]);
      const term = Number(m[2]);
      const crc = Number(m[3]);
      const payload = m[4]!;
      if (seq <= afterSeq) continue;
      const expectedSeq = afterSeq + 1 + records.length;
      if (seq !== expectedSeq) {
        return fail(clusterError('QUORUM_LOG_DAMAGED', `quorum log record seq ${expectedSeq} is missing (the next record is seq ${seq})`, recoveryHint));
      }
      const computed = recordChecksum(seq, term, payload);
      if (computed !== crc) {
        return fail(clusterError('QUORUM_LOG_DAMAGED', `quorum log record seq ${seq} is corrupt: stored checksum ${crc}, computed ${computed}`, recoveryHint));
      }
      const update = parseJson(payload);
      if (update === undefined) return fail(clusterError('QUORUM_LOG_DAMAGED', `quorum log record seq ${seq} is corrupt: its payload is not JSON`, recoveryHint));
      records.push({ seq, term, crc, update: update as ConfigUpdate });
      if (records.length >= max) return ok(records);
    }
  }
  return ok(records);
}

function parseJson(value: string): unknown {
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return undefined;
  }
}

/** An ownership record as stored (JSON), with only the record's own fields. */
function ownershipOf(r: OwnershipRecord): OwnershipRecord {
  const rec: OwnershipRecord = { group: r.group, node: r.node, epoch: r.epoch, term: r.term, phase: r.phase };
  if (r.books) rec.books = r.books;
  return rec;
}
