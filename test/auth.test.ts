// Authentication, roles, TLS and browser protection on real nodes. The refusals are table-driven
// over every route of the API (routeRoles, which the server itself checks against the routes it
// registers at start): unauthenticated, forged-token, wrong-role, cross-origin and foreign-Host
// requests are refused for each one.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { roleRank, routeRoles } from '../src/api/auth.js';
import type { Role } from '../src/core/types.js';
import { clusterBin, clusterdBin, freePort, TestCluster, waitFor } from './harness.js';

type ErrorBody = { error?: { code: string; message: string; hint?: string } };

let c: TestCluster;
const tokens: Partial<Record<Role, string>> = {};

/** A concrete path for a route pattern: names that exist nowhere (nothing is ever found, let alone changed). */
function pathOf(pattern: string): string {
  const opOf: Record<string, string> = { '/v1/nodes/:node/:op': 'pause', '/v1/groups/:group/:op': 'offline', '/v1/resources/:res/:op': 'offline' };
  let p = pattern;
  if (opOf[pattern]) p = p.replace(':op', opOf[pattern]!);
  return p.replace(':node', 'n1').replace(':group', 'no-such-group').replace(':res', 'no-such-res').replace(':dep', 'x')
    .replace(':id', '00000000@n1').replace(':user', 'no-such-user');
}

const routes = Object.entries(routeRoles).map(([key, access]) => {
  const [method, pattern] = key.split(' ') as [string, string];
  return { key, method, path: pathOf(pattern), access };
});
const guarded = routes.filter((r) => r.access !== 'public' && r.access !== 'metrics');
const changing = guarded.filter((r) => r.method !== 'GET');

/** An HTTP request with any Host and headers (fetch sets Host itself). */
function raw(url: string, method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: ErrorBody; headers: Record<string, unknown> }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method, path, headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers }, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => { let b: ErrorBody = {}; try { b = JSON.parse(text) as ErrorBody; } catch { /* not JSON */ } resolve({ status: res.statusCode ?? 0, body: b, headers: res.headers }); });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const bodyOf = (method: string): string | undefined => (method === 'GET' || method === 'DELETE' ? undefined : '{}');

before(async () => {
  c = await TestCluster.start(['n1', 'n2']);
  tokens.admin = c.token;
  for (const role of ['viewer', 'operator'] as const) {
    const r = await c.api<{ token: string }>('/v1/credentials', { method: 'POST', body: { user: `${role}-user`, role } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    tokens[role] = r.body.token;
  }
});
after(async () => { await c?.close(); });

test('init writes the admin credential file 0600 and only a hash of its token into the cluster', async () => {
  assert.equal(statSync(c.credentialFile).mode & 0o777, 0o600);
  const auth = join(c.quorum.slice(4), 'auth');
  assert.equal(statSync(auth).mode & 0o777, 0o700);
  for (const f of ['ca.crt', 'ca.key', 'node.token']) assert.equal(statSync(join(auth, f)).mode & 0o777, 0o600, f);
  const dump = spawnSync(process.execPath, [clusterdBin, 'quorum-log', 'dump', '--quorum', c.quorum], { encoding: 'utf8' });
  assert.equal(dump.status, 0, dump.stderr);
  assert.ok(!dump.stdout.includes(c.token), 'the token itself is in the quorum store');
});

test('every guarded route refuses a request without a credential (401 AUTH_REQUIRED) and with a forged one (401 AUTH_INVALID)', async () => {
  const url = c.nodes.get('n1')!.url;
  for (const r of guarded) {
    const none = await raw(url, r.method, r.path, {}, bodyOf(r.method));
    assert.equal(none.status, 401, `${r.key} without a credential: ${JSON.stringify(none.body)}`);
    assert.equal(none.body.error?.code, 'AUTH_REQUIRED', r.key);
    assert.match(none.body.error?.hint ?? '', /credentials/, `${r.key}: the hint names the credential file`);
    const forged = await raw(url, r.method, r.path, { authorization: `Bearer ${'A'.repeat(43)}` }, bodyOf(r.method));
    assert.equal(forged.status, 401, `${r.key} with a forged token`);
    assert.equal(forged.body.error?.code, 'AUTH_INVALID', r.key);
  }
});

test('every route refuses a role below its row (403 AUTH_FORBIDDEN naming the role), routes for nodes refuse every user, and a viewer cannot claim a role through the caller header', async () => {
  const url = c.nodes.get('n2')!.url;
  for (const r of guarded) {
    const need = r.access as Role | 'node';
    for (const role of ['viewer', 'operator', 'admin'] as const) {
      if (need !== 'node' && roleRank(role) >= roleRank(need)) continue;
      const a = await raw(url, r.method, r.path, { authorization: `Bearer ${tokens[role]}`, 'x-clusterd-caller': JSON.stringify({ user: 'x', role: 'admin' }), 'x-clusterd-forwarded': '1' }, bodyOf(r.method));
      assert.equal(a.status, 403, `${r.key} as ${role}: ${JSON.stringify(a.body)}`);
      assert.equal(a.body.error?.code, 'AUTH_FORBIDDEN', r.key);
      assert.match(a.body.error?.message ?? '', new RegExp(need), `${r.key}: the message names the role needed`);
    }
  }
});

test('every state-changing route refuses another origin (403) and every route a foreign Host (421), even with the admin token', async () => {
  const url = c.nodes.get('n1')!.url;
  const admin = { authorization: `Bearer ${tokens.admin}` };
  for (const r of changing) {
    const o = await raw(url, r.method, r.path, { ...admin, origin: 'http://evil.example' }, bodyOf(r.method));
    assert.equal(o.status, 403, `${r.key} from another origin: ${JSON.stringify(o.body)}`);
    assert.equal(o.body.error?.code, 'CSRF_REJECTED', r.key);
  }
  for (const r of routes) {
    const h = await raw(url, r.method, r.path, { ...admin, host: 'evil.example' }, bodyOf(r.method));
    assert.equal(h.status, 421, `${r.key} with Host evil.example`);
    assert.equal(h.body.error?.code, 'HOST_REJECTED', r.key);
  }
  // The health endpoints and /metrics need no credential.
  for (const p of ['/healthz', '/readyz', '/metrics']) assert.equal((await raw(url, 'GET', p, {})).status, 200, p);
});

test('roles: an operator takes a group offline through a node that forwards it; a node token relays only the caller\'s role', async () => {
  const g = await c.api('/v1/groups', { method: 'POST', body: { name: 'g-roles' } });
  assert.equal(g.status, 200, JSON.stringify(g.body));
  const s = await c.status();
  const other = ['n1', 'n2'].find((n) => n !== s.coordinator)!;
  const off = await c.api('/v1/groups/g-roles/offline', { method: 'POST', via: other, token: tokens.operator! });
  assert.equal(off.status, 200, JSON.stringify(off.body));
  const del = await c.api('/v1/groups/g-roles', { method: 'DELETE', via: other, token: tokens.operator! });
  assert.equal(del.status, 403);
  // A request with the node token carrying a viewer caller is judged as that viewer.
  const nodeToken = readFileSync(join(c.quorum.slice(4), 'auth', 'node.token'), 'utf8').trim();
  const relayed = await raw(c.nodes.get(s.coordinator!)!.url, 'POST', '/v1/groups/g-roles/online',
    { authorization: `Bearer ${nodeToken}`, 'x-clusterd-caller': JSON.stringify({ user: 'v', role: 'viewer' }) }, '{}');
  assert.equal(relayed.status, 403, JSON.stringify(relayed.body));
});

test('a viewer sees private secrets redacted; an admin sees them', async () => {
  const spec = { groups: { 'g-secret': { resources: { 'secret-srv': { type: 'process', props: {}, priv: {
    command: '/bin/sleep', args: ['3600'], env: ['DB_PASSWORD=hunter2', 'MODE=fast'], cwd: '/',
  } }, 'agent-srv': { type: 'ocf', props: {}, priv: { agent: 'heartbeat:Dummy', params: { state: '/tmp/x.state', apiToken: 'tok-123' } } } } } } };
  const a = await c.api('/v1/apply', { method: 'POST', body: { spec, dryRun: false } });
  assert.equal(a.status, 200, JSON.stringify(a.body));
  const off = await c.api('/v1/groups/g-secret/offline', { method: 'POST' });
  assert.equal(off.status, 200);
  type Res = { priv: Record<string, unknown> };
  const asViewer = await c.api<Res>('/v1/resources/secret-srv', { token: tokens.viewer! });
  assert.equal(asViewer.status, 200);
  assert.deepEqual(asViewer.body.priv.env, ['DB_PASSWORD=(redacted)', 'MODE=(redacted)']);
  assert.equal(asViewer.body.priv.cwd, '/');
  const agent = await c.api<Res>('/v1/resources/agent-srv', { token: tokens.viewer! });
  assert.deepEqual(agent.body.priv.params, { state: '/tmp/x.state', apiToken: '(redacted)' }, 'secret-looking agent parameters');
  const list = await c.api<Res[]>('/v1/resources', { token: tokens.viewer! });
  assert.ok(!JSON.stringify(list.body).includes('hunter2'));
  const status = await c.api('/v1/status', { token: tokens.viewer! });
  assert.ok(!JSON.stringify(status.body).includes('hunter2'));
  const asAdmin = await c.api<Res>('/v1/resources/secret-srv');
  assert.deepEqual(asAdmin.body.priv.env, ['DB_PASSWORD=hunter2', 'MODE=fast']);
});

test('every route a viewer may read shows no secret: each GET of the route table with real names, and the event stream', { timeout: 120_000 }, async () => {
  const secrets = ['hunter2-env-value', 'tok-param-value', 'pw-array-value'];
  const spec = { groups: { 'g-redact': { resources: {
    'redact-proc': { type: 'process', props: {}, priv: { command: '/bin/sleep', args: ['3600'], env: [`DB_PASSWORD=${secrets[0]}`, `OTHER=${secrets[2]}`], cwd: '/' } },
    'redact-ocf': { type: 'ocf', props: {}, priv: { agent: 'heartbeat:Dummy', params: { state: `${c.dir}/redact.state`, apiToken: secrets[1] } } },
  } } } };
  const a = await c.api('/v1/apply', { method: 'POST', body: { spec, dryRun: false } });
  assert.equal(a.status, 200, JSON.stringify(a.body));
  // Online and offline again: the resources' states, owners and events name them.
  assert.equal((await c.api('/v1/groups/g-redact/online', { method: 'POST' })).status, 200);
  await c.waitStatus('g-redact Online', (s) => s.groups.find((g) => g.name === 'g-redact')?.state === 'Online', 30_000);
  const asAdmin = await c.api('/v1/resources/redact-ocf');
  assert.ok(JSON.stringify(asAdmin.body).includes(secrets[1]!), 'an admin sees the secret (the check below is not vacuous)');
  const viewerGets = routes.filter((r) => r.method === 'GET' && r.access !== 'admin' && r.access !== 'operator');
  assert.ok(viewerGets.length >= 15, `the route table gives ${viewerGets.length} GET routes`);
  const lastEvent = (await c.events()).at(-1)!.id;
  const named = (pattern: string, res: string) => pattern.replace(':node', 'n1').replace(':group', 'g-redact').replace(':res', res)
    .replace(':provider', 'ocf').replace(':agent', 'heartbeat:Dummy').replace(':id', '00000000@n1');
  const url = c.nodes.get('n1')!.url;
  for (const r of viewerGets) {
    for (const res of ['redact-proc', 'redact-ocf']) {
      const [pattern, query] = r.key.split(' ')[1]!.split('?') as [string, string?];
      let path = named(pattern, res) + (query ? `?${query}` : '');
      if (pattern === '/v1/events') path += '?after=0&limit=10000';
      if (pattern === '/v1/events/stream') {
        // The stream's backlog up to the newest event, then it is closed.
        const ctl = new AbortController();
        const resp = await c.fetch(`${url}/v1/events/stream?after=0`, { headers: { authorization: `Bearer ${tokens.viewer}` }, signal: ctl.signal });
        assert.equal(resp.status, 200);
        const reader = resp.body!.getReader();
        let text = '';
        while (!text.includes(`id: ${lastEvent}\n`)) {
          const chunk = await reader.read();
          if (chunk.done) break;
          text += Buffer.from(chunk.value).toString('utf8');
        }
        ctl.abort();
        for (const x of secrets) assert.ok(!text.includes(x), `the event stream shows a viewer ${x}`);
        continue;
      }
      const got = await c.fetch(`${url}${path}`, { headers: { authorization: `Bearer ${tokens.viewer}` }, signal: AbortSignal.timeout(10_000) });
      const text = await got.text();
      assert.ok(got.status < 500, `${r.key} (${path}) as viewer: ${got.status} ${text}`);
      for (const x of secrets) assert.ok(!text.includes(x), `${r.key} (${path}) shows a viewer ${x}`);
    }
  }
  assert.equal((await c.api('/v1/groups/g-redact/offline', { method: 'POST' })).status, 200);
});

test('the dashboard logs in with a one-time ticket: HttpOnly SameSite=Strict cookie, whoami gives the csrf value, writes need it', async () => {
  const url = c.nodes.get('n1')!.url;
  const login = c.cli(['dashboard', '--url'], { CLUSTERD_ENDPOINT: url });
  assert.equal(login.code, 0, login.err);
  const link = new URL(login.out.trim());
  assert.equal(link.pathname, '/login');
  const first = await raw(url, 'GET', link.pathname + link.search, {});
  assert.equal(first.status, 303);
  assert.equal(first.headers.location, '/');
  const setCookie = String(first.headers['set-cookie']);
  assert.match(setCookie, /clusterd_session=[^;]+/);
  assert.match(setCookie, /HttpOnly/);
  assert.match(setCookie, /SameSite=Strict/);
  assert.equal((await raw(url, 'GET', link.pathname + link.search, {})).status, 401, 'a ticket works once');
  const cookie = /clusterd_session=[^;]+/.exec(setCookie)![0];
  const who = await raw(url, 'GET', '/v1/whoami', { cookie });
  assert.equal(who.status, 200);
  const me = who.body as unknown as { user: string; role: string; csrf: string };
  assert.equal(me.user, 'admin');
  assert.equal(me.role, 'admin');
  assert.ok(me.csrf.length > 10);
  await c.api('/v1/groups', { method: 'POST', body: { name: 'g-web' } });
  const noCsrf = await raw(url, 'POST', '/v1/groups/g-web/offline', { cookie }, '{}');
  assert.equal(noCsrf.status, 403);
  assert.equal(noCsrf.body.error?.code, 'CSRF_REJECTED');
  const crossSite = await raw(url, 'POST', '/v1/groups/g-web/offline', { cookie, 'x-clusterd-csrf': me.csrf, origin: 'http://evil.example' }, '{}');
  assert.equal(crossSite.status, 403);
  const ok = await raw(url, 'POST', '/v1/groups/g-web/offline', { cookie, 'x-clusterd-csrf': me.csrf, origin: url }, '{}');
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
});

test('credentials: add a viewer with the CLI, use its file, revoke it', async () => {
  const file = join(c.dir, 'bob.json');
  const add = c.cli(['credentials', 'add', 'bob', '--role', 'viewer', '--out', file]);
  assert.equal(add.code, 0, add.err);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const list = c.cli(['credentials', 'list', '--json']);
  assert.ok((JSON.parse(list.out) as { user: string }[]).some((x) => x.user === 'bob'));
  const asBob = c.cli(['status'], { CLUSTERD_CREDENTIALS: file });
  assert.equal(asBob.code, 0, asBob.err);
  const bobWrites = c.cli(['checkpoint'], { CLUSTERD_CREDENTIALS: file });
  assert.notEqual(bobWrites.code, 0);
  assert.match(bobWrites.err, /AUTH_FORBIDDEN/);
  assert.equal(c.cli(['credentials', 'revoke', 'bob']).code, 0);
  const revoked = c.cli(['status'], { CLUSTERD_CREDENTIALS: file });
  assert.match(revoked.err, /AUTH_INVALID/);
  assert.match(revoked.err, /bob\.json/, 'the error names the credential file used');
});

test('the CLI works for the init user with no flags and no endpoint: the credential file says where and how', async () => {
  const dir = new TestCluster();
  try {
    const ports = [await freePort(), await freePort()];
    dir.init(['--endpoints', ports.map((p) => `http://127.0.0.1:${p}`).join(',')]);
    await dir.startNode('a', ['--listen', `127.0.0.1:${ports[0]}`]);
    await dir.startNode('b', ['--listen', `127.0.0.1:${ports[1]}`]);
    const env: NodeJS.ProcessEnv = { ...process.env, XDG_CONFIG_HOME: dir.configHome };
    delete env.CLUSTERD_ENDPOINT;
    delete env.CLUSTERD_CREDENTIALS;
    await waitFor('cluster status with no flags', () => {
      const r = spawnSync(process.execPath, [clusterBin, 'status', '--json'], { encoding: 'utf8', env, timeout: 30_000 });
      return r.status === 0 && (JSON.parse(r.stdout) as { coordinator: string | null }).coordinator !== null;
    }, 60_000, 500);
    const create = spawnSync(process.execPath, [clusterBin, 'group', 'nf', '/create'], { encoding: 'utf8', env, timeout: 30_000 });
    assert.equal(create.status, 0, create.stderr);
    // Another user (no credential file) is refused, and told where the file would be.
    const stranger = spawnSync(process.execPath, [clusterBin, 'status'], { encoding: 'utf8', env: { ...env, XDG_CONFIG_HOME: join(dir.dir, 'nobody'), CLUSTERD_ENDPOINT: `http://127.0.0.1:${ports[0]}` }, timeout: 30_000 });
    assert.notEqual(stranger.status, 0);
    assert.match(stranger.stderr, /AUTH_REQUIRED/);
  } finally {
    await dir.close();
  }
});

test('TLS: nodes serve HTTPS with CA-issued certificates, forward to each other over mutual TLS, and the CLI verifies them', async () => {
  const t = await TestCluster.start(['t1', 't2'], { startArgs: ['--tls'] });
  try {
    for (const n of t.nodes.values()) assert.match(n.url, /^https:/);
    const s = t.cli(['status', '--json']);
    assert.equal(s.code, 0, s.err);
    const coordinator = (JSON.parse(s.out) as { coordinator: string }).coordinator;
    const other = ['t1', 't2'].find((n) => n !== coordinator)!;
    // A write sent to the node that is not the coordinator is forwarded (node token + client certificate).
    const w = t.cli(['group', 'tg', '/create'], { CLUSTERD_ENDPOINT: t.nodes.get(other)!.url });
    assert.equal(w.code, 0, w.err);
    // Without the CA the certificate is not trusted.
    const plain = await fetch(`${t.nodes.get(other)!.url}/healthz`).then(() => 'answered', () => 'refused');
    assert.equal(plain, 'refused');
  } finally {
    await t.close();
  }
});

test('a non-loopback --listen without TLS is refused at start (TLS_REQUIRED)', async () => {
  const r = await new Promise<{ code: number | null; err: string }>((resolve) => {
    const p = spawn(process.execPath, [clusterdBin, 'start', '--quorum', c.quorum, '--node', 'plain', '--listen', '0.0.0.0:0', '--no-tls', '--data-dir', join(c.dir, 'data-plain')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    p.on('exit', (code) => resolve({ code, err }));
  });
  assert.equal(r.code, 2);
  assert.match(r.err, /TLS_REQUIRED/);
});
