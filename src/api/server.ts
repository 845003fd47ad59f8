// The HTTP API every node serves (routes in ./types.ts). Reads answer from this node's view;
// writes are forwarded to the coordinator, which validates them and appends them to the
// quorum log under its term. Resource /fail goes to the node that runs the resource.

import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { applySplitHint, planApplySteps, type ApplyDoc, type ApplyPlan } from '../core/apply.js';
import { own } from '../core/table.js';
import { checkName, checkTypePriv, checkTypeSupported } from '../core/config.js';
import { ClusterError, clusterError, httpStatusOf, type Result } from '../core/errors.js';
import { resourceTypes, type ConfigUpdate } from '../core/types.js';
import type { NodeFacade } from '../node/snapshot.js';
import { failureReasons, groupViews, localResourceView, nodeViews, oneGroupView, oneResourceView, resourceViews, statusSnapshot } from './views.js';
import { dashboardAsset, dashboardHeaders, dashboardPageHeaders, renderDashboard } from '../web/dashboard.js';
import { backupRoutes, freezeBody, withBackupWarnings } from './backup-routes.js';
import { healthRoutes, healthPaths } from './health.js';
import { createMetrics, instrumentRequests, metricsContentType, timedCommits, type Metrics } from './metrics.js';
import { EventStreams, eventStreamDefaults, startAfter, type EventStreamSettings } from './event-stream.js';
import { answeredByHeader, forward, forwardedHeader, forwardTimeoutMs, jsonBodies, parse, sendError } from './http.js';
import { checkRouteTable, Gate, installAuth, type AuthOptions } from './auth.js';
import { addBody, authRoutes, redeemBody } from './auth-routes.js';
import { exportFor } from './export.js';
import type { ResourceView } from './types.js';
import { openApiDocument } from './openapi.js';
import { clusterdVersion } from '../core/version.js';
import { applyDocumentBytesMax } from '../core/limits.js';
import { internalHeaders, nodeAuthOf, principalOf, setNodeAuth } from './identity.js';
import { Admission, admissionDefaults, type AdmissionSettings } from './admission.js';
import { agentCheckBody, agentCheckRoutes } from './agent-check-routes.js';

/** Request bodies larger than this are refused: a cluster document is a few KiB. */
const bodyLimitBytes = 1 << 20;
/**
 * An apply document may be larger (core/limits.ts applyDocumentBytesMax). Only an admin's apply is
 * read this far, at most appliesInFlightMax at once per node: authentication and admission answer
 * before the body is read.
 */
export const applyBodyLimitBytes = applyDocumentBytesMax;
/** A path segment (a name) longer than this is refused before routing: names are far shorter. */
const pathParamLengthMax = 1024;
/**
 * Events one GET /v1/events answers at most (a larger limit is clamped): the dir store's own read
 * bound and the number of events it keeps, so one read can return the whole log; callers that
 * want more page with ?after.
 */
const eventsReadLimitMax = 10_000;

function unwrap<T>(reply: FastifyReply, r: Result<T>, body: (v: T) => unknown): unknown {
  if (!r.ok) return sendError(reply, r.error);
  return body(r.value);
}

const ms = z.number().int().min(0);
const failback = z.union([
  z.object({ mode: z.literal('never') }), z.object({ mode: z.literal('immediate') }),
  z.object({ mode: z.literal('window'), startHour: z.number().int().min(0).max(23), endHour: z.number().int().min(0).max(23) }),
]);
const groupFields = z.object({
  preferredOwners: z.array(z.string()).optional(), possibleOwners: z.array(z.string()).optional(),
  failoverThreshold: z.number().int().min(0).nullable().optional(), failoverPeriodMs: ms.optional(), failback: failback.optional(),
}).strict();
const privValue = z.union([z.string(), z.number(), z.boolean(), z.array(z.string()), z.record(z.string(), z.string())]);
const propsSchema = z.record(z.string(), z.union([z.number(), z.string()]));
// An apply document (core/apply.ts ApplyDoc): shapes here, names, ranges and references in the core.
const applyResource = z.object({
  type: z.string(), dependsOn: z.array(z.string()).optional(), props: propsSchema.optional(), priv: z.record(z.string(), privValue).optional(),
  state: z.enum(['online', 'offline']).optional(),
}).strict();
const applyGroup = groupFields.extend({
  state: z.enum(['online', 'offline']).optional(), resources: z.record(z.string(), applyResource).optional(),
}).strict();
const schemas = {
  groupCreate: groupFields.extend({ name: z.string() }).strict(),
  groupPatch: groupFields,
  move: z.object({ node: z.string().optional() }).strict(),
  maintenance: z.object({ on: z.boolean() }).strict(),
  retry: z.object({ resource: z.string().min(1).optional(), cleanup: z.boolean().optional() }).strict(),
  resourceCreate: z.object({
    name: z.string(), group: z.string(), type: z.enum(resourceTypes), props: propsSchema.optional(),
    priv: z.record(z.string(), privValue).optional(), dependsOn: z.array(z.string()).optional(),
  }).strict(),
  resourcePatch: z.object({ props: propsSchema.optional(), priv: z.record(z.string(), privValue).optional() }).strict(),
  dep: z.object({ dependsOn: z.string() }).strict(),
  apply: z.object({ spec: z.object({ groups: z.record(z.string(), applyGroup) }).strict(), dryRun: z.boolean().optional(), prune: z.boolean().optional() }).strict(),
};

export { admissionDefaults, eventStreamDefaults };

/** The body schema each route parses, for the API description (openapi.ts). */
const routeBodies: Readonly<Record<string, z.ZodType>> = {
  'POST /v1/groups': schemas.groupCreate, 'PATCH /v1/groups/:group': schemas.groupPatch, 'POST /v1/groups/:group/retry': schemas.retry,
  'POST /v1/groups/:group/:op': schemas.move, 'POST /v1/resources': schemas.resourceCreate, 'PATCH /v1/resources/:res': schemas.resourcePatch,
  'POST /v1/resources/:res/deps': schemas.dep, 'POST /v1/resources/:res/:op': z.union([schemas.move, schemas.maintenance]),
  'POST /v1/apply': schemas.apply, 'POST /v1/backups': freezeBody, 'POST /v1/credentials': addBody, 'POST /v1/session/redeem': redeemBody,
  'POST /v1/internal/agent-check': agentCheckBody,
};

/**
 * Work a long request does in one turn of the event loop before it lets other work run (the
 * status answers, the decision loop, the watchdog ping). Why 20 ms: well under the 800 ms
 * self-fence deadline and a lease renewal interval, short enough that a status request waits
 * no longer than a slow disk write, long enough that a 20,000-group plan yields a few dozen
 * times rather than thousands.
 */
const requestSliceMs = 20;

/** Run a core computation given as steps, `requestSliceMs` at a time, yielding to the loop in between. */
async function inSlices<T>(steps: Generator<void, T>): Promise<T> {
  for (;;) {
    const t0 = performance.now();
    for (;;) {
      const s = steps.next();
      if (s.done) return s.value;
      if (performance.now() - t0 >= requestSliceMs) break;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}

export interface ApiServer {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

/** One line per API request, at debug level (route, method, status, duration). */
export type RequestLog = (fields: Record<string, unknown>, message: string) => void;

export interface ApiSecurity {
  auth: Omit<AuthOptions, 'listenHost' | 'tls'>;
  /** HTTPS with this node's certificate (PEM); clients with a certificate of the CA authenticate as nodes with it. */
  tls: { key: string; cert: string; ca: string } | null;
  /** fetch for calls to other nodes (trusts the CA, presents this node's certificate). */
  nodeFetch: typeof fetch;
}

export interface HttpSettings {
  /**
   * A request's headers and body must arrive within this long, else 408 REQUEST_TIMEOUT and the
   * connection is closed: a client that sends headers and stalls its body would hold a socket
   * and an admission slot forever. Why 30 s: a 1 MiB body (the limit) needs 30 s only below
   * 300 kbit/s, an apply document at its 16 MiB limit below 4.5 Mbit/s; the CLI gives up on an
   * answer after 5 s anyway (120 s for an apply).
   */
  requestTimeoutMs: number;
}

export const httpDefaults: Readonly<HttpSettings> = Object.freeze({ requestTimeoutMs: 30_000 });

/** How often the server looks for requests past requestTimeoutMs: a fraction of it, so a stalled request is cut soon after its limit. */
const requestCheckEveryMs = (timeoutMs: number): number => Math.min(Math.max(Math.floor(timeoutMs / 4), 50), 5_000);

export async function startApi(node: NodeFacade, host: string, port: number, security: ApiSecurity, streamSettings: EventStreamSettings = eventStreamDefaults,
  admissionSettings: AdmissionSettings = admissionDefaults, requestLog?: RequestLog, httpSettings: HttpSettings = httpDefaults): Promise<ApiServer> {
  const checkEvery = { connectionsCheckingInterval: requestCheckEveryMs(httpSettings.requestTimeoutMs) };
  const options = {
    logger: false, bodyLimit: bodyLimitBytes, routerOptions: { maxParamLength: pathParamLengthMax },
    requestTimeout: httpSettings.requestTimeoutMs, http: checkEvery,
    frameworkErrors: (err: Error, _req: FastifyRequest, reply: FastifyReply) => sendError(reply, clusterError('BAD_ARGUMENT', `the request's path is not valid: ${err.message}`, 'percent-encode names in paths (encodeURIComponent)')),
    clientErrorHandler: clientError,
  };
  const app = security.tls
    ? Fastify({ ...options, https: { ...security.tls, requestCert: true, rejectUnauthorized: false, ...checkEvery } }) as unknown as FastifyInstance
    : Fastify(options);
  // Node checks a request's deadline only while its headers timeout is not longer than its request timeout.
  app.server.headersTimeout = httpSettings.requestTimeoutMs;
  setNodeAuth(app, { nodeToken: security.auth.nodeToken, fetch: security.nodeFetch });
  const streams = new EventStreams({ get stopped() { return node.snapshot().stopped; }, readEvents: (after, limit) => node.readEvents(after, limit) }, streamSettings);
  const admission = new Admission(admissionSettings);
  const metrics = createMetrics(node, streams, admission);
  instrumentRequests(app, metrics, requestLog);
  const table: RouteEntry[] = [];
  app.addHook('onRoute', (r) => { for (const m of [r.method].flat()) table.push({ method: m, url: r.url }); });
  const gate = new Gate(node, { ...security.auth, listenHost: host, tls: security.tls !== null });
  const registered: string[] = [];
  installAuth(app, gate, () => node.snapshot().ready, registered);
  const facade = timedCommits(node, metrics);
  admission.install(app);
  routes(app, facade, streams, metrics);
  authRoutes(app, facade, gate, (h) => write(facade, h));
  app.get('/v1/openapi.json', async () => openApiDocument(table, routeBodies, clusterdVersion));
  app.setNotFoundHandler((req, reply) => routeNotFound(table, req, reply));
  await app.ready();
  const problems = checkRouteTable(registered);
  if (problems.length > 0) throw new Error(`the API route table is incomplete: ${problems.join('; ')}`);
  const address = await app.listen({ host, port });
  return { app, url: address, close: () => { streams.close(); metrics.stop(); return app.close(); } };
}

export interface RouteEntry { method: string; url: string }

/**
 * Every route the API registers (method and pattern, HEAD included), read from a server that is
 * never started: for the 405 table and for tests that must cover each route.
 */
export async function apiRoutes(): Promise<RouteEntry[]> {
  const app = Fastify({ logger: false });
  const out: RouteEntry[] = [];
  app.addHook('onRoute', (r) => { for (const m of [r.method].flat()) out.push({ method: m, url: r.url }); });
  const unused = new Proxy({}, { get: () => { throw new Error('apiRoutes: the node is not used while routes are registered'); } }) as NodeFacade;
  const streams = new EventStreams({ stopped: true, readEvents: async () => [] }, eventStreamDefaults);
  const metrics = createMetrics(unused, streams);
  routes(app, unused, streams, metrics);
  metrics.stop();
  await app.ready();
  await app.close();
  return out;
}

/** The methods the routes of `table` take at `url` (its path), sorted. */
export function allowedMethods(table: readonly RouteEntry[], url: string): string[] {
  const segs = url.split('?')[0]!.split('/');
  const fits = (pattern: string) => {
    const p = pattern.split('/');
    return p.length === segs.length && p.every((x, i) => (x.startsWith(':') ? segs[i] !== '' : x === segs[i]));
  };
  return [...new Set(table.filter((r) => fits(r.url)).map((r) => r.method))].sort();
}

/** No route for this method and path: 405 with Allow when the path takes other methods, else 404. */
function routeNotFound(table: readonly RouteEntry[], req: FastifyRequest, reply: FastifyReply): FastifyReply {
  const allowed = allowedMethods(table, req.url);
  const path = req.url.split('?')[0]!;
  if (allowed.length > 0 && !allowed.includes(req.method)) {
    reply.header('allow', allowed.join(', '));
    return sendError(reply, clusterError('METHOD_NOT_ALLOWED', `${path} does not take ${req.method}: it takes ${allowed.join(', ')}`));
  }
  return sendError(reply, clusterError('ROUTE_NOT_FOUND', `no route ${req.method} ${path.slice(0, 200)}`));
}

/** An HTTP request the server cannot even read (bad request line, headers too large): answered in the API's shape, then the socket is closed. */
function clientError(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const e = err.code === 'HPE_HEADER_OVERFLOW' ? clusterError('HEADERS_TOO_LARGE', 'the request\'s headers are larger than the node reads (16 KiB)')
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? clusterError('REQUEST_TIMEOUT', 'the request (its headers or its body) was not received in time')
      : clusterError('BAD_ARGUMENT', `the request is not valid HTTP (${err.code ?? err.message})`);
  const body = JSON.stringify({ error: e.toJSON() });
  const status = httpStatusOf(e.code);
  if (socket.writable) socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`);
  socket.destroy();
}

/** Fastify's own errors (body too large, media type, ...) as the codes of our registry. */
function frameworkError(err: Error & { statusCode?: number; code?: string }, req: FastifyRequest): ClusterError {
  if (err instanceof ClusterError) return err;
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE': {
      const limit = req.routeOptions.bodyLimit ?? bodyLimitBytes;
      return req.routeOptions.url === '/v1/apply'
        ? clusterError('BODY_TOO_LARGE', `apply document larger than ${limit} bytes (${limit >> 20} MiB) of JSON`, applySplitHint)
        : clusterError('BODY_TOO_LARGE', `request body larger than ${limit} bytes`, 'a request body is a few KiB: send the fields the API reference describes');
    }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': return clusterError('UNSUPPORTED_MEDIA_TYPE', `request body of type ${err.message.replace(/^Unsupported Media Type:? ?/, '') || '(none)'}: the API takes application/json`, 'send JSON with content-type: application/json');
    default: break;
  }
  const status = err.statusCode ?? 500;
  return clusterError(status < 500 ? 'BAD_ARGUMENT' : 'INTERNAL', err.message);
}

/** Forward a write to the coordinator unless we are it. Returns true if it replied. */
async function forwardToCoordinator(node: NodeFacade, req: FastifyRequest, reply: FastifyReply): Promise<boolean> {
  if (node.isCoordinator()) return false;
  const snap = node.snapshot();
  const c = snap.coordinator.node;
  const target = c ? snap.reports[c]?.apiUrl : undefined;
  if (!target || req.headers[forwardedHeader]) {
    sendError(reply, clusterError('NO_COORDINATOR', c ? `the coordinator ${c} cannot be reached from ${node.name}` : 'no coordinator is elected right now', 'retry in a second'));
    return true;
  }
  await forward(target, req, reply);
  return true;
}

type Handler = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/** A write: forwarded to the coordinator, which runs `h`. */
function write(node: NodeFacade, h: Handler): Handler {
  return async (req, reply) => ((await forwardToCoordinator(node, req, reply)) ? reply : h(req, reply));
}

function routes(app: FastifyInstance, node: NodeFacade, streams: EventStreams, metrics: Metrics): void {
  type P = { node?: string; group?: string; res?: string; dep?: string; op?: string };
  const params = (req: FastifyRequest) => req.params as P;
  const commit = async (reply: FastifyReply, updates: ConfigUpdate[], body: () => unknown) => unwrap(reply, await node.commit(updates), body);
  const findGroup = (g: string) => oneGroupView(node.snapshot(), g);
  const findRes = (r: string) => oneResourceView(node.snapshot(), r);
  const notFound = (reply: FastifyReply, kind: 'GROUP_NOT_FOUND' | 'RESOURCE_NOT_FOUND' | 'NODE_NOT_FOUND', name: string) =>
    sendError(reply, clusterError(kind, `no ${kind.split('_')[0]!.toLowerCase()} '${name}'`, `cluster ${kind === 'RESOURCE_NOT_FOUND' ? 'res' : kind.split('_')[0]!.toLowerCase()} lists them`));

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    const e = frameworkError(err, req);
    // Past the body limit fastify answers at once and closes the connection; a client still
    // writing the body (fetch() does not wait for an early answer) then sees the connection reset
    // (EPIPE) instead of the answer that says how to split the document. The rest of the body is
    // read and dropped instead, as Node.js does after any answered request, bounded by the
    // request timeout.
    if (e.code === 'BODY_TOO_LARGE') reply.removeHeader('connection');
    return sendError(reply, e);
  });
  jsonBodies(app);
  app.addHook('onRequest', async (req, reply) => {
    reply.header(answeredByHeader, node.name);
    if (!node.snapshot().ready && req.url !== '/metrics' && !healthPaths.has(req.url)) {
      return sendError(reply, clusterError('NODE_STARTING', `node ${node.name} is starting: it has not read the quorum store yet`, 'retry in a moment (the cluster CLI retries by itself)'));
    }
  });
  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').headers(dashboardPageHeaders(nodeViews(node.snapshot()).map((n) => n.apiUrl))).send(renderDashboard()));
  // The dashboard's static files (web/dashboard.ts says which exist).
  app.get('/ui/*', async (req, reply) => {
    const path = (req.params as { '*': string })['*'];
    const a = dashboardAsset(path);
    if (!a) return sendError(reply, clusterError('ROUTE_NOT_FOUND', `no dashboard file '${path.slice(0, 200)}'`));
    return reply.type(a.type).headers(dashboardHeaders).send(a.body);
  });
  app.get('/v1/status', async () => withBackupWarnings(node, statusSnapshot(node.snapshot())));
  app.get('/v1/nodes', async () => nodeViews(node.snapshot()));
  app.get('/v1/nodes/:node', async (req, reply) => nodeViews(node.snapshot()).find((n) => n.name === params(req).node) ?? notFound(reply, 'NODE_NOT_FOUND', params(req).node!));
  app.post('/v1/nodes/:node/:op', write(node, async (req, reply) => {
    const { node: name, op } = params(req);
    if (!node.snapshot().config.nodes[name!]) return notFound(reply, 'NODE_NOT_FOUND', name!);
    if (op === 'pause' || op === 'resume') return commit(reply, [{ op: 'node-pause', node: name!, paused: op === 'pause' }], () => ({ ok: true }));
    if (op === 'drain') {
      const r = await node.commit([{ op: 'node-pause', node: name!, paused: true }]);
      if (!r.ok) return sendError(reply, r.error);
      return unwrap(reply, node.drain(name!), () => ({ ok: true }));
    }
    return sendError(reply, clusterError('BAD_ARGUMENT', `unknown node operation '${op}'`, 'pause, resume or drain'));
  }));
  app.delete('/v1/nodes/:node', write(node, async (req, reply) => {
    const name = params(req).node!;
    if (node.snapshot().nodes[name]?.state !== 'Down') return sendError(reply, clusterError('NODE_IS_UP', `node '${name}' is not Down: stop it first`, `stop clusterd on ${name}, then evict it`));
    return commit(reply, [{ op: 'node-remove', node: name }], () => ({ ok: true }));
  }));

  app.get('/v1/groups', async () => groupViews(node.snapshot()));
  app.get('/v1/groups/:group', async (req, reply) => findGroup(params(req).group!) ?? notFound(reply, 'GROUP_NOT_FOUND', params(req).group!));
  app.get('/v1/groups/:group/why', async (req, reply) => {
    const g = findGroup(params(req).group!);
    if (!g) return notFound(reply, 'GROUP_NOT_FOUND', params(req).group!);
    const w = node.why(g.name);
    const failed = failureReasons(resourceViews(node.snapshot()), g.name);
    return { group: g.name, node: g.node, state: g.state, reasons: [...failed, ...w.reasons], candidates: w.candidates, ...(w.blockedBy ? { blockedBy: w.blockedBy } : {}) };
  });
  app.post('/v1/groups', write(node, async (req, reply) => {
    const b = parse(schemas.groupCreate, req.body);
    if (!b.ok) return sendError(reply, b.error);
    const { name, ...rest } = b.value;
    return commit(reply, [{ op: 'group-create', group: name, ...rest }], () => findGroup(name));
  }));
  app.delete('/v1/groups/:group', write(node, async (req, reply) => commit(reply, [{ op: 'group-delete', group: params(req).group! }], () => ({ ok: true }))));
  app.patch('/v1/groups/:group', write(node, async (req, reply) => {
    const b = parse(schemas.groupPatch, req.body);
    if (!b.ok) return sendError(reply, b.error);
    return commit(reply, [{ op: 'group-set', group: params(req).group!, ...b.value }], () => findGroup(params(req).group!));
  }));
  // The owner's half of /online: resources it left Failed start again (forwarded there by the coordinator).
  app.post('/v1/groups/:group/retry', async (req, reply) => {
    const b = parse(schemas.retry, req.body ?? {});
    if (!b.ok) return sendError(reply, b.error);
    const retried = node.retryFailed(params(req).group!, b.value.resource ?? null, b.value.cleanup ?? false);
    await node.afterNextCycle();
    return { ok: true, retried };
  });
  app.post('/v1/groups/:group/:op', write(node, async (req, reply) => {
    const { group, op } = params(req);
    if (op === 'online' || op === 'offline') {
      // A Failed group is placed again only once the change is durable: a refused /online has no later effect.
      const res = await node.commit([{ op: 'group-desired', group: group!, desired: op }]);
      if (res.ok && op === 'online') node.clearFailed(group!);
      if (res.ok && op === 'online') await retryOnOwner(node, req.server, group!, null);
      return unwrap(reply, res, () => ({ ok: true }));
    }
    if (op === 'move') {
      const b = parse(schemas.move, req.body);
      if (!b.ok) return sendError(reply, b.error);
      return unwrap(reply, await node.requestMove(group!, b.value.node ?? null), (target) => ({ ok: true, node: target }));
    }
    return sendError(reply, clusterError('BAD_ARGUMENT', `unknown group operation '${op}'`, 'online, offline or move'));
  }));

  app.get('/v1/resources', async () => resourceViews(node.snapshot()));
  app.get('/v1/resources/:res', async (req, reply) => findRes(params(req).res!) ?? notFound(reply, 'RESOURCE_NOT_FOUND', params(req).res!));
  app.post('/v1/resources', write(node, async (req, reply) => {
    const b = parse(schemas.resourceCreate, req.body);
    if (!b.ok) return sendError(reply, b.error);
    const { name, group, type, props, priv, dependsOn } = b.value;
    const supported = checkTypeSupported(name, type, 'type');
    if (!supported.ok) return sendError(reply, supported.error);
    const typed = checkTypePriv(name, type, priv ?? {});
    if (!typed.ok) return sendError(reply, bodyPath(typed.error, name));
    const u: ConfigUpdate = { op: 'resource-create', resource: name, group, type, props: props as never, priv: priv ?? {}, dependsOn: dependsOn ?? [] };
    return commit(reply, [u], () => findRes(name));
  }));
  app.delete('/v1/resources/:res', write(node, async (req, reply) => {
    const r = node.snapshot().config.resources[params(req).res!];
    if (r && findRes(r.name)?.state !== 'Offline') {
      return sendError(reply, clusterError('RESOURCE_NOT_OFFLINE', `resource '${r.name}' is ${findRes(r.name)?.state}: take it offline before deleting it`, `cluster res "${r.name}" /offline`));
    }
    return commit(reply, [{ op: 'resource-delete', resource: params(req).res! }], () => ({ ok: true }));
  }));
  app.patch('/v1/resources/:res', write(node, async (req, reply) => {
    const b = parse(schemas.resourcePatch, req.body);
    if (!b.ok) return sendError(reply, b.error);
    const existing = node.snapshot().config.resources[params(req).res!];
    if (existing !== undefined && b.value.priv !== undefined) {
      const typed = checkTypePriv(existing.name, existing.type, { ...existing.priv, ...b.value.priv });
      if (!typed.ok) return sendError(reply, bodyPath(typed.error, existing.name));
    }
    return commit(reply, [{ op: 'resource-set', resource: params(req).res!, props: b.value.props as never, priv: b.value.priv ?? {} }], () => findRes(params(req).res!));
  }));
  app.post('/v1/resources/:res/deps', write(node, async (req, reply) => {
    const b = parse(schemas.dep, req.body);
    if (!b.ok) return sendError(reply, b.error);
    return commit(reply, [{ op: 'resource-add-dep', resource: params(req).res!, dependsOn: b.value.dependsOn }], () => findRes(params(req).res!));
  }));
  app.delete('/v1/resources/:res/deps/:dep', write(node, async (req, reply) =>
    commit(reply, [{ op: 'resource-remove-dep', resource: params(req).res!, dependsOn: params(req).dep! }], () => findRes(params(req).res!))));
  // Cleanup (Pacemaker's resource cleanup): the coordinator resets the group's failover history and
  // Failed state; the owner resets the resource's restart counters and makes it Offline if it is
  // Failed (nothing runs then). Its desired state is unchanged: desired online, it starts again.
  app.post('/v1/resources/:res/cleanup', write(node, async (req, reply) => {
    const r = own(node.snapshot().config.resources, params(req).res!);
    if (!r) return notFound(reply, 'RESOURCE_NOT_FOUND', params(req).res!);
    node.clearFailed(r.group, true);
    const cleaned = await retryOnOwner(node, req.server, r.group, r.name, true);
    return { ok: true, node: node.snapshot().ownership[r.group]?.node ?? null, cleaned };
  }));
  app.post('/v1/resources/:res/:op', async (req, reply) => {
    const { res, op } = params(req);
    const r = node.snapshot().config.resources[res!];
    if (!r) return notFound(reply, 'RESOURCE_NOT_FOUND', res!);
    if (op === 'fail') return failResource(node, r.group, res!, req, reply);
    if (op === 'maint' || op === 'extmaint') return setMaintenance(node, r.group, res!, op, req, reply);
    if ((await forwardToCoordinator(node, req, reply))) return reply;
    if (op === 'online' || op === 'offline') {
      const done = await node.commit([{ op: 'resource-desired', resource: res!, desired: op }]);
      if (done.ok && op === 'online') node.clearFailed(r.group);
      if (done.ok && op === 'online') await retryOnOwner(node, req.server, r.group, res!);
      return unwrap(reply, done, () => ({ ok: true }));
    }
    if (op === 'move') {
      const b = parse(schemas.move, req.body);
      if (!b.ok) return sendError(reply, b.error);
      return unwrap(reply, await node.requestMove(r.group, b.value.node ?? null), (target) => ({ ok: true, node: target }));
    }
    return sendError(reply, clusterError('BAD_ARGUMENT', `unknown resource operation '${op}'`, 'online, offline, move, fail, maint, extmaint or cleanup'));
  });

  // The OCF agents of the node that answers (not forwarded: agents are installed per node).
  app.get('/v1/agents', async (_req, reply) => unwrap(reply, await node.agentsHere.describe(null), (d) => ({ node: node.name, agents: d.agents ?? [] })));
  app.get('/v1/agents/:provider/:agent', async (req, reply) => {
    const { provider, agent } = req.params as { provider: string; agent: string };
    return unwrap(reply, await node.agentsHere.describe(`${provider}:${agent}`), (d) => ({ node: node.name, ...d.agent }));
  });

  agentCheckRoutes(app, node);

  app.post('/v1/apply', { bodyLimit: applyBodyLimitBytes }, write(node, async (req, reply) => {
    const b = parse(schemas.apply, req.body);
    if (!b.ok) return sendError(reply, b.error);
    for (const g of Object.keys(b.value.spec.groups)) {
      const n = checkName('group', g, `groups.${g}`);
      if (!n.ok) return sendError(reply, n.error);
    }
    const plan = await inSlices(planApplySteps(node.snapshot().config, b.value.spec as ApplyDoc, { prune: b.value.prune ?? false }));
    if (!plan.ok) return sendError(reply, plan.error);
    const dryRun = !!b.value.dryRun;
    const { lines, deletions, updates } = withDeletionStates(plan.value, resourceViews(node.snapshot()), dryRun);
    if (!dryRun && deletions.refused) return sendError(reply, deletions.refused);
    const answer = (applied: boolean) => ({ dryRun, plan: lines, deletions: deletions.lines, applied });
    if (dryRun || updates.length === 0) return answer(false);
    return commit(reply, updates, () => answer(true));
  }));

  app.get('/v1/export', async (req) => {
    const snap = node.snapshot();
    return { seq: snap.appliedSeq, text: exportFor(snap.config, snap.appliedSeq, principalOf(req)?.role) };
  });

  app.post('/v1/checkpoint', write(node, async (_req, reply) => unwrap(reply, await node.checkpoint('requested by an operator (cluster checkpoint)'), (seq) => ({ ok: true, seq }))));
  app.get('/v1/events', async (req) => {
    const q = req.query as { after?: string; limit?: string };
    const limit = Math.min(Math.max(Math.trunc(Number(q.limit ?? 100)) || 100, 1), eventsReadLimitMax);
    return { events: await node.readEvents(startAfter(undefined, q.after), limit) };
  });
  // No HEAD: a stream's headers come with its first event, and a HEAD request would hold a stream slot open.
  app.get('/v1/events/stream', { exposeHeadRoute: false }, (req, reply) => streams.handle(req, reply));
  backupRoutes(app, node);
  app.get('/metrics', async (_req, reply) => reply.type(metricsContentType).send(await metrics.scrape()));
  healthRoutes(app, node);
}

/** /maint, /extmaint: in memory on the node that runs the disk, so the request goes there. */
async function setMaintenance(node: NodeFacade, group: string, res: string, op: 'maint' | 'extmaint', req: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const b = parse(schemas.maintenance, req.body);
  if (!b.ok) return sendError(reply, b.error);
  const owner = node.snapshot().ownership[group]?.node ?? null;
  // Not running anywhere: answered here (a clear is a no-op, a set is refused: not Online).
  if (owner === null || owner === node.name || req.headers[forwardedHeader]) {
    const set = node.setMaintenance(res, { kind: op, on: b.value.on });
    if (set.ok) await node.afterNextCycle(); // its report is published before the answer: /waitmaint on any node sees it
    return unwrap(reply, set, () => localResourceView(node.snapshot(), res));
  }
  const target = node.snapshot().reports[owner]?.apiUrl;
  if (!target) return sendError(reply, clusterError('NODE_NOT_UP', `resource '${res}' runs on ${owner}, which cannot be reached from ${node.name}`, 'retry in a moment, or look: cluster status'));
  await forward(target, req, reply);
  return reply;
}

/**
 * /online of a resource its owner left Failed (restart threshold reached without failover): the
 * configuration says online already, so the owner is told directly to start it again. Best
 * effort: an owner that cannot be reached is moving or Down, and its successor starts afresh.
 */
async function retryOnOwner(node: NodeFacade, app: FastifyInstance, group: string, resource: string | null, cleanup = false): Promise<string[]> {
  const owner = node.snapshot().ownership[group]?.node;
  if (!owner) return [];
  if (owner === node.name) {
    const done = node.retryFailed(group, resource, cleanup);
    await node.afterNextCycle();
    return done;
  }
  const target = node.snapshot().reports[owner]?.apiUrl;
  if (!target) return [];
  const body = { ...(resource === null ? {} : { resource }), ...(cleanup ? { cleanup } : {}) };
  return nodeAuthOf(app).fetch(new URL(`/v1/groups/${encodeURIComponent(group)}/retry`, target), {
    method: 'POST', headers: { 'content-type': 'application/json', [forwardedHeader]: '1', ...internalHeaders(app, null) },
    body: JSON.stringify(body), signal: AbortSignal.timeout(forwardTimeoutMs),
  }).then(async (r) => ((await r.json()) as { retried?: string[] }).retried ?? []).catch(() => []);
}

async function failResource(node: NodeFacade, group: string, res: string, req: FastifyRequest, reply: FastifyReply): Promise<unknown> {
  const owner = node.snapshot().ownership[group]?.node;
  if (owner === node.name || req.headers[forwardedHeader]) {
    const failed = node.failResource(res);
    if (failed.ok) await node.afterNextCycle();
    return unwrap(reply, failed, () => ({ ok: true }));
  }
  const target = owner ? node.snapshot().reports[owner]?.apiUrl : undefined;
  if (!target) return sendError(reply, clusterError('NODE_NOT_UP', `resource '${res}' is not running anywhere`, `cluster res "${res}" /online`));
  await forward(target, req, reply);
  return reply;
}

/** A type's private-property error (path resources.R.priv.K) with its path in the request body (priv.K). */
function bodyPath(e: ClusterError, resource: string): ClusterError {
  const prefix = `resources.${resource}.`;
  return e.path?.startsWith(prefix) ? Object.assign(e, { path: e.path.slice(prefix.length) }) : e;
}

/** Resources shown in an error or a plan line at most: the rest is a count. */
const namesShownMax = 10;

/**
 * `apply --prune` deletes a resource only when it is Offline, as DELETE does: a plan that would
 * delete one that runs (or is Failed, pending, Unknown) is refused as a whole, naming them. A dry
 * run lists them, each deletion line saying it would be refused now and what to do.
 */
function withDeletionStates(plan: ApplyPlan, views: readonly ResourceView[], dryRun: boolean): { lines: string[]; updates: ApplyPlan['updates']; deletions: { lines: string[]; refused: ClusterError | null } } {
  if (plan.deleted.length === 0) return { lines: plan.lines, updates: plan.updates, deletions: { lines: plan.deletions, refused: null } };
  const state = new Map(views.map((v) => [v.name, v]));
  const running = plan.deleted.map((r) => state.get(r)).filter((v): v is ResourceView => v !== undefined && v.state !== 'Offline');
  if (running.length === 0) return { lines: plan.lines, updates: plan.updates, deletions: { lines: plan.deletions, refused: null } };
  const busy = new Map(running.map((v) => [v.name, v]));
  const marked = plan.deletions.map((line, i) => {
    const v = i < plan.deleted.length ? busy.get(plan.deleted[i]!) : undefined;
    return v ? `${line} -- refused now: it is ${v.state}${v.node ? ` on ${v.node}` : ''}; first: cluster res "${v.name}" /offline` : line;
  });
  const shown = running.slice(0, namesShownMax).map((v) => `${v.name} (${v.state}${v.node ? ` on ${v.node}` : ''})`).join(', ');
  const more = running.length > namesShownMax ? ` and ${running.length - namesShownMax} more` : '';
  const groups = [...new Set(running.map((v) => v.group))];
  const refused = clusterError('RESOURCE_NOT_OFFLINE', `apply --prune would delete ${running.length} resource(s) that are not Offline: ${shown}${more}; nothing was changed`,
    `take them offline first (cluster res "${running[0]!.name}" /offline${groups.length === 1 ? `, or cluster group "${groups[0]}" /offline` : ''}), then apply again; cluster apply --prune --dry-run lists them`);
  return { lines: dryRun ? [...marked, ...plan.lines.slice(plan.deletions.length)] : plan.lines, updates: plan.updates, deletions: { lines: dryRun ? marked : plan.deletions, refused: dryRun ? null : refused } };
}
