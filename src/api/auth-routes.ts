// Routes of authentication itself (who may call them: routeRoles in ./auth.ts):
//   GET    /v1/whoami               -> { user, role, csrf } (csrf: the session's value for a dashboard session, else null)
//   POST   /v1/login-tickets        -> { ticket, path } a one-time login for the dashboard (valid 60 s, on this node only)
//   GET    /login?ticket=T          -> sets the HttpOnly SameSite=Strict session cookie and redirects to /
//   GET    /v1/credentials          -> [{ user, role, createdWallMs }]
//   POST   /v1/credentials  body { user, role } -> { user, role, token } (the token is shown once)
//   DELETE /v1/credentials/:user    -> { ok: true } (the last admin credential cannot be revoked)

import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { clusterError, type Result } from '../core/errors.js';
import { roles, type ConfigUpdate } from '../core/types.js';
import type { NodeFacade } from '../node/snapshot.js';
import { newToken, tokenSha256 } from './auth-files.js';
import { sessionCookie, sessionTtlMs, type Gate } from './auth.js';
import { parse, sendError } from './http.js';
import { principalOf } from './identity.js';

type Handler = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

export const addBody = z.object({ user: z.string().min(1), role: z.enum(roles) }).strict();

export function authRoutes(app: FastifyInstance, node: NodeFacade, gate: Gate, write: (h: Handler) => Handler): void {
  const commit = async (reply: FastifyReply, updates: ConfigUpdate[], body: () => unknown) => {
    const r: Result<unknown> = await node.commit(updates);
    return r.ok ? body() : sendError(reply, r.error);
  };
  app.get('/v1/whoami', async (req) => {
    const p = principalOf(req)!;
    const sid = p.via === 'session' ? sessionOf(req) : null;
    return { user: p.user, role: p.role, csrf: sid !== null ? gate.session(sid, Date.now())?.csrf ?? null : null };
  });
  app.post('/v1/login-tickets', async (req, reply) => {
    const p = principalOf(req)!;
    const sha = p.via === 'token' ? tokenSha256(/^Bearer\s+(\S+)/i.exec(req.headers.authorization ?? '')?.[1] ?? '') : null;
    if (sha === null) return sendError(reply, clusterError('AUTH_FORBIDDEN', 'a login ticket is made with a credential token (the cluster CLI), not from a session or a forwarded call', 'run: cluster dashboard --url'));
    const ticket = gate.newTicket(p, sha, Date.now());
    return { ticket, path: `/login?ticket=${encodeURIComponent(ticket)}` };
  });
  app.get('/login', async (req, reply) => {
    const ticket = (req.query as { ticket?: string }).ticket ?? '';
    const s = gate.redeem(ticket, Date.now());
    if (!s) return sendError(reply, clusterError('AUTH_INVALID', 'this login link was used already, has expired (60 s) or is not one of this node', 'make a new one: cluster dashboard --url'));
    const secure = gate.opts.tls ? '; Secure' : '';
    return reply.code(303)
      .header('set-cookie', `${sessionCookie}=${s.id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${Math.floor(sessionTtlMs / 1000)}${secure}`)
      .header('location', '/').header('cache-control', 'no-store').send();
  });
  app.get('/v1/credentials', async () => Object.values(node.snapshot().config.credentials ?? {})
    .map((c) => ({ user: c.user, role: c.role, createdWallMs: c.createdWallMs })).sort((a, b) => a.user.localeCompare(b.user)));
  app.post('/v1/credentials', write(async (req, reply) => {
    const b = parse(addBody, req.body);
    if (!b.ok) return sendError(reply, b.error);
    const token = newToken();
    const { user, role } = b.value;
    return commit(reply, [{ op: 'credential-set', user, role, tokenSha256: tokenSha256(token), createdWallMs: Date.now() }], () => ({ user, role, token }));
  }));
  app.delete('/v1/credentials/:user', write(async (req, reply) => {
    const user = (req.params as { user: string }).user;
    const creds = node.snapshot().config.credentials ?? {};
    if (creds[user]?.role === 'admin' && Object.values(creds).filter((c) => c.role === 'admin').length === 1) {
      return sendError(reply, clusterError('BAD_ARGUMENT', `'${user}' holds the last admin credential: revoking it would leave nobody able to manage the cluster`, 'add another admin first: cluster credentials add USER --role admin'));
    }
    return commit(reply, [{ op: 'credential-remove', user }], () => ({ ok: true }));
  }));
}

function sessionOf(req: FastifyRequest): string | null {
  const m = new RegExp(`(?:^|;\\s*)${sessionCookie}=([^;]+)`).exec(req.headers.cookie ?? '');
  return m ? m[1]! : null;
}

