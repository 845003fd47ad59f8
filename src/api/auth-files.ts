// The files of a cluster's trust, and the openssl calls that make them.
//
// The auth directory (for a dir quorum store: AUTH_DIR = QUORUM/auth, mode 0700, files 0600):
//   ca.crt, ca.key   the cluster CA (EC P-256); a node with ca.key issues its own serving certificate at start
//   node.token       the cluster-internal token nodes present to each other when they forward a request
//   node.crt, node.key  (optional) a certificate issued for one node (`clusterd cert issue`), used instead of ca.key
// A credential file (mode 0600, one per user and cluster) at
//   ${XDG_CONFIG_HOME:-~/.config}/clusterd/credentials/CLUSTER.json
// holds { cluster, endpoints, token, role, user, ca }: what the cluster CLI needs to reach and trust the nodes.

import { execFile } from 'node:child_process';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Role } from '../core/types.js';

const run = promisify(execFile);

/** Days a CA and a node certificate are valid (rotation: README, Security). */
export const caValidDays = 3650;
export const nodeCertValidDays = 825;

export interface CredentialFile {
  cluster: string;
  endpoints: string[];
  token: string;
  role: Role;
  user: string;
  /** The cluster CA certificate (PEM): the CLI trusts HTTPS endpoints signed by it. */
  ca: string;
}

/** A new random token: 32 bytes, base64url. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

export function tokenSha256(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Compare two secrets without leaking where they differ. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

export function configHome(env: NodeJS.ProcessEnv): string {
  return env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME !== '' ? env.XDG_CONFIG_HOME : join(env.HOME ?? homedir(), '.config');
}

export function credentialsDir(env: NodeJS.ProcessEnv): string {
  return join(configHome(env), 'clusterd', 'credentials');
}

export function credentialPath(env: NodeJS.ProcessEnv, cluster: string): string {
  return join(credentialsDir(env), `${cluster}.json`);
}

/** Write a file with mode 0600 through a temporary name (never readable by others, never half written). */
export function writePrivate(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

export function mkdirPrivate(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

export function writeCredentialFile(path: string, c: CredentialFile): void {
  mkdirPrivate(join(path, '..'));
  writePrivate(path, `${JSON.stringify(c, null, 2)}\n`);
}

export function parseCredentialFile(text: string): CredentialFile | null {
  let v: unknown;
  try { v = JSON.parse(text); } catch { return null; }
  const c = v as Partial<CredentialFile> | null;
  if (!c || typeof c.cluster !== 'string' || typeof c.token !== 'string' || typeof c.user !== 'string' || typeof c.role !== 'string'
    || !Array.isArray(c.endpoints) || !c.endpoints.every((e) => typeof e === 'string') || typeof (c.ca ?? '') !== 'string') return null;
  return { cluster: c.cluster, endpoints: c.endpoints, token: c.token, role: c.role as Role, user: c.user, ca: c.ca ?? '' };
}

/** Every credential file of this user: name (cluster) -> path. */
export function listCredentialFiles(env: NodeJS.ProcessEnv): string[] {
  const dir = credentialsDir(env);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => join(dir, f));
}

// ---- the auth directory ----

export const authFiles = { caCert: 'ca.crt', caKey: 'ca.key', nodeToken: 'node.token', nodeCert: 'node.crt', nodeKey: 'node.key' } as const;

/** Where a quorum store keeps its auth directory by default: inside a dir store; none for etcd (give --auth-dir). */
export function defaultAuthDir(quorumSpec: string): string | null {
  return quorumSpec.startsWith('dir:') ? join(quorumSpec.slice(4), 'auth') : null;
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args, { timeout: 30_000 });
  } catch (e) {
    const err = e as { stderr?: string; message: string; code?: string };
    throw new Error(err.code === 'ENOENT' ? 'openssl is not installed (apt-get install openssl)' : `openssl ${args[0]} failed: ${(err.stderr ?? err.message).trim()}`);
  }
}

/** Create the CA and the node token in `dir` (0700, files 0600). */
export async function createAuthDir(dir: string, cluster: string): Promise<void> {
  mkdirPrivate(dir);
  await createCa(dir, cluster);
  writePrivate(join(dir, authFiles.nodeToken), `${newToken()}\n`);
}

/** A new CA key and certificate (ca.key, ca.crt, mode 0600) in `dir`, replacing any there. */
export async function createCa(dir: string, cluster: string): Promise<void> {
  const key = join(dir, authFiles.caKey);
  const tmpKey = `${key}.${process.pid}.new`;
  const tmpCert = `${join(dir, authFiles.caCert)}.${process.pid}.new`;
  await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', tmpKey]);
  chmodSync(tmpKey, 0o600);
  await openssl(['req', '-x509', '-new', '-key', tmpKey, '-sha256', '-days', String(caValidDays), '-subj', `/CN=clusterd CA ${cluster}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', tmpCert]);
  chmodSync(tmpCert, 0o600);
  renameSync(tmpKey, key);
  renameSync(tmpCert, join(dir, authFiles.caCert));
}

/**
 * Issue a certificate for node `name` signed by the CA in `caDir`, valid for the given DNS names
 * and IP addresses (server and client use: nodes present it to each other). Writes key and cert.
 */
export async function issueNodeCert(caDir: string, name: string, dnsNames: string[], ips: string[], keyOut: string, certOut: string): Promise<void> {
  const tmp = `${certOut}.${process.pid}`;
  await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyOut]);
  chmodSync(keyOut, 0o600);
  const san = [...new Set(dnsNames)].map((d) => `DNS:${d}`).concat([...new Set(ips)].map((i) => `IP:${i}`)).join(',');
  writePrivate(`${tmp}.ext`, `subjectAltName=${san}\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n`);
  await openssl(['req', '-new', '-key', keyOut, '-subj', `/CN=${name.replace(/[/=+,]/g, '_')}`, '-out', `${tmp}.csr`]);
  await openssl(['x509', '-req', '-in', `${tmp}.csr`, '-CA', join(caDir, authFiles.caCert), '-CAkey', join(caDir, authFiles.caKey),
    '-CAcreateserial', '-CAserial', `${tmp}.srl`, '-days', String(nodeCertValidDays), '-sha256', '-extfile', `${tmp}.ext`, '-out', certOut]);
  chmodSync(certOut, 0o600);
  for (const f of [`${tmp}.ext`, `${tmp}.csr`, `${tmp}.srl`]) rmSync(f, { force: true });
}

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}
