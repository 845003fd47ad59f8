// `npm run bench:backup`: backup freeze/thaw figures (issue 7) on real clusterd processes. Prints
// figures; asserts nothing. Options (environment):
//   BENCH_BACKUP_PAIRS=200      sequential freeze/thaw pairs per writer kind
//   BENCH_BACKUP_TIMEOUTS=10    freezes left to time out (limit 1 s)
//   BENCH_BACKUP_RACE_PAIRS=300 freezes sent without waiting and thawed 0-120 ms later, on ext4
//                               with a bulk writer and a shell-loop SIGSTOP writer: counts the
//                               pairs that left the filesystem frozen (must be 0) and failures
// The fsfreeze figures need root, losetup and mkfs.ext4 (skipped otherwise).

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BackupView } from '../src/core/backup.js';
import { authFor, TestCluster, waitFor } from '../test/harness.js';

const writerJs = fileURLToPath(new URL('../../test/fixtures/freezable-writer.mjs', import.meta.url));
const pairs = Number(process.env.BENCH_BACKUP_PAIRS ?? 200);
const timeouts = Number(process.env.BENCH_BACKUP_TIMEOUTS ?? 10);
const racePairs = Number(process.env.BENCH_BACKUP_RACE_PAIRS ?? 300);
const bulkJs = fileURLToPath(new URL('../../test/fixtures/bulk-writer.mjs', import.meta.url));

function stats(label: string, xs: number[]): void {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  console.log(`${label.padEnd(58)} n=${String(s.length).padEnd(4)} min ${s[0]!.toFixed(1)}  median ${at(0.5).toFixed(1)}  p99 ${at(0.99).toFixed(1)}  max ${s[s.length - 1]!.toFixed(1)} ms`);
}

async function post(url: string, path: string, body: unknown = {}): Promise<BackupView & { error?: { code: string } }> {
  const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...authFor(url) }, body: JSON.stringify(body) });
  return (await res.json()) as BackupView & { error?: { code: string } };
}

async function apply(c: TestCluster, groups: Record<string, unknown>): Promise<void> {
  const r = await c.api('/v1/apply', { method: 'POST', body: { spec: { groups }, dryRun: false } });
  if (r.status !== 200) throw new Error(JSON.stringify(r.body));
}

async function pairsOf(c: TestCluster, group: string, label: string): Promise<void> {
  const s = await c.waitStatus(`${group} Online`, (st) => st.groups.find((g) => g.name === group)?.state === 'Online', 30_000);
  const url = c.nodes.get(s.groups.find((g) => g.name === group)!.node!)!.url;
  const freezeClient: number[] = [];
  const thawClient: number[] = [];
  const frozenOwner: number[] = [];
  const thawOwner: number[] = [];
  for (let i = 0; i < pairs; i++) {
    const t0 = performance.now();
    const f = await post(url, '/v1/backups', { target: group, timeoutMs: 10_000 });
    const t1 = performance.now();
    const th = await post(url, `/v1/backups/${encodeURIComponent(f.id)}/thaw`);
    const t2 = performance.now();
    if (f.state !== 'Frozen' || th.state !== 'Thawed') throw new Error(`pair ${i}: ${JSON.stringify(f)} ${JSON.stringify(th)}`);
    freezeClient.push(t1 - t0);
    thawClient.push(t2 - t1);
    frozenOwner.push(f.frozenAfterMs!);
    thawOwner.push(th.endedAfterMs! - th.thawAskedAfterMs!);
  }
  stats(`${label}: freeze request -> answered Frozen (client)`, freezeClient);
  stats(`${label}: freeze began -> every writer frozen (owner)`, frozenOwner);
  stats(`${label}: thaw request -> answered Thawed (client)`, thawClient);
  stats(`${label}: thaw asked -> every writer thawed (owner)`, thawOwner);
}

async function timeoutsOf(c: TestCluster, group: string, label: string): Promise<void> {
  const s = await c.status();
  const url = c.nodes.get(s.groups.find((g) => g.name === group)!.node!)!.url;
  const late: number[] = [];
  const fired: number[] = [];
  for (let i = 0; i < timeouts; i++) {
    const f = await post(url, '/v1/backups', { target: group, timeoutMs: 1_000 });
    const v = await waitFor('the timeout', async () => {
      const r = (await (await fetch(`${url}/v1/backups/${encodeURIComponent(f.id)}`, { headers: authFor(url) })).json()) as BackupView;
      return r.endedAfterMs !== null ? r : null;
    }, 10_000, 50);
    fired.push(v.failedAfterMs! - 1_000);
    late.push(v.endedAfterMs! - 1_000);
  }
  stats(`${label}: limit 1 s, no thaw: timeout fired after the limit`, fired);
  stats(`${label}: limit 1 s, no thaw: every writer thawed after the limit`, late);
}

/** Freeze without waiting, thaw 0-120 ms later; after each thaw answered, ask the kernel whether the filesystem is frozen (fsfreeze -u: EINVAL when not). */
async function raceOf(c: TestCluster, group: string, mnt: string): Promise<void> {
  const s = await c.waitStatus(`${group} Online`, (st) => st.groups.find((g) => g.name === group)?.state === 'Online', 30_000);
  const url = c.nodes.get(s.groups.find((g) => g.name === group)!.node!)!.url;
  let leaks = 0;
  const outcomes = new Map<string, number>();
  const thawMs: number[] = [];
  for (let i = 0; i < racePairs; i++) {
    const f = await post(url, '/v1/backups', { target: group, timeoutMs: 20_000, wait: false });
    await new Promise((r) => setTimeout(r, Math.random() * 120));
    const t0 = performance.now();
    const th = await post(url, `/v1/backups/${encodeURIComponent(f.id)}/thaw`);
    thawMs.push(performance.now() - t0);
    const key = `${th.state}${th.error ? ` ${th.error.code}` : ''}`;
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    if (spawnSync('fsfreeze', ['-u', mnt], { timeout: 5_000 }).status === 0) leaks += 1;
  }
  console.log(`race: ${racePairs} pairs (freeze without waiting, thaw 0-120 ms later): frozen after the thaw answered ${leaks}; outcomes ${[...outcomes].map(([k, n]) => `${k} ${n}`).join(', ')}`);
  stats('race: thaw request -> answered (client)', thawMs);
}

async function main(): Promise<void> {
  const c = await TestCluster.start(['n1', 'n2']);
  const cleanup: (() => void)[] = [];
  try {
    await apply(c, { sig: { preferredOwners: ['n1'], resources: { 'sig-w': { type: 'process', priv: { command: process.execPath, args: [writerJs, 'run', join(c.dir, 'sig')], freezeSignal: 'SIGSTOP' } } } } });
    await pairsOf(c, 'sig', 'SIGSTOP writer');
    await timeoutsOf(c, 'sig', 'SIGSTOP writer');
    const dir = join(c.dir, 'cmd');
    await apply(c, { cmd: { preferredOwners: ['n1'], resources: { 'cmd-w': { type: 'process', priv: {
      command: process.execPath, args: [writerJs, 'run', dir], freezeCommand: [process.execPath, writerJs, 'freeze', dir], thawCommand: [process.execPath, writerJs, 'thaw', dir],
    } } } } });
    await pairsOf(c, 'cmd', 'command writer (node scripts)');
    const canLoop = process.getuid?.() === 0 && ['losetup', 'mkfs.ext4', 'fsfreeze'].every((b) => spawnSync('sh', ['-c', `command -v ${b}`]).status === 0);
    if (canLoop) {
      const image = join(c.dir, 'lun.img');
      const mnt = join(c.dir, 'mnt');
      spawnSync('truncate', ['-s', '512M', image]);
      spawnSync('mkfs.ext4', ['-q', '-F', image]);
      const dev = spawnSync('losetup', ['-f', '--show', image], { encoding: 'utf8' }).stdout.trim();
      cleanup.push(() => { spawnSync('fsfreeze', ['-u', mnt], { timeout: 5_000 }); spawnSync('umount', ['-l', mnt]); spawnSync('losetup', ['-d', dev]); });
      await apply(c, { fs: { preferredOwners: ['n1'], resources: {
        'fs-disk': { type: 'disk', priv: { device: dev, fstype: 'ext4', mountPoint: mnt, freeze: 'fsfreeze' } },
        'fs-app': { type: 'process', dependsOn: ['fs-disk'], priv: { command: process.execPath, args: [writerJs, 'run', join(c.dir, 'fsw'), '--file', join(mnt, 'out')] } },
      } } });
      await waitFor('writes on the filesystem', () => existsSync(join(mnt, 'out')), 30_000);
      await pairsOf(c, 'fs', 'fsfreeze (ext4 on loop, a writer on it)');
      await timeoutsOf(c, 'fs', 'fsfreeze');
      await apply(c, { fs: { preferredOwners: ['n1'], resources: {
        'fs-disk': { type: 'disk', priv: { device: dev, fstype: 'ext4', mountPoint: mnt, freeze: 'fsfreeze' } },
        'fs-app': { type: 'process', dependsOn: ['fs-disk'], priv: { command: process.execPath, args: [writerJs, 'run', join(c.dir, 'fsw'), '--file', join(mnt, 'out')] } },
        'fs-bulk': { type: 'process', dependsOn: ['fs-disk'], priv: { command: process.execPath, args: [bulkJs, join(mnt, 'bulk')] } },
        'fs-sh': { type: 'process', dependsOn: ['fs-disk'], priv: { command: '/bin/sh', args: ['-c', `while :; do date >> ${join(mnt, 'dates')}; sleep 0.01; done`], freezeSignal: 'SIGSTOP' } },
      } } });
      await raceOf(c, 'fs', mnt);
      const off = await c.api('/v1/groups/fs/offline', { method: 'POST', body: {} });
      if (off.status !== 200) throw new Error(`offline: ${JSON.stringify(off.body)}`);
      await c.waitStatus('fs Offline', (st) => st.groups.find((g) => g.name === 'fs')?.state === 'Offline', 30_000);
    } else {
      console.log('fsfreeze: skipped (needs root, losetup, mkfs.ext4, fsfreeze)');
    }
  } finally {
    for (const f of cleanup) f();
    await c.close();
  }
}

await main();
