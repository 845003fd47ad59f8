// Admission control through real clusterd processes: a node that handles as many writes as it
// takes refuses one more at once (429 NODE_BUSY, Retry-After), keeps answering reads, and takes
// writes again once those in flight are done. Writes are held in flight by stopping the
// coordinator they are forwarded to (SIGSTOP): they wait for it until the forward timeout.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authFor, TestCluster, waitFor } from './harness.js';

let cluster: TestCluster | null = null;
after(async () => {
  for (const n of cluster?.nodes.values() ?? []) { try { n.proc.kill('SIGCONT'); } catch { /* gone */ } }
  await cluster?.close();
});

async function writesInFlight(url: string): Promise<number> {
  const text = await fetch(`${url}/metrics`).then((r) => r.text());
  return Number(/^clusterd_writes_in_flight (\S+)$/m.exec(text)?.[1]);
}

test('writes past writesInFlightMax get 429 NODE_BUSY with Retry-After; reads are answered meanwhile', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'clusterd-admission-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'clusterd.yaml');
  writeFileSync(config, 'admission:\n  writesInFlightMax: 2\n');
  const started = (cluster = await TestCluster.start(['n1', 'n2'], { startArgs: ['--config', config] }));
  const s = await started.status();
  const coord = started.nodes.get(s.coordinator!)!;
  const other = [...started.nodes.values()].find((n) => n.name !== coord.name)!;

  coord.proc.kill('SIGSTOP');
  const post = (name: string) => fetch(`${other.url}/v1/groups`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...authFor(other.url) }, body: JSON.stringify({ name }), signal: AbortSignal.timeout(60_000),
  }).then(async (r) => ({ status: r.status, retryAfter: r.headers.get('retry-after'), body: await r.text() }));
  const held = [post('held-1'), post('held-2')];
  await waitFor('two writes in flight on the other node', async () => (await writesInFlight(other.url)) === 2, 30_000);
  const refused = await post('one-more');
  assert.equal(refused.status, 429, refused.body);
  assert.equal((JSON.parse(refused.body) as { error: { code: string } }).error.code, 'NODE_BUSY');
  assert.equal(refused.retryAfter, '1');
  const read = await fetch(`${other.url}/v1/status`, { headers: authFor(other.url) });
  assert.equal(read.status, 200, 'reads are not refused');
  await read.arrayBuffer();

  coord.proc.kill('SIGCONT');
  // The held writes end (forwarded, timed out or refused by a coordinator that changed): their places are given back.
  for (const h of await Promise.all(held)) assert.notEqual(h.status, 429, h.body);
  assert.equal(await writesInFlight(other.url), 0);
  await waitFor('a write is taken again', async () => {
    const r = await post(`later-${Date.now()}`);
    return r.status === 200 ? r : null;
  }, 60_000, 500);
});
