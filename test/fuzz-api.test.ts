// A property-based fuzzer (fast-check) against a real 3-node cluster: random and mutated
// requests to every route the API registers, on every node. Bodies are valid documents with
// values swapped for null, lists, huge numbers, NUL bytes, poison names (constructor,
// __proto__...), deep nesting or raw non-JSON; paths carry the same names; methods and content
// types are sometimes wrong. Invariants:
// - no answer is a 5xx other than 503, and every error answer is in the API's shape;
// - no node process dies, and no node self-fences;
// - every 2xx write is visible on all nodes afterwards (same applied seq, same configuration);
// - the configuration still folds from the log: a node restarted at the end serves the same.
// The seed is printed; FUZZ_SEED replays a run, FUZZ_RUNS sets its length.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { apiRoutes, type RouteEntry } from '../src/api/server.js';
import type { StatusSnapshot } from '../src/api/types.js';
import { TestCluster, waitFor, authFor } from './harness.js';

const seed = Number(process.env.FUZZ_SEED ?? 20261207);
/** Why 200: ~20 s of requests on an idle 2-core host. */
const numRuns = Number(process.env.FUZZ_RUNS ?? 200);
/**
 * The requests stop after this even if fewer than numRuns were sent (a loaded host answers
 * slowly): with the cluster's start and the final checks, the file stays near a minute.
 */
const fuzzTimeMs = Number(process.env.FUZZ_TIME_MS ?? 35_000);
const nodeNames = ['n1', 'n2', 'n3'];

let cluster: TestCluster | null = null;
after(async () => { await cluster?.close(); });

// ---------------------------------------------------------------------------------------------
// Values and names

const poison = ['constructor', 'toString', 'valueOf', '__proto__', 'hasOwnProperty', 'prototype', 'isPrototypeOf'];
const existing = ['fz', 'fr1', 'fr2', 'n1', 'n2', 'n3'];
const odd = [' ', 'a b', 'trailing ', 'x\u0000y', '..', '%', '%2F', 'é', 'Disk H:', 'a'.repeat(300), ''];
/** A placeholder the serializer replaces by `depth` nested lists (the body is written by hand: no recursion anywhere). */
const deepMark = (depth: number) => `\u0001DEEP${depth}\u0001`;

const nameArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...existing) },
  { weight: 3, arbitrary: fc.constantFrom(...poison) },
  { weight: 2, arbitrary: fc.constantFrom(...odd) },
  { weight: 2, arbitrary: fc.string({ maxLength: 10 }) },
  { weight: 2, arbitrary: fc.stringMatching(/^fz[a-z0-9]{1,4}$/) },
);

const valueArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(null, [], [null], {}, true, false, 0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 2, '', 'x\u0000y', '\uffff', [1, 'a'], { mode: 'window' }),
  nameArb,
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(deepMark(40), deepMark(10_000)),
  fc.dictionary(nameArb, fc.constantFrom<unknown>(null, 1, 'x', []), { maxKeys: 3 }),
);

const privArb = fc.record({
  command: fc.constantFrom('/bin/true', '/nonexistent/fuzz', ''),
  args: fc.array(fc.constantFrom('a', '', '--x'), { maxLength: 2 }),
}, { requiredKeys: ['command'] });
const propsArb = fc.record({ restartDelayMs: fc.constantFrom(100, 0), restartThreshold: fc.constantFrom(1, 2), restartAction: fc.constantFrom('none', 'restart', 'restart-failover') }, { requiredKeys: [] });
const groupBodyArb = fc.record({
  preferredOwners: fc.subarray(nodeNames), possibleOwners: fc.subarray(nodeNames), failoverThreshold: fc.constantFrom(1, 3, null),
  failoverPeriodMs: fc.constantFrom(1000, 60_000), failback: fc.constantFrom({ mode: 'never' }, { mode: 'immediate' }, { mode: 'window', startHour: 1, endHour: 5 }),
}, { requiredKeys: [] });
const resourceBodyArb = fc.record({ type: fc.constantFrom('process', 'process', 'ip', 'ocf', 'witness', 'nope'), props: propsArb, priv: privArb, dependsOn: fc.array(nameArb, { maxLength: 2 }) }, { requiredKeys: ['type'] });

/** A valid-looking body for each route (before mutation). */
function templateArb(route: RouteEntry): fc.Arbitrary<unknown> {
  switch (`${route.method} ${route.url}`) {
    case 'POST /v1/groups': return fc.tuple(nameArb, groupBodyArb).map(([name, g]) => ({ name, ...g }));
    case 'PATCH /v1/groups/:group': return groupBodyArb;
    case 'POST /v1/groups/:group/:op': return fc.option(fc.record({ node: nameArb }), { nil: {} });
    case 'POST /v1/groups/:group/retry': return fc.option(fc.record({ resource: nameArb }), { nil: {} });
    case 'POST /v1/resources': return fc.tuple(nameArb, nameArb, resourceBodyArb).map(([name, group, r]) => ({ name, group, ...r }));
    case 'PATCH /v1/resources/:res': return fc.record({ props: propsArb, priv: privArb }, { requiredKeys: [] });
    case 'POST /v1/resources/:res/deps': return fc.record({ dependsOn: nameArb });
    case 'POST /v1/resources/:res/:op': return fc.oneof(fc.constant({}), fc.record({ on: fc.boolean() }), fc.record({ node: nameArb }));
    case 'POST /v1/apply': return fc.tuple(fc.dictionary(nameArb, fc.tuple(groupBodyArb, fc.dictionary(nameArb, resourceBodyArb, { maxKeys: 2 }), fc.constantFrom('online', 'offline'))
      .map(([g, resources, state]) => ({ ...g, resources, state })), { maxKeys: 2 }), fc.boolean()).map(([groups, dryRun]) => ({ spec: { groups }, dryRun }));
    case 'POST /v1/backups': return fc.record({ target: nameArb, timeoutMs: fc.constantFrom(1000, 5000), wait: fc.constant(false) }, { requiredKeys: ['target'] });
    default: return fc.constant({});
  }
}

/** Paths of every value in `v` (objects and lists), for mutation. */
function paths(v: unknown, at: (string | number)[] = []): (string | number)[][] {
  if (typeof v !== 'object' || v === null) return [at];
  const kids = Object.entries(v).flatMap(([k, x]) => paths(x, [...at, Array.isArray(v) ? Number(k) : k]));
  return [at, ...kids];
}

function setAt(v: unknown, at: (string | number)[], value: unknown): unknown {
  if (at.length === 0) return value;
  const copy: Record<string | number, unknown> = Array.isArray(v) ? [...v] as unknown as Record<number, unknown> : { ...(v as Record<string, unknown>) };
  copy[at[0]!] = setAt(copy[at[0]!], at.slice(1), value);
  return copy;
}

type Mutation = { kind: 'set'; pick: number; value: unknown } | { kind: 'add'; pick: number; key: string; value: unknown };
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), pick: fc.nat(), value: valueArb }),
  fc.record({ kind: fc.constant('add' as const), pick: fc.nat(), key: nameArb, value: valueArb }),
);

function mutate(body: unknown, ms: Mutation[]): unknown {
  let b = body;
  for (const m of ms) {
    const ps = paths(b);
    const at = ps[m.pick % ps.length]!;
    if (m.kind === 'set') b = setAt(b, at, m.value);
    else {
      const parent = at.reduce<unknown>((x, k) => (x as Record<string | number, unknown>)[k], b);
      if (typeof parent === 'object' && parent !== null && !Array.isArray(parent)) b = setAt(b, [...at, m.key], m.value);
    }
  }
  return b;
}

/** JSON text of a body; deep marks become nested lists (written out, not recursed). */
function serialize(body: unknown): string {
  return JSON.stringify(body).replace(/"\\u0001DEEP(\d+)\\u0001"/g, (_m, n: string) => '['.repeat(Number(n)) + ']'.repeat(Number(n)));
}

// ---------------------------------------------------------------------------------------------
// Requests

interface FuzzRequest {
  node: string;
  route: RouteEntry;
  method: string;
  path: string;
  contentType: string | null;
  body: string | null;
  extraHeaders: Record<string, string>;
}

const ops: Record<string, string[]> = {
  '/v1/nodes/:node/:op': ['pause', 'resume', 'drain'],
  '/v1/groups/:group/:op': ['online', 'offline', 'move'],
  '/v1/resources/:res/:op': ['online', 'offline', 'move', 'fail', 'maint', 'extmaint'],
};

function requestArb(routes: RouteEntry[]): fc.Arbitrary<FuzzRequest> {
  return fc.constantFrom(...routes).chain((route) => fc.record({
    node: fc.constantFrom(...nodeNames),
    method: fc.oneof({ weight: 6, arbitrary: fc.constant(route.method) }, { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD') }),
    params: fc.array(fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...(ops[route.url] ?? ['x'])) }, { weight: 2, arbitrary: nameArb }), { minLength: 4, maxLength: 4 }),
    query: fc.oneof(fc.constant(''), fc.record({ after: valueArb, limit: valueArb }).map((q) => `?after=${queryValue(q.after)}&limit=${queryValue(q.limit)}`)),
    body: fc.oneof(
      { weight: 8, arbitrary: fc.tuple(templateArb(route), fc.array(mutationArb, { maxLength: 3 })).map(([b, ms]) => serialize(mutate(b, ms))) },
      { weight: 1, arbitrary: fc.constantFrom('', '{', 'null', '[]', '"x"', '{"a":1,"a":2}', '\u0000', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}') },
      { weight: 1, arbitrary: fc.constant(null) },
    ),
    contentType: fc.oneof({ weight: 8, arbitrary: fc.constant('application/json') },
      { weight: 1, arbitrary: fc.constantFrom('application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream', 'application/JSON', '') }),
    forwarded: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    lastEventId: fc.option(fc.constantFrom('0', '-1', 'x', '99999999999999999999'), { nil: undefined }),
  }).map((r) => {
    let i = 0;
    const path = route.url.split('/').map((s) => (s.startsWith(':') ? encodeURIComponent(r.params[i++ % 4]!) : s)).join('/') + r.query;
    const canHaveBody = r.method !== 'GET' && r.method !== 'HEAD';
    const extraHeaders: Record<string, string> = r.lastEventId !== undefined ? { 'last-event-id': r.lastEventId } : {};
    if (r.forwarded) extraHeaders['x-clusterd-forwarded'] = '1';
    return { node: r.node, route, method: r.method, path, contentType: canHaveBody && r.body !== null && r.contentType !== '' ? r.contentType : null, body: canHaveBody ? r.body : null, extraHeaders };
  }));
}

function queryValue(v: unknown): string {
  return encodeURIComponent(typeof v === 'string' ? v : JSON.stringify(v) ?? '');
}

const describe = (r: FuzzRequest) => `${r.method} ${r.path} via ${r.node}${r.contentType ? ` [${r.contentType}]` : ''}${r.body !== null ? ` ${r.body.length > 300 ? `${r.body.slice(0, 300)}... (${r.body.length} bytes)` : r.body}` : ''}`;
const isWrite = (m: string) => m !== 'GET' && m !== 'HEAD' && m !== 'OPTIONS';

interface Effects { groups: Map<string, boolean>; resources: Map<string, boolean> }

/** What a 2xx write must have left in the configuration (the latest effect per name wins). */
function recordEffect(r: FuzzRequest, body: unknown, effects: Effects): void {
  let parsed: Record<string, unknown> = {};
  try { parsed = JSON.parse(r.body ?? '{}') as Record<string, unknown>; } catch { /* not JSON: no name to record */ }
  const seg = decodeURIComponent(r.path.split('?')[0]!.split('/')[3] ?? '');
  const key = `${r.method} ${r.route.url}`;
  if (key === 'POST /v1/groups' && typeof parsed.name === 'string') effects.groups.set(parsed.name, true);
  if (key === 'DELETE /v1/groups/:group') effects.groups.set(seg, false);
  if (key === 'POST /v1/resources' && typeof parsed.name === 'string') effects.resources.set(parsed.name, true);
  if (key === 'DELETE /v1/resources/:res') effects.resources.set(seg, false);
  const applied = body as { applied?: unknown } | null;
  if (key === 'POST /v1/apply' && applied?.applied === true) {
    const groups = (parsed.spec as { groups?: Record<string, { resources?: Record<string, unknown> }> }).groups ?? {};
    for (const [g, spec] of Object.entries(groups)) {
      effects.groups.set(g, true);
      for (const res of Object.keys(spec.resources ?? {})) effects.resources.set(res, true);
    }
  }
}

/** The configuration a node serves, without what changes at run time (states, owners, restarts). */
function configOf(s: StatusSnapshot): unknown {
  return {
    appliedSeq: s.appliedSeq,
    groups: s.groups.map((g) => [g.name, g.preferredOwners, g.possibleOwners, g.failoverThreshold, g.failoverPeriodMs, g.failback, g.resources]).sort(),
    resources: s.resources.map((r) => [r.name, r.group, r.type, r.desired, r.dependsOn, r.props, r.priv]).sort(),
  };
}

test(`fuzzing the API of a 3-node cluster (seed ${seed}, ${numRuns} runs)`, { timeout: 600_000 }, async (t) => {
  t.diagnostic(`fuzz-api: seed ${seed}, ${numRuns} runs (replay with FUZZ_SEED=${seed})`);
  console.log(`fuzz-api: seed ${seed}, ${numRuns} runs (replay with FUZZ_SEED=${seed})`);
  const c = (cluster = await TestCluster.start(nodeNames));
  const setup = await c.api('/v1/apply', { method: 'POST', body: { spec: { groups: { fz: { state: 'offline', resources: {
    fr1: { type: 'process', priv: { command: '/bin/true' } }, fr2: { type: 'process', dependsOn: ['fr1'], priv: { command: '/bin/true' } },
  } } } }, dryRun: false } });
  assert.equal(setup.status, 200, JSON.stringify(setup.body));

  const routes = (await apiRoutes()).filter((r) => r.url !== '/');
  const violations: string[] = [];
  const effects: Effects = { groups: new Map(), resources: new Map() };
  const seqs: number[] = [];
  let ran = 0;
  let death: string | null = null;
  const died = (r: FuzzRequest) => {
    death = dead().map((n) => `node ${n} died after ${describe(r)}; its log ends:\n${c.readLog(n).split('\n').slice(-25).join('\n')}`).join('\n');
    return death;
  };
  const dead = () => [...c.nodes.values()].filter((n) => n.proc.exitCode !== null || n.proc.signalCode !== null).map((n) => n.name);

  await fc.assert(fc.asyncProperty(requestArb(routes), async (r) => {
    const headers: Record<string, string> = { ...authFor(c.nodes.get(r.node)!.url), ...r.extraHeaders };
    if (r.contentType !== null) headers['content-type'] = r.contentType;
    let res: Response;
    let text = '';
    try {
      res = await fetch(c.nodes.get(r.node)!.url + r.path, { method: r.method, headers, body: r.body, signal: AbortSignal.timeout(30_000) });
      const stream = (res.headers.get('content-type') ?? '').startsWith('text/event-stream');
      if (stream) await res.body?.cancel();
      else text = await res.text();
    } catch (e) {
      violations.push(`no answer (${(e as Error).message}) to ${describe(r)}`);
      if (dead().length === 0) return;
      throw new Error(died(r));
    }
    let body: unknown = null;
    try { body = text ? JSON.parse(text) : null; } catch { /* the dashboard and /metrics are not JSON */ }
    if (res.status >= 500 && res.status !== 503) violations.push(`HTTP ${res.status} for ${describe(r)}: ${text.slice(0, 300)}`);
    if (res.status >= 400 && r.method !== 'HEAD') {
      const e = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
      if (typeof e?.code !== 'string' || typeof e.message !== 'string') violations.push(`not in the error shape: HTTP ${res.status} for ${describe(r)}: ${text.slice(0, 300)}`);
    }
    if (res.status < 300 && isWrite(r.method)) {
      recordEffect(r, body, effects);
      try {
        seqs.push((await c.status(r.node)).appliedSeq);
      } catch (e) {
        violations.push(`GET /v1/status on ${r.node} failed after ${describe(r)}: ${(e as Error).message.slice(0, 300)}`);
      }
    }
    ran++;
    if (dead().length > 0) throw new Error(died(r));
  }), { seed, numRuns, endOnFailure: true, interruptAfterTimeLimit: fuzzTimeMs, markInterruptAsFailure: false }).catch((e: Error) => {
    assert.fail(`${death ?? 'the property failed'} (seed ${seed})\n${e.message}\nother answers that broke an invariant:\n${violations.join('\n')}`);
  });
  t.diagnostic(`fuzz-api: ${ran} requests sent`);
  assert.deepEqual(violations, [], `${violations.length} answers broke an invariant (seed ${seed})`);

  assert.deepEqual(dead(), [], 'no node process died');
  const fenced = (await c.events()).filter((e) => e.event === 'NODE_SELF_FENCED');
  assert.deepEqual(fenced.map((e) => `${e.node}: ${e.message}`), [], 'no node self-fenced');

  // Every 2xx write is visible on all nodes: each serves the same configuration, at least as new as the last write.
  const minSeq = Math.max(0, ...seqs);
  const agreed = await waitFor('every node to serve the same configuration', async () => {
    const all = await Promise.all(nodeNames.map((n) => c.status(n)));
    const configs = all.map((s) => JSON.stringify(configOf(s)));
    return all.every((s) => s.appliedSeq >= minSeq) && configs.every((x) => x === configs[0]) ? all[0]! : null;
  }, 60_000, 250);
  for (const n of nodeNames) {
    const s = await c.status(n);
    for (const [g, present] of effects.groups) assert.equal(s.groups.some((x) => x.name === g), present, `group ${JSON.stringify(g)} ${present ? 'created' : 'deleted'} (2xx), as ${n} sees it`);
    for (const [res, present] of effects.resources) assert.equal(s.resources.some((x) => x.name === res), present, `resource ${JSON.stringify(res)} ${present ? 'created' : 'deleted'} (2xx), as ${n} sees it`);
  }

  // The configuration still folds from the log: a restarted node loads it and serves the same.
  const victim = nodeNames.find((n) => n !== agreed.coordinator)!;
  const v = c.nodes.get(victim)!;
  v.proc.kill('SIGTERM');
  await v.exited;
  await c.startNode(victim);
  await waitFor(`${victim} after its restart to serve what the coordinator serves`, async () => {
    const s = await c.status(victim).catch(() => null);
    const now = await c.status(agreed.coordinator!);
    return s !== null && s.appliedSeq >= agreed.appliedSeq && JSON.stringify(configOf(s)) === JSON.stringify(configOf(now));
  }, 60_000, 250);
});
