// The operator's console end to end: a real 3-node cluster (harness.ts) and Debian's chromium
// driven by playwright-core (no browser download). Steps: log in with the one-time URL; see the
// cluster; move a group from the page and watch its owner change; kill -9 the owner's clusterd
// and watch the failover appear in the timeline; put a disk in maintenance from the page and read
// Online(Maintenance); a dry run of a pasted apply file; a refused action's code and hint; a viewer (a credential of `cluster credentials add`) sees no action
// buttons; a hand-off altered or replayed is refused; the node both pages talk to dies (kill -9):
// each says so and goes on at the node that answers, with the same user and role. A screenshot of each step goes
// to test-artifacts/dashboard/ (git-ignored); the paths are printed. Nothing is timed: every
// wait is generous and ends on what the page shows.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { canLoop, freePort, loopExt4, repoRoot, TestCluster, waitFor } from './harness.js';

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const shotsDir = join(repoRoot, 'test-artifacts', 'dashboard');
/** What the page may take to show a change: a loaded host, a failover (lease expiry), a chromium start. */
const pageWaitMs = 90_000;

/** Scroll to what `selector` names now (the page redraws its parts as events arrive: a handle may be replaced). */
const scrollTo = (page: Page, selector: string) => page.evaluate((sel) => document.querySelector(sel)?.scrollIntoView(), selector);
const groupCard = (g: string) => `article[data-group="${g}"]`;
const resourceRow = (r: string) => `tr[data-resource="${r}"]`;

test('dashboard in chromium: login, live cluster, move, failover in the timeline, disk maintenance, viewer without actions, node unreachable and the pages going on at another node', { skip: existsSync(chromiumPath) ? false : `needs ${chromiumPath} (Debian package chromium)` }, async (t) => {
  mkdirSync(shotsDir, { recursive: true });
  const shots: string[] = [];
  let browser: Browser | null = null;
  let loop: { dev: string; mnt: string } | null = null;
  const c = await TestCluster.start(['n1', 'n2', 'n3']);
  t.after(async () => {
    await browser?.close().catch(() => undefined);
    await c.close();
    if (loop) {
      spawnSync('umount', ['-l', loop.mnt]);
      spawnSync('losetup', ['-d', loop.dev]);
    }
    process.stdout.write(`dashboard screenshots:\n${shots.map((s) => `  ${s}`).join('\n')}\n`);
  });
  const shot = async (page: Page, name: string) => {
    const path = join(shotsDir, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    shots.push(path);
  };

  // A web service group, and a disk group (a loop-mounted ext4 filesystem where this host can make one).
  const webPort = await freePort();
  const secret = 'hunter2-dashboard';
  await c.addWebGroup('web', webPort, { preferred: ['n1', 'n2', 'n3'], priv: { env: [`DB_PASSWORD=${secret}`] } });
  let diskPriv: Record<string, unknown> = { path: join(c.dir, 'lun-d') };
  if (canLoop()) {
    const mnt = join(c.dir, 'mnt-d');
    loop = { dev: loopExt4(join(c.dir, 'lun-d.img'), 32), mnt };
    diskPriv = { device: loop.dev, fstype: 'ext4', mountPoint: mnt };
  } else {
    mkdirSync(diskPriv.path as string);
  }
  const apply = await c.api('/v1/apply', { method: 'POST', body: { dryRun: false, spec: { groups: {
    store: { preferredOwners: ['n2', 'n3', 'n1'], resources: { 'Disk D:': { type: 'disk', priv: diskPriv } } },
  } } } });
  assert.equal(apply.status, 200, JSON.stringify(apply.body));
  const ready = await c.waitStatus('web and store Online', (s) => s.groups.every((g) => g.state === 'Online'), 60_000);
  const owner = c.nodeOf(ready, 'web')!;
  // The page talks to a node that is neither web's owner nor the node web moves to (which is killed).
  const pageNode = ['n1', 'n2', 'n3'].find((n) => n !== owner && n !== c.nodeOf(ready, 'store')) ?? ['n1', 'n2', 'n3'].find((n) => n !== owner)!;
  const moveTo = ['n1', 'n2', 'n3'].find((n) => n !== owner && n !== pageNode)!;
  const pageUrl = c.nodes.get(pageNode)!.url;

  browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
  const errors: string[] = [];
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' && !/Failed to load resource|ERR_CONNECTION_REFUSED|EventSource/.test(m.text())) errors.push(`console: ${m.text()}`); });

  // 1. Log in with the one-time URL that `cluster dashboard --url` prints.
  const login = c.cli(['dashboard', '--url'], { CLUSTERD_ENDPOINT: pageUrl });
  assert.equal(login.code, 0, login.err);
  const loginUrl = login.out.trim();
  assert.match(loginUrl, /\/login\?ticket=/);
  await page.goto(loginUrl);
  await page.waitForSelector('#conn.conn-live', { timeout: pageWaitMs });
  assert.match(await page.locator('#who').innerText(), /admin · role admin/);
  const headers = (await page.request.get(`${pageUrl}/`)).headers();
  assert.match(headers['content-security-policy'] ?? '', /script-src 'self'/, 'the page is served with a strict CSP');
  await shot(page, '01-logged-in');

  // 2. The cluster: three nodes Up, both groups Online with their owners, the resources' statuses.
  for (const n of ['n1', 'n2', 'n3']) await page.waitForSelector(`#nodes tr[data-node="${n}"][data-state="Up"]`, { timeout: pageWaitMs });
  await page.waitForSelector(`${groupCard('web')}[data-state="Online"][data-owner="${owner}"]`, { timeout: pageWaitMs });
  await page.waitForSelector(`${resourceRow('Disk D:')}[data-status="Online"]`, { timeout: pageWaitMs });
  assert.match(await page.locator('#meta').innerText(), new RegExp(`answered by ${pageNode} · coordinator n\\d \\(term \\d+\\)`));
  assert.match(await page.locator(`${groupCard('web')} details.why`).innerText(), /Why on/);
  await shot(page, '02-cluster');

  // 3. Move web from the page (with its confirmation) and watch the owner change.
  await page.selectOption(`${groupCard('web')} select`, moveTo);
  await page.click(`button[aria-label="Move group web"]`);
  await page.waitForSelector('dialog#confirm[open]', { timeout: pageWaitMs });
  assert.match(await page.locator('#confirm-text').innerText(), new RegExp(`offline on ${owner} and come online on ${moveTo}`));
  // The dialog starts on Cancel; the keyboard alone confirms it.
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'confirm-cancel');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'confirm-ok');
  await page.keyboard.press('Enter');
  await page.waitForSelector(`${groupCard('web')}[data-state="Online"][data-owner="${moveTo}"]`, { timeout: pageWaitMs });
  await page.waitForSelector('#actions li[data-action-state="done"]', { timeout: pageWaitMs });
  assert.match(await page.locator('#actions li').first().innerText(), new RegExp(`move group web to ${moveTo}: done`));
  await shot(page, '03-moved');

  // 4. kill -9 the owner's clusterd: the failover appears in the timeline (and in web's history).
  const victim = c.nodes.get(moveTo)!;
  victim.proc.kill('SIGKILL');
  await victim.exited;
  const failover = page.locator('ol.events li[data-event="GROUP_FAILOVER"]', { hasText: 'group web' });
  await failover.first().waitFor({ timeout: pageWaitMs });
  assert.match(await failover.first().innerText(), new RegExp(`group web assigned to n\\d \\(epoch \\d+\\): ${moveTo} is Down`));
  // The node itself going Down is an event of its own (the coordinator's membership judgement).
  await page.locator('ol.events li[data-event="NODE_DOWN"]', { hasText: `node ${moveTo} is Down` }).first().waitFor({ timeout: pageWaitMs });
  await page.waitForSelector(`${groupCard('web')}[data-state="Online"]:not([data-owner="${moveTo}"])`, { timeout: pageWaitMs });
  await page.selectOption('#h-group', 'web');
  await page.waitForSelector('[data-history-group="web"] table[data-failovers="1"]', { timeout: pageWaitMs });
  await scrollTo(page, '#timeline');
  await shot(page, '04-failover');

  // 5. Disk maintenance from the page: the status reads Online(Maintenance).
  await page.focus('button[aria-label="Maintenance on for Disk D:"]');
  await page.keyboard.press('Enter');
  await page.waitForSelector(`${resourceRow('Disk D:')}[data-status="Online(Maintenance)"]`, { timeout: pageWaitMs });
  assert.match(await page.locator(`${resourceRow('Disk D:')} td.status`).innerText(), /^Online\(Maintenance\)/);
  const api = await c.api<{ status: string }>('/v1/resources/Disk%20D%3A');
  assert.equal(api.body.status, 'Online(Maintenance)', 'the cluster agrees with the page');
  await scrollTo(page, resourceRow('Disk D:'));
  await shot(page, '05-disk-maintenance');

  // 6. A dry run of a pasted apply file: what would change, nothing changed; a wrong file: the error's code.
  await page.locator('#apply-text').fill('groups:\n  extra:\n    state: offline\n    failback: never\n    resources:\n      extra-srv:\n        type: process\n        priv: { command: /bin/true }\n');
  await page.click('button[aria-label^="Dry run"]');
  await page.waitForSelector('#dry-run-result ul.plan li', { timeout: pageWaitMs });
  assert.match(await page.locator('#dry-run-result').innerText(), /extra/);
  assert.equal((await c.status()).groups.some((g) => g.name === 'extra'), false, 'a dry run changes nothing');
  await scrollTo(page, '#config');
  await shot(page, '06-dry-run');
  await page.locator('#apply-text').fill('groups:\n  extra:\n    resources:\n      extra-srv:\n        type: no-such-type\n');
  await page.click('button[aria-label^="Dry run"]');
  await page.waitForSelector('#dry-run-result p.error', { timeout: pageWaitMs });
  assert.match(await page.locator('#dry-run-result p.error').innerText(), /^error\[[A-Z_]+\]: /);

  // An action the cluster refuses shows the error's code and hint: web has no backup writer.
  await page.click('button[aria-label="Freeze group web for a backup"]');
  await page.waitForSelector('dialog#confirm[open]', { timeout: pageWaitMs });
  await page.click('#confirm-ok');
  const refusedFreeze = page.locator('#actions li[data-action-state="failed"]', { hasText: 'freeze group web' });
  await refusedFreeze.waitFor({ timeout: pageWaitMs });
  assert.match(await refusedFreeze.innerText(), /error\[BACKUP_NO_WRITERS\]: group 'web' has no writer.*hint: /);

  // 7. A viewer: logged in with a credential of `cluster credentials add`, sees the cluster and no action.
  const viewerFile = join(c.dir, 'viewer.json');
  const add = c.cli(['credentials', 'add', 'watcher', '--role', 'viewer', '--out', viewerFile], { CLUSTERD_ENDPOINT: pageUrl });
  assert.equal(add.code, 0, add.err);
  assert.equal((JSON.parse(readFileSync(viewerFile, 'utf8')) as { role: string }).role, 'viewer');
  const vlogin = c.cli(['dashboard', '--url'], { CLUSTERD_ENDPOINT: pageUrl, CLUSTERD_CREDENTIALS: viewerFile });
  assert.equal(vlogin.code, 0, vlogin.err);
  const viewerContext = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const vpage = await viewerContext.newPage();
  vpage.on('pageerror', (e) => errors.push(`viewer page error: ${e.message}`));
  await vpage.goto(vlogin.out.trim());
  await vpage.waitForSelector('#conn.conn-live', { timeout: pageWaitMs });
  await vpage.waitForSelector(`${groupCard('web')}[data-state="Online"]`, { timeout: pageWaitMs });
  assert.match(await vpage.locator('#who').innerText(), /watcher · role viewer/);
  assert.equal(await vpage.locator('main button').count(), 0, 'a viewer sees no action button');
  assert.equal(await vpage.locator('main select[id^="mv-"]').count(), 0, 'nor a move target');
  assert.equal(await vpage.locator('#apply-text').count(), 0, 'nor the dry-run of an apply file');
  assert.ok(!(await vpage.content()).includes(secret), 'nor a secret');
  await shot(vpage, '07-viewer-narrow');

  // A hand-off through the API (what the pages hold): made by the page's node for the viewer, it
  // opens a viewer session on another node once; altered, or replayed, it is refused.
  const survivor = ['n1', 'n2', 'n3'].find((n) => n !== pageNode && n !== moveTo)!;
  const viewerToken = (JSON.parse(readFileSync(viewerFile, 'utf8')) as { token: string }).token;
  const ho = await c.api<{ peers: { node: string; handoff: string }[] }>('/v1/session/handoff', { method: 'POST', body: {}, via: pageNode, token: viewerToken });
  assert.equal(ho.status, 200, JSON.stringify(ho.body));
  const forSurvivor = ho.body.peers.find((p) => p.node === survivor)!.handoff;
  const redeem = (handoff: string) => c.api<{ role?: string; error?: { code: string } }>('/v1/session/redeem', { method: 'POST', body: { handoff }, via: survivor, token: null });
  const altered = await redeem(`${forSurvivor[0] === 'e' ? 'f' : 'e'}${forSurvivor.slice(1)}`);
  assert.deepEqual([altered.status, altered.body.error?.code], [401, 'HANDOFF_INVALID']);
  const redeemed = await redeem(forSurvivor);
  assert.deepEqual([redeemed.status, redeemed.body.role], [200, 'viewer'], 'a viewer\'s hand-off opens a viewer session');
  const replayed = await redeem(forSurvivor);
  assert.deepEqual([replayed.status, replayed.body.error?.code], [401, 'HANDOFF_USED']);

  // 8. kill -9 the node both pages talk to: each page says so, finds the node that answers, and goes
  //    on there with the same login and role. The admin page's question to the survivor is held
  //    until the screenshot of the banner is taken.
  const survivorOrigin = new URL(c.nodes.get(survivor)!.url).origin;
  let release!: () => void;
  const held = new Promise<void>((r) => { release = r; });
  const probe = (u: URL) => u.origin === survivorOrigin && u.pathname === '/ui/app.css';
  await page.route(probe, async (route) => { await held; await route.continue(); });
  const pageProc = c.nodes.get(pageNode)!;
  const killedWallMs = Date.now();
  pageProc.proc.kill('SIGKILL');
  await pageProc.exited;
  await page.waitForSelector('#banner[data-kind="unreachable"]', { timeout: pageWaitMs });
  const bannerText = () => page.locator('#banner').innerText();
  assert.match(await bannerText(), new RegExp(`Node ${pageNode} is unreachable — reconnecting`));
  assert.match(await page.locator('#conn').innerText(), /unreachable|reconnecting/);
  await waitFor('the page to ask the survivor', async () => new RegExp(`Asking node ${survivor} whether it answers`).test(await bannerText()), pageWaitMs);
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, '08-node-unreachable');
  release();
  await page.waitForURL((u) => u.origin === survivorOrigin, { timeout: pageWaitMs });
  await page.waitForSelector('#conn.conn-live', { timeout: pageWaitMs });
  await page.waitForSelector('#banner[data-kind="moved"]', { timeout: pageWaitMs });
  assert.match(await bannerText(), new RegExp(`Continued on node ${survivor}: ${pageNode} stopped answering`));
  assert.equal(new URL(page.url()).hash, '', 'the hand-off is dropped from the address');
  assert.match(await page.locator('#who').innerText(), /admin · role admin/);
  await page.unroute(probe);
  await shot(page, '09-continued-on-another-node');
  await waitFor('the page to be answered by the survivor', async () => new RegExp(`answered by ${survivor} `).test(await page.locator('#meta').innerText()), pageWaitMs);
  // Live there: the page's old node shows Down (its NODE_DOWN event is in the timeline), and an action works.
  await page.waitForSelector(`#nodes tr[data-node="${pageNode}"][data-state="Down"]`, { timeout: pageWaitMs });
  await page.locator('ol.events li[data-event="NODE_DOWN"]', { hasText: `node ${pageNode} is Down` }).first().waitFor({ timeout: pageWaitMs });
  await page.click(`button[aria-label="Pause node ${survivor}"]`);
  await page.waitForSelector(`#nodes tr[data-node="${survivor}"][data-state="Paused"]`, { timeout: pageWaitMs });
  await page.waitForSelector('#actions li[data-action-state="done"]', { timeout: pageWaitMs });
  assert.match(await page.locator('#actions li').first().innerText(), new RegExp(`pause node ${survivor}: done`));
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, '10-action-on-another-node');
  await page.click(`button[aria-label="Resume node ${survivor}"]`);
  await page.waitForSelector(`#nodes tr[data-node="${survivor}"][data-state="Up"]`, { timeout: pageWaitMs });

  // The viewer's page moved too, and is still a viewer's: no action.
  await vpage.waitForURL((u) => u.origin === survivorOrigin, { timeout: pageWaitMs });
  await vpage.waitForSelector('#conn.conn-live', { timeout: pageWaitMs });
  await vpage.waitForSelector('#banner[data-kind="moved"]', { timeout: pageWaitMs });
  assert.match(await vpage.locator('#who').innerText(), /watcher · role viewer/);
  // A figure, not a bound: when the viewer's page (whose move nothing held) began loading on the survivor.
  process.stdout.write(`the viewer's page began loading on ${survivor} ${Math.round((await vpage.evaluate(() => performance.timeOrigin)) - killedWallMs)} ms after kill -9 of ${pageNode}\n`);
  await vpage.waitForSelector(`${groupCard('web')}[data-state="Online"]`, { timeout: pageWaitMs });
  assert.equal(await vpage.locator('main button').count(), 0, 'a viewer moved to another node sees no action button');
  await shot(vpage, '11-viewer-on-another-node');

  assert.deepEqual(errors, [], 'no script error and no CSP violation in the pages');
});
