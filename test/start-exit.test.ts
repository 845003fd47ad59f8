// How `clusterd start` exits when it cannot start, as deploy/clusterd.service reads it: a quorum
// store that cannot be reached (etcd forming its quorum while the machines boot after a power
// cut) exits 75 and is restarted until it can be reached; a refusal that needs a person exits 2
// and is not. Real etcd members, real clusterd processes.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdCluster } from './etcd-harness.js';
import { clusterdBin, freePort, repoRoot } from './harness.js';
import { exitTempFail } from '../src/daemon/start-env.js';

const dir = mkdtempSync(join(tmpdir(), 'clusterd-start-exit-'));
const clusters: EtcdCluster[] = [];
after(async () => {
  for (const c of clusters) await c.stop();
  rmSync(dir, { recursive: true, force: true });
});

const start = async (quorum: string, more: string[] = []) => spawnSync(process.execPath, [clusterdBin, 'start', '--quorum', quorum, '--node', 'n1',
  '--listen', `127.0.0.1:${await freePort()}`, '--data-dir', join(dir, 'data-n1'), ...more], { encoding: 'utf8', timeout: 60_000 });

test('deploy/clusterd.service restarts a start that found the quorum store unreachable, and never gives up on it; other refusals are not restarted', () => {
  const unit = readFileSync(join(repoRoot, 'deploy', 'clusterd.service'), 'utf8').split('\n');
  assert.ok(unit.includes('Restart=on-failure'), 'restarted after a failure');
  assert.ok(unit.includes('RestartPreventExitStatus=2'), 'not after a refusal that needs a person');
  assert.ok(!unit.some((l) => l.startsWith('RestartPreventExitStatus=') && l.split(/[=\s]/).includes(String(exitTempFail))), `exit ${exitTempFail} is restarted`);
  assert.ok(unit.includes('StartLimitIntervalSec=0'), 'systemd\'s start limit would stop the restarts after 10 s');
});

test('a quorum store that cannot be reached: clusterd start exits 75 (restarted); missing credentials exit 2 (not restarted)', { timeout: 120_000 }, async () => {
  const etcd = await EtcdCluster.start({ members: 1, heartbeatMs: 25, electionMs: 250 });
  clusters.push(etcd);
  const auth = ['--auth-dir', join(dir, 'auth')];
  const init = spawnSync(process.execPath, [clusterdBin, 'init', '--quorum', etcd.spec(), '--cluster', 'boot', ...auth], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(init.status, 0, init.stderr);
  await etcd.stop(); // the machines boot: etcd has no member up yet
  const down = await start(etcd.spec(), auth);
  assert.equal(down.status, exitTempFail, down.stderr);
  assert.match(down.stderr, /error\[QUORUM_UNAVAILABLE\]/);
  // A refusal that no restart can end: the node's credentials are missing.
  const noAuth = await start(etcd.spec(), ['--auth-dir', join(dir, 'no-auth')]);
  assert.equal(noAuth.status, 2, noAuth.stderr);
  assert.match(noAuth.stderr, /error\[/);
  assert.doesNotMatch(noAuth.stderr, /QUORUM_UNAVAILABLE/);
});
