// Settings of the etcd quorum store that need no etcd client: endpoint parsing, TLS files and
// credentials from the environment. Kept free of the gRPC client so that the resource monitor
// (etcd-fence.ts) and the spec parser load nothing heavy.

import fs from 'node:fs';

export interface EtcdTls {
  /** PEM bytes of the CA that signed the etcd servers' certificates. */
  ca?: Buffer;
  /** PEM bytes of this client's certificate and key (etcd --client-cert-auth). */
  cert?: Buffer;
  key?: Buffer;
}

/** The call did not complete within its budget, or no endpoint answered: its outcome is unknown. */
export class EtcdUnavailable extends Error {
  override readonly name = 'EtcdUnavailable';
}

/** etcd answered and refused the request for a reason retrying will not cure. */
export class EtcdRejected extends Error {
  override readonly name = 'EtcdRejected';
  constructor(message: string, readonly kind: 'space' | 'auth' | 'too-large' | 'other') {
    super(message);
  }
}

/**
 * Environment settings for TLS and authentication, read once when a store is made:
 * CLUSTERD_ETCD_CA, CLUSTERD_ETCD_CERT, CLUSTERD_ETCD_KEY (PEM file paths) and
 * CLUSTERD_ETCD_USER, CLUSTERD_ETCD_PASSWORD (or CLUSTERD_ETCD_PASSWORD_FILE).
 */
export function etcdSecurityFromEnv(env: NodeJS.ProcessEnv): { tls?: EtcdTls; auth?: { username: string; password: string } } {
  const out: { tls?: EtcdTls; auth?: { username: string; password: string } } = {};
  const file = (name: string): Buffer | undefined => {
    const p = env[name];
    if (p === undefined || p === '') return undefined;
    try {
      return fs.readFileSync(p);
    } catch (err) {
      throw new EtcdRejected(`${name}=${p} cannot be read: ${(err as Error).message}`, 'auth');
    }
  };
  const ca = file('CLUSTERD_ETCD_CA');
  const cert = file('CLUSTERD_ETCD_CERT');
  const key = file('CLUSTERD_ETCD_KEY');
  if ((cert === undefined) !== (key === undefined)) {
    throw new EtcdRejected('CLUSTERD_ETCD_CERT and CLUSTERD_ETCD_KEY go together: set both or neither', 'auth');
  }
  if (ca || cert) {
    out.tls = {};
    if (ca) out.tls.ca = ca;
    if (cert && key) { out.tls.cert = cert; out.tls.key = key; }
  }
  const username = env.CLUSTERD_ETCD_USER;
  let password = env.CLUSTERD_ETCD_PASSWORD;
  if (password === undefined && env.CLUSTERD_ETCD_PASSWORD_FILE) {
    password = file('CLUSTERD_ETCD_PASSWORD_FILE')?.toString('utf8').replace(/\r?\n$/, '');
  }
  if (username) out.auth = { username, password: password ?? '' };
  else if (password !== undefined) throw new EtcdRejected('CLUSTERD_ETCD_PASSWORD is set but CLUSTERD_ETCD_USER is not', 'auth');
  return out;
}

/** Parses the URL list of an etcd: quorum spec into normalized scheme://host:port endpoints (port 2379 by default). */
export function parseEtcdEndpoints(list: string): { ok: true; value: string[] } | { ok: false; error: string } {
  const parts = list.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (parts.length === 0) return { ok: false, error: 'names no etcd endpoint' };
  const out: string[] = [];
  for (const p of parts) {
    let url: URL;
    try {
      url = new URL(p);
    } catch {
      return { ok: false, error: `'${p}' is not a URL like http://HOST:PORT` };
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, error: `'${p}' must start with http:// or https://` };
    if (url.hostname === '') return { ok: false, error: `'${p}' names no host` };
    if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
      return { ok: false, error: `'${p}' must be only scheme, host and port (credentials go in CLUSTERD_ETCD_USER/CLUSTERD_ETCD_PASSWORD)` };
    }
    const normalized = `${url.protocol}//${url.hostname}:${url.port || '2379'}`;
    if (!out.includes(normalized)) out.push(normalized);
  }
  if (new Set(out.map((u) => u.slice(0, u.indexOf(':')))).size > 1) return { ok: false, error: 'mixes http:// and https:// endpoints' };
  return { ok: true, value: out };
}

