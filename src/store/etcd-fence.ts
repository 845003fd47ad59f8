// The etcd twin of lease-file.ts's markLeaseFenced, for the resource monitor: after clusterd died
// and the monitor killed every resource, it marks the node's lease slot `fenced` so that the
// other nodes take over at once instead of waiting out the lease TTL. Only if the slot still
// carries the dead clusterd's incarnation (a new clusterd's slot is the truth), by one compare-
// and-swap on the slot's mod_revision. It also rewrites the `change` key so that the other
// nodes' watches wake them up now.
//
// It speaks etcd's JSON gateway (/v3/kv/...) with node:http(s) instead of loading the gRPC
// client: the monitor runs this once, right after clusterd died, and loading gRPC and its
// protobuf definitions costs about a second on a busy machine, which is what this hook saves.
//
// The monitor finds what it needs in its environment: CLUSTERD_FENCE_ETCD (the quorum spec,
// etcd:URL[,URL...]), CLUSTERD_FENCE_NODE, CLUSTERD_FENCE_INCARNATION, and the same
// CLUSTERD_ETCD_PREFIX / CLUSTERD_ETCD_CA / CERT / KEY / USER / PASSWORD as clusterd.

import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { etcdSecurityFromEnv, parseEtcdEndpoints, type EtcdTls } from './etcd-config.js';
import type { LeaseRecord } from './types.js';

const etcdPrefixDefault = '/clusterd/';
const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');
const unb64 = (s: string | undefined): string => Buffer.from(s ?? '', 'base64').toString('utf8');

interface GatewayKv { key?: string; value?: string; mod_revision?: string }

function post(url: string, body: unknown, opts: { tls?: EtcdTls; token?: string; timeoutMs: number }): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (opts.token) headers.authorization = opts.token;
    const options = { method: 'POST', headers, timeout: opts.timeoutMs, ca: opts.tls?.ca, cert: opts.tls?.cert, key: opts.tls?.key };
    const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, options, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { text += chunk; });
      res.on('end', () => {
        let json: Record<string, unknown>;
        try {
          json = JSON.parse(text) as Record<string, unknown>;
        } catch {
          reject(new Error(`${url}: HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
          return;
        }
        if ((res.statusCode ?? 500) >= 300 || json.error) reject(new Error(`${url}: ${String(json.message ?? json.error ?? res.statusCode)}`));
        else resolve(json);
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer within ${opts.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/**
 * Marks `node`'s lease slot fenced if it still carries `incarnation`. Returns false when the slot
 * is gone or belongs to another incarnation; throws when no etcd endpoint answered in time.
 */
export async function markLeaseFencedEtcd(spec: string, node: string, incarnation: string, budgetMs: number, env: NodeJS.ProcessEnv): Promise<boolean> {
  const parsed = spec.startsWith('etcd:') ? parseEtcdEndpoints(spec.slice('etcd:'.length)) : null;
  if (!parsed?.ok) throw new Error(`CLUSTERD_FENCE_ETCD=${spec} is not an etcd quorum spec${parsed && !parsed.ok ? `: ${parsed.error}` : ''}`);
  const prefix = env.CLUSTERD_ETCD_PREFIX || etcdPrefixDefault;
  const { tls, auth } = etcdSecurityFromEnv(env);
  const key = b64(`${prefix}slot/${encodeURIComponent(node)}`);
  const until = performance.now() + budgetMs;
  const left = () => Math.max(20, until - performance.now());
  let last: unknown = null;
  for (const endpoint of parsed.value) {
    if (performance.now() >= until) break;
    try {
      let token: string | undefined;
      if (auth) {
        const a = await post(`${endpoint}/v3/auth/authenticate`, { name: auth.username, password: auth.password }, { tls, timeoutMs: left() });
        token = String(a.token ?? '');
      }
      const call = (path: string, body: unknown) => post(`${endpoint}${path}`, body, { tls, token, timeoutMs: left() });
      // Twice at most: a renewal in flight when clusterd died may land between the read and the swap.
      for (let round = 0; round < 2; round++) {
        const got = await call('/v3/kv/range', { key });
        const kv = (got.kvs as GatewayKv[] | undefined)?.[0];
        if (!kv) return false;
        const slot = JSON.parse(unb64(kv.value)) as LeaseRecord;
        if (slot.incarnation !== incarnation) return false;
        if (slot.state === 'fenced') return true;
        const fenced: LeaseRecord = { node: slot.node, counter: slot.counter, state: 'fenced', incarnation: slot.incarnation };
        const txn = await call('/v3/kv/txn', {
          compare: [{ key, target: 'MOD', result: 'EQUAL', mod_revision: kv.mod_revision ?? '0' }],
          success: [
            { request_put: { key, value: b64(JSON.stringify(fenced)) } },
            { request_put: { key: b64(`${prefix}change`), value: b64(randomBytes(8).toString('hex')) } },
          ],
        });
        if (txn.succeeded === true) return true;
      }
      return false;
    } catch (err) {
      last = err; // this member did not answer: try the next one
    }
  }
  throw new Error(`no etcd endpoint of ${spec} marked the lease fenced within ${budgetMs} ms: ${last instanceof Error ? last.message : String(last)}`);
}
