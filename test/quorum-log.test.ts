// The cluster database under crashes, damage, restores and full disks (seeds KB257905 and
// Q168460), with real clusterd processes and real files.

import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { clusterdBin, sleep, TestCluster, waitFor } from './harness.js';

async function cluster(t: TestContext, names: string[], startArgs: string[] = []): Promise<TestCluster> {
  const c = await TestCluster.start(names, { startArgs });
  t.after(() => c.close());
  return c;
}

const groupNames = async (c: TestCluster) => (await c.status()).groups.map((g) => g.name).sort();

async function stop(c: TestCluster, name: string, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  const n = c.nodes.get(name)!;
  n.proc.kill(signal);
  return n.exited;
}

function startFails(c: TestCluster, name: string, extra: string[] = []): { code: number | null; err: string } {
  const r = spawnSync(process.execPath, [clusterdBin, 'start', '--quorum', c.quorum, '--node', name, '--listen', '127.0.0.1:0', '--data-dir', join(c.dir, `data-${name}`), ...extra], { encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, err: r.stderr };
}

test('kill -9 of the coordinator during a burst of updates: every acknowledged update survives; a torn local tail is cut', async (t) => {
  const c = await cluster(t, ['n1', 'n2'], ['--log-reset-size', '100000000']);
  const coord = (await c.status()).coordinator!;
  const via = coord === 'n1' ? 'n2' : 'n1';
  const acked: string[] = [];
  const burst = Array.from({ length: 300 }, (_, i) => `g${i}`).map(async (g, i) => {
    await sleep(i);
    const r = await c.api('/v1/groups', { method: 'POST', body: { name: g }, via }).catch(() => null);
    if (r?.status === 200) acked.push(g);
  });
  // Kill in the middle of the burst: once a few updates are acknowledged (however loaded the machine is).
  for (let i = 0; i < 200 && acked.length < 5; i++) await sleep(10);
  c.nodes.get(coord)!.proc.kill('SIGKILL');
  await Promise.all(burst);
  assert.ok(acked.length > 0, 'some updates were acknowledged before the kill');
  // A torn tail in the killed node's local copy, as a crash in the middle of an append leaves.
  appendFileSync(join(c.dir, `data-${coord}`, 'db', 'quolog'), Buffer.from([0x43, 0x4c, 0x51, 0x52, 1, 0, 0, 0, 9, 9]));
  await c.nodes.get(coord)!.exited;
  await c.startNode(coord);
  await c.waitStatus('both Up', (s) => s.nodes.every((n) => n.state === 'Up'));
  for (const via2 of ['n1', 'n2']) {
    const names = (await c.status(via2)).groups.map((g) => g.name);
    for (const g of acked) assert.ok(names.includes(g), `acknowledged group ${g} is on ${via2}`);
  }
  const ev = await c.events();
  assert.ok(ev.some((e) => e.event === 'LOCAL_LOG_TORN_TAIL' && e.node === coord), 'the torn tail was cut, with an event');
});

test('a node offline during changes rejoins and replays them; the log restarts after checkpoints', async (t) => {
  const c = await cluster(t, ['n1', 'n2'], ['--log-reset-size', '2048']);
  assert.equal(await stop(c, 'n2'), 0);
  for (let i = 0; i < 80; i++) assert.equal((await c.api('/v1/groups', { method: 'POST', body: { name: `offline-${i}` } })).status, 200);
  await c.startNode('n2');
  const s1 = await c.status('n1');
  const s2 = await waitFor('n2 caught up', async () => { const s = await c.status('n2'); return s.appliedSeq === s1.appliedSeq ? s : null; });
  assert.deepEqual(s2.groups.map((g) => g.name).sort(), s1.groups.map((g) => g.name).sort());
  const ev = await c.events();
  assert.ok(ev.filter((e) => e.event === 'CHECKPOINT_TAKEN').length >= 3, 'checkpoints: cluster formed, node stopped, log reset size');
  assert.ok(ev.some((e) => e.event === 'CHECKPOINT_TAKEN' && /stopped on n2/.test(e.message)));
  assert.ok(ev.some((e) => e.event === 'CHECKPOINT_TAKEN' && /reset size/.test(e.message)));
  const v = spawnSync(process.execPath, [clusterdBin, 'quorum-log', 'verify', '--quorum', c.quorum], { encoding: 'utf8' });
  assert.equal(v.status, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /intact/);
});

test('a store older than a node\'s copy is refused (never rolled back), until --reset-quorum-log', async (t) => {
  const c = await cluster(t, ['n1']);
  const quorumDir = c.quorum.slice('dir:'.length);
  assert.equal(await stop(c, 'n1'), 0);
  const backup = join(c.dir, 'quorum-backup');
  cpSync(quorumDir, backup, { recursive: true });
  await c.startNode('n1');
  for (const g of ['x', 'y']) assert.equal((await c.api('/v1/groups', { method: 'POST', body: { name: g } })).status, 200);
  assert.equal(await stop(c, 'n1'), 0);
  rmSync(quorumDir, { recursive: true });
  cpSync(backup, quorumDir, { recursive: true });
  const r = startFails(c, 'n1');
  assert.notEqual(r.code, 0);
  assert.match(r.err, /error\[STORE_BEHIND\]/);
  assert.match(r.err, /--reset-quorum-log/);
  await c.startNode('n1', ['--reset-quorum-log']);
  assert.deepEqual(await groupNames(c), ['x', 'y']);
  assert.ok((await c.events()).some((e) => e.event === 'QUORUM_LOG_RESET'));
});

function corruptLogRow(quorumDir: string): number {
  const db = new Database(join(quorumDir, 'cluster.db'));
  const row = db.prepare('SELECT seq FROM log ORDER BY seq LIMIT 1 OFFSET 1').get() as { seq: number } | undefined;
  assert.ok(row, 'the log has records to damage');
  db.prepare('UPDATE log SET crc = crc + 1 WHERE seq = ?').run(row.seq);
  db.close();
  return row.seq;
}

test('damage in the middle of the quorum log: repaired from a current copy, else refused with the recovery commands', async (t) => {
  const c = await cluster(t, ['n1', 'n2'], ['--log-reset-size', '100000000']);
  // n2 goes away first: its copy will be older than the log.
  assert.equal(await stop(c, 'n2'), 0);
  for (const g of ['d1', 'd2', 'd3', 'd4']) assert.equal((await c.api('/v1/groups', { method: 'POST', body: { name: g } })).status, 200);
  await stop(c, 'n1', 'SIGKILL'); // no checkpoint at exit: the records stay in the log
  const quorumDir = c.quorum.slice('dir:'.length);
  const damaged = corruptLogRow(quorumDir);
  const v = spawnSync(process.execPath, [clusterdBin, 'quorum-log', 'verify', '--quorum', c.quorum], { encoding: 'utf8' });
  assert.equal(v.status, 1);
  assert.match(v.stdout, new RegExp(`seq ${damaged}`));
  // n2's copy is older than the damage: it cannot prove anything, so it refuses.
  const r = startFails(c, 'n2');
  assert.notEqual(r.code, 0);
  assert.match(r.err, /error\[QUORUM_LOG_DAMAGED\]/);
  assert.match(r.err, /--reset-quorum-log/);
  assert.match(r.err, /--no-quorum-logging/);
  // n1 applied everything: its copy is current and repairs the log.
  await c.startNode('n1');
  await c.startNode('n2');
  await c.waitStatus('both Up', (s) => s.nodes.every((n) => n.state === 'Up'));
  assert.deepEqual((await groupNames(c)).filter((g) => g.startsWith('d')), ['d1', 'd2', 'd3', 'd4']);
  assert.ok((await c.events()).some((e) => e.event === 'QUORUM_LOG_REPAIRED' && e.node === 'n1'));
});

test('damage to the quorum log while the cluster runs: the coordinator finds it, rewrites the log from its copy, and a node with an older copy starts again', async (t) => {
  const c = await cluster(t, ['n1', 'n2'], ['--log-reset-size', '100000000']);
  // n2 is away while changes are made: its copy is older than the records to be damaged, so it
  // could not start on the damaged log (the test above); n1, the coordinator, goes on running.
  assert.equal(await stop(c, 'n2'), 0);
  for (const g of ['k1', 'k2', 'k3']) assert.equal((await c.api('/v1/groups', { method: 'POST', body: { name: g } })).status, 200);
  const damaged = corruptLogRow(c.quorum.slice('dir:'.length));
  await waitFor('the coordinator found the damage and rewrote the log', async () => {
    const ev = await c.events();
    return ev.some((e) => e.event === 'QUORUM_LOG_DAMAGE_FOUND' && e.node === 'n1' && e.message.includes(`seq ${damaged}`)) &&
      ev.some((e) => e.event === 'QUORUM_LOG_REPAIRED' && e.node === 'n1');
  }, 60_000);
  const v = spawnSync(process.execPath, [clusterdBin, 'quorum-log', 'verify', '--quorum', c.quorum], { encoding: 'utf8' });
  assert.equal(v.status, 0, v.stdout + v.stderr);
  await c.startNode('n2');
  await c.waitStatus('both Up', (s) => s.nodes.every((n) => n.state === 'Up'));
  const s2 = await c.status('n2');
  assert.deepEqual(s2.groups.map((g) => g.name).filter((g) => g.startsWith('k')).sort(), ['k1', 'k2', 'k3'], 'nothing was lost');
});

test('--no-quorum-logging runs on what is intact and warns on every change', async (t) => {
  const c = await cluster(t, ['n1', 'n2'], ['--log-reset-size', '100000000']);
  assert.equal(await stop(c, 'n2'), 0);
  for (const g of ['e1', 'e2', 'e3']) assert.equal((await c.api('/v1/groups', { method: 'POST', body: { name: g } })).status, 200);
  await stop(c, 'n1', 'SIGKILL');
  corruptLogRow(c.quorum.slice('dir:'.length));
  rmSync(join(c.dir, 'data-n1'), { recursive: true }); // no current copy anywhere
  await c.startNode('n2', ['--no-quorum-logging']);
  const ev = await c.events();
  assert.ok(ev.some((e) => e.event === 'QUORUM_LOGGING_DISABLED'));
  assert.equal((await c.api('/v1/groups', { method: 'POST', body: { name: 'after' } })).status, 200);
  await waitFor('warning on change', async () => (await c.events()).some((e) => e.event === 'QUORUM_LOGGING_OFF_CHANGE'));
});

test('a full quorum disk: changes fail promptly with QUORUM_DISK_FULL, no lease is lost, and space coming back resumes everything', async (t) => {
  if (process.getuid?.() !== 0) assert.fail('this test mounts a tmpfs and needs root');
  const mnt = join('/tmp', `clusterd-full-${process.pid}`);
  mkdirSync(mnt, { recursive: true });
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=12m', 'tmpfs', mnt], { encoding: 'utf8' });
  assert.equal(m.status, 0, `cannot mount a tmpfs at ${mnt}: ${m.stderr}`);
  t.after(() => { spawnSync('umount', ['-l', mnt]); rmSync(mnt, { recursive: true, force: true }); });
  const c = await TestCluster.start(['n1', 'n2'], { quorumPath: join(mnt, 'quorum') });
  t.after(() => c.close());
  // Fill the filesystem.
  const filler = join(mnt, 'filler');
  spawnSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k'], { encoding: 'utf8' });
  const t0 = Date.now();
  const r = await c.api<{ error: { code: string; message: string } }>('/v1/groups', { method: 'POST', body: { name: 'full' } });
  const elapsed = Date.now() - t0;
  assert.equal(r.status, 507);
  assert.equal(r.body.error.code, 'QUORUM_DISK_FULL');
  assert.match(r.body.error.message, /\d+ bytes free/);
  assert.ok(elapsed < 5_000, `the error came promptly (${elapsed} ms), not after a hang`);
  // Leases keep renewing on the full disk: nobody is declared Down, nothing fails over.
  await sleep(3_000);
  const s = await c.status();
  assert.ok(s.nodes.every((n) => n.state === 'Up'), JSON.stringify(s.nodes));
  // Space returns: writes resume by themselves.
  rmSync(filler);
  const ok = await waitFor('a change succeeds again', async () => (await c.api('/v1/groups', { method: 'POST', body: { name: 'after-full' } })).status === 200);
  assert.ok(ok);
  const ev = await waitFor('recovery event', async () => {
    const e = await c.events();
    return e.some((x) => x.event === 'QUORUM_DISK_FULL_RECOVERED') ? e : null;
  });
  assert.ok(ev.some((e) => e.event === 'QUORUM_DISK_FULL'));
  assert.ok(!ev.some((e) => e.event === 'NODE_SELF_FENCED' || e.event === 'GROUP_FAILOVER'));
  assert.ok(existsSync(join(mnt, 'quorum', 'leases.bin')));
  writeFileSync(join(mnt, 'ok'), 'space is back');
});

/** Flip a payload byte of the frame with `seq` in a node's local log (frames of src/core/log-codec.ts). */
function corruptLocalRecord(dataDir: string, seq: number): void {
  const path = join(dataDir, 'db', 'quolog');
  const buf = readFileSync(path);
  for (let at = 0; at + 32 <= buf.length;) {
    const len = buf.readUInt32LE(at + 24);
    if (buf.readUInt32LE(at + 8) === seq) {
      buf[at + 32] = buf[at + 32]! ^ 0xff;
      writeFileSync(path, buf);
      return;
    }
    at += 32 + len;
  }
  assert.fail(`no record seq ${seq} in ${path}`);
}

function storeRow<T>(quorumDir: string, sql: string): T {
  const db = new Database(join(quorumDir, 'cluster.db'), { readonly: true });
  try { return db.prepare(sql).get() as T; } finally { db.close(); }
}

test('damage in the store and in every copy: recovery keeps every intact record before it, and never reuses a seq', async (t) => {
  const c = await cluster(t, ['n1', 'n2'], ['--log-reset-size', '100000000']);
  for (const g of ['k1', 'k2', 'k3', 'k4']) assert.equal((await c.api('/v1/groups', { method: 'POST', body: { name: g } })).status, 200);
  await waitFor('n2 caught up', async () => (await c.status('n2')).appliedSeq === (await c.status('n1')).appliedSeq);
  await stop(c, 'n1', 'SIGKILL');
  await stop(c, 'n2', 'SIGKILL');
  const quorumDir = c.quorum.slice('dir:'.length);
  const { seq: head } = storeRow<{ seq: number }>(quorumDir, 'SELECT MAX(seq) AS seq FROM log');
  const damaged = head - 1; // the record adding k3: k1, k2 before it are intact everywhere
  const db = new Database(join(quorumDir, 'cluster.db'));
  db.prepare('UPDATE log SET crc = crc + 1 WHERE seq = ?').run(damaged);
  db.close();
  for (const n of ['n1', 'n2']) corruptLocalRecord(join(c.dir, `data-${n}`), damaged);
  // The dump shows the intact records and the damage, exit 1.
  const d = spawnSync(process.execPath, [clusterdBin, 'quorum-log', 'dump', '--quorum', c.quorum], { encoding: 'utf8' });
  assert.equal(d.status, 1, d.stdout);
  assert.match(d.stdout, new RegExp(`^seq ${damaged - 1} `, 'm'), 'the intact record before the damage is printed');
  assert.match(d.stdout, /DAMAGED/);
  const r = startFails(c, 'n1');
  assert.match(r.err, /error\[QUORUM_LOG_DAMAGED\]/);
  await c.startNode('n1', ['--no-quorum-logging']);
  assert.deepEqual((await groupNames(c)).filter((g) => g.startsWith('k')), ['k1', 'k2'], 'every record before the damage is kept');
  assert.equal((await c.api('/v1/groups', { method: 'POST', body: { name: 'k-new' } })).status, 200);
  const s = await c.status('n1');
  assert.ok(s.appliedSeq > head, `the new history numbers past the damaged one (seq ${s.appliedSeq}, old head ${head}): no seq reused`);
  // n2's copy stops before the damage, a prefix of the new history: it loads the store.
  await c.startNode('n2');
  const s2 = await waitFor('n2 follows the new history', async () => { const x = await c.status('n2'); return x.appliedSeq === s.appliedSeq ? x : null; });
  assert.ok(s2.groups.some((g) => g.name === 'k-new'));
});

test('a node copy of the old history past the fork is refused as diverged, naming the newer side; --reset-quorum-log starts a new history', async (t) => {
  const c = await cluster(t, ['n1', 'n2'], ['--log-reset-size', '100000000']);
  const lastId = Math.max(0, ...(await c.events()).map((e) => e.id));
  assert.equal(await stop(c, 'n2'), 0); // n2's copy: seq S
  // n1 checkpoints once it sees n2 stopped (or once it becomes coordinator): only after that do m1
  // and m2 stay in the store's log, where the test damages m2.
  await waitFor('n1 checkpointed after the stop', async () => (await c.events()).some((e) => e.id > lastId && e.node === 'n1' && e.event === 'CHECKPOINT_TAKEN'));
  for (const g of ['m1', 'm2']) assert.equal((await c.api('/v1/groups', { method: 'POST', body: { name: g } })).status, 200);
  await stop(c, 'n1', 'SIGKILL');
  corruptLogRow(c.quorum.slice('dir:'.length)); // the store's record of m2 is damaged; n1's copy has m1, m2
  // The operator resets from n2's older copy (not from n1's newer one): a new history forks at its seq.
  await c.startNode('n2', ['--reset-quorum-log']);
  const names = await groupNames(c);
  assert.ok(names.includes('m1') && !names.includes('m2'), `the reset keeps the intact m1 and not the damaged m2: ${names.join(',')}`);
  assert.equal((await c.api('/v1/groups', { method: 'POST', body: { name: 'after-reset' } })).status, 200);
  const r = startFails(c, 'n1');
  assert.notEqual(r.code, 0);
  assert.match(r.err, /error\[HISTORY_DIVERGED\]/, r.err);
  assert.doesNotMatch(r.err, /STORE_BEHIND/);
});

test('a truncated cluster.db is reported as damage; --reset-quorum-log rebuilds it from the newest copy, terms and epochs carry on', async (t) => {
  const c = await cluster(t, ['n1', 'n2']);
  for (const g of ['t1', 't2']) assert.equal((await c.api('/v1/groups', { method: 'POST', body: { name: g } })).status, 200);
  // Moves raise the epochs; a coordinator change raises the term.
  for (let i = 0; i < 3; i++) {
    const g = await waitFor('t1 placed', async () => (await c.status()).groups.find((x) => x.name === 't1' && x.node !== null));
    const to = g.node === 'n1' ? 'n2' : 'n1';
    assert.equal((await c.api('/v1/groups/t1/move', { method: 'POST', body: { node: to } })).status, 200);
    await waitFor(`t1 on ${to}`, async () => (await c.status()).groups.find((x) => x.name === 't1')?.node === to);
  }
  await stop(c, 'n2');
  await stop(c, 'n1');
  const quorumDir = c.quorum.slice('dir:'.length);
  const termBefore = storeRow<{ term: number }>(quorumDir, 'SELECT term FROM coordinator').term;
  const epochBefore = storeRow<{ e: number }>(quorumDir, 'SELECT MAX(epoch) AS e FROM ownership').e;
  assert.ok(epochBefore >= 3, `epochs moved (${epochBefore})`);
  const dbPath = join(quorumDir, 'cluster.db');
  truncateSync(dbPath, Math.floor(statSync(dbPath).size / 2));
  for (const f of ['cluster.db-wal', 'cluster.db-shm']) rmSync(join(quorumDir, f), { force: true });
  const r = startFails(c, 'n1');
  assert.match(r.err, /error\[QUORUM_DB_DAMAGED\]/, r.err);
  assert.match(r.err, /--reset-quorum-log/);
  const v = spawnSync(process.execPath, [clusterdBin, 'quorum-log', 'verify', '--quorum', c.quorum], { encoding: 'utf8' });
  assert.equal(v.status, 1, v.stdout + v.stderr);
  await c.startNode('n1', ['--reset-quorum-log']);
  await c.startNode('n2');
  await c.waitStatus('both Up', (s) => s.nodes.every((n) => n.state === 'Up'));
  assert.deepEqual((await groupNames(c)).filter((g) => g.startsWith('t')), ['t1', 't2']);
  const s = await c.waitStatus('t1 placed again', (x) => x.groups.some((g) => g.name === 't1' && g.node !== null));
  assert.ok(s.term > termBefore, `the coordinator term carried on: ${s.term} > ${termBefore}`);
  const t1 = s.groups.find((g) => g.name === 't1')!;
  assert.ok(t1.epoch > epochBefore, `the epoch carried on: ${t1.epoch} > ${epochBefore}`);
});

test('--reset-quorum-log rebuilding the database from a copy whose node was stopped while the others moved a group and changed coordinator: terms and epochs carry on above every node\'s lease slot', async (t) => {
  const c = await cluster(t, ['n1', 'n2', 'n3']);
  assert.equal((await c.api('/v1/groups', { method: 'POST', body: { name: 'm' } })).status, 200);
  await waitFor('n1 has m', async () => (await c.status('n1')).groups.some((g) => g.name === 'm'));
  // n1 stops: its copy's floor stays at what it saw, while n2 and n3 go on using terms and epochs.
  assert.equal(await stop(c, 'n1'), 0);
  for (let i = 0; i < 3; i++) {
    const g = await waitFor('m placed', async () => (await c.status('n2')).groups.find((x) => x.name === 'm' && x.node !== null && x.node !== 'n1'));
    const to = g.node === 'n2' ? 'n3' : 'n2';
    assert.equal((await c.api('/v1/groups/m/move', { method: 'POST', body: { node: to }, via: 'n2' })).status, 200);
    await waitFor(`m on ${to}`, async () => (await c.status('n2')).groups.find((x) => x.name === 'm')?.node === to);
  }
  const coord = (await c.status('n2')).coordinator!;
  const other = coord === 'n2' ? 'n3' : 'n2';
  const termWas = (await c.status(other)).term;
  await stop(c, coord, 'SIGKILL');
  await waitFor(`${other} coordinator`, async () => { const s = await c.status(other); return s.coordinator === other && s.term > termWas ? s : null; }, 30_000);
  await stop(c, other);
  const quorumDir = c.quorum.slice('dir:'.length);
  const termBefore = storeRow<{ term: number }>(quorumDir, 'SELECT term FROM coordinator').term;
  const epochBefore = storeRow<{ e: number }>(quorumDir, 'SELECT MAX(epoch) AS e FROM ownership').e;
  const n1Floor = JSON.parse(readFileSync(join(c.dir, 'data-n1', 'db', 'state'), 'utf8')) as { floor: { term: number; epoch: number } };
  assert.ok(n1Floor.floor.term < termBefore && n1Floor.floor.epoch < epochBefore, `n1's copy is behind: ${JSON.stringify(n1Floor.floor)}, store term ${termBefore}, epoch ${epochBefore}`);
  const dbPath = join(quorumDir, 'cluster.db');
  truncateSync(dbPath, Math.floor(statSync(dbPath).size / 2));
  for (const f of ['cluster.db-wal', 'cluster.db-shm']) rmSync(join(quorumDir, f), { force: true });
  await c.startNode('n1', ['--reset-quorum-log']);
  const s = await c.waitStatus('m placed again', (x) => x.groups.some((g) => g.name === 'm' && g.node !== null), 30_000);
  assert.ok(s.term > termBefore, `the coordinator term carried on above every slot: ${s.term} > ${termBefore}`);
  const m = s.groups.find((g) => g.name === 'm')!;
  assert.ok(m.epoch > epochBefore, `the epoch carried on above every slot: ${m.epoch} > ${epochBefore}`);
  const ev = await c.events();
  assert.ok(ev.some((e) => e.event === 'QUORUM_LOG_RESET' && /raised above this node's copy by the lease slots of/.test(e.message)), 'the reset says the slots raised the floor');
});

test('--reset-quorum-log is refused while a lease slot\'s floor cannot be read (QUORUM_FLOOR_UNREADABLE), and goes on with --accept-unreadable-floors', async (t) => {
  const c = await cluster(t, ['n1', 'n2']);
  assert.equal((await c.api('/v1/groups', { method: 'POST', body: { name: 'kept' } })).status, 200);
  await waitFor('n1 has kept', async () => (await c.status('n1')).groups.some((g) => g.name === 'kept'));
  await stop(c, 'n2');
  assert.equal(await stop(c, 'n1'), 0);
  const quorumDir = c.quorum.slice('dir:'.length);
  // Every slot's floor part gets a byte no floor's checksum matches (a slot 128 bytes, its floor the last 12).
  const leases = join(quorumDir, 'leases.bin');
  const bytes = readFileSync(leases);
  for (let i = 0; i < 2; i++) bytes[i * 128 + 120] = bytes[i * 128 + 120]! ^ 0x40;
  writeFileSync(leases, bytes);
  const dbPath = join(quorumDir, 'cluster.db');
  truncateSync(dbPath, Math.floor(statSync(dbPath).size / 2));
  const r = startFails(c, 'n1', ['--reset-quorum-log']);
  assert.notEqual(r.code, 0);
  assert.match(r.err, /error\[QUORUM_FLOOR_UNREADABLE\]/, r.err);
  assert.match(r.err, /--accept-unreadable-floors/);
  await c.startNode('n1', ['--reset-quorum-log', '--accept-unreadable-floors']);
  assert.ok((await groupNames(c)).includes('kept'));
});

test('--reset-quorum-log on a readable store keeps the ownership records that name a node: a group running on its owner stays there, at its epoch', async (t) => {
  const c = await cluster(t, ['n1', 'n2']);
  for (const g of ['hi', 'lo']) assert.equal((await c.api('/v1/groups', { method: 'POST', body: { name: g } })).status, 200);
  const on = async (g: string, node: string) => {
    assert.equal((await c.api(`/v1/groups/${g}/move`, { method: 'POST', body: { node }, via: 'n2' })).status, 200);
    return waitFor(`${g} on ${node}`, async () => (await c.status('n2')).groups.find((x) => x.name === g && x.node === node) ?? null);
  };
  // 'hi' moves to raise the epoch floor above the epoch 'lo' runs under on n2.
  await on('lo', 'n2');
  for (const to of ['n1', 'n2', 'n1']) await on('hi', to);
  const quorumDir = c.quorum.slice('dir:'.length);
  const lo = storeRow<{ node: string | null; epoch: number }>(quorumDir, "SELECT node, epoch FROM ownership WHERE grp = 'lo'");
  const floor = storeRow<{ e: number }>(quorumDir, 'SELECT MAX(epoch) AS e FROM ownership').e;
  assert.ok(lo.node === 'n2' && lo.epoch < floor, `lo runs on n2 under epoch ${lo.epoch}, below the floor ${floor}`);
  assert.equal(await stop(c, 'n1'), 0);
  await c.startNode('n1', ['--reset-quorum-log']);
  const after = storeRow<{ node: string | null; epoch: number }>(quorumDir, "SELECT node, epoch FROM ownership WHERE grp = 'lo'");
  assert.deepEqual(after, lo, 'the reset left the record of the group running on n2 as it was');
});

test('--reset-quorum-log that must rebuild the database is refused while another node runs (QUORUM_NODES_RUNNING), and works once it is stopped', async (t) => {
  const c = await cluster(t, ['n1', 'n2']);
  assert.equal((await c.api('/v1/groups', { method: 'POST', body: { name: 'kept' } })).status, 200);
  await waitFor('n1 has kept', async () => (await c.status('n1')).groups.some((g) => g.name === 'kept'));
  assert.equal(await stop(c, 'n1'), 0);
  const quorumDir = c.quorum.slice('dir:'.length);
  const dbPath = join(quorumDir, 'cluster.db');
  truncateSync(dbPath, Math.floor(statSync(dbPath).size / 2));
  const r = startFails(c, 'n1', ['--reset-quorum-log']);
  assert.notEqual(r.code, 0);
  assert.match(r.err, /error\[QUORUM_NODES_RUNNING\]/, r.err);
  assert.match(r.err, /stop clusterd on n2/, r.err);
  assert.ok(!existsSync(`${dbPath}.rebuild`) || statSync(dbPath).size > 0, 'nothing was rebuilt');
  await stop(c, 'n2', 'SIGKILL');
  await c.startNode('n1', ['--reset-quorum-log']);
  assert.ok((await groupNames(c)).includes('kept'));
});
