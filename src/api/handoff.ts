// Dashboard hand-off: how a page whose node died goes on at another node without a new login.
// Sessions live in the memory of the node that made them (auth.ts) and the cookie belongs to that
// node's origin, so while it is connected the page asks its node for one short-lived hand-off per
// other node; when its node stops answering, it opens a live peer's dashboard with that peer's
// hand-off in the URL fragment (never sent to a server or written to a log), and the peer's page
// redeems it for a session of its own.
//
// A hand-off is `payload.mac`, both base64url: payload is JSON { v, user, role, cred, aud, exp,
// nonce }, mac an HMAC-SHA256 over the payload text with a key every node derives from the
// cluster-internal node token (identity.ts), which only nodes hold. Redeeming checks, in order:
// the MAC; the node it is for (`aud`: one hand-off opens one node); the expiry (wall clock, with
// `handoffTtlMs` at most ahead, so a token minted by a node whose clock is far ahead is refused);
// one use per node (its nonce is kept until it expires); and that the credential it names is still
// in the configuration with the same token (`cred`: a keyed digest of its hash, the hash itself
// never leaves the node) and the same role. The session it opens has that credential's role:
// a viewer stays a viewer.

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { clusterError, fail, ok, type Result } from '../core/errors.js';
import { roles, type CredentialConfig, type NodeName, type Role } from '../core/types.js';

/** A hand-off opens a session within this long: long enough to survive a slow probe of the peers, short enough that one copied from a screen is soon useless. The page asks for fresh ones every `handoffTtlMs / 3`. */
export const handoffTtlMs = 3 * 60_000;
/** Clocks of two nodes may differ this much: a hand-off that expires further ahead than the TTL plus this was not minted by a sane node. */
const clockSkewMaxMs = 30_000;
/** Used hand-offs one node remembers (until they expire); when full of unexpired ones, redeeming is refused (a flood, not a page). */
const usedMax = 10_000;
/** Used hand-offs of one user a node remembers at once: far above what pages moving make (one per move), so that one user's flood fills only their own share. */
const usedPerUserMax = 100;
/** A hand-off longer than this is not one (a payload is ~250 characters). */
const handoffLengthMax = 2_048;

export interface HandoffClaims {
  v: 1;
  user: string;
  role: Role;
  /** A keyed digest of the credential's token hash: the credential must still be this one. */
  cred: string;
  /** The node this hand-off opens. */
  aud: NodeName;
  /** Wall-clock expiry (ms since the epoch). */
  exp: number;
  nonce: string;
}

const b64 = (b: Buffer | string) => Buffer.from(b).toString('base64url');

export class Handoffs {
  private readonly key: Buffer;
  /** Nonces redeemed on this node, with their expiry and user. */
  private readonly used = new Map<string, { exp: number; user: string }>();

  constructor(nodeToken: string, private readonly self: NodeName) {
    this.key = createHmac('sha256', nodeToken).update('clusterd dashboard hand-off v1').digest();
  }

  private mac(text: string): Buffer {
    return createHmac('sha256', this.key).update(text).digest();
  }

  private credDigest(tokenSha256: string): string {
    return b64(this.mac(`cred:${tokenSha256}`).subarray(0, 18));
  }

  /** A hand-off for `aud` of the credential `c` (its token hashes to `tokenSha256`). */
  mint(c: { user: string; role: Role }, tokenSha256: string, aud: NodeName, nowMs: number): string {
    const claims: HandoffClaims = { v: 1, user: c.user, role: c.role, cred: this.credDigest(tokenSha256), aud, exp: nowMs + handoffTtlMs, nonce: b64(randomBytes(18)) };
    const payload = b64(JSON.stringify(claims));
    return `${payload}.${b64(this.mac(payload))}`;
  }

  /**
   * Check a hand-off for this node and use it up: the credential it opens a session for, or why
   * not. `credential(user)` is the configuration's credential of that name as it is now.
   */
  redeem(token: string, nowMs: number, credential: (user: string) => CredentialConfig | undefined): Result<CredentialConfig> {
    const bad = (why: string) => fail(clusterError('HANDOFF_INVALID', `the dashboard hand-off ${why}`, 'log in on this node: cluster dashboard --url --endpoint URL'));
    if (typeof token !== 'string' || token.length > handoffLengthMax) return bad('is not one');
    const dot = token.indexOf('.');
    if (dot <= 0) return bad('is not one (no signature)');
    const payload = token.slice(0, dot);
    const sent = Buffer.from(token.slice(dot + 1), 'base64url');
    const want = this.mac(payload);
    if (sent.length !== want.length || !timingSafeEqual(sent, want)) return bad('is not signed by a node of this cluster (altered, or of another cluster)');
    let claims: HandoffClaims;
    try { claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as HandoffClaims; } catch { return bad('is not readable'); }
    if (claims?.v !== 1 || typeof claims.user !== 'string' || typeof claims.nonce !== 'string' || typeof claims.exp !== 'number' || !(roles as readonly string[]).includes(claims.role)) return bad('is not readable');
    if (claims.aud !== this.self) return bad(`is for node ${String(claims.aud)}, not ${this.self}`);
    if (claims.exp > nowMs + handoffTtlMs + clockSkewMaxMs) return bad('expires too far ahead (the clocks of the nodes differ too much)');
    if (claims.exp <= nowMs) {
      return fail(clusterError('HANDOFF_EXPIRED', `the dashboard hand-off of ${claims.user} expired ${Math.round((nowMs - claims.exp) / 1000)} s ago (it lasts ${handoffTtlMs / 1000} s)`, 'log in on this node: cluster dashboard --url --endpoint URL'));
    }
    let ofUser = 0;
    for (const [n, u] of this.used) {
      if (u.exp <= nowMs) this.used.delete(n);
      else if (u.user === claims.user) ofUser++;
    }
    if (this.used.has(claims.nonce)) {
      return fail(clusterError('HANDOFF_USED', `the dashboard hand-off of ${claims.user} was used on ${this.self} already: each opens one session`, 'log in on this node: cluster dashboard --url --endpoint URL'));
    }
    if (ofUser >= usedPerUserMax) return fail(clusterError('NODE_BUSY', `node ${this.self} holds ${usedPerUserMax} unexpired hand-offs of ${claims.user} already`, 'retry in a few minutes, or log in: cluster dashboard --url'));
    if (this.used.size >= usedMax) return fail(clusterError('NODE_BUSY', `node ${this.self} holds ${usedMax} unexpired hand-offs already`, 'retry in a minute, or log in: cluster dashboard --url'));
    const c = credential(claims.user);
    if (!c || this.credDigest(c.tokenSha256) !== claims.cred || c.role !== claims.role) {
      return fail(clusterError('HANDOFF_CREDENTIAL_CHANGED', `the credential of ${claims.user} was revoked or replaced (or its role changed) since the hand-off was made`, 'log in with a current credential: cluster dashboard --url --endpoint URL'));
    }
    this.used.set(claims.nonce, { exp: claims.exp, user: claims.user });
    return ok(c);
  }
}
