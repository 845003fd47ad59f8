// A cluster made before clusterd had credentials (a quorum store with no auth directory and no
// credential in its configuration): start refuses it with an error naming the one command that
// fixes it, `clusterd init --auth-only`, which makes the CA, the node token and an admin
// credential and leaves the groups and resources as they were.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { tlsFetch } from '../src/api/tls-fetch.js';
import { openStore } from '../src/store/index.js';
import { clusterdBin, TestCluster } from './harness.js';

let c: TestCluster | null = null;
after(async () => { await c?.close(); });

function clusterd(args: string[], configHome: string): { code: number | null; out: string } {
  const r = spawnSync(process.execPath, [clusterdBin, ...args], { encoding: 'utf8', env: { ...process.env, XDG_CONFIG_HOME: configHome }, timeout: 60_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

test('a cluster without an auth directory: start names clusterd init --auth-only, which adds the trust and keeps the groups', { timeout: 120_000 }, async () => {
  c = new TestCluster();
  // The cluster as an older clusterd left it: a configuration with a group and a resource, no auth directory.
  const store = openStore(c.quorum);
  const made = await store.init('legacy', Date.now());
  assert.ok(made.ok, JSON.stringify(made));
  const appended = await store.appendLog(0, 0, [
    { op: 'group-create', group: 'old-group' },
    { op: 'resource-create', resource: 'old-res', group: 'old-group', type: 'process', priv: { command: '/bin/sleep', args: ['3600'] }, desired: 'offline' },
  ]);
  assert.ok(appended.ok, JSON.stringify(appended));
  await store.close();
  const authDir = join(c.quorum.slice(4), 'auth');
  const dumpBefore = clusterd(['quorum-log', 'dump', '--quorum', c.quorum, '--json'], c.configHome);
  assert.equal(dumpBefore.code, 0, dumpBefore.out);

  const refused = clusterd(['start', '--quorum', c.quorum, '--node', 'n1', '--listen', '127.0.0.1:0', '--data-dir', join(c.dir, 'data-n1')], c.configHome);
  assert.notEqual(refused.code, 0, 'a node started without the cluster CA and node token');
  assert.match(refused.out, /AUTH_MISSING/, refused.out);
  assert.ok(refused.out.includes(`clusterd init --auth-only --quorum ${c.quorum}`), `the error names the command to run: ${refused.out}`);
  const again = clusterd(['init', '--quorum', c.quorum, '--cluster', 'legacy'], c.configHome);
  assert.notEqual(again.code, 0);
  assert.match(again.out, /CLUSTER_EXISTS[\s\S]*--auth-only/, `init on the existing cluster points at --auth-only: ${again.out}`);

  const fixed = clusterd(['init', '--auth-only', '--quorum', c.quorum, '--user', 'admin'], c.configHome);
  assert.equal(fixed.code, 0, fixed.out);
  assert.equal(statSync(authDir).mode & 0o777, 0o700);
  for (const f of ['ca.crt', 'ca.key', 'node.token']) assert.equal(statSync(join(authDir, f)).mode & 0o777, 0o600, f);
  const credFile = join(c.configHome, 'clusterd', 'credentials', 'legacy.json');
  assert.equal(statSync(credFile).mode & 0o777, 0o600);
  const cred = JSON.parse(readFileSync(credFile, 'utf8')) as { cluster: string; token: string; ca: string; role: string; user: string };
  assert.deepEqual([cred.cluster, cred.role, cred.user], ['legacy', 'admin', 'admin']);
  assert.equal(cred.ca, readFileSync(join(authDir, 'ca.crt'), 'utf8'));
  const dumpAfter = clusterd(['quorum-log', 'dump', '--quorum', c.quorum, '--json'], c.configHome);
  assert.equal(dumpAfter.code, 0, dumpAfter.out);
  // The log is the same records and one more: the admin credential's hash.
  const records = (out: string) => out.split('\n').filter((l) => l.startsWith('{"seq"'));
  assert.deepEqual(records(dumpAfter.out).slice(0, -1), records(dumpBefore.out));
  assert.match(records(dumpAfter.out).at(-1)!, /"op":"credential-set","user":"admin","role":"admin"/);
  assert.ok(!dumpAfter.out.includes(cred.token), 'the token itself is in the quorum store');

  // Run twice, it refuses: the trust every node and credential relies on is not replaced.
  const caBefore = readFileSync(join(authDir, 'ca.crt'), 'utf8');
  const twice = clusterd(['init', '--auth-only', '--quorum', c.quorum, '--user', 'admin'], c.configHome);
  assert.notEqual(twice.code, 0);
  assert.match(twice.out, /AUTH_EXISTS/, twice.out);
  assert.equal(readFileSync(join(authDir, 'ca.crt'), 'utf8'), caBefore);

  // The nodes start, the old configuration is there, and the CLI works with no flags.
  c.token = cred.token;
  c.fetch = tlsFetch({ ca: cred.ca });
  await c.startNode('n1');
  await c.startNode('n2');
  const s = await c.waitStatus('two nodes Up', (x) => !!x.coordinator && x.nodes.filter((n) => n.state === 'Up').length === 2, 30_000);
  assert.equal(s.groups.find((g) => g.name === 'old-group')?.state, 'Offline');
  const res = await c.api<{ priv: { command: string } }>('/v1/resources/old-res');
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.priv.command, '/bin/sleep');
  assert.equal((await c.api('/v1/status', { token: null })).status, 401, 'the upgraded cluster authenticates');
  const cli = c.cli(['status']);
  assert.equal(cli.code, 0, cli.err);
  assert.match(cli.out, /old-group/);
  assert.ok(existsSync(credFile));
});

test('clusterd init --auth-only on a quorum store without a cluster is refused (CLUSTER_NOT_FOUND)', () => {
  const empty = new TestCluster();
  try {
    const r = clusterd(['init', '--auth-only', '--quorum', empty.quorum], empty.configHome);
    assert.notEqual(r.code, 0);
    assert.match(r.out, /CLUSTER_NOT_FOUND/, r.out);
    assert.ok(!existsSync(join(empty.quorum.slice(4), 'auth', 'ca.crt')), 'no CA is made for a cluster that does not exist');
  } finally {
    void empty.close();
  }
});

test('clusterd init --auth-only with an empty auth directory on a cluster whose configuration holds credentials is refused (AUTH_EXISTS): no second CA', () => {
  const made = new TestCluster();
  try {
    const init = clusterd(['init', '--quorum', made.quorum, '--cluster', 'trusted', '--user', 'admin'], made.configHome);
    assert.equal(init.code, 0, init.out);
    const elsewhere = join(made.dir, 'other-auth');
    const r = clusterd(['init', '--auth-only', '--quorum', made.quorum, '--auth-dir', elsewhere, '--user', 'admin'], made.configHome);
    assert.notEqual(r.code, 0, r.out);
    assert.match(r.out, /AUTH_EXISTS[\s\S]*holds credentials already \(admin\)/, r.out);
    assert.match(r.out, /give --auth-dir with the cluster's auth directory/, r.out);
    assert.ok(!existsSync(join(elsewhere, 'ca.crt')), 'no second CA was made');
  } finally {
    void made.close();
  }
});
