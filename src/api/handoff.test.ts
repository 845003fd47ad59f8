// Dashboard hand-offs (handoff.ts): a hand-off minted by one node opens one session on the node it
// names, once, within its life, for the credential as it still is, with its role; anything else
// is refused with its code.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CredentialConfig } from '../core/types.js';
import { Handoffs, handoffTtlMs } from './handoff.js';

const nodeToken = 'cluster-internal-node-token';
const now = 1_800_000_000_000;
const creds: Record<string, CredentialConfig> = {
  ops: { user: 'ops', role: 'operator', tokenSha256: 'a'.repeat(64), createdWallMs: 1 },
  watcher: { user: 'watcher', role: 'viewer', tokenSha256: 'b'.repeat(64), createdWallMs: 1 },
};
const lookup = (table: Record<string, CredentialConfig>) => (u: string) => (Object.hasOwn(table, u) ? table[u] : undefined);
const codeOf = (r: { ok: boolean; error?: { code: string } }) => (r.ok ? 'ok' : r.error!.code);

test('a hand-off of n1 for n2 opens a session on n2 once, with the credential and its role (a viewer stays a viewer)', () => {
  const n1 = new Handoffs(nodeToken, 'n1');
  const n2 = new Handoffs(nodeToken, 'n2');
  const t = n1.mint(creds.watcher!, creds.watcher!.tokenSha256, 'n2', now);
  const r = n2.redeem(t, now + 1_000, lookup(creds));
  assert.ok(r.ok);
  assert.equal(r.value.user, 'watcher');
  assert.equal(r.value.role, 'viewer');
  assert.equal(codeOf(n2.redeem(t, now + 2_000, lookup(creds))), 'HANDOFF_USED', 'replayed on the same node');
  assert.ok(!t.includes(creds.watcher!.tokenSha256), 'the credential hash itself is not in the hand-off');
});

test('a hand-off is refused when altered, for another node, of another cluster, expired, or too far ahead', () => {
  const n1 = new Handoffs(nodeToken, 'n1');
  const n2 = new Handoffs(nodeToken, 'n2');
  const t = n1.mint(creds.ops!, creds.ops!.tokenSha256, 'n2', now);
  const [payload, mac] = t.split('.') as [string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  const forged = `${Buffer.from(JSON.stringify({ ...claims, role: 'admin' })).toString('base64url')}.${mac}`;
  assert.equal(codeOf(n2.redeem(forged, now, lookup(creds))), 'HANDOFF_INVALID', 'a role raised in the payload breaks the MAC');
  assert.equal(codeOf(n2.redeem(`${payload}.${mac.slice(0, -2)}AA`, now, lookup(creds))), 'HANDOFF_INVALID', 'an altered MAC');
  assert.equal(codeOf(n2.redeem(payload, now, lookup(creds))), 'HANDOFF_INVALID', 'no MAC');
  assert.equal(codeOf(n2.redeem('x'.repeat(5_000), now, lookup(creds))), 'HANDOFF_INVALID', 'too long');
  assert.equal(codeOf(new Handoffs(nodeToken, 'n3').redeem(t, now, lookup(creds))), 'HANDOFF_INVALID', 'for n2, not n3');
  assert.equal(codeOf(new Handoffs('another-cluster-token', 'n2').redeem(t, now, lookup(creds))), 'HANDOFF_INVALID', 'another cluster');
  assert.equal(codeOf(n2.redeem(t, now + handoffTtlMs, lookup(creds))), 'HANDOFF_EXPIRED');
  assert.equal(codeOf(n2.redeem(t, now - handoffTtlMs, lookup(creds))), 'HANDOFF_INVALID', 'expires further ahead than a sane clock makes it');
  assert.equal(codeOf(n2.redeem(t, now + handoffTtlMs - 1, lookup(creds))), 'ok', 'refusals used nothing up: the real one still works');
});

test('a hand-off is refused once its credential is revoked, replaced, or its role changed', () => {
  const n1 = new Handoffs(nodeToken, 'n1');
  const n2 = new Handoffs(nodeToken, 'n2');
  const mint = () => n1.mint(creds.ops!, creds.ops!.tokenSha256, 'n2', now);
  assert.equal(codeOf(n2.redeem(mint(), now, lookup({ watcher: creds.watcher! }))), 'HANDOFF_CREDENTIAL_CHANGED', 'revoked');
  assert.equal(codeOf(n2.redeem(mint(), now, lookup({ ops: { ...creds.ops!, tokenSha256: 'c'.repeat(64) } }))), 'HANDOFF_CREDENTIAL_CHANGED', 'a new token');
  assert.equal(codeOf(n2.redeem(mint(), now, lookup({ ops: { ...creds.ops!, role: 'admin' } }))), 'HANDOFF_CREDENTIAL_CHANGED', 'another role');
  assert.equal(codeOf(n2.redeem(mint(), now, lookup(creds))), 'ok');
});

test('one user redeeming hand-offs by the hundred fills only their own share: another user\'s hand-off still opens a session', () => {
  const n1 = new Handoffs(nodeToken, 'n1');
  const n2 = new Handoffs(nodeToken, 'n2');
  let refused = '';
  for (let i = 0; i < 10_001 && refused === ''; i++) {
    const c = codeOf(n2.redeem(n1.mint(creds.watcher!, creds.watcher!.tokenSha256, 'n2', now), now, lookup(creds)));
    if (c !== 'ok') refused = c;
  }
  assert.equal(refused, 'NODE_BUSY', 'a flood of one user is refused');
  assert.equal(codeOf(n2.redeem(n1.mint(creds.ops!, creds.ops!.tokenSha256, 'n2', now), now, lookup(creds))), 'ok', 'another user is not refused for it');
});
