// The operator's console every node serves at `/`: one HTML page and its static files (plain
// CSS and JavaScript in ./static/, no build step, no framework), read from the source tree so
// that a fresh clone runs it after `npm run build`. The page speaks only the public API with the
// session cookie a one-time login URL set (cluster dashboard; see api/auth-routes.ts), follows
// the cluster over the event stream, and sends x-clusterd-csrf on every state-changing request.
//
// Rules the server keeps for the page:
// - No inline script or style: the Content-Security-Policy below allows this node's own files
//   only, so an injected string in a resource name or an event message cannot run.
// - Asset paths are a fixed list (static/) or a .js file under the yaml package's browser build
//   (the dry-run parses a pasted apply file in the browser); nothing else on disk is served.

import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The static files: beside this module when they were copied there, else in the source tree (dist/src/web -> src/web). */
const staticDir = [join(here, 'static'), resolve(here, '../../../src/web/static')].find((d) => existsSync(join(d, 'app.js'))) ?? join(here, 'static');

/** The yaml package's browser build (ES modules, no bare imports): the dry-run's parser. */
function yamlBrowserDir(): string | null {
  try {
    const entry = createRequire(import.meta.url).resolve('yaml');
    const dir = resolve(dirname(entry), '../browser/dist');
    return existsSync(join(dir, 'index.js')) ? dir : null;
  } catch {
    return null;
  }
}

/** The files of static/ the page loads, and their types. */
const staticFiles: Readonly<Record<string, string>> = Object.freeze({
  'app.js': 'text/javascript; charset=utf-8',
  'api.js': 'text/javascript; charset=utf-8',
  'history.js': 'text/javascript; charset=utf-8',
  'dom.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
});

/** Headers of every dashboard answer: this node's own files only, never framed, no referrer (a login URL carries a ticket). */
export const dashboardHeaders: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy': csp([]),
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-cache',
});

function csp(peerOrigins: readonly string[]): string {
  return `default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src ${['\'self\'', ...peerOrigins].join(' ')}; ` +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
}

/**
 * Headers of the page itself: as dashboardHeaders, and the page may also reach the other nodes'
 * API origins (`peerUrls`, from their reports), to learn which one answers before it moves there
 * when its own node stops answering. Nothing else is reachable from the page.
 */
export function dashboardPageHeaders(peerUrls: readonly (string | null)[]): Record<string, string> {
  const origins = new Set<string>();
  for (const u of peerUrls) {
    try {
      const url = u ? new URL(u) : null;
      if (url && (url.protocol === 'http:' || url.protocol === 'https:')) origins.add(url.origin);
    } catch { /* not a URL: not reachable from the page */ }
  }
  return { ...dashboardHeaders, 'content-security-policy': csp([...origins].sort()) };
}

export function renderDashboard(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>clusterd</title>
<link rel="stylesheet" href="/ui/app.css">
<script type="module" src="/ui/app.js"></script>
</head><body>
<a class="skip" href="#main">Skip to the cluster</a>
<header>
  <h1>clusterd <span id="cluster"></span></h1>
  <p id="conn" role="status" aria-live="polite">connecting…</p>
  <p id="who"></p>
  <nav aria-label="Sections"><ul>
    <li><a href="#overview">Overview</a></li><li><a href="#timeline">Timeline</a></li>
    <li><a href="#history">History</a></li><li><a href="#config">Configuration</a></li>
  </ul></nav>
</header>
<div id="banner" role="alert" hidden></div>
<main id="main" tabindex="-1">
  <noscript><p>The dashboard needs JavaScript. The same information: cluster status, cluster log.</p></noscript>
  <section id="overview" aria-labelledby="h-overview">
    <h2 id="h-overview">Overview</h2>
    <p id="meta"></p>
    <ul id="warnings" aria-label="Warnings"></ul>
    <section aria-labelledby="h-actions" id="actions-box" hidden><h3 id="h-actions">Actions</h3><ol id="actions" aria-live="polite"></ol></section>
    <h3>Nodes</h3><div id="nodes" class="scroll"></div>
    <h3>Groups</h3><div id="groups"></div>
  </section>
  <section id="timeline" aria-labelledby="h-timeline"><h2 id="h-timeline">Timeline</h2><div id="timeline-body"></div></section>
  <section id="history" aria-labelledby="h-history"><h2 id="h-history">History and figures</h2><div id="history-body"></div></section>
  <section id="config" aria-labelledby="h-config"><h2 id="h-config">Configuration</h2><div id="config-body"></div></section>
</main>
<dialog id="confirm" aria-labelledby="confirm-title" aria-describedby="confirm-text">
  <form method="dialog">
    <h2 id="confirm-title">Confirm</h2><p id="confirm-text"></p>
    <div class="buttons"><button value="cancel" id="confirm-cancel">Cancel</button> <button value="ok" id="confirm-ok" class="danger">Confirm</button></div>
  </form>
</dialog>
</body></html>`;
}

export interface Asset { type: string; body: Buffer }

/** Keyed by resolved file: bounded by the files below static/ and the yaml browser build. */
const cache = new Map<string, Asset>();

/** The asset at `path` (below /ui/), or null: a file of static/, or vendor/yaml/... of the yaml browser build. */
export function dashboardAsset(path: string): Asset | null {
  let file: string | null = null;
  let type = 'text/javascript; charset=utf-8';
  if (Object.hasOwn(staticFiles, path)) {
    file = join(staticDir, path);
    type = staticFiles[path]!;
  } else if (path.startsWith('vendor/yaml/') && /^[a-z0-9_./-]+\.js$/i.test(path)) {
    const base = yamlBrowserDir();
    const rel = normalize(path.slice('vendor/yaml/'.length));
    if (base && !rel.startsWith('..')) {
      const full = resolve(base, rel);
      if (full.startsWith(base + sep) && existsSync(full)) file = full;
    }
  }
  if (file === null) return null;
  // Cached by the file it resolves to: the many spellings of one path (a/../b, ./b) share one entry.
  const hit = cache.get(file);
  if (hit) return hit;
  let body: Buffer;
  try { body = readFileSync(file); } catch { return null; }
  const a = { type, body };
  cache.set(file, a);
  return a;
}
