// Real clusters for integration tests and benchmarks: `clusterd init` plus N `clusterd start`
// processes on ephemeral loopback ports, in a temp directory. Everything started here is
// stopped by close(), which tests call from `after`, even when they fail.

import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { StatusSnapshot } from '../src/api/types.js';
import { tlsFetch } from '../src/api/tls-fetch.js';
import type { ClusterEvent } from '../src/store/types.js';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const clusterdBin = join(repoRoot, 'bin/clusterd.js');
export const clusterBin = join(repoRoot, 'bin/cluster.js');
export const webServiceJs = join(repoRoot, 'dist/src/demo/web-service.js');

/** The admin token of the cluster each node URL belongs to (for tests that call a node with fetch). */
const tokenOfUrl = new Map<string, string>();

/** Authorization header for a node URL started by a TestCluster (or a path under it). */
export function authFor(url: string): Record<string, string> {
  for (const [u, t] of tokenOfUrl) if (url.startsWith(u)) return { authorization: `Bearer ${t}` };
  return {};
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(what: string, fn: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 15_000, stepMs = 25): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) { last = e; }
    await sleep(stepMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
}

/**
 * A free TCP port on 127.0.0.1 (for services that need a fixed port in their config), chosen below
 * the kernel's ephemeral range (32768-60999 by default). A port from listen(0) comes from that range,
 * and between this call and the service's own bind an outgoing connection on the machine can take it
 * as its source port ("address already in use" in CI); ports below the range are never handed out
 * that way. Random, and checked free by a bind, so parallel test files rarely pick the same one.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await bindable(port)) return port;
  }
  throw new Error('no free TCP port found in 20000-31999 on 127.0.0.1 after 100 tries');
}

function bindable(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createServer();
    s.once('error', () => res(false));
    s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
  });
}

export interface NodeProc {
  name: string;
  proc: ChildProcess;
  url: string;
  log: string;
  exited: Promise<number | null>;
}

export interface ClusterOptions {
  nodes?: number;
  /** Extra `clusterd start` flags for every node. */
  startArgs?: string[];
  /** Where the quorum directory goes (default: inside the test's temp dir). */
  quorumPath?: string;
  /** A command that runs each node's clusterd (its argv follows): a subreaper, for example. NodeProc.proc is then that command. */
  launcher?: string[];
}

export class TestCluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'clusterd-test-'));
  /** XDG_CONFIG_HOME of init and of cli(): the admin credential file lands here, as for a user. */
  readonly configHome = join(this.dir, 'config');
  readonly quorum: string;
  /** The admin token clusterd init wrote (api() sends it unless told otherwise). */
  token = '';
  /** fetch that trusts the cluster CA (nodes started with --tls serve HTTPS). */
  fetch: typeof fetch = fetch;
  readonly nodes = new Map<string, NodeProc>();
  private readonly extra: string[];
  private readonly launcher: string[];
  private readonly spawned: ChildProcess[] = [];
  private closed = false;

  constructor(opts: ClusterOptions = {}) {
    this.extra = opts.startArgs ?? [];
    this.launcher = opts.launcher ?? [];
    this.quorum = `dir:${opts.quorumPath ?? join(this.dir, 'quorum')}`;
  }

  static async start(names: string[], opts: ClusterOptions = {}): Promise<TestCluster> {
    const c = new TestCluster(opts);
    try {
      c.init();
      for (const n of names) await c.startNode(n);
      await c.waitStatus('all nodes Up and a coordinator', (s) => !!s.coordinator && s.nodes.filter((n) => n.state === 'Up').length === names.length);
    } catch (err) {
      // The caller never gets the cluster to close: stop what was started here, or the run hangs on it.
      await c.close();
      throw err;
    }
    return c;
  }

  /** `clusterd init` as the test's user (XDG_CONFIG_HOME in the test dir); keeps the admin token. */
  init(extra: string[] = []): void {
    const init = spawnSync(process.execPath, [clusterdBin, 'init', '--quorum', this.quorum, '--cluster', 'test', '--user', 'admin', ...extra],
      { encoding: 'utf8', env: { ...process.env, XDG_CONFIG_HOME: this.configHome } });
    if (init.status !== 0) throw new Error(`clusterd init failed: ${init.stderr}`);
    const cred = JSON.parse(readFileSync(this.credentialFile, 'utf8')) as { token: string; ca: string };
    this.token = cred.token;
    this.fetch = tlsFetch({ ca: cred.ca });
  }

  get credentialFile(): string {
    return join(this.configHome, 'clusterd', 'credentials', 'test.json');
  }

  /** listenTimeoutMs: how long the node may take to serve its API (a loaded host starts slowly). */
  async startNode(name: string, extra: string[] = [], listenTimeoutMs = 30_000): Promise<NodeProc> {
    const log = join(this.dir, `${name}.log`);
    writeFileSync(log, '', { flag: 'a' });
    const argv = [process.execPath, '--max-semi-space-size=1', clusterdBin, 'start', '--quorum', this.quorum, '--node', name, '--listen', '127.0.0.1:0',
      '--data-dir', join(this.dir, `data-${name}`), ...this.extra, ...extra];
    const [command, ...args] = [...this.launcher, ...argv] as [string, ...string[]];
    const proc = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CLUSTERD_FREEZE_SNAPSHOTS: '1' } });
    this.spawned.push(proc);
    let out = '';
    const onData = (b: Buffer) => {
      out += b.toString();
      if (!this.closed) writeFileSync(log, b, { flag: 'a' });
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
    const url = await waitFor(`node ${name} to listen`, () => {
      const m = /serving the API on (https?:\/\/[0-9.:]+)/.exec(out);
      if (m) return m[1]!;
      if (proc.exitCode !== null) throw new Error(`clusterd ${name} exited with ${proc.exitCode}: ${out}`);
      return null;
    }, listenTimeoutMs);
    tokenOfUrl.set(url, this.token);
    const np: NodeProc = { name, proc, url, log, exited };
    this.nodes.set(name, np);
    return np;
  }

  /** URLs of nodes still running, for requests that any node may answer. */
  liveUrls(): string[] {
    return [...this.nodes.values()].filter((n) => n.proc.exitCode === null && n.proc.signalCode === null).map((n) => n.url);
  }

  /** token: the bearer token to send (default the admin's; null sends none); headers: more headers. */
  async api<T = unknown>(path: string, init: { method?: string; body?: unknown; via?: string; token?: string | null; headers?: Record<string, string> } = {}): Promise<{ status: number; body: T }> {
    const urls = init.via ? [this.nodes.get(init.via)!.url] : this.liveUrls();
    const token = init.token === undefined ? this.token : init.token;
    let lastErr: unknown;
    for (const u of urls) {
      try {
        const res = await this.fetch(u + path, {
          // A JSON content type only with a body: fastify refuses an empty JSON body (400).
          method: init.method ?? 'GET',
          headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...(token !== null ? { authorization: `Bearer ${token}` } : {}), ...init.headers },
          body: init.body === undefined ? undefined : JSON.stringify(init.body), signal: AbortSignal.timeout(5_000),
        });
        const text = await res.text();
        return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
      } catch (e) { lastErr = e; }
    }
    const cause = (lastErr as { cause?: { code?: string; message?: string } } | undefined)?.cause;
    throw new Error(`no node answered ${path}: ${(lastErr as Error)?.message}${cause ? ` (${cause.code ?? ''} ${cause.message ?? ''})` : ''}`);
  }

  async status(via?: string): Promise<StatusSnapshot> {
    const r = await this.api<StatusSnapshot>('/v1/status', via ? { via } : {});
    if (r.status !== 200) throw new Error(`status: HTTP ${r.status} ${JSON.stringify(r.body)}`);
    return r.body;
  }

  async waitStatus(what: string, pred: (s: StatusSnapshot) => boolean, timeoutMs = 15_000): Promise<StatusSnapshot> {
    return waitFor(what, async () => { const s = await this.status(); return pred(s) ? s : null; }, timeoutMs);
  }

  async events(): Promise<ClusterEvent[]> {
    const r = await this.api<{ events: ClusterEvent[] }>('/v1/events?after=0&limit=10000');
    return r.body.events;
  }

  /** Run the `cluster` CLI against this cluster. */
  cli(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): { code: number; out: string; err: string } {
    const r = spawnSync(process.execPath, [clusterBin, ...args], {
      encoding: 'utf8', env: { ...process.env, XDG_CONFIG_HOME: this.configHome, CLUSTERD_ENDPOINT: this.liveUrls().join(','), ...env }, timeout: timeoutMs,
    });
    return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
  }

  /** Apply a one-group document with a process resource running the demo web service. */
  async addWebGroup(group: string, port: number, opts: { preferred?: string[]; props?: Record<string, unknown>; priv?: Record<string, unknown>; resource?: string } = {}): Promise<void> {
    const spec = { groups: { [group]: {
      preferredOwners: opts.preferred ?? [],
      resources: { [opts.resource ?? `${group}-srv`]: {
        type: 'process', props: opts.props ?? {},
        priv: { command: process.execPath, args: [webServiceJs, String(port), this.dir], probe: `http://127.0.0.1:${port}/`, ...(opts.priv ?? {}) },
      } },
    } } };
    const r = await this.api('/v1/apply', { method: 'POST', body: { spec, dryRun: false } });
    if (r.status !== 200) throw new Error(`apply failed: ${JSON.stringify(r.body)}`);
  }

  nodeOf(s: StatusSnapshot, group: string): string | null {
    return s.groups.find((g) => g.name === group)?.node ?? null;
  }

  readLog(name: string): string {
    return readFileSync(this.nodes.get(name)!.log, 'utf8');
  }

  /** Stop everything: SIGKILL nodes, then every process group their resources ran in. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const exits = this.spawned.filter((p) => p.exitCode === null && p.signalCode === null)
      .map((p) => new Promise((r) => { p.once('exit', r); p.kill('SIGKILL'); }));
    await Promise.all(exits);
    await sleep(100);
    // Resources are detached process groups, and a launcher's child outlives a SIGKILL of the
    // launcher: anything still running from this test's files is killed, then the files removed.
    // A process that wrote one more file between the two makes the removal fail (ENOTEMPTY), and
    // fs.rmSync's own retries never list the directory again: the whole round is repeated.
    for (let round = 1; ; round++) {
      const ps = spawnSync('pgrep', ['-f', this.dir], { encoding: 'utf8' });
      for (const pid of ps.stdout.split('\n').filter(Boolean)) { try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ } }
      try { rmSync(this.dir, { recursive: true, force: true }); return; } catch (e) {
        if (round >= 50 || (e as NodeJS.ErrnoException).code !== 'ENOTEMPTY') throw e;
      }
      await sleep(100);
    }
  }
}

/** GET a URL's body, or null if nothing answers. */
export async function httpText(url: string, timeoutMs = 500): Promise<string | null> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return await r.text();
  } catch {
    return null;
  }
}

/** Is any process whose command line contains `needle` running? */
export function processRunning(needle: string): boolean {
  const r = spawnSync('pgrep', ['-f', needle], { encoding: 'utf8' });
  return r.stdout.trim().length > 0;
}

/**
 * One cluster for all the tests of a file (starting clusters is the slow part on a loaded host).
 * Call at the top level; each test gets the cluster from the returned function, and the groups it
 * created are taken offline when it ends, so that they do not disturb the next one.
 */
export function sharedCluster(names: string[]): (t: TestContext) => Promise<TestCluster> {
  let shared: Promise<TestCluster> | null = null;
  after(async () => { if (shared) await (await shared).close(); });
  return async (t) => {
    shared ??= TestCluster.start(names);
    const c = await shared;
    const groups = new Set((await c.status()).groups.map((g) => g.name));
    t.after(async () => {
      for (const g of (await c.status()).groups) if (!groups.has(g.name)) await c.api(`/v1/groups/${encodeURIComponent(g.name)}/offline`, { method: 'POST' });
    });
    return c;
  };
}

/** Root and the tools that a loop-mounted ext4 image needs (losetup, mkfs.ext4, mount, umount, and `more`): otherwise those tests skip, naming them. */
export function canLoop(more: string[] = []): boolean {
  return process.getuid?.() === 0 && ['losetup', 'mkfs.ext4', 'mount', 'umount', ...more].every((b) => spawnSync('sh', ['-c', `command -v ${b}`]).status === 0);
}

/** A fresh ext4 image of `sizeMb` MiB at `image`, attached to a loop device: the device's path (the caller unmounts and detaches it). */
export function loopExt4(image: string, sizeMb: number): string {
  spawnSync('truncate', ['-s', `${sizeMb}M`, image]);
  assert.equal(spawnSync('mkfs.ext4', ['-q', '-F', image]).status, 0, `mkfs.ext4 ${image}`);
  const loop = spawnSync('losetup', ['-f', '--show', image], { encoding: 'utf8' });
  assert.equal(loop.status, 0, loop.stderr);
  return loop.stdout.trim();
}

/** A process's state letter from /proc (R, S, D, T...), or 'gone'. */
export function procState(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]!;
  } catch {
    return 'gone';
  }
}
