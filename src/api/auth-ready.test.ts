// The auth hook on its own, before the node is ready: no request that needs a credential passes
// it (whatever hooks come after it), while public routes still answer.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { Gate, installAuth } from './auth.js';
import type { NodeFacade } from '../node/snapshot.js';

async function appWith(ready: boolean, metricsAuth: boolean) {
  const node = { snapshot: () => ({ config: { name: 'c', nodes: {}, groups: {}, resources: {}, credentials: {} } }) } as unknown as NodeFacade;
  const gate = new Gate(node, { nodeToken: 'node-token', listenHost: '127.0.0.1', names: [], tls: false, metricsAuth });
  const app = Fastify();
  installAuth(app, gate, () => ready, []);
  app.get('/metrics', async () => 'clusterd_up 1\n');
  app.get('/v1/status', async () => ({ secret: 'status' }));
  app.get('/healthz', async () => ({ ok: true }));
  await app.ready();
  return app;
}

test('auth before the node is ready: /metrics (auth on) and /v1/status answer 503 NODE_STARTING without a credential; public routes answer', async () => {
  const app = await appWith(false, true);
  try {
    for (const url of ['/metrics', '/v1/status']) {
      const r = await app.inject({ method: 'GET', url, headers: { host: '127.0.0.1' } });
      assert.equal(r.statusCode, 503, `${url}: ${r.body}`);
      assert.match(r.body, /NODE_STARTING/);
    }
    assert.equal((await app.inject({ method: 'GET', url: '/healthz', headers: { host: '127.0.0.1' } })).statusCode, 200);
  } finally {
    await app.close();
  }
  // Once ready, the same requests without a credential are refused as unauthenticated, not served.
  const ready = await appWith(true, true);
  try {
    assert.equal((await ready.inject({ method: 'GET', url: '/metrics', headers: { host: '127.0.0.1' } })).statusCode, 401);
  } finally {
    await ready.close();
  }
});
