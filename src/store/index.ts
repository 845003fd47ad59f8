// Quorum store specs as operators write them (`--quorum dir:/var/lib/clusterd/quorum`) and the
// one place that turns a spec into a backend.

import path from 'node:path';
import { clusterError, fail, ok, type Result } from '../core/errors.js';
import { DirStore, type DirStoreOptions } from './dir.js';
import type { QuorumStore } from './types.js';

export type QuorumSpec = { kind: 'dir'; path: string };

const acceptedForms = 'accepted forms: dir:PATH (for example dir:/var/lib/clusterd/quorum); etcd:URL[,URL...] once the etcd backend is built';

/** Parses `dir:PATH` (a relative PATH is resolved against the working directory). */
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
    return fail(clusterError('BAD_ARGUMENT', `quorum store '${spec}': the etcd backend is not built yet`,
      'use dir:PATH, for example dir:/var/lib/clusterd/quorum'));
  }
  return fail(clusterError('BAD_ARGUMENT', `quorum store '${spec}' is not a known form`, acceptedForms));
}

/**
 * The backend for `spec`, not opened yet: call `init` or `open` on it. A malformed string spec is
 * thrown as its ClusterError (this runs at the edge, at startup); parse first to get it as a value.
 */
export function openStore(spec: string | QuorumSpec, opts: DirStoreOptions = {}): QuorumStore {
  const parsed = typeof spec === 'string' ? parseQuorumSpec(spec) : ok(spec);
  if (!parsed.ok) throw parsed.error;
  return new DirStore(parsed.value.path, opts);
}
