// Rotating the cluster CA with `clusterd cert rotate-ca` (and the node token by hand, as the README says): with the nodes stopped, a new CA
// replaces the old one in the auth directory, the user's credential file trusts the new one, and
// once started again the nodes serve and forward over mutual TLS with certificates of the new CA
// only; a client that trusts the old CA is refused by TLS.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { tlsFetch } from '../src/api/tls-fetch.js';
import { clusterdBin, TestCluster } from './harness.js';

let c: TestCluster | null = null;
after(async () => { await c?.close(); });

test('clusterd cert rotate-ca: a new CA, the credential file follows, the restarted nodes use it for HTTPS and forwarding', { timeout: 180_000 }, async () => {
  // Assigned before any node starts, so that `after` stops whatever did start.
  c = new TestCluster({ startArgs: ['--tls'] });
  c.init();
  await c.startNode('n1');
  await c.startNode('n2');
  await c.waitStatus('both nodes Up', (x) => !!x.coordinator && x.nodes.filter((n) => n.state === 'Up').length === 2, 30_000);
  const authDir = join(c.quorum.slice(4), 'auth');
  const oldCa = readFileSync(join(authDir, 'ca.crt'), 'utf8');
  assert.equal((await c.api('/v1/groups', { method: 'POST', body: { name: 'before-rotation' } })).status, 200);

  // Refused while the auth directory has no CA key (a machine that got only clusterd cert issue files).
  const noKey = spawnSync(process.execPath, [clusterdBin, 'cert', 'rotate-ca', '--auth-dir', join(c.dir, 'nowhere')], { encoding: 'utf8' });
  assert.notEqual(noKey.status, 0);
  assert.match(`${noKey.stdout}${noKey.stderr}`, /TLS_NOT_CONFIGURED/);

  for (const n of c.nodes.values()) { n.proc.kill('SIGTERM'); await n.exited; }
  const r = spawnSync(process.execPath, [clusterdBin, 'cert', 'rotate-ca', '--auth-dir', authDir], { encoding: 'utf8', env: { ...process.env, XDG_CONFIG_HOME: c.configHome } });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  const newCa = readFileSync(join(authDir, 'ca.crt'), 'utf8');
  assert.notEqual(newCa, oldCa, 'the CA certificate is new');
  for (const f of ['ca.crt', 'ca.key']) assert.equal(statSync(join(authDir, f)).mode & 0o777, 0o600, f);
  const aside = readdirSync(authDir).filter((f) => f.includes('replaced'));
  assert.equal(aside.length, 1, `only the old certificate is kept aside: ${aside.join(', ')}`);
  assert.equal(readFileSync(join(authDir, aside[0]!), 'utf8'), oldCa);
  const cred = JSON.parse(readFileSync(c.credentialFile, 'utf8')) as { ca: string; token: string };
  assert.equal(cred.ca, newCa, 'the credential file trusts the new CA');
  assert.equal(cred.token, c.token, 'the token is unchanged');

  // The node token, by hand as the README says: a new random line, 0600, while every node is stopped.
  const oldNodeToken = readFileSync(join(authDir, 'node.token'), 'utf8').trim();
  const rot = spawnSync('sh', ['-c', `(umask 077; openssl rand -hex 32 > '${join(authDir, 'node.token')}')`], { encoding: 'utf8' });
  assert.equal(rot.status, 0, rot.stderr);
  assert.notEqual(readFileSync(join(authDir, 'node.token'), 'utf8').trim(), oldNodeToken);
  assert.equal(statSync(join(authDir, 'node.token')).mode & 0o777, 0o600);

  c.fetch = tlsFetch({ ca: newCa });
  await c.startNode('n1');
  await c.startNode('n2');
  const s = await c.waitStatus('both nodes Up again', (x) => !!x.coordinator && x.nodes.filter((n) => n.state === 'Up').length === 2, 30_000);
  // A write through the node that is not the coordinator: forwarded over mutual TLS with new-CA certificates.
  const other = ['n1', 'n2'].find((n) => n !== s.coordinator)!;
  const w = await c.api('/v1/groups', { method: 'POST', via: other, body: { name: 'after-rotation' } });
  assert.equal(w.status, 200, JSON.stringify(w.body));
  assert.ok((await c.status()).groups.some((g) => g.name === 'before-rotation'), 'the configuration is kept');
  assert.equal((await c.api('/v1/status', { token: oldNodeToken })).status, 401, 'the old node token is refused');
  // A client that still trusts the old CA cannot verify the nodes any more.
  const oldTrust = tlsFetch({ ca: oldCa });
  await assert.rejects(oldTrust(`${c.nodes.get('n1')!.url}/v1/status`, { headers: { authorization: `Bearer ${c.token}` }, signal: AbortSignal.timeout(10_000) }));
  // The CLI of the init user works with no flags: its credential file names the new CA.
  const cli = c.cli(['status']);
  assert.equal(cli.code, 0, cli.err);
  assert.match(cli.out, /after-rotation/);
  assert.ok(!existsSync(join(authDir, 'node.crt')));
});
