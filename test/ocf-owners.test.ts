// The save-time agent check runs on each possible owner, on a real three-node cluster: n1 and n2
// run with an OCF root that holds the test agent `test:codes`, n3 with one that lacks it (the
// agent directory is a setting of each node: clusterd start --ocf-root). A resource that may run
// on n3 is refused naming n3; restricting its group's possible owners to n1 and n2 is accepted;
// widening them again is refused; different problems on different owners are all named at once;
// only nodes may call the check route; an owner that is Down is named in a warning and does not
// block the save. The nodes serve HTTPS: the owners are asked over mutual TLS. Timings are never
// asserted.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StatusSnapshot } from '../src/api/types.js';
import { tlsFetch } from '../src/api/tls-fetch.js';
import { TestCluster, waitFor } from './harness.js';

const root = mkdtempSync(join(tmpdir(), 'clusterd-ocf-owners-'));
const withAgent = join(root, 'ocf-full');
const withoutAgent = join(root, 'ocf-lacking');
const control = join(root, 'control');

/** test:codes: validate-all exits with the code in $dir/validate-rc-NODE when there is one; every other action succeeds. */
const codesAgent = `#!/bin/sh
d="$OCF_RESKEY_dir"
n="$OCF_RESKEY_CRM_meta_on_node"
case "$1" in
meta-data) cat <<'EOF'
<?xml version="1.0"?>
<resource-agent name="codes" version="1.0">
<version>1.0</version>
<shortdesc lang="en">Test agent</shortdesc>
<parameters>
<parameter name="dir" required="1"><shortdesc lang="en">Directory of control files</shortdesc><content type="string"/></parameter>
</parameters>
<actions>
<action name="start" timeout="15s"/><action name="stop" timeout="15s"/><action name="monitor" timeout="15s" interval="2s"/>
<action name="validate-all" timeout="15s"/><action name="meta-data" timeout="5s"/>
</actions>
</resource-agent>
EOF
exit 0;;
validate-all) if [ -f "$d/validate-rc-$n" ]; then echo "ocf-exit-reason:refused on $n" >&2; exit "$(cat "$d/validate-rc-$n")"; fi; exit 0;;
start) touch "$d/running-$n"; exit 0;;
stop) rm -f "$d/running-$n"; exit 0;;
monitor) [ -f "$d/running-$n" ] && exit 0; exit 7;;
*) exit 3;;
esac
`;

mkdirSync(join(withAgent, 'resource.d/test'), { recursive: true });
mkdirSync(join(withoutAgent, 'resource.d/test'), { recursive: true });
writeFileSync(join(withAgent, 'resource.d/test/codes'), codesAgent);
chmodSync(join(withAgent, 'resource.d/test/codes'), 0o755);
mkdirSync(control);

let shared: Promise<TestCluster> | null = null;
async function startCluster(): Promise<TestCluster> {
  // HTTPS: the coordinator asks the other owners over mutual TLS, as on a real network.
  const c = new TestCluster({ startArgs: ['--tls'] });
  c.init();
  // n1 first: it is the likely coordinator, so the old coordinator-only check would not have looked at n3.
  await c.startNode('n1', ['--ocf-root', withAgent]);
  await c.startNode('n2', ['--ocf-root', withAgent]);
  await c.startNode('n3', ['--ocf-root', withoutAgent]);
  await c.waitStatus('three nodes Up and a coordinator', (s) => !!s.coordinator && s.nodes.filter((n) => n.state === 'Up').length === 3, 60_000);
  return c;
}
const cluster = (): Promise<TestCluster> => (shared ??= startCluster());
after(async () => {
  if (shared) await (await shared).close();
  rmSync(root, { recursive: true, force: true });
});

type ErrorBody = { error?: { code: string; message: string; hint?: string } };

/** A write sent to the coordinator itself (the checks run while it waits). */
async function toCoordinator(c: TestCluster, path: string, method: string, body: unknown): Promise<{ status: number; body: ErrorBody }> {
  const s = await c.status();
  return c.api<ErrorBody>(path, { method, body, via: s.coordinator!, headers: {} }).catch(async () => c.api<ErrorBody>(path, { method, body }));
}

const group = (name: string, extra: Record<string, unknown> = {}) => ({
  [name]: { ...extra, resources: { [`${name}-r`]: { type: 'ocf', priv: { agent: 'test:codes', params: { dir: control } } } } },
});
const apply = (c: TestCluster, groups: Record<string, unknown>) => toCoordinator(c, '/v1/apply', 'POST', { spec: { groups }, dryRun: false });

test('a resource whose possible owners include a node without its agent is refused naming that node; restricted to the nodes that have it, it is accepted', async () => {
  const c = await cluster();
  const refused = await apply(c, group('anywhere'));
  assert.equal(refused.status, 400, JSON.stringify(refused.body));
  assert.equal(refused.body.error?.code, 'AGENT_NOT_FOUND');
  assert.match(refused.body.error?.message ?? '', /AGENT_NOT_FOUND on n3: /);
  assert.doesNotMatch(refused.body.error?.message ?? '', /on n1:|on n2:/, 'only n3 lacks the agent');
  assert.match(refused.body.error?.hint ?? '', /possibleOwners/);
  assert.equal((await c.api('/v1/resources/anywhere-r')).status, 404, 'nothing was saved');

  const accepted = await apply(c, group('restricted', { possibleOwners: ['n1', 'n2'], preferredOwners: ['n1', 'n2'], state: 'online' }));
  assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
  await c.waitStatus('restricted Online on n1', (s) => s.groups.some((g) => g.name === 'restricted' && g.state === 'Online' && g.node === 'n1'), 60_000);

  // Widening the possible owners to n3 is checked too.
  const widened = await toCoordinator(c, '/v1/groups/restricted', 'PATCH', { possibleOwners: ['n1', 'n2', 'n3'] });
  assert.equal(widened.status, 400, JSON.stringify(widened.body));
  assert.equal(widened.body.error?.code, 'AGENT_NOT_FOUND');
  assert.match(widened.body.error?.message ?? '', /on n3/);
  const g = await c.api<{ possibleOwners: string[] }>('/v1/groups/restricted');
  assert.deepEqual(g.body.possibleOwners, ['n1', 'n2']);
});

test('different problems on different owners are named together (AGENT_CHECK_REFUSED)', async () => {
  const c = await cluster();
  writeFileSync(join(control, 'validate-rc-n2'), '6');
  try {
    const r = await apply(c, group('mixed'));
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.equal(r.body.error?.code, 'AGENT_CHECK_REFUSED');
    assert.match(r.body.error?.message ?? '', /AGENT_INVALID on n2: .*refused on n2/);
    assert.match(r.body.error?.message ?? '', /AGENT_NOT_FOUND on n3: /);
  } finally {
    rmSync(join(control, 'validate-rc-n2'));
  }
});

test('the check route is for nodes only: a user\'s admin token is refused, the node token needs a node certificate, a node gets the node\'s own verdict', async () => {
  const c = await cluster();
  const body = { cluster: 'test', resources: [{ name: 'x', group: 'g', type: 'ocf', props: { isAliveIntervalMs: 1000 }, priv: { agent: 'test:codes', params: { dir: control } } }] };
  const asAdmin = await c.api<ErrorBody>('/v1/internal/agent-check', { method: 'POST', body, via: 'n3' });
  assert.equal(asAdmin.status, 403);
  assert.equal(asAdmin.body.error?.code, 'AUTH_FORBIDDEN');
  const nodeToken = readFileSync(join(c.quorum.slice(4), 'auth', 'node.token'), 'utf8').trim();
  // The node token alone is not enough with TLS: a node also presents its certificate.
  const noCert = await c.api<ErrorBody>('/v1/internal/agent-check', { method: 'POST', body, via: 'n3', token: nodeToken });
  assert.equal(noCert.status, 401, JSON.stringify(noCert.body));
  type Reply = { node: string; checks: Record<string, { problem?: { code: string }; monitorIntervalMs?: number }> };
  const tls = join(c.dir, 'data-n1', 'tls');
  const asNode = tlsFetch({ ca: readFileSync(join(c.quorum.slice(4), 'auth', 'ca.crt'), 'utf8'), cert: readFileSync(join(tls, 'node.crt'), 'utf8'), key: readFileSync(join(tls, 'node.key'), 'utf8') });
  const ask = async (node: string): Promise<Reply> => {
    const res = await asNode(`${c.nodes.get(node)!.url}/v1/internal/agent-check`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${nodeToken}` }, body: JSON.stringify(body), signal: AbortSignal.timeout(60_000),
    });
    assert.equal(res.status, 200);
    return (await res.json()) as Reply;
  };
  const n3 = await ask('n3');
  assert.equal(n3.node, 'n3');
  assert.equal(n3.checks.x?.problem?.code, 'AGENT_NOT_FOUND');
  const n1 = await ask('n1');
  assert.equal(n1.checks.x?.problem, undefined, JSON.stringify(n1));
  assert.equal(n1.checks.x?.monitorIntervalMs, 2_000, 'the agent\'s meta-data monitor interval');
});

test('an owner that is Down does not block the save: it is named in an AGENT_CHECK_SKIPPED warning', async () => {
  const c = await cluster();
  const n3 = c.nodes.get('n3')!;
  n3.proc.kill('SIGKILL');
  await n3.exited;
  await c.waitStatus('n3 Down', (s: StatusSnapshot) => s.nodes.some((n) => n.name === 'n3' && n.state === 'Down'), 60_000);
  const r = await apply(c, group('while-down'));
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const warned = await waitFor('AGENT_CHECK_SKIPPED', async () => (await c.events()).find((e) => e.event === 'AGENT_CHECK_SKIPPED' && /while-down-r/.test(e.message)), 30_000, 200);
  assert.match(warned.message, /n3 is Down/);
  assert.equal(warned.level, 'warning');
});
