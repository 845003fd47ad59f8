// What a node logs while it cannot reach its quorum store: one warning when cycles start failing
// (the store's own code and message, no stack trace: being cut off is a state, not a bug), a
// count while it lasts, and one line when cycles complete again. The etcd member is stopped
// (SIGSTOP) and resumed: every call to it runs out of time, as across a cut link.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdCluster } from './etcd-harness.js';
import { clusterdBin, freePort, sleep, waitFor } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'clusterd-partition-log-'));
let etcd: EtcdCluster | null = null;
let node: ChildProcess | null = null;
after(async () => {
  if (etcd?.members[0]?.proc) etcd.members[0].proc.kill('SIGCONT');
  if (node && node.exitCode === null && node.signalCode === null) { node.kill('SIGKILL'); await new Promise((r) => node!.once('exit', r)); }
  await etcd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Line { level: number; event?: string; code?: string; msg: string; count?: number }

test('cut off from etcd: one CYCLE_ERROR warning with the store\'s code and no stack, one line when it ends', { timeout: 120_000 }, async () => {
  etcd = await EtcdCluster.start({ members: 1 });
  const init = spawnSync(process.execPath, [clusterdBin, 'init', '--quorum', etcd.spec(), '--cluster', 'cut', '--auth-dir', join(dir, 'auth')], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(init.status, 0, init.stderr);
  const port = await freePort();
  node = spawn(process.execPath, [clusterdBin, 'start', '--quorum', etcd.spec(), '--node', 'n1', '--listen', `127.0.0.1:${port}`,
    '--data-dir', join(dir, 'data'), '--auth-dir', join(dir, 'auth')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  node.stderr!.on('data', (b: Buffer) => { log += b.toString(); });
  await waitFor('the node to listen', () => log.includes('"LISTENING"') || node!.exitCode !== null, 60_000);
  await waitFor('the node ready', async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => null))?.status === 200, 60_000);
  const from = log.length;
  const member = etcd.members[0]!.proc!;
  member.kill('SIGSTOP');
  const lines = (): Line[] => log.slice(from).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line);
  const cycleErrors = () => lines().filter((l) => l.event === 'CYCLE_ERROR');
  try {
    await waitFor('cycles to fail', () => cycleErrors().length > 0, 60_000);
    // Several cycles' worth of failures (each etcd call runs out after 500 ms).
    await sleep(5_000);
  } finally {
    member.kill('SIGCONT');
  }
  const ended = await waitFor('CYCLE_ERROR_RECOVERED', () => lines().find((l) => l.event === 'CYCLE_ERROR_RECOVERED'), 60_000);
  const started = cycleErrors();
  assert.equal(started.length, 1, JSON.stringify(started));
  assert.equal(started[0]!.level, 40, 'a warning, not an error');
  assert.equal(started[0]!.code, 'QUORUM_UNAVAILABLE');
  assert.doesNotMatch(started[0]!.msg, /\n\s+at /, 'no stack trace');
  assert.ok((ended.count ?? 0) > 1, `the end line counts the failures: ${JSON.stringify(ended)}`);
  assert.doesNotMatch(ended.msg, /\n\s+at /);
  assert.equal(lines().filter((l) => l.event === 'CYCLE_ERROR_RECOVERED').length, 1);
});
