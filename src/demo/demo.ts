// `npm run demo`: a 3-node cluster on this machine, on the embedded quorum directory, with a
// sample group `web` (an HTTP service answering with the serving node's name). Live status on
// screen; Ctrl-C stops every node with a planned shutdown and leaves no process behind.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { credentialPath } from '../api/auth-files.js';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tryLines, type DemoNode } from './instructions.js';
import { clusterdStartEnv } from '../daemon/start-env.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const clusterdBin = join(root, 'bin/clusterd.js');
const serviceJs = join(root, 'dist/src/demo/web-service.js');
const basePort = Number(process.env.DEMO_API_PORT ?? 7401);
const webPort = Number(process.env.DEMO_WEB_PORT ?? 8080);
const nodeNames = ['n1', 'n2', 'n3'];
/** The nodes get this long to start and elect a coordinator (a loaded machine starts them slowly). */
const startWaitMs = 120_000;
/** After Ctrl-C, nodes get this long to drain before they are killed. */
const stopWaitMs = 25_000;

const dir = mkdtempSync(join(tmpdir(), 'clusterd-demo-'));
const quorum = `dir:${join(dir, 'quorum')}`;
const endpoints = nodeNames.map((_, i) => `http://127.0.0.1:${basePort + i}`);
const children = new Map<string, ChildProcess>();
let stopping = false;
/** The admin token clusterd init wrote to this user's credential file (the CLI in another terminal uses the same file). */
let token = '';
/** A one-time dashboard login URL, renewed before its ticket expires (60 s). */
let login: { url: string; atMs: number } | null = null;
const loginRenewMs = 45_000;

function run(args: string[], logName: string): ChildProcess {
  const log = openSync(join(dir, logName), 'a');
  // The same V8 flag as bin/clusterd.js's shebang: a small young generation keeps RSS down.
  return spawn(process.execPath, ['--max-semi-space-size=1', clusterdBin, ...args], { stdio: ['ignore', log, log], env: clusterdStartEnv(process.env) });
}

/** Each node's API and, while it runs, its clusterd pid: the instructions name live nodes only. */
function demoNodes(): DemoNode[] {
  return nodeNames.map((name, i) => ({ name, endpoint: endpoints[i]!, pid: children.get(name)?.pid }));
}

async function api(path: string, init?: RequestInit): Promise<unknown> {
  for (const e of endpoints) {
    try {
      const res = await fetch(e + path, { ...init, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(2_000) });
      return await res.json();
    } catch { /* next node */ }
  }
  return null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function setUp(): Promise<void> {
  const init = run(['init', '--quorum', quorum, '--cluster', 'demo', '--endpoints', endpoints.join(',')], 'init.log');
  const code = await new Promise((r) => init.on('exit', r));
  if (code !== 0) throw new Error(`clusterd init failed: see ${join(dir, 'init.log')}`);
  token = (JSON.parse(readFileSync(credentialPath(process.env, 'demo'), 'utf8')) as { token: string }).token;
  nodeNames.forEach((name, i) => {
    const child = run(['start', '--quorum', quorum, '--node', name, '--listen', `127.0.0.1:${basePort + i}`, '--data-dir', join(dir, name)], `${name}.log`);
    children.set(name, child);
    child.on('exit', () => children.delete(name));
  });
  const until = Date.now() + startWaitMs;
  while (Date.now() < until) {
    const s = (await api('/v1/status')) as { nodes?: { state: string }[]; coordinator?: string } | null;
    if (s?.coordinator && s.nodes?.filter((n) => n.state === 'Up').length === 3) break;
    await sleep(100);
  }
  const spec = {
    groups: {
      web: {
        preferredOwners: nodeNames,
        resources: {
          'web-server': {
            type: 'process',
            props: { restartDelayMs: 200 },
            priv: { command: process.execPath, args: [serviceJs, String(webPort)], probe: `http://127.0.0.1:${webPort}/` },
          },
        },
      },
    },
  };
  let res: unknown = null;
  // A node still starting, or no coordinator yet, answers with a code that says to retry.
  while (Date.now() < until) {
    res = await api('/v1/apply', { method: 'POST', body: JSON.stringify({ spec, dryRun: false }) });
    const code = (res as { error?: { code?: string } } | null)?.error?.code;
    if (res !== null && code !== 'NODE_STARTING' && code !== 'NO_COORDINATOR') break;
    await sleep(500);
  }
  if (!res || (res as { error?: unknown }).error) throw new Error(`could not create the sample group: ${JSON.stringify(res)}`);
}

async function probeWeb(): Promise<string> {
  try {
    const res = await fetch(`http://127.0.0.1:${webPort}/`, { signal: AbortSignal.timeout(500) });
    return (await res.text()).trim();
  } catch {
    return '(no answer)';
  }
}

type Status = { coordinator: string | null; term: number; nodes: { name: string; state: string }[]; groups: { name: string; node: string | null; state: string }[]; resources: { name: string; group: string; node: string | null; status: string }[] };

/** The dashboard login URL, a new one when the last is about to expire. */
async function loginUrl(): Promise<string> {
  if (login === null || Date.now() - login.atMs > loginRenewMs) {
    // A ticket is valid on the node that made it: the URL names that node.
    for (const e of endpoints) {
      try {
        const res = await fetch(`${e}/v1/login-tickets`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(2_000) });
        const t = (await res.json()) as { path?: string };
        if (t.path) { login = { url: `${e}${t.path}`, atMs: Date.now() }; break; }
      } catch { /* next node */ }
    }
  }
  return login?.url ?? '(no node answers)';
}

async function draw(): Promise<void> {
  const s = (await api('/v1/status')) as Status | null;
  const lines = [
    `clusterd demo — quorum ${quorum}   (logs in ${dir})`, '',
    s ? `coordinator: ${s.coordinator ?? 'none'} (term ${s.term})` : 'no node answers',
    '', 'Node            Status', '--------------- ------',
    ...(s?.nodes ?? []).map((n) => `${n.name.padEnd(15)} ${n.state}`),
    '', 'Group                Node            Status', '-------------------- --------------- ------',
    ...(s?.groups ?? []).map((g) => `${g.name.padEnd(20)} ${(g.node ?? '').padEnd(15)} ${g.state}`),
    '', 'Resource             Group                Node            Status', '-------------------- -------------------- --------------- ------',
    ...(s?.resources ?? []).map((r) => `${r.name.padEnd(20)} ${r.group.padEnd(20)} ${(r.node ?? '').padEnd(15)} ${r.status}`),
    '', `http://127.0.0.1:${webPort}/ -> ${await probeWeb()}`, '',
    `Dashboard (one-time login, renewed every ${loginRenewMs / 1000} s): ${await loginUrl()}`,
    `  or from another terminal: node ${join(root, 'bin/cluster.js')} dashboard`, '',
    ...tryLines(s, demoNodes(), join(root, 'bin/cluster.js'), 'web'),
    'Ctrl-C stops the cluster (planned shutdown of every node).',
  ];
  if (!stopping) process.stdout.write(`\x1b[H\x1b[2J${lines.join('\n')}\n`);
}

async function stopAll(code = 0): Promise<void> {
  if (stopping) return;
  stopping = true;
  process.stdout.write('\nstopping: planned shutdown of every node...\n');
  for (const c of children.values()) c.kill('SIGINT');
  const until = Date.now() + stopWaitMs;
  while (children.size > 0 && Date.now() < until) await sleep(100);
  for (const [name, c] of children) {
    process.stdout.write(`node ${name} did not stop in time: killing it\n`);
    c.kill('SIGKILL');
  }
  process.stdout.write(`stopped. Logs and the quorum directory are in ${dir}\n`);
  process.exit(code);
}

process.on('SIGINT', () => void stopAll());
process.on('SIGTERM', () => void stopAll());
setUp().then(async () => {
  while (!stopping) {
    await draw();
    await sleep(1_000);
  }
}).catch(async (e: Error) => {
  process.stderr.write(`demo failed: ${e.message}\n`);
  await stopAll(1);
});
