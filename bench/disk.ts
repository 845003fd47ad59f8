// `npm run bench:disk`: how long a disk group is down when it changes node, on real clusterd
// processes (2 nodes, default timing): from the move request (or the kill -9 of the owner's
// clusterd) until the group shows Online on the other node. Prints figures; asserts nothing.
//   BENCH_DISK_RUNS=3   runs per case
// The block-device cases need root, losetup and mkfs.ext4 (skipped otherwise).

import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { main as cli } from '../src/cli/main.js';
import { TestCluster } from '../test/harness.js';

const runs = Number(process.env.BENCH_DISK_RUNS ?? 3);
/** Status polls while waiting for the group: fine enough for outages of a few hundred ms. */
const pollMs = 10;

function stats(label: string, xs: number[]): void {
  const s = [...xs].sort((a, b) => a - b);
  console.log(`${label.padEnd(72)} n=${s.length}  min ${s[0]!.toFixed(0)}  median ${s[Math.floor(s.length / 2)]!.toFixed(0)}  max ${s[s.length - 1]!.toFixed(0)} ms`);
}

async function run(c: TestCluster, args: string[]): Promise<void> {
  let err = '';
  const code = await cli(args, { out: () => undefined, err: (s) => { err += s; }, env: { CLUSTERD_ENDPOINT: c.liveUrls().join(',') } });
  if (code !== 0) throw new Error(`cluster ${args.join(' ')}: ${err}`);
}

async function ownerOf(c: TestCluster, group: string, not?: string): Promise<string> {
  for (;;) {
    const g = (await c.status().catch(() => null))?.groups.find((x) => x.name === group);
    if (g?.state === 'Online' && g.node && g.node !== not) return g.node;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** One case: `before` prepares the owner, `act` moves the group away; the figure is act until Online elsewhere. */
async function measure(c: TestCluster, group: string, disk: string, label: string, how: 'move' | 'move-ext' | 'kill'): Promise<void> {
  const xs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const owner = await ownerOf(c, group);
    const other = owner === 'n1' ? 'n2' : 'n1';
    if (how === 'move-ext') {
      await run(c, ['res', disk, '/maint:on']);
      await run(c, ['res', disk, '/extmaint:1']);
    }
    const t0 = performance.now();
    if (how === 'kill') {
      const np = c.nodes.get(owner)!;
      np.proc.kill('SIGKILL');
      await np.exited;
    } else {
      await run(c, ['group', group, `/move:${other}`, '--no-wait']);
    }
    await ownerOf(c, group, owner);
    xs.push(performance.now() - t0);
    if (how === 'kill') await c.startNode(owner);
  }
  stats(label, xs);
}

async function main(): Promise<void> {
  const c = await TestCluster.start(['n1', 'n2']);
  const canLoop = process.getuid?.() === 0 && ['losetup', 'mkfs.ext4'].every((b) => spawnSync('sh', ['-c', `command -v ${b}`]).status === 0);
  let dev: string | undefined;
  try {
    const lun = join(c.dir, 'lun');
    mkdirSync(lun);
    const groups: Record<string, unknown> = { GD: { preferredOwners: ['n1', 'n2'], resources: { 'Disk D:': { type: 'disk', priv: { path: lun } } } } };
    if (canLoop) {
      const image = join(c.dir, 'lun.img');
      spawnSync('truncate', ['-s', '32M', image]);
      spawnSync('mkfs.ext4', ['-q', '-F', image]);
      dev = spawnSync('losetup', ['-f', '--show', image], { encoding: 'utf8' }).stdout.trim();
      groups.GB = { preferredOwners: ['n1', 'n2'], resources: { 'Disk B:': { type: 'disk', priv: { device: dev, fstype: 'ext4', mountPoint: join(c.dir, 'mnt') } } } };
    }
    const r = await c.api('/v1/apply', { method: 'POST', body: { spec: { groups }, dryRun: false } });
    if (r.status !== 200) throw new Error(JSON.stringify(r.body));
    await measure(c, 'GD', 'Disk D:', 'directory disk: planned move', 'move');
    await measure(c, 'GD', 'Disk D:', 'directory disk: planned move from extended maintenance', 'move-ext');
    await measure(c, 'GD', 'Disk D:', 'directory disk: kill -9 of the owner\'s clusterd', 'kill');
    if (canLoop) {
      await measure(c, 'GB', 'Disk B:', 'ext4 block device: planned move', 'move');
      await measure(c, 'GB', 'Disk B:', 'ext4 block device: planned move from extended maintenance', 'move-ext');
      await measure(c, 'GB', 'Disk B:', 'ext4 block device: kill -9 of the owner\'s clusterd', 'kill');
    } else {
      console.log('block-device cases skipped (need root, losetup and mkfs.ext4)');
    }
  } finally {
    await c.close();
    if (dev !== undefined) {
      spawnSync('umount', ['-l', join(c.dir, 'mnt')]);
      spawnSync('losetup', ['-d', dev]);
    }
  }
}

await main();
