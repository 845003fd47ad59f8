// Backup routes. A backup runs on the node that owns its group: a freeze is forwarded
// there (as writes are forwarded to the coordinator); the id names the node (`8 hex@node`), so a
// thaw or a status from any node goes to the node that holds it. Lists answer from the nodes'
// reports; a backup whose node is gone shows as failed (its monitor thaws on the way out and at
// its next start); one no report holds any more is rebuilt from the event log.
//
//   GET  /v1/backups                       -> { backups: BackupView[] } newest first
//   GET  /v1/backups/:id                   -> BackupView
//   POST /v1/backups   body { target, timeoutMs?, wait? } -> BackupView (200 Frozen, 202 still Freezing);
//        refusals and failures: { error, backup? } with BACKUP_* codes
//   POST /v1/backups/:id/thaw              -> BackupView (200 thawed, 202 still thawing); a backup
//        that failed (BACKUP_FREEZE_TIMEOUT, BACKUP_FAILED...) answers { error, backup }

import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Gauge } from 'prom-client';
import { z } from 'zod';
import { freezeLimitMsDefault, freezeLimitMsMax, freezeLimitMsMin, type BackupView } from '../core/backup.js';
import { ClusterError, clusterError, httpStatusOf, type ClusterErrorData } from '../core/errors.js';
import type { ClusterEvent } from '../store/types.js';
import type { StatusSnapshot } from './types.js';
import { backupNodeOf } from '../node/backups.js';
import type { NodeFacade } from '../node/snapshot.js';
import { forward, forwardedHeader, parse, sendError } from './http.js';

/** A freeze or thaw answers within this (under the 10 s forwarding bound); the CLI polls the rest. */
const answerWaitMs = 3_000;
/** Events read to rebuild a backup no report holds any more (the store keeps the newest 10,000). */
const eventsScanMax = 10_000;

export const freezeBody = z.object({
  target: z.string().min(1),
  timeoutMs: z.number().int().min(freezeLimitMsMin).max(freezeLimitMsMax).optional(),
  /** false: answer at once (202, Freezing) instead of waiting for every writer to be frozen. */
  wait: z.boolean().optional(),
}).strict();

const holding = (v: BackupView): boolean => v.state === 'Freezing' || v.state === 'Frozen';

export function backupRoutes(app: FastifyInstance, node: NodeFacade): void {
  app.get('/v1/backups', async () => ({ backups: allBackups(node) }));
  app.get('/v1/backups/:id', async (req, reply) => {
    const id = (req.params as { id: string }).id;
    const holder = backupNodeOf(id);
    if (holder === node.name) return node.backups.view(id) ?? (await fromEvents(node, id)) ?? notFound(node, id, reply);
    const url = liveUrl(node, holder);
    if (url !== null && !req.headers[forwardedHeader]) return forward(url, req, reply).then(() => reply);
    return allBackups(node).find((b) => b.id === id) ?? (await fromEvents(node, id)) ?? notFound(node, id, reply);
  });

  app.post('/v1/backups', async (req, reply) => {
    const b = parse(freezeBody, req.body);
    if (!b.ok) return sendError(reply, b.error);
    const { target } = b.value;
    const { config } = node.snapshot();
    const group = config.groups[target] ? target : config.resources[target]?.group;
    if (group === undefined) return sendError(reply, clusterError('GROUP_NOT_FOUND', `no group or resource '${target}'`, 'cluster group and cluster res list them'));
    const owner = node.snapshot().ownership[group]?.node ?? null;
    if (owner !== node.name && !req.headers[forwardedHeader]) {
      const url = liveUrl(node, owner);
      if (url === null) {
        return answerError(reply, clusterError('BACKUP_NOT_READY', owner === null ? `group '${group}' does not run on any node` : `group '${group}' runs on ${owner}, which cannot be reached from ${node.name}`,
          `bring it online first (cluster group "${group}" /online), or retry in a moment`).toJSON());
      }
      await forward(url, req, reply);
      return reply;
    }
    const r = node.backups.freeze(target, b.value.timeoutMs ?? freezeLimitMsDefault);
    if (r.error) return answerError(reply, r.error);
    const v = await node.backups.until(r.view!.id, (x) => x.state !== 'Freezing', b.value.wait === false ? 0 : answerWaitMs);
    return answer(reply, v ?? r.view!);
  });

  app.post('/v1/backups/:id/thaw', async (req, reply) => {
    const id = (req.params as { id: string }).id;
    const holder = backupNodeOf(id);
    if (holder !== node.name && !req.headers[forwardedHeader]) {
      const url = liveUrl(node, holder);
      if (url !== null) {
        await forward(url, req, reply);
        return reply;
      }
      const known = allBackups(node).find((x) => x.id === id) ?? (await fromEvents(node, id));
      if (!known) return notFound(node, id, reply);
      return answerError(reply, known.error ?? lostError(known), known);
    }
    const r = node.backups.thaw(id);
    if (r.error) return answerError(reply, r.error, r.view);
    const v = await node.backups.until(id, (x) => x.endedAfterMs !== null, answerWaitMs);
    return answer(reply, v ?? r.view!);
  });
}

/** `cluster status` warns about every group whose writers are frozen now (display only: the time is this node's wall clock). */
export function withBackupWarnings(node: NodeFacade, s: StatusSnapshot): StatusSnapshot {
  const held = allBackups(node).filter((b) => holding(b) && !b.lost);
  const strays = node.backups.strayWarnings();
  if (held.length === 0 && strays.length === 0) return s;
  const now = node.snapshot().wallMs;
  const lines = held.map((b) => `group ${b.group} is ${b.state === 'Frozen' ? 'frozen' : 'being frozen'} for backup ${b.id} on ${b.node} ` +
    `(${Math.max(0, Math.round((now - b.startedWallMs) / 1000))} s of its ${Math.round(b.limitMs / 1000)} s limit): cluster backup thaw ${b.id}`);
  return { ...s, warnings: [...s.warnings, ...lines, ...strays] };
}

/** Prometheus: 1 per backup that holds the freeze of a group, as this node sees the cluster. */
export function backupGauge(node: NodeFacade, g: Gauge<string>): void {
  for (const b of allBackups(node)) if (holding(b) && !b.lost) g.set({ group: b.group, node: b.node, backup: b.id }, 1);
}

function answer(reply: FastifyReply, v: BackupView): unknown {
  if (v.state === 'Failed' && v.error) return answerError(reply, v.error, v);
  return reply.code(v.state === 'Freezing' || v.state === 'Thawing' ? 202 : 200).send(v);
}

function answerError(reply: FastifyReply, e: ClusterErrorData, v?: BackupView): unknown {
  const err = new ClusterError(e);
  return reply.code(httpStatusOf(err.code)).send(v ? { error: err.toJSON(), backup: v } : { error: err.toJSON() });
}

function notFound(node: NodeFacade, id: string, reply: FastifyReply): unknown {
  const holder = backupNodeOf(id);
  const why = holder === null ? 'backup ids look like 3f9a1c2e@n1' : holder === node.name ? `${node.name} holds no such backup (it keeps the newest finished ones; a restart forgets them)` : `no node reports it`;
  return sendError(reply, clusterError('BACKUP_NOT_FOUND', `no backup '${id}': ${why}`, 'cluster backup status lists the backups; cluster log shows BACKUP_* events'));
}

/** The API URL of `name` if it is Up with a current report; null otherwise. */
function liveUrl(node: NodeFacade, name: string | null): string | null {
  if (name === null || name === node.name) return null;
  const snap = node.snapshot();
  const state = snap.nodes[name]?.state;
  if (state === undefined || state === 'Down') return null;
  return snap.reports[name]?.apiUrl ?? null;
}

function lostError(v: BackupView): ClusterErrorData {
  return clusterError('BACKUP_FAILED', `backup ${v.id} of group '${v.group}' was lost with node ${v.node}: ${v.lost ?? 'the node is gone'}`,
    `freeze again once the group runs: cluster backup freeze "${v.target}"`).toJSON();
}

/**
 * Every backup the cluster reports, newest first: this node's own (freshest), then the current
 * reports of the others, then the last reports of nodes that are gone, whose backups that held
 * their freeze show as Failed (lost).
 */
export function allBackups(node: NodeFacade): BackupView[] {
  const out = new Map<string, BackupView>();
  for (const v of node.backups.list()) out.set(v.id, v);
  const snap = node.snapshot();
  const current = snap.reports;
  const views = snap.nodes;
  for (const [name, r] of Object.entries(current)) {
    if (name === node.name || views[name]?.state === 'Down') continue;
    for (const v of r.backups ?? []) if (!out.has(v.id)) out.set(v.id, v);
  }
  for (const r of Object.values(snap.allReports)) {
    if (r.node === node.name) continue;
    for (const v of r.backups ?? []) {
      if (out.has(v.id)) continue;
      out.set(v.id, v.endedAfterMs !== null ? v : asLost(v, `node ${v.node} was lost (${views[v.node]?.state ?? 'gone'}, or restarted) while the backup was under way; its resource monitor thaws frozen writers when clusterd dies, and again when it starts`));
    }
  }
  return [...out.values()].sort((a, b) => b.startedWallMs - a.startedWallMs);
}

function asLost(v: BackupView, why: string): BackupView {
  const lost: BackupView = { ...v, state: 'Failed', lost: why };
  lost.error = v.error ?? lostError(lost);
  return lost;
}

/** A backup no report holds any more (its node restarted): what the event log says of it. */
async function fromEvents(node: NodeFacade, id: string): Promise<BackupView | undefined> {
  const mine = (await node.readEvents(0, eventsScanMax)).filter((e) => e.data?.backup === id);
  return mine.length === 0 ? undefined : viewFromEvents(id, mine);
}

export function viewFromEvents(id: string, events: ClusterEvent[]): BackupView {
  const first = events[0]!;
  const last = events[events.length - 1]!;
  const group = String(first.data?.group ?? '?');
  const ended = events.find((e) => e.event === 'BACKUP_THAWED');
  const failed = events.find((e) => e.event === 'BACKUP_FREEZE_TIMEOUT' || e.event === 'BACKUP_FAILED' || e.event === 'BACKUP_THAW_FAILED');
  const v: BackupView = {
    id, group, target: String(first.data?.target ?? group), node: first.node, epoch: 0, state: 'Failed', limitMs: Number(first.data?.limitMs ?? 0), startedWallMs: first.wallMs,
    frozenAfterMs: null, thawAskedAfterMs: null, failedAfterMs: failed ? failed.wallMs - first.wallMs : null, endedAfterMs: ended ? ended.wallMs - first.wallMs : null,
    writers: [],
  };
  if (ended && ended.data?.outcome === 'Thawed') { v.state = 'Thawed'; return v; }
  if (failed) {
    v.error = clusterError(failed.event as 'BACKUP_FAILED', failed.message).toJSON();
    return v;
  }
  v.lost = `only the event log knows this backup (last event ${last.event}): node ${first.node} no longer holds it (restarted); its resource monitor thawed what was frozen`;
  v.error = lostError(v);
  return v;
}
