// The event stream through real clusterd processes: readers that never read cost the node
// bounded memory and are dropped with a reason, while the node keeps its lease and answers;
// a reconnecting reader resumes with Last-Event-ID; an idle stream carries keepalive comments;
// streams beyond the node's limit are refused with STREAM_LIMIT.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../src/store/index.js';
import type { NewEvent } from '../src/store/types.js';
import { TestCluster, waitFor, authFor } from './harness.js';

/** Slow readers in the backpressure test: the load of the report that found the stall. */
const slowStreams = 200;
/**
 * Events before and while the slow streams are open, and bytes of data in each: a loopback socket
 * that is not read takes ~4 MB into kernel buffers before a write waits, so the backlog per stream
 * (7.5 MB) must be larger for backpressure to matter at all.
 */
const eventsBefore = 4_000;
const eventsDuring = 1_000;
const eventDataBytes = 1_500;
/**
 * Generous bound on the node's peak RSS (it starts near 100 MiB). Without backpressure it holds
 * the rest of the backlog of every stream (measured: over 1.5 GiB); with it, 206-242 MiB in two runs.
 */
const rssPeakBytesMax = 400 * 1024 * 1024;
const stallMs = 2_000;
const streamsMax = slowStreams + 10;

const settingsDir = mkdtempSync(join(tmpdir(), 'clusterd-stream-'));
const configPath = join(settingsDir, 'settings.yaml');
writeFileSync(configPath, `eventStream:\n  keepaliveMs: 300\n  stallMs: ${stallMs}\n  streamsMax: ${streamsMax}\n`);
let cluster: TestCluster | null = null;
after(async () => {
  await cluster?.close();
  rmSync(settingsDir, { recursive: true, force: true });
});
const shared = async (): Promise<TestCluster> => (cluster ??= await TestCluster.start(['n1', 'n2'], { startArgs: ['--config', configPath] }));

async function appendEvents(c: TestCluster, n: number, tag: string): Promise<void> {
  const store = openStore(c.quorum);
  assert.ok((await store.open()).ok);
  const pad = 'x'.repeat(eventDataBytes);
  for (let i = 0; i < n; i += 50) {
    const batch: NewEvent[] = Array.from({ length: Math.min(50, n - i) }, (_, k) => ({
      wallMs: Date.now(), node: 'test', event: 'TEST_EVENT', level: 'info', message: `${tag} ${i + k}`, data: { pad },
    }));
    assert.ok((await store.appendEvents(batch)).ok);
  }
  await store.close();
}

/** A raw HTTP client on the stream that reads nothing after sending its request. */
function silentStream(url: string, path: string): Promise<Socket> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(u.port), u.hostname, () => {
      s.write(`GET ${path} HTTP/1.1\r\nHost: ${u.host}\r\nAuthorization: ${authFor(url).authorization}\r\nAccept: text/event-stream\r\n\r\n`);
      s.pause();
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** Everything the socket receives until the server closes it. */
function readToEnd(s: Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => { text += d; });
    s.on('error', () => resolve(text));
    s.on('close', () => resolve(text));
    s.resume();
  });
}

function rssPeakBytes(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

/** The HTTP status /v1/status answers with: no timing asserted, only that it answers (the wait is generous). */
async function statusOf(url: string): Promise<number> {
  const r = await fetch(`${url}/v1/status`, { headers: authFor(url), signal: AbortSignal.timeout(60_000) });
  await r.arrayBuffer();
  return r.status;
}

async function metric(c: TestCluster, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${c.nodes.get('n1')!.url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

/** The SSE events in a stream's text, in order: `id`, `event` (default message), `data`. */
function sseEvents(text: string): { id?: string; event: string; data: string }[] {
  const out: { id?: string; event: string; data: string }[] = [];
  for (const block of text.split('\n\n')) {
    const e: { id?: string; event: string; data: string } = { event: 'message', data: '' };
    let any = false;
    for (const line of block.split('\n')) {
      const m = /^(id|event|data): ?(.*)$/.exec(line);
      if (!m) continue;
      any = true;
      if (m[1] === 'id') e.id = m[2]!; else if (m[1] === 'event') e.event = m[2]!; else e.data += m[2]!;
    }
    if (any) out.push(e);
  }
  return out;
}

test('streams that never read are dropped with a reason; the node keeps its lease, answers, and stays small', async () => {
  const c = await shared();
  const n1 = c.nodes.get('n1')!;
  await appendEvents(c, eventsBefore, 'before');
  const sockets = await Promise.all(Array.from({ length: slowStreams }, () => silentStream(n1.url, '/v1/events/stream?after=0')));
  try {
    await appendEvents(c, eventsDuring, 'during');
    assert.equal(await statusOf(n1.url), 200);
    await waitFor(`${slowStreams} slow streams dropped`, async () => (await metric(c, 'clusterd_event_streams_dropped_total', '{reason="stalled"}')) >= slowStreams, 180_000, 100);
    // A reader that comes back reads, after what it was sent, why the stream was closed (if it
    // comes back within the node's grace: a stream dropped long ago has lost its unsent bytes).
    const texts = await Promise.all(sockets.map(readToEnd));
    const reasons = texts.map((text) => sseEvents(text).find((e) => e.event === 'error')).filter((e) => e !== undefined);
    console.log(`${reasons.length} of ${slowStreams} dropped readers read the reason`);
    assert.ok(reasons.length > 0);
    for (const e of reasons) assert.equal((JSON.parse(e.data) as { error: { code: string } }).error.code, 'STREAM_TOO_SLOW');
    assert.equal(await statusOf(n1.url), 200);
    const events = await c.events();
    assert.deepEqual(events.filter((e) => e.event === 'NODE_STALLED' || e.event === 'NODE_SELF_FENCED').map((e) => e.message), []);
    const rss = rssPeakBytes(n1.proc.pid!);
    console.log(`n1 peak RSS ${(rss / 1024 / 1024).toFixed(0)} MiB with ${slowStreams} stalled streams`);
    assert.ok(rss < rssPeakBytesMax, `peak RSS ${rss} bytes, bound ${rssPeakBytesMax}`);
  } finally {
    for (const s of sockets) s.destroy();
  }
  await waitFor('the dropped streams closed', async () => (await metric(c, 'clusterd_event_streams_open')) === 0, 30_000, 100);
});

test('a stream resumed with Last-Event-ID gets exactly the events after it, with id = seq, and keepalives', async () => {
  const c = await shared();
  const n1 = c.nodes.get('n1')!;
  await appendEvents(c, 5, 'resume');
  const all = await c.events();
  const from = all.at(-3)!.id;
  const expected = all.filter((e) => e.id > from).map((e) => String(e.id));
  // Last-Event-ID wins over ?after.
  const s = connect(Number(new URL(n1.url).port), '127.0.0.1');
  s.write(`GET /v1/events/stream?after=0 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${authFor(n1.url).authorization}\r\nLast-Event-ID: ${from}\r\n\r\n`);
  let text = '';
  s.setEncoding('utf8');
  s.on('data', (d: string) => { text += d; });
  try {
    await waitFor('the events after the resume point and a keepalive', () =>
      sseEvents(text).filter((e) => e.id !== undefined).length >= expected.length && /\n: keepalive\n/.test(text));
    assert.match(text, /\nretry: \d+\n/);
    const got = sseEvents(text).filter((e) => e.event === 'message');
    const ids = got.map((e) => e.id);
    assert.deepEqual(ids.slice(0, expected.length), expected);
    for (const e of got) assert.equal(String((JSON.parse(e.data) as { id: number }).id), e.id);
  } finally {
    s.destroy();
  }
});

test('streams beyond the node\'s limit are refused with STREAM_LIMIT and Retry-After', async () => {
  const c = await shared();
  const n1 = c.nodes.get('n1')!;
  const head = (await c.events()).at(-1)!.id;
  const sockets = await Promise.all(Array.from({ length: streamsMax }, () => silentStream(n1.url, `/v1/events/stream?after=${head}`)));
  try {
    await waitFor('every stream open', async () => (await metric(c, 'clusterd_event_streams_open')) === streamsMax, 30_000, 100);
    const r = await fetch(`${n1.url}/v1/events/stream`, { headers: authFor(n1.url), signal: AbortSignal.timeout(5_000) });
    assert.equal(r.status, 503);
    assert.ok(Number(r.headers.get('retry-after')) > 0);
    assert.equal(((await r.json()) as { error: { code: string } }).error.code, 'STREAM_LIMIT');
  } finally {
    for (const s of sockets) s.destroy();
  }
});
