// A few hundred real resources, a burst of API writes and an event-stream reader that never
// reads, on real clusterd processes: no node stalls or fences itself, every resource stays
// Online, and every write is either done or refused with 429 and Retry-After (never left to
// wait in an unbounded queue). No timing assertions: only what happened.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authFor, TestCluster, sleep, waitFor } from './harness.js';

const groups = 20;
const perGroup = 10;
const total = groups * perGroup;
const writers = 64;
const writesEach = 8;
const stallEvents = new Set(['NODE_STALLED', 'NODE_SELF_FENCED', 'NODE_LEASE_LOST']);

let cluster: TestCluster | null = null;
let runDir = '';
after(async () => {
  await cluster?.close();
  // The resources run in runDir: whatever is left (a monitor killed before its children) is found by its working directory.
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try { if (readlinkSync(`/proc/${entry}/cwd`) === runDir) process.kill(Number(entry), 'SIGKILL'); } catch { /* gone, or not ours */ }
  }
});

test(`${total} real resources, ${writers} writers and a stream reader that never reads: no stall, no fence, all stay Online`, async () => {
  // Not in a TestCluster's directory: its close() kills every process naming that directory.
  const dir = mkdtempSync(join(tmpdir(), 'clusterd-scale-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'clusterd.yaml');
  // A small write limit, so the burst meets admission control: refused writes must say when to retry.
  writeFileSync(config, 'admission:\n  writesInFlightMax: 16\n');
  const c = (cluster = await TestCluster.start(['n1', 'n2', 'n3'], { startArgs: ['--config', config] }));
  runDir = join(c.dir, 'run');
  mkdirSync(runDir);

  const spec: Record<string, unknown> = {};
  for (let g = 0; g < groups; g++) {
    const resources: Record<string, unknown> = {};
    for (let r = 0; r < perGroup; r++) resources[`g${g}r${r}`] = { type: 'process', priv: { command: '/bin/sleep', args: ['100000'], cwd: runDir } };
    spec[`g${g}`] = { resources };
  }
  // One apply, waited for as long as a loaded host needs (the harness's api() gives up after 5 s).
  const applied = await fetch(`${c.liveUrls()[0]}/v1/apply`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...authFor(c.liveUrls()[0]!) }, body: JSON.stringify({ spec: { groups: spec } }), signal: AbortSignal.timeout(120_000),
  });
  assert.equal(applied.status, 200, await applied.text());
  await c.waitStatus(`all ${total} resources Online`, (s) => s.resources.filter((r) => r.state === 'Online').length === total, 180_000);
  const mark = (await c.events()).reduce((m, e) => Math.max(m, e.id), 0);
  const before = await c.status();
  const owners = new Map(before.resources.map((r) => [r.name, r.node]));

  // A reader of the whole event log that never reads a byte.
  const urlOf = new URL(c.liveUrls()[0]!);
  const stalled = net.connect(Number(urlOf.port), urlOf.hostname);
  stalled.on('error', () => undefined);
  stalled.write(`GET /v1/events/stream?after=0 HTTP/1.1\r\nHost: ${urlOf.host}\r\nAuthorization: ${authFor(urlOf.href).authorization}\r\n\r\n`);
  stalled.pause();

  // Writes go to the coordinator itself: a forwarded write also waits for the forwarding hop (10 s at most).
  const coordinatorUrl = c.nodes.get(before.coordinator!)!.url;
  const answers: { status: number; code: string | null; retryAfter: string | null }[] = [];
  await Promise.all(Array.from({ length: writers }, async (_, w) => {
    for (let i = 0; i < writesEach; i++) {
      const r = await fetch(`${coordinatorUrl}/v1/groups`, {
        method: 'POST', headers: { 'content-type': 'application/json', ...authFor(coordinatorUrl) }, body: JSON.stringify({ name: `burst-${w}-${i}` }), signal: AbortSignal.timeout(60_000),
      });
      const text = await r.text();
      const code = r.ok ? null : (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? null;
      answers.push({ status: r.status, code, retryAfter: r.headers.get('retry-after') });
    }
  }));
  stalled.destroy();
  await sleep(3_000);

  const events = (await c.events()).filter((e) => e.id > mark);
  assert.deepEqual(events.filter((e) => stallEvents.has(e.event)).map((e) => `${e.node} ${e.event}: ${e.message}`), []);
  assert.deepEqual(events.filter((e) => e.event === 'RESOURCE_OFFLINE' || e.event === 'RESOURCE_FAILED').map((e) => `${e.node} ${e.event}: ${e.message}`), []);
  const refused = answers.filter((a) => a.status !== 200);
  for (const a of refused) {
    assert.equal(a.status, 429, `a write failed otherwise than refused for load: ${JSON.stringify(a)}`);
    assert.ok(a.code === 'NODE_BUSY' || a.code === 'QUORUM_BUSY', JSON.stringify(a));
    assert.ok(Number(a.retryAfter) > 0, `429 without Retry-After: ${JSON.stringify(a)}`);
  }
  assert.ok(answers.length - refused.length > 0, 'some writes were done');

  const s = await waitFor('a status answer', () => c.status());
  const moved = s.resources.filter((r) => r.state !== 'Online' || r.node !== owners.get(r.name));
  assert.deepEqual(moved.map((r) => `${r.name} ${r.state} on ${r.node}`), [], 'every resource stays Online where it was');
});
