// Progress of long waits on stderr: at a terminal, a line redrawn in place while an apply is
// under way or a group comes online, erased at the end (stdout keeps only the result); into a
// pipe, nothing on stderr and no escape code anywhere. Real nodes; the CLI in-process for the
// terminal case (stderr said to be a terminal), the `cluster` binary for the pipe case.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../src/cli/main.js';
import { freePort, TestCluster } from './harness.js';

let c: TestCluster;
before(async () => { c = await TestCluster.start(['n1']); });
after(async () => { await c?.close(); });

const escape = /\x1b/;

async function cli(args: string[], errIsTty: boolean): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, {
    out: (s) => { out += s; }, err: (s) => { err += s; }, isTty: false, errIsTty,
    env: { CLUSTERD_ENDPOINT: c.liveUrls().join(','), XDG_CONFIG_HOME: c.configHome },
  });
  return { code, out, err };
}

function applyFile(name: string, group: string, resources: number): string {
  const lines = [`groups:`, `  ${group}:`, `    resources:`];
  for (let i = 0; i < resources; i++) lines.push(`      ${group}-r${i}:`, `        type: process`, `        priv: { command: /bin/sleep, args: ["1000"] }`);
  const file = join(c.dir, name);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

test('an apply of many resources shows a progress line on a terminal\'s stderr and erases it; into a pipe nothing', async () => {
  const tty = await cli(['apply', '-f', applyFile('a.yaml', 'many', 30)], true);
  assert.equal(tty.code, 0, tty.err);
  assert.match(tty.err, /\r\x1b\[Kapplying 1 group\(s\), 30 resource\(s\): \d+ s/);
  assert.ok(tty.err.endsWith('\r\x1b[K'), `the line is erased at the end: ${JSON.stringify(tty.err.slice(-40))}`);
  assert.doesNotMatch(tty.out, escape);

  const pipe = c.cli(['apply', '-f', applyFile('b.yaml', 'more', 30)]);
  assert.equal(pipe.code, 0, pipe.err);
  assert.equal(pipe.err, '');
  assert.doesNotMatch(pipe.out, escape);
});

test('waiting for a group to come online shows its state on a terminal\'s stderr; into a pipe nothing', { timeout: 120_000 }, async () => {
  const port = await freePort();
  // Listens only after two seconds: every online waits at least that long for its probe.
  const script = join(c.dir, 'slow.js');
  writeFileSync(script, `setTimeout(() => require('node:net').createServer((s) => s.end()).listen(${port}, '127.0.0.1'), 2000);\n`);
  const spec = { groups: { slow: { resources: { 'slow-srv': { type: 'process', priv: { command: process.execPath, args: [script], probe: `tcp:127.0.0.1:${port}` } } } } } };
  const r = await c.api('/v1/apply', { method: 'POST', body: { spec, dryRun: false } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await c.waitStatus('slow Online', (s) => s.groups.some((g) => g.name === 'slow' && g.state === 'Online'), 60_000);

  assert.equal((await cli(['group', 'slow', '/offline'], true)).code, 0);
  const tty = await cli(['group', 'slow', '/online'], true);
  assert.equal(tty.code, 0, tty.err);
  assert.match(tty.err, /\r\x1b\[Kgroup 'slow' is \w+: waiting, \d+ s of \d+ s/);
  assert.ok(tty.err.endsWith('\r\x1b[K'));
  assert.doesNotMatch(tty.out, escape);

  assert.equal(c.cli(['group', 'slow', '/offline']).code, 0);
  const pipe = c.cli(['group', 'slow', '/online']);
  assert.equal(pipe.code, 0, pipe.err);
  assert.equal(pipe.err, '');
  assert.doesNotMatch(pipe.out, escape);
});
