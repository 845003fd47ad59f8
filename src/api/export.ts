// `GET /v1/export` (cluster export): the live configuration as an apply file (YAML) that
// `cluster apply` takes back unchanged (core/apply.ts exportDoc). A copy for any role below admin has the private
// secrets redacted as every other view redacts them (auth.ts redactSecrets), and says so.

import { createRequire } from 'node:module';
import { exportDoc } from '../core/apply.js';
import type { ClusterConfig, Role } from '../core/types.js';
import { redactSecrets, redacted } from './auth.js';

/** The YAML writer, loaded at the first export: a node that never exports never holds it (3 to 5 MiB). */
let yamlStringify: typeof import('yaml').stringify | null = null;

/** The export a caller of `role` reads: whole for an admin only, redacted for every role below (as every other view). */
export function exportFor(config: ClusterConfig, seq: number, role: Role | undefined): string {
  return exportText(config, seq, role !== 'admin');
}

export function exportText(config: ClusterConfig, seq: number, redact: boolean): string {
  // Plain data (the configuration's tables have no prototype), redacted for a viewer.
  const plain = JSON.parse(JSON.stringify(exportDoc(config))) as unknown;
  const doc = redact ? redactSecrets(plain) : plain;
  const head = [
    `# cluster ${config.name}: configuration at seq ${seq}, as an apply file (cluster export).`,
    '# cluster apply -f FILE makes a cluster match it; with --prune it also deletes the groups and resources it does not name (never nodes).',
    '# Values at their defaults are left out. Nodes and credentials are not in it.',
  ];
  if (redact) {
    head.push(`# REDACTED: private values that look secret (env values, secretEnv, keys like password or token) read ${redacted}:`,
      '# this copy is for reading; applying it would set those values to that text. An admin credential exports them whole.');
  }
  yamlStringify ??= (createRequire(import.meta.url)('yaml') as typeof import('yaml')).stringify;
  return `${head.join('\n')}\n${yamlStringify(doc, { lineWidth: 0 })}`;
}
