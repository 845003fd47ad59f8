// Admission control for writes: a node takes at most writesInFlightMax write requests at once
// (its own and those it forwards to the coordinator) and at most appliesInFlightMax applies;
// one more is refused at once with 429 NODE_BUSY and Retry-After, never queued without bound.
// Reads are never refused here: they answer from the node's view and stay fast when writes pile
// up. The coordinator's commit queue has its own bound (429 QUORUM_BUSY, node/config-log.ts).
// Every 429 answer carries Retry-After, also one relayed from the coordinator.
// A node whose event loop is saturated (its timer late by more than saturatedLagMs on
// saturatedSamples checks in a row) refuses writes too (429 NODE_BUSY): each write makes work on
// every node (a commit, a catch-up, a cycle), and taking more of them would leave the reads that
// share the loop waiting seconds. One long turn alone (a stopped process, a large commit) is not
// saturation: the next check on time clears it.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { clusterError, type ClusterError } from '../core/errors.js';
import { routeKey, routeRoles } from './auth.js';
import { sendError } from './http.js';

export interface AdmissionSettings {
  /** Write requests (POST, PATCH, DELETE) a node handles at once; one more is refused (429 NODE_BUSY). */
  writesInFlightMax: number;
  /** `POST /v1/apply` requests a node handles at once (each holds a document up to 16 MiB and its plan). */
  appliesInFlightMax: number;
}

export const admissionDefaults: Readonly<AdmissionSettings> = Object.freeze({
  // Why 256: 64 writers with 4 requests each in flight fit; each holds a request body (a few
  // hundred bytes) and on the coordinator an entry of the commit queue, whose own bound (4096)
  // is far above this. Beyond it, answering at once is cheaper for everybody than queueing.
  writesInFlightMax: 256,
  // Why 2: an apply of 20,000 groups holds some tens of MB while it is planned and validated.
  appliesInFlightMax: 2,
});

/**
 * A check of the event loop's lag runs this often. Why 100 ms: as often as the heartbeat; each
 * wake-up of an idle process costs about 0.1 ms of CPU on the 2-core test machine, and checks every
 * 50 ms were a tenth of an idle node's CPU.
 */
const lagCheckEveryMs = 100;
/**
 * Lag of one check that counts as late. Why 250 ms: a loop that late on several checks in a row
 * answers reads in a quarter of a second at best; a loaded host alone (the 2-core test machine at a
 * load of 30) makes single late checks, rarely several in a row.
 */
export const saturatedLagMs = 250;
/** Late checks in a row that make the node saturated (a loop busy over 70% of the time for at least a second). */
const saturatedSamples = 3;

/** Seconds a refused write is told to wait: writes complete in milliseconds, so a second sees the queue drained. */
export const busyRetryAfterS = 1;

const readMethods = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Routes only nodes call (auth.ts 'node' rows). */
const internalPrefix = '/v1/internal/';
/**
 * A write place is taken only by a route that needs an operator or an admin (auth.ts routeRoles):
 * a public or viewer POST (a dashboard redeem, a login ticket, a hand-off) changes nothing in the
 * cluster, and one sent slowly by anybody must not hold the places of others' writes.
 */
const takesWritePlace = (req: FastifyRequest): boolean => {
  const url = req.routeOptions.url;
  if (url === undefined) return false;
  const access = routeRoles[routeKey(req.method, url)];
  return access === 'operator' || access === 'admin';
};

export class Admission {
  writes = 0;
  applies = 0;
  /** Writes refused so far, by code. */
  readonly refused: Record<string, number> = {};

  /** Checks in a row whose lag was past saturatedLagMs, and the newest lags (ms). */
  private late = 0;
  private lags: number[] = [];
  private lagTimer: NodeJS.Timeout | null = null;

  constructor(private readonly settings: AdmissionSettings = admissionDefaults) {}

  /** Starts checking the event loop's lag (install does). */
  watchLoop(): void {
    if (this.lagTimer !== null) return;
    let expected = performance.now() + lagCheckEveryMs;
    this.lagTimer = setInterval(() => {
      const now = performance.now();
      const lag = Math.max(0, now - expected);
      expected = now + lagCheckEveryMs;
      this.late = lag > saturatedLagMs ? this.late + 1 : 0;
      this.lags = this.late > 0 ? [...this.lags.slice(-(saturatedSamples - 1)), lag] : [];
    }, lagCheckEveryMs);
    this.lagTimer.unref();
  }

  stop(): void {
    if (this.lagTimer !== null) clearInterval(this.lagTimer);
    this.lagTimer = null;
  }

  /** Why the node's loop is saturated now, or null. */
  saturated(): string | null {
    if (this.late < saturatedSamples) return null;
    return `this node's event loop is saturated (its last ${this.lags.length} checks were late by ${this.lags.map((l) => Math.round(l)).join(', ')} ms; limit ${saturatedLagMs} ms)`;
  }

  /** Takes a place for a write, or says why not. `leave` gives it back. */
  enter(apply: boolean): ClusterError | null {
    const saturated = this.saturated();
    if (saturated !== null) return this.refuse(saturated);
    if (this.writes >= this.settings.writesInFlightMax) {
      return this.refuse(`${this.writes} write requests are in flight on this node, its limit (writesInFlightMax ${this.settings.writesInFlightMax})`);
    }
    if (apply && this.applies >= this.settings.appliesInFlightMax) {
      return this.refuse(`${this.applies} applies are in flight on this node, its limit (appliesInFlightMax ${this.settings.appliesInFlightMax})`);
    }
    this.writes++;
    if (apply) this.applies++;
    return null;
  }

  leave(apply: boolean): void {
    this.writes--;
    if (apply) this.applies--;
  }

  private refuse(message: string): ClusterError {
    this.refused.NODE_BUSY = (this.refused.NODE_BUSY ?? 0) + 1;
    return clusterError('NODE_BUSY', `${message}; nothing was done`, `retry after ${busyRetryAfterS} s (Retry-After); reads are answered meanwhile`);
  }

  /** Hooks on `app`: every write takes a place until its response is done; every 429 answer says when to retry. */
  install(app: FastifyInstance): void {
    this.watchLoop();
    app.addHook('onClose', async () => this.stop());
    app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
      if (readMethods.has(req.method)) return;
      // Calls between nodes serve a write that was admitted where it entered (agent-check-routes.ts).
      if (req.url.startsWith(internalPrefix) || !takesWritePlace(req)) return;
      const apply = req.url.split('?')[0] === '/v1/apply';
      const refused = this.enter(apply);
      if (refused) return sendError(reply, refused);
      let left = false;
      // 'close' comes once the answer is sent or the connection is gone, whichever comes first.
      reply.raw.once('close', () => { if (!left) { left = true; this.leave(apply); } });
    });
    app.addHook('onSend', async (_req, reply, payload) => {
      if (reply.statusCode === 429 && !reply.hasHeader('retry-after')) reply.header('retry-after', String(busyRetryAfterS));
      if (reply.statusCode === 429) {
        const code = /"code":"([A-Z_]+)"/.exec(typeof payload === 'string' ? payload : '')?.[1];
        if (code && code !== 'NODE_BUSY') this.refused[code] = (this.refused[code] ?? 0) + 1;
      }
      return payload;
    });
  }
}
