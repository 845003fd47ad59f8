// Real clusters on loopback: clusterd processes, the dir quorum store, real services.
// What each test shows is in its name; timings are never asserted here (see bench/).

import { test, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { freePort, httpText, processRunning, sleep, TestCluster, waitFor, clusterdBin } from './harness.js';

const clusters: TestCluster[] = [];
after(async () => { for (const c of clusters) await c.close(); });

/** A cluster that stops when the test `t` ends, so that only one runs at a time. */
async function cluster(t: TestContext, names = ['n1', 'n2', 'n3'], startArgs: string[] = []): Promise<TestCluster> {
  const c = await TestCluster.start(names, { startArgs });
  clusters.push(c);
  t.after(() => c.close());
  return c;
}

const servedBy = (text: string | null) => /served by (\S+) \(epoch (\d+)\)/.exec(text ?? '');

test('kill -9 of the owner: its watchdog stops the service and another node serves it, never two at once', async (t) => {
  const c = await cluster(t);
  const port = await freePort();
  await c.addWebGroup('web', port, { preferred: ['n1', 'n2', 'n3'] });
  const first = await waitFor('web to answer', async () => servedBy(await httpText(`http://127.0.0.1:${port}/`)));
  assert.equal(first[1], 'n1');
  const oldPid = (await c.status()).resources.find((r) => r.name === 'web-srv');
  assert.ok(oldPid);
  c.nodes.get('n1')!.proc.kill('SIGKILL');
  const next = await waitFor('web to answer from another node', async () => {
    const m = servedBy(await httpText(`http://127.0.0.1:${port}/`));
    return m && m[1] !== 'n1' ? m : null;
  });
  assert.ok(Number(next[2]) > Number(first[2]), 'the new owner runs under a newer epoch');
  // Exactly one web service process for this port.
  const procs = spawnSync('pgrep', ['-f', `web-service.js ${port}`], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);
  assert.equal(procs.length, 1, `one instance runs, found ${procs.length}`);
  const s = await c.waitStatus('n1 Down', (st) => st.nodes.find((n) => n.name === 'n1')?.state === 'Down');
  assert.equal(c.nodeOf(s, 'web'), next[1]);
});

test('SIGTERM of the owner: groups move first, heartbeats stop last, exit 0', async (t) => {
  const c = await cluster(t);
  const port = await freePort();
  await c.addWebGroup('web', port, { preferred: ['n2', 'n1', 'n3'] });
  await waitFor('web on n2', async () => servedBy(await httpText(`http://127.0.0.1:${port}/`))?.[1] === 'n2');
  const n2 = c.nodes.get('n2')!;
  n2.proc.kill('SIGTERM');
  assert.equal(await n2.exited, 0);
  const m = await waitFor('web served elsewhere', async () => {
    const r = servedBy(await httpText(`http://127.0.0.1:${port}/`));
    return r && r[1] !== 'n2' ? r : null;
  });
  assert.notEqual(m[1], 'n2');
  const ev = (await c.events()).filter((e) => e.node === 'n2');
  const idx = (name: string) => ev.findIndex((e) => e.event === name);
  assert.ok(idx('NODE_DRAINING') >= 0, 'drain announced');
  assert.ok(idx('RESOURCE_OFFLINE') > idx('NODE_DRAINING'), 'resource offline during the drain');
  assert.ok(idx('GROUP_RELEASED') > idx('RESOURCE_OFFLINE'), 'group released after its resources are offline');
  assert.ok(idx('HEARTBEAT_STOPPING') > idx('GROUP_RELEASED'), 'heartbeat stops only after the group is offline');
  assert.equal(ev[ev.length - 1]!.event, 'HEARTBEAT_STOPPING', 'the heartbeat is the last thing to stop');
  await c.waitStatus('n2 Down and web Online', (st) => st.nodes.find((n) => n.name === 'n2')?.state === 'Down' &&
    st.groups.find((g) => g.name === 'web')?.state === 'Online');
});

test('a crashing service restarts in place, then fails over after its restart threshold', async (t) => {
  const c = await cluster(t, ['n1', 'n2']);
  const port = await freePort();
  await c.addWebGroup('web', port, { preferred: ['n1', 'n2'], props: { restartThreshold: 2, restartDelayMs: 100 } });
  await waitFor('web on n1', async () => servedBy(await httpText(`http://127.0.0.1:${port}/`))?.[1] === 'n1');
  const killService = () => spawnSync('pkill', ['-KILL', '-f', `web-service.js ${port}`]);
  for (let i = 1; i <= 2; i++) {
    killService();
    const s = await c.waitStatus(`restart ${i} on n1`, (st) => {
      const r = st.resources.find((x) => x.name === 'web-srv');
      return r?.state === 'Online' && r.restarts === i;
    });
    assert.equal(c.nodeOf(s, 'web'), 'n1', 'restarted in place');
  }
  killService();
  await waitFor('web to fail over to n2', async () => servedBy(await httpText(`http://127.0.0.1:${port}/`))?.[1] === 'n2');
  const ev = await c.events();
  assert.ok(ev.some((e) => e.event === 'GROUP_FAILOVER_REQUESTED' && e.node === 'n1'));
  assert.equal(ev.filter((e) => e.event === 'RESOURCE_RESTARTING' && e.node === 'n1').length, 2);
});

test('a service left Failed by its restart policy comes back with /online, through any node', async (t) => {
  const c = await cluster(t, ['n1', 'n2']);
  const port = await freePort();
  await c.addWebGroup('web', port, { preferred: ['n1', 'n2'], props: { restartAction: 'restart', restartThreshold: 1, restartDelayMs: 100 } });
  await waitFor('web on n1', async () => servedBy(await httpText(`http://127.0.0.1:${port}/`))?.[1] === 'n1');
  const killService = () => spawnSync('pkill', ['-KILL', '-f', `web-service.js ${port}`]);
  killService();
  await c.waitStatus('restarted once', (st) => st.resources.find((x) => x.name === 'web-srv')?.restarts === 1 &&
    st.resources.find((x) => x.name === 'web-srv')?.state === 'Online');
  killService();
  await c.waitStatus('left Failed on n1', (st) => st.resources.find((x) => x.name === 'web-srv')?.state === 'Failed');
  assert.ok((await c.events()).some((e) => e.event === 'RESOURCE_LEFT_FAILED' && e.node === 'n1'));
  const r = c.cli(['res', 'web-srv', '/online'], { CLUSTERD_ENDPOINT: c.nodes.get('n2')!.url });
  assert.equal(r.code, 0, r.err);
  await waitFor('web answers again from n1', async () => servedBy(await httpText(`http://127.0.0.1:${port}/`))?.[1] === 'n1');
  assert.ok((await c.events()).some((e) => e.event === 'RESOURCE_RETRY' && e.node === 'n1'));
});

test('a service that ignores SIGTERM is killed after its stop grace', async (t) => {
  const c = await cluster(t, ['n1', 'n2']);
  const port = await freePort();
  // The web service ignores SIGTERM when told to; stop grace 500 ms.
  await c.addWebGroup('stubborn', port, { preferred: ['n1', 'n2'], props: { stopGraceMs: 500 }, priv: { env: ['IGNORE_SIGTERM=1'] } });
  await waitFor('stubborn online', async () => servedBy(await httpText(`http://127.0.0.1:${port}/`))?.[1] === 'n1');
  const r = c.cli(['group', 'stubborn', '/offline']);
  assert.equal(r.code, 0, r.err);
  assert.equal(processRunning(`web-service.js ${port}`), false, 'the process is gone');
  const events = await c.events();
  const ev = events.filter((e) => e.event === 'RESOURCE_OFFLINE');
  assert.ok(ev.length >= 1);
  const killed = events.filter((e) => e.event === 'RESOURCE_KILLED');
  assert.equal(killed.length, 1, 'the kill after the grace is in the cluster event log');
  assert.equal(killed[0]!.node, 'n1');
  assert.equal(killed[0]!.level, 'warning');
  assert.equal(killed[0]!.data?.resource, 'stubborn-srv');
  assert.equal(killed[0]!.data?.stopGraceMs, 500);
  assert.ok(Number(killed[0]!.data?.pgid) > 0, 'names the process group');
  assert.ok(killed[0]!.id < ev[ev.length - 1]!.id, 'reported before the resource is Offline');
});

test('planned shutdown past its pending timeout: every resource killed on the old node is reported Offline there before the heartbeat stops', async (t) => {
  const c = await cluster(t, ['n1', 'n2'], ['--shutdown-timeout', '1500']);
  const port = await freePort();
  // Ignores SIGTERM for far longer than the node's shutdown pending timeout.
  await c.addWebGroup('stuck', port, { preferred: ['n1', 'n2'], props: { stopGraceMs: 120_000 }, priv: { env: ['IGNORE_SIGTERM=1'] } });
  await waitFor('stuck online on n1', async () => servedBy(await httpText(`http://127.0.0.1:${port}/`))?.[1] === 'n1');
  const n1 = c.nodes.get('n1')!;
  n1.proc.kill('SIGTERM');
  assert.equal(await n1.exited, 0);
  await waitFor('stuck served by n2', async () => servedBy(await httpText(`http://127.0.0.1:${port}/`))?.[1] === 'n2');
  const ev = (await c.events()).filter((e) => e.node === 'n1');
  const idx = (name: string, resource?: string) => ev.findIndex((e) => e.event === name && (resource === undefined || e.data?.resource === resource));
  assert.ok(idx('SHUTDOWN_TIMEOUT') >= 0, 'the timeout is reported');
  assert.ok(idx('RESOURCE_OFFLINE', 'stuck-srv') > idx('SHUTDOWN_TIMEOUT'), `the killed resource is reported Offline on n1: ${ev.map((e) => e.event).join(' ')}`);
  assert.ok(idx('HEARTBEAT_STOPPING') > idx('RESOURCE_OFFLINE', 'stuck-srv'), 'before the heartbeat stops');
  assert.equal(ev[ev.length - 1]!.event, 'HEARTBEAT_STOPPING', 'the heartbeat is the last thing to stop');
});

test('SIGSTOP of the owner past the lease TTL: its resources are fenced before another node starts them', async (t) => {
  const c = await cluster(t);
  const port = await freePort();
  await c.addWebGroup('web', port, { preferred: ['n1', 'n2', 'n3'] });
  await waitFor('web on n1', async () => servedBy(await httpText(`http://127.0.0.1:${port}/`))?.[1] === 'n1');
  const n1 = c.nodes.get('n1')!;
  n1.proc.kill('SIGSTOP');
  try {
    const m = await waitFor('web from another node', async () => {
      const r = servedBy(await httpText(`http://127.0.0.1:${port}/`));
      return r && r[1] !== 'n1' ? r : null;
    });
    const procs = spawnSync('pgrep', ['-f', `web-service.js ${port}`], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);
    assert.equal(procs.length, 1, 'only the new owner runs the service');
    assert.ok(m);
  } finally {
    n1.proc.kill('SIGCONT');
  }
  // n1 comes back, learns it was fenced, and rejoins without starting the group again.
  await c.waitStatus('n1 Up again', (st) => st.nodes.find((n) => n.name === 'n1')?.state === 'Up');
  await sleep(500);
  const procs = spawnSync('pgrep', ['-f', `web-service.js ${port}`], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);
  assert.equal(procs.length, 1);
});

test('operator move with the CLI: cluster.exe output, and the group answers from the target', async (t) => {
  const c = await cluster(t);
  const port = await freePort();
  await c.addWebGroup('web', port, { preferred: ['n1', 'n2', 'n3'] });
  await waitFor('web on n1', async () => servedBy(await httpText(`http://127.0.0.1:${port}/`))?.[1] === 'n1');
  const r = c.cli(['group', 'web', '/move:n3']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /Moving resource group 'web'/);
  assert.match(r.out, /^web\s+n3\s+Online$/m);
  assert.equal(servedBy(await httpText(`http://127.0.0.1:${port}/`))?.[1], 'n3');
  const why = c.cli(['why', 'web']);
  assert.equal(why.code, 0, why.err);
  assert.match(why.out, /n3/);
  const st = c.cli(['res']);
  assert.match(st.out, /^Resource {13}Group {16}Node {12}Status$/m);
  assert.match(st.out, /^web-srv {14}web {18}n3 {14}Online$/m);
});

test('bad input gives a clear error code, a non-zero exit, and changes nothing', async (t) => {
  const c = await cluster(t, ['n1']);
  const before = (await c.status()).appliedSeq;
  const cases: [string, string[], RegExp][] = [
    ['unknown group', ['group', 'nope', '/online'], /error\[GROUP_NOT_FOUND\]/],
    ['unknown resource', ['res', 'nope', '/offline'], /error\[RESOURCE_NOT_FOUND\]/],
    ['unknown switch', ['group', 'x', '/frobnicate'], /error\[BAD_ARGUMENT\]/],
  ];
  for (const [name, args, re] of cases) {
    await t.test(name, () => {
      const r = c.cli(args);
      assert.notEqual(r.code, 0);
      assert.match(r.err, re);
    });
  }
  assert.equal(c.cli(['group', 'g1', '/create']).code, 0);
  assert.equal(c.cli(['res', 'a', '/create', '/group:g1', '/type:process', '/priv:command=/bin/true']).code, 0);
  assert.equal(c.cli(['res', 'b', '/create', '/group:g1', '/type:process', '/priv:command=/bin/true']).code, 0);
  assert.equal(c.cli(['res', 'a', '/adddep:b']).code, 0);
  const seq = (await c.status()).appliedSeq;
  const more: [string, string[], RegExp][] = [
    ['dependency cycle', ['res', 'b', '/adddep:a'], /error\[DEPENDENCY_CYCLE\]/],
    ['bad common property', ['res', 'a', '/prop:restartThreshold=-4'], /error\[(BAD_PROPERTY|BAD_ARGUMENT)\]/],
    ['unknown property', ['res', 'a', '/prop:colour=blue'], /error\[(BAD_PROPERTY|BAD_ARGUMENT)\]/],
    ['unknown type', ['res', 'c', '/create', '/group:g1', '/type:teapot'], /error\[(RESOURCE_TYPE_UNKNOWN|BAD_ARGUMENT)\]/],
    ['duplicate group', ['group', 'g1', '/create'], /error\[GROUP_EXISTS\]/],
    ['move to unknown node', ['group', 'g1', '/move:n9'], /error\[NODE_NOT_FOUND\]/],
  ];
  for (const [name, args, re] of more) {
    await t.test(name, () => {
      const r = c.cli(args);
      assert.notEqual(r.code, 0, r.out);
      assert.match(r.err, re);
    });
  }
  await t.test('malformed YAML, reported with its line', () => {
    const file = `${c.dir}/bad.yaml`;
    spawnSync('sh', ['-c', `printf 'groups:\\n  web:\\n    resources:\\n      x: {type: process\\n' > ${file}`]);
    const r = c.cli(['apply', '-f', file]);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /bad\.yaml:\d+:\d+/);
  });
  await t.test('unreachable endpoint', () => {
    const r = c.cli(['status'], { CLUSTERD_ENDPOINT: 'http://127.0.0.1:1' });
    assert.notEqual(r.code, 0);
    assert.match(r.err, /error\[ENDPOINT_UNREACHABLE\]/);
  });
  assert.equal((await c.status()).appliedSeq, seq, 'no rejected change reached the quorum log');
  assert.ok(seq > before);
});

test('clusterd start rejects inconsistent timing with BAD_TIMING', () => {
  const r = spawnSync(process.execPath, [clusterdBin, 'start', '--quorum', 'dir:/nonexistent', '--node', 'x', '--self-fence', '2000', '--lease-ttl', '1000'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /error\[BAD_TIMING\]/);
  const q = spawnSync(process.execPath, [clusterdBin, 'start', '--quorum', 'zookeeper:x', '--node', 'x'], { encoding: 'utf8' });
  assert.notEqual(q.status, 0);
  assert.match(q.stderr, /error\[BAD_ARGUMENT\]/);
});
