// Real etcd members for tests and benchmarks: Debian's etcd-server, started on loopback (or on
// given addresses, optionally inside network namespaces) with per-test ports away from
// 2379/2380 and temporary data directories. Every member started here is SIGKILLed by stop(),
// and by an exit hook if a test dies first.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, sleep, waitFor } from './harness.js';

export const etcdPackage = 'etcd-server';

const live = new Set<ChildProcess>();
let exitHook = false;

function killAllOnExit(): void {
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    for (const p of live) {
      try { p.kill('SIGKILL'); } catch { /* gone */ }
    }
  });
}

function which(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  const p = r.stdout.trim();
  return r.status === 0 && p !== '' ? p : null;
}

/**
 * The etcd binary. Installs Debian's etcd-server with apt-get when it is missing and we are root;
 * otherwise throws an error naming the package.
 */
export function etcdBinary(): string {
  const found = which('etcd') ?? (existsSync('/usr/bin/etcd') ? '/usr/bin/etcd' : null);
  if (found) return found;
  if (process.getuid?.() !== 0) {
    throw new Error(`etcd is not installed: install Debian's '${etcdPackage}' package (apt-get install -y ${etcdPackage}) or run the tests as root, which installs it`);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', etcdPackage], { encoding: 'utf8', env, timeout: 300_000 });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update'], { encoding: 'utf8', env, timeout: 300_000 });
    r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', etcdPackage], { encoding: 'utf8', env, timeout: 300_000 });
  }
  // The package's service may have started a default etcd on 2379: tests never use that one.
  const bin = which('etcd') ?? (existsSync('/usr/bin/etcd') ? '/usr/bin/etcd' : null);
  if (r.status !== 0 || !bin) {
    throw new Error(`could not install Debian's '${etcdPackage}' package with apt-get (exit ${r.status}): ${(r.stderr ?? '').slice(-500)}`);
  }
  return bin;
}

export interface EtcdMember {
  name: string;
  host: string;
  clientPort: number;
  peerPort: number;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  /** Network namespace the member runs in (ip netns exec), if any. */
  netns?: string;
  proc: ChildProcess | null;
  log: string;
}

export interface EtcdClusterOptions {
  members?: number;
  /** Address of each member (default 127.0.0.1 for all). */
  hosts?: string[];
  /** Network namespace of each member (default: this one). */
  netns?: (string | undefined)[];
  /** Fixed ports per member ([client, peer]); default: free ephemeral ports on loopback. */
  ports?: [number, number][];
  heartbeatMs?: number;
  electionMs?: number;
  /** Give the heartbeat and election timeout as ETCD_* environment variables (as Debian's unit does), not as flags. */
  timingInEnv?: boolean;
  /**
   * Serve clients over TLS with these PEM files and require client certificates signed by `ca`;
   * with `peer`, the members also talk to each other over mutual TLS with the same files.
   */
  tls?: { cert: string; key: string; ca: string; peer?: boolean };
}

/** A port number that is free on `host` right now (not on 127.0.0.1 only). */
async function freePortOn(host: string): Promise<number> {
  if (host === '127.0.0.1') return freePort();
  return 20_000 + Math.floor(Math.random() * 10_000);
}

async function tcpOpen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (v: boolean) => { s.destroy(); resolve(v); };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.setTimeout(200, () => done(false));
  });
}

export class EtcdCluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'clusterd-etcd-'));
  readonly members: EtcdMember[] = [];
  private readonly bin = etcdBinary();
  private readonly token = `clusterd-test-${process.pid}-${Date.now()}`;
  private readonly heartbeatMs: number;
  private readonly electionMs: number;
  private readonly timingInEnv: boolean;
  private readonly tls: EtcdClusterOptions['tls'];
  private stopped = false;

  private constructor(o: EtcdClusterOptions) {
    this.heartbeatMs = o.heartbeatMs ?? 10;
    this.electionMs = o.electionMs ?? 100;
    this.timingInEnv = o.timingInEnv ?? false;
    this.tls = o.tls;
  }

  /** Starts the members one after the other (each once the previous answers on its peer port), then waits until etcd is healthy. */
  static async start(o: EtcdClusterOptions = {}): Promise<EtcdCluster> {
    killAllOnExit();
    const c = new EtcdCluster(o);
    const n = o.members ?? 1;
    try {
      for (let i = 0; i < n; i++) {
        const host = o.hosts?.[i] ?? '127.0.0.1';
        const [clientPort, peerPort] = o.ports?.[i] ?? [await freePortOn(host), await freePortOn(host)];
        const m: EtcdMember = {
          name: `m${i}`, host, clientPort, peerPort, clientUrl: `${o.tls ? 'https' : 'http'}://${host}:${clientPort}`, peerUrl: `${o.tls?.peer ? 'https' : 'http'}://${host}:${peerPort}`,
          dataDir: join(c.dir, `m${i}`), proc: null, log: '',
        };
        const ns = o.netns?.[i];
        if (ns) m.netns = ns;
        c.members.push(m);
      }
      for (const m of c.members) {
        c.spawnMember(m, 'new');
        await waitFor(`etcd member ${m.name} to listen on ${m.peerUrl}`, async () => {
          if (m.proc?.exitCode !== null) throw new Error(`etcd ${m.name} exited: ${m.log.slice(-2000)}`);
          return tcpOpen(m.host, m.peerPort);
        }, 10_000, 10);
      }
      await c.waitHealthy();
      return c;
    } catch (err) {
      await c.stop();
      throw err;
    }
  }

  private spawnMember(m: EtcdMember, state: 'new' | 'existing'): void {
    const cluster = this.members.map((x) => `${x.name}=${x.peerUrl}`).join(',');
    const args = [
      '--name', m.name, '--data-dir', m.dataDir,
      '--listen-client-urls', m.clientUrl, '--advertise-client-urls', m.clientUrl,
      '--listen-peer-urls', m.peerUrl, '--initial-advertise-peer-urls', m.peerUrl,
      '--initial-cluster', cluster, '--initial-cluster-token', this.token, '--initial-cluster-state', state,
      ...(this.timingInEnv ? [] : ['--heartbeat-interval', String(this.heartbeatMs), '--election-timeout', String(this.electionMs)]),
      // Pre-vote: a member cut off and healed must not force a leader election on the others (a long one would fence every node).
      '--pre-vote=true', '--logger', 'zap', '--log-level', 'warn',
      ...(this.tls ? ['--cert-file', this.tls.cert, '--key-file', this.tls.key, '--trusted-ca-file', this.tls.ca, '--client-cert-auth'] : []),
      ...(this.tls?.peer ? ['--peer-cert-file', this.tls.cert, '--peer-key-file', this.tls.key, '--peer-trusted-ca-file', this.tls.ca, '--peer-client-cert-auth'] : []),
    ];
    const cmd = m.netns ? 'ip' : this.bin;
    const full = m.netns ? ['netns', 'exec', m.netns, this.bin, ...args] : args;
    const env = this.timingInEnv ? { ...process.env, ETCD_HEARTBEAT_INTERVAL: String(this.heartbeatMs), ETCD_ELECTION_TIMEOUT: String(this.electionMs) } : process.env;
    const proc = spawn(cmd, full, { stdio: ['ignore', 'ignore', 'pipe'], env });
    m.log = '';
    proc.stderr!.on('data', (b: Buffer) => { m.log = (m.log + b.toString()).slice(-20_000); });
    live.add(proc);
    proc.on('exit', () => live.delete(proc));
    m.proc = proc;
  }

  endpoints(members: number[] = this.members.map((_, i) => i)): string[] {
    return members.map((i) => this.members[i]!.clientUrl);
  }

  spec(members?: number[]): string {
    return `etcd:${this.endpoints(members).join(',')}`;
  }

  isRunning(i: number): boolean {
    const p = this.members[i]!.proc;
    return !!p && p.exitCode === null && p.signalCode === null;
  }

  async waitHealthy(timeoutMs = 15_000): Promise<void> {
    await waitFor('etcd to be healthy', async () => {
      for (const [i, m] of this.members.entries()) {
        if (!this.isRunning(i)) continue;
        const r = this.tls ? await this.tlsGet(`${m.clientUrl}/health`) : await fetch(`${m.clientUrl}/health`, { signal: AbortSignal.timeout(500) }).then((x) => x.text()).catch(() => null);
        if (!r || (JSON.parse(r) as { health?: string }).health !== 'true') return false;
      }
      return true;
    }, timeoutMs, 10);
  }

  /** GET over TLS with the cluster's CA and a client certificate (fetch cannot take a private CA). */
  private tlsGet(url: string): Promise<string | null> {
    const tls = this.tls!;
    return new Promise((resolve) => {
      const req = httpsGet(url, { ca: readFileSync(tls.ca), cert: readFileSync(tls.cert), key: readFileSync(tls.key), timeout: 500 }, (res) => {
        let body = '';
        res.on('data', (b: Buffer) => { body += b.toString(); });
        res.on('end', () => resolve(body));
      });
      req.on('error', () => resolve(null));
      req.on('timeout', () => { req.destroy(); resolve(null); });
    });
  }

  /** Index of the member that leads now (asked of the running members), or -1. */
  async leader(): Promise<number> {
    for (const [i, m] of this.members.entries()) {
      if (!this.isRunning(i)) continue;
      const s = await fetch(`${m.clientUrl}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(500) })
        .then((x) => x.json() as Promise<{ leader?: string; header?: { member_id?: string } }>).catch(() => null);
      if (!s?.leader) continue;
      if (s.header?.member_id === s.leader) return i;
      // Ask the others who they are.
      for (const [j, o] of this.members.entries()) {
        if (!this.isRunning(j)) continue;
        const t = await fetch(`${o.clientUrl}/v3/maintenance/status`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(500) })
          .then((x) => x.json() as Promise<{ header?: { member_id?: string } }>).catch(() => null);
        if (t?.header?.member_id === s.leader) return j;
      }
    }
    return -1;
  }

  /** SIGKILL member `i` (its data directory stays, so it can restart). */
  async kill(i: number): Promise<void> {
    const p = this.members[i]!.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => { p.once('exit', () => resolve()); p.kill('SIGKILL'); });
  }

  /** Starts member `i` again on its data directory. */
  async restart(i: number): Promise<void> {
    const m = this.members[i]!;
    this.spawnMember(m, 'existing');
    await waitFor(`etcd member ${m.name} to listen again`, () => tcpOpen(m.host, m.clientPort), 10_000, 10);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all(this.members.map((_, i) => this.kill(i)));
    await sleep(20);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A throwaway CA, a server certificate for the address(es) `ip` and a client certificate, made
 * with openssl in `dir` (for the TLS tests). Returns the PEM file paths.
 */
export function makeTestCertificates(dir: string, ip: string | string[] = '127.0.0.1'): { ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string } {
  const f = (name: string) => join(dir, name);
  const ssl = (args: string[]) => {
    const r = spawnSync('openssl', args, { encoding: 'utf8', cwd: dir });
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
  };
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  ssl(['req', '-x509', ...key, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '2', '-subj', '/CN=clusterd test CA']);
  const ips = Array.isArray(ip) ? ip : [ip];
  writeFileSync(f('server.ext'), `subjectAltName=${ips.map((a) => `IP:${a}`).join(',')}\nextendedKeyUsage=serverAuth,clientAuth\n`);
  writeFileSync(f('client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [who, cn] of [['server', ips[0]!], ['client', 'clusterd']] as const) {
    ssl(['req', ...key, '-keyout', f(`${who}.key`), '-out', f(`${who}.csr`), '-subj', `/CN=${cn}`]);
    ssl(['x509', '-req', '-in', f(`${who}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f(`${who}.pem`), '-days', '2', '-extfile', f(`${who}.ext`)]);
  }
  return { ca: f('ca.pem'), serverCert: f('server.pem'), serverKey: f('server.key'), clientCert: f('client.pem'), clientKey: f('client.key') };
}
