// Operators' tools against real clusterd processes: /healthz and /readyz without credentials,
// /metrics accepted by `promtool check metrics` with the counters and histograms operators
// alert on, the shipped alert rules checked and unit-tested by promtool, the systemd unit
// checked by systemd-analyze, and both commands' --version.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import { routeRoles } from '../src/api/auth.js';
import { clusterdVersion } from '../src/core/version.js';
import { clusterBin, clusterdBin, freePort, repoRoot, TestCluster, waitFor } from './harness.js';

let cluster: TestCluster | null = null;
after(async () => { await cluster?.close(); });

function promtool(args: string[], input?: string): { code: number; out: string } {
  const r = spawnSync('promtool', args, { encoding: 'utf8', input, cwd: join(repoRoot, 'deploy/prometheus') });
  if (r.error) throw new Error(`promtool is needed for this test (Debian package prometheus): ${r.error.message}`);
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

async function scrape(url: string): Promise<string> {
  const r = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) });
  assert.equal(r.status, 200);
  return r.text();
}

/** The value of the first sample whose name and labels contain all of `parts`, or null. */
function sample(text: string, name: string, labels: string[] = []): number | null {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (labels.every((l) => line.includes(l))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return null;
}

test('the shipped alert rules pass promtool check rules and their unit tests', () => {
  const check = promtool(['check', 'rules', 'clusterd-alerts.yml']);
  assert.equal(check.code, 0, check.out);
  const unit = promtool(['test', 'rules', 'clusterd-alerts.test.yml']);
  assert.equal(unit.code, 0, unit.out);
});

test('health, readiness and metrics on real nodes; a failover is counted with its reason', async () => {
  const c = (cluster = await TestCluster.start(['n1', 'n2']));
  for (const n of c.nodes.values()) {
    const h = await fetch(`${n.url}/healthz`);
    assert.equal(h.status, 200);
    const ready = await waitFor(`${n.name} ready`, async () => {
      const r = await fetch(`${n.url}/readyz`);
      const body = await r.json() as { status: string; checks: Record<string, { ok: boolean }> };
      return r.status === 200 ? body : null;
    });
    assert.equal(ready.status, 'ready');
    assert.deepEqual(Object.keys(ready.checks).sort(), ['joined', 'started', 'store']);
  }

  const port = await freePort();
  await c.addWebGroup('web', port, { preferred: ['n1', 'n2'] });
  await c.waitStatus('web Online on n1', (s) => s.groups.find((g) => g.name === 'web')?.state === 'Online' && c.nodeOf(s, 'web') === 'n1', 30_000);

  const n2 = c.nodes.get('n2')!.url;
  await c.status('n2');
  const text = await scrape(n2);
  const lint = promtool(['check', 'metrics'], text);
  assert.equal(lint.code, 0, `promtool check metrics: ${lint.out}`);
  assert.ok((sample(text, 'process_resident_memory_bytes') ?? 0) > 0, 'Node\'s default process metrics');
  assert.equal(sample(text, 'clusterd_group_state', ['group="web"', 'state="Online"', 'node="n1"']), 1);
  assert.equal(sample(text, 'clusterd_node_state', ['node="n1"', 'state="Up"']), 1);
  assert.ok(sample(text, 'clusterd_http_request_duration_seconds_count', ['route="/v1/status"']) !== null, 'request histogram by route pattern');
  assert.ok(sample(text, 'clusterd_lease_renewal_age_seconds')! < sample(text, 'clusterd_lease_ttl_seconds')!, 'the lease is renewed within its TTL');
  const coordinator = (await c.status()).coordinator!;
  const onCoord = await scrape(c.nodes.get(coordinator)!.url);
  assert.ok((sample(onCoord, 'clusterd_commit_duration_seconds_count', ['result="ok"']) ?? 0) >= 1, 'the apply\'s commit is timed on the coordinator');

  // CLI conventions: errors as JSON with --json; a paused node printed Paused at once; --watch
  // into a pipe writes no escape codes.
  const missing = c.cli(['group', 'nope', '--json']);
  assert.notEqual(missing.code, 0);
  assert.equal((JSON.parse(missing.err) as { error: { code: string } }).error.code, 'GROUP_NOT_FOUND');
  const badJson = c.cli(['frobnicate', '--json']);
  assert.equal((JSON.parse(badJson.err) as { error: { code: string } }).error.code, 'BAD_ARGUMENT');
  const paused = c.cli(['node', 'n2', '/pause']);
  assert.equal(paused.code, 0, paused.err);
  assert.match(paused.out, /Paused/);
  const resumed = c.cli(['node', 'n2', '/resume']);
  assert.equal(resumed.code, 0, resumed.err);
  assert.doesNotMatch(resumed.out, /Paused/);
  const watched = c.cli(['status', '--watch'], {}, 8_000);
  assert.match(watched.out, /^--- \d{4}-/m, 'frames with a time line');
  assert.match(watched.out, /web/, 'the status itself');
  assert.doesNotMatch(watched.out, /\x1b/, 'no escape codes into a pipe');

  // The API description: a valid OpenAPI document with every route of the role table in it.
  const described = await (await fetch(`${n2}/v1/openapi.json`)).json() as { paths: Record<string, Record<string, { 'x-clusterd-role': string }>> };
  await SwaggerParser.validate(structuredClone(described) as never);
  const missingRoutes = Object.keys(routeRoles).filter((key) => {
    const [method, url] = key.split(' ') as [string, string];
    return described.paths[url.replace(/:(\w+)/g, '{$1}')]?.[method.toLowerCase()]?.['x-clusterd-role'] !== routeRoles[key];
  });
  assert.deepEqual(missingRoutes, [], 'every route, with its role, is described');

  // kill -9 the owner: the new coordinator (or the old one, n2) fails the group over and counts it.
  c.nodes.get('n1')!.proc.kill('SIGKILL');
  await c.waitStatus('web Online on n2', (s) => s.groups.find((g) => g.name === 'web')?.state === 'Online' && c.nodeOf(s, 'web') === 'n2', 30_000);
  await waitFor('the failover counted on n2', async () => (sample(await scrape(n2), 'clusterd_group_owner_changes_total', ['group="web"', 'reason="node_down"']) ?? 0) >= 1, 15_000, 200);
  const after1 = await scrape(n2);
  assert.equal(sample(after1, 'clusterd_node_state', ['node="n1"', 'state="Down"']), 1);
  assert.ok((sample(after1, 'clusterd_events_total', ['event="GROUP_FAILOVER"']) ?? 0) >= 1);
  assert.equal(promtool(['check', 'metrics'], after1).code, 0);
  // The log line of the failover carries the event's fields as JSON fields of their own.
  const line = c.readLog('n2').split('\n').find((l) => l.includes('"event":"GROUP_FAILOVER"'));
  assert.ok(line, 'n2 logged the failover');
  assert.equal((JSON.parse(line) as { group?: string }).group, 'web');
});

test('the systemd unit passes systemd-analyze verify (with this machine\'s node binary)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'clusterd-unit-'));
  try {
    const unit = readFileSync(join(repoRoot, 'deploy/clusterd.service'), 'utf8');
    assert.match(unit, /^Type=notify$/m);
    assert.match(unit, /^WatchdogSec=/m);
    writeFileSync(join(dir, 'clusterd.service'), unit.replaceAll('/usr/bin/node', process.execPath));
    const r = spawnSync('systemd-analyze', ['verify', join(dir, 'clusterd.service')], { encoding: 'utf8' });
    if (r.error) throw new Error(`systemd-analyze is needed for this test (Debian package systemd): ${r.error.message}`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', 'no warnings');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('clusterd --version and cluster --version print package.json\'s version', () => {
  for (const [bin, name] of [[clusterdBin, null], [clusterBin, 'cluster']] as const) {
    const r = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), name ? `${name} ${clusterdVersion}` : clusterdVersion);
  }
});

test('completion scripts for bash and zsh are generated from the parser\'s tables and pass the shells\' syntax checks', () => {
  const dir = mkdtempSync(join(tmpdir(), 'clusterd-completion-'));
  try {
    for (const shell of ['bash', 'zsh']) {
      const gen = spawnSync(process.execPath, [clusterBin, 'completion', shell], { encoding: 'utf8' });
      assert.equal(gen.status, 0, gen.stderr);
      const file = join(dir, shell);
      writeFileSync(file, gen.stdout);
      const check = spawnSync(shell, ['-n', file], { encoding: 'utf8' });
      if (check.error) throw new Error(`${shell} is needed for this test (Debian package ${shell}): ${check.error.message}`);
      assert.equal(check.status, 0, `${shell} -n: ${check.stderr}`);
    }
    // bash really completes: an object, then that object's switches.
    const complete = (words: string[]) => spawnSync('bash', ['-c', `source ${join(dir, 'bash')}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _cluster; echo "\${COMPREPLY[@]}"`], { encoding: 'utf8' }).stdout.trim().split(' ');
    assert.deepEqual(complete(['cluster', 'gro']), ['group']);
    assert.deepEqual(complete(['cluster', 'res', 'r1', '--maint']), ['--maintenance']);
    assert.ok(complete(['cluster', 'node', 'n1', '--']).includes('--drain'));
    assert.equal(spawnSync(process.execPath, [clusterBin, 'completion', 'fish'], { encoding: 'utf8' }).status, 2, 'an unknown shell is a usage error');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
