// The resource monitor with real processes: the process resource type, probes, the watchdog,
// clusterd's death, and deadlock detection. Every process started here is killed in `after`.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { commonPropDefaults, type CommonProps, type PrivProps, type ResourceType } from '../src/core/types.js';
import { MonitorClient, type MonitorCrash, type MonitorStartOptions } from '../src/monitor/client.js';
import type { ResourceSpec } from '../src/monitor/protocol.js';

const fixture = fileURLToPath(new URL('../../test/fixtures/monitor-resource.mjs', import.meta.url));
const parentFixture = fileURLToPath(new URL('../../test/fixtures/monitor-parent.mjs', import.meta.url));
const clientUrl = new URL('../src/monitor/client.js', import.meta.url).href;

/** Generous bound for "promptly": tests must not flake on a loaded machine, and assert no timings. */
const promptMs = 3_000;
/** Timeout of calls that should succeed. */
const callMs = 10_000;

const clients: MonitorClient[] = [];
const pids = new Set<number>();
const dirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'clusterd-monitor-test-'));
  dirs.push(dir);
  return dir;
}

async function newClient(options: Partial<MonitorStartOptions> = {}): Promise<MonitorClient> {
  const client = new MonitorClient();
  clients.push(client);
  await client.start({ selfFenceMs: 60_000, node: 'n1', dataDir: tempDir(), ...options });
  track(client.pid);
  client.on('ready', (pid) => track(pid));
  return client;
}

function track(pid: number | undefined): number {
  assert.ok(pid !== undefined && pid > 0, `a pid, not ${pid}`);
  pids.add(pid);
  return pid;
}

function spec(name: string, priv: PrivProps, props: Partial<CommonProps> = {}, type: ResourceType = 'process'): ResourceSpec {
  return { name, group: 'g1', type, node: 'n1', epoch: 7, props: { ...commonPropDefaults, ...props }, priv };
}

function resource(name: string, args: string[], priv: PrivProps = {}, props: Partial<CommonProps> = {}): ResourceSpec {
  return spec(name, { command: process.execPath, args: [fixture, ...args], ...priv }, props);
}

async function online(client: MonitorClient, s: ResourceSpec): Promise<number> {
  const result = await client.call('online', s, callMs);
  assert.ok(result.ok, `online of ${s.name}: ${JSON.stringify(result)}`);
  return track(result.data?.pid);
}

/** Gone, or a zombie nobody reaps (PID 1 here may not reap orphans): either way it runs no more. */
function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

/** Guards the cleanup against a pid reused by someone else's process since. */
function ours(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('monitor');
  } catch {
    return false;
  }
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = promptMs): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) assert.fail(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A port nobody listens on right now (127.0.0.1). */
async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  server.close();
  await once(server, 'close');
  return port;
}

describe('resource monitor', () => {
  after(async () => {
    await Promise.all(clients.map((client) => client.shutdown()));
    for (const pid of pids) if (!gone(pid) && ours(pid)) process.kill(pid, 'SIGKILL');
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  test('online starts the process with its environment and log; offline stops it', async () => {
    const dataDir = tempDir();
    const client = await newClient({ dataDir, fenceEnv: { CLUSTERD_FENCE_DIR: '/nonexistent' } });
    const envFile = path.join(tempDir(), 'env.json');
    const s = resource('web', ['--write-env', envFile], { env: ['GREETING=hello world', 'CLUSTERD_EPOCH=999'] });
    assert.equal(client.changesUnderWay(), 0);
    const starting = online(client, s);
    assert.equal(client.changesUnderWay(), 1, 'an online under way counts as a change (the node rests longer between cycles)');
    const pid = await starting;
    assert.equal(client.changesUnderWay(), 0, 'and no more once answered');
    await waitFor('the resource wrote its environment', () => existsSync(envFile));
    const seen = JSON.parse(readFileSync(envFile, 'utf8')) as { pid: number; env: Record<string, string> };
    assert.equal(seen.pid, pid);
    assert.equal(seen.env.GREETING, 'hello world');
    assert.equal(seen.env.CLUSTERD_NODE, 'n1');
    assert.equal(seen.env.CLUSTERD_GROUP, 'g1');
    assert.equal(seen.env.CLUSTERD_RESOURCE, 'web');
    assert.equal(seen.env.CLUSTERD_EPOCH, '7', 'the epoch cannot be overridden by the resource');
    assert.equal(seen.env.CLUSTERD_FENCE_DIR, undefined, 'the monitor keeps its fencing settings to itself');
    assert.deepEqual(await client.call('looksAlive', s, callMs), { ok: true, data: { alive: true } });
    assert.deepEqual(await client.call('isAlive', s, callMs), { ok: true, data: { alive: true } });
    const checking = client.call('looksAlive', s, callMs);
    assert.equal(client.changesUnderWay(), 0, 'a check is not a change');
    await checking;
    assert.deepEqual(await client.call('offline', s, callMs), { ok: true });
    assert.ok(gone(pid));
    assert.deepEqual(await client.call('looksAlive', s, callMs), { ok: true, data: { alive: false } });
    assert.deepEqual(await client.call('offline', s, callMs), { ok: true }, 'offline is idempotent');
    assert.match(readFileSync(path.join(dataDir, 'web.log'), 'utf8'), /resource started/);
  });

  test('offline SIGKILLs a process that ignores SIGTERM after stopGraceMs', async () => {
    const client = await newClient();
    const dir = tempDir();
    const termFile = path.join(dir, 'term');
    const readyFile = path.join(dir, 'ready');
    const s = resource('stubborn', ['--ignore-term', '--term-log', termFile, '--write-env', readyFile], {}, { stopGraceMs: 300 });
    const pid = await online(client, s);
    await waitFor('the resource handles SIGTERM', () => existsSync(readyFile));
    const startedMs = performance.now();
    assert.deepEqual(await client.call('offline', s, callMs), { ok: true });
    assert.ok(performance.now() - startedMs >= 290, 'the grace was given');
    assert.ok(gone(pid));
    assert.equal(readFileSync(termFile, 'utf8'), 'SIGTERM\n');
  });

  test('a SIGKILL after the stop grace is reported as RESOURCE_KILLED, naming the resource, the grace and the process group', async () => {
    const client = await newClient();
    const dir = tempDir();
    const readyFile = path.join(dir, 'ready');
    const s = resource('stubborn-event', ['--ignore-term', '--write-env', readyFile], {}, { stopGraceMs: 250 });
    const events: { level: string; message: string; event: string | undefined; data: Record<string, unknown> | undefined }[] = [];
    client.on('log', (level, message, event, data) => events.push({ level, message, event, data }));
    const pid = await online(client, s);
    await waitFor('the resource handles SIGTERM', () => existsSync(readyFile));
    assert.deepEqual(await client.call('offline', s, callMs), { ok: true });
    assert.ok(gone(pid));
    const killed = events.filter((e) => e.event === 'RESOURCE_KILLED');
    assert.equal(killed.length, 1, JSON.stringify(events));
    assert.equal(killed[0]!.level, 'warning');
    assert.deepEqual(killed[0]!.data, { resource: 'stubborn-event', group: 'g1', stopGraceMs: 250, pid, pgid: pid });
    // A process that stops within its grace is not reported killed.
    const polite = resource('polite', []);
    await online(client, polite);
    assert.deepEqual(await client.call('offline', polite, callMs), { ok: true });
    assert.equal(events.filter((e) => e.event === 'RESOURCE_KILLED').length, 1);
  });

  test('offline stops every process of the group, not only the main one', async () => {
    const client = await newClient();
    const grandchildFile = path.join(tempDir(), 'grandchild');
    const s = resource('forking', ['--grandchild-file', grandchildFile], {}, { stopGraceMs: 200 });
    const warnings: string[] = [];
    client.on('log', (level, _message, event) => { if (level === 'warning' && event !== undefined) warnings.push(event); });
    const pid = await online(client, s);
    await waitFor('the grandchild started', () => existsSync(grandchildFile));
    const grandchild = track(Number(readFileSync(grandchildFile, 'utf8')));
    assert.deepEqual(await client.call('offline', s, callMs), { ok: true });
    assert.ok(gone(pid) && gone(grandchild), 'the grandchild ignoring SIGTERM was killed too');
    assert.deepEqual(warnings, ['RESOURCE_KILLED'], 'the grandchild outlived the grace: the group was killed');
  });

  test('an unexpected exit is reported at once', async () => {
    const client = await newClient();
    const crashing = resource('crashing', ['--exit-after', '200', '--exit-code', '3']);
    const exited = once(client, 'exited');
    await online(client, crashing);
    assert.deepEqual(await exited, ['crashing', 3, null]);
    const killed = resource('killed', []);
    const pid = await online(client, killed);
    const killedExit = once(client, 'exited');
    process.kill(pid, 'SIGKILL');
    assert.deepEqual(await killedExit, ['killed', null, 'SIGKILL']);
    // A check that finds it dead says how it ended (it can reach clusterd before the exit report).
    assert.deepEqual(await client.call('looksAlive', killed, callMs), { ok: true, data: { alive: false, why: 'process exited (signal SIGKILL)' } });
    assert.deepEqual(await client.call('isAlive', crashing, callMs), { ok: true, data: { alive: false, why: 'process exited (exit code 3)' } });
  });

  test('a tcp probe holds online until the port answers; isAlive runs the probe', async () => {
    const client = await newClient();
    const port = await freePort();
    const s = resource('tcp', ['--tcp', String(port), '--listen-delay', '300'], { probe: `tcp:127.0.0.1:${port}` });
    await online(client, s);
    assert.deepEqual(await client.call('isAlive', s, callMs), { ok: true, data: { alive: true } });
    const closedPort = await freePort();
    const elsewhere = { ...s, priv: { ...s.priv, probe: `tcp:127.0.0.1:${closedPort}` } };
    assert.deepEqual(await client.call('isAlive', elsewhere, callMs), { ok: true, data: { alive: false } });
    assert.deepEqual(await client.call('offline', s, callMs), { ok: true });
  });

  test('an http probe wants a 2xx answer', async () => {
    const client = await newClient();
    const port = await freePort();
    const s = resource('http', ['--http', String(port)], { probe: `http://127.0.0.1:${port}/health`, probeTimeoutMs: 500 });
    await online(client, s);
    const failing = { ...s, priv: { ...s.priv, probe: `http://127.0.0.1:${port}/other` } };
    assert.deepEqual(await client.call('isAlive', failing, callMs), { ok: true, data: { alive: false } });
    assert.deepEqual(await client.call('isAlive', s, callMs), { ok: true, data: { alive: true } });
    assert.deepEqual(await client.call('offline', s, callMs), { ok: true });
  });

  test('a cmd probe passes on exit 0; online fails when the process exits before its probe passes', async () => {
    const client = await newClient();
    const s = resource('cmd', [], { probe: `cmd:${process.execPath} -e process.exit(0)` });
    await online(client, s);
    const failing = { ...s, priv: { ...s.priv, probe: `cmd:${process.execPath} -e process.exit(1)` } };
    assert.deepEqual(await client.call('isAlive', failing, callMs), { ok: true, data: { alive: false } });
    assert.deepEqual(await client.call('offline', s, callMs), { ok: true });
    const closedPort = await freePort();
    const dying = resource('dying', ['--exit-after', '200', '--exit-code', '1'], { probe: `tcp:127.0.0.1:${closedPort}` });
    const exits: string[] = [];
    client.on('exited', (name) => exits.push(name));
    const result = await client.call('online', dying, callMs);
    assert.equal(result.ok, false);
    assert.match(!result.ok ? result.error : '', /exited \(code 1\) before its probe/);
    assert.deepEqual(exits, [], 'the failed online says it all: no exited as well');
  });

  test('online fails with a clear error for a missing command, bad properties, an unsupported type', async () => {
    const client = await newClient();
    const cases: [ResourceSpec, RegExp][] = [
      [spec('missing', { command: '/nonexistent/program' }), /cannot start '\/nonexistent\/program'.*ENOENT/],
      [spec('no-command', { args: ['x'] }), /'command' is required/],
      [spec('bad-probe', { command: process.execPath, probe: 'udp:1' }), /'probe' must start with/],
      [spec('bad-env', { command: process.execPath, env: ['NOEQUALS'] }), /'env' must hold KEY=VALUE/],
      [spec('disk1', {}, {}, 'disk'), /private property 'path' .* or 'device' \+ 'fstype' \+ 'mountPoint' .* is required/],
      [spec('w1', {}, {}, 'witness'), /resource type 'witness' is not supported yet/],
    ];
    for (const [s, error] of cases) {
      const result = await client.call('online', s, callMs);
      assert.equal(result.ok, false, s.name);
      assert.match(!result.ok ? result.error : '', error);
    }
  });

  test('calls run concurrently: a slow online holds up no other call', async () => {
    const client = await newClient();
    const closedPort = await freePort();
    const slow = resource('slow', [], { probe: `tcp:127.0.0.1:${closedPort}` });
    const fast = resource('fast', []);
    const order: string[] = [];
    const slowCall = client.call('online', slow, 1_000).then((result) => { order.push('slow'); return result; });
    const fastCall = client.call('online', fast, callMs).then((result) => { order.push('fast'); return result; });
    const [slowResult, fastResult] = await Promise.all([slowCall, fastCall]);
    assert.deepEqual(order, ['fast', 'slow']);
    assert.ok(fastResult.ok);
    track(fastResult.data?.pid);
    assert.equal(slowResult.ok, false);
    assert.ok(!slowResult.ok && slowResult.deadlock === undefined, 'the agent timed out by itself: no deadlock');
    assert.match(!slowResult.ok ? slowResult.error : '', /did not pass before the online timeout/);
    await client.call('terminate', slow, callMs);
    await client.call('terminate', fast, callMs);
  });

  test('1,200 real resources start and stop through one client: calls queue, none is refused, the monitor is never judged deadlocked', async (t) => {
    const client = await newClient();
    // Fed as clusterd feeds it: a loaded host may take longer than the self-fence deadline to start them all.
    const pinger = setInterval(() => client.ping(), 1_000);
    t.after(() => clearInterval(pinger));
    const crashes: MonitorCrash[] = [];
    client.on('crashed', (crash) => crashes.push(crash));
    const count = 1_200;
    // Generous: the calls queue in the client and their timeouts start when sent; a loaded host spawns slowly.
    const scaleCallMs = 120_000;
    const specs = Array.from({ length: count }, (_, i) => spec(`sleep-${i}`, { command: '/bin/sleep', args: ['100000'] }));
    const started = await Promise.all(specs.map((s) => client.call('online', s, scaleCallMs)));
    const startPids = started.map((result) => (result.ok ? track(result.data?.pid) : undefined));
    assert.deepEqual(started.filter((result) => !result.ok), [], 'every online succeeds');
    const checked = await Promise.all(specs.map((s) => client.call('isAlive', s, scaleCallMs)));
    assert.ok(checked.every((result) => result.ok && result.data?.alive === true), 'every resource runs');
    const stopped = await Promise.all(specs.map((s) => client.call('offline', s, scaleCallMs)));
    assert.deepEqual(stopped.filter((result) => !result.ok), [], 'every offline succeeds');
    assert.deepEqual(crashes, [], 'no monitor restart');
    assert.ok(startPids.every((pid) => pid !== undefined && gone(pid)), 'every resource process is gone');
  });

  test('a fence voids the calls still queued in the client: none of them runs', async () => {
    const client = await newClient();
    const specs = Array.from({ length: 300 }, (_, i) => spec(`queued-${i}`, { command: '/bin/sleep', args: ['100000'] }));
    const calls = specs.map((s) => client.call('online', s, 120_000));
    const fenced = once(client, 'fenced');
    client.fence('lease lost');
    await fenced;
    const results = await Promise.all(calls);
    for (const result of results) if (result.ok) track(result.data?.pid);
    const voided = results.filter((result) => !result.ok && /was not sent to the resource monitor/.test(result.error));
    assert.ok(voided.length > 0, 'calls beyond the in-flight bound were still queued, and were voided');
    const looks = await Promise.all(specs.map((s) => client.call('looksAlive', s, callMs)));
    assert.ok(looks.every((result) => result.ok && result.data?.alive === false), 'nothing runs after the fence');
    for (const result of results) if (result.ok) await waitFor('a resource started before the fence is gone', () => gone(result.data?.pid as number));
  });

  test('watchdog: without pings the monitor kills every resource and reports fenced', async () => {
    const selfFenceMs = 500;
    const client = await newClient({ selfFenceMs });
    const pinger = setInterval(() => client.ping(), 100);
    const first = await online(client, resource('a', []));
    const second = await online(client, resource('b', []));
    const fenced = once(client, 'fenced');
    const monitorPid = client.pid;
    clearInterval(pinger); // clusterd stalls
    const [reason, killed] = (await fenced) as [string, string[]];
    assert.match(reason, /no ping from clusterd for 500 ms/);
    assert.deepEqual([...killed].sort(), ['a', 'b']);
    await waitFor('both resources are gone', () => gone(first) && gone(second));
    assert.equal(client.pid, monitorPid, 'the monitor keeps running');
    assert.deepEqual(await client.call('looksAlive', resource('a', []), callMs), { ok: true, data: { alive: false } });
  });

  test('fence() kills every resource at once', async () => {
    const client = await newClient();
    const pid = await online(client, resource('fenced', ['--ignore-term']));
    const fenced = once(client, 'fenced');
    client.fence('lease lost');
    assert.deepEqual(await fenced, ['lease lost', ['fenced']]);
    await waitFor('the resource is gone', () => gone(pid));
  });

  test('after its watchdog fenced, the monitor refuses online calls decided before clusterd heard of it (bug 2)', async () => {
    const selfFenceMs = 300;
    const client = await newClient({ selfFenceMs });
    const pinger = setInterval(() => client.ping(), 50);
    try {
      const fenced = once(client, 'fenced');
      // clusterd stalls (no pings, no messages handled) past the deadline; the monitor fences.
      // Still inside the stall, clusterd sends an online it decided before: it must not run.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, selfFenceMs + 700);
      const stale = client.call('online', resource('stale', []), callMs);
      await fenced;
      const result = await stale;
      assert.ok(!result.ok && /refused: this monitor fenced/.test(result.error), JSON.stringify(result));
      // Once clusterd has applied the fence, its new decisions are served again.
      await online(client, resource('fresh', []));
      assert.deepEqual(await client.call('terminate', resource('fresh', []), callMs), { ok: true });
    } finally {
      clearInterval(pinger);
    }
  });

  test('a monitor restarting: calls wait for the new one, and fence() and recycle() are still answered (bugs 3 and 5)', async () => {
    const client = await newClient();
    const monitorPid = client.pid as number;
    const crashed = once(client, 'crashed');
    process.kill(monitorPid, 'SIGKILL');
    await crashed;
    // No monitor is ready at this moment: a call waits for the next one rather than failing.
    const waited = client.call('online', resource('patient', []), callMs);
    const fenced = once(client, 'fenced');
    client.fence('lease lost while restarting');
    const [reason] = (await fenced) as [string];
    assert.match(reason, /no resource monitor was running/);
    const failed = await waited;
    assert.ok(!failed.ok && /fenced before the resource monitor came back/.test(failed.error), 'a fence voids the calls waiting for a monitor');
    await waitFor('a new monitor is ready', () => client.pid !== undefined && client.pid !== monitorPid);
    const second = client.pid as number;
    const crashedAgain = once(client, 'crashed');
    process.kill(second, 'SIGKILL');
    await crashedAgain;
    const call = client.call('online', resource('patient', []), callMs);
    const recycled = once(client, 'crashed');
    client.recycle('a stop failed');
    const [crash] = (await recycled) as [MonitorCrash];
    assert.match(crash.reason, /recycled while the monitor restarts: a stop failed/);
    assert.deepEqual(crash.resources, []);
    assert.equal((await call).ok, false, 'recycling voids the waiting call');
    await waitFor('a third monitor is ready', () => client.pid !== undefined && client.pid !== second);
    const third = client.pid as number;
    const crashedThird = once(client, 'crashed');
    process.kill(third, 'SIGKILL');
    await crashedThird;
    const pid = track((await client.call('online', resource('patient', []), callMs)).ok ? client.pid : undefined);
    assert.notEqual(pid, third, 'the call ran on the new monitor');
    assert.deepEqual(await client.call('terminate', resource('patient', []), callMs), { ok: true });
  });

  test('kill -9 of clusterd: the monitor kills the resources and exits', async () => {
    const parent = spawn(process.execPath, [parentFixture, clientUrl, tempDir(), fixture], { stdio: ['ignore', 'pipe', 'inherit'] });
    track(parent.pid);
    const [line] = (await once(parent.stdout, 'data')) as [Buffer];
    const { monitorPid, resourcePid } = JSON.parse(line.toString()) as { monitorPid: number; resourcePid: number };
    track(monitorPid);
    track(resourcePid);
    assert.ok(!gone(resourcePid));
    parent.kill('SIGKILL');
    await waitFor('the resource and the monitor are gone', () => gone(resourcePid) && gone(monitorPid), 1_500);
  });

  test('deadlock: a monitor that stops answering is killed with its resources and replaced', async () => {
    const client = await newClient();
    const s = resource('hostage', []);
    const pid = await online(client, s);
    const monitorPid = client.pid as number;
    const crashed = once(client, 'crashed');
    process.kill(monitorPid, 'SIGSTOP'); // hung: answers nothing, its watchdog is frozen too
    const result = await client.call('looksAlive', s, 200);
    assert.equal(result.ok, false);
    assert.ok(!result.ok && result.deadlock === true);
    const [crash] = (await crashed) as [MonitorCrash];
    assert.match(crash.reason, /deadlock: looksAlive of resource 'hostage'/);
    assert.deepEqual(crash.resources, ['hostage']);
    await waitFor('the resource and the old monitor are gone', () => gone(pid) && gone(monitorPid));
    await waitFor('a new monitor is ready', () => client.pid !== undefined && client.pid !== monitorPid);
    const again = await online(client, s);
    assert.deepEqual(await client.call('terminate', s, callMs), { ok: true });
    assert.ok(gone(again));
  });

  test('a monitor that dies is replaced and its resources are killed', async () => {
    const client = await newClient();
    const pid = await online(client, resource('survivor', []));
    const monitorPid = client.pid as number;
    const crashed = once(client, 'crashed');
    process.kill(monitorPid, 'SIGKILL');
    const [crash] = (await crashed) as [MonitorCrash];
    assert.match(crash.reason, /exited unexpectedly \(signal SIGKILL\)/);
    assert.deepEqual(crash.resources, ['survivor']);
    await waitFor('the resource is gone', () => gone(pid));
    await waitFor('a new monitor is ready', () => client.pid !== undefined && client.pid !== monitorPid);
  });

  test('the monitor ignores SIGINT and SIGTERM; shutdown waits for its exit', async () => {
    const client = await newClient();
    const monitorPid = client.pid as number;
    process.kill(monitorPid, 'SIGINT');
    process.kill(monitorPid, 'SIGTERM');
    assert.deepEqual(await client.call('looksAlive', resource('x', []), callMs), { ok: true, data: { alive: false } });
    assert.equal(client.pid, monitorPid);
    await client.shutdown();
    assert.ok(gone(monitorPid));
    const result = await client.call('looksAlive', resource('x', []), callMs);
    assert.match(!result.ok ? result.error : '', /not running \(shut down\)/);
  });

  test('user runs the resource as that user', { skip: process.getuid?.() !== 0 && 'needs root' }, async () => {
    const client = await newClient();
    const dir = tempDir();
    chmodSync(dir, 0o777);
    const envFile = path.join(dir, 'env.json');
    // A copy of the fixture that `nobody` can read wherever the checkout lives (under /root, 0700, say).
    const fixtureCopy = path.join(dir, 'monitor-resource.mjs');
    copyFileSync(fixture, fixtureCopy);
    chmodSync(fixtureCopy, 0o644);
    const asNobody = spec('as-nobody', { command: process.execPath, args: [fixtureCopy, '--write-env', envFile], user: 'nobody' });
    await online(client, asNobody);
    await waitFor('the resource wrote its environment', () => existsSync(envFile), 10_000); // id -u and a setuid spawn: slow on a loaded host
    const seen = JSON.parse(readFileSync(envFile, 'utf8')) as { uid: number };
    assert.equal(seen.uid, Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' })));
    const unknown = await client.call('online', resource('as-nobody-else', [], { user: 'no-such-user-here' }), callMs);
    assert.match(!unknown.ok ? unknown.error : '', /unknown user 'no-such-user-here'/);
  });
});
