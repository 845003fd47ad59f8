// The `etcd` backend against real etcd members (Debian's etcd-server): the shared store contract
// on one member and on three, plus what only etcd can show: a leader killed during operation, an
// unreachable etcd, big writes split to fit etcd's limits, processes that exit after close(),
// renewals by an incarnation that lost its slot, spec parsing and migration from dir.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DirStore } from '../src/store/dir.js';
import { EtcdStore, etcdTimingCheck } from '../src/store/etcd.js';
import { openStore, parseQuorumSpec, storeOptionsFromEnv } from '../src/store/index.js';
import { migrateStore } from '../src/store/migrate.js';
import { emptyConfig } from '../src/core/config.js';
import type { ClusterConfig, ConfigUpdate } from '../src/core/types.js';
import type { QuorumStore } from '../src/store/types.js';
import { Etcd3 } from 'etcd3';
import { EtcdCluster, makeTestCertificates } from './etcd-harness.js';
import { freePort, repoRoot } from './harness.js';
import { errorCode, runStoreContract, value } from './store-contract.js';

let one: Promise<EtcdCluster> | null = null;
let three: Promise<EtcdCluster> | null = null;
let prefixes = 0;

/** A key prefix nobody used yet: every test gets an empty cluster location on a shared etcd. */
const freshPrefix = () => `/t${process.pid}-${++prefixes}/`;

const oneMember = () => (one ??= EtcdCluster.start({ members: 1 }));
const threeMembers = () => (three ??= EtcdCluster.start({ members: 3 }));

after(async () => {
  await Promise.all([one, three].map(async (c) => (await c?.catch(() => null))?.stop()));
});

runStoreContract('etcd (1 member)', async () => {
  const c = await oneMember();
  const prefix = freshPrefix();
  const stores = [0, 1, 2].map(() => new EtcdStore(c.endpoints(), { prefix }));
  return { stores, cleanup: async () => undefined };
});

// Each store talks to another member first: what one node writes through its member, the next
// reads through another.
runStoreContract('etcd (3 members)', async () => {
  const c = await threeMembers();
  const prefix = freshPrefix();
  const stores = [[0, 1, 2], [1, 2, 0], [2, 0, 1]].map((order) => new EtcdStore(c.endpoints(order), { prefix }));
  return { stores, cleanup: async () => undefined };
});

const nodeAdd = (node: string): ConfigUpdate => ({ op: 'node-add', node });

async function withStore(c: EtcdCluster, body: (s: EtcdStore, prefix: string) => Promise<void>, opts: ConstructorParameters<typeof EtcdStore>[1] = {}): Promise<void> {
  const prefix = freshPrefix();
  const s = new EtcdStore(c.endpoints(), { prefix, ...opts });
  try {
    value(await s.init('etcdtest', 1_000));
    await body(s, prefix);
  } finally {
    await s.close();
  }
}

test('parseQuorumSpec accepts etcd:URL[,URL...] and explains bad forms', () => {
  assert.deepEqual(value(parseQuorumSpec('etcd:http://10.0.0.1:2379,http://10.0.0.2:2381')),
    { kind: 'etcd', endpoints: ['http://10.0.0.1:2379', 'http://10.0.0.2:2381'] });
  assert.deepEqual(value(parseQuorumSpec('etcd:https://etcd.example:2379/, https://etcd2.example')),
    { kind: 'etcd', endpoints: ['https://etcd.example:2379', 'https://etcd2.example:2379'] });
  for (const bad of ['etcd:', 'etcd:10.0.0.1:2379', 'etcd:ftp://x:1', 'etcd:http://x:1/path', 'etcd:http://u:p@x:1', 'etcd:http://a:1,https://b:2']) {
    const r = parseQuorumSpec(bad);
    assert.equal(errorCode(r), 'BAD_ARGUMENT', bad);
    assert.match(r.ok ? '' : r.error.hint ?? '', /etcd:URL/, bad);
  }
  const s = openStore('etcd:http://127.0.0.1:1', storeOptionsFromEnv('etcd:http://127.0.0.1:1', process.env));
  assert.equal(s.kind, 'etcd');
  assert.equal(s.location, 'etcd:http://127.0.0.1:1');
});

test('TLS and user settings come from CLUSTERD_ETCD_* and are checked at once', () => {
  const saved = { ...process.env };
  try {
    process.env.CLUSTERD_ETCD_CA = '/nonexistent/ca.pem';
    assert.throws(() => openStore('etcd:https://127.0.0.1:1', storeOptionsFromEnv('etcd:https://127.0.0.1:1', process.env)), { name: 'ClusterError', code: 'BAD_CONFIG', message: /CLUSTERD_ETCD_CA/ });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clusterd-tls-'));
    fs.writeFileSync(path.join(dir, 'ca.pem'), 'not really a certificate');
    process.env.CLUSTERD_ETCD_CA = path.join(dir, 'ca.pem');
    assert.throws(() => openStore('etcd:http://127.0.0.1:1', storeOptionsFromEnv('etcd:http://127.0.0.1:1', process.env)), { name: 'ClusterError', code: 'BAD_CONFIG', message: /not all https/ });
    delete process.env.CLUSTERD_ETCD_CA;
    process.env.CLUSTERD_ETCD_PASSWORD = 'x';
    assert.throws(() => openStore('etcd:http://127.0.0.1:1', storeOptionsFromEnv('etcd:http://127.0.0.1:1', process.env)), { name: 'ClusterError', code: 'BAD_CONFIG', message: /CLUSTERD_ETCD_USER/ });
    fs.rmSync(dir, { recursive: true, force: true });
  } finally {
    for (const k of Object.keys(process.env)) if (k.startsWith('CLUSTERD_ETCD_')) delete process.env[k];
    Object.assign(process.env, saved);
  }
});

test('an unreachable etcd is QUORUM_UNAVAILABLE within the call deadline, never a hang', async () => {
  const port = await freePort();
  const s = new EtcdStore([`http://127.0.0.1:${port}`], { prefix: freshPrefix(), callTimeoutMs: 300 });
  const t0 = performance.now();
  const r = await s.open();
  const ms = performance.now() - t0;
  assert.equal(errorCode(r), 'QUORUM_UNAVAILABLE');
  assert.match(r.ok ? '' : r.error.hint ?? '', /outcome is unknown/);
  assert.ok(ms < 2_000, `open gave up after ${ms.toFixed(0)} ms`);
  await s.close();
});

test('a store whose etcd goes away fails each call within its deadline and works again when etcd returns', async () => {
  const c = await EtcdCluster.start({ members: 1 });
  const s = new EtcdStore(c.endpoints(), { prefix: freshPrefix(), callTimeoutMs: 300 });
  try {
    value(await s.init('gone', 1));
    value(await s.claimLeaseSlot('n1', 'inc'));
    value(await s.renewLease('n1', 1, 'running'));
    await c.kill(0);
    for (const call of [() => s.renewLease('n1', 2, 'running'), () => s.writeReport({ node: 'n1', incarnation: 'inc', version: 1, apiUrl: '', appliedSeq: 0, groups: {} })]) {
      const t0 = performance.now();
      const r = await call();
      const ms = performance.now() - t0;
      assert.equal(errorCode(r), 'QUORUM_UNAVAILABLE');
      assert.ok(ms < 1_000, `a call against a dead etcd returned after ${ms.toFixed(0)} ms`);
    }
    await assert.rejects(s.readLeases(), { name: 'ClusterError', code: 'QUORUM_UNAVAILABLE' });
    await c.restart(0);
    await c.waitHealthy();
    const deadline = performance.now() + 10_000;
    let renewed = await s.renewLease('n1', 3, 'running');
    while (!renewed.ok && performance.now() < deadline) renewed = await s.renewLease('n1', 3, 'running');
    value(renewed);
    assert.deepEqual(await s.readLeases(), [{ node: 'n1', counter: 3, state: 'running', incarnation: 'inc' }]);
  } finally {
    await s.close();
    await c.stop();
  }
});

test('killing the etcd leader: renewals keep going, writes resume, every error is QUORUM_UNAVAILABLE within the deadline', async () => {
  const c = await EtcdCluster.start({ members: 3 });
  const prefix = freshPrefix();
  // Like three nodes: each talks to a different member first.
  const stores = [[0, 1, 2], [1, 2, 0], [2, 0, 1]].map((o) => new EtcdStore(c.endpoints(o), { prefix }));
  const [a, b, cc] = stores as [EtcdStore, EtcdStore, EtcdStore];
  const callTimeoutMs = 500;
  try {
    value(await a.init('leaderkill', 1));
    for (const s of [b, cc]) value(await s.open());
    const term = 1;
    value(await a.casCoordinator({ term: 0, node: null }, { term, node: 'n1' }));
    for (const [i, s] of stores.entries()) value(await s.claimLeaseSlot(`n${i + 1}`, `inc${i + 1}`));
    let running = true;
    const slowest = { ms: 0, what: '' };
    const errors: string[] = [];
    const timed = async <T extends { ok: boolean }>(what: string, call: () => Promise<T>): Promise<T> => {
      const t0 = performance.now();
      const r = await call();
      const ms = performance.now() - t0;
      if (ms > slowest.ms) { slowest.ms = ms; slowest.what = what; }
      if (!r.ok) errors.push(`${what}: ${(r as unknown as { error: { code: string } }).error.code}`);
      return r;
    };
    // Heartbeats every 100 ms per node, as clusterd does; the longest gap between two successful renewals per node.
    const gaps = stores.map(() => 0);
    const beats = stores.map(async (s, i) => {
      let counter = 0;
      let lastOk = performance.now();
      while (running) {
        const beat = performance.now();
        const r = await timed(`renew n${i + 1}`, () => s.renewLease(`n${i + 1}`, ++counter, 'running'));
        if (r.ok) { gaps[i] = Math.max(gaps[i]!, performance.now() - lastOk); lastOk = performance.now(); }
        await new Promise((res) => setTimeout(res, Math.max(0, 100 - (performance.now() - beat))));
      }
    });
    // The coordinator appends configuration updates back to back.
    let head = 0;
    const okTimes: number[] = [];
    const writer = (async () => {
      while (running) {
        const r = await timed('append', () => a.appendLog(term, head, [nodeAdd(`x${head}`)]));
        if (r.ok) { head += 1; okTimes.push(performance.now()); } else head = await a.logHead().catch(() => head);
        await new Promise((res) => setTimeout(res, 10));
      }
    })();
    await new Promise((res) => setTimeout(res, 500));
    const leader = await c.leader();
    assert.ok(leader >= 0, 'a leader is elected');
    const killedAt = performance.now();
    await c.kill(leader);
    await new Promise((res) => setTimeout(res, 2_500));
    running = false;
    await Promise.all([...beats, writer]);
    const firstAfter = okTimes.find((t) => t > killedAt);
    assert.ok(firstAfter !== undefined, 'appends resumed after the leader was killed');
    const resumeMs = firstAfter - killedAt;
    console.log(`leader kill: appends resumed ${resumeMs.toFixed(0)} ms after the kill; longest gap between renewals ${Math.max(...gaps).toFixed(0)} ms; ` +
      `slowest call ${slowest.ms.toFixed(0)} ms (${slowest.what}); ${okTimes.length} appends; errors: ${errors.length ? errors.join(', ') : 'none'}`);
    assert.ok(resumeMs < 3_000, `appends resumed ${resumeMs.toFixed(0)} ms after the leader was killed`);
    assert.ok(slowest.ms < callTimeoutMs + 300, `no call outlives its deadline: ${slowest.what} took ${slowest.ms.toFixed(0)} ms`);
    assert.ok(errors.every((e) => e.endsWith('QUORUM_UNAVAILABLE') || e.endsWith('SEQ_CONFLICT')), errors.join(', '));
    // Shorter than the default self-fence deadline (800 ms): a leader change causes no self-fence and no failover.
    assert.ok(Math.max(...gaps) < 800, `renewals stopped for ${Math.max(...gaps).toFixed(0)} ms`);
    // Every acknowledged append is in the log, once, in order.
    const log = value(await b.readLog(0, 10_000));
    assert.equal(log.length, head);
    assert.deepEqual(log.map((r) => r.seq), log.map((_, i) => i + 1));
  } finally {
    for (const s of stores) await s.close();
    await c.stop();
  }
});

test('appends larger than one etcd transaction, checkpoints inside a chunk, many ownership records, bounded events', async () => {
  const c = await oneMember();
  await withStore(c, async (s) => {
    value(await s.casCoordinator({ term: 0, node: null }, { term: 1, node: 'n1' }));
    const big = Array.from({ length: 300 }, (_, i) => nodeAdd(`node-${i}`));
    const recs = value(await s.appendLog(1, 0, big));
    assert.deepEqual(recs.map((r) => r.seq), big.map((_, i) => i + 1));
    assert.equal(await s.logHead(), 300);
    const all = value(await s.readLog(0, 1_000));
    assert.deepEqual(all.map((r) => r.update), big);
    assert.deepEqual(value(await s.readLog(100, 5)).map((r) => r.seq), [101, 102, 103, 104, 105]);
    value(await s.writeCheckpoint(1, 150, { name: 'etcdtest', nodes: {}, groups: {}, resources: {} }));
    assert.equal(errorCode(await s.readLog(149, 10)), 'SEQ_CONFLICT');
    assert.deepEqual(value(await s.readLog(150, 3)).map((r) => r.seq), [151, 152, 153]);
    assert.equal(value(await s.readLog(150, 1_000)).length, 150);
    const own = Array.from({ length: 250 }, (_, i) => ({ group: `g${String(i).padStart(3, '0')}`, node: 'n1', epoch: 1, term: 1, phase: 'run' as const }));
    value(await s.writeOwnership(1, own));
    assert.deepEqual(await s.readOwnership(), own);
    value(await s.writeOwnership(1, [], own.slice(0, 200).map((r) => r.group)));
    assert.equal((await s.readOwnership()).length, 50);
    const events = Array.from({ length: 130 }, (_, i) => ({ wallMs: i, node: 'n1', event: 'E', level: 'info' as const, message: `m${i}` }));
    value(await s.appendEvents(events));
    const kept = await s.readEvents(0, 1_000);
    assert.deepEqual(kept.map((e) => e.message), events.slice(-50).map((e) => e.message));
    assert.deepEqual(kept.map((e) => e.id), events.slice(-50).map((_, i) => 81 + i));
  }, { eventsMax: 50 });
});

test('a lease slot claimed again or evicted cannot be renewed by the old clusterd', async () => {
  const c = await oneMember();
  await withStore(c, async (s, prefix) => {
    const other = new EtcdStore(c.endpoints(), { prefix });
    try {
      value(await other.open());
      value(await s.claimLeaseSlot('n1', 'old'));
      value(await s.renewLease('n1', 1, 'running'));
      value(await other.claimLeaseSlot('n1', 'new'));
      const r = await s.renewLease('n1', 2, 'running');
      assert.equal(errorCode(r), 'NODE_NAME_IN_USE');
      assert.match(r.ok ? '' : r.error.message, /incarnation new/);
      assert.deepEqual(await s.readLeases(), [{ node: 'n1', counter: 0, state: 'running', incarnation: 'new' }]);
      value(await other.renewLease('n1', 5, 'running'));
      value(await s.claimLeaseSlot('n2', 'two'));
      value(await other.removeLeaseSlot('n2'));
      assert.equal(errorCode(await s.renewLease('n2', 1, 'running')), 'NODE_NAME_IN_USE');
      assert.deepEqual((await s.readLeases()).map((l) => l.node), ['n1']);
    } finally {
      await other.close();
    }
  });
});

test('renewals of one node never overlap: a burst resolves in order with the last counter written', async () => {
  const c = await oneMember();
  await withStore(c, async (s) => {
    value(await s.claimLeaseSlot('n1', 'inc'));
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => s.renewLease('n1', i + 1, 'running')));
    results.forEach(value);
    assert.deepEqual(await s.readLeases(), [{ node: 'n1', counter: 20, state: 'running', incarnation: 'inc' }]);
  });
});

test('a process using the etcd store exits by itself after close(): no lease, watch or channel keeps it alive', async () => {
  const c = await oneMember();
  const prefix = freshPrefix();
  const script = `
    import { EtcdStore } from ${JSON.stringify(path.join(repoRoot, 'dist/src/store/etcd.js'))};
    const s = new EtcdStore(${JSON.stringify(c.endpoints())}, { prefix: ${JSON.stringify(prefix)} });
    const r = await s.init('exit', 1);
    if (!r.ok) { console.error(r.error.message); process.exit(3); }
    const off = s.onChange(() => {});
    await s.claimLeaseSlot('n1', 'inc');
    for (let i = 1; i < 5; i++) await s.renewLease('n1', i, 'running');
    await s.writeReport({ node: 'n1', incarnation: 'inc', version: 1, apiUrl: '', appliedSeq: 0, groups: {} });
    await new Promise((r) => setTimeout(r, 200));
    off();
    await s.close();
    console.log('closed');
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
  child.stderr.on('data', (b: Buffer) => { out += b.toString(); });
  const code = await Promise.race([
    new Promise<number | null>((resolve) => child.on('exit', (c2) => resolve(c2))),
    new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 5_000).unref()),
  ]);
  if (code === 'hung') child.kill('SIGKILL');
  assert.equal(code, 0, `the process ${code === 'hung' ? 'did not exit within 5 s after close()' : `exited with ${code}`}: ${out}`);
  assert.match(out, /closed/);
});

test('onChange ignores lease renewals and wakes on other writes', async () => {
  const c = await oneMember();
  await withStore(c, async (s, prefix) => {
    const other = new EtcdStore(c.endpoints(), { prefix });
    value(await other.open());
    value(await other.claimLeaseSlot('n2', 'inc'));
    let calls = 0;
    const off = s.onChange(() => { calls++; });
    try {
      await new Promise((r) => setTimeout(r, 300)); // the watch is established, its 'connected' wake-up is past
      const base = calls;
      for (let i = 1; i <= 10; i++) value(await other.renewLease('n2', i, 'running'));
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(calls, base, 'renewals do not wake subscribers');
      value(await other.writeReport({ node: 'n2', incarnation: 'inc', version: 1, apiUrl: '', appliedSeq: 0, groups: {} }));
      const until = performance.now() + 5_000;
      while (calls === base && performance.now() < until) await new Promise((r) => setTimeout(r, 10));
      assert.ok(calls > base, 'a report wakes subscribers');
    } finally {
      off();
      await other.close();
    }
  });
});

test('migrateStore copies a dir cluster into etcd: configuration, log, term, ownership, and refuses a non-empty target', async () => {
  const c = await oneMember();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clusterd-migrate-'));
  const from = new DirStore(path.join(dir, 'q'));
  const prefix = freshPrefix();
  const to = new EtcdStore(c.endpoints(), { prefix });
  try {
    value(await from.init('prod', 1_000));
    value(await from.casCoordinator({ term: 0, node: null }, { term: 1, node: 'n1' }));
    value(await from.appendLog(1, 0, [nodeAdd('n1'), nodeAdd('n2')]));
    value(await from.writeCheckpoint(1, 2, { name: 'prod', nodes: { n1: { name: 'n1', paused: false }, n2: { name: 'n2', paused: false } }, groups: {}, resources: {} }));
    value(await from.casCoordinator({ term: 1, node: 'n1' }, { term: 2, node: 'n2' }));
    value(await from.appendLog(2, 2, [nodeAdd('n3')]));
    value(await from.writeOwnership(2, [{ group: 'web', node: 'n2', epoch: 7, term: 2, phase: 'run' }]));
    value(await from.appendEvents([{ wallMs: 5, node: 'n1', event: 'NODE_UP', level: 'info', message: 'hello' }]));
    const summary = value(await migrateStore(from, to));
    assert.match(summary, /seq 3/);
    const reader: QuorumStore = new EtcdStore(c.endpoints(), { prefix });
    try {
      assert.deepEqual(value(await reader.open()), { clusterName: 'prod' });
      const cp = value(await reader.readCheckpoint());
      assert.equal(cp?.seq, 2);
      assert.deepEqual(Object.keys(cp?.config.nodes ?? {}), ['n1', 'n2']);
      assert.deepEqual(value(await reader.readLog(2, 10)).map((r) => [r.seq, r.term, r.update]), [[3, 2, nodeAdd('n3')]]);
      assert.equal(await reader.logHead(), 3);
      // The coordinator itself is not carried over (its lease is in the old store): the next election takes term 3.
      assert.deepEqual(await reader.readCoordinator(), { term: 2, node: null });
      assert.deepEqual(await reader.readOwnership(), [{ group: 'web', node: 'n2', epoch: 7, term: 2, phase: 'run' }]);
      assert.deepEqual((await reader.readEvents(0, 10)).map((e) => e.message), ['hello']);
      // The migrated log goes on under a new term.
      value(await reader.casCoordinator({ term: 2, node: null }, { term: 3, node: 'n1' }));
      assert.deepEqual(value(await reader.appendLog(3, 3, [nodeAdd('n4')])).map((r) => r.seq), [4]);
    } finally {
      await reader.close();
    }
    const again = await migrateStore(from, new EtcdStore(c.endpoints(), { prefix }));
    assert.equal(errorCode(again), 'CLUSTER_EXISTS');
  } finally {
    await from.close();
    await to.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('TLS with client certificates, from CLUSTERD_ETCD_CA/CERT/KEY; a client without a certificate is refused', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'clusterd-etcd-tls-'));
  const saved = { ...process.env };
  let c: EtcdCluster | null = null;
  try {
    const certs = makeTestCertificates(dir);
    c = await EtcdCluster.start({ members: 1, tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca } });
    assert.match(c.endpoints()[0]!, /^https:/);
    Object.assign(process.env, { CLUSTERD_ETCD_CA: certs.ca, CLUSTERD_ETCD_CERT: certs.clientCert, CLUSTERD_ETCD_KEY: certs.clientKey, CLUSTERD_ETCD_PREFIX: freshPrefix() });
    const s = openStore(c.spec(), storeOptionsFromEnv(c.spec(), process.env));
    try {
      value(await s.init('tls', 1));
      value(await s.claimLeaseSlot('n1', 'inc'));
      value(await s.renewLease('n1', 1, 'running'));
      assert.deepEqual((await s.readLeases()).map((l) => l.counter), [1]);
    } finally {
      await s.close();
    }
    delete process.env.CLUSTERD_ETCD_CERT;
    delete process.env.CLUSTERD_ETCD_KEY;
    const anonymous = openStore(c.spec(), { ...storeOptionsFromEnv(c.spec(), process.env), callTimeoutMs: 300 });
    assert.equal(errorCode(await anonymous.open()), 'QUORUM_UNAVAILABLE');
    await anonymous.close();
  } finally {
    for (const k of Object.keys(process.env)) if (k.startsWith('CLUSTERD_ETCD_')) delete process.env[k];
    Object.assign(process.env, saved);
    await c?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('user and password from CLUSTERD_ETCD_USER/PASSWORD; wrong credentials are a clear error', async () => {
  const c = await EtcdCluster.start({ members: 1 });
  const saved = { ...process.env };
  const admin = new Etcd3({ hosts: c.endpoints() });
  try {
    await admin.role('root').create();
    await admin.user('root').create('root-secret');
    await admin.user('root').addRole('root');
    await admin.user('clusterd').create('s3cret');
    const role = await admin.role('clusterd').create();
    await role.grant({ permission: 'Readwrite', range: admin.range({ prefix: '/clusterd/' }) });
    await admin.user('clusterd').addRole('clusterd');
    await admin.auth.authEnable({});
    Object.assign(process.env, { CLUSTERD_ETCD_USER: 'clusterd', CLUSTERD_ETCD_PASSWORD: 's3cret' });
    const s = openStore(c.spec(), storeOptionsFromEnv(c.spec(), process.env));
    try {
      value(await s.init('auth', 1));
      value(await s.claimLeaseSlot('n1', 'inc'));
      value(await s.renewLease('n1', 1, 'running'));
    } finally {
      await s.close();
    }
    process.env.CLUSTERD_ETCD_PASSWORD = 'wrong';
    const bad = openStore(c.spec(), storeOptionsFromEnv(c.spec(), process.env));
    const r = await bad.open();
    assert.equal(errorCode(r), 'QUORUM_UNAVAILABLE');
    assert.match(r.ok ? '' : r.error.hint ?? '', /CLUSTERD_ETCD_USER/);
    await bad.close();
  } finally {
    for (const k of Object.keys(process.env)) if (k.startsWith('CLUSTERD_ETCD_')) delete process.env[k];
    Object.assign(process.env, saved);
    admin.close();
    await c.stop();
  }
});

test('damaged keys are QUORUM_LOG_DAMAGED naming what, never skipped', async () => {
  const c = await oneMember();
  const admin = new Etcd3({ hosts: c.endpoints() });
  try {
    await withStore(c, async (s, prefix) => {
      value(await s.casCoordinator({ term: 0, node: null }, { term: 1, node: 'n1' }));
      value(await s.appendLog(1, 0, [nodeAdd('n1'), nodeAdd('n2'), nodeAdd('n3')]));
      // Each record is its own key here (one update per key): corrupt the payload of seq 2.
      const key = `${prefix}log/${String(3).padStart(16, '0')}`;
      const chunk = (await admin.get(key).string()) ?? '';
      assert.match(chunk, /^#\w+\n1 1 \d+ .*\n2 1 \d+ .*\n3 1 \d+ /);
      await admin.put(key).value(chunk.replace('"n2"', '"n9"'));
      const read = await s.readLog(0, 10);
      assert.equal(errorCode(read), 'QUORUM_LOG_DAMAGED');
      assert.match(read.ok ? '' : read.error.message, /seq 2 is corrupt/);
      await admin.put(`${prefix}checkpoint`).value('0 0 1\n{"name":"x"}');
      assert.equal(errorCode(await s.readCheckpoint()), 'QUORUM_LOG_DAMAGED');
      await admin.put(`${prefix}own/web`).value('{not json');
      await assert.rejects(s.readOwnership(), { name: 'ClusterError', code: 'QUORUM_LOG_DAMAGED' });
    });
  } finally {
    admin.close();
  }
});

test('etcdTimingCheck: consistent defaults, the worst case they imply, and a self-fence too short for one etcd call', () => {
  const ok = etcdTimingCheck({ heartbeatIntervalMs: 100, selfFenceMs: 800, leaseTtlMs: 1_400 });
  assert.deepEqual(ok.problems, []);
  assert.equal(ok.worstCaseFailoverMs, 3_200);
  assert.match(ok.explanation, /election-timeout <= 250/);
  assert.match(etcdTimingCheck({ heartbeatIntervalMs: 100, selfFenceMs: 600, leaseTtlMs: 1_000 }).problems[0] ?? '', /one slow etcd call/);
});

test('another schema version is STORE_SCHEMA_MISMATCH and a configuration over one etcd value is STORE_VALUE_TOO_LARGE, not QUORUM_UNAVAILABLE', async () => {
  const c = await oneMember();
  const admin = new Etcd3({ hosts: c.endpoints() });
  try {
    await withStore(c, async (s, prefix) => {
      value(await s.casCoordinator({ term: 0, node: null }, { term: 1, node: 'n1' }));
      value(await s.appendLog(1, 0, [nodeAdd('n1')]));
      // Over 1 MiB of JSON: many nodes with long names.
      const names = Array.from({ length: 9_000 }, (_, i) => `node-${i}-${'x'.repeat(100)}`);
      const big: ClusterConfig = { ...emptyConfig('etcdtest'), nodes: Object.fromEntries(names.map((name) => [name, { name, paused: false }])) };
      assert.equal(errorCode(await s.writeCheckpoint(1, 1, big)), 'STORE_VALUE_TOO_LARGE');
      assert.equal(errorCode(await s.recoverLog(1, 1, big)), 'STORE_VALUE_TOO_LARGE');
      const meta = JSON.parse((await admin.get(`${prefix}meta`).string()) ?? '{}') as { schemaVersion: number };
      await admin.put(`${prefix}meta`).value(JSON.stringify({ ...meta, schemaVersion: meta.schemaVersion + 1 }));
      const other = new EtcdStore(c.endpoints(), { prefix });
      try {
        assert.equal(errorCode(await other.open()), 'STORE_SCHEMA_MISMATCH');
      } finally {
        await other.close();
      }
    });
  } finally {
    admin.close();
  }
});
