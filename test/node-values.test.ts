// Node values in a process's settings: one configuration, and the process on each node is given
// that node's own name and address (${CLUSTERD_NODE_NAME}, ${CLUSTERD_NODE_ADDRESS}) in its
// args, env, probe and cwd. Two real clusterd nodes listening on two loopback addresses
// (127.0.0.2 and 127.0.0.3); the service binds the address it is given, so its probe passes only
// when the probe too names the node's own address. An unknown name is refused when saved.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, TestCluster, waitFor } from './harness.js';

const addresses: Record<string, string> = { n1: '127.0.0.2', n2: '127.0.0.3' };
let c: TestCluster;

before(async () => {
  c = new TestCluster();
  c.init();
  for (const [name, address] of Object.entries(addresses)) await c.startNode(name, ['--listen', `${address}:0`]);
  await c.waitStatus('both nodes Up with a coordinator', (s) => !!s.coordinator && s.nodes.filter((n) => n.state === 'Up').length === 2, 60_000);
});

after(async () => {
  await c?.close();
});

// The service: binds ADDRESS:PORT and records what it was given (argv, env, cwd).
const service = `
const [address, name, port, out] = process.argv.slice(2);
require('node:net').createServer((s) => s.end()).listen(Number(port), address, () => {
  require('node:fs').writeFileSync(out + '/seen-' + name + '.json', JSON.stringify({ argv: process.argv.slice(2), self: process.env.SELF, cwd: process.cwd() }));
});
setInterval(() => {}, 1000);
`;

interface Seen { argv: string[]; self: string; cwd: string }

test('a process on each node sees its own name and address in args, env and cwd, and its probe reaches it there', { timeout: 180_000 }, async () => {
  const script = join(c.dir, 'service.js');
  writeFileSync(script, service);
  for (const n of Object.keys(addresses)) mkdirSync(join(c.dir, `cwd-${n}`));
  const port = await freePort();
  const spec = { groups: { g: {
    preferredOwners: ['n1', 'n2'],
    resources: { svc: { type: 'process', priv: {
      command: process.execPath, args: [script, '${CLUSTERD_NODE_ADDRESS}', '${CLUSTERD_NODE_NAME}', String(port), c.dir],
      env: ['SELF=${CLUSTERD_NODE_NAME}@${CLUSTERD_NODE_ADDRESS}'], cwd: `${c.dir}/cwd-\${CLUSTERD_NODE_NAME}`,
      probe: `tcp:\${CLUSTERD_NODE_ADDRESS}:${port}`,
    } } },
  } } };
  const r = await c.api('/v1/apply', { method: 'POST', body: { spec, dryRun: false } });
  assert.equal(r.status, 200, JSON.stringify(r.body));

  const seenOn = async (node: string): Promise<Seen> => {
    await c.waitStatus(`group g Online on ${node}`, (s) => s.groups.some((g) => g.name === 'g' && g.node === node && g.state === 'Online'), 90_000);
    const file = join(c.dir, `seen-${node}.json`);
    await waitFor(`${file}`, () => existsSync(file), 30_000);
    return JSON.parse(readFileSync(file, 'utf8')) as Seen;
  };
  const one = await seenOn('n1');
  assert.deepEqual(one, { argv: [addresses.n1, 'n1', String(port), c.dir], self: `n1@${addresses.n1}`, cwd: join(c.dir, 'cwd-n1') });

  const moved = c.cli(['group', 'g', '/move:n2']);
  assert.equal(moved.code, 0, moved.err);
  const two = await seenOn('n2');
  assert.deepEqual(two, { argv: [addresses.n2, 'n2', String(port), c.dir], self: `n2@${addresses.n2}`, cwd: join(c.dir, 'cwd-n2') });
  // The configuration keeps what was written: the placeholders, not one node's values.
  const res = await c.api<{ priv: { args: string[] } }>('/v1/resources/svc');
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.priv.args[1], '${CLUSTERD_NODE_ADDRESS}');
});

test('an unknown ${...} name is refused when saved, naming the property and the known names', async () => {
  const spec = { groups: { bad: { resources: { b: { type: 'process', priv: { command: '/bin/true', args: ['${NODE_IP}'] } } } } } };
  const r = await c.api<{ error: { code: string; message: string; path?: string } }>('/v1/apply', { method: 'POST', body: { spec, dryRun: false } });
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.equal(r.body.error.code, 'BAD_PROPERTY');
  assert.match(r.body.error.message, /\$\{NODE_IP\}, which is not a node value.*\$\{CLUSTERD_NODE_ADDRESS\}/);
  const cli = c.cli(['res', 'x', '/create', '/group:bad2', '/type:process', '/priv:command=/bin/true', '/priv:probe=tcp:${HOST}:80']);
  assert.notEqual(cli.code, 0);
  assert.match(cli.err, /error\[BAD_PROPERTY\].*\$\{HOST\}/s);
});
