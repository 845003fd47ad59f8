// Disk resources on real clusters (issue 4): maintenance modes through the CLI with the
// maintenance-mode article's exact output (seed 004), their automatic clearing, the private
// sector (takeover refused while another writer's counter moves; a newer epoch stops the
// dependents at once), and, where a loop device can be made, a mounted ext4 filesystem.
// The CLI runs in-process (the same main() the `cluster` binary calls) to keep the many calls
// cheap; one call goes through the binary. Timings are never asserted.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ResourceView, StatusSnapshot } from '../src/api/types.js';
import { main } from '../src/cli/main.js';
import { deviceCheckIntervalMs, encodeSector, sectorWatchMs } from '../src/monitor/disk-agent.js';
import { canLoop, loopExt4, sharedCluster, sleep, TestCluster, waitFor } from './harness.js';

const writerJs = fileURLToPath(new URL('../../test/fixtures/writer-append.mjs', import.meta.url));

// One two-node cluster for the whole file (each test uses its own groups and takes them offline
// when it is done): starting clusters is the slow part on a loaded host.
const cluster = sharedCluster(['n1', 'n2']);

/** `cluster ARGS` in-process against this cluster. */
async function cli(c: TestCluster, args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (s) => { out += s; }, err: (s) => { err += s; }, env: { CLUSTERD_ENDPOINT: c.liveUrls().join(','), XDG_CONFIG_HOME: c.configHome } });
  return { code, out, err };
}

async function ok(c: TestCluster, args: string[]): Promise<string> {
  const r = await cli(c, args);
  assert.equal(r.code, 0, `cluster ${args.join(' ')}: ${r.err}`);
  assert.equal(r.err, '');
  return r.out;
}

async function refused(c: TestCluster, args: string[], code: string, hint?: RegExp): Promise<string> {
  const r = await cli(c, args);
  assert.notEqual(r.code, 0, `cluster ${args.join(' ')} should fail: ${r.out}`);
  assert.equal(r.out, '', 'a refused change prints only its error');
  assert.match(r.err, new RegExp(`^error\\[${code}\\]: `));
  if (hint) assert.match(r.err, hint);
  return r.err;
}

const header = 'Resource             Group                Node            Status\n' +
  '-------------------- -------------------- --------------- ------\n';
const row = (res: string, group: string, node: string, status: string) => `${res.padEnd(20)} ${group.padEnd(20)} ${node.padEnd(15)} ${status}\n`;
const ext = "Online(Ext Maintenance, Internal State 'Offline')";

async function resource(c: TestCluster, name: string): Promise<ResourceView> {
  const r = await c.api<ResourceView>(`/v1/resources/${encodeURIComponent(name)}`);
  assert.equal(r.status, 200);
  return r.body;
}

async function apply(c: TestCluster, groups: Record<string, unknown>): Promise<void> {
  const r = await c.api('/v1/apply', { method: 'POST', body: { spec: { groups }, dryRun: false } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

const writer = (lun: string, ackDir: string, extra: string[] = []) =>
  ({ command: process.execPath, args: [writerJs, join(lun, 'data.log'), ackDir, '--interval-ms', '20', ...extra] });

const groupOf = (s: StatusSnapshot, g: string) => s.groups.find((x) => x.name === g);
const resOf = (s: StatusSnapshot, r: string) => s.resources.find((x) => x.name === r);

test('maintenance modes through the CLI: the article\'s output, every allowed and refused transition, automatic clearing', async (t) => {
  const c = await cluster(t);
  const lunH = join(c.dir, 'lun-h');
  const lunJ = join(c.dir, 'lun-j');
  mkdirSync(lunH);
  mkdirSync(lunJ);
  await apply(c, {
    Exchange: { preferredOwners: ['n1', 'n2'], resources: {
      'Disk H:': { type: 'disk', priv: { path: lunH }, props: { restartDelayMs: 200 } },
      mailstore: { type: 'process', dependsOn: ['Disk H:'], priv: writer(lunH, join(c.dir, 'acks')) },
    } },
    Spare: { state: 'offline', resources: { 'Disk J:': { type: 'disk', priv: { path: lunJ } } } },
  });
  await c.waitStatus('Exchange Online', (s) => groupOf(s, 'Exchange')?.state === 'Online', 20_000);
  const on = (s: string, node = 'n1') => row('Disk H:', 'Exchange', node, s);

  await t.test('query, and Online -> Ext Maintenance is refused', async () => {
    assert.equal(await ok(c, ['TestCluster', 'res', 'Disk H:', '/maint']), header + on('Online'));
    await refused(c, ['res', 'Disk H:', '/extmaint:1'], 'MAINTENANCE_TRANSITION_REFUSED', /hint: .*\/maint:on/);
  });

  await t.test('Online -> Maintenance -> Ext Maintenance -> Maintenance -> Online, with the article\'s lines', async () => {
    assert.equal(await ok(c, ['.', 'res', 'Disk H:', '/maint:on']), "Setting maintenance mode for resource 'Disk H:'\n\n" + header + on('Online(Maintenance)'));
    assert.equal(await ok(c, ['res', 'Disk H:', '/maint']), header + on('Online(Maintenance)'));
    assert.equal(await ok(c, ['res', 'Disk H:', '/maint:1']), "Setting maintenance mode for resource 'Disk H:'\n\n" + header + on('Online(Maintenance)'), '1 means on');
    const setExt = await ok(c, ['res', 'Disk H:', '/extmaint:1']);
    assert.equal(setExt, "Setting extended maintenance mode for resource 'Disk H:'\n\n" + header + on(ext));
    assert.doesNotMatch(setExt, /System error 997/);
    const sector = readFileSync(join(lunH, '.clusterd-sector'));
    const since = Date.now();
    assert.equal(await ok(c, ['res', 'Disk H:']), "Listing status for resource 'Disk H:':\n\n" + header + on(ext));
    const s = await c.status();
    assert.equal(groupOf(s, 'Exchange')?.state, 'Online', 'the group still shows Online');
    assert.equal(resOf(s, 'mailstore')?.status, 'Online', 'its dependent still runs and shows Online');
    await refused(c, ['res', 'Disk H:', '/maint:off'], 'MAINTENANCE_TRANSITION_REFUSED', /hint: .*\/extmaint:0/);
    assert.equal(await ok(c, ['res', 'Disk H:', '/maint:on']), "Setting maintenance mode for resource 'Disk H:'\n\n" + header + on(ext), 'already more than in maintenance');
    const status = await ok(c, ['status']);
    assert.match(status, /Disk H: +disk +Online\(Ext Maintenance, Internal State 'Offline'\)/);
    assert.match(status, /Warnings:\n(?:.*\n)*  ! disk Disk H: on n1 has been in extended maintenance .*cluster res "Disk H:" \/extmaint:0 then \/maint:off/);
    assert.equal(await ok(c, ['res', 'Disk H:', '/waitmaint']), "Listing status for resource 'Disk H:':\n\n" + header + on(ext));
    // Extended maintenance stops the private-sector writes: nothing moves for more than a device-check interval.
    await sleep(Math.max(0, deviceCheckIntervalMs + 500 - (Date.now() - since)));
    assert.ok(readFileSync(join(lunH, '.clusterd-sector')).equals(sector), 'the private sector is not written in extended maintenance');
    assert.equal(await ok(c, ['res', 'Disk H:', '/extmaint:0']), "Clearing extended maintenance mode for resource 'Disk H:'\n\n" + header + on('Online(Maintenance)'));
    assert.equal(await ok(c, ['res', 'Disk H:', '/maint:0']), "Clearing maintenance mode for resource 'Disk H:'\n\n" + header + on('Online'));
    assert.ok(!readFileSync(join(lunH, '.clusterd-sector')).equals(sector), 'device checks resumed');
  });

  await t.test('--no-wait returns at once; /waitmaint and /waitmaintpending block until the internal state is stable', async () => {
    await ok(c, ['res', 'Disk H:', '/maint:on']);
    const quick = await ok(c, ['res', 'Disk H:', '/extmaint:1', '--no-wait']);
    assert.match(quick, /^Setting extended maintenance mode for resource 'Disk H:'\n\n/);
    assert.match(quick, /Online\(Ext Maintenance, Internal State '(OfflinePending|Offline)'\)\n$/);
    assert.equal(await ok(c, ['res', 'Disk H:', '/waitmaint:30']), "Listing status for resource 'Disk H:':\n\n" + header + on(ext));
    await ok(c, ['res', 'Disk H:', '/extmaint:0', '--no-wait']);
    assert.equal(await ok(c, ['res', 'Disk H:', '/waitmaintpending']), "Listing status for resource 'Disk H:':\n\n" + header + on('Online(Maintenance)'));
    await ok(c, ['res', 'Disk H:', '/maint:off']);
    // The binary itself, once.
    const bin = c.cli(['res', 'Disk H:', '/maint']);
    assert.equal(bin.code, 0, bin.err);
    assert.equal(bin.out, header + on('Online'));
  });

  await t.test('only Online disks: not a process, not an Offline disk (there is no witness type); bad values', async () => {
    await refused(c, ['res', 'mailstore', '/maint:on'], 'MAINTENANCE_NOT_ALLOWED', /only disk resources/);
    await refused(c, ['res', 'Witness', '/create', '/group:Spare', '/type:witness'], 'RESOURCE_TYPE_UNKNOWN', /witness/);
    await refused(c, ['res', 'Disk J:', '/maint:on'], 'MAINTENANCE_NOT_ALLOWED', /is Offline/);
    await refused(c, ['res', 'Disk J:', '/extmaint:1'], 'MAINTENANCE_NOT_ALLOWED');
    const spare = (await resource(c, 'Disk J:')).node ?? '';
    assert.equal(await ok(c, ['res', 'Disk J:', '/maint:off']), "Clearing maintenance mode for resource 'Disk J:'\n\n" + header + row('Disk J:', 'Spare', spare, 'Offline'), 'clearing what is not set is fine');
    const bad = await cli(c, ['res', 'Disk H:', '/maint:maybe']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /^error\[BAD_ARGUMENT\]/);
    const json = await cli(c, ['res', 'Disk H:', '/maint:on', '--json']);
    assert.equal(json.code, 0, json.err);
    assert.equal((JSON.parse(json.out) as ResourceView).maintenance?.mode, 'maintenance');
    await ok(c, ['res', 'Disk H:', '/maint:off']);
  });

  await t.test('cleared by a failure (restart in place), by going offline, and by a move', async () => {
    await ok(c, ['res', 'Disk H:', '/maint:on']);
    await ok(c, ['res', 'Disk H:', '/fail']);
    await waitFor('Disk H: restarted in place', async () => {
      const r = await resource(c, 'Disk H:');
      return r.state === 'Online' && r.restarts >= 1 && r.status === 'Online';
    }, 20_000);
    await ok(c, ['res', 'Disk H:', '/maint:on']);
    await ok(c, ['group', 'Exchange', '/offline']);
    assert.equal((await resource(c, 'Disk H:')).status, 'Offline');
    await ok(c, ['group', 'Exchange', '/online']);
    assert.equal((await resource(c, 'Disk H:')).status, 'Online', 'back online without maintenance');
    await ok(c, ['res', 'Disk H:', '/maint:on']);
    await ok(c, ['group', 'Exchange', '/move:n2']);
    const moved = await resource(c, 'Disk H:');
    assert.equal(moved.node, 'n2');
    assert.equal(moved.status, 'Online');
    assert.equal(moved.maintenance, undefined);
    const cleared = (await c.events()).filter((e) => e.event === 'MAINTENANCE_CLEARED' && e.node === 'n1').map((e) => e.message);
    assert.ok(cleared.some((m) => /it failed|OfflinePending/.test(m)), cleared.join('\n'));
    assert.ok(cleared.length >= 3, `one clearing per automatic case, got:\n${cleared.join('\n')}`);
  });

  await t.test('cleared by a node restart: in memory only', async () => {
    const p = await c.api('/v1/groups/Exchange', { method: 'PATCH', body: { possibleOwners: ['n2'] } });
    assert.equal(p.status, 200);
    assert.equal(await ok(c, ['res', 'Disk H:', '/maint:on']), "Setting maintenance mode for resource 'Disk H:'\n\n" + header + on('Online(Maintenance)', 'n2'));
    const n2 = c.nodes.get('n2')!;
    n2.proc.kill('SIGKILL');
    await n2.exited;
    await c.startNode('n2');
    // The killed clusterd's monitor released the sector; the new incarnation takes the disk under a new epoch.
    const back = await waitFor('Disk H: Online again on n2', async () => {
      const r = await resource(c, 'Disk H:');
      return r.node === 'n2' && r.state === 'Online' ? r : null;
    }, 10_000 + sectorWatchMs);
    assert.equal(back.status, 'Online');
    assert.equal(back.maintenance, undefined);
  });
});

test('private sector: no takeover while another writer\'s counter moves; a newer epoch stops the dependents at once', async (t) => {
  const c = await cluster(t);
  const lun = join(c.dir, 'lun-k');
  const acks = join(c.dir, 'acks-k');
  mkdirSync(lun);
  const sectorFile = join(lun, '.clusterd-sector');
  let counter = 0;
  const forge = (epoch: number) => writeFileSync(sectorFile, encodeSector({ node: 'n9', group: 'G2', resource: 'Disk K:', epoch, counter: ++counter, state: 'online' }));
  forge(0);
  const forger = setInterval(() => forge(0), 400);
  try {
    await apply(c, { G2: { preferredOwners: ['n1', 'n2'], resources: {
      // minFreeMb far above any disk's size: IsAlive warns about free space (an event, not a failure).
      'Disk K:': { type: 'disk', priv: { path: lun, minFreeMb: 1_000_000_000 }, props: { restartDelayMs: 200, restartThreshold: 100, isAliveIntervalMs: 500 } },
      app: { type: 'process', dependsOn: ['Disk K:'], priv: writer(lun, acks) },
    } } });
    const refusal = await waitFor('the online to be refused', async () =>
      (await c.events()).find((e) => e.event === 'RESOURCE_FAILED' && /Disk K:/.test(e.message) && /still in use/.test(e.message)), 15_000);
    assert.match(refusal.message, /another node still writes it/);
    assert.ok(!existsSync(join(lun, 'data.log')), 'its dependent never started');
  } finally {
    clearInterval(forger);
  }
  const s = await c.waitStatus('G2 Online once the counter stands still', (st) => groupOf(st, 'G2')?.state === 'Online', 20_000 + sectorWatchMs);
  const owner = groupOf(s, 'G2')!.node!;
  const epoch = groupOf(s, 'G2')!.epoch;
  const watched = (await c.events()).find((e) => e.event === 'RESOURCE_WARNING' && /did not move for \d+ ms/.test(e.message));
  assert.ok(watched, 'the takeover after the watch is in the event log');
  const lowSpace = await waitFor('the free-space warning', async () =>
    (await c.events()).find((e) => e.event === 'RESOURCE_WARNING' && /Disk K:/.test(e.message) && /below the warning threshold/.test(e.message)), 10_000);
  assert.equal(lowSpace.level, 'warning');
  assert.equal(groupOf(await c.status(), 'G2')?.state, 'Online', 'low free space warns, it does not fail the disk');
  const envFile = await waitFor('the writer to start', () => readdirSync(acks).find((f) => f.startsWith(`env-${owner}-${epoch}-`)));
  const env = JSON.parse(readFileSync(join(acks, envFile), 'utf8')) as { sector: string; epoch: number; pid: number };
  assert.equal(env.sector, sectorFile, 'CLUSTERD_DISK_SECTOR names the disk\'s private sector');
  assert.equal(env.epoch, epoch);

  // Another node takes the disk (a newer epoch in the sector): the owner kills the writer at once.
  forge(epoch + 50);
  const lost = await waitFor('DISK_LOST', async () => (await c.events()).find((e) => e.event === 'DISK_LOST' && e.node === owner), 3 * deviceCheckIntervalMs);
  assert.match(lost.message, new RegExp(`epoch ${epoch + 50}`));
  await waitFor('the writer to be gone', () => spawnSync('kill', ['-0', String(env.pid)]).status !== 0, 5_000);
  const after = (await c.events()).filter((e) => e.id > lost.id && e.node === owner);
  const restartedHere = after.some((e) => e.event === 'RESOURCE_RESTARTING' && /Disk K:|app/.test(e.message));
  assert.equal(restartedHere, false, 'nothing restarts in place on the node that lost the disk');
  const sectorNow = readFileSync(sectorFile, 'utf8');
  assert.match(sectorNow, new RegExp(`"epoch":${epoch + 50}`), 'the node that lost the disk never wrote the sector again');
});

const loopOk = canLoop();

test('block device: mounted on online, unmounted by extended maintenance, remounted, unmounted on offline', { skip: loopOk ? false : 'needs root, losetup and mkfs.ext4' }, async (t) => {
  const c = await cluster(t);
  const image = join(c.dir, 'lun.img');
  const mnt = join(c.dir, 'mnt');
  const dev = loopExt4(image, 32);
  t.after(() => {
    spawnSync('umount', ['-l', mnt]);
    spawnSync('losetup', ['-d', dev]);
  });
  const mounted = () => readFileSync('/proc/self/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === mnt);
  await apply(c, { Blk: { preferredOwners: ['n1', 'n2'], resources: {
    'Disk B:': { type: 'disk', priv: { device: dev, fstype: 'ext4', mountPoint: mnt } },
  } } });
  const first = groupOf(await c.waitStatus('Blk Online', (s) => groupOf(s, 'Blk')?.state === 'Online', 20_000), 'Blk')!.node!;
  const other = first === 'n1' ? 'n2' : 'n1';
  assert.ok(mounted(), 'mounted on online');
  assert.ok(existsSync(join(mnt, '.clusterd-sector')), 'the private sector is on the filesystem');
  const on = (s: string, node = first) => row('Disk B:', 'Blk', node, s);
  await ok(c, ['res', 'Disk B:', '/maint:on']);
  assert.equal(await ok(c, ['res', 'Disk B:', '/extmaint:1']), "Setting extended maintenance mode for resource 'Disk B:'\n\n" + header + on(ext));
  assert.equal(mounted(), false, 'extended maintenance dismounts it');
  assert.equal(groupOf(await c.status(), 'Blk')?.state, 'Online', 'while the group still shows Online');
  assert.equal(await ok(c, ['res', 'Disk B:', '/extmaint:0']), "Clearing extended maintenance mode for resource 'Disk B:'\n\n" + header + on('Online(Maintenance)'));
  assert.ok(mounted(), 'remounted');

  await t.test('a dismount that finds the disk busy fails clearly and leaves it in maintenance', async () => {
    const held = openSync(join(mnt, 'held-open'), 'w');
    try {
      const r = await cli(c, ['res', 'Disk B:', '/extmaint:1']);
      assert.equal(r.code, 1, r.out + r.err);
      assert.match(r.err, /^error\[MAINTENANCE_FAILED\]: .*busy/);
      assert.match(r.out, /Online\(Maintenance\)\n$/);
      assert.ok(mounted());
    } finally {
      closeSync(held);
    }
  });
  await ok(c, ['res', 'Disk B:', '/maint:off']);
  await ok(c, ['group', 'Blk', `/move:${other}`]);
  assert.equal((await resource(c, 'Disk B:')).node, other);
  assert.ok(mounted(), `mounted by ${other}`);
  await ok(c, ['group', 'Blk', '/offline']);
  assert.equal(mounted(), false, 'unmounted on offline');
});
