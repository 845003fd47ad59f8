// The layer rule of src/, checked on every `npm run lint`: each folder under src/ has a rank,
// a file imports only from its own rank or below (layers point down: core <- store, monitor <-
// node <- daemon, api, web <- cli <- demo), and no file reaches itself through its imports
// (no cycles, at any rank). Exit 1 with one line per problem.
//
// Imports are read with TypeScript's own scanner (static and type-only imports, re-exports,
// import() of a literal; never text in strings or comments): a type-only import still ties a
// layer to another's vocabulary. Test files (*.test.ts) are left out: they sit beside the code
// they test and may drive it from above.
//
// Usage: node scripts/check-layers.mjs [SRC_DIR]   (default: the src/ beside this script)

import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** Rank of each folder under src/: a file may import a file of the same rank or lower. */
export const layerRanks = Object.freeze({ core: 0, store: 1, monitor: 1, node: 2, daemon: 3, api: 3, web: 3, cli: 4, demo: 5 });

/**
 * Upward imports tolerated, as `from -> to` relative to src/. Empty: every layer points down. An
 * entry that no longer matches an import is an error, so that this list can only shrink.
 */
export const knownUpwardImports = Object.freeze([]);

const isSource = (name) => name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts');

/** Source files under `srcDir`, relative to it with `/` separators, sorted. */
function sourceFiles(srcDir) {
  const out = [];
  const walk = (rel) => {
    for (const name of readdirSync(path.join(srcDir, rel)).sort()) {
      const child = rel === '' ? name : `${rel}/${name}`;
      if (statSync(path.join(srcDir, child)).isDirectory()) walk(child);
      else if (isSource(name)) out.push(child);
    }
  };
  walk('');
  return out;
}

/** The source file a relative specifier names (`./x.js` is `./x.ts`), or null if none under src/. */
function resolveImport(fromRel, specifier, known) {
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) return null; // a package or node: built-in
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(fromRel), specifier));
  const stem = base.replace(/\.(js|ts|mjs|mts)$/, '');
  for (const candidate of [`${stem}.ts`, `${stem}/index.ts`]) if (known.has(candidate)) return candidate;
  return null;
}

/** file -> its imports of other source files under src/, each with the line it is on. */
export function importGraph(srcDir) {
  const files = sourceFiles(srcDir);
  const known = new Set(files);
  const graph = new Map();
  for (const file of files) {
    const text = readFileSync(path.join(srcDir, file), 'utf8');
    const edges = [];
    for (const ref of ts.preProcessFile(text, true, true).importedFiles) {
      const to = resolveImport(file, ref.fileName, known);
      if (to !== null) edges.push({ to, line: text.slice(0, ref.pos).split('\n').length });
    }
    graph.set(file, edges);
  }
  return graph;
}

const layerOf = (file) => (file.includes('/') ? file.slice(0, file.indexOf('/')) : null);

/** Strongly connected components with more than one file, or a file importing itself (Tarjan). */
function tangledComponents(graph) {
  let counter = 0;
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const found = [];
  const visit = (v) => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const { to } of graph.get(v)) {
      if (!index.has(to)) {
        visit(to);
        low.set(v, Math.min(low.get(v), low.get(to)));
      } else if (onStack.has(to)) {
        low.set(v, Math.min(low.get(v), index.get(to)));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || graph.get(v).some((e) => e.to === v)) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

/** A shortest cycle through `start` inside `members` (breadth first), as a list of files ending at `start`. */
function shortestCycle(graph, members, start) {
  const inside = new Set(members);
  const parent = new Map();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const v = queue[i];
    for (const { to } of graph.get(v)) {
      if (!inside.has(to)) continue;
      if (to === start) {
        const path = [start];
        for (let w = v; w !== start; w = parent.get(w)) path.splice(1, 0, w);
        return [...path, start];
      }
      if (!parent.has(to)) {
        parent.set(to, v);
        queue.push(to);
      }
    }
  }
  return [start, start];
}

/**
 * Every breach of the layer rule in `srcDir`, one line each (empty when there is none).
 * `knownUpward`: the `from -> to` imports tolerated (see knownUpwardImports).
 */
export function layerProblems(srcDir, { knownUpward = knownUpwardImports } = {}) {
  const graph = importGraph(srcDir);
  const problems = [];
  const order = Object.entries(layerRanks).sort((a, b) => a[1] - b[1]).map(([name, rank]) => `${name} ${rank}`).join(', ');
  for (const file of graph.keys()) {
    const layer = layerOf(file);
    if (layer === null || !(layer in layerRanks)) {
      problems.push(`src/${file}: ${layer === null ? 'a file directly in src/' : `folder '${layer}'`} has no layer rank: put it in a ranked folder or add the folder to layerRanks in scripts/check-layers.mjs (${order})`);
    }
  }
  const tolerated = new Set(knownUpward);
  const used = new Set();
  for (const [file, edges] of graph) {
    const from = layerOf(file);
    for (const { to, line } of edges) {
      const target = layerOf(to);
      if (!(from in layerRanks) || !(target in layerRanks) || layerRanks[target] <= layerRanks[from]) continue;
      const key = `${file} -> ${to}`;
      if (tolerated.has(key)) {
        used.add(key);
        continue;
      }
      problems.push(`src/${file}:${line}: imports src/${to}, which points up: ${from} (rank ${layerRanks[from]}) may import only ranks up to ${layerRanks[from]}, ${target} is ${layerRanks[target]} (ranks: ${order})`);
    }
  }
  for (const key of tolerated) {
    if (!used.has(key)) problems.push(`knownUpwardImports lists '${key}', which no longer exists: remove it from scripts/check-layers.mjs`);
  }
  for (const component of tangledComponents(graph)) {
    const cycle = component.map((start) => shortestCycle(graph, component, start)).reduce((best, c) => (c.length < best.length ? c : best));
    const more = component.length > cycle.length - 1 ? ` (the cycle tangles ${component.length} files: ${component.map((f) => `src/${f}`).join(', ')})` : '';
    problems.push(`import cycle: ${cycle.map((f) => `src/${f}`).join(' -> ')}${more}: move what both sides need into a module that both import, or pass it in`);
  }
  return problems;
}

function main() {
  const srcDir = path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'src'));
  const problems = layerProblems(srcDir);
  for (const p of problems) process.stderr.write(`${p}\n`);
  if (problems.length > 0) {
    process.stderr.write(`check-layers: ${problems.length} problem(s) in ${srcDir}\n`);
    process.exitCode = 1;
  }
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
