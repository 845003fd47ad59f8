// Which credential the cluster CLI uses, found by itself:
//   1. CLUSTERD_CREDENTIALS=FILE;
//   2. else the credential files of this user (${XDG_CONFIG_HOME:-~/.config}/clusterd/credentials/*.json):
//      the one of cluster CLUSTERD_CLUSTER if set; else the one listing the endpoint asked for
//      (--endpoint or CLUSTERD_ENDPOINT); else the only one; else the newest.
// No file: requests go without a token, and the server's 401 says what to do.

import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { listCredentialFiles, parseCredentialFile, type CredentialFile } from '../api/auth-files.js';
import { cliError } from './client.js';

export interface FoundCredential {
  path: string;
  credential: CredentialFile;
}

const norm = (u: string): string => u.trim().replace(/\/+$/, '').toLowerCase();

async function load(path: string, read: (p: string) => Promise<string>): Promise<FoundCredential> {
  let text: string;
  try { text = await read(path); } catch (e) {
    throw cliError('CREDENTIAL_FILE_INVALID', `cannot read the credential file ${path}: ${(e as Error).message}`, 'check CLUSTERD_CREDENTIALS, or run as the user who ran clusterd init');
  }
  const credential = parseCredentialFile(text);
  if (!credential) throw cliError('CREDENTIAL_FILE_INVALID', `${path} is not a clusterd credential file`, 'it holds { cluster, endpoints, token, role, user, ca }: write one with cluster credentials add --out FILE');
  return { path, credential };
}

export async function findCredential(env: NodeJS.ProcessEnv, endpointFlag: string | null,
  read: (p: string) => Promise<string> = (p) => readFile(p, 'utf8')): Promise<FoundCredential | null> {
  if (env.CLUSTERD_CREDENTIALS) return load(env.CLUSTERD_CREDENTIALS, read);
  const paths = listCredentialFiles(env);
  const found: FoundCredential[] = [];
  for (const p of paths) {
    try { found.push(await load(p, read)); } catch { /* not ours to judge here: another file may fit */ }
  }
  if (env.CLUSTERD_CLUSTER) {
    const c = found.find((f) => f.credential.cluster === env.CLUSTERD_CLUSTER);
    if (!c) throw cliError('CREDENTIAL_FILE_INVALID', `no credential file for cluster '${env.CLUSTERD_CLUSTER}' among ${paths.length} file(s)`, 'unset CLUSTERD_CLUSTER, or set CLUSTERD_CREDENTIALS=FILE');
    return c;
  }
  const asked = (endpointFlag ?? env.CLUSTERD_ENDPOINT ?? '').split(',').map(norm).filter(Boolean);
  if (asked.length > 0) {
    const m = found.filter((f) => f.credential.endpoints.some((e) => asked.includes(norm(e))));
    if (m.length === 1) return m[0]!;
  }
  if (found.length <= 1) return found[0] ?? null;
  return found.map((f) => ({ f, t: mtime(f.path) })).sort((a, b) => b.t - a.t)[0]!.f;
}

function mtime(p: string): number {
  try { return statSync(p).mtimeMs; } catch { return 0; }
}
