// The API's description as an OpenAPI 3.0 document (GET /v1/openapi.json), made from what the
// server really has: the routes it registered (so none is missing), the zod schemas its handlers
// parse request bodies with (so a body schema cannot drift from the check), the role each route
// needs (auth.ts routeRoles, as the x-clusterd-role extension) and the error codes of the
// registry (core/errors.ts) in the one error shape every error answer has.

import { z } from 'zod';
import { errorCodes } from '../core/errors.js';
import { routeRoles } from './auth.js';

export interface RouteEntry { method: string; url: string }

/** `/v1/groups/:group/why` -> `/v1/groups/{group}/why`, and the parameter names. */
function openApiPath(url: string): { path: string; params: string[] } {
  const params: string[] = [];
  const path = url.split('/').map((seg) => {
    if (!seg.startsWith(':')) return seg;
    params.push(seg.slice(1));
    return `{${seg.slice(1)}}`;
  }).join('/');
  return { path, params };
}

/** What a route answers on success, by its kind. */
function okContent(key: string): Record<string, unknown> {
  if (key === 'GET /metrics') return { 'text/plain': { schema: { type: 'string' } } };
  if (key === 'GET /') return { 'text/html': { schema: { type: 'string' } } };
  if (key === 'GET /v1/events/stream') return { 'text/event-stream': { schema: { type: 'string' } } };
  return { 'application/json': { schema: {} } };
}

export function openApiDocument(routes: readonly RouteEntry[], bodies: Readonly<Record<string, z.ZodType>>, version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const seen = new Set<string>();
  for (const r of routes) {
    if (r.method === 'HEAD' || r.method === 'OPTIONS') continue;
    const key = `${r.method} ${r.url}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const { path, params } = openApiPath(r.url);
    const access = routeRoles[key];
    const body = bodies[key];
    const op: Record<string, unknown> = {
      operationId: key.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_|_$/g, ''),
      summary: key,
      'x-clusterd-role': access ?? 'unknown',
      security: access === 'public' ? [] : [{ bearer: [] }, { session: [] }],
      parameters: params.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
      responses: {
        ...(r.url === '/login' ? { 302: { description: 'logged in: the session cookie is set, on to the dashboard' } } : { 200: { description: 'done', content: okContent(key) } }),
        default: { description: 'an error: its code, message and hint', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
      },
    };
    if (body) op.requestBody = { required: r.method !== 'DELETE', content: { 'application/json': { schema: z.toJSONSchema(body, { target: 'openapi-3.0', unrepresentable: 'any' }) } } };
    (paths[path] ??= {})[r.method.toLowerCase()] = op;
  }
  return {
    openapi: '3.0.3',
    info: { title: 'clusterd API', version, description: 'Every node serves it; writes are forwarded to the coordinator. Roles: viewer < operator < admin (x-clusterd-role).' },
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'the token of a credential file (clusterd init, cluster credentials add)' },
        session: { type: 'apiKey', in: 'cookie', name: 'clusterd_session', description: 'the dashboard\'s session (GET /login); writes also need the x-clusterd-csrf header' },
      },
      schemas: {
        Error: {
          type: 'object', required: ['error'],
          properties: {
            error: {
              type: 'object', required: ['code', 'message'],
              properties: {
                code: { type: 'string', enum: Object.keys(errorCodes) },
                message: { type: 'string' },
                hint: { type: 'string' },
                path: { type: 'string', description: 'where in the request body the problem is' },
              },
            },
          },
        },
      },
    },
  };
}
