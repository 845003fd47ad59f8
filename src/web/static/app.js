// The operator's console. Live state comes from the event stream (GET /v1/events/stream): each
// event is added to the timeline and triggers one full read of the state (status, backups, the
// `why` of each group), debounced; a full read is also done on every (re)connect. No timer polls
// the cluster. An action waiting for its outcome follows the events too: each burst of events is
// read at once and again a little later (the node's picture may trail the log by a cycle); only
// while the event stream is not open does a waiting action read the state once a second.
//
// When the node stops answering, the page says so at once, greys the state it last saw, and
// reconnects. A dashboard session lives in the memory of the node that made it (api/auth.ts), so
// while connected the page keeps a fresh hand-off for each other node (api/handoff.ts: signed by
// the cluster, minutes long, one use). After `ownAttemptsBeforePeers` failed attempts on its own
// node it asks the other nodes, the Up ones first, whether they answer, and opens the first that
// does with its hand-off in the URL fragment (never sent to a server); that page redeems it for a
// session of the same user and role there, and says where it came from.

import { api, ApiError, errorText, seg, setCsrf } from './api.js';
import { dateTime, duration, h, mount, stateClass, time } from './dom.js';
import { dependencyTree, groupHistory, groupOf, spread } from './history.js';

/** Events the page keeps (the newest): enough for hours of history of a small cluster. */
const eventsKeptMax = 5_000;
/** Events one read of the log returns at most (the API's own bound), and reads per (re)connect. */
const eventsPage = 10_000;
const eventsPagesMax = 5;
/** Timeline rows drawn at once (the filters narrow the rest). */
const timelineRowsMax = 300;
/** An action waits this long for the cluster to reach its goal, then says it has not (yet). */
const actionWaitMs = 120_000;
/** While an action waits and the event stream is not open, the state is read this often (the fallback). */
const actionReadMs = 1_000;
/** After a burst of events while an action waits, the state is read again after these delays: the node's own picture may trail the event log by a cycle. */
const actionTailReadsMs = [1_000, 3_000];
/** An action's goal may look failed just after the request (the old state): failures count after this. */
const actionGraceMs = 5_000;
/** Actions listed (the newest). */
const actionsShownMax = 8;
/** Delays between reconnection attempts, the last repeated. */
const reconnectDelaysMs = [1_000, 2_000, 3_000, 5_000];
/** Groups whose `why` one read of the state asks for (those not Online first): a big cluster is not asked N questions per event. */
const whyReadsMax = 50;
/** Events arriving within this long cause one read of the state, not one each. */
const refreshDebounceMs = 150;
/** Failed attempts on the page's own node before the page looks for another node (a restart or a cut stream is back within them). */
const ownAttemptsBeforePeers = 2;
/** A peer that does not answer within this long is skipped. */
const peerProbeMs = 3_000;
/** A hand-off is used only while this much of its life is left (the move and the redeem take a moment). */
const handoffMarginMs = 20_000;
/** A hand-off that reached a starting node is tried again this often, while it lasts. */
const redeemRetryMs = 1_000;

const S = {
  me: null,
  status: null,
  backups: [],
  why: new Map(),
  events: [],
  lastId: 0,
  conn: { state: 'connecting', since: Date.now(), attempt: 0, error: null, lastOkMs: null },
  features: { cleanup: false, exportText: false, checked: false },
  actions: [],
  filters: { node: '', group: '', level: '' },
  historyGroup: '',
  moveTarget: new Map(),
  exportState: null,
  /** Hand-offs to the other nodes: { atMs, ttlMs, peers: [{ node, state, url, handoff }] } (api/auth-routes.ts). */
  handoff: null,
  /** The node this page came from by a hand-off, and when: { node, atMs }. */
  cameFrom: null,
};

let stream = null;
let refreshing = null;
let refreshAgain = false;
let refreshTimer = null;
let reconnectTimer = null;
let followTimer = null;
let tailTimers = [];
let handoffTimer = null;
let lookingForPeer = false;
/** The page is opening another node: nothing of this one may change the banner or retry. */
let movingAway = false;
let loggedOut = false;

const role = () => S.me?.role ?? 'viewer';
const canAct = () => role() === 'operator' || role() === 'admin';
const isAdmin = () => role() === 'admin';

// ---------------------------------------------------------------------------------------------
// Connection

async function connect() {
  clearTimeout(reconnectTimer);
  if (loggedOut || movingAway) return;
  setConn(S.conn.state === 'down' ? 'reconnecting' : 'connecting');
  try {
    const me = await api('GET', '/v1/whoami');
    S.me = me;
    setCsrf(me.csrf);
    if (!S.features.checked) await checkFeatures();
    await refresh({ events: true });
  } catch (e) {
    if (e.status === 401) return logOut(e);
    return lost(e);
  }
  openStream();
  renewHandoff();
}

/** Ask this node for fresh hand-offs to the others (for the session's user), now and every third of their life. */
async function renewHandoff() {
  clearTimeout(handoffTimer);
  if (loggedOut || !S.me?.csrf) return; // a hand-off carries a dashboard session, not a token
  let next = 30_000;
  try {
    const r = await api('POST', '/v1/session/handoff', {});
    S.handoff = { atMs: Date.now(), ttlMs: r.ttlMs, peers: r.peers ?? [] };
    next = Math.max(10_000, Math.floor(r.ttlMs / 3));
  } catch { /* the node is going away or busy: the one held is used while it lasts */ }
  handoffTimer = setTimeout(renewHandoff, next);
}

const handoffFresh = () => S.handoff && Date.now() - S.handoff.atMs < S.handoff.ttlMs - handoffMarginMs;

/**
 * Does the node at `url` serve its dashboard? An opaque answer is enough (the page learns only
 * that it is there); a stylesheet is asked for because browsers pass it to a no-cors request
 * where they may cut a JSON answer.
 */
async function answers(url) {
  try {
    await fetch(`${url}/ui/app.css`, { mode: 'no-cors', cache: 'no-store', credentials: 'omit', signal: AbortSignal.timeout(peerProbeMs) });
    return true;
  } catch {
    return false;
  }
}

/** Open the first other node that answers, with its hand-off; false when none does (or no fresh hand-off is held). */
async function moveToPeer() {
  if (lookingForPeer || !handoffFresh()) return false;
  lookingForPeer = true;
  try {
    for (const p of S.handoff.peers) {
      S.conn.trying = p.node;
      renderBanner();
      if (!(await answers(p.url))) continue;
      if (S.conn.state === 'live') return false; // the own node came back meanwhile
      movingAway = true;
      clearTimeout(reconnectTimer);
      clearTimeout(handoffTimer);
      S.conn.movingTo = p.node;
      setConn('moving');
      render();
      const from = S.status?.node ?? '';
      location.assign(`${p.url}/#handoff=${encodeURIComponent(p.handoff)}&from=${encodeURIComponent(from)}`);
      return true;
    }
    return false;
  } finally {
    S.conn.trying = null;
    lookingForPeer = false;
  }
}

/** A page opened with a hand-off in its fragment: trade it for a session of this node (once; the fragment is dropped from the address at once). */
async function redeemFromFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const handoff = params.get('handoff');
  if (!handoff) return;
  history.replaceState(null, '', location.pathname + location.search);
  // The link's text is anyone's: only a node name is shown.
  const from = params.get('from') ?? '';
  S.cameFrom = { node: /^[A-Za-z0-9._-]{1,63}$/.test(from) ? from : 'another node', atMs: Date.now() };
  setConn('connecting');
  for (;;) {
    try {
      await api('POST', '/v1/session/redeem', { handoff });
      return;
    } catch (e) {
      // A starting or busy node is asked again while the hand-off may still be good; a refusal is final.
      if ((e.status === 0 || e.status === 503 || e.status === 429) && Date.now() - S.cameFrom.atMs < 60_000) {
        await new Promise((r) => setTimeout(r, redeemRetryMs));
        continue;
      }
      if (e.status === 401 || e.status === 403) S.cameFrom.refused = e;
      return;
    }
  }
}

function openStream() {
  stream?.close();
  const es = new EventSource(`/v1/events/stream?after=${S.lastId}`);
  stream = es;
  es.onopen = () => { S.conn.attempt = 0; setConn('live'); render(); followActions(); };
  es.onmessage = (m) => {
    try { addEvents([JSON.parse(m.data)]); } catch { return; }
    renderTimeline();
    renderHistory();
    scheduleRefresh();
    if (S.actions.some((a) => a.state === 'waiting')) scheduleTailReads();
  };
  // A network error, the node going away, or the node's own `event: error` (a dropped reader).
  es.onerror = (ev) => {
    if (stream !== es) return;
    es.close();
    stream = null;
    let detail = 'the event stream was cut';
    try { if (ev.data) { const d = JSON.parse(ev.data); detail = errorText(d.error ?? {}); } } catch { /* a plain network error */ }
    lost(new ApiError(0, 'STREAM_LOST', detail));
    followActions();
  };
}

function lost(e) {
  if (movingAway) return;
  stream?.close();
  stream = null;
  S.conn.attempt += 1;
  S.conn.error = e;
  setConn('down');
  const delay = reconnectDelaysMs[Math.min(S.conn.attempt - 1, reconnectDelaysMs.length - 1)];
  S.conn.nextAtMs = Date.now() + delay;
  clearTimeout(reconnectTimer);
  reconnectTimer = setTimeout(connect, delay);
  render();
  if (S.conn.attempt >= ownAttemptsBeforePeers) moveToPeer().then(() => renderBanner());
}

function logOut(e) {
  loggedOut = true;
  clearTimeout(handoffTimer);
  stream?.close();
  stream = null;
  S.conn.error = e;
  setConn('logged-out');
  render();
}

function setConn(state) {
  if (S.conn.state !== state) S.conn.since = Date.now();
  S.conn.state = state;
  const el = document.getElementById('conn');
  const words = {
    connecting: 'connecting…',
    reconnecting: `reconnecting (attempt ${S.conn.attempt})…`,
    live: 'live: following the event stream',
    down: `node unreachable since ${time(S.conn.since)}`,
    moving: `moving to ${S.conn.movingTo}…`,
    'logged-out': 'not logged in',
  };
  el.textContent = words[state] ?? state;
  el.className = `conn-${state}`;
  document.body.classList.toggle('stale', state === 'down' || state === 'reconnecting' || state === 'moving');
}

async function checkFeatures() {
  try {
    const doc = await api('GET', '/v1/openapi.json');
    const paths = Object.entries(doc?.paths ?? {});
    S.features.cleanup = paths.some(([p, ops]) => /^\/v1\/resources\/\{[^}]+\}\/cleanup$/.test(p) && ops.post);
    S.features.exportText = paths.some(([p, ops]) => p === '/v1/export' && ops.get);
  } catch { /* an older node: no optional routes */ }
  S.features.checked = true;
}

/** Read the state again a little after a burst of events, while an action waits (its outcome may reach this node's picture a cycle after the event). */
function scheduleTailReads() {
  for (const t of tailTimers) clearTimeout(t);
  tailTimers = actionTailReadsMs.map((ms) => setTimeout(() => {
    if (S.conn.state === 'live' && S.actions.some((a) => a.state === 'waiting')) refresh().catch(lost);
  }, ms));
}

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => { refresh().catch(lost); }, refreshDebounceMs);
}

/** Read the whole state (and, with events, the log after the last event seen), then draw it. */
function refresh(opts = {}) {
  if (refreshing) { refreshAgain = true; return refreshing; }
  refreshing = (async () => {
    let withEvents = !!opts.events;
    do {
      refreshAgain = false;
      const [status, backups] = await Promise.all([api('GET', '/v1/status'), api('GET', '/v1/backups').catch(() => null)]);
      if (withEvents) await readEvents();
      withEvents = false;
      const why = new Map();
      const asked = [...status.groups.filter((g) => g.state !== 'Online'), ...status.groups.filter((g) => g.state === 'Online')].slice(0, whyReadsMax);
      await Promise.all(asked.map(async (g) => {
        try { why.set(g.name, await api('GET', `/v1/groups/${seg(g.name)}/why`)); } catch { /* shown without */ }
      }));
      S.status = status;
      if (backups) S.backups = backups.backups ?? [];
      S.why = why;
      S.conn.lastOkMs = Date.now();
      checkActions();
      render();
    } while (refreshAgain);
  })().finally(() => { refreshing = null; });
  return refreshing;
}

async function readEvents() {
  for (let i = 0; i < eventsPagesMax; i++) {
    const r = await api('GET', `/v1/events?after=${S.lastId}&limit=${eventsPage}`);
    addEvents(r.events ?? []);
    if ((r.events ?? []).length < eventsPage) return;
  }
}

function addEvents(list) {
  for (const e of list) {
    if (typeof e?.id !== 'number' || e.id <= S.lastId) continue;
    S.events.push(e);
    S.lastId = e.id;
  }
  if (S.events.length > eventsKeptMax) S.events.splice(0, S.events.length - eventsKeptMax);
}

// ---------------------------------------------------------------------------------------------
// Actions: a request, then progress until the state says done or failed.

const confirmDialog = () => document.getElementById('confirm');

/** Ask before an action that interrupts service; resolves true when confirmed. */
function confirmAction(title, text, okLabel) {
  const d = confirmDialog();
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  document.getElementById('confirm-ok').textContent = okLabel;
  const opener = document.activeElement;
  return new Promise((resolve) => {
    d.addEventListener('close', () => {
      resolve(d.returnValue === 'ok');
      if (opener instanceof HTMLElement) opener.focus();
    }, { once: true });
    d.returnValue = '';
    d.showModal();
    document.getElementById('confirm-cancel').focus();
  });
}

/**
 * Run an action: `goal(state, answer)` returns 'done', a failure text, or null (not yet).
 * confirm: { title, text, ok } for actions that interrupt service.
 */
async function act({ label, method = 'POST', path, body, confirm, goal, waiting }) {
  if (confirm && !(await confirmAction(confirm.title, confirm.text, confirm.ok))) return;
  const a = { id: Date.now() + Math.random(), label, state: 'sent', text: 'sent…', startMs: Date.now(), goal, waiting };
  S.actions.unshift(a);
  S.actions.splice(actionsShownMax);
  renderActions();
  try {
    a.answer = await api(method, path, body ?? {});
    a.state = 'waiting';
    a.text = `accepted; waiting until ${waiting}`;
  } catch (e) {
    a.state = 'failed';
    a.text = errorText(e);
    renderActions();
    return;
  }
  renderActions();
  followActions();
  refresh().catch(lost);
}

function checkActions() {
  for (const a of S.actions) {
    if (a.state !== 'waiting') continue;
    const waited = Date.now() - a.startMs;
    const r = a.goal(S, a.answer, waited >= actionGraceMs);
    if (r === 'done') {
      a.state = 'done';
      a.text = `done: ${a.waiting} (${duration(waited)})`;
    } else if (typeof r === 'string') {
      a.state = 'failed';
      a.text = r;
    } else if (waited > actionWaitMs) {
      a.state = 'timeout';
      a.text = `not reached after ${duration(waited)}: ${a.waiting}. Look at the group's why and the timeline`;
    } else {
      a.text = `waiting until ${a.waiting} (${duration(waited)})`;
    }
  }
}

/**
 * While an action waits: with the event stream open, the events drive the reads (onmessage) and
 * this only wakes at the earliest deadline to say an action has not reached its goal; without the
 * stream (connecting, or its node cut it), the state is read once a second (the fallback).
 */
function followActions() {
  clearTimeout(followTimer);
  const waiting = S.actions.filter((a) => a.state === 'waiting');
  if (waiting.length === 0) return;
  if (stream && stream.readyState === EventSource.OPEN) {
    const deadline = Math.min(...waiting.map((a) => a.startMs + actionWaitMs));
    followTimer = setTimeout(() => { checkActions(); renderActions(); followActions(); }, Math.max(0, deadline - Date.now()) + 50);
    return;
  }
  followTimer = setTimeout(() => {
    if (S.conn.state === 'down' || S.conn.state === 'moving' || loggedOut) return followActions();
    refresh().catch(() => undefined).finally(followActions);
  }, actionReadMs);
}

const groupIn = (s, name) => s.status?.groups.find((g) => g.name === name);
const resIn = (s, name) => s.status?.resources.find((r) => r.name === name);
const nodeIn = (s, name) => s.status?.nodes.find((n) => n.name === name);
const backupIn = (s, id) => s.backups.find((b) => b.id === id);

/** A resource failed on the way: its error, as the group's reason says it. */
function resourceFailure(s, groupName) {
  const g = groupIn(s, groupName);
  const failed = s.status?.resources.filter((r) => r.group === groupName && r.state === 'Failed') ?? [];
  if (g?.state !== 'Failed' && failed.length === 0) return null;
  const why = failed.map((r) => `${r.name}: ${r.error ?? 'Failed'}`).join('; ');
  return `failed: group ${groupName} is ${g?.state}${g?.reason ? ` (${g.reason})` : ''}${why ? `: ${why}` : ''}. hint: read its why below, then bring it online again`;
}

function moveGroup(g) {
  const choice = S.moveTarget.get(g.name) ?? '';
  const to = choice === '' ? 'the best node' : choice;
  return act({
    label: `move group ${g.name} to ${to}`, path: `/v1/groups/${seg(g.name)}/move`, body: choice ? { node: choice } : {},
    confirm: { title: `Move group ${g.name}?`, text: `Its resources go offline on ${g.node ?? 'their node'} and come online on ${to}: the service is interrupted meanwhile.`, ok: 'Move' },
    waiting: `group ${g.name} is Online on ${to}`,
    goal: (s, answer, late) => {
      const now = groupIn(s, g.name);
      const target = answer?.node ?? choice;
      if (now?.node === target && now.state === 'Online') return 'done';
      return late ? resourceFailure(s, g.name) : null;
    },
  });
}

function groupState(g, op) {
  const offline = op === 'offline';
  return act({
    label: `${op} group ${g.name}`, path: `/v1/groups/${seg(g.name)}/${op}`,
    confirm: offline ? { title: `Take group ${g.name} offline?`, text: `Every resource of ${g.name} stops: its service is unavailable until it is brought online again.`, ok: 'Take offline' } : null,
    waiting: `group ${g.name} is ${offline ? 'Offline' : 'Online'}`,
    goal: (s, _a, late) => {
      const now = groupIn(s, g.name);
      if (now?.state === (offline ? 'Offline' : 'Online')) return 'done';
      return !offline && late ? resourceFailure(s, g.name) : null;
    },
  });
}

function nodeAction(n, op) {
  const texts = {
    pause: [`node ${n.name} is Paused`, null],
    resume: [`node ${n.name} is Up`, null],
    drain: [`node ${n.name} is Paused and runs no group`, { title: `Drain node ${n.name}?`, text: `Node ${n.name} is paused and every group it runs moves to another node: their services are interrupted while they move.`, ok: 'Drain' }],
  };
  const [waiting, confirm] = texts[op];
  return act({
    label: `${op} node ${n.name}`, path: `/v1/nodes/${seg(n.name)}/${op}`, confirm, waiting,
    goal: (s) => {
      const now = nodeIn(s, n.name);
      if (op === 'resume') return now?.state === 'Up' ? 'done' : null;
      if (now?.state !== 'Paused') return null;
      if (op === 'pause') return 'done';
      return s.status.groups.every((g) => g.node !== n.name || g.state === 'Offline' || g.state === 'Failed') ? 'done' : null;
    },
  });
}

function resourceState(r, op) {
  const offline = op === 'offline';
  return act({
    label: `${op} resource ${r.name}`, path: `/v1/resources/${seg(r.name)}/${op}`,
    confirm: offline ? { title: `Take resource ${r.name} offline?`, text: `${r.name} stops, and with it every resource of ${r.group} that depends on it.`, ok: 'Take offline' } : null,
    waiting: `resource ${r.name} is ${offline ? 'Offline' : 'Online'}`,
    goal: (s, _a, late) => {
      const now = resIn(s, r.name);
      if (now?.state === (offline ? 'Offline' : 'Online')) return 'done';
      return !offline && late && now?.state === 'Failed' ? `failed: resource ${r.name} is Failed: ${now.error ?? 'no reason given'}` : null;
    },
  });
}

/** Disk maintenance: kind maint (on/off) or extmaint (1/0), and the status string each step ends in. */
function maintenance(r, kind, on) {
  const target = kind === 'maint' ? (on ? 'Online(Maintenance)' : 'Online') : (on ? "Online(Ext Maintenance, Internal State 'Offline')" : 'Online(Maintenance)');
  const words = kind === 'maint' ? `maintenance ${on ? 'on' : 'off'}` : `extended maintenance ${on ? 'on' : 'off'}`;
  return act({
    label: `${words} for ${r.name}`, path: `/v1/resources/${seg(r.name)}/${kind}`, body: { on },
    confirm: kind === 'extmaint' && on ? { title: `Extended maintenance for ${r.name}?`, text: `${r.name} is dismounted and its health and device checks stop; the group still shows Online. Its dependents lose the disk until it is cleared.`, ok: 'Set extended maintenance' } : null,
    waiting: `resource ${r.name} shows ${target}`,
    goal: (s) => {
      const now = resIn(s, r.name);
      if (now?.status === target) return 'done';
      return now?.state === 'Failed' ? `failed: resource ${r.name} is Failed: ${now.error ?? ''}` : null;
    },
  });
}

function cleanup(r) {
  return act({
    label: `clean up resource ${r.name}`, path: `/v1/resources/${seg(r.name)}/cleanup`,
    waiting: `resource ${r.name} is no longer Failed`,
    goal: (s) => (resIn(s, r.name)?.state !== 'Failed' ? 'done' : null),
  });
}

function freeze(g) {
  return act({
    label: `freeze group ${g.name} for a backup`, path: '/v1/backups', body: { target: g.name, wait: false },
    confirm: { title: `Freeze ${g.name} for a backup?`, text: `The writers of ${g.name} stop writing until the backup is thawed (or its time limit ends): clients wait meanwhile.`, ok: 'Freeze' },
    waiting: `the backup of ${g.name} is Frozen`,
    goal: (s, answer) => {
      const b = backupIn(s, answer?.id);
      if (b?.state === 'Frozen') return 'done';
      if (b?.state === 'Failed') return b.error ? errorText(b.error) : `failed: the backup ${b.id} failed`;
      return null;
    },
  });
}

function thaw(b) {
  return act({
    label: `thaw backup ${b.id}`, path: `/v1/backups/${seg(b.id)}/thaw`,
    waiting: `backup ${b.id} is Thawed`,
    goal: (s) => {
      const now = backupIn(s, b.id);
      if (now?.state === 'Thawed') return 'done';
      if (now?.state === 'Failed') return now.error ? errorText(now.error) : `failed: backup ${b.id} failed`;
      return null;
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Rendering

function render() {
  renderHeader();
  renderBanner();
  renderActions();
  renderNodes();
  renderGroups();
  renderTimeline();
  renderHistory();
  renderConfig();
}

function renderHeader() {
  const s = S.status;
  document.getElementById('cluster').textContent = s ? `— ${s.cluster}` : '';
  mount('who', S.me ? [`${S.me.user} · role ${S.me.role}`, S.me.role === 'viewer' ? ' (read only)' : ''] : '');
  mount('meta', s ? `answered by ${s.node} · coordinator ${s.coordinator ?? 'none'} (term ${s.term}) · configuration seq ${s.appliedSeq} · read at ${time(S.conn.lastOkMs)}` : '');
  mount('warnings', (s?.warnings ?? []).map((w, i) => h('li', { class: i === 0 && s.quorumWritesBlocked ? 'blocked' : '' }, w)));
}

function renderBanner() {
  const el = document.getElementById('banner');
  const c = S.conn;
  const show = (kind, ...parts) => { el.hidden = false; el.dataset.kind = kind; el.className = kind === 'moved' ? 'info' : ''; mount('banner', ...parts); };
  const login = ['Run ', h('code', {}, 'cluster dashboard --url --endpoint URL'), ' in a terminal and open the one-time URL it prints (valid 60 s).'];
  if (c.state === 'logged-out') {
    const refused = S.cameFrom?.refused;
    return show('logged-out', h('p', {}, h('strong', {}, 'Not logged in. '),
      refused ? `This page came from ${S.cameFrom.node} with a hand-off that this node refused: ${errorText(refused)}. `
        : c.error?.code === 'AUTH_INVALID' ? 'This node does not know this session (it restarted, the session expired, or the credential was revoked). ' : '',
      ...login));
  }
  const self = S.status?.node ?? 'that served this page';
  if (c.state === 'down' || c.state === 'reconnecting' || c.state === 'moving') {
    const peers = S.handoff?.peers ?? [];
    const fresh = handoffFresh();
    let next;
    if (c.state === 'moving') next = h('p', {}, h('strong', {}, `Node ${c.movingTo} answers: opening its dashboard`), ` as ${S.me?.user} (role ${S.me?.role}), without a new login…`);
    else if (c.trying && fresh) next = h('p', {}, `Asking node ${c.trying} whether it answers…`);
    else if (fresh && peers.length > 0) {
      next = h('p', {}, c.attempt < ownAttemptsBeforePeers ? 'If it stays silent, this page moves to another node that answers' : 'No other node answers yet either; asking again', ` (${peers.map((p) => p.node).join(', ')}), keeping your login.`);
    } else {
      const others = (S.status?.nodes ?? []).filter((n) => n.name !== S.status?.node && n.apiUrl && n.state !== 'Down');
      next = others.length > 0 ? h('p', {}, 'Other nodes serve the same dashboard (this page holds no hand-off for them: log in there with ', h('code', {}, 'cluster dashboard --url --endpoint URL'), '): ',
        others.map((n, i) => [i ? ', ' : '', h('a', { href: `${n.apiUrl}/` }, `${n.name} (${n.apiUrl})`)])) : null;
    }
    return show(c.state === 'moving' ? 'moving' : 'unreachable',
      h('p', {}, h('strong', {}, `Node ${self} is unreachable — reconnecting…`), ` (${c.error ? errorText(c.error) : 'no answer'}). `,
        `Attempt ${c.attempt}${c.nextAtMs && c.state !== 'moving' ? `, next at ${time(c.nextAtMs)}` : ''}. `,
        S.conn.lastOkMs ? `What is shown is the state at ${time(S.conn.lastOkMs)}, greyed: it may be out of date.` : ''),
      next);
  }
  if (S.cameFrom && S.me) {
    return show('moved', h('p', {}, h('strong', {}, `Continued on node ${self}`), `: ${S.cameFrom.node} stopped answering; this page moved here at ${time(S.cameFrom.atMs)} with your login (${S.me.user}, role ${S.me.role}).`));
  }
  el.hidden = true;
}

function renderActions() {
  const box = document.getElementById('actions-box');
  box.hidden = S.actions.length === 0;
  mount('actions', S.actions.map((a) => h('li', { class: `act-${a.state}`, 'data-action-state': a.state },
    h('strong', {}, a.label), ': ', a.text)));
}

/** An action button; disabled while the node does not answer (the state shown may be stale). */
function button(label, key, onclick, opts = {}) {
  const off = S.conn.state !== 'live' && !opts.always;
  return h('button', { type: 'button', dataset: { key }, 'aria-label': opts.aria ?? label, class: opts.danger ? 'danger' : '', disabled: off, title: off ? 'the node does not answer: wait for the page to reconnect' : null, onclick }, label);
}

function renderNodes() {
  const s = S.status;
  if (!s) return mount('nodes', h('p', {}, 'no state read yet'));
  const head = ['Node', 'ID', 'State', 'Role', 'Address'].concat(canAct() ? ['Actions'] : []);
  mount('nodes', h('table', {}, h('caption', { class: 'sr-only' }, 'Nodes'),
    h('thead', {}, h('tr', {}, head.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, s.nodes.map((n) => h('tr', { dataset: { node: n.name, state: n.state } },
      h('th', { scope: 'row' }, n.name), h('td', {}, n.id),
      h('td', { class: stateClass(n.state) }, n.state + (n.draining ? ' (draining)' : '')),
      h('td', {}, n.coordinator ? `coordinator (term ${s.term})` : ''), h('td', {}, n.apiUrl ?? ''),
      canAct() ? h('td', { class: 'actions' },
        n.state === 'Up' ? button('Pause', `pause-${n.name}`, () => nodeAction(n, 'pause'), { aria: `Pause node ${n.name}` }) : null,
        n.state === 'Paused' ? button('Resume', `resume-${n.name}`, () => nodeAction(n, 'resume'), { aria: `Resume node ${n.name}` }) : null,
        n.state === 'Up' || n.state === 'Paused' ? button('Drain', `drain-${n.name}`, () => nodeAction(n, 'drain'), { aria: `Drain node ${n.name}`, danger: true }) : null) : null)))));
}

function renderGroups() {
  const s = S.status;
  if (!s) return mount('groups', '');
  if (s.groups.length === 0) return mount('groups', h('p', {}, 'No group yet: cluster apply -f FILE creates them (see Configuration below).'));
  mount('groups', s.groups.map(groupCard));
}

function groupCard(g) {
  const s = S.status;
  const resources = g.resources.map((n) => s.resources.find((r) => r.name === n)).filter(Boolean);
  const why = S.why.get(g.name);
  const backups = S.backups.filter((b) => b.group === g.name && (b.state === 'Freezing' || b.state === 'Frozen' || b.state === 'Thawing'));
  const lastBackup = S.backups.find((b) => b.group === g.name);
  const hid = `g-${g.name.replace(/[^\w-]/g, '_')}`;
  return h('article.group', { 'aria-labelledby': hid, dataset: { group: g.name, owner: g.node ?? '', state: g.state, epoch: String(g.epoch) } },
    h('h4', { id: hid }, `Group ${g.name} `, h('span', { class: `badge ${stateClass(g.state)}` }, g.state)),
    h('dl.facts', {},
      h('dt', {}, 'Owner'), h('dd', { class: 'owner' }, g.node ?? 'none'),
      h('dt', {}, 'Epoch'), h('dd', {}, g.epoch),
      h('dt', {}, 'Preferred owners'), h('dd', {}, g.preferredOwners.join(', ') || 'any'),
      g.possibleOwners.length ? [h('dt', {}, 'Possible owners'), h('dd', {}, g.possibleOwners.join(', '))] : null,
      h('dt', {}, 'Failover'), h('dd', {}, `at most ${g.failoverThreshold} in ${duration(g.failoverPeriodMs)}; failback ${g.failback.mode}${g.failback.mode === 'window' ? ` ${g.failback.startHour}-${g.failback.endHour} h` : ''}`),
      h('dt', {}, 'Backup'), h('dd', {}, lastBackup ? `${lastBackup.state} (${lastBackup.id}, started ${time(lastBackup.startedWallMs)})${lastBackup.error ? `: ${errorText(lastBackup.error)}` : ''}` : 'none')),
    g.reason ? h('p.reason', {}, h('strong', {}, 'Why this state: '), g.reason) : null,
    canAct() ? groupActions(g, backups) : null,
    h('h5', {}, 'Resources'),
    h('div.scroll', {}, resourceTable(resources)),
    h('details.deps', { open: true }, h('summary', {}, 'Dependencies'), depTree(resources)),
    h('details.why', { open: g.state !== 'Online' }, h('summary', {}, `Why ${g.state === 'Online' ? `on ${g.node}` : g.state}`), whyView(why)));
}

function groupActions(g, backups) {
  const s = S.status;
  const key = `move-target-${g.name}`;
  const targets = s.nodes.filter((n) => n.name !== g.node && n.state === 'Up');
  const selected = S.moveTarget.get(g.name) ?? '';
  if (selected && !targets.some((n) => n.name === selected)) S.moveTarget.delete(g.name);
  const selId = `mv-${g.name.replace(/[^\w-]/g, '_')}`;
  return h('div.actions', { role: 'group', 'aria-label': `Actions on group ${g.name}` },
    h('label', { for: selId }, 'Move to '),
    h('select', { id: selId, dataset: { key }, onchange: (e) => S.moveTarget.set(g.name, e.target.value) },
      h('option', { value: '' }, 'the best node'),
      targets.map((n) => h('option', { value: n.name, selected: n.name === selected }, n.name))),
    button('Move', `move-${g.name}`, () => moveGroup(g), { aria: `Move group ${g.name}` }),
    g.state !== 'Online' ? button('Online', `online-${g.name}`, () => groupState(g, 'online'), { aria: `Bring group ${g.name} online` }) : null,
    g.state !== 'Offline' ? button('Offline', `offline-${g.name}`, () => groupState(g, 'offline'), { aria: `Take group ${g.name} offline`, danger: true }) : null,
    g.state === 'Online' && backups.length === 0 ? button('Freeze for backup', `freeze-${g.name}`, () => freeze(g), { aria: `Freeze group ${g.name} for a backup` }) : null,
    backups.map((b) => button(`Thaw ${b.id}`, `thaw-${b.id}`, () => thaw(b), { aria: `Thaw backup ${b.id} of group ${g.name}` })));
}

function resourceTable(resources) {
  const head = ['Resource', 'Type', 'Status', 'Node', 'Restarts', 'Failure reason', 'Depends on'].concat(canAct() ? ['Actions'] : []);
  return h('table', {},
    h('thead', {}, h('tr', {}, head.map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, resources.map((r) => h('tr', { dataset: { resource: r.name, status: r.status, state: r.state } },
      h('th', { scope: 'row' }, r.name), h('td', {}, r.type),
      h('td', { class: `status ${stateClass(r.status)}` }, r.status,
        r.maintenance ? h('div.small', {}, `since ${time(r.maintenance.sinceWallMs)}`) : null,
        r.desired !== 'online' ? h('div.small', {}, `desired ${r.desired}`) : null),
      h('td', {}, r.node ?? ''), h('td', {}, r.restarts),
      h('td', { class: r.error ? 'error' : '' }, r.error ?? ''),
      h('td', {}, r.dependsOn.join(', ')),
      canAct() ? h('td', { class: 'actions' }, resourceActions(r)) : null))));
}

function resourceActions(r) {
  const k = (op) => `${op}-res-${r.name}`;
  const m = r.maintenance;
  const out = [];
  if (r.state === 'Failed' && S.features.cleanup) out.push(button('Clean up', k('cleanup'), () => cleanup(r), { aria: `Clean up resource ${r.name}` }));
  if (r.state !== 'Online' && r.state !== 'Unknown') out.push(button('Online', k('online'), () => resourceState(r, 'online'), { aria: `Bring resource ${r.name} online` }));
  if (r.state === 'Online' && !m) out.push(button('Offline', k('offline'), () => resourceState(r, 'offline'), { aria: `Take resource ${r.name} offline`, danger: true }));
  if (r.type === 'disk' && r.state === 'Online') {
    if (!m) out.push(button('Maintenance on', k('maint-on'), () => maintenance(r, 'maint', true), { aria: `Maintenance on for ${r.name}` }));
    if (m?.mode === 'maintenance') {
      out.push(button('Maintenance off', k('maint-off'), () => maintenance(r, 'maint', false), { aria: `Maintenance off for ${r.name}` }));
      out.push(button('Extended maintenance on', k('ext-on'), () => maintenance(r, 'extmaint', true), { aria: `Extended maintenance on for ${r.name}`, danger: true }));
    }
    if (m?.mode === 'extended') out.push(button('Extended maintenance off', k('ext-off'), () => maintenance(r, 'extmaint', false), { aria: `Extended maintenance off for ${r.name}` }));
  }
  return out;
}

function depTree(resources) {
  if (resources.length === 0) return h('p', {}, 'no resources');
  const byName = new Map(resources.map((r) => [r.name, r]));
  const item = (n) => {
    const r = byName.get(n.name);
    return h('li', {}, h('span', { class: stateClass(r?.status) }, `${n.name} — ${r?.status ?? '?'}`), n.repeat ? ' (shown above)' : '',
      n.children.length ? h('ul', { 'aria-label': `${n.name} depends on` }, n.children.map(item)) : null);
  };
  return h('ul.tree', { 'aria-label': 'Resources, each above what it depends on' }, dependencyTree(resources).map(item));
}

function whyView(why) {
  if (!why) return h('p', {}, `not read (the page asks for the first ${whyReadsMax} groups, those not Online first): cluster why GROUP`);
  return [
    h('ul', {}, why.reasons.map((r) => h('li', {}, r))),
    h('table', {}, h('caption', {}, 'Where it could run'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Node'), h('th', { scope: 'col' }, 'Eligible'), h('th', { scope: 'col' }, 'Reason'))),
      h('tbody', {}, why.candidates.map((c) => h('tr', {}, h('th', { scope: 'row' }, c.node), h('td', {}, c.eligible ? 'yes' : 'no'), h('td', {}, c.reason))))),
  ];
}

function groupOfResourceMap() {
  return new Map((S.status?.resources ?? []).map((r) => [r.name, r.group]));
}

function select(id, label, value, options, onchange) {
  return [h('label', { for: id }, label), h('select', { id, dataset: { key: id }, onchange: (e) => onchange(e.target.value) },
    options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)))];
}

function renderTimeline() {
  const s = S.status;
  const byRes = groupOfResourceMap();
  const f = S.filters;
  const nodes = [...new Set([...(s?.nodes ?? []).map((n) => n.name), ...S.events.map((e) => e.node)])].sort();
  const groups = (s?.groups ?? []).map((g) => g.name);
  const shown = [];
  for (let i = S.events.length - 1; i >= 0 && shown.length < timelineRowsMax; i--) {
    const e = S.events[i];
    if (f.node && e.node !== f.node) continue;
    if (f.level && e.level !== f.level) continue;
    if (f.group && groupOf(e, byRes) !== f.group) continue;
    shown.push(e);
  }
  const redraw = () => renderTimeline();
  mount('timeline-body',
    h('div.filters', { role: 'group', 'aria-label': 'Filter the timeline' },
      select('f-node', 'Node ', f.node, [['', 'all'], ...nodes.map((n) => [n, n])], (v) => { f.node = v; redraw(); }),
      select('f-group', 'Group ', f.group, [['', 'all'], ...groups.map((g) => [g, g])], (v) => { f.group = v; redraw(); }),
      select('f-level', 'Level ', f.level, [['', 'all'], ['info', 'info'], ['warning', 'warning'], ['error', 'error']], (v) => { f.level = v; redraw(); })),
    h('p.small', {}, `${shown.length} event(s) shown, newest first${shown.length === timelineRowsMax ? ` (the newest ${timelineRowsMax})` : ''}; ${S.events.length} kept in this page.`),
    h('ol.events', { 'aria-label': 'Events, newest first' }, shown.map((e) => h('li', { class: `lvl-${e.level}`, dataset: { event: e.event, id: String(e.id) } },
      h('time', { datetime: new Date(e.wallMs).toISOString() }, time(e.wallMs)), ' ',
      h('span.level', {}, e.level), ' ', h('span.node', {}, e.node), ' ', h('span.name', {}, e.event), ' ', h('span.msg', {}, e.message)))));
}

function renderHistory() {
  const s = S.status;
  if (!s) return mount('history-body', '');
  const byRes = groupOfResourceMap();
  const names = s.groups.map((g) => g.name);
  if (!names.includes(S.historyGroup)) S.historyGroup = names[0] ?? '';
  const all = s.groups.map((g) => ({ g, hist: groupHistory(S.events, g.name, g.resources, byRes) }));
  const failoverTimes = all.flatMap((x) => x.hist.failovers.map((f) => f.onlineAfterMs).filter((v) => v !== null));
  const sp = spread(failoverTimes);
  const restartsNow = s.resources.reduce((n, r) => n + r.restarts, 0);
  const since = S.events[0] ? dateTime(S.events[0].wallMs) : 'now';
  const figures = h('dl.figures', {},
    h('dt', {}, 'Failovers'), h('dd', {}, all.reduce((n, x) => n + x.hist.failovers.length, 0)),
    h('dt', {}, 'Failover to Online'), h('dd', {}, sp ? `median ${duration(sp.median)}, longest ${duration(sp.max)} (${sp.count} measured)` : 'none measured'),
    h('dt', {}, 'Restarts in place'), h('dd', {}, `${all.reduce((n, x) => n + x.hist.restarts, 0)} logged; ${restartsNow} counted by the owners now`),
    h('dt', {}, 'Resource failures'), h('dd', {}, all.reduce((n, x) => n + x.hist.failures, 0)));
  const cur = all.find((x) => x.g.name === S.historyGroup);
  mount('history-body',
    h('p.small', {}, `From the ${S.events.length} events in this page (since ${since}). Failover to Online: from the coordinator's decision to the last resource of the group Online on the new owner.`),
    figures,
    names.length ? h('div.filters', {}, select('h-group', 'Group ', S.historyGroup, names.map((n) => [n, n]), (v) => { S.historyGroup = v; renderHistory(); })) : null,
    cur ? groupHistoryView(cur.g, cur.hist) : null);
}

function groupHistoryView(g, hist) {
  return h('div', { dataset: { historyGroup: g.name } },
    h('h3', {}, `Group ${g.name}: owners over time`),
    hist.owners.length === 0 ? h('p', {}, 'no owner change in the events of this page') : h('div.scroll', {}, h('table', {},
      h('thead', {}, h('tr', {}, ['When', 'Owner', 'Epoch', 'How', 'Why'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, hist.owners.slice().reverse().map((o) => h('tr', {}, h('td', {}, dateTime(o.wallMs)), h('td', {}, o.node ?? 'none'), h('td', {}, o.epoch ?? ''), h('td', {}, o.kind), h('td', {}, o.reason)))))),
    h('h3', {}, `Group ${g.name}: failovers`),
    hist.failovers.length === 0 ? h('p', { dataset: { failovers: '0' } }, 'no failover in the events of this page') : h('div.scroll', {}, h('table', { dataset: { failovers: String(hist.failovers.length) } },
      h('thead', {}, h('tr', {}, ['When', 'To', 'Reason', 'Online after'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, hist.failovers.slice().reverse().map((f) => h('tr.failover', {}, h('td', {}, dateTime(f.wallMs)), h('td', {}, f.node ?? 'none'), h('td', {}, f.reason),
        h('td', {}, f.onlineAfterMs === null ? 'not Online yet' : duration(f.onlineAfterMs))))))),
    h('p', {}, `Restarts logged: ${hist.restarts}; resource failures logged: ${hist.failures}; events about ${g.name}: ${hist.events}.`));
}

// ---------------------------------------------------------------------------------------------
// Configuration: the live configuration as an apply file, and a dry-run of a pasted one.

let configBuilt = false;

function renderConfig() {
  if (!S.status || configBuilt) return;
  configBuilt = true;
  const parts = [];
  if (role() === 'viewer') {
    parts.push(h('p', {}, 'The configuration text is shown to operators and admins: it holds resources\' private properties.'));
  } else if (!S.features.exportText) {
    parts.push(h('p', {}, 'This node does not serve GET /v1/export: the configuration text cannot be shown here. ', h('code', {}, 'cluster status'), ' and the groups above show the configuration.'));
  } else {
    parts.push(h('div.actions', {}, button('Reload the configuration', 'export-reload', loadExport, { always: true })), h('pre#export', { tabindex: '0', 'aria-label': 'Live configuration as an apply file' }, 'loading…'));
  }
  if (isAdmin()) {
    parts.push(
      h('h3', {}, 'Dry run of an apply file'),
      h('label', { for: 'apply-text' }, 'Paste an apply file (YAML, as cluster apply -f takes it):'),
      h('textarea#apply-text', { rows: '12', spellcheck: 'false', autocomplete: 'off' }),
      h('div.actions', {}, button('Dry run', 'dry-run', dryRun, { aria: 'Dry run: show what the file would change', always: true })),
      h('div#dry-run-result', { 'aria-live': 'polite' }));
  } else if (canAct()) {
    parts.push(h('p', {}, 'A dry run of an apply file needs the admin role.'));
  }
  mount('config-body', parts);
  if (S.features.exportText && role() !== 'viewer') loadExport();
}

async function loadExport() {
  const pre = document.getElementById('export');
  if (!pre) return;
  try {
    const r = await api('GET', '/v1/export');
    pre.textContent = r.text;
    pre.dataset.seq = String(r.seq);
    pre.setAttribute('aria-label', `Live configuration as an apply file (seq ${r.seq})`);
  } catch (e) {
    pre.textContent = e.status === 404 ? 'This node does not serve GET /v1/export.' : errorText(e);
  }
}

/** A failback written as text in an apply file ("never", "immediate", "22-06"), as the CLI reads it. */
function failbackOf(v) {
  if (typeof v !== 'string') return v;
  const t = v.trim().toLowerCase();
  if (t === 'never' || t === 'immediate') return { mode: t };
  const m = /^(\d{1,2})-(\d{1,2})$/.exec(t);
  return m ? { mode: 'window', startHour: Number(m[1]), endHour: Number(m[2]) } : v;
}

async function dryRun() {
  const text = document.getElementById('apply-text').value;
  const out = (...c) => mount('dry-run-result', ...c);
  let spec;
  try {
    const YAML = await import('/ui/vendor/yaml/index.js');
    spec = YAML.parse(text, { maxAliasCount: 100 });
  } catch (e) {
    return out(h('p.error', {}, `The file is not valid YAML: ${e.message}`));
  }
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) return out(h('p.error', {}, 'The file must be a mapping with a groups: key.'));
  for (const g of Object.values(spec.groups ?? {})) if (g && typeof g === 'object' && 'failback' in g) g.failback = failbackOf(g.failback);
  out(h('p', {}, 'asking the coordinator…'));
  try {
    const r = await api('POST', '/v1/apply', { spec, dryRun: true });
    out(r.plan.length === 0 ? h('p', { dataset: { plan: '0' } }, 'No change: the cluster already matches this file.')
      : [h('p', {}, `Applying this file would make ${r.plan.length} change(s) (nothing was changed):`),
        h('ul.plan', { dataset: { plan: String(r.plan.length) } }, r.plan.map((l) => h('li', {}, l)))]);
  } catch (e) {
    out(h('p.error', {}, errorText(e), e.body?.error?.path ? ` (at ${e.body.error.path})` : ''));
  }
}

// ---------------------------------------------------------------------------------------------

document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && confirmDialog().open) confirmDialog().close('cancel');
});
redeemFromFragment().then(connect);
