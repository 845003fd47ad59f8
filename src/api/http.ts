// What every route of the API shares: error answers (their HTTP status is the code's row in
// core/errors.ts), request-body parsing, and forwarding a request to another node. Its own
// module so that the route files import it and not each other.

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { clusterError, httpStatusOf, type ClusterError, type Result } from '../core/errors.js';
import { callerHeader, internalHeaders, nodeAuthOf } from './identity.js';

/** Set on a forwarded request: the node it reaches answers it itself, never forwards it again. */
export const forwardedHeader = 'x-clusterd-forwarded';
/** Every answer names the node whose handler made it (a forwarded answer keeps the name of the node that made it). */
export const answeredByHeader = 'x-clusterd-node';
/** Forwarded calls wait at most this long for the coordinator: a CLI request is interactive. */
export const forwardTimeoutMs = 10_000;
/**
 * A forwarded answer larger than this is refused: answers are a view or a short result, and the
 * largest (a backup view, an apply plan of applyGroupsMax groups) is well under a MiB.
 */
export const forwardAnswerBytesMax = 16 << 20;
/**
 * Request bodies nested deeper than this are refused before anything walks them. Why 32: the
 * deepest body the API takes (an apply document with a list in a resource's priv) has 8 levels.
 */
export const bodyDepthMax = 32;

/**
 * Headers that describe one hop, not the request: never copied by a forward, either way.
 * `expect: 100-continue` was answered by this node's server before the body came (curl sends it
 * for a body over 1 MiB), and fetch() refuses a request that carries it.
 */
const hopHeaders = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host',
  'content-length', 'accept-encoding', 'content-encoding', 'expect', forwardedHeader]);
/**
 * The caller's credentials and browser context stay on the node that checked them: a forwarded
 * request authenticates as this node and names the caller (identity.ts internalHeaders).
 */
const credentialHeaders = new Set(['authorization', 'cookie', 'origin', 'referer', 'x-clusterd-csrf', callerHeader]);

const rawBodies = new WeakMap<FastifyRequest, Buffer>();

export function sendError(reply: FastifyReply, e: ClusterError): FastifyReply {
  return reply.code(httpStatusOf(e.code)).send({ error: e.toJSON() });
}

export function parse<T>(schema: z.ZodType<T>, body: unknown): Result<T> {
  const r = schema.safeParse(body ?? {});
  if (r.success) return { ok: true, value: r.data };
  const issues = r.error.issues.slice(0, 10).map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
  const more = r.error.issues.length > 10 ? ` (and ${r.error.issues.length - 10} more)` : '';
  return { ok: false, error: clusterError('BAD_ARGUMENT', `request body is not valid: ${issues}${more}`, 'see the API reference in the README', r.error.issues[0]?.path.join('.')) };
}

/**
 * True when the JSON text nests objects and arrays deeper than `max`. One pass over the bytes,
 * no recursion (UTF-8 continuation bytes never look like ASCII brackets or quotes).
 */
export function jsonDeeperThan(bytes: Uint8Array, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (inString) {
      if (b === 0x5c) i++; // backslash: the next byte is escaped
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) inString = true;
    else if (b === 0x7b || b === 0x5b) {
      if (++depth > max) return true;
    } else if (b === 0x7d || b === 0x5d) depth--;
  }
  return false;
}

/**
 * The only body type the API takes is JSON (anything else answers 415). Its bytes are kept for
 * forwarding, the depth is checked before parsing, an empty body is no body, and keys that would
 * reach a prototype (`__proto__`, `constructor.prototype`) are refused.
 */
export function jsonBodies(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  const strict = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    const bytes = body as Buffer;
    rawBodies.set(req, bytes);
    if (bytes.length === 0) return done(null, undefined);
    if (jsonDeeperThan(bytes, bodyDepthMax)) {
      return done(clusterError('BODY_TOO_DEEP', `request body nests objects or arrays deeper than ${bodyDepthMax} levels`, 'send the document the API reference describes'), undefined);
    }
    strict(req, bytes.toString('utf8'), (err, value) => {
      if (err) return done(clusterError('BAD_JSON', `request body is not valid JSON: ${err.message}`, 'send a JSON document with content-type application/json'), undefined);
      done(null, value);
    });
  });
}

/**
 * Send `req` to the node at `target` and pass its answer back as it is: the method, the body's
 * bytes and the end-to-end headers go there; the status, the headers and the body's bytes come
 * back. Bounded by forwardTimeoutMs and forwardAnswerBytesMax.
 */
export async function forward(target: string, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  const body = rawBodies.get(req);
  const headers: Record<string, string> = { [forwardedHeader]: '1' };
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined || hopHeaders.has(k) || credentialHeaders.has(k)) continue;
    if (k === 'content-type' && (body === undefined || body.length === 0)) continue;
    headers[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  try {
    // As the node, for the caller: the target trusts the caller header only from a node (identity.ts).
    const res = await nodeAuthOf(req.server).fetch(new URL(req.url, target), {
      method: req.method, headers: { ...headers, ...internalHeaders(req.server, req) }, redirect: 'manual', signal: AbortSignal.timeout(forwardTimeoutMs),
      ...(body !== undefined && body.length > 0 ? { body: Uint8Array.from(body) } : {}),
    });
    const answer = await readBounded(res, forwardAnswerBytesMax);
    reply.code(res.status);
    res.headers.forEach((v, k) => { if (!hopHeaders.has(k)) reply.header(k, v); });
    reply.send(answer);
  } catch (e) {
    // fetch() says only "fetch failed": the reason (refused, reset, a header it would not send) is its cause.
    const cause = (e as { cause?: { message?: unknown } }).cause?.message;
    sendError(reply, clusterError('ENDPOINT_UNREACHABLE', `forwarding to ${target} failed: ${(e as Error).message}${typeof cause === 'string' ? ` (${cause})` : ''}`, 'retry: the coordinator may be changing'));
  }
}

async function readBounded(res: Response, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  if (!res.body) return Buffer.alloc(0);
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    bytes += chunk.byteLength;
    if (bytes > max) {
      await res.body.cancel().catch(() => undefined);
      throw new Error(`its answer is larger than ${max} bytes`);
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}
