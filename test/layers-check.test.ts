// scripts/check-layers.mjs, the layer rule `npm run lint` enforces: it must find a planted
// import cycle, a planted upward import and a folder without a rank in a temp tree, pass a clean
// one, keep its allowlist honest, and pass this repository's src/.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from './harness.js';

interface LayerCheck {
  layerProblems(srcDir: string, opts?: { knownUpward?: readonly string[] }): string[];
  knownUpwardImports: readonly string[];
}

const script = join(repoRoot, 'scripts/check-layers.mjs');
const check = (await import(pathToFileURL(script).href)) as LayerCheck;

const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

/** A src/ tree in a temp dir with these files (path under src/ -> text). */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'clusterd-layers-'));
  dirs.push(root);
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, 'src', file)), { recursive: true });
    writeFileSync(join(root, 'src', file), text);
  }
  return join(root, 'src');
}

const clean = {
  'core/types.ts': 'export interface Thing { name: string }\n',
  'store/store.ts': "import type { Thing } from '../core/types.js';\nexport const things: Thing[] = [];\n",
  'node/node.ts': "import { things } from '../store/store.js';\nimport { EventEmitter } from 'node:events';\nexport const n = things.length + EventEmitter.length;\n",
  // A string or comment that looks like an import is not one.
  'api/server.ts': "import { n } from '../node/node.js';\n// import { x } from '../cli/main.js';\nexport const s = \"import y from '../cli/main.js'\" + n;\n",
  'cli/main.ts': "export * from '../api/server.js';\nexport const m = await import('../node/node.js');\n",
  // Tests may drive their code from above.
  'core/types.test.ts': "import { m } from '../cli/main.js';\nvoid m;\n",
};

test('a clean tree has no problems', () => {
  assert.deepEqual(check.layerProblems(tree(clean), { knownUpward: [] }), []);
});

test('a planted cycle, a planted upward import and a folder without a rank are each reported', () => {
  const src = tree({
    ...clean,
    // Upward: core imports node (type-only imports count: they tie core to node's vocabulary).
    'core/types.ts': "import type { n } from '../node/node.js';\nexport interface Thing { name: typeof n }\n",
    // A cycle inside one layer, through a re-export.
    'node/a.ts': "export * from './b.js';\nexport const a = 1;\n",
    'node/b.ts': "import { a } from './a.js';\nexport const b = a;\n",
    'extra/x.ts': 'export const x = 1;\n',
  });
  const problems = check.layerProblems(src, { knownUpward: [] });
  assert.equal(problems.length, 4, problems.join('\n'));
  assert.ok(problems.some((p) => p.startsWith('src/core/types.ts:1: imports src/node/node.ts, which points up')), problems.join('\n'));
  assert.ok(problems.some((p) => p.startsWith('import cycle: src/node/a.ts -> src/node/b.ts -> src/node/a.ts')), problems.join('\n'));
  // core -> node -> store -> core: the upward import closes a cycle too.
  assert.ok(problems.some((p) => /^import cycle: src\/core\/types\.ts -> src\/node\/node\.ts -> src\/store\/store\.ts -> src\/core\/types\.ts/.test(p)), problems.join('\n'));
  assert.ok(problems.some((p) => p.startsWith("src/extra/x.ts: folder 'extra' has no layer rank")), problems.join('\n'));
});

test('an allowlisted upward import passes; an allowlist entry that matches nothing is itself a problem', () => {
  const src = tree({ ...clean, 'node/views.ts': "import type { s } from '../api/server.js';\nexport type V = typeof s;\n" });
  assert.equal(check.layerProblems(src, { knownUpward: [] }).length, 1);
  assert.deepEqual(check.layerProblems(src, { knownUpward: ['node/views.ts -> api/server.ts'] }), []);
  const stale = check.layerProblems(src, { knownUpward: ['node/views.ts -> api/server.ts', 'node/gone.ts -> api/types.ts'] });
  assert.equal(stale.length, 1);
  assert.match(stale[0]!, /knownUpwardImports lists 'node\/gone\.ts -> api\/types\.ts', which no longer exists/);
});

test('the command fails on a planted problem and passes on this repository\'s src/', () => {
  const bad = tree({ ...clean, 'store/store.ts': "import { n } from '../node/node.js';\nexport const things = [n];\n" });
  const r = spawnSync(process.execPath, [script, bad], { encoding: 'utf8' });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /src\/store\/store\.ts:1: imports src\/node\/node\.ts, which points up/);
  assert.match(r.stderr, /import cycle: /);
  const own = spawnSync(process.execPath, [script], { encoding: 'utf8' });
  assert.equal(own.status, 0, own.stderr);
  assert.equal(own.stderr, '');
});
