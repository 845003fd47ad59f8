// The etcd connection behind the etcd quorum store: one etcd3 client per endpoint, a sticky
// choice of endpoint, a deadline on every call and our own retries. Kept apart from the store so
// that the client library can be replaced without touching the store's semantics.
//
// Why not the etcd3 client's own fault handling: it picks a random host for every call, retries
// non-idempotent writes by itself, opens a circuit breaker for 5 s after three failures and sets
// no deadline. Here:
// - every call has a budget (callTimeoutMs, 500 ms by default) made of attempts; an attempt that
//   fails with a transient error (no connection, deadline, leader change, no leader) moves the
//   client to the next endpoint and is retried while budget remains; once the budget is spent the
//   call fails with EtcdUnavailable, which the store reports as QUORUM_UNAVAILABLE ("the outcome is
//   unknown: read again"). The store makes every write safe to re-send (see etcd.ts).
// - a blackholed endpoint (a partitioned machine) costs one attempt, not every call: the client
//   stays on an endpoint that answers until that one fails.
// - close() cancels the watch and closes every channel, so the process can exit.

export { EtcdRejected, EtcdUnavailable, etcdSecurityFromEnv, parseEtcdEndpoints, type EtcdTls } from './etcd-config.js';

import { EtcdRejected, EtcdUnavailable, type EtcdTls } from './etcd-config.js';
import { Etcd3, type IOptions, type IRangeResponse, type IRangeRequest, type ITxnRequest, type ITxnResponse, type Watcher } from 'etcd3';

export interface EtcdConnOptions {
  endpoints: string[];
  /** Budget of one call, all attempts included. */
  callTimeoutMs: number;
  tls?: EtcdTls;
  auth?: { username: string; password: string };
}

/** Error classes of the etcd3 client (its errors lose the gRPC code but keep the class name). */
const transientErrors = new Set([
  'GRPCUnavailableError', 'GRPCDeadlineExceededError', 'GRPCCancelledError', 'GRPCUnknownError', 'GRPCInternalError',
  'GRPCAbortedError', 'GRPCGenericError', 'EtcdError', 'ClientRuntimeError',
]);
const transientMessages = /leader changed|no leader|request timed out|timed out|too many requests|not capable|unhealthy|connection|UNAVAILABLE|Channel/i;

type Classified = { transient: true; message: string } | { transient: false; error: EtcdRejected };

function classify(err: unknown): Classified {
  const e = err as { name?: string; constructor?: { name?: string }; message?: string } | null;
  const name = e?.constructor?.name ?? e?.name ?? '';
  const message = String(e?.message ?? err);
  if (/database space exceeded|no space/i.test(message)) return { transient: false, error: new EtcdRejected(message, 'space') };
  if (/request is too large|too many operations|message larger than max|exceeds the maximum/i.test(message)) {
    return { transient: false, error: new EtcdRejected(message, 'too-large') };
  }
  if (/authenticat|permission denied|auth token|user name not found|PERMISSION_DENIED|UNAUTHENTICATED/i.test(message) ||
      /Permission|Unauthenticated|AuthenticationFailed/.test(name)) {
    return { transient: false, error: new EtcdRejected(message, 'auth') };
  }
  if (name === 'GRPCResourceExhastedError') return { transient: true, message };
  if (transientErrors.has(name) || transientMessages.test(message)) return { transient: true, message };
  return { transient: false, error: new EtcdRejected(message, 'other') };
}

/** A fault-handling policy that runs the call once, as is (the etcd3 client's default retries and breaks circuits). */
const runOnce = {
  execute: <T>(fn: (ctx: { signal: AbortSignal }) => T | Promise<T>): Promise<T> => Promise.resolve().then(() => fn({ signal: new AbortController().signal })),
} as unknown as NonNullable<NonNullable<IOptions['faultHandling']>['global']>;

/** Watch reconnection: 200 ms, then 400, 800, 1000 ms... (the library default goes up to 30 s). */
function watchBackoff(delayMs = 200): { duration: number; next: () => ReturnType<typeof watchBackoff> } {
  return { duration: delayMs, next: () => watchBackoff(Math.min(delayMs * 2, 1_000)) };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Rejects with EtcdUnavailable after `ms` unless `p` settles first; the timer never outlives the race. */
function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new EtcdUnavailable(`${what}: no answer within ${Math.round(ms)} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

export class EtcdConn {
  readonly endpoints: string[];
  private readonly o: EtcdConnOptions;
  private clients: (Etcd3 | null)[];
  private preferred = 0;
  private closed = false;
  private watch: { key: Buffer; cb: () => void; client: number; watcher: Watcher | null; gen: number } | null = null;

  constructor(o: EtcdConnOptions) {
    if (o.endpoints.length === 0) throw new Error('an etcd connection needs at least one endpoint');
    this.o = o;
    this.endpoints = [...o.endpoints];
    this.clients = o.endpoints.map(() => null);
  }

  private client(i: number): Etcd3 {
    if (this.closed) throw new EtcdUnavailable('the etcd connection is closed');
    let c = this.clients[i];
    if (!c) {
      const options: IOptions = {
        hosts: [this.endpoints[i]!],
        dialTimeout: this.o.callTimeoutMs,
        // Our own attempts, deadlines and endpoint choice (see the top of this file).
        faultHandling: {
          host: () => runOnce, global: runOnce,
          watchBackoff: { next: () => watchBackoff() } as unknown as NonNullable<NonNullable<IOptions['faultHandling']>['watchBackoff']>,
        },
        defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + this.o.callTimeoutMs }),
        grpcOptions: {
          'grpc.initial_reconnect_backoff_ms': 100,
          'grpc.max_reconnect_backoff_ms': 1_000,
          // etcd refuses pings more often than every 5 s (--grpc-keepalive-min-time).
          'grpc.keepalive_time_ms': 10_000,
          'grpc.keepalive_timeout_ms': 3_000,
          'grpc.enable_retries': 0,
        },
      };
      const tls = this.o.tls;
      if (tls && (tls.ca || tls.cert)) {
        options.credentials = { rootCertificate: tls.ca ?? (undefined as unknown as Buffer) };
        if (tls.cert && tls.key) { options.credentials.certChain = tls.cert; options.credentials.privateKey = tls.key; }
      }
      if (this.o.auth) options.auth = { username: this.o.auth.username, password: this.o.auth.password };
      c = new Etcd3(options);
      this.clients[i] = c;
    }
    return c;
  }

  /** Moves to the next endpoint if `failed` is still the preferred one; the watch follows. */
  private rotate(failed: number): void {
    if (this.preferred !== failed || this.endpoints.length === 1) return;
    this.preferred = (failed + 1) % this.endpoints.length;
    if (this.watch) this.restartWatch();
  }

  /**
   * Runs `fn` on the preferred endpoint with a deadline, moving to the next endpoint and trying
   * again after a transient failure while the budget lasts. `fn` must be safe to repeat.
   */
  async call<T>(what: string, fn: (client: Etcd3, deadline: Date) => Promise<T>, budgetMs = this.o.callTimeoutMs): Promise<T> {
    const start = performance.now();
    // Half the budget per attempt: one stalled endpoint leaves time to ask another.
    const attemptMaxMs = this.endpoints.length > 1 ? Math.max(100, budgetMs / 2) : budgetMs;
    let last = '';
    for (let attempt = 0; ; attempt++) {
      const left = budgetMs - (performance.now() - start);
      if (left < 5) break;
      const i = this.preferred;
      const ms = Math.min(left, attemptMaxMs);
      try {
        const client = this.client(i);
        return await withDeadline(fn(client, new Date(Date.now() + ms)), ms + 50, what);
      } catch (err) {
        if (err instanceof EtcdUnavailable && this.closed) throw err;
        if (err instanceof EtcdRejected) throw err;
        const c = err instanceof EtcdUnavailable ? { transient: true as const, message: err.message } : classify(err);
        if (!c.transient) throw c.error;
        last = `${this.endpoints[i]}: ${c.message.split('\n')[0]}`;
        this.rotate(i);
        // A short pause: an election in progress or a refused connection answers at once.
        const pause = Math.min(20 * (attempt + 1), 100);
        if (budgetMs - (performance.now() - start) > pause + 5) await sleep(pause);
      }
    }
    throw new EtcdUnavailable(`${what}: no etcd endpoint completed it within ${budgetMs} ms (${last || 'no attempt'})`);
  }

  range(what: string, req: IRangeRequest, budgetMs?: number): Promise<IRangeResponse> {
    return this.call(what, (c, deadline) => c.kv.range(req, { deadline }), budgetMs);
  }

  txn(what: string, req: ITxnRequest, budgetMs?: number): Promise<ITxnResponse> {
    return this.call(what, (c, deadline) => c.kv.txn(req, { deadline }), budgetMs);
  }

  /** Best effort: drops MVCC history older than `revision` (errors ignored: another node may have done it). */
  async compact(revision: number): Promise<void> {
    try {
      await this.call('compacting etcd history', (c, deadline) => c.kv.compact({ revision, physical: false }, { deadline }));
    } catch {
      // compacted already, or etcd busy: the next renewal past the threshold tries again
    }
  }

  /** Calls `cb` on every put or delete of `key` (a wake-up hint). One watch per connection. */
  watchKey(key: Buffer, cb: () => void): void {
    if (this.closed || this.watch) return;
    this.watch = { key, cb, client: this.preferred, watcher: null, gen: 0 };
    this.restartWatch();
  }

  unwatch(): void {
    const w = this.watch;
    this.watch = null;
    if (w?.watcher) void w.watcher.cancel().catch(() => undefined);
  }

  private restartWatch(): void {
    const w = this.watch;
    if (!w || this.closed) return;
    if (w.watcher) void w.watcher.cancel().catch(() => undefined);
    w.watcher = null;
    w.client = this.preferred;
    const gen = ++w.gen;
    let builder;
    try {
      builder = this.client(w.client).watch().key(w.key);
    } catch {
      return;
    }
    builder.create().then((watcher) => {
      if (this.watch !== w || w.gen !== gen || this.closed) {
        void watcher.cancel().catch(() => undefined);
        return;
      }
      w.watcher = watcher;
      watcher.on('put', () => w.cb());
      watcher.on('delete', () => w.cb());
      // After a reconnection events may have been missed: wake the subscriber to re-read.
      watcher.on('connected', () => w.cb());
      watcher.on('error', () => undefined);
      // Writes made before the watch was in place are not replayed: wake the subscriber once.
      w.cb();
    }, () => {
      // The endpoint did not accept the watch: the subscriber polls meanwhile; try again later.
      if (this.watch === w && w.gen === gen && !this.closed) {
        setTimeout(() => { if (this.watch === w && w.gen === gen) this.restartWatch(); }, 500).unref();
      }
    });
  }

  close(): void {
    if (this.closed) return;
    this.unwatch();
    this.closed = true;
    for (const c of this.clients) {
      try {
        c?.close();
      } catch {
        // closing a broken channel: nothing left to free
      }
    }
    this.clients = this.clients.map(() => null);
  }
}
