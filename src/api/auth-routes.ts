// Routes of authentication itself (who may call them: routeRoles in ./auth.ts):
//   GET    /v1/whoami               -> { user, role, csrf } (csrf: the session's value for a dashboard session, else null)
//   POST   /v1/login-tickets        -> { ticket, path } a one-time login for the dashboard (valid 60 s, on this node only)
//   GET    /login?ticket=T          -> sets the HttpOnly SameSite=Strict session cookie and redirects to /
//   POST   /v1/session/handoff      -> { ttlMs, peers: [{ node, state, url, handoff }] } one hand-off per other node (handoff.ts), Up ones first
//   POST   /v1/session/redeem  body { handoff } -> { user, role, csrf } and the session cookie of this node
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
import { handoffTtlMs } from './handoff.js';
import { nodeViews } from './views.js';
import { parse, sendError } from './http.js';
import { principalOf } from './identity.js';

type Handler = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

export const addBody = z.object({ user: z.string().min(1), role: z.enum(roles) }).strict();
export const redeemBody = z.object({ handoff: z.string().min(1).max(4096) }).strict();

/** Peers a page tries first: those Up, then those that may come back, Down last. */
const peerOrder: Readonly<Record<string, number>> = { Up: 0, Paused: 1, Joining: 2, Down: 3 };

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
  const setCookie = (id: string) => `${sessionCookie}=${id}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${Math.floor(sessionTtlMs / 1000)}${gate.opts.tls ? '; Secure' : ''}`;
  app.get('/login', async (req, reply) => {
    const ticket = (req.query as { ticket?: string }).ticket ?? '';
    const s = gate.redeem(ticket, Date.now());
    if (!s) return sendError(reply, clusterError('AUTH_INVALID', 'this login link was used already, has expired (60 s) or is not one of this node', 'make a new one: cluster dashboard --url'));
    return reply.code(303).header('set-cookie', setCookie(s.id)).header('location', '/').header('cache-control', 'no-store').send();
  });
  app.post('/v1/session/handoff', async (req, reply) => {
    const p = principalOf(req)!;
    const sid = p.via === 'session' ? sessionOf(req) : null;
    const sha = sid !== null ? gate.session(sid, Date.now())?.tokenSha256 ?? null
      : p.via === 'token' ? tokenSha256(/^Bearer\s+(\S+)/i.exec(req.headers.authorization ?? '')?.[1] ?? '') : null;
    if (sha === null) return sendError(reply, clusterError('AUTH_FORBIDDEN', 'a dashboard hand-off is made for a user\'s session or token, not for a forwarded call', 'the dashboard asks for it by itself'));
    const now = Date.now();
    const peers = nodeViews(node.snapshot()).filter((n) => n.name !== node.name && n.apiUrl)
      .sort((a, b) => (peerOrder[a.state] ?? 2) - (peerOrder[b.state] ?? 2) || a.name.localeCompare(b.name))
      .map((n) => ({ node: n.name, state: n.state, url: n.apiUrl, handoff: gate.handoffs.mint(p, sha, n.name, now) }));
    return reply.header('cache-control', 'no-store').send({ ttlMs: handoffTtlMs, peers });
  });
  app.post('/v1/session/redeem', async (req, reply) => {
    const b = parse(redeemBody, req.body);
    if (!b.ok) return sendError(reply, b.error);
    // A live session of this node is kept, not replaced: a link carrying somebody else's hand-off
    // cannot log a browser that is logged in here out of its own session and into theirs.
    const sid = sessionOf(req);
    const live = sid !== null ? gate.session(sid, Date.now()) : undefined;
    const liveCred = live ? gate.credentialByHash(live.tokenSha256) : undefined;
    if (live && liveCred && liveCred.user === live.user) return reply.header('cache-control', 'no-store').send({ user: liveCred.user, role: liveCred.role, csrf: live.csrf });
    const creds = node.snapshot().config.credentials ?? {};
    const r = gate.handoffs.redeem(b.value.handoff, Date.now(), (user) => (Object.hasOwn(creds, user) ? creds[user] : undefined));
    if (!r.ok) return sendError(reply, r.error);
    const s = gate.openSession(r.value.user, r.value.tokenSha256, Date.now());
    return reply.header('set-cookie', setCookie(s.id)).header('cache-control', 'no-store').send({ user: r.value.user, role: r.value.role, csrf: s.session.csrf });
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

