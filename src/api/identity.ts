// Who sent a request (its principal) and what a node needs to call another node on its behalf.
// A node authenticates to another node with the cluster-internal node token (and, with TLS, its
// CA-issued certificate: mutual TLS); the original caller travels in `callerHeader`, which a node
// trusts only on a request that authenticated as a node.

import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Role } from '../core/types.js';

export interface Principal {
  user: string;
  role: Role;
  /** How it authenticated: a bearer token, the dashboard's session cookie, or a node forwarding for `user`. */
  via: 'token' | 'session' | 'node';
}

export interface NodeAuth {
  /** The cluster-internal token nodes present to each other. */
  nodeToken: string;
  /** fetch for node-to-node calls: trusts the cluster CA and presents this node's certificate. */
  fetch: typeof fetch;
}

/** Set on a call from one node to another: the principal it acts for (JSON { user, role }). */
export const callerHeader = 'x-clusterd-caller';

const principals = new WeakMap<FastifyRequest, Principal>();
const nodeAuths = new WeakMap<FastifyInstance, NodeAuth>();

export function setPrincipal(req: FastifyRequest, p: Principal): void {
  principals.set(req, p);
}

export function principalOf(req: FastifyRequest): Principal | undefined {
  return principals.get(req);
}

export function setNodeAuth(app: FastifyInstance, a: NodeAuth): void {
  nodeAuths.set(app, a);
}

export function nodeAuthOf(app: FastifyInstance): NodeAuth {
  const a = nodeAuths.get(app);
  if (!a) throw new Error('node auth is not set on this API server');
  return a;
}

/** Headers of a node-to-node call made for `req`'s caller (or for the node itself when there is none). */
export function internalHeaders(app: FastifyInstance, req: FastifyRequest | null): Record<string, string> {
  const p = req ? principalOf(req) : undefined;
  return {
    authorization: `Bearer ${nodeAuthOf(app).nodeToken}`,
    ...(p ? { [callerHeader]: JSON.stringify({ user: p.user, role: p.role }) } : {}),
  };
}
