import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clusterdStartEnv, mallocTunables } from './start-env.js';

/** This file runs as dist/src/daemon/start-env.test.js. */
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

test('deploy/clusterd.service starts clusterd with the same malloc tunables as the demo and the benchmarks', () => {
  const unit = readFileSync(join(repoRoot, 'deploy', 'clusterd.service'), 'utf8');
  assert.ok(unit.split('\n').includes(`Environment=GLIBC_TUNABLES=${mallocTunables}`), 'the unit sets Environment=GLIBC_TUNABLES to mallocTunables');
});

test('glibc takes the tunables as written (a misspelt one would be ignored without a word)', () => {
  const ldso = ['/lib64/ld-linux-x86-64.so.2', '/lib/ld-linux-aarch64.so.1'].find((p) => existsSync(p));
  assert.ok(ldso, 'the dynamic loader (ld.so, from libc6) is needed to list glibc\'s tunables');
  const listed = execFileSync(ldso, ['--list-tunables'], { env: { GLIBC_TUNABLES: mallocTunables }, encoding: 'utf8' });
  const value = (name: string) => new RegExp(`^glibc\\.malloc\\.${name}: (0x[0-9a-f]+)`, 'm').exec(listed)?.[1];
  assert.equal(value('mmap_threshold'), '0x20000', listed);
  assert.equal(value('trim_threshold'), '0x20000', listed);
});

test('an operator\'s own GLIBC_TUNABLES is kept as it is', () => {
  assert.equal(clusterdStartEnv({ PATH: '/bin' }).GLIBC_TUNABLES, mallocTunables);
  assert.equal(clusterdStartEnv({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' }).GLIBC_TUNABLES, 'glibc.malloc.arena_max=2');
});
