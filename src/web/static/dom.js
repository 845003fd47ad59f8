// DOM helpers of the dashboard: elements are built, never parsed from strings, so a name or an
// event message from the cluster is always text.

/** h('tag#id.class', { attr: value, onclick: fn }, ...children): an element. */
export function h(spec, attrs, ...children) {
  const m = /^([a-z0-9]+)?(?:#([\w-]+))?((?:\.[\w-]+)*)$/i.exec(spec);
  const el = document.createElement(m?.[1] || 'div');
  if (m?.[2]) el.id = m[2];
  if (m?.[3]) el.className = m[3].split('.').filter(Boolean).join(' ');
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = [el.className, v].filter(Boolean).join(' ');
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** Replace the children of #id, keeping keyboard focus on the control with the same data-key. */
export function mount(id, ...children) {
  const root = document.getElementById(id);
  const active = document.activeElement;
  const key = active && root.contains(active) ? active.dataset.key : undefined;
  root.replaceChildren();
  append(root, children);
  if (key) root.querySelector(`[data-key="${CSS.escape(key)}"]`)?.focus();
}

export const time = (ms) => new Date(ms).toLocaleTimeString([], { hour12: false });
export const dateTime = (ms) => new Date(ms).toLocaleString([], { hour12: false });

/** 1234 -> "1.2 s", 65000 -> "1 min 5 s". */
export function duration(ms) {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
  const hours = Math.floor(ms / 3_600_000);
  const mins = Math.round((ms % 3_600_000) / 60_000);
  return mins ? `${hours} h ${mins} min` : `${hours} h`;
}

/** A CSS class for a state word: Online, Failed, Down... (first word, letters only). */
export const stateClass = (s) => `st-${String(s ?? '').replace(/\(.*$/, '').replace(/[^A-Za-z]/g, '')}`;
