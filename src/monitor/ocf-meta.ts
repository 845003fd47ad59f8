// OCF resource agents on this node: where they are, which are installed, and what their
// meta-data says (parameters, action timeouts, monitor interval). Parsed with fast-xml-parser.

import { constants } from 'node:fs';
import { access, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { createRequire } from 'node:module';
import { ocfDurationMs } from '../core/agent-codes.js';
import type { AgentInfo, AgentParam } from './protocol.js';
import { actionReason, runAction } from './script-runner.js';

/** The OCF root (resource-agents installs under /usr/lib/ocf); clusterd's --ocf-root sets it for the monitor. */
export function ocfRoot(): string {
  return process.env.CLUSTERD_OCF_ROOT ?? '/usr/lib/ocf';
}

export function agentPath(root: string, provider: string, agent: string): string {
  return path.join(root, 'resource.d', provider, agent);
}

/** Bound on one meta-data run: it prints a fixed document. */
export const metaDataTimeoutMs = 20_000;

/** PROVIDER:AGENT of every executable agent under root/resource.d, sorted. */
export async function listAgents(root: string): Promise<string[]> {
  const base = path.join(root, 'resource.d');
  const providers = await readdir(base).catch(() => [] as string[]);
  const out: string[] = [];
  for (const provider of providers.sort()) {
    if (provider.startsWith('.')) continue;
    const files = await readdir(path.join(base, provider)).catch(() => [] as string[]);
    for (const agent of files.sort()) {
      if (agent.startsWith('.')) continue;
      if (await isExecutableFile(path.join(base, provider, agent))) out.push(`${provider}:${agent}`);
    }
  }
  return out;
}

export async function isExecutableFile(file: string): Promise<boolean> {
  try {
    if (!(await stat(file)).isFile()) return false;
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The XML parser, loaded at the first meta-data read: a monitor without OCF resources never loads it (about 5 MiB). */
let parser: import('fast-xml-parser').XMLParser | null = null;
function xmlParser(): import('fast-xml-parser').XMLParser {
  if (parser === null) {
    const { XMLParser } = createRequire(import.meta.url)('fast-xml-parser') as typeof import('fast-xml-parser');
    parser = new XMLParser({
      ignoreAttributes: false,
      attributeNamePrefix: '@_',
      isArray: (name) => ['parameter', 'action', 'shortdesc', 'longdesc'].includes(name),
      processEntities: true,
    });
  }
  return parser;
}

type Node = Record<string, unknown>;
const asNode = (v: unknown): Node | undefined => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Node) : undefined);
const own = (n: Node | undefined, key: string): unknown => (n !== undefined && Object.hasOwn(n, key) ? n[key] : undefined);
const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined);

/** The English (or first) shortdesc of a node, one line. */
function shortdesc(n: Node | undefined): string | undefined {
  const list = own(n, 'shortdesc');
  if (!Array.isArray(list) || list.length === 0) return undefined;
  const pick = list.find((d) => text(own(asNode(d), '@_lang')) === 'en') ?? list[0];
  const t = text(pick) ?? text(own(asNode(pick), '#text'));
  return t?.replace(/\s+/g, ' ').trim() || undefined;
}

/** Parses an agent's meta-data; throws with a message when it is not an OCF resource-agent document. */
export function parseMetaData(name: string, xml: string): AgentInfo {
  const doc = asNode(xmlParser().parse(xml));
  const ra = asNode(own(doc, 'resource-agent'));
  if (ra === undefined) throw new Error(`the meta-data of ${name} is not an OCF <resource-agent> document`);
  const params: AgentParam[] = [];
  const list = own(asNode(own(ra, 'parameters')), 'parameter');
  for (const p of Array.isArray(list) ? list : []) {
    const pn = asNode(p);
    const pname = text(own(pn, '@_name'));
    if (pname === undefined) continue;
    const required = ['1', 'true', 'yes'].includes((text(own(pn, '@_required')) ?? '0').toLowerCase());
    const dflt = text(own(asNode(own(pn, 'content')), '@_default'));
    const desc = shortdesc(pn);
    params.push({ name: pname, required, ...(dflt !== undefined ? { default: dflt } : {}), ...(desc !== undefined ? { shortdesc: desc } : {}) });
  }
  const timeoutsMs: AgentInfo['timeoutsMs'] = {};
  let monitorIntervalMs: number | undefined;
  const actions = own(asNode(own(ra, 'actions')), 'action');
  for (const a of Array.isArray(actions) ? actions : []) {
    const an = asNode(a);
    const action = text(own(an, '@_name'));
    // A promotable agent lists a monitor per role: the plain one (no role) is what clusterd runs.
    if (text(own(an, '@_role')) !== undefined) continue;
    const timeout = ocfDurationMs(text(own(an, '@_timeout')));
    if ((action === 'start' || action === 'stop' || action === 'monitor') && timeout !== null && timeout > 0) timeoutsMs[action] ??= timeout;
    if (action === 'monitor') {
      const interval = ocfDurationMs(text(own(an, '@_interval')));
      if (interval !== null && interval > 0) monitorIntervalMs ??= interval;
    }
  }
  const desc = shortdesc(ra);
  return { name, ...(desc !== undefined ? { shortdesc: desc } : {}), params, timeoutsMs, ...(monitorIntervalMs !== undefined ? { monitorIntervalMs } : {}) };
}

/** Meta-data per agent file, kept while the file's modification time and size stay the same. */
const cache = new Map<string, { mtimeMs: number; size: number; info: AgentInfo }>();

/**
 * The agent's meta-data (cached per file version). Throws with a message an operator can act on
 * when the agent is missing or its meta-data fails.
 */
export async function agentMetaData(root: string, provider: string, agent: string, env: NodeJS.ProcessEnv, signal: AbortSignal): Promise<AgentInfo> {
  const file = agentPath(root, provider, agent);
  const st = await stat(file).catch(() => undefined);
  const hit = cache.get(file);
  if (st !== undefined && hit !== undefined && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit.info;
  const run = await runAction({ argv: [file, 'meta-data'], env: { ...env, OCF_ROOT: root, OCF_RESKEY_CRM_meta_timeout: String(metaDataTimeoutMs) }, timeoutMs: metaDataTimeoutMs, signal, label: 'meta-data' });
  const name = `${provider}:${agent}`;
  if (run.code !== 0) throw new Error(`meta-data of OCF agent ${name} failed (${run.timedOut ? 'timed out' : run.signal ?? `exit code ${run.code}`}): ${actionReason(run)}`);
  const info = parseMetaData(name, run.stdout);
  if (st !== undefined) cache.set(file, { mtimeMs: st.mtimeMs, size: st.size, info });
  return info;
}
