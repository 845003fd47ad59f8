// The event stream (GET /v1/events/stream, server-sent events) and its bounds. A stream costs
// the node bounded memory and bounded store reads whatever its reader does:
// - One shared poll of the store feeds every live stream from an in-memory tail: N streams do not
//   mean N store reads per tick.
// - A stream behind the tail (a backlog, `?after=0`) reads it from the store one page at a time,
//   and reads the next page only once the socket has taken the previous one.
// - A write the socket does not take at once is waited for ('drain'); a reader that takes nothing
//   for stallMs, or lets more than streamBufferedBytesMax pile up, is dropped with a final
//   `event: error` naming the reason, and the drop is counted (clusterd_event_streams_dropped_total).
// - At most streamsMax streams at once; one more is refused with STREAM_LIMIT and Retry-After.

import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import { clusterError } from '../core/errors.js';
import type { ClusterEvent } from '../store/types.js';
import { sendError } from './http.js';

export interface EventStreamSettings {
  /** A comment line is sent this often on an idle stream, so proxies and readers see it alive. */
  keepaliveMs: number;
  /** A reader that takes no bytes for this long is dropped. */
  stallMs: number;
  /** Streams open at once on this node; one more is refused (503 STREAM_LIMIT). */
  streamsMax: number;
}

export const eventStreamDefaults: Readonly<EventStreamSettings> = Object.freeze({
  // Why 15 s: well under the 60 s idle timeout of common proxies (nginx proxy_read_timeout).
  keepaliveMs: 15_000,
  // Why 30 s: a reader on a slow link takes a page in far less; a reader stopped that long is gone.
  stallMs: 30_000,
  // Why 256: operators' terminals and dashboards need a few dozen; 256 streams at
  // streamBufferedBytesMax each stay within 64 MiB, and 256 sockets well within the usual
  // 1024-descriptor limit of a process.
  streamsMax: 256,
});

/** Events per store read of a backlog page: a page is ~100 KiB of JSON at a few hundred bytes an event. */
export const streamPageEventsMax = 200;
/** Bytes a stream may hold unsent before it is dropped: a few pages; the socket itself stops us at ~16 KiB. */
export const streamBufferedBytesMax = 256 * 1024;
/** Events the shared tail keeps in memory: a stream this close to the head needs no store read. */
const tailEventsMax = 1_000;
/** The shared poll of the store runs this often while a stream is open. */
const pollIntervalMs = 250;
/** A dropped stream's socket is closed after this, so a reader that comes back can read the reason; until then it counts against streamsMax, its unsent bytes bounded as before. */
const dropGraceMs = 30_000;
/** A stream ended because the node stops is closed after this even if its reader took nothing. */
const shutdownGraceMs = 1_000;
/** `retry:` hint: how long an EventSource waits before it reconnects (it then sends Last-Event-ID). */
const retryHintMs = 1_000;
/** Seconds a refused stream is told to wait (Retry-After). */
const retryAfterS = 5;

export type DropReason = 'stalled' | 'buffer-full';

export interface EventSource {
  readonly stopped: boolean;
  readEvents(afterId: number, limit: number): Promise<ClusterEvent[]>;
}

/** The id to start after: Last-Event-ID (a reconnecting EventSource) wins over ?after. */
export function startAfter(lastEventId: string | string[] | undefined, after: string | undefined): number {
  const header = Array.isArray(lastEventId) ? lastEventId[0] : lastEventId;
  for (const v of [header, after]) {
    if (v === undefined || v.trim() === '') continue;
    const n = Number(v);
    if (Number.isSafeInteger(n) && n >= 0) return n;
  }
  return 0;
}

export class EventStreams {
  private readonly streams = new Set<Stream>();
  /** Every event with id in (tailFloor, head], oldest first; null until a stream reached the end. */
  private tail: ClusterEvent[] = [];
  private tailFloor = 0;
  private head: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  private waiters = new Set<() => void>();
  private turns: (() => void)[] = [];
  private turnScheduled = false;
  readonly dropped: Record<DropReason, number> = { 'stalled': 0, 'buffer-full': 0 };

  constructor(private readonly source: EventSource, readonly settings: EventStreamSettings) {}

  get open(): number { return this.streams.size; }

  /** The shared poll knows where the log ends. */
  get seeded(): boolean { return this.head !== null; }

  handle(req: FastifyRequest, reply: FastifyReply): void {
    if (this.streams.size >= this.settings.streamsMax) {
      reply.header('retry-after', String(retryAfterS));
      sendError(reply, clusterError('STREAM_LIMIT', `this node serves ${this.streams.size} event streams, its limit (streamsMax ${this.settings.streamsMax})`,
        `retry in ${retryAfterS} s, read GET /v1/events instead, or stream from another node`));
      return;
    }
    reply.hijack();
    const q = req.query as { after?: string };
    const s = new Stream(this, this.source, reply.raw, startAfter(req.headers['last-event-id'], q.after));
    this.streams.add(s);
    this.startPolling();
    reply.raw.on('close', () => {
      s.closed = true;
      this.streams.delete(s);
      this.wake();
      if (this.streams.size === 0) this.stopPolling();
    });
    void s.run();
  }

  /** Events after `cursor` from the tail (at most `max`), or null when the tail does not hold them all. */
  fromTail(cursor: number, max: number): ClusterEvent[] | null {
    if (this.head === null || cursor < this.tailFloor) return null;
    const out: ClusterEvent[] = [];
    for (const e of this.tail) {
      if (e.id <= cursor) continue;
      out.push(e);
      if (out.length >= max) break;
    }
    return out;
  }

  /** A stream read the store to its end at `lastId`: the shared poll may start from there. */
  reachedEnd(lastId: number): void {
    if (this.head !== null) return;
    this.head = lastId;
    this.tailFloor = lastId;
  }

  /** Resolves on new events, on a stream closing, or after `ms`. */
  waitNews(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => { clearTimeout(t); this.waiters.delete(done); resolve(); };
      const t = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  countDrop(reason: DropReason): void { this.dropped[reason]++; }

  /**
   * Resolves when it is this caller's turn to send one page: one page of one stream per turn of
   * the event loop, streams in FIFO order. A socket whose kernel buffers still have room takes a
   * page at once (megabytes on loopback), so without turns N streams would send N pages in one
   * turn and keep the node from its other work.
   */
  turn(): Promise<void> {
    return new Promise((resolve) => {
      this.turns.push(resolve);
      this.nextTurn();
    });
  }

  private nextTurn(): void {
    if (this.turnScheduled || this.turns.length === 0) return;
    this.turnScheduled = true;
    setImmediate(() => {
      this.turnScheduled = false;
      this.turns.shift()!();
      this.nextTurn();
    });
  }

  /** The node stops: every stream ends (its readers reconnect elsewhere with Last-Event-ID). */
  close(): void {
    this.stopPolling();
    for (const s of this.streams) s.end();
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private startPolling(): void {
    this.timer ??= setInterval(() => void this.poll(), pollIntervalMs);
  }

  private stopPolling(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    // Nobody keeps the tail current now: the next stream finds the end again.
    this.tail = [];
    this.head = null;
  }

  /** The one store read per tick for every live stream. */
  private async poll(): Promise<void> {
    if (this.polling || this.head === null || this.source.stopped) return;
    this.polling = true;
    try {
      const events = await this.source.readEvents(this.head, streamPageEventsMax);
      if (this.head === null || events.length === 0) return;
      this.tail.push(...events);
      this.head = events[events.length - 1]!.id;
      if (this.tail.length > tailEventsMax) {
        const gone = this.tail.splice(0, this.tail.length - tailEventsMax);
        this.tailFloor = gone[gone.length - 1]!.id;
      }
      this.wake();
    } catch { /* the store is unreachable: the next tick tries again */ } finally {
      this.polling = false;
    }
  }
}

class Stream {
  closed = false;
  private lastWriteMs = 0;

  constructor(private readonly hub: EventStreams, private readonly source: EventSource, private readonly raw: ServerResponse, private cursor: number) {}

  async run(): Promise<void> {
    this.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    this.raw.write(`retry: ${retryHintMs}\n\n`);
    this.lastWriteMs = performance.now();
    try {
      while (!this.closed && !this.source.stopped) {
        await this.hub.turn();
        if (this.closed) break;
        const events = await this.nextPage();
        if (events === null) return;
        if (events.length === 0) {
          await this.idle();
          continue;
        }
        for (const e of events) {
          if (!(await this.send(`id: ${e.id}\ndata: ${JSON.stringify(e)}\n\n`))) return;
          this.cursor = e.id;
        }

      }
    } catch {
      // The store failed mid-read: end the stream; the reader resumes with Last-Event-ID.
    }
    this.end();
  }

  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.raw.end();
    // A reader that does not take the rest must not hold the server open.
    setTimeout(() => this.raw.destroy(), shutdownGraceMs).unref();
  }

  /** The next events: from the shared tail, else one page from the store. */
  private async nextPage(): Promise<ClusterEvent[] | null> {
    const cached = this.hub.fromTail(this.cursor, streamPageEventsMax);
    if (cached) return cached;
    const page = await this.source.readEvents(this.cursor, streamPageEventsMax);
    if (this.closed) return null;
    if (page.length < streamPageEventsMax && !this.hub.seeded) await this.seed(page);
    return page;
  }

  /**
   * A short page ends at the end of the log: the shared poll starts there. An empty page proves
   * the end only if the cursor is an event that exists (a cursor past the end proves nothing).
   */
  private async seed(page: ClusterEvent[]): Promise<void> {
    if (page.length > 0) return this.hub.reachedEnd(page[page.length - 1]!.id);
    if (this.cursor === 0 || (await this.source.readEvents(this.cursor - 1, 1))[0]?.id === this.cursor) this.hub.reachedEnd(this.cursor);
  }

  /** Caught up: wait for news, and send a keepalive comment when the stream was quiet that long. */
  private async idle(): Promise<void> {
    const quietMs = performance.now() - this.lastWriteMs;
    const left = this.hub.settings.keepaliveMs - quietMs;
    if (left <= 0) {
      await this.send(': keepalive\n\n');
      return;
    }
    await this.hub.waitNews(left);
  }

  /** Write one chunk; waits for 'drain' when the socket did not take it. False: the stream is over. */
  private async send(chunk: string): Promise<boolean> {
    if (this.closed) return false;
    if (this.raw.writableLength + Buffer.byteLength(chunk) > streamBufferedBytesMax) return this.drop('buffer-full');
    this.lastWriteMs = performance.now();
    if (this.raw.write(chunk)) return true;
    const drained = await this.drained();
    if (this.closed) return false;
    return drained ? true : this.drop('stalled');
  }

  private drained(): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (v: boolean) => { clearTimeout(t); this.raw.off('drain', onDrain); this.raw.off('close', onClose); resolve(v); };
      const onDrain = () => done(true);
      const onClose = () => done(true);
      const t = setTimeout(() => done(false), this.hub.settings.stallMs);
      this.raw.on('drain', onDrain);
      this.raw.on('close', onClose);
    });
  }

  private drop(reason: DropReason): false {
    this.hub.countDrop(reason);
    const why = reason === 'stalled'
      ? `the reader took nothing for ${this.hub.settings.stallMs} ms (stallMs)`
      : `more than ${streamBufferedBytesMax} bytes waited unsent (streamBufferedBytesMax)`;
    const e = clusterError('STREAM_TOO_SLOW', `event stream closed after event ${this.cursor}: ${why}`,
      `read faster, or reconnect with Last-Event-ID: ${this.cursor} (or GET /v1/events?after=${this.cursor})`);
    this.raw.end(`: dropped: ${reason}\nevent: error\ndata: ${JSON.stringify({ error: e.toJSON(), reason, lastEventId: this.cursor })}\n\n`);
    this.closed = true;
    setTimeout(() => this.raw.destroy(), dropGraceMs).unref();
    return false;
  }
}
