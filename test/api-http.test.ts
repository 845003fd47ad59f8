// Forwarding through real clusterd processes: every write route (each POST, PUT, PATCH and DELETE
// the API registers) sent to a node that is not the coordinator reaches the handler of the node
// that owns the answer (the coordinator, or the node named by the route), which says so in the
// x-clusterd-node header that the forwarding node passes back with the status and the body.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { apiRoutes } from '../src/api/server.js';
import { authFor, TestCluster } from './harness.js';

let cluster: TestCluster | null = null;
after(async () => { await cluster?.close(); });

interface ErrorBody { error?: { code?: string; message?: string } }
/** Who must answer: the coordinator, the node the request was sent to, the node named, or any (the group's owner, which moves). */
type Answerer = 'coordinator' | 'receiver' | 'any' | { node: string };
interface Case { path: string; body?: unknown; answerer: Answerer }

/** Codes that mean the request never reached the handler that owns it. */
const forwardingFailures = new Set(['ENDPOINT_UNREACHABLE', 'NO_COORDINATOR', 'NODE_STARTING']);

test('every write route sent to a non-coordinator reaches the handler that owns it', async (t) => {
  const c = (cluster = await TestCluster.start(['n1', 'n2', 'n3']));
  const coordinator = (await c.status()).coordinator!;
  const via = ['n1', 'n2', 'n3'].find((n) => n !== coordinator)!;
  const setup = [
    await c.api('/v1/groups', { method: 'POST', body: { name: 'g' } }),
    await c.api('/v1/resources', { method: 'POST', body: { name: 'r1', group: 'g', type: 'process', priv: { command: '/bin/true' } } }),
    await c.api('/v1/resources', { method: 'POST', body: { name: 'r2', group: 'g', type: 'process', priv: { command: '/bin/true' } } }),
  ];
  assert.deepEqual(setup.map((r) => r.status), [200, 200, 200], JSON.stringify(setup.map((r) => r.body)));

  // One case per write route, in an order where each finds what it needs.
  const cases: Record<string, Case> = {
    'POST /v1/groups': { path: '/v1/groups', body: { name: 'fwd' }, answerer: 'coordinator' },
    'PATCH /v1/groups/:group': { path: '/v1/groups/fwd', body: { failoverPeriodMs: 60_000 }, answerer: 'coordinator' },
    'POST /v1/groups/:group/:op': { path: '/v1/groups/fwd/offline', body: {}, answerer: 'coordinator' },
    'DELETE /v1/groups/:group': { path: '/v1/groups/fwd', answerer: 'coordinator' },
    'POST /v1/groups/:group/retry': { path: '/v1/groups/g/retry', body: {}, answerer: 'receiver' },
    'POST /v1/resources': { path: '/v1/resources', body: { name: 'r3', group: 'g', type: 'process', priv: { command: '/bin/true' } }, answerer: 'coordinator' },
    'PATCH /v1/resources/:res': { path: '/v1/resources/r3', body: { props: { restartDelayMs: 100 } }, answerer: 'coordinator' },
    'POST /v1/resources/:res/deps': { path: '/v1/resources/r3/deps', body: { dependsOn: 'r2' }, answerer: 'coordinator' },
    'DELETE /v1/resources/:res/deps/:dep': { path: '/v1/resources/r3/deps/r2', answerer: 'coordinator' },
    'POST /v1/resources/:res/cleanup': { path: '/v1/resources/r3/cleanup', body: {}, answerer: 'coordinator' },
    'POST /v1/resources/:res/:op': { path: '/v1/resources/r3/offline', body: {}, answerer: 'coordinator' },
    'DELETE /v1/resources/:res': { path: '/v1/resources/r3', answerer: 'coordinator' },
    'POST /v1/nodes/:node/:op': { path: `/v1/nodes/${via}/resume`, body: {}, answerer: 'coordinator' },
    'DELETE /v1/nodes/:node': { path: `/v1/nodes/${via}`, answerer: 'coordinator' },
    'POST /v1/apply': { path: '/v1/apply', body: { spec: { groups: { applied: { failoverPeriodMs: 30_000 } } }, dryRun: false }, answerer: 'coordinator' },
    'POST /v1/checkpoint': { path: '/v1/checkpoint', body: {}, answerer: 'coordinator' },
    'POST /v1/backups': { path: '/v1/backups', body: { target: 'g' }, answerer: 'any' },
    'POST /v1/backups/:id/thaw': { path: `/v1/backups/0badc0de@${coordinator}/thaw`, body: {}, answerer: { node: coordinator } },
  };
  // Node-to-node routes (/v1/internal/) are answered where they are sent and refuse every user (test/ocf-owners.test.ts): nothing to forward.
  const writes = (await apiRoutes()).filter((r) => ['POST', 'PUT', 'PATCH', 'DELETE'].includes(r.method) && !r.url.startsWith('/v1/internal/')).map((r) => `${r.method} ${r.url}`);
  assert.deepEqual(writes.filter((w) => !(w in cases)), [], 'every write route has a case here');

  const url = c.nodes.get(via)!.url;
  for (const [route, k] of Object.entries(cases)) {
    const method = route.split(' ')[0]!;
    // A body only where the case has one; a DELETE goes once bare and once with a JSON content type and no body.
    const variants: Record<string, string>[] = k.body === undefined ? [{}, { 'content-type': 'application/json' }] : [{ 'content-type': 'application/json' }];
    for (const headers of variants) {
      await t.test(`${route} ${JSON.stringify(headers)}`, async () => {
        const res = await fetch(url + k.path, { method, headers: { ...headers, ...authFor(url) }, body: k.body === undefined ? undefined : JSON.stringify(k.body), signal: AbortSignal.timeout(15_000) });
        const text = await res.text();
        const body = JSON.parse(text) as ErrorBody;
        const want = k.answerer === 'coordinator' ? coordinator : k.answerer === 'receiver' ? via : k.answerer === 'any' ? res.headers.get('x-clusterd-node') : k.answerer.node;
        assert.ok(c.nodes.has(want ?? ''), `answered by a node: ${want}`);
        assert.ok(res.status < 500, `HTTP ${res.status}: ${text}`);
        assert.ok(!forwardingFailures.has(body.error?.code ?? ''), text);
        assert.ok(!/body cannot be empty/i.test(text), text);
        assert.equal(res.headers.get('x-clusterd-node'), want, `answered by ${want}: ${text}`);
        assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      });
    }
  }
  // What was written through the forwarding node is what the coordinator stored.
  const applied = await c.api<{ failoverPeriodMs: number }>('/v1/groups/applied', { via: coordinator });
  assert.equal(applied.body.failoverPeriodMs, 30_000);

  await t.test('a write with "Expect: 100-continue" (curl sends it for bodies over 1 MiB) is forwarded too', async () => {
    // fetch() refuses to send the header: a plain HTTP request, as curl makes it.
    const body = JSON.stringify({ spec: { groups: { continued: { failoverPeriodMs: 40_000 } } }, dryRun: false });
    const answer = await new Promise<{ status: number; node: string | undefined; text: string }>((resolve, reject) => {
      const req = http.request(`${url}/v1/apply`, { method: 'POST', headers: { 'content-type': 'application/json', expect: '100-continue', ...authFor(url) }, timeout: 15_000 }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => { text += d; }).on('end', () => resolve({ status: res.statusCode ?? 0, node: res.headers['x-clusterd-node'] as string | undefined, text }));
      });
      req.on('continue', () => req.end(body)).on('error', reject).on('timeout', () => req.destroy(new Error('no answer within 15 s')));
    });
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.node, coordinator, answer.text);
    assert.equal((await c.api<{ failoverPeriodMs: number }>('/v1/groups/continued', { via: coordinator })).body.failoverPeriodMs, 40_000);
  });
});

/** Every position of a full apply document: the path of each value, and the document. */
function positions(doc: unknown, path: string[] = []): string[][] {
  if (typeof doc !== 'object' || doc === null) return [path];
  const kids = Object.entries(doc as Record<string, unknown>).flatMap(([k, v]) => positions(v, [...path, k]));
  return [path, ...kids];
}

function withValue(doc: unknown, path: string[], value: unknown): unknown {
  if (path.length === 0) return value;
  const copy = (Array.isArray(doc) ? [...doc] : { ...(doc as Record<string, unknown>) }) as Record<string, unknown>;
  copy[path[0]!] = withValue(copy[path[0]!], path.slice(1), value);
  return copy;
}

test('every error answers in the API\'s shape, with its HTTP status, on every node; bad input is never a 5xx', async (t) => {
  const c = cluster ?? (cluster = await TestCluster.start(['n1', 'n2', 'n3']));
  const deep = (n: number) => '{"spec":'.repeat(1) + '['.repeat(n) + ']'.repeat(n) + '}';
  const cases: [string, string, string, { body?: string; type?: string }, number, string][] = [
    ['an unknown route', 'GET', '/v1/nope', {}, 404, 'ROUTE_NOT_FOUND'],
    ['an unknown route under a known one', 'POST', '/v1/groups/g/online/now', { body: '{}', type: 'application/json' }, 404, 'ROUTE_NOT_FOUND'],
    ['a method the route does not take', 'PUT', '/v1/groups', { body: '{}', type: 'application/json' }, 405, 'METHOD_NOT_ALLOWED'],
    ['DELETE of the status', 'DELETE', '/v1/status', {}, 405, 'METHOD_NOT_ALLOWED'],
    ['a body over the limit', 'POST', '/v1/groups', { body: JSON.stringify({ name: 'big', pad: 'x'.repeat(1 << 20) }), type: 'application/json' }, 413, 'BODY_TOO_LARGE'],
    ['a text body', 'POST', '/v1/groups', { body: 'name=x', type: 'text/plain' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['a form body', 'POST', '/v1/groups', { body: 'name=x', type: 'application/x-www-form-urlencoded' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['malformed JSON', 'POST', '/v1/groups', { body: '{"name":', type: 'application/json' }, 400, 'BAD_JSON'],
    ['a __proto__ key', 'POST', '/v1/groups', { body: '{"name":"p","__proto__":{"x":1}}', type: 'application/json' }, 400, 'BAD_JSON'],
    ['a 10,000-deep apply body', 'POST', '/v1/apply', { body: deep(10_000), type: 'application/json' }, 400, 'BODY_TOO_DEEP'],
    ['a 10,000-deep group body', 'POST', '/v1/groups', { body: '['.repeat(10_000) + ']'.repeat(10_000), type: 'application/json' }, 400, 'BODY_TOO_DEEP'],
    ['apply with a null group', 'POST', '/v1/apply', { body: '{"spec":{"groups":{"x":null}},"dryRun":true}', type: 'application/json' }, 400, 'BAD_ARGUMENT'],
  ];
  for (const name of ['n1', 'n2', 'n3']) {
    const url = c.nodes.get(name)!.url;
    for (const [what, method, path, k, status, code] of cases) {
      await t.test(`${name}: ${what}`, async () => {
        const res = await fetch(url + path, { method, headers: { ...(k.type ? { 'content-type': k.type } : {}), ...authFor(url) }, body: k.body, signal: AbortSignal.timeout(15_000) });
        const text = await res.text();
        assert.match(res.headers.get('content-type') ?? '', /^application\/json/, text);
        const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
        assert.deepEqual([res.status, body.error?.code], [status, code], text);
        assert.equal(typeof body.error?.message, 'string');
        if (status === 405) assert.match(res.headers.get('allow') ?? '', /^[A-Z]+(, [A-Z]+)*$/);
      });
    }
  }
  await t.test('405 lists the methods the route takes', async () => {
    const res = await fetch(c.nodes.get('n1')!.url + '/v1/groups', { method: 'PUT', headers: authFor(c.nodes.get('n1')!.url) });
    await res.arrayBuffer();
    assert.deepEqual(res.headers.get('allow')?.split(', ').sort(), ['GET', 'HEAD', 'POST']);
  });

  // null, a list, numbers, a string and a mapping in every position of an apply document: 4xx, never 5xx.
  const full = { spec: { groups: { web: {
    preferredOwners: ['n1'], possibleOwners: ['n1', 'n2'], failoverThreshold: 3, failoverPeriodMs: 60_000,
    failback: { mode: 'window', startHour: 1, endHour: 5 }, state: 'offline',
    resources: { srv: { type: 'process', dependsOn: [], props: { restartThreshold: 2, restartAction: 'restart' }, priv: { command: '/bin/true', args: ['a'] } } },
  } } }, dryRun: true };
  const odd: unknown[] = [null, [], [null], 0, -1, 1.5, 1e308, '', 'x', {}, true];
  const url = c.nodes.get('n2')!.url;
  const bad: string[] = [];
  for (const path of positions(full)) {
    for (const v of odd) {
      const res = await fetch(url + '/v1/apply', { method: 'POST', headers: { 'content-type': 'application/json', ...authFor(url) }, body: JSON.stringify(withValue(full, path, v)), signal: AbortSignal.timeout(15_000) });
      const text = await res.text();
      if (res.status >= 500 || !(JSON.parse(text) as { error?: unknown; dryRun?: unknown }).error && res.status !== 200) bad.push(`${path.join('.')} = ${JSON.stringify(v)}: HTTP ${res.status} ${text.slice(0, 200)}`);
    }
  }
  assert.deepEqual(bad, []);
});
