// Health endpoints for supervisors and load balancers, answered without credentials and while
// the node starts:
// - GET /healthz: the process serves HTTP (liveness: 200 while clusterd runs at all);
// - GET /readyz: the node has joined and can take part: it has read the quorum store, it sees
//   itself Up or Paused (its lease moves and it published a report from this incarnation, which
//   needs its resource monitor), and its newest lease renewal is younger than the lease TTL (the
//   store is reachable). 503 with the failed checks otherwise.
// Both answer JSON: {status, checks: {name: {ok, detail}}}.

import type { FastifyInstance } from 'fastify';
import { clusterdVersion } from '../core/version.js';
import type { NodeFacade, NodeSnapshot } from '../node/snapshot.js';

export const healthPaths: ReadonlySet<string> = new Set(['/healthz', '/readyz']);

export interface ReadyCheck { ok: boolean; detail: string }

export function readiness(s: NodeSnapshot): Record<string, ReadyCheck> {
  const self = s.nodes[s.name]?.state;
  const renewAgeMs = s.monoMs - s.lastRenewOkMs;
  return {
    started: s.ready && !s.stopped
      ? { ok: true, detail: 'the quorum store has been read' }
      : { ok: false, detail: s.stopped ? 'the node is stopping' : 'the node has not read the quorum store yet' },
    joined: self === 'Up' || self === 'Paused'
      ? { ok: true, detail: `this node is ${self}` }
      : { ok: false, detail: `this node is ${self ?? 'not in the cluster yet'} (it needs a moving lease and a published report, which needs its resource monitor)` },
    store: Number.isFinite(renewAgeMs) && renewAgeMs < s.leaseTtlMs
      ? { ok: true, detail: `lease renewed ${Math.round(renewAgeMs)} ms ago` }
      : { ok: false, detail: Number.isFinite(renewAgeMs) ? `no lease renewal for ${Math.round(renewAgeMs)} ms (TTL ${s.leaseTtlMs} ms): the quorum store is unreachable` : 'no lease renewal yet' },
  };
}

export function healthRoutes(app: FastifyInstance, node: NodeFacade): void {
  app.get('/healthz', async () => ({ status: 'ok', node: node.name, version: clusterdVersion }));
  app.get('/readyz', async (_req, reply) => {
    const checks = readiness(node.snapshot());
    const ready = Object.values(checks).every((c) => c.ok);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', node: node.name, checks });
  });
}
