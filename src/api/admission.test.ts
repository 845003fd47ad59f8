// Admission's saturation check: a loop kept busy turn after turn refuses writes (NODE_BUSY); one
// on time again takes them. No timing assertion: the busy turns are made far longer than the limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Admission, saturatedLagMs } from './admission.js';

const busy = (ms: number) => { const end = performance.now() + ms; while (performance.now() < end) { /* hold the loop */ } };
const turn = () => new Promise((resolve) => setTimeout(resolve, 0));

test('a saturated event loop refuses writes with NODE_BUSY; a loop on time again takes them', async () => {
  const a = new Admission();
  a.watchLoop();
  try {
    assert.equal(a.enter(false), null, 'an idle node takes a write');
    a.leave(false);
    for (let i = 0; i < 6 && a.saturated() === null; i++) {
      busy(saturatedLagMs * 2);
      await turn();
    }
    const refused = a.enter(false);
    assert.equal(refused?.code, 'NODE_BUSY', 'writes are refused while every check is late');
    assert.match(refused.message, /event loop is saturated/);
    assert.equal(a.writes, 0, 'a refused write takes no place');
    // One long turn alone is no saturation: the next checks on time clear it.
    for (let i = 0; i < 200 && a.saturated() !== null; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(a.enter(false), null, 'writes are taken again');
    a.leave(false);
  } finally {
    a.stop();
  }
});

test('a request that may not write takes no write place: a slow public redeem or viewer call cannot make others\' writes 429', async () => {
  const Fastify = (await import('fastify')).default;
  const { connect } = await import('node:net');
  const a = new Admission({ writesInFlightMax: 1, appliesInFlightMax: 1 });
  const app = Fastify();
  let seen = 0;
  app.addHook('onRequest', async () => { seen++; });
  a.install(app);
  app.post('/v1/session/redeem', async (req) => req.body);
  app.post('/v1/login-tickets', async (req) => req.body);
  app.post('/v1/groups/:group/:op', async () => ({ ok: true }));
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = new URL(url);
  const sockets = ['/v1/session/redeem', '/v1/login-tickets'].map((path) => {
    const s = connect(Number(port), '127.0.0.1');
    // Headers only: the body never comes, as from a client that wants to hold the place.
    s.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{`);
    s.on('error', () => undefined);
    return s;
  });
  try {
    for (let i = 0; i < 400 && seen < 2; i++) await new Promise((resolve) => setTimeout(resolve, 25));
    assert.equal(seen, 2, 'both held requests reached the server');
    const r = await fetch(`${url}/v1/groups/g/move`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(r.status, 200, await r.text());
    assert.equal(a.writes, 0, 'the held requests take no write place');
  } finally {
    for (const s of sockets) s.destroy();
    await app.close();
  }
});
