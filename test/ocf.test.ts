// ocf and lsb resources on a real two-node cluster: Debian's resource-agents (heartbeat:Dummy,
// heartbeat:IPaddr2's meta-data), a test agent returning each OCF exit code with the resulting
// clusterd behaviour, save-time refusals, an LSB init script, and failover after kill -9. The
// nodes run with --ocf-root pointing at a temporary OCF root that holds the system's heartbeat
// agents (linked) and a `test` provider, and --lsb-dir at a temporary init directory. Timings
// are never asserted.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ResourceView, StatusSnapshot } from '../src/api/types.js';
import type { ClusterEvent } from '../src/store/types.js';
import { freePort, httpText, sleep, TestCluster, waitFor, webServiceJs, authFor } from './harness.js';

const systemOcf = '/usr/lib/ocf';
const haveAgents = existsSync(join(systemOcf, 'resource.d/heartbeat/Dummy'));
const skip = haveAgents ? false : 'Debian\'s resource-agents is not installed (.ci/run installs it)';

const root = mkdtempSync(join(tmpdir(), 'clusterd-ocf-'));
const ocfRoot = join(root, 'ocf');
const initDir = join(root, 'init.d');

/**
 * test:codes: behaves as the files of its `dir` parameter say, per node (FILE-NODE) or for all
 * (FILE): start-rc, stop-rc, monitor-rc, validate-rc hold an exit code; monitor-once is one
 * used once (then deleted). Otherwise a state file says whether it runs. Every call is
 * appended to dir/calls as "NODE ACTION".
 */
const codesAgent = `#!/bin/sh
d="$OCF_RESKEY_dir"
n="$OCF_RESKEY_CRM_meta_on_node"
rc_of() { if [ -f "$d/$1-$n" ]; then cat "$d/$1-$n"; return 0; fi; if [ -f "$d/$1" ]; then cat "$d/$1"; return 0; fi; return 1; }
case "$1" in
meta-data) cat <<'EOF'
<?xml version="1.0"?>
<resource-agent name="codes" version="1.0">
<version>1.0</version>
<shortdesc lang="en">Test agent returning chosen OCF exit codes</shortdesc>
<parameters>
<parameter name="dir" required="1"><shortdesc lang="en">Directory of control files</shortdesc><content type="string"/></parameter>
<parameter name="note"><shortdesc lang="en">Anything</shortdesc><content type="string" default="none"/></parameter>
</parameters>
<actions>
<action name="start" timeout="15s"/>
<action name="stop" timeout="15s"/>
<action name="monitor" timeout="15s" interval="1s"/>
<action name="validate-all" timeout="15s"/>
<action name="meta-data" timeout="5s"/>
</actions>
</resource-agent>
EOF
exit 0;;
esac
[ -d "$d" ] || { echo "ocf-exit-reason:no directory $d" >&2; exit 6; }
echo "$n $1" >> "$d/calls"
case "$1" in
start) if rc=$(rc_of start-rc); then exit "$rc"; fi; touch "$d/running-$n"; exit 0;;
stop) if rc=$(rc_of stop-rc); then exit "$rc"; fi; rm -f "$d/running-$n"; exit 0;;
monitor)
  if [ -f "$d/monitor-once-$n" ]; then rc=$(cat "$d/monitor-once-$n"); rm -f "$d/monitor-once-$n"; exit "$rc"; fi
  if rc=$(rc_of monitor-rc); then exit "$rc"; fi
  [ -f "$d/running-$n" ] && exit 0; exit 7;;
validate-all) if rc=$(rc_of validate-rc); then echo "ocf-exit-reason:refused by validate-rc" >&2; exit "$rc"; fi; exit 0;;
*) exit 3;;
esac
`;

/** An LSB init script: a state file, status 0 running / 3 stopped. */
const lsbScript = (state: string) => `#!/bin/sh
case "$1" in
start) echo "$CLUSTERD_NODE" > "${state}"; exit 0;;
stop) rm -f "${state}"; exit 0;;
status) [ -f "${state}" ] && exit 0; exit 3;;
*) exit 3;;
esac
`;

mkdirSync(join(ocfRoot, 'resource.d/test'), { recursive: true });
symlinkSync(join(systemOcf, 'lib'), join(ocfRoot, 'lib'));
symlinkSync(join(systemOcf, 'resource.d/heartbeat'), join(ocfRoot, 'resource.d/heartbeat'));
writeFileSync(join(ocfRoot, 'resource.d/test/codes'), codesAgent);
chmodSync(join(ocfRoot, 'resource.d/test/codes'), 0o755);
mkdirSync(initDir);

/**
 * Each node runs under a child subreaper that reaps every orphan below it, as an init does: the
 * daemons OCF agents start are orphans once the start action exits, and where PID 1 does not
 * reap (containers without an init) a dead daemon would stay a zombie that `kill -0` (how
 * heartbeat:anything checks its pid) still finds.
 */
const reaper = join(root, 'reaper.py');
writeFileSync(reaper, `import ctypes, os, subprocess, sys
if ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) != 0:
    sys.exit('prctl(PR_SET_CHILD_SUBREAPER) failed')
child = subprocess.Popen(sys.argv[1:])
code = 0
while True:
    try:
        pid, status = os.waitpid(-1, 0)
    except ChildProcessError:
        break
    if pid == child.pid:
        code = max(0, os.waitstatus_to_exitcode(status))
sys.exit(code)
`);

let shared: Promise<TestCluster> | null = null;
const cluster = (): Promise<TestCluster> => (shared ??= TestCluster.start(['n1', 'n2'], { startArgs: ['--ocf-root', ocfRoot, '--lsb-dir', initDir], launcher: ['python3', reaper] }));

/** kill -9 of a node's clusterd (the reaper's child). */
function killNode(c: TestCluster, name: string): void {
  const reaperPid = c.nodes.get(name)!.proc.pid!;
  const child = spawnSync('pgrep', ['-P', String(reaperPid)], { encoding: 'utf8' }).stdout.trim().split('\n')[0];
  assert.ok(child, `clusterd of ${name} runs under its reaper`);
  process.kill(Number(child), 'SIGKILL');
}
after(async () => {
  if (shared) await (await shared).close();
  rmSync(root, { recursive: true, force: true });
});

/**
 * An apply waits for the agents' checks (meta-data, validate-all) on the coordinator: some
 * agents take seconds (heartbeat:anything runs `su -`), so this waits longer than harness.api.
 */
async function apply(c: TestCluster, groups: Record<string, unknown>): Promise<{ status: number; body: { code?: string; message?: string } }> {
  const res = await fetch(`${c.liveUrls()[0]}/v1/apply`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...authFor(c.liveUrls()[0]!) }, body: JSON.stringify({ spec: { groups }, dryRun: false }), signal: AbortSignal.timeout(180_000),
  });
  const body = (await res.json()) as { error?: { code: string; message: string } };
  return { status: res.status, body: body.error ?? {} };
}

async function applied(c: TestCluster, groups: Record<string, unknown>): Promise<void> {
  const r = await apply(c, groups);
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

async function res(c: TestCluster, name: string): Promise<ResourceView> {
  const r = await c.api<ResourceView>(`/v1/resources/${encodeURIComponent(name)}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

const groupNode = (s: StatusSnapshot, g: string) => s.groups.find((x) => x.name === g)?.node ?? null;

async function waitRes(c: TestCluster, name: string, what: string, pred: (r: ResourceView) => boolean, timeoutMs = 60_000): Promise<ResourceView> {
  return waitFor(`${name} ${what}`, async () => { const r = await res(c, name); return pred(r) ? r : null; }, timeoutMs, 100);
}

async function eventsOf(c: TestCluster, event: string, resourceOrGroup: string): Promise<ClusterEvent[]> {
  return (await c.events()).filter((e) => e.event === event && (e.data?.resource === resourceOrGroup || e.data?.group === resourceOrGroup));
}

/** A control directory for one test:codes resource. */
function controlDir(name: string): string {
  const d = join(root, name);
  mkdirSync(d);
  return d;
}
const calls = (d: string, line: string) => (existsSync(join(d, 'calls')) ? readFileSync(join(d, 'calls'), 'utf8').split('\n').filter((l) => l === line).length : 0);

/** A group of one test:codes resource preferring n1, then n2. */
function codesGroup(name: string, dir: string, props: Record<string, unknown> = {}): Record<string, unknown> {
  return { [name]: { preferredOwners: ['n1', 'n2'], resources: { [`${name}-r`]: {
    type: 'ocf', props: { restartDelayMs: 100, ...props }, priv: { agent: 'test:codes', params: { dir } },
  } } } };
}

async function online(c: TestCluster, group: string): Promise<void> {
  const r = await c.api(`/v1/groups/${encodeURIComponent(group)}/online`, { method: 'POST' });
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

async function offline(c: TestCluster, group: string): Promise<void> {
  const r = await c.api(`/v1/groups/${encodeURIComponent(group)}/offline`, { method: 'POST' });
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

test('heartbeat:Dummy: started, monitored (a lost state file is restarted in place), stopped; monitor interval from its meta-data', { skip }, async () => {
  const c = await cluster();
  const state = join(root, 'dummy.state');
  await applied(c, { dummy: { preferredOwners: ['n1', 'n2'], resources: { d1: { type: 'ocf', props: { restartDelayMs: 100 }, priv: { agent: 'heartbeat:Dummy', params: { state } } } } } });
  // No isAliveIntervalMs given: Dummy's meta-data says monitor every 10 s.
  assert.equal((await res(c, 'd1')).props.isAliveIntervalMs, 10_000);
  await online(c, 'dummy');
  await waitRes(c, 'd1', 'Online on n1', (r) => r.state === 'Online' && r.node === 'n1');
  assert.ok(existsSync(state), 'Dummy start made its state file');
  // Dummy's monitor says not running without its state file: restarted in place.
  rmSync(state);
  await waitFor('d1 restarted in place', async () => (await eventsOf(c, 'RESOURCE_RESTARTING', 'd1')).length > 0, 60_000, 200);
  await waitRes(c, 'd1', 'Online again on n1', (r) => r.state === 'Online' && r.node === 'n1' && existsSync(state));
  await offline(c, 'dummy');
  await waitRes(c, 'd1', 'Offline', (r) => r.state === 'Offline');
  assert.ok(!existsSync(state), 'Dummy stop removed its state file');
});

test('heartbeat:anything serving HTTP: a killed server is restarted in place by the monitor, and stopped with the resource', { skip }, async () => {
  const c = await cluster();
  const port = await freePort();
  const pidfile = join(root, 'anything.pid');
  const url = `http://127.0.0.1:${port}/`;
  await applied(c, { web: { preferredOwners: ['n1', 'n2'], resources: { www: {
    type: 'ocf', props: { isAliveIntervalMs: 1_000, restartDelayMs: 100 },
    priv: { agent: 'heartbeat:anything', params: { binfile: process.execPath, cmdline_options: `${webServiceJs} ${port} ${c.dir}`, pidfile } },
  } } } });
  await online(c, 'web');
  await waitRes(c, 'www', 'Online on n1', (r) => r.state === 'Online' && r.node === 'n1');
  await waitFor('the web service to answer', async () => /served by/.test((await httpText(url)) ?? ''), 30_000, 100);
  const first = Number(readFileSync(pidfile, 'utf8').trim());
  process.kill(first, 'SIGKILL');
  await waitFor('www restarted in place', async () => (await eventsOf(c, 'RESOURCE_RESTARTING', 'www')).length > 0, 60_000, 100);
  await waitFor('the web service to answer again', async () => /served by/.test((await httpText(url)) ?? ''), 60_000, 100);
  assert.notEqual(Number(readFileSync(pidfile, 'utf8').trim()), first);
  assert.equal((await res(c, 'www')).node, 'n1');
  await offline(c, 'web');
  await waitRes(c, 'www', 'Offline', (r) => r.state === 'Offline');
  assert.equal(await httpText(url), null, 'the service stopped with its resource');
});

test('save time: a missing agent, a missing required parameter and a validate-all refusal are refused with their codes; nothing is saved', { skip }, async () => {
  const c = await cluster();
  const one = (agent: string, params: Record<string, string>) => ({ bad: { resources: { 'bad-r': { type: 'ocf', priv: { agent, params } } } } });
  const missing = await apply(c, one('heartbeat:NoSuchAgent', {}));
  assert.equal(missing.status, 400);
  assert.equal(missing.body.code, 'AGENT_NOT_FOUND');
  const noIp = await apply(c, one('heartbeat:IPaddr2', { cidr_netmask: '24' }));
  assert.equal(noIp.status, 400);
  assert.equal(noIp.body.code, 'AGENT_PARAM_MISSING');
  assert.match(noIp.body.message ?? '', /\bip\b/);
  const dir = controlDir('validate');
  writeFileSync(join(dir, 'validate-rc'), '6');
  const invalid = await apply(c, one('test:codes', { dir }));
  assert.equal(invalid.status, 400);
  assert.equal(invalid.body.code, 'AGENT_INVALID');
  assert.match(invalid.body.message ?? '', /refused by validate-rc/);
  const badName = await apply(c, { bad: { resources: { 'bad-r': { type: 'ocf', priv: { agent: 'heartbeat:Dummy', params: { 'no-dash': 'x' } } } } } });
  assert.equal(badName.status, 400);
  assert.equal(badName.body.code, 'BAD_PROPERTY');
  const lsbMissing = await apply(c, { bad: { resources: { 'bad-r': { type: 'lsb', priv: { script: 'no-such-script' } } } } });
  assert.equal(lsbMissing.status, 400);
  assert.equal(lsbMissing.body.code, 'AGENT_NOT_FOUND');
  assert.equal((await c.api('/v1/resources/bad-r')).status, 404);
});

test('cluster agents: lists the providers:agents of the node, and shows an agent\'s parameters from its meta-data', { skip }, async () => {
  const c = await cluster();
  const list = await c.api<{ agents: string[] }>('/v1/agents');
  assert.equal(list.status, 200);
  for (const a of ['heartbeat:Dummy', 'heartbeat:IPaddr2', 'heartbeat:anything', 'test:codes']) assert.ok(list.body.agents.includes(a), a);
  const ip = await c.api<{ params: { name: string; required: boolean; shortdesc?: string }[] }>('/v1/agents/heartbeat/IPaddr2');
  assert.equal(ip.status, 200);
  const param = ip.body.params.find((p) => p.name === 'ip');
  assert.ok(param?.required && param.shortdesc);
  const text = c.cli(['agents', 'test:codes']);
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, /^dir\s+yes\s+Directory of control files$/m);
  assert.match(text.out, /^note\s+no\s+none\s+Anything$/m);
  const none = await c.api<{ error: { code: string } }>('/v1/agents/heartbeat/NoSuchAgent');
  assert.equal(none.body.error.code, 'AGENT_NOT_FOUND');
});

test('OCF start exit 3, 4, 5 on the preferred node: not retried there, the group fails over at once', { skip }, async () => {
  const c = await cluster();
  for (const code of [3, 4, 5]) {
    const g = `ho${code}`;
    const dir = controlDir(g);
    writeFileSync(join(dir, 'start-rc-n1'), String(code));
    await applied(c, codesGroup(g, dir));
    await online(c, g);
    await waitRes(c, `${g}-r`, 'Online on n2', (r) => r.state === 'Online' && r.node === 'n2');
    assert.equal(calls(dir, 'n1 start'), 1, `exit ${code}: one start on n1, no restart there`);
    assert.ok((await eventsOf(c, 'GROUP_FAILOVER_REQUESTED', g)).length >= 1);
    await offline(c, g);
    await waitRes(c, `${g}-r`, 'Offline', (r) => r.state === 'Offline');
  }
});

test('OCF start exit 2 and 6 (configuration errors): Failed with the reason, neither restarted nor failed over', { skip }, async () => {
  const c = await cluster();
  for (const code of [2, 6]) {
    const g = `cfg${code}`;
    const dir = controlDir(g);
    writeFileSync(join(dir, 'start-rc'), String(code));
    await applied(c, codesGroup(g, dir));
    await online(c, g);
    const r = await waitRes(c, `${g}-r`, 'Failed', (x) => x.state === 'Failed');
    assert.match(r.error ?? '', code === 2 ? /OCF_ERR_ARGS/ : /OCF_ERR_CONFIGURED/);
    await waitFor('RESOURCE_CONFIG_ERROR', async () => (await eventsOf(c, 'RESOURCE_CONFIG_ERROR', `${g}-r`)).length > 0, 30_000, 100);
    await sleep(2_000); // room for a restart or a failover that must not come
    assert.equal(calls(dir, 'n1 start'), 1, `exit ${code}: started once`);
    assert.equal(calls(dir, 'n2 start'), 0, `exit ${code}: never tried on n2`);
    assert.equal(groupNode(await c.status(), g), 'n1');
    await offline(c, g);
  }
});

test('OCF start exit 1: restarted in place up to the threshold, then failed over', { skip }, async () => {
  const c = await cluster();
  const dir = controlDir('gen');
  writeFileSync(join(dir, 'start-rc-n1'), '1');
  await applied(c, codesGroup('gen', dir, { restartThreshold: 1 }));
  await online(c, 'gen');
  await waitRes(c, 'gen-r', 'Online on n2', (r) => r.state === 'Online' && r.node === 'n2');
  assert.equal(calls(dir, 'n1 start'), 2, 'one start and one restart on n1');
  await offline(c, 'gen');
  await waitRes(c, 'gen-r', 'Offline', (r) => r.state === 'Offline');
});

test('OCF monitor: 7 restarts in place, 5 fails over, 8 (promoted) is refused as unsupported', { skip }, async () => {
  const c = await cluster();
  const dir = controlDir('mon');
  await applied(c, codesGroup('mon', dir, { isAliveIntervalMs: 500 }));
  await online(c, 'mon');
  await waitRes(c, 'mon-r', 'Online on n1', (r) => r.state === 'Online' && r.node === 'n1');
  writeFileSync(join(dir, 'monitor-once-n1'), '7');
  await waitFor('a second start on n1', () => calls(dir, 'n1 start') === 2, 60_000, 100);
  await waitRes(c, 'mon-r', 'Online on n1 again', (r) => r.state === 'Online' && r.node === 'n1');
  writeFileSync(join(dir, 'monitor-once-n1'), '5');
  await waitRes(c, 'mon-r', 'Online on n2', (r) => r.state === 'Online' && r.node === 'n2');
  assert.equal(calls(dir, 'n1 start'), 2, 'not restarted on n1 after exit 5');
  writeFileSync(join(dir, 'monitor-once-n2'), '8');
  const r = await waitRes(c, 'mon-r', 'Failed', (x) => x.state === 'Failed');
  assert.match(r.error ?? '', /promotable/);
  await offline(c, 'mon');
});

test('OCF stop: a failed stop whose monitor says not running is a clean stop; one whose monitor says running is a stop failure', { skip }, async () => {
  const c = await cluster();
  const dir = controlDir('stp');
  await applied(c, codesGroup('stp', dir));
  await online(c, 'stp');
  await waitRes(c, 'stp-r', 'Online on n1', (r) => r.state === 'Online' && r.node === 'n1');
  // stop exits 1 but the resource is gone (monitor 7): Offline, no stop failure.
  writeFileSync(join(dir, 'stop-rc'), '1');
  rmSync(join(dir, 'running-n1'));
  await offline(c, 'stp');
  await waitRes(c, 'stp-r', 'Offline', (r) => r.state === 'Offline');
  assert.equal((await eventsOf(c, 'RESOURCE_STOP_FAILED', 'stp-r')).length, 0);
  rmSync(join(dir, 'stop-rc'));
  await online(c, 'stp');
  await waitRes(c, 'stp-r', 'Online', (r) => r.state === 'Online');
  // stop exits 1 and monitor still says running: a stop failure (the monitor is recycled).
  writeFileSync(join(dir, 'stop-rc'), '1');
  await offline(c, 'stp');
  await waitFor('RESOURCE_STOP_FAILED', async () => (await eventsOf(c, 'RESOURCE_STOP_FAILED', 'stp-r')).length > 0, 60_000, 100);
  rmSync(join(dir, 'stop-rc'));
});

test('an agent removed after save: start exits 5 (not installed) on each node in turn, its stop counts as done (no stop failure), left Failed', { skip }, async () => {
  const c = await cluster();
  const agent = join(ocfRoot, 'resource.d/test/gone');
  writeFileSync(agent, codesAgent);
  chmodSync(agent, 0o755);
  const dir = controlDir('gone');
  await applied(c, { gone: { preferredOwners: ['n1', 'n2'], resources: { 'gone-r': { type: 'ocf', props: { restartDelayMs: 100 }, priv: { agent: 'test:gone', params: { dir } } } } } });
  rmSync(agent);
  await online(c, 'gone');
  await waitFor('gone failed over once', async () => (await eventsOf(c, 'GROUP_FAILOVER_REQUESTED', 'gone')).length >= 1, 60_000, 100);
  const r = await waitRes(c, 'gone-r', 'Failed', (x) => x.state === 'Failed' && /OCF_ERR_INSTALLED/.test(x.error ?? ''));
  assert.match(r.error ?? '', /not installed/);
  assert.equal((await eventsOf(c, 'RESOURCE_STOP_FAILED', 'gone-r')).length, 0, 'a missing agent started nothing: its stop is not a failure');
  await offline(c, 'gone');
});

test('lsb: an init script of the --lsb-dir started, checked with status, stopped', { skip }, async () => {
  const c = await cluster();
  const state = join(root, 'lsb.state');
  writeFileSync(join(initDir, 'demo'), lsbScript(state));
  chmodSync(join(initDir, 'demo'), 0o755);
  await applied(c, { lsbg: { preferredOwners: ['n1', 'n2'], resources: { svc: { type: 'lsb', props: { isAliveIntervalMs: 500, restartDelayMs: 100 }, priv: { script: 'demo' } } } } });
  await online(c, 'lsbg');
  await waitRes(c, 'svc', 'Online on n1', (r) => r.state === 'Online' && r.node === 'n1');
  assert.equal(readFileSync(state, 'utf8').trim(), 'n1');
  rmSync(state); // status now says stopped (3): restarted in place
  await waitFor('svc restarted', async () => (await eventsOf(c, 'RESOURCE_RESTARTING', 'svc')).length > 0 && existsSync(state), 60_000, 100);
  await offline(c, 'lsbg');
  await waitRes(c, 'svc', 'Offline', (r) => r.state === 'Offline');
  assert.ok(!existsSync(state), 'stop ran');
});

test('heartbeat:Dummy fails over to the other node after kill -9 of its owner', { skip }, async () => {
  const c = await cluster();
  const state = join(root, 'fo.state');
  await applied(c, { fo: { preferredOwners: ['n1', 'n2'], resources: { fo1: { type: 'ocf', priv: { agent: 'heartbeat:Dummy', params: { state } } } } } });
  await online(c, 'fo');
  await waitRes(c, 'fo1', 'Online on n1', (r) => r.state === 'Online' && r.node === 'n1');
  killNode(c, 'n1');
  await waitRes(c, 'fo1', 'Online on n2', (r) => r.state === 'Online' && r.node === 'n2', 90_000);
  assert.ok(existsSync(state));
});
