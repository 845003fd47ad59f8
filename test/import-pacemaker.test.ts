// `cluster import pacemaker` end to end: a CIB written by crmsh (a group of heartbeat:Dummy
// resources with location, colocation and order constraints, test/fixtures/pacemaker/crmsh-group.xml)
// is imported, applied with `cluster apply` to a real two-node cluster, and runs: every resource
// Online on the node the location scores prefer, in the order the constraints say.
// Needs the ocf resource type, Debian's resource-agents (heartbeat:Dummy) and pacemaker-resource-agents
// (pacemaker:Dummy; .ci/run installs both).

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, TestCluster } from './harness.js';

let cluster: TestCluster | null = null;
after(async () => { await cluster?.close(); });

test('a crmsh-made CIB imported, applied and running on a real cluster', { timeout: 120_000 }, async () => {
  for (const [agent, pkg] of [['heartbeat/Dummy', 'resource-agents'], ['pacemaker/Dummy', 'pacemaker-resource-agents']] as const) {
    assert.ok(existsSync(`/usr/lib/ocf/resource.d/${agent}`), `the CIB names ${agent.replace('/', ':')}: apt-get install ${pkg}`);
  }
  cluster = await TestCluster.start(['n1', 'n2']);
  const cib = join(repoRoot, 'test/fixtures/pacemaker/crmsh-group.xml');
  const imported = cluster.cli(['import', 'pacemaker', cib]);
  assert.equal(imported.code, 0, `import: exit ${imported.code}\n${imported.err}`);
  assert.equal(imported.err, '', 'everything in this CIB translates');
  const file = join(cluster.dir, 'imported.yaml');
  writeFileSync(file, imported.out);
  const applied = cluster.cli(['apply', '-f', file]);
  assert.equal(applied.code, 0, `cluster apply of the imported file: exit ${applied.code}\n${applied.out}\n${applied.err}\n--- file:\n${imported.out}`);
  const s = await cluster.waitStatus('imp-g Online with its three resources', (st) => {
    const g = st.groups.find((x) => x.name === 'imp-g');
    return g?.state === 'Online' && st.resources.filter((r) => r.group === 'imp-g' && r.state === 'Online').length === 3;
  }, 60_000).catch((e: Error) => assert.fail(`${e.message}\n${cluster!.readLog('n1').split('\n').slice(-30).join('\n')}`));
  assert.equal(cluster.nodeOf(s, 'imp-g'), 'n1', 'location scores: n1 (100) before n2 (50)');
  const deps = cluster.cli(['res', 'imp-extra', '/listdep', '--json']);
  assert.equal(deps.code, 0, deps.err);
  assert.match(deps.out, /imp-app/, 'the order constraint imp-g then imp-extra: imp-extra depends on the group\'s last member');
});
