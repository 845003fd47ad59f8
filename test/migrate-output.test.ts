// `clusterd migrate` tells what it copies once: the source line, then the summary, each one time.

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterdBin } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'clusterd-migrate-out-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('clusterd migrate prints its summary once', () => {
  const init = spawnSync(process.execPath, [clusterdBin, 'init', '--quorum', `dir:${join(dir, 'a')}`, '--cluster', 'm', '--auth-dir', join(dir, 'auth')], { encoding: 'utf8' });
  assert.equal(init.status, 0, init.stderr);
  const r = spawnSync(process.execPath, [clusterdBin, 'migrate', '--from', `dir:${join(dir, 'a')}`, '--to', `dir:${join(dir, 'b')}`], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n').filter(Boolean);
  assert.equal(lines.filter((l) => l.startsWith('migrated cluster \'m\'')).length, 1, r.stdout);
  assert.equal(lines.filter((l) => l.startsWith('source ')).length, 1, r.stdout);
});
