// The CLI's API client against real HTTP servers on loopback: a node that answers NODE_STARTING
// did nothing, so the client goes on to the next node, and waits (bounded) while all are starting.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiClient } from './client.js';

/** A server that answers NODE_STARTING to its first `startingFor` requests, then 200 with its name. */
async function server(name: string, startingFor: number): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const s = http.createServer((req, res) => {
    hits++;
    req.resume();
    if (hits <= startingFor) {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'NODE_STARTING', message: `node ${name} is starting`, hint: 'retry in a moment' } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ node: name }));
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, hits: () => hits, close: () => new Promise((resolve) => s.close(() => resolve())) };
}

test('a starting node is skipped: the next endpoint answers', async () => {
  const a = await server('a', Infinity);
  const b = await server('b', 0);
  try {
    const client = new ApiClient([a.url, b.url]);
    assert.deepEqual(await client.post('/v1/anything', {}), { node: 'b' });
    assert.equal(client.endpoint, b.url, 'the endpoint that answered is kept');
  } finally {
    await a.close();
    await b.close();
  }
});

test('while every node is starting, the client retries until one is ready', async () => {
  const a = await server('a', 3);
  try {
    const client = new ApiClient([a.url]);
    assert.deepEqual(await client.get('/v1/status'), { node: 'a' });
    assert.equal(a.hits(), 4, 'three NODE_STARTING answers, then the real one');
  } finally {
    await a.close();
  }
});

/** A server that refuses its first `busyFor` requests with 429 `code` (Retry-After 1), then answers 200. */
async function busyServer(code: string, busyFor: number): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const s = http.createServer((req, res) => {
    hits++;
    req.resume();
    if (hits <= busyFor) {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '1' });
      res.end(JSON.stringify({ error: { code, message: 'busy; nothing was done', hint: 'retry after 1 s' } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ done: hits }));
  });
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, hits: () => hits, close: () => new Promise((resolve) => s.close(() => resolve())) };
}

test('a write refused with 429 NODE_BUSY or QUORUM_BUSY (nothing done) is sent again after its Retry-After', async () => {
  for (const code of ['NODE_BUSY', 'QUORUM_BUSY']) {
    const a = await busyServer(code, 2);
    try {
      const client = new ApiClient([a.url]);
      assert.deepEqual(await client.post('/v1/groups', { name: 'g' }), { done: 3 });
      assert.equal(a.hits(), 3);
    } finally {
      await a.close();
    }
  }
});

test('a 429 with another code is shown at once, not retried', async () => {
  const a = await busyServer('AUTH_RATE_LIMITED', 5);
  try {
    const client = new ApiClient([a.url]);
    await assert.rejects(client.post('/v1/groups', { name: 'g' }), (e: Error & { code?: string }) => e.code === 'AUTH_RATE_LIMITED');
    assert.equal(a.hits(), 1);
  } finally {
    await a.close();
  }
});
