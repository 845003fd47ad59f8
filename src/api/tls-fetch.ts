// fetch() over HTTPS that trusts the cluster CA (and, between nodes, presents the node's
// certificate): Node's global fetch takes no CA of its own. Plain http:// URLs go to the global
// fetch. The answer is a standard Response (body streamed).

import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';

export interface TlsOptions {
  /** PEM of the CA that signs the nodes' certificates. */
  ca: string;
  /** The client certificate and key (PEM) a node presents to another node (mutual TLS). */
  cert?: string;
  key?: string;
}

export function tlsFetch(tls: TlsOptions | null, base: typeof fetch = fetch): typeof fetch {
  if (!tls || tls.ca === '') return base;
  return (async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    if (url.protocol !== 'https:') return base(input, init);
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((v, k) => { headers[k] = v; });
    const body = bodyBytes(init.body);
    if (body !== null) headers['content-length'] = String(body.length);
    return new Promise<Response>((resolve, reject) => {
      const req = httpsRequest(url, {
        method: init.method ?? 'GET', headers, ca: tls.ca, ...(tls.cert && tls.key ? { cert: tls.cert, key: tls.key } : {}),
        signal: init.signal ?? undefined,
      }, (res) => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) {
          if (Array.isArray(v)) for (const x of v) h.append(k, x); else if (v !== undefined) h.set(k, v);
        }
        const status = res.statusCode ?? 500;
        const noBody = status === 204 || status === 304 || init.method === 'HEAD';
        if (noBody) res.resume();
        const r = new Response(noBody ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), { status, headers: h });
        Object.defineProperty(r, 'url', { value: url.href });
        resolve(r);
      });
      req.on('error', (e) => reject(Object.assign(new TypeError('fetch failed'), { cause: e })));
      req.end(body ?? undefined);
    });
  }) as typeof fetch;
}

/** The bytes of a request body as fetch takes them here: none, a string, or bytes (a forwarded body). */
function bodyBytes(body: RequestInit['body']): Buffer | null {
  if (body === undefined || body === null) return null;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  throw new TypeError('tlsFetch sends string or byte bodies only');
}
