// The `dir` backend: the shared contract, plus what only a directory on disk can show: damaged
// rows and slots, a full filesystem, the lease file layout, and real OS processes contending.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import { DirStore, dbFileName, readLeaseFloorsAt } from '../src/store/dir.js';
import { openStore, parseQuorumSpec } from '../src/store/index.js';
import {
  decodeLeaseSlot, encodeLeaseSlot, leaseFileBytes, leaseFileName, leaseIdentityProblem, leaseSlotBytes, markLeaseFenced,
} from '../src/store/lease-file.js';
import type { LeaseRecord, LeaseState } from '../src/store/types.js';
import { errorCode, runStoreContract, value } from './store-contract.js';

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'clusterd-store-'));
}

function removeDir(dir: string): Promise<void> {
  return fs.promises.rm(dir, { recursive: true, force: true });
}

runStoreContract('dir', async () => {
  const dir = tempDir();
  // A directory that does not exist yet: init must create it, open must not.
  const quorum = path.join(dir, 'quorum');
  return { stores: [new DirStore(quorum), new DirStore(quorum), new DirStore(quorum)], cleanup: () => removeDir(dir) };
});

/** A fresh cluster in a temp dir with term 1 held by n1 through the returned store. */
async function withDirCluster(body: (store: DirStore, dir: string) => Promise<void>): Promise<void> {
  const dir = tempDir();
  const store = new DirStore(dir);
  try {
    value(await store.init('dirtest', 1_000));
    value(await store.casCoordinator({ term: 0, node: null }, { term: 1, node: 'n1' }));
    await body(store, dir);
  } finally {
    await store.close();
    await removeDir(dir);
  }
}

/** Tampers with cluster.db behind the store's back, as a disk error or a stray tool would. */
function tamper(dir: string, sql: string): void {
  const db = new Database(path.join(dir, dbFileName));
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

const nodeAdd = (node: string) => ({ op: 'node-add' as const, node });

test('parseQuorumSpec accepts dir:PATH and explains everything else', () => {
  assert.deepEqual(value(parseQuorumSpec('dir:/var/lib/clusterd/q')), { kind: 'dir', path: '/var/lib/clusterd/q' });
  assert.deepEqual(value(parseQuorumSpec('dir:rel/q')), { kind: 'dir', path: path.resolve('rel/q') });
  for (const bad of ['dir:', 'dir:  ', '/var/lib/q', 'file:/x', '', 'DIR:/x']) {
    const result = parseQuorumSpec(bad);
    assert.equal(errorCode(result), 'BAD_ARGUMENT', bad);
    assert.match(result.ok ? '' : result.error.hint ?? '', /dir:/, `the hint for '${bad}' shows the accepted form`);
  }
  assert.deepEqual(value(parseQuorumSpec('etcd:http://127.0.0.1:2379')), { kind: 'etcd', endpoints: ['http://127.0.0.1:2379'] });
});

test('openStore gives an unopened dir store and throws on a malformed spec', async () => {
  const store = openStore('dir:some/where');
  assert.equal(store.kind, 'dir');
  assert.equal(store.location, `dir:${path.resolve('some/where')}`);
  assert.throws(() => openStore('nfs:/x'), { name: 'ClusterError', code: 'BAD_ARGUMENT' });
});

test('init lays out cluster.db and a preallocated lease file; open creates nothing', async () => {
  const dir = tempDir();
  try {
    const missing = path.join(dir, 'nothing-here');
    assert.equal(errorCode(await new DirStore(missing).open()), 'CLUSTER_NOT_FOUND');
    assert.equal(fs.existsSync(missing), false);
    const store = new DirStore(path.join(dir, 'q'));
    value(await store.init('layout', 1_000));
    assert.equal(fs.statSync(path.join(dir, 'q', leaseFileName)).size, leaseFileBytes);
    assert.ok(fs.existsSync(path.join(dir, 'q', dbFileName)));
    await store.close();
  } finally {
    await removeDir(dir);
  }
});

test('open refuses a quorum directory whose lease file is gone', async () => {
  await withDirCluster(async (_store, dir) => {
    fs.truncateSync(path.join(dir, leaseFileName), 100);
    const result = await new DirStore(dir).open();
    assert.equal(errorCode(result), 'QUORUM_UNAVAILABLE');
    fs.rmSync(path.join(dir, leaseFileName));
    assert.equal(errorCode(await new DirStore(dir).open()), 'QUORUM_UNAVAILABLE');
  });
});

test('open refuses a quorum directory of another schema version with STORE_SCHEMA_MISMATCH, not as unreachable', async () => {
  await withDirCluster(async (_store, dir) => {
    tamper(dir, 'UPDATE meta SET schema_version = schema_version + 1');
    assert.equal(errorCode(await new DirStore(dir).open()), 'STORE_SCHEMA_MISMATCH');
  });
});

test('a quorum directory made before ownership records had books opens, keeps its records and stores books from then on', async () => {
  await withDirCluster(async (store, dir) => {
    value(await store.writeOwnership(1, [{ group: 'web', node: 'n1', epoch: 2, term: 1, phase: 'run' }]));
    await store.close();
    tamper(dir, 'ALTER TABLE ownership DROP COLUMN books');
    const old = new DirStore(dir);
    value(await old.open());
    try {
      assert.deepEqual(await old.readOwnership(), [{ group: 'web', node: 'n1', epoch: 2, term: 1, phase: 'run' }]);
      value(await old.writeOwnership(1, [{ group: 'web', node: 'n1', epoch: 2, term: 1, phase: 'run', books: { failedEpoch: 2 } }]));
      assert.deepEqual((await old.readOwnership())[0]?.books, { failedEpoch: 2 });
    } finally {
      await old.close();
    }
  });
});

test('an unchanged ownership table is read once: the same records until any writer changes it, also one that does not know the change count; a directory made before the count gets it on open', async () => {
  await withDirCluster(async (store, dir) => {
    const web = (node: string, epoch: number) => ({ group: 'web', node, epoch, term: 1, phase: 'run' as const });
    value(await store.writeOwnership(1, [web('n1', 1)]));
    const first = await store.readOwnership();
    assert.equal(await store.readOwnership(), first, 'unchanged: the same array');
    assert.ok(Object.isFrozen(first) && Object.isFrozen(first[0]), 'frozen: no reader can change what the next one gets');
    const other = new DirStore(dir); // another node
    value(await other.open());
    try {
      value(await other.writeOwnership(1, [web('n2', 2)]));
      assert.deepEqual(await store.readOwnership(), [web('n2', 2)], 'another node\'s write is seen');
      // A writer that knows nothing of the count (a clusterd of before it, during a rolling upgrade):
      // the triggers live in the database and count its changes too.
      tamper(dir, "UPDATE ownership SET node = 'n3' WHERE grp = 'web'");
      assert.deepEqual((await store.readOwnership()).map((r) => r.node), ['n3']);
      tamper(dir, "DELETE FROM ownership WHERE grp = 'web'");
      assert.deepEqual(await store.readOwnership(), []);
    } finally {
      await other.close();
    }
    await store.close();
    tamper(dir, 'DROP TRIGGER ownership_version_insert; DROP TRIGGER ownership_version_update; DROP TRIGGER ownership_version_delete; DROP TABLE ownership_version');
    const old = new DirStore(dir);
    value(await old.open());
    try {
      value(await old.writeOwnership(1, [web('n1', 3)]));
      assert.deepEqual(await old.readOwnership(), [web('n1', 3)]);
      tamper(dir, "UPDATE ownership SET node = 'n2' WHERE grp = 'web'");
      assert.deepEqual((await old.readOwnership()).map((r) => r.node), ['n2'], 'the count was created on open');
    } finally {
      await old.close();
    }
  });
});

test('a log record whose checksum does not match is an error naming its seq, never a record', async () => {
  await withDirCluster(async (store, dir) => {
    value(await store.appendLog(1, 0, [nodeAdd('n1'), nodeAdd('n2'), nodeAdd('n3')]));
    tamper(dir, `UPDATE log SET payload = replace(payload, 'n2', 'n9') WHERE seq = 2`);
    const read = await store.readLog(0, 10);
    assert.equal(errorCode(read), 'QUORUM_LOG_DAMAGED');
    assert.match(read.ok ? '' : read.error.message, /seq 2 is corrupt/);
    assert.match(read.ok ? '' : read.error.hint ?? '', /--reset-quorum-log/);
    assert.deepEqual(value(await store.readLog(2, 10)).map((r) => r.seq), [3], 'records after the damage still read');
    tamper(dir, 'UPDATE log SET term = 7 WHERE seq = 3');
    assert.match((r => (r.ok ? '' : r.error.message))(await store.readLog(2, 10)), /seq 3 is corrupt/);
  });
});

test('a missing log record is a gap error, not a skip', async () => {
  await withDirCluster(async (store, dir) => {
    value(await store.appendLog(1, 0, [nodeAdd('n1'), nodeAdd('n2'), nodeAdd('n3')]));
    tamper(dir, 'DELETE FROM log WHERE seq = 2');
    const read = await store.readLog(0, 10);
    assert.equal(errorCode(read), 'QUORUM_LOG_DAMAGED');
    assert.match(read.ok ? '' : read.error.message, /seq 2 is missing/);
  });
});

test('a checkpoint whose checksum does not match is an error', async () => {
  await withDirCluster(async (store, dir) => {
    tamper(dir, `UPDATE checkpoint SET config = replace(config, 'dirtest', 'other')`);
    const read = await store.readCheckpoint();
    assert.equal(errorCode(read), 'QUORUM_LOG_DAMAGED');
    assert.match(read.ok ? '' : read.error.message, /checkpoint at seq 0 is corrupt/);
  });
});

test('every database write fails with QUORUM_DISK_FULL before touching anything when space is short', async () => {
  await withDirCluster(async (store, dir) => {
    const full = new DirStore(dir, { minFreeBytes: Number.MAX_SAFE_INTEGER });
    try {
      value(await full.open());
      const before = await full.changeVersion();
      const results = [
        await full.casCoordinator({ term: 1, node: 'n1' }, { term: 2, node: 'n2' }),
        await full.appendLog(1, 0, [nodeAdd('n1')]),
        await full.writeOwnership(1, [{ group: 'g', node: 'n1', epoch: 1, term: 1, phase: 'run' }]),
        await full.writeCheckpoint(1, 0, { name: 'dirtest', nodes: {}, groups: {}, resources: {} }),
        await full.writeReport({ node: 'n1', incarnation: 'i', version: 1, apiUrl: 'http://x', appliedSeq: 0, groups: {} }),
        await full.appendEvents([{ wallMs: 1, node: 'n1', event: 'E', level: 'info', message: 'm' }]),
        await full.claimLeaseSlot('n1', 'inc'),
        await full.removeLeaseSlot('n1'),
      ];
      for (const r of results) assert.equal(errorCode(r), 'QUORUM_DISK_FULL');
      const first = results[0]!;
      assert.match(first.ok ? '' : first.error.message, /needs \d+ bytes free .*; \d+ bytes are free/);
      assert.equal(await full.changeVersion(), before);
      assert.equal(await store.logHead(), 0);
      assert.deepEqual(await store.readCoordinator(), { term: 1, node: 'n1' });
    } finally {
      await full.close();
    }
    const dir2 = tempDir();
    try {
      assert.equal(errorCode(await new DirStore(dir2, { minFreeBytes: Number.MAX_SAFE_INTEGER }).init('x', 1)), 'QUORUM_DISK_FULL');
      assert.equal(errorCode(await new DirStore(dir2).open()), 'CLUSTER_NOT_FOUND');
    } finally {
      await removeDir(dir2);
    }
  });
});

test('SQLite running out of room mid-write is QUORUM_DISK_FULL and nothing of the write lands', async () => {
  await withDirCluster(async (store) => {
    // Fault injection through the private connection: a page cap makes SQLite fail with
    // SQLITE_FULL exactly as a full filesystem would, without needing one.
    const db = (store as unknown as { db: Database.Database }).db;
    const pages = db.pragma('page_count', { simple: true }) as number;
    db.pragma(`max_page_count = ${pages + 2}`);
    const big = Array.from({ length: 20 }, (_, i) => nodeAdd(`n${i}-${'x'.repeat(4_000)}`));
    const result = await store.appendLog(1, 0, big);
    assert.equal(errorCode(result), 'QUORUM_DISK_FULL');
    assert.match(result.ok ? '' : result.error.message, /SQLITE_FULL/);
    assert.equal(await store.logHead(), 0);
    db.pragma('max_page_count = 1073741823');
    assert.equal(value(await store.appendLog(1, 0, big)).length, 20, 'writes resume once there is room');
  });
});

test('events beyond eventsMax are dropped oldest first', async () => {
  const dir = tempDir();
  const store = new DirStore(dir, { eventsMax: 5 });
  try {
    value(await store.init('events', 1_000));
    const batch = (from: number, count: number) =>
      Array.from({ length: count }, (_, i) => ({ wallMs: from + i, node: 'n1', event: 'E', level: 'info' as const, message: `e${from + i}` }));
    value(await store.appendEvents(batch(1, 4)));
    value(await store.appendEvents(batch(5, 4)));
    assert.deepEqual((await store.readEvents(0, 100)).map((e) => e.message), ['e4', 'e5', 'e6', 'e7', 'e8']);
    value(await store.appendEvents(batch(9, 12)));
    assert.deepEqual((await store.readEvents(0, 100)).map((e) => e.message), ['e16', 'e17', 'e18', 'e19', 'e20']);
  } finally {
    await store.close();
    await removeDir(dir);
  }
});

test('lease identities that do not fit a slot are rejected', async () => {
  assert.equal(leaseIdentityProblem('a'.repeat(63), 'i'.repeat(32)), null);
  assert.equal(leaseIdentityProblem('é'.repeat(31) + 'a', 'x'), null, '63 bytes of UTF-8');
  assert.notEqual(leaseIdentityProblem('é'.repeat(32), 'x'), null, '64 bytes of UTF-8');
  assert.notEqual(leaseIdentityProblem('', 'x'), null);
  assert.notEqual(leaseIdentityProblem('n1', 'i'.repeat(33)), null);
  assert.notEqual(leaseIdentityProblem('n1', 'ünïcode'), null);
  assert.notEqual(leaseIdentityProblem('n1', 'has space'), null);
  await withDirCluster(async (store) => {
    assert.equal(errorCode(await store.claimLeaseSlot('a'.repeat(64), 'inc')), 'BAD_ARGUMENT');
    assert.equal(errorCode(await store.claimLeaseSlot('n1', '')), 'BAD_ARGUMENT');
  });
});

test('a lease slot round-trips and any damaged byte makes it unreadable', () => {
  const states: LeaseState[] = ['running', 'draining', 'stopped', 'fenced'];
  for (const state of states) {
    const record: LeaseRecord = { node: 'é'.repeat(31) + 'a', counter: 2 ** 53 - 1, state, incarnation: 'i'.repeat(32) };
    assert.deepEqual(decodeLeaseSlot(encodeLeaseSlot(record)), record);
  }
  const bytes = encodeLeaseSlot({ node: 'n1', counter: 12345, state: 'running', incarnation: 'abc' });
  for (let i = 0; i < 116; i++) {
    const damaged = bytes.slice();
    damaged[i] = damaged[i]! ^ 0x10;
    assert.equal(decodeLeaseSlot(damaged), null, `byte ${i} flipped`);
  }
  assert.equal(decodeLeaseSlot(new Uint8Array(leaseSlotBytes)), null, 'an empty slot');
});

test('readLeases skips a torn slot and the next renewal heals it', async () => {
  await withDirCluster(async (store, dir) => {
    value(await store.claimLeaseSlot('n1', 'inc1'));
    value(await store.claimLeaseSlot('n2', 'inc2'));
    const file = path.join(dir, leaseFileName);
    const bytes = fs.readFileSync(file);
    const index = [0, 1].find((i) => decodeLeaseSlot(bytes.subarray(i * leaseSlotBytes, (i + 1) * leaseSlotBytes))?.node === 'n1');
    assert.notEqual(index, undefined);
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from([0xff, 0xff]), 0, 2, index! * leaseSlotBytes + 106); // half a counter
    fs.closeSync(fd);
    assert.deepEqual((await store.readLeases()).map((l) => l.node), ['n2']);
    value(await store.renewLease('n1', 4, 'running'));
    assert.deepEqual((await store.readLeases()).map((l) => [l.node, l.counter]).sort(), [['n1', 4], ['n2', 0]]);
  });
});

test('markLeaseFenced fences only the incarnation it names', async () => {
  await withDirCluster(async (store, dir) => {
    value(await store.claimLeaseSlot('n1', 'inc1'));
    value(await store.renewLease('n1', 17, 'running'));
    assert.equal(markLeaseFenced(dir, 'n1', 'someone-else'), false);
    assert.equal(markLeaseFenced(dir, 'n7', 'inc1'), false);
    assert.equal(markLeaseFenced(path.join(dir, 'missing'), 'n1', 'inc1'), false);
    assert.equal((await store.readLeases())[0]?.state, 'running');
    assert.equal(markLeaseFenced(dir, 'n1', 'inc1'), true);
    assert.deepEqual(await store.readLeases(), [{ node: 'n1', counter: 17, state: 'fenced', incarnation: 'inc1' }]);
  });
});

test('a lease slot\'s floor: the monitor\'s fenced mark keeps it; a damaged one is named unreadable, and so is a missing lease file; the next raise heals it', async () => {
  await withDirCluster(async (store, dir) => {
    value(await store.claimLeaseSlot('n1', 'inc1'));
    value(await store.claimLeaseSlot('n2', 'inc2'));
    value(await store.raiseLeaseFloor('n1', { term: 7, epoch: 11 }));
    value(await store.raiseLeaseFloor('n2', { term: 3, epoch: 4 }));
    assert.equal(markLeaseFenced(dir, 'n1', 'inc1'), true);
    const read = async () => value(await store.readLeaseFloors());
    assert.deepEqual((await read()).floors.map((f) => [f.node, f.floor.term, f.floor.epoch]).sort(), [['n1', 7, 11], ['n2', 3, 4]]);
    assert.deepEqual(readLeaseFloorsAt(dir), await read(), 'read without the database, the same');
    // One bit of n2's floor flips: unreadable, named; the other slots still count.
    const file = path.join(dir, leaseFileName);
    const index = [0, 1].find((i) => decodeLeaseSlot(fs.readFileSync(file).subarray(i * leaseSlotBytes, (i + 1) * leaseSlotBytes))?.node === 'n2')!;
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from([0x80]), 0, 1, index * leaseSlotBytes + leaseSlotBytes - 10);
    fs.closeSync(fd);
    const damaged = await read();
    assert.deepEqual(damaged.floors.map((f) => f.node), ['n1']);
    assert.equal(damaged.unreadable.length, 1);
    assert.match(damaged.unreadable[0]!, new RegExp(`slot ${index} \\(node 'n2'\\).*checksum`));
    // The node that owns the slot records its floor again.
    value(await store.raiseLeaseFloor('n2', { term: 5, epoch: 4 }));
    assert.deepEqual((await read()).unreadable, []);
    const gone = readLeaseFloorsAt(path.join(dir, 'missing'));
    assert.deepEqual(gone.floors, []);
    assert.match(gone.unreadable[0] ?? '', /lease file .* \(missing\)/);
  });
});

test('a new slot avoids one still written by an evicted node that kept running', async () => {
  await withDirCluster(async (store, dir) => {
    const other = new DirStore(dir);
    try {
      value(await other.open());
      value(await store.claimLeaseSlot('ghost', 'inc-g'));
      value(await other.removeLeaseSlot('ghost'));
      value(await store.renewLease('ghost', 5, 'running')); // the evicted process does not know yet
      value(await other.claimLeaseSlot('n2', 'inc-2'));
      value(await store.renewLease('ghost', 6, 'running'));
      value(await other.renewLease('n2', 1, 'running'));
      const leases = await other.readLeases();
      assert.deepEqual(leases.map((l) => [l.node, l.counter]).sort(), [['ghost', 6], ['n2', 1]], 'neither overwrote the other');
      value(await other.removeLeaseSlot('ghost'));
      assert.deepEqual((await other.readLeases()).map((l) => l.node), ['n2'], 'evicting again clears the stray record');
    } finally {
      await other.close();
    }
  });
});

/** Runs `count` node processes on `dir` that all race casCoordinator(0 -> 1) then appendLog at head 0. */
async function raceProcesses(dir: string, count: number): Promise<{ won: boolean; appended: string }[]> {
  const moduleUrl = new URL('../src/store/dir.js', import.meta.url).href;
  const script = `
    import { DirStore } from ${JSON.stringify(moduleUrl)};
    const [dir, name] = process.argv.slice(1);
    const store = new DirStore(dir);
    const opened = await store.open();
    if (!opened.ok) throw opened.error;
    process.stdout.write('ready\\n');
    await new Promise((resolve) => process.stdin.once('data', resolve));
    const cas = await store.casCoordinator({ term: 0, node: null }, { term: 1, node: name });
    const append = await store.appendLog(1, 0, [{ op: 'node-add', node: name }]);
    process.stdout.write(JSON.stringify({ won: cas.ok && cas.value, appended: append.ok ? 'ok' : append.error.code }) + '\\n');
    await store.close();
    process.stdin.destroy();
  `;
  const children = Array.from({ length: count }, (_, i) =>
    spawn(process.execPath, ['--input-type=module', '-e', script, dir, `p${i}`], { stdio: ['pipe', 'pipe', 'inherit'] }));
  // Listen for each exit from the start: a child may exit before the results are all read.
  const exits = children.map((child) => new Promise((resolve) => child.once('exit', resolve)));
  const lines = children.map((child) => readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]());
  const nextLine = async (i: number): Promise<string> => {
    const line = await lines[i]!.next();
    assert.equal(line.done, false, `process ${i} ended early`);
    return line.value as string;
  };
  for (let i = 0; i < count; i++) assert.equal(await nextLine(i), 'ready');
  for (const child of children) child.stdin.write('go\n');
  const results = await Promise.all(children.map(async (_, i) => JSON.parse(await nextLine(i)) as { won: boolean; appended: string }));
  await Promise.all(exits);
  return results;
}

test('of several OS processes racing for term 1 and for seq 1, exactly one wins each', async () => {
  const dir = tempDir();
  const store = new DirStore(dir);
  try {
    value(await store.init('race', 1_000));
    const results = await raceProcesses(dir, 6);
    assert.equal(results.filter((r) => r.won).length, 1, JSON.stringify(results));
    assert.equal(results.filter((r) => r.appended === 'ok').length, 1, JSON.stringify(results));
    assert.ok(results.every((r) => r.appended === 'ok' || r.appended === 'SEQ_CONFLICT'), JSON.stringify(results));
    const winner = `p${results.findIndex((r) => r.won)}`;
    assert.deepEqual(await store.readCoordinator(), { term: 1, node: winner });
    assert.equal(value(await store.readLog(0, 10)).length, 1);
  } finally {
    await store.close();
    await removeDir(dir);
  }
});
