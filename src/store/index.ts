// Quorum store specs as operators write them (`--quorum dir:/var/lib/clusterd/quorum`,
// `--quorum etcd:http://10.0.0.1:2379,http://10.0.0.2:2379`) and the one place that turns a spec
// into a backend.

import path from 'node:path';
import { clusterError, fail, ok, type Result } from '../core/errors.js';
import { DirStore, type DirStoreOptions } from './dir.js';
import { EtcdStore, type EtcdStoreOptions } from './etcd.js';
import { etcdSecurityFromEnv, parseEtcdEndpoints } from './etcd-config.js';
import type { QuorumStore } from './types.js';

export type QuorumSpec = { kind: 'dir'; path: string } | { kind: 'etcd'; endpoints: string[] };

const acceptedForms = 'accepted forms: dir:PATH (for example dir:/var/lib/clusterd/quorum); ' +
  'etcd:URL[,URL...] (for example etcd:http://10.0.0.1:2379,http://10.0.0.2:2379,http://10.0.0.3:2379)';

/**
 * Parses `dir:PATH` (a relative PATH is resolved against the working directory) and
 * `etcd:URL[,URL...]` (http:// or https:// client URLs of etcd members; the port defaults to 2379).
 */
export function parseQuorumSpec(spec: string): Result<QuorumSpec> {
  const colon = spec.indexOf(':');
  const scheme = colon < 0 ? '' : spec.slice(0, colon);
  const rest = colon < 0 ? '' : spec.slice(colon + 1);
  if (scheme === 'dir') {
    if (rest.trim() === '') {
      return fail(clusterError('BAD_ARGUMENT', `quorum store '${spec}' names no directory`, acceptedForms));
    }
    return ok({ kind: 'dir', path: path.resolve(rest) });
  }
  if (scheme === 'etcd') {
    const endpoints = parseEtcdEndpoints(rest);
    if (!endpoints.ok) return fail(clusterError('BAD_ARGUMENT', `quorum store '${spec}': ${endpoints.error}`, acceptedForms));
    return ok({ kind: 'etcd', endpoints: endpoints.value });
  }
  return fail(clusterError('BAD_ARGUMENT', `quorum store '${spec}' is not a known form`, acceptedForms));
}

export type StoreOptions = DirStoreOptions & EtcdStoreOptions;

/**
 * What a store of `spec` takes from an environment (clusterd reads its environment once, in
 * daemon/main.ts): for etcd, the key prefix CLUSTERD_ETCD_PREFIX and the TLS and auth files
 * CLUSTERD_ETCD_* (etcd-config.ts); nothing for dir. Unreadable files throw BAD_CONFIG.
 */
export function storeOptionsFromEnv(spec: string | QuorumSpec, env: NodeJS.ProcessEnv): StoreOptions {
  const parsed = typeof spec === 'string' ? parseQuorumSpec(spec) : ok(spec);
  if (!parsed.ok || parsed.value.kind !== 'etcd') return {};
  try {
    return { ...(env.CLUSTERD_ETCD_PREFIX ? { prefix: env.CLUSTERD_ETCD_PREFIX } : {}), ...etcdSecurityFromEnv(env) };
  } catch (err) {
    throw clusterError('BAD_CONFIG', (err as Error).message, 'CLUSTERD_ETCD_CA, CLUSTERD_ETCD_CERT, CLUSTERD_ETCD_KEY name PEM files; CLUSTERD_ETCD_USER and CLUSTERD_ETCD_PASSWORD go together');
  }
}

/**
 * The backend for `spec`, not opened yet: call `init` or `open` on it. A malformed string spec (or
 * unreadable etcd TLS files) is thrown as its ClusterError (this runs at the edge, at startup);
 * parse first to get it as a value.
 */
export function openStore(spec: string | QuorumSpec, opts: StoreOptions = {}): QuorumStore {
  const parsed = typeof spec === 'string' ? parseQuorumSpec(spec) : ok(spec);
  if (!parsed.ok) throw parsed.error;
  const s = parsed.value;
  if (s.kind === 'etcd') return new EtcdStore(s.endpoints, opts);
  return new DirStore(s.path, opts);
}
