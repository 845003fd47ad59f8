// Who may call what. Every request is checked in this order:
//   1. Host: the Host header must name this node (its listen address, localhost, 127.0.0.1, ::1
//      or a --tls-name), else 421 HOST_REJECTED (a DNS-rebinding page cannot reach the API).
//   2. Origin: a state-changing request (not GET/HEAD/OPTIONS) whose Origin is not this node's own
//      is refused (403 CSRF_REJECTED), whatever its credential.
//   3. Credential: Authorization: Bearer TOKEN (a credential of the cluster configuration, which
//      holds only sha256 hashes, or the cluster-internal node token), or the dashboard's session
//      cookie, which must come with the session's x-clusterd-csrf header on a state-changing request.
//      None: 401 AUTH_REQUIRED; unknown: 401 AUTH_INVALID.
//   4. Role: the route's row in `routeRoles` (viewer < operator < admin), else 403 AUTH_FORBIDDEN.
//      A 'node' row is for calls between nodes only: the node token (with a client certificate of
//      the cluster CA when TLS is on); any user's credential, an admin's too, gets 403.
// A route without a row is refused for everyone and fails the start (checkRouteTable): a new
// route cannot be served unprotected. Viewers get resources' private secrets redacted.

import { randomBytes } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { clusterError } from '../core/errors.js';
import { redactSecretArgs, redactSecretText } from '../core/redact.js';
import { roles, type CredentialConfig, type Role } from '../core/types.js';
import type { NodeFacade } from '../node/snapshot.js';
import { Handoffs } from './handoff.js';
import { sameSecret, tokenSha256 } from './auth-files.js';
import { forwardedHeader, sendError } from './http.js';
import { callerHeader, setPrincipal, principalOf, type Principal } from './identity.js';

/** Who may call a route: anyone ('public'), anyone unless metrics need auth ('metrics'), other nodes only ('node'), or a role and those above it. */
export type RouteAccess = Role | 'public' | 'metrics' | 'node';

/** Every route of the API and who may call it. HEAD routes follow their GET. */
export const routeRoles: Readonly<Record<string, RouteAccess>> = Object.freeze({
  'GET /': 'public',
  'GET /ui/*': 'public',
  'GET /login': 'public',
  'GET /healthz': 'public',
  'GET /readyz': 'public',
  'GET /v1/openapi.json': 'public',
  'GET /v1/agents': 'viewer',
  'GET /v1/agents/:provider/:agent': 'viewer',
  'POST /v1/internal/agent-check': 'node',
  'GET /metrics': 'metrics',
  'GET /v1/whoami': 'viewer',
  'POST /v1/login-tickets': 'viewer',
  'POST /v1/session/handoff': 'viewer',
  'POST /v1/session/redeem': 'public',
  'GET /v1/status': 'viewer',
  'GET /v1/nodes': 'viewer',
  'GET /v1/nodes/:node': 'viewer',
  'POST /v1/nodes/:node/:op': 'operator',
  'DELETE /v1/nodes/:node': 'admin',
  'GET /v1/groups': 'viewer',
  'GET /v1/groups/:group': 'viewer',
  'GET /v1/groups/:group/why': 'viewer',
  'POST /v1/groups': 'admin',
  'DELETE /v1/groups/:group': 'admin',
  'PATCH /v1/groups/:group': 'admin',
  'POST /v1/groups/:group/retry': 'operator',
  'POST /v1/groups/:group/:op': 'operator',
  'GET /v1/resources': 'viewer',
  'GET /v1/resources/:res': 'viewer',
  'POST /v1/resources': 'admin',
  'DELETE /v1/resources/:res': 'admin',
  'PATCH /v1/resources/:res': 'admin',
  'POST /v1/resources/:res/deps': 'admin',
  'DELETE /v1/resources/:res/deps/:dep': 'admin',
  'POST /v1/resources/:res/cleanup': 'operator',
  'POST /v1/resources/:res/:op': 'operator',
  'POST /v1/apply': 'admin',
  'GET /v1/export': 'viewer',
  'POST /v1/checkpoint': 'admin',
  'GET /v1/events': 'viewer',
  'GET /v1/events/stream': 'viewer',
  'GET /v1/backups': 'viewer',
  'GET /v1/backups/:id': 'viewer',
  'POST /v1/backups': 'operator',
  'POST /v1/backups/:id/thaw': 'operator',
  'GET /v1/credentials': 'admin',
  'POST /v1/credentials': 'admin',
  'DELETE /v1/credentials/:user': 'admin',
});

export const routeKey = (method: string, url: string): string => `${method === 'HEAD' ? 'GET' : method} ${url}`;

export const roleRank = (r: Role): number => roles.indexOf(r);

/** Session cookie of the dashboard (HttpOnly, SameSite=Strict). */
export const sessionCookie = 'clusterd_session';
export const csrfHeader = 'x-clusterd-csrf';
/** A login ticket works once, within this long. */
export const ticketTtlMs = 60_000;
/** A dashboard session lasts this long (and ends earlier when its credential is revoked or the node restarts). */
export const sessionTtlMs = 12 * 3_600_000;
/** Tickets and sessions one node keeps at most (oldest dropped first). */
const ticketsMax = 1_000;
const sessionsMax = 10_000;

export const redacted = '(redacted)';
/** A private property whose name says it holds a secret. */
const secretKeyRe = /pass|secret|token|key|credential|auth|cookie|private/i;

export interface AuthOptions {
  /** The cluster-internal node token (identity.ts). */
  nodeToken: string;
  /** The host this node listens on (its name or address) and any extra names it is reached by. */
  listenHost: string;
  names: readonly string[];
  /** HTTPS: a node's token is accepted only with a CA-verified client certificate (mutual TLS). */
  tls: boolean;
  /** /metrics needs a viewer credential too. */
  metricsAuth: boolean;
}

interface Ticket { user: string; tokenSha256: string; expires: number }
interface Session { user: string; tokenSha256: string; csrf: string; expires: number }

/** The authentication state of one API server: its login tickets and dashboard sessions (in memory). */
export class Gate {
  private readonly tickets = new Map<string, Ticket>();
  private readonly sessions = new Map<string, Session>();
  private readonly hosts: Set<string>;
  private readonly byHash = new WeakMap<object, Map<string, CredentialConfig>>();
  /** Dashboard hand-offs this node mints for its peers and redeems for itself (handoff.ts). */
  readonly handoffs: Handoffs;

  constructor(private readonly node: NodeFacade, readonly opts: AuthOptions) {
    this.hosts = allowedHosts(opts.listenHost, opts.names);
    this.handoffs = new Handoffs(opts.nodeToken, node.name);
  }

  /** The credential whose token hashes to `sha`, in the configuration as it is now. */
  credentialByHash(sha: string): CredentialConfig | undefined {
    const creds = this.node.snapshot().config.credentials;
    if (!creds) return undefined;
    let m = this.byHash.get(creds);
    if (!m) {
      m = new Map(Object.values(creds).map((c) => [c.tokenSha256, c]));
      this.byHash.set(creds, m);
    }
    return m.get(sha);
  }

  hostAllowed(host: string | undefined): boolean {
    return host !== undefined && this.hosts.has(hostName(host));
  }

  newTicket(p: Principal, sha: string, nowMs: number): string {
    const t = randomBytes(24).toString('base64url');
    prune(this.tickets, nowMs, ticketsMax);
    this.tickets.set(t, { user: p.user, tokenSha256: sha, expires: nowMs + ticketTtlMs });
    return t;
  }

  /** Trade a ticket (once) for a session: its id and csrf value, or null. */
  redeem(ticket: string, nowMs: number): { id: string; session: Session } | null {
    const t = this.tickets.get(ticket);
    this.tickets.delete(ticket);
    if (!t || t.expires < nowMs) return null;
    return this.openSession(t.user, t.tokenSha256, nowMs);
  }

  /** A new dashboard session of the credential `user` whose token hashes to `sha`. */
  openSession(user: string, sha: string, nowMs: number): { id: string; session: Session } {
    prune(this.sessions, nowMs, sessionsMax);
    const session = { user, tokenSha256: sha, csrf: randomBytes(24).toString('base64url'), expires: nowMs + sessionTtlMs };
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(id, session);
    return { id, session };
  }

  session(id: string, nowMs: number): Session | undefined {
    const s = this.sessions.get(id);
    if (s && s.expires < nowMs) { this.sessions.delete(id); return undefined; }
    return s;
  }
}

function prune<T extends { expires: number }>(m: Map<string, T>, nowMs: number, max: number): void {
  for (const [k, v] of m) if (v.expires < nowMs) m.delete(k);
  while (m.size >= max) m.delete(m.keys().next().value as string);
}

/** The host part of a Host header, lower case, without port or IPv6 brackets. */
export function hostName(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') > 0 ? h.indexOf(']') : undefined);
  const colon = h.lastIndexOf(':');
  return colon >= 0 && h.indexOf(':') === colon ? h.slice(0, colon) : h;
}

function allowedHosts(listenHost: string, names: readonly string[]): Set<string> {
  const s = new Set(['localhost', '127.0.0.1', '::1', hostName(listenHost.includes(':') && !listenHost.startsWith('[') ? `[${listenHost}]` : listenHost)]);
  for (const n of names) s.add(n.toLowerCase());
  if (listenHost === '0.0.0.0' || listenHost === '::' || listenHost === '') {
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) s.add(a.address.toLowerCase());
  }
  return s;
}

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);

function bearer(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m ? m[1]! : '';
}

function cookie(req: FastifyRequest, name: string): string | null {
  const h = req.headers.cookie;
  if (typeof h !== 'string') return null;
  for (const part of h.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

const credentialHint = 'the cluster CLI sends the token of ${XDG_CONFIG_HOME:-~/.config}/clusterd/credentials/CLUSTER.json (written by clusterd init) by itself; elsewhere set CLUSTERD_CREDENTIALS=FILE, or ask an admin: cluster credentials add USER --role ROLE';

/** The principal of a request, or the error to answer with. */
function authenticate(gate: Gate, req: FastifyRequest, nowMs: number): Principal | ReturnType<typeof clusterError> {
  const token = bearer(req);
  if (token !== null) {
    if (token === '') return clusterError('AUTH_INVALID', 'the Authorization header is not "Bearer TOKEN"', credentialHint);
    if (sameSecret(token, gate.opts.nodeToken)) {
      if (gate.opts.tls && !(req.raw.socket as TLSSocket).authorized) {
        return clusterError('AUTH_INVALID', 'the node token was presented without a client certificate of the cluster CA', 'node-to-node calls use mutual TLS: check the node certificates (README, Security)');
      }
      const caller = parseCaller(req.headers[callerHeader]);
      return caller ? { ...caller, via: 'node' } : { user: '(node)', role: 'admin', via: 'node' };
    }
    const c = gate.credentialByHash(tokenSha256(token));
    if (!c) return clusterError('AUTH_INVALID', 'the token is not a credential of this cluster (revoked, mistyped, or of another cluster)', credentialHint);
    return { user: c.user, role: c.role, via: 'token' };
  }
  const sid = cookie(req, sessionCookie);
  if (sid !== null) {
    const s = gate.session(sid, nowMs);
    const c = s ? gate.credentialByHash(s.tokenSha256) : undefined;
    if (!s || !c || c.user !== s.user) return clusterError('AUTH_INVALID', 'the dashboard session has expired or its credential was revoked', 'log in again: cluster dashboard --url');
    if (!safeMethods.has(req.method)) {
      const sent = req.headers[csrfHeader];
      if (typeof sent !== 'string' || !sameSecret(sent, s.csrf)) {
        return clusterError('CSRF_REJECTED', `a state-changing request of a dashboard session needs the ${csrfHeader} header of the session (GET /v1/whoami gives it)`, 'the dashboard sends it by itself; a page of another site cannot');
      }
    }
    return { user: c.user, role: c.role, via: 'session' };
  }
  return clusterError('AUTH_REQUIRED', `${req.method} ${req.url} needs a credential`, credentialHint);
}

function parseCaller(h: string | string[] | undefined): { user: string; role: Role } | null {
  if (typeof h !== 'string') return null;
  try {
    const v = JSON.parse(h) as { user?: unknown; role?: unknown };
    if (typeof v.user === 'string' && typeof v.role === 'string' && (roles as readonly string[]).includes(v.role)) return { user: v.user, role: v.role as Role };
  } catch { /* not a caller */ }
  return null;
}

/**
 * Install the checks on `app`. `onRoute` collects every route registered after this call into
 * `registered` (checkRouteTable compares them with routeRoles).
 */
export function installAuth(app: FastifyInstance, gate: Gate, ready: () => boolean, registered: string[]): void {
  app.addHook('onRoute', (r) => {
    for (const m of Array.isArray(r.method) ? r.method : [r.method]) registered.push(routeKey(m, r.url ?? r.path));
  });
  app.addHook('onRequest', async (req, reply) => {
    if (!gate.hostAllowed(req.headers.host)) {
      return sendError(reply, clusterError('HOST_REJECTED', `Host ${JSON.stringify(req.headers.host ?? '')} is not a name of this node`, 'connect through the node\'s address, or add the name with clusterd start --tls-name NAME'));
    }
    const origin = req.headers.origin;
    if (!safeMethods.has(req.method) && typeof origin === 'string' && origin !== `${gate.opts.tls ? 'https' : 'http'}://${req.headers.host}`) {
      return sendError(reply, clusterError('CSRF_REJECTED', `a ${req.method} from origin ${origin} is refused: state-changing requests come from this node's own pages only`, 'use the cluster CLI, or the dashboard served by the node'));
    }
    const url = req.routeOptions.url;
    const access: RouteAccess | undefined = url === undefined ? 'viewer' : routeRoles[routeKey(req.method, url)];
    if (access === 'public' || (access === 'metrics' && !gate.opts.metricsAuth)) return undefined;
    // Not ready: no configuration read yet, so no credential can be verified and nothing that needs one passes.
    if (!ready()) return sendError(reply, clusterError('NODE_STARTING', 'this node is starting: it has not read the quorum store yet, so it cannot verify credentials', 'retry in a moment (the cluster CLI retries by itself)'));
    const p = authenticate(gate, req, Date.now());
    if (!('via' in p)) return sendError(reply, p);
    if (p.via !== 'node') { delete req.headers[forwardedHeader]; delete req.headers[callerHeader]; }
    setPrincipal(req, p);
    if (access === undefined) return sendError(reply, clusterError('AUTH_FORBIDDEN', `${req.method} ${url} has no row in the route table: nobody may call it`, 'this is a bug in clusterd: please report it'));
    if (access === 'node') {
      if (p.via === 'node') return undefined;
      return sendError(reply, clusterError('AUTH_FORBIDDEN', `${req.method} ${url} is called by the cluster's nodes only (the node token); ${p.user} is a user`, 'nothing to do: the coordinator calls it when a resource is saved'));
    }
    const need: Role = access === 'metrics' ? 'viewer' : access;
    if (roleRank(p.role) < roleRank(need)) {
      return sendError(reply, clusterError('AUTH_FORBIDDEN', `${req.method} ${url} needs the ${need} role; ${p.user} has ${p.role}`, `ask an admin for a credential with the ${need} role (cluster credentials add USER --role ${need})`));
    }
    return undefined;
  });
  app.addHook('onSend', async (req, reply, payload) => {
    const p = principalOf(req);
    if (!p || p.role === 'admin' || typeof payload !== 'string' || !String(reply.getHeader('content-type') ?? '').includes('json')) return payload;
    try { return JSON.stringify(redactSecrets(JSON.parse(payload))); } catch { return payload; }
  });
}

/** Refuse to serve if a registered route has no row in routeRoles (or a row names no route). */
export function checkRouteTable(registered: readonly string[]): string[] {
  const problems: string[] = [];
  const known = new Set(registered);
  for (const k of known) if (!(k in routeRoles)) problems.push(`route ${k} has no row in routeRoles (src/api/auth.ts)`);
  for (const k of Object.keys(routeRoles)) if (!known.has(k)) problems.push(`routeRoles names ${k}, which is not a route`);
  return problems;
}

/** A copy of an API answer with secrets replaced: env values, secretEnv, secret-looking keys, URL passwords and secret options' arguments. */
export function redactSecrets(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(redactSecrets);
  if (typeof v === 'string') return redactSecretText(v);
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = k === 'priv' && x !== null && typeof x === 'object' && !Array.isArray(x) ? redactPriv(x as Record<string, unknown>) : redactSecrets(x);
  return out;
}

function redactPriv(priv: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(priv)) {
    if (k === 'env') out[k] = redactEnv(x);
    else if (k === 'secretEnv' || secretKeyRe.test(k)) out[k] = redacted;
    else if (Array.isArray(x)) out[k] = redactSecretArgs(x);
    // A map of parameters (an ocf resource's params): its secret-looking entries.
    else if (x !== null && typeof x === 'object') out[k] = Object.fromEntries(Object.entries(x).map(([pk, pv]) => [pk, secretKeyRe.test(pk) ? redacted : redactSecrets(pv)]));
    else out[k] = redactSecrets(x);
  }
  return out;
}

function redactEnv(env: unknown): unknown {
  if (Array.isArray(env)) return env.map((e) => (typeof e === 'string' && e.includes('=') ? `${e.slice(0, e.indexOf('='))}=${redacted}` : redacted));
  if (typeof env === 'string') return env.split(/\s+/).filter(Boolean).map((e) => (e.includes('=') ? `${e.slice(0, e.indexOf('='))}=${redacted}` : redacted)).join(' ');
  if (env !== null && typeof env === 'object') return Object.fromEntries(Object.keys(env).map((k) => [k, redacted]));
  return redacted;
}
