// Day-two operations on a real two-node cluster: a Failed resource taken offline and deleted,
// cleanup (API route and `cluster res R /cleanup`), why and status naming a failure's reason, a
// partial apply file that depends on an existing resource, `cluster export` (round trip, viewer
// redaction), `cluster apply --prune` (dry run lists deletions first; a resource that runs is
// refused), and a request whose body stalls answered 408 REQUEST_TIMEOUT.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ResourceView, WhyView } from '../src/api/types.js';
import { TestCluster, waitFor } from './harness.js';

let c: TestCluster;
const settingsDir = mkdtempSync(join(tmpdir(), 'clusterd-day-two-'));
/** A short request timeout, so that the stalled-body test does not wait 30 s; far above what a whole request takes on loopback. */
const requestTimeoutMs = 3_000;

before(async () => {
  const settings = join(settingsDir, 'settings.yaml');
  writeFileSync(settings, `http:\n  requestTimeoutMs: ${requestTimeoutMs}\n`);
  c = await TestCluster.start(['n1', 'n2'], { startArgs: ['--config', settings] });
});
after(async () => { await c?.close(); rmSync(settingsDir, { recursive: true, force: true }); });

/** A node process that runs until killed; its command line names the test's directory (close() finds it). */
const runs = () => ({ command: process.execPath, args: ['-e', 'setInterval(() => {}, 1000)', c.dir] });
/** Exits 3 at once unless `file` exists, then runs until killed. */
const runsIf = (file: string) => ({ command: process.execPath, args: ['-e', 'if (!require("fs").existsSync(process.argv[1])) process.exit(3); setInterval(() => {}, 1000)', file] });
/** Failures stay here: no restart, no failover. */
const staysFailed = { restartAction: 'restart', restartThreshold: 0 };

async function apply(spec: unknown, extra: Record<string, unknown> = {}): Promise<{ status: number; body: { plan?: string[]; deletions?: string[]; error?: { code: string } } }> {
  return c.api('/v1/apply', { method: 'POST', body: { spec, dryRun: false, ...extra } });
}
async function res(name: string): Promise<ResourceView> {
  const r = await c.api<ResourceView>(`/v1/resources/${encodeURIComponent(name)}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}
async function nonCoordinator(): Promise<string> {
  const s = await c.status();
  return ['n1', 'n2'].find((n) => n !== s.coordinator)!;
}

test('a Failed resource: why and status name the reason, /offline makes it Offline, then it can be deleted', async () => {
  const r = await apply({ groups: { bad: { resources: { 'bad-srv': { type: 'process', props: staysFailed, priv: { command: process.execPath, args: ['-e', 'process.exit(3)', c.dir] } } } } } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const failed = await waitFor('bad-srv Failed', async () => ((await res('bad-srv')).state === 'Failed' ? res('bad-srv') : null), 60_000);
  assert.match(failed.error ?? '', /exit/);

  const why = await c.api<WhyView>('/v1/groups/bad/why');
  assert.ok(why.body.reasons.some((x) => x.includes('bad-srv is Failed') && x.includes(failed.error!)), JSON.stringify(why.body.reasons));
  assert.ok((await c.status()).warnings.some((w) => w.includes('bad-srv is Failed') && w.includes('/cleanup')), 'status warns with the reason');
  const table = c.cli(['res', 'bad-srv']);
  assert.equal(table.code, 0, table.err);
  assert.match(table.out, /Resource 'bad-srv' is Failed on n\d: .*exit/);

  const refused = await c.api<{ error: { code: string; hint: string } }>('/v1/resources/bad-srv', { method: 'DELETE' });
  assert.equal(refused.body.error.code, 'RESOURCE_NOT_OFFLINE');
  // Through the node that is not the coordinator: forwarded like every write.
  const off = await c.api('/v1/resources/bad-srv/offline', { method: 'POST', via: await nonCoordinator() });
  assert.equal(off.status, 200, JSON.stringify(off.body));
  await waitFor('bad-srv Offline', async () => (await res('bad-srv')).state === 'Offline', 30_000);
  assert.equal((await res('bad-srv')).error, undefined);
  const del = await c.api('/v1/resources/bad-srv', { method: 'DELETE', via: await nonCoordinator() });
  assert.equal(del.status, 200, JSON.stringify(del.body));
  assert.equal((await c.api('/v1/groups/bad', { method: 'DELETE' })).status, 200);
});

test('cleanup: POST /v1/resources/:name/cleanup and cluster res R /cleanup reset the failure and start it again (operator role)', async () => {
  const mark = join(c.dir, 'flaky-ok');
  const r = await apply({ groups: { flaky: { resources: { flaky: { type: 'process', props: staysFailed, priv: runsIf(mark) } } } } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await waitFor('flaky Failed', async () => (await res('flaky')).state === 'Failed', 60_000);

  const viewer = await c.api<{ token: string }>('/v1/credentials', { method: 'POST', body: { user: 'watcher', role: 'viewer' } });
  assert.equal(viewer.status, 200, JSON.stringify(viewer.body));
  const forbidden = await c.api<{ error: { code: string } }>('/v1/resources/flaky/cleanup', { method: 'POST', token: viewer.body.token });
  assert.equal(forbidden.body.error?.code, 'AUTH_FORBIDDEN', 'cleanup needs the operator role');

  writeFileSync(mark, '');
  const out = c.cli(['res', 'flaky', '/cleanup']);
  assert.equal(out.code, 0, out.out + out.err);
  const online = await waitFor('flaky Online after its cleanup', async () => { const v = await res('flaky'); return v.state === 'Online' ? v : null; }, 60_000);
  assert.equal(online.restarts, 0);

  // The API route on a Failed resource, through the node that is not the coordinator.
  rmSync(mark);
  assert.equal((await c.api('/v1/resources/flaky/fail', { method: 'POST' })).status, 200);
  await waitFor('flaky Failed again', async () => (await res('flaky')).state === 'Failed', 60_000);
  writeFileSync(mark, '');
  const cleaned = await c.api<{ ok: boolean }>('/v1/resources/flaky/cleanup', { method: 'POST', via: await nonCoordinator() });
  assert.equal(cleaned.status, 200, JSON.stringify(cleaned.body));
  await waitFor('flaky Online after the API cleanup', async () => (await res('flaky')).state === 'Online', 60_000);
  assert.equal((await c.api('/v1/groups/flaky/offline', { method: 'POST' })).status, 200);
});

test('a partial apply file: a new resource depending on an existing one is accepted', async () => {
  assert.equal((await apply({ groups: { part: { state: 'offline', resources: { base: { type: 'process', priv: runs() } } } } })).status, 200);
  const file = join(c.dir, 'partial.yaml');
  writeFileSync(file, `groups:\n  part:\n    state: offline\n    resources:\n      top:\n        type: process\n        dependsOn: [base]\n        priv:\n          command: ${JSON.stringify(process.execPath)}\n          args: ["-e", "setInterval(() => {}, 1000)", ${JSON.stringify(c.dir)}]\n`);
  const out = c.cli(['apply', '-f', file]);
  assert.equal(out.code, 0, out.out + out.err);
  assert.deepEqual((await res('top')).dependsOn, ['base']);
  assert.equal((await res('base')).group, 'part', 'the resource the file does not name is still there');
});

test('cluster export: apply(export) changes nothing, with --prune too; a viewer gets secrets redacted', async () => {
  assert.equal((await apply({ groups: { sec: { state: 'offline', failback: { mode: 'window', startHour: 22, endHour: 6 }, resources: {
    'sec-srv': { type: 'process', props: { restartThreshold: 5 }, priv: { ...runs(), env: ['PLAIN=1', 'DB_PASSWORD=hunter2'] } },
  } } } })).status, 200);
  const out = c.cli(['export']);
  assert.equal(out.code, 0, out.err);
  assert.match(out.out, /hunter2/, 'an admin exports the whole text');
  const file = join(c.dir, 'exported.yaml');
  writeFileSync(file, out.out);
  for (const args of [['--dry-run'], ['--dry-run', '--prune'], []]) {
    const again = c.cli(['apply', '-f', file, ...args]);
    assert.equal(again.code, 0, again.out + again.err);
    assert.match(again.out, /\(nothing to change\)/, `apply ${args.join(' ')} of the export: ${again.out}`);
  }

  const s = await c.status('n1');
  const exported = await c.api<{ seq: number; text: string }>('/v1/export', { via: 'n1' });
  assert.equal(exported.status, 200);
  assert.ok(exported.body.seq >= s.appliedSeq && typeof exported.body.text === 'string');
  const viewer = await c.api<{ token: string }>('/v1/credentials', { method: 'POST', body: { user: 'reader', role: 'viewer' } });
  const seen = await c.api<{ seq: number; text: string }>('/v1/export', { token: viewer.body.token });
  assert.equal(seen.status, 200, JSON.stringify(seen.body));
  assert.doesNotMatch(seen.body.text, /hunter2/);
  assert.match(seen.body.text, /DB_PASSWORD=\(redacted\)/);
  assert.match(seen.body.text, /^# REDACTED/m);
});

test('cluster apply --prune: the dry run lists the deletions first; a resource that runs is refused until it is offline', async () => {
  assert.equal((await apply({ groups: { live: { resources: { 'live-srv': { type: 'process', priv: runs() } } } } })).status, 200);
  await waitFor('live-srv Online', async () => (await res('live-srv')).state === 'Online', 60_000);
  // The file keeps only group part (base and top): everything else goes.
  const exported = c.cli(['export']).out;
  const keep = join(c.dir, 'keep.yaml');
  const part = exported.slice(exported.indexOf('  part:'));
  writeFileSync(keep, `groups:\n${part.slice(0, part.search(/\n {2}\S/) + 1)}`);

  const dry = c.cli(['apply', '-f', keep, '--prune', '--dry-run']);
  assert.equal(dry.code, 0, dry.out + dry.err);
  const lines = dry.out.split('\n');
  assert.match(lines[1]!, /deletions \(--prune, \d+\):/, dry.out);
  assert.ok(lines.some((l) => /delete resource live-srv .*refused now: it is Online/.test(l)), dry.out);
  assert.ok(lines.some((l) => /delete group flaky/.test(l)), dry.out);

  const refused = c.cli(['apply', '-f', keep, '--prune']);
  assert.notEqual(refused.code, 0);
  assert.match(refused.err, /RESOURCE_NOT_OFFLINE[\s\S]*live-srv[\s\S]*hint: .*\/offline/);
  assert.ok((await c.status()).groups.some((g) => g.name === 'live'), 'nothing was deleted');

  assert.equal((await c.api('/v1/groups/live/offline', { method: 'POST' })).status, 200);
  await waitFor('live-srv Offline', async () => (await res('live-srv')).state === 'Offline', 60_000);
  const done = c.cli(['apply', '-f', keep, '--prune']);
  assert.equal(done.code, 0, done.out + done.err);
  const s = await c.status();
  assert.deepEqual(s.groups.map((g) => g.name), ['part']);
  assert.deepEqual(s.resources.map((r) => r.name).sort(), ['base', 'top']);
  assert.equal(s.nodes.length, 2, 'nodes are never pruned');
});

test('a request whose body stalls is answered 408 REQUEST_TIMEOUT in the API\'s error shape, and the node carries on', async () => {
  const url = new URL(c.nodes.get('n1')!.url);
  const answer = await new Promise<string>((resolve, reject) => {
    const sock = connect(Number(url.port), url.hostname, () => {
      sock.write(`POST /v1/apply HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${c.token}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"spec":`);
    });
    let got = '';
    sock.on('data', (b) => { got += b.toString(); });
    sock.on('close', () => resolve(got));
    sock.on('error', reject);
    setTimeout(() => { sock.destroy(); reject(new Error(`no answer within 60 s (got ${JSON.stringify(got)})`)); }, 60_000).unref();
  });
  assert.match(answer, /^HTTP\/1\.1 408 /);
  const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { error: { code: string; hint?: string } };
  assert.equal(body.error.code, 'REQUEST_TIMEOUT');
  assert.ok(body.error.hint);
  assert.equal((await c.status('n1')).nodes.length, 2);
});
