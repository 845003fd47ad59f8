// POST /v1/session/redeem through the auth hook: a hand-off opens a session of its credential; a
// browser that holds a live session of this node keeps it (a link with somebody else's hand-off
// cannot swap it for theirs).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { Gate, installAuth, sessionCookie } from './auth.js';
import { authRoutes } from './auth-routes.js';
import { jsonBodies } from './http.js';
import type { NodeFacade } from '../node/snapshot.js';
import { tokenSha256 } from './auth-files.js';

test('a redeem keeps a live session of this node instead of replacing it with the hand-off\'s user', async () => {
  const cred = (user: string, role: string) => ({ user, role, tokenSha256: tokenSha256(`tok-${user}`), createdWallMs: 0 });
  const credentials = { mallory: cred('mallory', 'viewer'), alice: cred('alice', 'admin') };
  const node = { name: 'n2', snapshot: () => ({ config: { name: 'c', nodes: {}, groups: {}, resources: {}, credentials } }) } as unknown as NodeFacade;
  const gate = new Gate(node, { nodeToken: 'node-token', listenHost: '127.0.0.1', names: [], tls: false, metricsAuth: false });
  const app = Fastify();
  jsonBodies(app);
  installAuth(app, gate, () => true, []);
  authRoutes(app, node, gate, (h) => h);
  await app.ready();
  try {
    const now = Date.now();
    const alice = gate.openSession('alice', credentials.alice.tokenSha256, now);
    const mallorys = gate.handoffs.mint(credentials.mallory as never, credentials.mallory.tokenSha256, 'n2', now);
    const redeem = (cookie?: string) => app.inject({ method: 'POST', url: '/v1/session/redeem', payload: { handoff: mallorys },
      headers: { host: '127.0.0.1', 'content-type': 'application/json', ...(cookie ? { cookie } : {}) } });
    const kept = await redeem(`${sessionCookie}=${alice.id}`);
    assert.equal(kept.statusCode, 200, kept.body);
    assert.equal(kept.headers['set-cookie'], undefined, 'no new cookie replaces the live session');
    assert.equal((JSON.parse(kept.body) as { user: string }).user, 'alice');
    // Without a live session, the hand-off opens one (it was not used up above).
    const opened = await redeem();
    assert.equal(opened.statusCode, 200, opened.body);
    assert.equal((JSON.parse(opened.body) as { user: string; role: string }).role, 'viewer');
    assert.match(String(opened.headers['set-cookie']), new RegExp(`^${sessionCookie}=`));
  } finally {
    await app.close();
  }
});
