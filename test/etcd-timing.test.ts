// etcd's own raft timing at clusterd's start: read from the members (their command line, the
// only place etcd 3.4 publishes it), or stated by the operator; a timeout too long for the
// self-fence deadline refuses the start (ETCD_TIMING_UNFIT), one that cannot be read is a warning
// (ETCD_TIMING_UNKNOWN). Real etcd members, real clusterd processes.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdCluster, makeTestCertificates } from './etcd-harness.js';
import { clusterdBin, freePort, waitFor } from './harness.js';
import { etcdElectionTimeoutMaxMs, judgeEtcdTiming, timingDefaults } from '../src/core/timing.js';
import { raftTimingFromCmdline, readEtcdRaftTiming } from '../src/store/etcd-timing.js';

const dir = mkdtempSync(join(tmpdir(), 'clusterd-etcd-timing-'));
const clusters: EtcdCluster[] = [];
after(async () => {
  for (const c of clusters) await c.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function etcd(o: Parameters<typeof EtcdCluster.start>[0]): Promise<EtcdCluster> {
  const c = await EtcdCluster.start(o);
  clusters.push(c);
  return c;
}

test('the command line of a member gives its timing in every Go flag form; without it the timing is unknown, with the reason', () => {
  assert.deepEqual(raftTimingFromCmdline('m', ['etcd', '--election-timeout', '250', '--heartbeat-interval=25']),
    { member: 'm', electionTimeoutMs: 250, heartbeatIntervalMs: 25 });
  assert.equal(raftTimingFromCmdline('m', ['etcd', '-election-timeout=300']).electionTimeoutMs, 300);
  const none = raftTimingFromCmdline('m', ['etcd', '--name', 'a']);
  assert.equal(none.electionTimeoutMs, undefined);
  assert.match(none.unknownWhy ?? '', /ETCD_ELECTION_TIMEOUT/);
  assert.match(raftTimingFromCmdline('m', ['etcd', '--config-file', '/etc/etcd.yml']).unknownWhy ?? '', /config-file/);
});

test('judging etcd timing: etcd defaults refuse, a fitting one passes, unknown warns unless stated, a stated misfit refuses', () => {
  const t = timingDefaults;
  const max = etcdElectionTimeoutMaxMs(t);
  assert.equal(max, 250);
  const at = (ms: number | undefined) => ({ member: 'http://a:2379', electionTimeoutMs: ms, heartbeatIntervalMs: undefined, ...(ms === undefined ? { unknownWhy: 'why' } : {}) });
  const defaults = judgeEtcdTiming(t, [at(1000)], undefined);
  assert.equal(defaults.refuse?.code, 'ETCD_TIMING_UNFIT');
  assert.match(defaults.refuse?.message ?? '', /http:\/\/a:2379 runs with --election-timeout 1000/);
  assert.match(defaults.refuse?.hint ?? '', /ETCD_ELECTION_TIMEOUT=250/);
  const fits = judgeEtcdTiming(t, [at(250), at(100)], undefined);
  assert.equal(fits.refuse, null);
  assert.equal(fits.warn, null);
  const unknown = judgeEtcdTiming(t, [at(100), at(undefined)], undefined);
  assert.equal(unknown.refuse, null);
  assert.equal(unknown.warn?.code, 'ETCD_TIMING_UNKNOWN');
  assert.equal(judgeEtcdTiming(t, [at(undefined)], 200).warn, null);
  assert.equal(judgeEtcdTiming(t, [at(undefined)], 1000).refuse?.code, 'ETCD_TIMING_UNFIT');
  // A longer self-fence deadline admits a longer election timeout.
  assert.equal(judgeEtcdTiming({ selfFenceMs: 2_500, heartbeatIntervalMs: 100 }, [at(1000)], undefined).refuse, null);
});

function startArgs(c: EtcdCluster, port: number, more: string[] = []): string[] {
  return [clusterdBin, 'start', '--quorum', c.spec(), '--node', 'n1', '--listen', `127.0.0.1:${port}`, '--data-dir', join(dir, `data-${port}`), '--auth-dir', join(dir, 'auth'), ...more];
}

test('clusterd refuses to start on an etcd left at its default election timeout, read from the member', { timeout: 60_000 }, async () => {
  const c = await etcd({ members: 1, heartbeatMs: 100, electionMs: 1000 });
  const read = await readEtcdRaftTiming(c.endpoints(), undefined);
  assert.deepEqual(read, [{ member: c.endpoints()[0], electionTimeoutMs: 1000, heartbeatIntervalMs: 100 }]);
  const r = spawnSync(process.execPath, startArgs(c, await freePort()), { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /error\[ETCD_TIMING_UNFIT\]/);
  assert.match(r.stderr, new RegExp(`${c.endpoints()[0]} runs with --election-timeout 1000`));
});

test('an election timeout set through the environment cannot be read: clusterd starts with ETCD_TIMING_UNKNOWN, and a stated misfit refuses', { timeout: 90_000 }, async () => {
  const c = await etcd({ members: 1, heartbeatMs: 10, electionMs: 100, timingInEnv: true });
  const [m] = await readEtcdRaftTiming(c.endpoints(), undefined);
  assert.equal(m?.electionTimeoutMs, undefined);
  assert.match(m?.unknownWhy ?? '', /ETCD_ELECTION_TIMEOUT/);

  const stated = spawnSync(process.execPath, startArgs(c, await freePort(), ['--etcd-election-timeout', '1000']), { encoding: 'utf8', timeout: 30_000 });
  assert.equal(stated.status, 2, stated.stderr);
  assert.match(stated.stderr, /error\[ETCD_TIMING_UNFIT\]/);
  assert.match(stated.stderr, /stated --etcd-election-timeout is 1000 ms/);

  const init = spawnSync(process.execPath, [clusterdBin, 'init', '--quorum', c.spec(), '--cluster', 'timing', '--auth-dir', join(dir, 'auth')], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(init.status, 0, init.stderr);
  const port = await freePort();
  const proc = spawn(process.execPath, startArgs(c, port), { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (b: Buffer) => { log += b.toString(); });
  try {
    await waitFor('the node to listen', () => log.includes('"LISTENING"') || proc.exitCode !== null, 60_000);
    assert.equal(proc.exitCode, null, log);
    const warning = log.split('\n').find((l) => l.includes('ETCD_TIMING_UNKNOWN'));
    assert.ok(warning, log);
    assert.equal((JSON.parse(warning) as { level: number }).level, 40);
    assert.match(warning, /--etcd-election-timeout/);
  } finally {
    proc.kill('SIGTERM');
    await waitFor('clusterd to stop', () => proc.exitCode !== null || proc.signalCode !== null, 30_000);
  }
});

test('a member serving TLS with client certificates is read with clusterd\'s etcd certificate', { timeout: 60_000 }, async () => {
  const certDir = join(dir, 'certs');
  mkdirSync(certDir);
  const certs = makeTestCertificates(certDir);
  const c = await etcd({ members: 1, heartbeatMs: 20, electionMs: 200, tls: { cert: certs.serverCert, key: certs.serverKey, ca: certs.ca } });
  const tls = { ca: readFileSync(certs.ca), cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) };
  assert.deepEqual(await readEtcdRaftTiming(c.endpoints(), tls), [{ member: c.endpoints()[0], electionTimeoutMs: 200, heartbeatIntervalMs: 20 }]);
  const [without] = await readEtcdRaftTiming(c.endpoints(), undefined);
  assert.equal(without?.electionTimeoutMs, undefined, 'without the certificate nothing is read');
  assert.match(without?.unknownWhy ?? '', /cannot be read/);
});
