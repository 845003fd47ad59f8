// The private sector across stops and takeovers, on real clusterd processes: every stop on
// purpose leaves the sector released (a move out of extended maintenance, a kill -9 of the
// owner's clusterd with a mounted block device), so the next owner takes the disk without the
// sector watch; a sector holding a newer epoch than the cluster's is refused with
// DISK_SECTOR_EPOCH_AHEAD and cleared by `clusterd disk clear-sector`. What the next owner found
// is its DISK_SECTOR_CLAIMED event (data.found): no wall-clock time is asserted.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StatusSnapshot } from '../src/api/types.js';
import type { ClusterEvent } from '../src/store/types.js';
import { main } from '../src/cli/main.js';
import { decodeSector, encodeSector } from '../src/monitor/disk-agent.js';
import { canLoop, clusterdBin, loopExt4, sharedCluster, TestCluster, waitFor } from './harness.js';

const cluster = sharedCluster(['n1', 'n2']);

async function cli(c: TestCluster, args: string[]): Promise<string> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (s) => { out += s; }, err: (s) => { err += s; }, env: { CLUSTERD_ENDPOINT: c.liveUrls().join(','), XDG_CONFIG_HOME: c.configHome } });
  assert.equal(code, 0, `cluster ${args.join(' ')}: ${err}`);
  return out;
}

async function apply(c: TestCluster, groups: Record<string, unknown>): Promise<void> {
  const r = await c.api('/v1/apply', { method: 'POST', body: { spec: { groups }, dryRun: false } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

const groupOf = (s: StatusSnapshot, g: string) => s.groups.find((x) => x.name === g);

async function onlineOn(c: TestCluster, group: string, timeoutMs = 30_000, node?: string): Promise<{ node: string; epoch: number }> {
  const s = await c.waitStatus(`${group} Online${node ? ` on ${node}` : ''}`, (st) => groupOf(st, group)?.state === 'Online' && (node === undefined || groupOf(st, group)?.node === node), timeoutMs);
  const g = groupOf(s, group)!;
  return { node: g.node!, epoch: g.epoch };
}

const isWatch = (e: ClusterEvent, resource: string): boolean => e.event === 'RESOURCE_WARNING' && e.message.includes(resource) && /did not move for \d+ ms/.test(e.message);

/** The DISK_SECTOR_CLAIMED event of `resource` under `epoch`; fails at once on a sector watch of it after event `afterId`. */
async function claimed(c: TestCluster, resource: string, epoch: number, afterId: number, timeoutMs = 30_000): Promise<ClusterEvent> {
  const e = await waitFor(`DISK_SECTOR_CLAIMED of ${resource} under epoch ${epoch}`, async () =>
    (await c.events()).find((x) => (x.event === 'DISK_SECTOR_CLAIMED' && x.data?.resource === resource && x.data.epoch === epoch) || (x.id > afterId && isWatch(x, resource))), timeoutMs);
  assert.equal(e.event, 'DISK_SECTOR_CLAIMED', `the next owner watched the sector: ${e.message}`);
  return e;
}

async function watchWarnings(c: TestCluster, resource: string): Promise<string[]> {
  return (await c.events()).filter((e) => isWatch(e, resource)).map((e) => e.message);
}

const lastEventId = async (c: TestCluster): Promise<number> => (await c.events()).reduce((m, e) => Math.max(m, e.id), 0);

function clusterd(args: string[]): { code: number; out: string } {
  const r = spawnSync(process.execPath, [clusterdBin, ...args], { encoding: 'utf8' });
  return { code: r.status ?? -1, out: r.stdout + r.stderr };
}

test('a directory disk moved out of extended maintenance: the next owner finds its sector released', async (t) => {
  const c = await cluster(t);
  const lun = join(c.dir, 'lun-x');
  mkdirSync(lun);
  await apply(c, { GX: { preferredOwners: ['n1', 'n2'], resources: { 'Disk X:': { type: 'disk', priv: { path: lun } } } } });
  const first = await onlineOn(c, 'GX');
  const other = first.node === 'n1' ? 'n2' : 'n1';
  await cli(c, ['res', 'Disk X:', '/maint:on']);
  await cli(c, ['res', 'Disk X:', '/extmaint:1']);
  const beforeMove = await lastEventId(c);
  await cli(c, ['group', 'GX', `/move:${other}`]);
  const moved = await onlineOn(c, 'GX', 30_000, other);
  assert.equal(moved.node, other);
  const e = await claimed(c, 'Disk X:', moved.epoch, beforeMove);
  assert.equal(e.node, other);
  assert.equal(e.data?.found, 'released', e.message);
  assert.equal(e.data?.sectorNode, first.node);
  assert.equal(e.data?.sectorEpoch, first.epoch);
  assert.deepEqual(await watchWarnings(c, 'Disk X:'), [], 'no sector watch');
});

test('a newer epoch in the sector: DISK_SECTOR_EPOCH_AHEAD, then clusterd disk clear-sector (refused while the disk is held Online)', async (t) => {
  const c = await cluster(t);
  const lun = join(c.dir, 'lun-r');
  mkdirSync(lun);
  const sector = join(lun, '.clusterd-sector');
  // What a cluster leaves behind before its store is rebuilt: its own name, a node of it, epoch 50, released.
  writeFileSync(sector, encodeSector({ cluster: 'test', node: 'n1', group: 'GR', resource: 'Disk R:', epoch: 50, counter: 9, state: 'released' } as Parameters<typeof encodeSector>[0]));
  await apply(c, { GR: { preferredOwners: ['n1', 'n2'], resources: { 'Disk R:': { type: 'disk', priv: { path: lun } } } } });
  const refusal = await waitFor('the online to be refused', async () =>
    (await c.events()).find((e) => e.event === 'RESOURCE_FAILED' && e.message.includes('Disk R:') && e.message.includes('error[DISK_SECTOR_EPOCH_AHEAD]')), 30_000);
  assert.doesNotMatch(refusal.message, /another node has taken the disk/);
  assert.match(refusal.message, new RegExp(`clusterd disk clear-sector --path ${lun}`));
  assert.equal(decodeSector(readFileSync(sector)).kind, 'ok');

  const bad = clusterd(['disk', 'clear-sector']);
  assert.equal(bad.code, 2);
  assert.match(bad.out, /^error\[BAD_ARGUMENT\]/);
  // Every node refuses it until it is cleared: restarts and failover end with the group Failed.
  // The group also shows Failed for a moment between two restarts and between one node's last
  // restart and its failover: the end is the coordinator leaving it Failed (its failover threshold),
  // after which nothing starts it until an operator does. Then no online can write a new sector
  // between the clear and the check below.
  await waitFor('GR left Failed at its failover threshold', async () =>
    (await c.events()).some((e) => e.event === 'GROUP_FAILOVER_THRESHOLD' && e.message.startsWith('group GR ')), 60_000);
  const refusedOn = new Set((await c.events()).filter((e) => e.event === 'RESOURCE_FAILED' && e.message.includes('Disk R:')).map((e) => e.node));
  assert.deepEqual([...refusedOn].sort(), [...c.nodes.keys()].sort(), 'every node refused the disk');
  await waitFor('GR Failed', async () => groupOf(await c.status(), 'GR')?.state === 'Failed', 60_000);
  // Every node's view: no online of it is still under way anywhere when the sector is cleared.
  await waitFor('GR Failed as every node sees it', async () => {
    for (const n of c.nodes.keys()) if (groupOf(await c.status(n), 'GR')?.state !== 'Failed') return false;
    return (await c.status()).resources.filter((r) => r.name === 'Disk R:').every((r) => r.state !== 'OnlinePending');
  }, 60_000);
  const cleared = clusterd(['disk', 'clear-sector', '--path', lun]);
  assert.equal(cleared.code, 0, cleared.out);
  assert.ok(!existsSync(sector), 'the sector is gone');
  await cli(c, ['group', 'GR', '/online']);
  const on = await onlineOn(c, 'GR');
  const e = await claimed(c, 'Disk R:', on.epoch, 0);
  assert.equal(e.data?.found, 'absent');

  // Held Online: its device checks move the sector within the watch.
  const held = clusterd(['disk', 'clear-sector', '--path', lun]);
  assert.equal(held.code, 1, held.out);
  assert.match(held.out, /^error\[DISK_SECTOR_IN_USE\]/);
  assert.ok(existsSync(sector));
});

const loopOk = canLoop();

test('a block-device disk: released by a move out of extended maintenance and by a kill -9 of its owner\'s clusterd', { skip: loopOk ? false : 'needs root, losetup and mkfs.ext4' }, async (t) => {
  const c = await cluster(t);
  const image = join(c.dir, 'lun-s.img');
  const mnt = join(c.dir, 'mnt-s');
  const dev = loopExt4(image, 32);
  t.after(() => {
    spawnSync('umount', ['-l', mnt]);
    spawnSync('losetup', ['-d', dev]);
  });
  await apply(c, { GS: { preferredOwners: ['n1', 'n2'], resources: {
    'Disk S:': { type: 'disk', priv: { device: dev, fstype: 'ext4', mountPoint: mnt } },
  } } });
  const first = await onlineOn(c, 'GS');
  const other = first.node === 'n1' ? 'n2' : 'n1';

  await cli(c, ['res', 'Disk S:', '/maint:on']);
  await cli(c, ['res', 'Disk S:', '/extmaint:1']);
  const beforeMove = await lastEventId(c);
  await cli(c, ['group', 'GS', `/move:${other}`]);
  const moved = await onlineOn(c, 'GS', 30_000, other);
  assert.equal(moved.node, other);
  const e1 = await claimed(c, 'Disk S:', moved.epoch, beforeMove);
  assert.equal(e1.data?.found, 'released', e1.message);
  assert.equal(e1.data?.sectorNode, first.node);

  // kill -9 of the owner's clusterd: its monitor kills everything, detaches the mount, releases the sector.
  const beforeKill = await lastEventId(c);
  const owner = c.nodes.get(other)!;
  owner.proc.kill('SIGKILL');
  await owner.exited;
  const taken = await onlineOn(c, 'GS', 60_000, first.node);
  assert.equal(taken.node, first.node);
  const e2 = await claimed(c, 'Disk S:', taken.epoch, beforeKill);
  assert.equal(e2.data?.found, 'released', e2.message);
  assert.equal(e2.data?.sectorNode, other);
  assert.equal(e2.data?.sectorEpoch, moved.epoch);
  assert.deepEqual(await watchWarnings(c, 'Disk S:'), [], 'no sector watch');
  await c.startNode(other);
  await c.waitStatus(`${other} Up again`, (s) => s.nodes.find((n) => n.name === other)?.state === 'Up', 30_000);
});
