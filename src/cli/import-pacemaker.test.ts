import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { importPacemaker, importText, parseDurationMs, parseScore, type ImportResult } from './import-pacemaker.js';
import { main } from './main.js';

const fixtures = join(resolve(dirname(fileURLToPath(import.meta.url)), '../../..'), 'test/fixtures/pacemaker');
const fixture = (name: string) => readFileSync(join(fixtures, name), 'utf8');

function must(xml: string): ImportResult {
  const r = importPacemaker(xml);
  if (!r.ok) assert.fail(r.error);
  return r.result;
}

/** A CIB around a resources section and a constraints section. */
const cib = (resources: string, constraints = '', extra = '') => `<cib><configuration><crm_config/>
  <nodes><node id="1" uname="n1"/><node id="2" uname="n2"/><node id="3" uname="n3"/></nodes>
  <resources>${resources}</resources><constraints>${constraints}</constraints>${extra}</configuration><status/></cib>`;
const dummy = (id: string, inner = '') => `<primitive id="${id}" class="ocf" provider="heartbeat" type="Dummy">${inner}</primitive>`;

test('a crmsh-made group with location, colocation and order constraints: everything translated', () => {
  const r = must(fixture('crmsh-group.xml'));
  assert.deepEqual(r.dropped, []);
  assert.deepEqual(r.nodes, ['n1', 'n2']);
  assert.deepEqual(r.groups, {
    'imp-g': {
      state: 'online', preferredOwners: ['n1', 'n2'], failback: 'never',
      resources: {
        'imp-db': { type: 'ocf', props: { isAliveIntervalMs: 5000, restartThreshold: 1 }, priv: { agent: 'heartbeat:Dummy', monitorTimeoutMs: 20000, startTimeoutMs: 30000, stopTimeoutMs: 30000 } },
        'imp-app': { type: 'ocf', dependsOn: ['imp-db'], props: { isAliveIntervalMs: 5000 }, priv: { agent: 'heartbeat:Dummy', monitorTimeoutMs: 20000 } },
        'imp-extra': { type: 'ocf', dependsOn: ['imp-app'], props: { isAliveIntervalMs: 10000, restartPeriodMs: 600000 }, priv: { agent: 'pacemaker:Dummy' } },
      },
    },
  });
});

test('a crmsh-made CIB with what does not translate: each listed with its id, the rest translated', () => {
  const r = must(fixture('crmsh-mixed.xml'));
  assert.deepEqual(r.dropped.map((d) => d.id).sort(),
    ['c2', 'crm_config no-quorum-policy=ignore', 'd1 meta target-role=Stopped', 'l4', 'o2', 'ping-clone', 'sd'].sort());
  assert.match(r.dropped.find((d) => d.id === 'sd')!.why, /systemd is not supported/);
  assert.match(r.dropped.find((d) => d.id === 'c2')!.why, /anti-affinity/);
  const g1 = r.groups.g1!;
  assert.deepEqual([g1.preferredOwners, g1.possibleOwners, g1.failback], [['n1', 'n2'], ['n1', 'n2'], 'immediate'], '-INFINITY excludes n3; no stickiness: fail back');
  assert.deepEqual(g1.resources.vip!.priv, { agent: 'heartbeat:IPaddr2', params: { ip: '10.0.0.5', cidr_netmask: '24' }, monitorTimeoutMs: 20000, startTimeoutMs: 20000, stopTimeoutMs: 20000 });
  assert.equal(g1.resources.vip!.props!.restartThreshold, 2, 'migration-threshold 3: moved at the 3rd failure, after 2 restarts');
  assert.deepEqual(g1.resources.web!.dependsOn, ['vip']);
  assert.deepEqual(r.groups.legacy!.resources.legacy, { type: 'lsb', props: { isAliveIntervalMs: 15000 }, priv: { script: 'cron' } });
  assert.deepEqual(Object.keys(r.groups.d1!.resources), ['d1', 'd2'], 'an INFINITY colocation puts d2 in d1\'s group');
  assert.deepEqual(r.groups.d1!.resources.d2!.dependsOn, ['d1'], 'the mandatory order becomes a dependency');
  assert.equal(r.groups.sd, undefined);
});

test('the lab CIB (cibadmin --query of a running Pacemaker): a 3-member group and 71 lone primitives, nothing dropped', () => {
  const r = must(fixture('pacemaker-lab-cib.xml'));
  assert.deepEqual(r.dropped, []);
  assert.deepEqual(r.nodes, ['node1', 'node2', 'node3']);
  const g = r.groups.g!;
  assert.deepEqual(Object.keys(g.resources), ['dummy', 'vip', 'web']);
  assert.deepEqual([g.resources.vip!.dependsOn, g.resources.web!.dependsOn], [['dummy'], ['vip']]);
  assert.deepEqual(g.resources.web!.priv.params, { binfile: '/usr/bin/python3', cmdline_options: '-m http.server 8080 --bind 0.0.0.0 --directory /srv/www' });
  assert.equal(g.resources.dummy!.props!.isAliveIntervalMs, 2000);
  assert.equal(Object.keys(r.groups).length, 1 + 1 + (Object.keys(r.groups).filter((n) => /^bd\d+$/.test(n)).length));
  assert.deepEqual(r.groups.bd1!.resources.bd1!.priv.params, { fake: 'v6' });
});

test('the printed document is YAML of the same groups, with a header naming the nodes', () => {
  const r = must(fixture('crmsh-mixed.xml'));
  const text = importText(r, 'cib.xml');
  assert.match(text, /^# .*cib\.xml/);
  assert.match(text, /Nodes of that cluster: n1, n2, n3/);
  assert.match(text, /7 element\(s\) were not translated/);
  assert.deepEqual((parse(text) as { groups: unknown }).groups, JSON.parse(JSON.stringify(r.groups)));
});

test('scores and durations as Pacemaker writes them', () => {
  assert.deepEqual(['INFINITY', '+INFINITY', '-INFINITY', 'inf', '-inf', '100', '-20', 'x'].map(parseScore), [Infinity, Infinity, -Infinity, Infinity, -Infinity, 100, -20, null]);
  assert.deepEqual(['10', '10s', '500ms', '2min', '1h', 'PT1M30S', '20sec', 'soon'].map(parseDurationMs), [10000, 10000, 500, 120000, 3600000, 90000, 20000, null]);
});

test('meta attributes: migration-threshold INFINITY restarts in place, stickiness decides failback, target-role Stopped on the group', () => {
  const r = must(cib(
    `<group id="g"><meta_attributes id="g-m"><nvpair id="g-m-1" name="target-role" value="Stopped"/><nvpair id="g-m-2" name="resource-stickiness" value="10"/></meta_attributes>
      ${dummy('a', '<meta_attributes id="a-m"><nvpair id="a-m-1" name="migration-threshold" value="INFINITY"/><nvpair id="a-m-2" name="priority" value="5"/></meta_attributes>')}</group>`,
    '<rsc_location id="l1" rsc="g" node="n2" score="100"/><rsc_location id="l2" rsc="g" node="n1" score="50"/>'));
  assert.deepEqual(r.groups.g, { state: 'offline', preferredOwners: ['n2', 'n1'], failback: 'immediate',
    resources: { a: { type: 'ocf', props: { restartAction: 'restart' }, priv: { agent: 'heartbeat:Dummy' } } } });
  assert.deepEqual(r.dropped, [{ id: 'a meta priority=5', why: 'this meta attribute has no clusterd equivalent' }]);
});

test('constraints that do not translate: rules, sets, roles, finite colocations, orders across groups, cycles', () => {
  const r = must(cib(`${dummy('a')}${dummy('b')}${dummy('c')}`,
    `<rsc_location id="rule" rsc="a"><rule id="r1" score="100"><expression id="e1" attribute="#uname" operation="eq" value="n1"/></rule></rsc_location>
     <rsc_colocation id="soft" rsc="b" with-rsc="a" score="50"/>
     <rsc_order id="across" first="a" then="b" kind="Mandatory"/>
     <rsc_colocation id="same" rsc="c" with-rsc="a" score="INFINITY"/>
     <rsc_order id="fwd" first="a" then="c" kind="Mandatory"/>
     <rsc_order id="back" first="c" then="a" kind="Mandatory"/>
     <rsc_colocation id="sets" score="INFINITY"><resource_set id="s1"><resource_ref id="a"/><resource_ref id="b"/></resource_set></rsc_colocation>
     <rsc_location id="ghost" rsc="nope" node="n1" score="10"/>`));
  assert.deepEqual(r.dropped.map((d) => d.id).sort(), ['across', 'back', 'ghost', 'rule', 'sets', 'soft']);
  assert.deepEqual(Object.keys(r.groups).sort(), ['a', 'b']);
  assert.deepEqual(r.groups.a!.resources.c!.dependsOn, ['a']);
  assert.match(r.dropped.find((d) => d.id === 'back')!.why, /cycle/);
});

test('symmetric-cluster=false: only nodes with a positive score may run the group; bad ids are reported', () => {
  const r = must(cib(`${dummy('a')}${dummy('_bad')}`, '<rsc_location id="l" rsc="a" node="n3" score="10"/>').replace('<crm_config/>',
    '<crm_config><cluster_property_set id="o"><nvpair id="o1" name="symmetric-cluster" value="false"/></cluster_property_set></crm_config>'));
  assert.deepEqual([r.groups.a!.preferredOwners, r.groups.a!.possibleOwners], [['n3'], ['n3']]);
  assert.deepEqual(r.dropped.map((d) => d.id), ['_bad']);
});

test('not a CIB: refused with what to give instead', () => {
  for (const text of ['', '<xml/>', 'not xml at all <', '<cib><status/></cib>']) {
    const r = importPacemaker(text);
    assert.ok(!r.ok, text);
    assert.match(r.error, /cibadmin --query/);
  }
});

test('cluster import pacemaker: YAML on stdout, dropped elements on stderr, exit 0 / 3 / 1 / 2', async () => {
  const run = async (argv: string[], files: Record<string, string>) => {
    let out = '';
    let err = '';
    const code = await main(argv, { out: (s) => { out += s; }, err: (s) => { err += s; }, env: {},
      readFile: async (p) => { if (files[p] === undefined) throw Object.assign(new Error('ENOENT'), { code: 'BAD_ARGUMENT' }); return files[p]!; } });
    return { code, out, err };
  };
  const full = await run(['import', 'pacemaker', 'a.xml'], { 'a.xml': fixture('crmsh-group.xml') });
  assert.deepEqual([full.code, full.err], [0, '']);
  assert.match(full.out, /imp-g:/);
  const partial = await run(['import', 'pacemaker', 'b.xml'], { 'b.xml': fixture('crmsh-mixed.xml') });
  assert.equal(partial.code, 3);
  assert.match(partial.err, /^not translated: .*\n/m);
  assert.equal(partial.err.split('\n').filter(Boolean).length, 7);
  const bad = await run(['import', 'pacemaker', 'c.xml'], { 'c.xml': '<html/>' });
  assert.deepEqual([bad.code, bad.out], [1, '']);
  const missing = await run(['import', 'pacemaker', 'nope.xml'], {});
  assert.equal(missing.code, 1);
  const usage = await run(['import', 'heartbeat', 'x.xml'], {});
  assert.equal(usage.code, 2);
});
