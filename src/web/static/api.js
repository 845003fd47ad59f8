// The dashboard's calls to the API of the node that served it: the session cookie goes by
// itself (same origin); a state-changing call adds the session's CSRF value. Errors come back as
// the API's { code, message, hint } so that the page can show the registry's hint.

let csrf = null;
export const setCsrf = (v) => { csrf = v; };

export class ApiError extends Error {
  constructor(status, code, message, hint, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.hint = hint;
    this.body = body;
  }
}

/** A request that answers in time or fails: a node that hangs counts as unreachable. */
const requestTimeoutMs = 15_000;

export async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['x-clusterd-csrf'] = csrf;
  let r;
  try {
    r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin', cache: 'no-store', signal: AbortSignal.timeout(requestTimeoutMs) });
  } catch (e) {
    throw new ApiError(0, 'UNREACHABLE', `the node does not answer (${e.message})`, 'it may be down or restarting: the page reconnects by itself');
  }
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  if (!r.ok) {
    const e = json?.error ?? {};
    throw new ApiError(r.status, e.code ?? `HTTP_${r.status}`, e.message ?? `HTTP ${r.status}`, e.hint, json);
  }
  return json;
}

export const seg = (s) => encodeURIComponent(s);

/** "error[CODE]: message. hint: ..." as the CLI prints it. */
export const errorText = (e) => `error[${e.code ?? 'ERROR'}]: ${e.message}${e.hint ? `. hint: ${e.hint}` : ''}`;
