// What every route of the API shares: error answers (their HTTP status is the code's row in
// core/errors.ts), request-body parsing, and forwarding a request to another node. Its own
// module so that the route files import it and not each other.

import type { FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { clusterError, httpStatusOf, type ClusterError, type Result } from '../core/errors.js';
import { internalHeaders, nodeAuthOf } from './identity.js';

/** Set on a forwarded request: the node it reaches answers it itself, never forwards it again. */
export const forwardedHeader = 'x-clusterd-forwarded';
/** Forwarded calls wait at most this long for the coordinator: a CLI request is interactive. */
export const forwardTimeoutMs = 10_000;

export function sendError(reply: FastifyReply, e: ClusterError): FastifyReply {
  return reply.code(httpStatusOf(e.code)).send({ error: e.toJSON() });
}

export function parse<T>(schema: z.ZodType<T>, body: unknown): Result<T> {
  const r = schema.safeParse(body ?? {});
  if (r.success) return { ok: true, value: r.data };
  const issues = r.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
  return { ok: false, error: clusterError('BAD_ARGUMENT', `request body is not valid: ${issues}`, 'see the API reference in the README', r.error.issues[0]?.path.join('.')) };
}

export async function forward(target: string, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  try {
    // As the node, for the caller: the target trusts the caller header only from a node (identity.ts).
    const res = await nodeAuthOf(req.server).fetch(new URL(req.url, target), {
      method: req.method, headers: { 'content-type': 'application/json', [forwardedHeader]: '1', ...internalHeaders(req.server, req) },
      body: req.method === 'GET' || req.method === 'DELETE' ? undefined : JSON.stringify(req.body ?? {}),
      signal: AbortSignal.timeout(forwardTimeoutMs),
    });
    reply.code(res.status).header('content-type', 'application/json').send(await res.text());
  } catch (e) {
    sendError(reply, clusterError('ENDPOINT_UNREACHABLE', `forwarding to ${target} failed: ${(e as Error).message}`, 'retry: the coordinator may be changing'));
  }
}
