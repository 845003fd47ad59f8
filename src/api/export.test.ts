// GET /v1/export's text for each role: secrets whole for an admin only, redacted for an operator
// and a viewer, as every other view of theirs (auth.ts onSend).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyUpdate, emptyConfig } from '../core/config.js';
import type { ClusterConfig, ConfigUpdate } from '../core/types.js';
import { exportFor } from './export.js';

test('an operator\'s export, like a viewer\'s, has secrets redacted; an admin\'s has them whole', () => {
  let c: ClusterConfig = emptyConfig('c');
  const updates: ConfigUpdate[] = [{ op: 'node-add', node: 'n1' }, { op: 'group-create', group: 'g' },
    { op: 'resource-create', resource: 'db', group: 'g', type: 'process', priv: { command: 'pg', env: { PGPASSWORD: 'hunter2' } } }];
  for (const u of updates) {
    const r = applyUpdate(c, u);
    if (!r.ok) assert.fail(r.error.message);
    c = r.value;
  }
  assert.ok(exportFor(c, 1, 'admin').includes('hunter2'));
  for (const role of ['operator', 'viewer'] as const) assert.ok(!exportFor(c, 1, role).includes('hunter2'), role);
});
