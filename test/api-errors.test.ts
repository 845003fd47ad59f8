// Error answers through real clusterd processes: each code comes with the HTTP status of its row
// in the registry (src/core/errors.ts), and `cluster` exits with the row's exit code.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, truncateSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { applyGroupsMax } from '../src/core/apply.js';
import { exitCodeOf } from '../src/core/errors.js';
import { TestCluster, waitFor } from './harness.js';

let cluster: TestCluster | null = null;
after(async () => { await cluster?.close(); });

interface ErrorBody { error?: { code?: string } }

test('the API answers each error code with its status, and cluster exits with its exit code', async (t) => {
  const c = (cluster = await TestCluster.start(['n1', 'n2']));
  const expect = async (what: string, path: string, init: { method?: string; body?: unknown }, status: number, code: string | null) => {
    await t.test(what, async () => {
      const r = await c.api<ErrorBody>(path, init);
      assert.deepEqual([r.status, r.body?.error?.code ?? null], [status, code], JSON.stringify(r.body));
    });
  };
  const post = (body: unknown) => ({ method: 'POST', body });

  await expect('create a group only n1 may run', '/v1/groups', post({ name: 'g', possibleOwners: ['n1'] }), 200, null);
  await expect('a group of that name exists', '/v1/groups', post({ name: 'g' }), 409, 'GROUP_EXISTS');
  await expect('no such group', '/v1/groups/nope', {}, 404, 'GROUP_NOT_FOUND');
  await expect('a malformed body', '/v1/groups', post({ name: 'h', colour: 'blue' }), 400, 'BAD_ARGUMENT');
  await expect('an unknown group operation', '/v1/groups/g/frobnicate', post({}), 400, 'BAD_ARGUMENT');
  await expect('a move to a node that is not a possible owner', '/v1/groups/g/move', post({ node: 'n2' }), 400, 'NODE_NOT_POSSIBLE_OWNER');
  await expect('a move to no such node', '/v1/groups/g/move', post({ node: 'n9' }), 404, 'NODE_NOT_FOUND');
  await expect('evicting a node that is Up', '/v1/nodes/n2', { method: 'DELETE' }, 400, 'NODE_IS_UP');
  for (const name of ['r1', 'r2']) {
    await expect(`create resource ${name}`, '/v1/resources', post({ name, group: 'g', type: 'process', priv: { command: '/bin/true' } }), 200, null);
  }
  await expect('r1 depends on r2', '/v1/resources/r1/deps', post({ dependsOn: 'r2' }), 200, null);
  await expect('that dependency exists', '/v1/resources/r1/deps', post({ dependsOn: 'r2' }), 409, 'DEPENDENCY_EXISTS');
  await expect('a dependency cycle', '/v1/resources/r2/deps', post({ dependsOn: 'r1' }), 400, 'DEPENDENCY_CYCLE');
  await expect('deleting a group with resources', '/v1/groups/g', { method: 'DELETE' }, 409, 'GROUP_NOT_EMPTY');
  await expect('maintenance of a process resource', '/v1/resources/r1/maint', post({ on: true }), 409, 'MAINTENANCE_NOT_ALLOWED');
  await expect('a backup of a group without writers', '/v1/backups', post({ target: 'g' }), 400, 'BACKUP_NO_WRITERS');
  await expect('create a writer', '/v1/resources', post({ name: 'w', group: 'g', type: 'process', priv: { command: '/bin/true', freezeSignal: 'SIGSTOP' } }), 200, null);
  await expect('a backup of a group that runs nowhere', '/v1/backups', post({ target: 'g' }), 409, 'BACKUP_NOT_READY');
  await expect('no such backup', '/v1/backups/0badc0de@n1', {}, 404, 'BACKUP_NOT_FOUND');
  await expect('an ip resource without its address, created', '/v1/resources', post({ name: 'vip', group: 'g', type: 'ip', priv: { interface: 'eth0' } }), 400, 'BAD_PROPERTY');
  await expect('a retired resource type, applied', '/v1/apply', post({ spec: { groups: { q: { resources: { quorum: { type: 'witness' } } } } }, dryRun: true }), 400, 'RESOURCE_TYPE_UNKNOWN');
  const tooMany = Object.fromEntries(Array.from({ length: applyGroupsMax + 1 }, (_, i) => [`t${i}`, {}]));
  await expect('an apply document past its bound', '/v1/apply', post({ spec: { groups: tooMany }, dryRun: true }), 413, 'APPLY_TOO_LARGE');
  await t.test('an apply document over 1 MiB of JSON (10,000 resources) is read; one over its 16 MiB is refused with what to do', async () => {
    const groups: Record<string, unknown> = {};
    const priv = { command: '/bin/sleep', args: ['100000'], cwd: '/tmp', env: ['SERVICE_ROLE=batch-worker'] };
    for (let g = 0; g < 1_000; g++) groups[`big${g}`] = { resources: Object.fromEntries(Array.from({ length: 10 }, (_, r) => [`big${g}r${r}`, { type: 'process', priv }])) };
    const body = { spec: { groups }, dryRun: true };
    assert.ok(JSON.stringify(body).length > 1 << 20, 'the document is past the limit of the other routes');
    const read = await c.api<{ applied?: boolean; plan?: string[] }>('/v1/apply', post(body));
    assert.equal(read.status, 200, JSON.stringify(read.body).slice(0, 300));
    assert.equal(read.body.applied, false);
    assert.ok(read.body.plan?.some((l) => l.includes('big999r9')), 'the plan reaches the last resource');
    const big = await c.api<{ error?: { code?: string; hint?: string } }>('/v1/apply', post({ spec: { groups: {} }, dryRun: true, pad: 'x'.repeat(16 << 20) }));
    assert.deepEqual([big.status, big.body.error?.code], [413, 'BODY_TOO_LARGE'], JSON.stringify(big.body));
    assert.match(big.body.error?.hint ?? '', /split the document.*without --prune/);
  });

  await t.test('a body past the limit that is still being sent gets the answer, not a reset connection', async () => {
    // Headers of a 17 MiB apply and its first MiB, then a pause (as a client writing a large body):
    // fastify answered and closed at once, the unread body made the close a reset, and the client
    // got no answer at all (fetch: EPIPE). The node now reads the rest and drops it.
    const u = new URL(c.nodes.get('n1')!.url);
    const sock = connect(Number(u.port), u.hostname);
    let got = '';
    sock.on('data', (d: Buffer) => { got += d.toString(); });
    sock.on('error', () => undefined);
    try {
      await new Promise((resolve) => sock.once('connect', resolve));
      sock.write(`POST /v1/apply HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/json\r\nAuthorization: Bearer ${c.token}\r\nContent-Length: ${17 << 20}\r\n\r\n`);
      sock.write(Buffer.alloc(1 << 20, 0x20));
      await waitFor('the answer', () => got.includes('BODY_TOO_LARGE'), 10_000);
      assert.match(got, /^HTTP\/1\.1 413 /);
      assert.ok(!sock.destroyed, 'the connection is still open: the rest of the body can still be sent');
    } finally {
      sock.destroy();
    }
  });

  await t.test('cluster apply reads a file past 4 MiB; one past what an apply takes is refused before parsing, with how to split it', () => {
    const padded = join(c.dir, 'padded.yaml');
    writeFileSync(padded, `${'# a comment line of an apply file, kept for the size\n'.repeat(100_000)}groups:\n  padded: { failoverPeriodMs: 30000 }\n`);
    assert.ok(statSync(padded).size > 4 << 20);
    const read = c.cli(['apply', '-f', padded, '--dry-run']);
    assert.equal(read.code, 0, read.err);
    assert.match(read.out, /padded/);
    const huge = join(c.dir, 'huge.yaml');
    writeFileSync(huge, '');
    truncateSync(huge, 17 << 20);
    const refused = c.cli(['apply', '-f', huge]);
    assert.equal(refused.code, exitCodeOf('BAD_CONFIG'), refused.err);
    assert.match(refused.err, /error\[BAD_CONFIG\].*more than one apply takes \(16 MiB\)/);
    assert.match(refused.err, /split the document.*without --prune/);
  });

  const exits: [string, string[], number, string][] = [
    ['a failure', ['group', 'nope', '/online'], 1, 'GROUP_NOT_FOUND'],
    ['a refused move', ['group', 'g', '/move:n2'], 1, 'NODE_NOT_POSSIBLE_OWNER'],
    ['an unknown switch', ['group', 'g', '/frobnicate'], 2, 'BAD_ARGUMENT'],
    ['an argument refused after asking the cluster', ['res', 'r1', '/removeowner:n1'], 2, 'BAD_ARGUMENT'],
  ];
  for (const [what, args, exit, code] of exits) {
    await t.test(`cluster: ${what}`, () => {
      const r = c.cli(args);
      assert.equal(r.code, exit, r.err);
      assert.match(r.err, new RegExp(`error\\[${code}\\]`));
    });
  }
});
