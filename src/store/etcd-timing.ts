// What a running etcd member tells of its raft timing (election timeout, heartbeat interval), and
// how often clusterd renews its lease on etcd.
//
// etcd 3.4 publishes neither value through its API: the maintenance Status call answers version,
// database size, leader, raft index and term; /metrics has no gauge of either; /health nothing.
// The one place is /debug/vars (Go's expvar, on the client URL), whose `cmdline` is the member's
// command line: the values are there when given as flags (--election-timeout 250), and absent
// when set through ETCD_ELECTION_TIMEOUT (Debian's unit reads /etc/default/etcd that way) or a
// --config-file, which etcd does not publish. Absent is "not known", never "the default".

import http from 'node:http';
import https from 'node:https';
import type { EtcdMemberTiming } from '../core/timing.js';
import type { EtcdTls } from './etcd-config.js';

/**
 * Every how many heartbeats a node renews its lease on etcd while renewals succeed (each renewal
 * is a raft proposal on every member and a gRPC call; the watchdog ping stays on every beat). A
 * failed renewal is retried on every beat until one succeeds, so the self-fence deadline must
 * leave room for one renewal that hangs for the whole call budget, the beat after it and the
 * beats skipped before it: selfFence >= callTimeout + (k + 1) heartbeats. At most 2: the other
 * nodes judge leases from the slots read with their own renewals (etcd.ts), so k heartbeats is
 * also how stale their view may get. 1 when the timing leaves no room (the startup check says so).
 */
export function etcdRenewEveryBeats(t: { heartbeatIntervalMs: number; selfFenceMs: number }, callTimeoutMs: number): number {
  return Math.max(1, Math.min(2, Math.floor((t.selfFenceMs - callTimeoutMs) / t.heartbeatIntervalMs) - 1));
}

/** Bound on one /debug/vars read: the check runs once at start and must not hold it up. */
export const debugVarsTimeoutMs = 2_000;
/** etcd's /debug/vars is a few KiB (its command line and expvar counters): a longer answer is refused, not held. */
const debugVarsMaxChars = 1 << 20;

/** A Go flag's value on a command line: `--name V`, `--name=V`, `-name V` or `-name=V`. */
function flagValue(argv: readonly string[], name: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    for (const prefix of [`--${name}`, `-${name}`]) {
      if (a === prefix && i + 1 < argv.length) value = argv[i + 1];
      else if (a.startsWith(`${prefix}=`)) value = a.slice(prefix.length + 1);
    }
  }
  return value;
}

/** The raft timing a member's command line (expvar `cmdline`) shows, pure. */
export function raftTimingFromCmdline(member: string, argv: readonly string[]): EtcdMemberTiming {
  const ms = (name: string): number | undefined => {
    const v = flagValue(argv, name);
    const n = v === undefined ? NaN : Number(v);
    return Number.isInteger(n) && n > 0 ? n : undefined;
  };
  const electionTimeoutMs = ms('election-timeout');
  const heartbeatIntervalMs = ms('heartbeat-interval');
  if (electionTimeoutMs !== undefined) return { member, electionTimeoutMs, heartbeatIntervalMs };
  const why = flagValue(argv, 'config-file') !== undefined
    ? 'it reads a --config-file, which etcd does not publish'
    : 'its command line has no --election-timeout: it comes from ETCD_ELECTION_TIMEOUT or is the default 1000 ms';
  return { member, electionTimeoutMs: undefined, heartbeatIntervalMs, unknownWhy: why };
}

function getText(url: string, tls: EtcdTls | undefined, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const secure = url.startsWith('https:');
    const opts: https.RequestOptions = { timeout: timeoutMs };
    if (secure && tls) {
      if (tls.ca) opts.ca = tls.ca;
      if (tls.cert) opts.cert = tls.cert;
      if (tls.key) opts.key = tls.key;
    }
    const req = (secure ? https : http).get(url, opts, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
        if (body.length > debugVarsMaxChars) req.destroy(new Error(`the answer is over ${debugVarsMaxChars} characters: not etcd's /debug/vars`));
      });
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}`))));
      res.on('error', reject);
    });
    // The whole exchange is bounded, not only each silence: a member that trickles bytes cannot hold the start.
    const deadline = setTimeout(() => req.destroy(new Error(`no complete answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('close', () => clearTimeout(deadline));
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** Each endpoint's raft timing as its /debug/vars shows it; an endpoint that does not answer is "not known", with the reason. */
export async function readEtcdRaftTiming(endpoints: readonly string[], tls: EtcdTls | undefined, timeoutMs = debugVarsTimeoutMs): Promise<EtcdMemberTiming[]> {
  return Promise.all(endpoints.map(async (endpoint): Promise<EtcdMemberTiming> => {
    try {
      const vars = JSON.parse(await getText(`${endpoint.replace(/\/+$/, '')}/debug/vars`, tls, timeoutMs)) as { cmdline?: unknown };
      if (!Array.isArray(vars.cmdline) || !vars.cmdline.every((a) => typeof a === 'string')) {
        return { member: endpoint, electionTimeoutMs: undefined, heartbeatIntervalMs: undefined, unknownWhy: '/debug/vars has no command line' };
      }
      return raftTimingFromCmdline(endpoint, vars.cmdline as string[]);
    } catch (err) {
      return { member: endpoint, electionTimeoutMs: undefined, heartbeatIntervalMs: undefined, unknownWhy: `/debug/vars cannot be read: ${(err as Error).message}` };
    }
  }));
}
