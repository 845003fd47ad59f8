// clusterd's files on real nodes: a data or quorum directory another user could change is
// refused at start; after a cluster ran, its directories are 0700 and its files 0600; a secret
// given with priv.secretEnvFile reaches the resource and nowhere else (API answers, events,
// quorum directory, data directories, node logs).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clusterdBin, freePort, TestCluster, waitFor, authFor } from './harness.js';

const fixture = fileURLToPath(new URL('../../test/fixtures/monitor-resource.mjs', import.meta.url));
const asRoot = process.getuid?.() === 0;
const clusters: TestCluster[] = [];
const dirs: string[] = [];
after(async () => {
  for (const c of clusters) await c.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'clusterd-files-test-'));
  dirs.push(dir);
  return dir;
}

/** `clusterd start` that must refuse before it serves anything: its exit code and output. */
function startRefused(quorum: string, dataDir: string): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [clusterdBin, 'start', '--quorum', quorum, '--node', 'n9', '--listen', '127.0.0.1:0', '--data-dir', dataDir],
    { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Every entry under `dir` (lstat, symlinks not followed). */
function walk(dir: string): { path: string; mode: number; kind: 'dir' | 'file' | 'socket' | 'other' }[] {
  const out: { path: string; mode: number; kind: 'dir' | 'file' | 'socket' | 'other' }[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = lstatSync(p);
    const kind = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSocket() ? 'socket' : 'other';
    out.push({ path: p, mode: st.mode & 0o7777, kind });
    if (kind === 'dir') out.push(...walk(p));
  }
  return out;
}

test('start refuses a data or quorum directory owned by another user, writable by group or others, or reached through a symlink', async () => {
  const dir = tempDir();
  const quorum = join(dir, 'quorum');
  // The credential file goes in the test's directory, never the user's own configuration.
  const init = spawnSync(process.execPath, [clusterdBin, 'init', '--quorum', `dir:${quorum}`, '--cluster', 'files'], { encoding: 'utf8', env: { ...process.env, XDG_CONFIG_HOME: join(dir, 'config') } });
  assert.equal(init.status, 0, init.stderr);
  assert.equal(lstatSync(quorum).mode & 0o777, 0o700, 'init creates the quorum directory 0700');

  const cases: { what: string; data: string; quorum?: string; why: RegExp }[] = [];
  const groupWritable = join(dir, 'data-group-writable');
  mkdirSync(groupWritable);
  chmodSync(groupWritable, 0o770);
  cases.push({ what: 'group-writable data dir', data: groupWritable, why: /data-group-writable is writable by its group \(mode 0770\)/ });
  const worldWritable = join(dir, 'data-world-writable');
  mkdirSync(worldWritable);
  chmodSync(worldWritable, 0o1777);
  cases.push({ what: 'world-writable data dir, even sticky', data: worldWritable, why: /data-world-writable is writable by its group and others \(mode 1777\)/ });
  const real = join(dir, 'data-real');
  mkdirSync(real, { mode: 0o700 });
  symlinkSync(real, join(dir, 'data-link'));
  cases.push({ what: 'data dir reached through a symlink', data: join(dir, 'data-link'), why: /data-link is a symlink \(to .*data-real\)/ });
  cases.push({ what: 'a directory on the way is a symlink', data: join(dir, 'data-link', 'n9'), why: /data-link is a symlink/ });
  symlinkSync(quorum, join(dir, 'quorum-link'));
  cases.push({ what: 'quorum dir reached through a symlink', data: join(dir, 'data-ok'), quorum: `dir:${join(dir, 'quorum-link')}`, why: /quorum directory .*quorum-link is a symlink/ });
  if (asRoot) {
    const nobody = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }));
    const owned = join(dir, 'data-nobody');
    mkdirSync(owned, { mode: 0o700 });
    chownSync(owned, nobody, nobody);
    cases.push({ what: 'data dir owned by nobody', data: owned, why: new RegExp(`data-nobody is owned by uid ${nobody}, not by clusterd's user \\(uid 0\\)`) });
    const parent = join(dir, 'parent-nobody');
    mkdirSync(parent, { mode: 0o755 });
    chownSync(parent, nobody, nobody);
    cases.push({ what: 'a directory on the way owned by nobody', data: join(parent, 'n9'), why: /parent-nobody, on the way to it, is owned by uid/ });
  }
  for (const c of cases) {
    const r = startRefused(c.quorum ?? `dir:${quorum}`, c.data);
    assert.equal(r.code, 2, `${c.what}: refused at start\n${r.out}`);
    assert.match(r.out, /error\[UNSAFE_PATH\]/, c.what);
    assert.match(r.out, c.why, c.what);
    assert.match(r.out, /hint: /, `${c.what}: says what to do`);
  }
  assert.ok(!existsSync(join(real, 'db')), 'nothing was written through the symlink');
});

test('after a cluster ran a resource with a secretEnvFile: directories 0700, files 0600, and the secret only in the resource\'s environment', async () => {
  const secret = `sekret-${randomBytes(8).toString('hex')}`;
  const secretDir = tempDir();
  const secretFile = join(secretDir, 'web.secrets');
  writeFileSync(secretFile, `DB_PASSWORD=${secret}\n`, { mode: 0o600 });
  const c = await TestCluster.start(['n1', 'n2']);
  clusters.push(c);
  const port = await freePort();
  const envFile = join(secretDir, 'env.json');
  const spec = { groups: { web: { preferredOwners: ['n1', 'n2'], resources: { 'web-srv': {
    type: 'process',
    priv: { command: process.execPath, args: [fixture, '--write-env', envFile, '--http', String(port)], probe: `http://127.0.0.1:${port}/health`, secretEnvFile: secretFile },
  } } } } };
  const applied = await c.api('/v1/apply', { method: 'POST', body: { spec, dryRun: false } });
  assert.equal(applied.status, 200, JSON.stringify(applied.body));
  await c.waitStatus('web Online', (s) => s.groups.find((g) => g.name === 'web')?.state === 'Online', 30_000);
  await waitFor('the resource wrote its environment', () => existsSync(envFile), 30_000);
  const env = (JSON.parse(readFileSync(envFile, 'utf8')) as { env: Record<string, string> }).env;
  assert.equal(env.DB_PASSWORD, secret, 'the resource has its secret');
  // A move: the other node reads the file at its start too, and every node writes its copies.
  const moved = await c.api('/v1/groups/web/move', { method: 'POST', body: { node: 'n2' } });
  assert.ok(moved.status < 300, JSON.stringify(moved.body));
  await c.waitStatus('web Online on n2', (s) => { const g = s.groups.find((x) => x.name === 'web'); return g?.state === 'Online' && g.node === 'n2'; }, 30_000);

  // The API answers: every read route.
  const answers: string[] = [];
  for (const route of ['/v1/status', '/v1/nodes', '/v1/groups', '/v1/groups/web', '/v1/groups/web/why', '/v1/resources', '/v1/resources/web-srv',
    '/v1/events?after=0&limit=10000', '/v1/backups', '/metrics']) {
    for (const via of ['n1', 'n2']) {
      const r = await fetch(c.nodes.get(via)!.url + route, { headers: authFor(c.nodes.get(via)!.url) });
      const text = await r.text();
      answers.push(text);
      assert.ok(!text.includes(secret), `GET ${route} on ${via} shows no secret`);
    }
  }
  assert.ok(answers.some((a) => a.includes(secretFile)), 'the API shows the secret file\'s path');
  // Files: the quorum directory, the data directories, the node logs.
  const quorumDir = c.quorum.replace(/^dir:/, '');
  const nodeDirs = ['n1', 'n2'].map((n) => join(c.dir, `data-${n}`));
  for (const root of [quorumDir, ...nodeDirs]) {
    assert.equal(lstatSync(root).mode & 0o777, 0o700, `${root} is 0700`);
    for (const e of walk(root)) {
      if (e.kind === 'dir') assert.equal(e.mode, 0o700, `${e.path} is a directory 0700, not ${e.mode.toString(8)}`);
      else assert.equal(e.mode, 0o600, `${e.path} (${e.kind}) is 0600, not ${e.mode.toString(8)}`);
      if (e.kind === 'file') assert.ok(!readFileSync(e.path).includes(secret), `${e.path} holds no secret`);
    }
  }
  const names = walk(quorumDir).map((e) => e.path);
  assert.ok(names.some((p) => p.endsWith('cluster.db-wal')), `the WAL is among the checked files: ${names.join(', ')}`);
  assert.ok(walk(nodeDirs[0]!).some((e) => e.path.endsWith('web-srv.log')), 'the resource log is among the checked files');
  for (const n of ['n1', 'n2']) assert.ok(!c.readLog(n).includes(secret), `node ${n}'s log holds no secret`);
});
