// clusterd's memory as a unit file starts it (`node bin/clusterd.js start`, no Node.js flags):
// its young generation stays small: 1 MiB per semi-space, at most one doubling while a worker thread
// starts and Node.js puts V8's flags back (the default grows it to 16 MiB per semi-space); from
// 5,000 groups and resources on (node/heap-flags.ts) it may grow under load.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { clusterdBin, TestCluster, waitFor } from './harness.js';

const c = new TestCluster();
after(() => c.close());

test('clusterd started without Node.js flags keeps a small young generation (at most 8 MiB, against 16-32 by default)', async () => {
  c.init();
  let out = '';
  const proc = spawn(process.execPath, [clusterdBin, 'start', '--quorum', c.quorum, '--node', 'n1', '--listen', '127.0.0.1:0', '--data-dir', join(c.dir, 'data-n1')],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  after(() => { proc.kill('SIGKILL'); });
  proc.stdout.on('data', (b: Buffer) => { out += b.toString(); });
  proc.stderr.on('data', (b: Buffer) => { out += b.toString(); });
  const url = await waitFor('clusterd to listen', () => /serving the API on (http:\/\/[0-9.:]+)/.exec(out)?.[1], 60_000);
  // Work that allocates: the young generation grows under it when it may.
  for (let i = 0; i < 200; i++) {
    const r = await fetch(`${url}/v1/groups`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${c.token}` }, body: JSON.stringify({ name: `g${i}` }) });
    assert.equal(r.status, 200, await r.text());
  }
  const text = await (await fetch(`${url}/metrics`)).text();
  const newSpace = Number(/^nodejs_heap_space_size_total_bytes\{space="new"\} (\d+)$/m.exec(text)?.[1]);
  assert.ok(newSpace > 0, 'the new space is on /metrics');
  assert.ok(newSpace <= 8 * 1024 * 1024, `new space ${newSpace} bytes`);

  // A large configuration: the young generation grows under the work of its cycles.
  const groups = Object.fromEntries(Array.from({ length: 6_000 }, (_, i) => [`big${i}`, {}]));
  const applied = await fetch(`${url}/v1/apply`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${c.token}` }, body: JSON.stringify({ spec: { groups }, dryRun: false }) });
  assert.equal(applied.status, 200, await applied.text());
  const newSpaceNow = async () => Number(/^nodejs_heap_space_size_total_bytes\{space="new"\} (\d+)$/m.exec(await (await fetch(`${url}/metrics`)).text())?.[1]);
  let i = 0;
  await waitFor('the young generation to grow past 8 MiB with 6,000 groups', async () => {
    for (let k = 0; k < 10; k++, i++) {
      const r = await fetch(`${url}/v1/groups`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${c.token}` }, body: JSON.stringify({ name: `more${i}` }) });
      assert.equal(r.status, 200, await r.text());
    }
    return (await newSpaceNow()) > 8 * 1024 * 1024;
  }, 120_000, 100);
});
