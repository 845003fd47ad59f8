// A full quorum disk while a node fails (seed Q168460), with real clusterd processes on a real
// tmpfs: status, why and the API tell the truth (a group whose owner is Down is not Online, and
// the full disk is named as what holds its failover), a move is refused at once with
// QUORUM_DISK_FULL and never happens later, the coordinator's refused ownership writes are one
// condition with a count (not ten lines a second), and the failover happens once space is back.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { GroupView, StatusSnapshot, WhyView } from '../src/api/types.js';
import { freePort, httpText, TestCluster, waitFor } from './harness.js';

type ErrorBody = { error: { code: string } };

test('quorum disk full and an owner killed: status, why and moves say so; the failover happens when space returns', async (t) => {
  if (process.getuid?.() !== 0) assert.fail('this test mounts a tmpfs and needs root');
  const mnt = join('/tmp', `clusterd-qfull-${process.pid}`);
  mkdirSync(mnt, { recursive: true });
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=12m', 'tmpfs', mnt], { encoding: 'utf8' });
  assert.equal(m.status, 0, `cannot mount a tmpfs at ${mnt}: ${m.stderr}`);
  t.after(() => { spawnSync('umount', ['-l', mnt]); rmSync(mnt, { recursive: true, force: true }); });
  const c = await TestCluster.start(['n1', 'n2', 'n3'], { quorumPath: join(mnt, 'quorum') });
  t.after(() => c.close());

  // web runs on a node that is not the coordinator (that node is killed), db on the third node.
  const coord = (await c.status()).coordinator!;
  const [owner, third] = ['n1', 'n2', 'n3'].filter((n) => n !== coord) as [string, string];
  const webPort = await freePort();
  await c.addWebGroup('web', webPort, { preferred: [owner] });
  await c.addWebGroup('db', await freePort(), { preferred: [third] });
  const before = await c.waitStatus('web and db Online where preferred', (s) =>
    s.groups.some((g) => g.name === 'web' && g.node === owner && g.state === 'Online') &&
    s.groups.some((g) => g.name === 'db' && g.node === third && g.state === 'Online'), 30_000);
  const dbBefore = before.groups.find((g) => g.name === 'db')!;

  // Fill the quorum filesystem: every node sees it, even one with nothing to write.
  const filler = join(mnt, 'filler');
  spawnSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k'], { encoding: 'utf8' });
  for (const via of ['n1', 'n2', 'n3']) {
    await waitFor(`${via} sees the full quorum disk`, async () => (await c.status(via)).quorumWritesBlocked?.code === 'QUORUM_DISK_FULL');
  }

  c.nodes.get(owner)!.proc.kill('SIGKILL');
  const groupOf = (s: StatusSnapshot, g: string) => s.groups.find((x) => x.name === g)!;
  for (const via of [coord, third]) {
    const s = await waitFor(`${via} judges ${owner} Down`, async () => {
      const st = await c.status(via);
      return st.nodes.find((n) => n.name === owner)?.state === 'Down' ? st : null;
    });
    const web = groupOf(s, 'web');
    assert.equal(web.node, owner, 'the failover record could not be written');
    assert.equal(web.state, 'Pending', `a group whose owner is Down is not Online (via ${via}): ${JSON.stringify(web)}`);
    assert.equal(web.blockedBy, 'QUORUM_DISK_FULL');
    assert.equal(s.resources.find((r) => r.name === 'web-srv')!.state, 'Unknown', 'nobody can see a resource of a Down owner');
    assert.equal(s.quorumWritesBlocked?.code, 'QUORUM_DISK_FULL');
    const why = await c.api<WhyView>('/v1/groups/web/why', { via });
    assert.equal(why.status, 200);
    assert.equal(why.body.state, 'Pending');
    assert.equal(why.body.blockedBy, 'QUORUM_DISK_FULL', `cluster why names the full disk (via ${via}): ${JSON.stringify(why.body.reasons)}`);
  }
  await waitFor('the service is stopped by its self-fence', async () => (await httpText(`http://127.0.0.1:${webPort}/`)) === null);

  // Moves are refused at once, from any node, and remembered nowhere.
  for (const [group, via] of [['web', third], ['db', coord]] as const) {
    const r = await c.api<ErrorBody>(`/v1/groups/${group}/move`, { method: 'POST', body: { node: coord }, via });
    assert.equal(r.status, 507, `move of ${group}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.error.code, 'QUORUM_DISK_FULL');
  }

  // Space is back: the failover happens by itself; the refused move of db never does.
  rmSync(filler);
  const after = await c.waitStatus('web Online on another node', (s) => {
    const g = groupOf(s, 'web');
    return g.state === 'Online' && g.node !== owner && g.node !== null;
  }, 30_000);
  assert.ok(await waitFor('the service answers again', () => httpText(`http://127.0.0.1:${webPort}/`)));
  const db: GroupView = groupOf(after, 'db');
  assert.deepEqual([db.node, db.epoch, db.state], [third, dbBefore.epoch, 'Online'], 'a refused move is not carried out later');
  assert.equal(after.quorumWritesBlocked, undefined);

  const ev = await waitFor('the ownership writes recover, with their count', async () => {
    const e = await c.events();
    return e.some((x) => x.event === 'OWNERSHIP_WRITE_FAILED_RECOVERED') ? e : null;
  });
  const failed = ev.filter((e) => e.event === 'OWNERSHIP_WRITE_FAILED' && e.node === coord);
  const recovered = ev.filter((e) => e.event === 'OWNERSHIP_WRITE_FAILED_RECOVERED' && e.node === coord);
  assert.equal(recovered.length, 1);
  // Logged once when the condition started; the end line counts every refused write, however
  // many there were (one, if the coordinator stopped trying once it knew the disk full).
  assert.ok(Number(recovered[0]!.data?.count) >= Math.max(1, failed.length), `the end line counts every refused write (${JSON.stringify(recovered[0])}), at least as many as were logged (${failed.length})`);
  assert.ok(!ev.some((e) => e.event === 'GROUP_MOVING' && e.data?.group === 'db'), 'db was never taken offline to move');
  // One line when it started (and one a minute while it lasted), not one per cycle.
  const lines = c.readLog(coord).split('\n').filter((l) => l.includes('"event":"OWNERSHIP_WRITE_FAILED"'));
  assert.ok(lines.length <= failed.length, `log lines for refused ownership writes: ${lines.length}, events: ${failed.length}`);
  assert.ok(failed.length >= 1 && failed.length <= Number(recovered[0]!.data?.count));
});
