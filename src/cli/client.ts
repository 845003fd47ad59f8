// A small client for clusterd's HTTP API (src/api/types.ts). Every request has a 5 s bound; a
// list of endpoints is tried in order and the first that answers is kept for the session.
// Errors come back as CliError carrying the API's code verbatim, so that a newer server's codes
// still print as `error[CODE]`.

import { errorRow, type ClusterErrorData } from '../core/errors.js';

export const defaultEndpoint = 'http://127.0.0.1:7400';
/** Why 5 s: any node answers reads from its own view and forwards writes once; slower is a stuck node. */
export const requestTimeoutMs = 5_000;
/**
 * `cluster apply` waits this long for its one request: a document of up to 20,000 groups is
 * planned in slices between the node's other work and committed in one append, seconds on a busy
 * node; a node beyond its pace refuses at once (NODE_BUSY, QUORUM_BUSY) rather than keeping it.
 */
export const applyTimeoutMs = 120_000;
/** An answer larger than this is not a clusterd answer (the event store and config are bounded). */
export const responseBytesMax = 64 * 1024 * 1024;
/** How long the CLI keeps retrying while the nodes it can reach answer NODE_STARTING (a node reads the store within a second or two). */
export const startingWaitMs = 10_000;
const startingRetryMs = 200;
/**
 * How long the CLI keeps retrying a request refused with 429 NODE_BUSY or QUORUM_BUSY: those
 * refusals did nothing, so the same request is sent again after the answer's Retry-After (at most
 * busyRetryMaxMs apart). Past this bound the refusal is shown with its code and hint.
 */
export const busyWaitMs = 30_000;
const busyRetryMaxMs = 5_000;
/** Refusals that say nothing was done and when to try again. */
const busyCodes = new Set(['NODE_BUSY', 'QUORUM_BUSY']);
/** One SSE event larger than this means a broken stream, not a big event. */
export const sseEventBytesMax = 1024 * 1024;

/** An error as an operator sees it: a permanent code (registry or server), message, hint, path. */
export class CliError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly path: string | undefined;
  constructor(data: { code: string; message: string; hint?: string | undefined; path?: string | undefined }) {
    super(data.message);
    this.name = 'CliError';
    this.code = data.code;
    this.hint = data.hint ?? errorRow(data.code)?.hint;
    this.path = data.path;
  }
}

export function cliError(code: ClusterErrorData['code'], message: string, hint?: string): CliError {
  return new CliError({ code, message, hint });
}

/** --endpoint, else CLUSTERD_ENDPOINT, else the credential file's endpoints, else the default; comma-separated lists allowed. */
export function resolveEndpoints(flag: string | null, env: NodeJS.ProcessEnv, fromCredential: readonly string[] = []): string[] {
  const raw = flag ?? env.CLUSTERD_ENDPOINT ?? (fromCredential.length > 0 ? fromCredential.join(',') : defaultEndpoint);
  const list = raw.split(',').map((e) => e.trim()).filter((e) => e !== '');
  if (list.length === 0) throw cliError('BAD_ARGUMENT', `no endpoint in '${raw}'`, `for example --endpoint ${defaultEndpoint}`);
  return list.map((e) => {
    let url: URL;
    try { url = new URL(e); } catch { throw cliError('BAD_ARGUMENT', `endpoint '${e}' is not a URL`, `for example --endpoint ${defaultEndpoint}`); }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw cliError('BAD_ARGUMENT', `endpoint '${e}' must be http:// or https://`);
    return url.href.replace(/\/+$/, '');
  });
}

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/** Errors where the request surely never reached a server: safe to retry a write elsewhere. */
const notConnectedCodes = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT', 'EADDRNOTAVAIL']);

/** text: the whole body, read under the timeout; null for streams. */
interface Answer { res: Response; text: string | null }
type Attempt = { ok: true; answer: Answer } | { ok: false; retry: boolean; error: CliError };

export class ApiClient {
  private readonly endpoints: readonly string[];
  /** Index of the endpoint that answered last: tried first next time. */
  private current = 0;
  private readonly fetchImpl: typeof fetch;

  /** Sent as Authorization: Bearer (the credential file's token); null sends none. */
  private readonly token: string | null;

  constructor(endpoints: readonly string[], fetchImpl: typeof fetch = fetch, token: string | null = null) {
    this.endpoints = endpoints;
    this.fetchImpl = fetchImpl;
    this.token = token;
  }

  /** The endpoint that answered last (for messages). */
  get endpoint(): string {
    return this.endpoints[this.current]!;
  }

  get<T>(path: string, signal?: AbortSignal): Promise<T> { return this.request<T>('GET', path, undefined, signal); }
  post<T>(path: string, body?: unknown, timeoutMs = requestTimeoutMs): Promise<T> { return this.request<T>('POST', path, body ?? {}, undefined, timeoutMs); }
  patch<T>(path: string, body: unknown): Promise<T> { return this.request<T>('PATCH', path, body); }
  delete<T>(path: string): Promise<T> { return this.request<T>('DELETE', path); }

  async request<T>(method: Method, path: string, body?: unknown, signal?: AbortSignal, timeoutMs = requestTimeoutMs): Promise<T> {
    const { res, text } = await this.send(method, path, body, signal, timeoutMs);
    return readJson<T>(res, text ?? '', method, path);
  }

  /**
   * GET a text/event-stream and yield each event's data. Returns null if the server does not
   * stream (then the caller polls). No overall timeout: only the connection has one.
   */
  async stream(path: string, signal: AbortSignal): Promise<AsyncIterable<string> | null> {
    const { res } = await this.send('GET', path, undefined, signal, requestTimeoutMs, { accept: 'text/event-stream' }, true);
    if (!res.ok || !(res.headers.get('content-type') ?? '').includes('text/event-stream') || !res.body) {
      await res.body?.cancel().catch(() => undefined);
      return null;
    }
    return sseData(res.body);
  }

  /**
   * Try each endpoint, starting with the one that answered last. A node that answers
   * NODE_STARTING did nothing, so the request goes to the next one; if every node that answers is
   * starting, the round is tried again shortly, for up to startingWaitMs. A node that answers
   * 429 NODE_BUSY or QUORUM_BUSY did nothing either: the request waits its Retry-After and is sent
   * again, for up to busyWaitMs.
   */
  private async send(method: Method, path: string, body: unknown, signal: AbortSignal | undefined, timeoutMs: number,
    headers: Record<string, string> = {}, connectOnly = false): Promise<Answer> {
    const deadline = performance.now() + startingWaitMs;
    const busyDeadline = performance.now() + busyWaitMs;
    for (;;) {
      const tried: string[] = [];
      let starting: Answer | null = null;
      for (let n = 0; n < this.endpoints.length; n++) {
        const index = (this.current + n) % this.endpoints.length;
        const base = this.endpoints[index]!;
        tried.push(base);
        const attempt = await this.attempt(base, method, path, body, signal, timeoutMs, headers, connectOnly);
        if (attempt.ok) {
          if (isStarting(attempt.answer)) { starting = attempt.answer; continue; }
          this.current = index;
          const waitMs = busyWait(attempt.answer);
          if (waitMs !== null && performance.now() + waitMs <= busyDeadline && !signal?.aborted) {
            await new Promise((resolve) => setTimeout(resolve, waitMs));
            n--;
            continue;
          }
          return attempt.answer;
        }
        if (!attempt.retry) throw attempt.error;
      }
      if (starting === null) throw unreachable(tried);
      if (performance.now() + startingRetryMs > deadline || signal?.aborted) return starting;
      await new Promise((resolve) => setTimeout(resolve, startingRetryMs));
    }
  }

  private async attempt(base: string, method: Method, path: string, body: unknown, signal: AbortSignal | undefined,
    timeoutMs: number, headers: Record<string, string>, connectOnly: boolean): Promise<Attempt> {
    // connectOnly (streams): the timer bounds the wait for headers only, then it is cleared.
    const timer = new AbortController();
    const t = setTimeout(() => timer.abort(new DOMException('timeout', 'TimeoutError')), timeoutMs);
    const signals = signal ? [timer.signal, signal] : [timer.signal];
    try {
      const res = await this.fetchImpl(base + path, {
        method,
        headers: {
          accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(this.token !== null ? { authorization: `Bearer ${this.token}` } : {}), ...headers,
        },
        body: body !== undefined ? JSON.stringify(body) : null,
        signal: AbortSignal.any(signals),
      });
      const text = connectOnly ? null : await readBounded(res);
      return { ok: true, answer: { res, text } };
    } catch (e) {
      if (signal?.aborted) throw e;
      return failedAttempt(e, base, method, path, timer.signal.aborted, timeoutMs);
    } finally {
      clearTimeout(t);
    }
  }
}

/** A 503 NODE_STARTING answer: that node did nothing yet. */
function isStarting(a: Answer): boolean {
  if (a.res.status !== 503 || a.text === null) return false;
  try {
    return (JSON.parse(a.text) as { error?: { code?: string } }).error?.code === 'NODE_STARTING';
  } catch {
    return false;
  }
}

/** A 429 NODE_BUSY / QUORUM_BUSY answer: how long to wait before sending the same request again (its Retry-After, bounded); null for any other answer. */
function busyWait(a: Answer): number | null {
  if (a.res.status !== 429 || a.text === null) return null;
  let code: string | undefined;
  try { code = (JSON.parse(a.text) as { error?: { code?: string } }).error?.code; } catch { return null; }
  if (code === undefined || !busyCodes.has(code)) return null;
  const s = Number(a.res.headers.get('retry-after'));
  return Number.isFinite(s) && s > 0 ? Math.min(s * 1000, busyRetryMaxMs) : 1_000;
}

/** Read the body while the timer still runs (a server stuck mid-answer also times out), bounded in size. */
async function readBounded(res: Response): Promise<string> {
  if (!res.body) return '';
  const decoder = new TextDecoder();
  let bytes = 0;
  let text = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    bytes += chunk.byteLength;
    if (bytes > responseBytesMax) {
      await res.body.cancel().catch(() => undefined);
      throw cliError('INTERNAL', `answer larger than ${responseBytesMax} bytes from ${res.url}`);
    }
    text += decoder.decode(chunk, { stream: true });
  }
  return text + decoder.decode();
}

function failedAttempt(e: unknown, base: string, method: Method, path: string, timedOut: boolean, timeoutMs: number): Attempt {
  const code = causeCode(e);
  if (timedOut) {
    // A write that timed out may have been applied: sending it to another node could apply it twice.
    const retry = method === 'GET';
    return { ok: false, retry, error: cliError('TIMEOUT', `no answer from ${base} within ${timeoutMs / 1000} s to ${method} ${path}; the change may or may not have been made`, 'check with: cluster status') };
  }
  if (e instanceof CliError) return { ok: false, retry: false, error: e };
  const retry = method === 'GET' || notConnectedCodes.has(code);
  return { ok: false, retry, error: cliError('ENDPOINT_UNREACHABLE', `${method} ${path} to ${base} failed (${code || String(e)}); the change may or may not have been made`, 'check with: cluster status') };
}

function causeCode(e: unknown): string {
  const cause = (e as { cause?: { code?: unknown } } | null)?.cause;
  return typeof cause?.code === 'string' ? cause.code : '';
}

function unreachable(tried: readonly string[]): CliError {
  return cliError('ENDPOINT_UNREACHABLE', `no clusterd answers at ${tried.join(', ')}`,
    'start a node (clusterd) or point at a running one with --endpoint URL or CLUSTERD_ENDPOINT=URL[,URL...]');
}

function readJson<T>(res: Response, text: string, method: Method, path: string): T {
  let body: unknown;
  try { body = text === '' ? {} : JSON.parse(text); } catch { body = undefined; }
  if (res.ok && body !== undefined) return body as T;
  throw httpError(res, body, text, method, path);
}

function httpError(res: Response, body: unknown, text: string, method: Method, path: string): CliError {
  const err = (body as { error?: { code?: unknown; message?: unknown; hint?: unknown; path?: unknown } } | undefined)?.error;
  if (err && typeof err === 'object' && typeof err.code === 'string' && typeof err.message === 'string') {
    return new CliError({
      code: err.code, message: err.message,
      hint: typeof err.hint === 'string' ? err.hint : undefined,
      path: typeof err.path === 'string' ? err.path : undefined,
    });
  }
  const detail = text.slice(0, 200).replace(/\s+/g, ' ').trim();
  return cliError('INTERNAL', `${method} ${path} answered HTTP ${res.status} without a clusterd error${detail ? `: ${detail}` : ''}`,
    'is this endpoint a clusterd node of the same version?');
}

/** The data of each server-sent event (lines `data: ...`, blank line ends an event). */
async function* sseData(body: ReadableStream<Uint8Array>): AsyncIterable<string> {
  const decoder = new TextDecoder();
  let buffer = '';
  let data: string[] = [];
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    if (buffer.length > sseEventBytesMax) throw cliError('INTERNAL', `event stream line longer than ${sseEventBytesMax} bytes`);
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).replace(/\r$/, '');
      buffer = buffer.slice(nl + 1);
      if (line === '') {
        if (data.length > 0) yield data.join('\n');
        data = [];
      } else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
    }
  }
}

/** Path segment for a name: names may hold spaces and colons ("Disk H:"). */
export const seg = (name: string): string => encodeURIComponent(name);
