// The auth hook on its own: before the node is ready no request that needs a credential passes it
// (whatever hooks come after it), while public routes still answer; views for roles below admin
// carry no secret written inside a value.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { Gate, installAuth } from './auth.js';
import type { NodeFacade } from '../node/snapshot.js';
import { tokenSha256 } from './auth-files.js';

async function appWith(ready: boolean, metricsAuth: boolean) {
  const cred = (user: string, role: string) => ({ user, role, tokenSha256: tokenSha256(`tok-${user}`), createdWallMs: 0 });
  const credentials = { op: cred('op', 'operator'), adm: cred('adm', 'admin') };
  const node = { snapshot: () => ({ config: { name: 'c', nodes: {}, groups: {}, resources: {}, credentials } }) } as unknown as NodeFacade;
  const gate = new Gate(node, { nodeToken: 'node-token', listenHost: '127.0.0.1', names: [], tls: false, metricsAuth });
  const app = Fastify();
  installAuth(app, gate, () => ready, []);
  app.get('/metrics', async () => 'clusterd_up 1\n');
  app.get('/v1/status', async () => ({ secret: 'status' }));
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/v1/resources/:res', async () => ({ name: 'db', priv: { command: '/usr/bin/pg', args: ['--password', 'hunter2', '--url', 'http://u:pw-in-url@db/'] },
    message: 'probe http://u:pw-in-url@db/ failed' }));
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

test('an operator\'s view carries no secret inside values (an argument after --password, a URL password); an admin\'s does', async () => {
  const app = await appWith(true, false);
  try {
    const get = (user: string) => app.inject({ method: 'GET', url: '/v1/resources/db', headers: { host: '127.0.0.1', authorization: `Bearer tok-${user}` } });
    const op = await get('op');
    assert.equal(op.statusCode, 200, op.body);
    assert.ok(!op.body.includes('hunter2') && !op.body.includes('pw-in-url'), op.body);
    assert.deepEqual((JSON.parse(op.body) as { priv: { args: string[] } }).priv.args, ['--password', '(redacted)', '--url', 'http://u:(redacted)@db/']);
    const adm = await get('adm');
    assert.ok(adm.body.includes('hunter2') && adm.body.includes('pw-in-url'), adm.body);
  } finally {
    await app.close();
  }
});
