// The save-time agent check between nodes (node/agent-check.ts): the coordinator asks each other
// possible owner of an ocf or lsb resource to check it against the agents installed there, at
// most agentChecksInFlightMax resources per request.
//   POST /v1/internal/agent-check  body { cluster, resources: [{ name, group, type, props, priv }] }
//     -> { node, checks: { RESOURCE: { problem?: { code, message, hint? }, monitorIntervalMs? } } }
// Only nodes may call it (routeRoles 'node': the node token, with mutual TLS when TLS is on); it
// is never forwarded, and it takes no place among the node's writes (admission.ts): the write it
// serves was admitted where it entered.

import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { agentCheckedTypes, agentProblemCodes } from '../core/agent-check.js';
import { clusterError, fail, ok, type Result } from '../core/errors.js';
import type { CommonProps, PrivProps } from '../core/types.js';
import { agentChecksInFlightMax, type AgentCheckPeer, type AgentCheckReply, type AgentCheckRequest } from '../node/agent-check.js';
import type { NodeFacade } from '../node/snapshot.js';
import { forwardAnswerBytesMax, parse, sendError } from './http.js';
import type { NodeAuth } from './identity.js';

export const agentCheckPath = '/v1/internal/agent-check';

const privValue = z.union([z.string(), z.number(), z.boolean(), z.array(z.string()), z.record(z.string(), z.string())]);
export const agentCheckBody = z.object({
  cluster: z.string(),
  resources: z.array(z.object({
    name: z.string().min(1), group: z.string(), type: z.enum(agentCheckedTypes),
    props: z.record(z.string(), z.union([z.number(), z.string()])), priv: z.record(z.string(), privValue),
  }).strict()).max(agentChecksInFlightMax),
}).strict();

const replyBody = z.object({
  node: z.string(),
  checks: z.record(z.string(), z.object({
    problem: z.object({ code: z.enum(agentProblemCodes), message: z.string(), hint: z.string().optional() }).optional(),
    monitorIntervalMs: z.number().optional(),
  })),
});

export function agentCheckRoutes(app: FastifyInstance, node: NodeFacade): void {
  app.post(agentCheckPath, async (req, reply) => {
    const b = parse(agentCheckBody, req.body);
    if (!b.ok) return sendError(reply, b.error);
    const request: AgentCheckRequest = {
      cluster: b.value.cluster,
      resources: b.value.resources.map((r) => ({ ...r, props: r.props as unknown as CommonProps, priv: r.priv as PrivProps })),
    };
    return node.agentsHere.check(request);
  });
}

/** The coordinator's side: asks the node at `apiUrl` as a node (its token, and its certificate with TLS). */
export function agentCheckPeer(auth: NodeAuth): AgentCheckPeer {
  return async (apiUrl, request, timeoutMs): Promise<Result<AgentCheckReply>> => {
    let res: Response;
    try {
      res = await auth.fetch(new URL(agentCheckPath, apiUrl), {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${auth.nodeToken}` },
        body: JSON.stringify(request), signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code;
      return fail(clusterError('ENDPOINT_UNREACHABLE', `${apiUrl} did not answer (${(e as Error).name === 'TimeoutError' ? `no answer in ${timeoutMs} ms` : cause ?? (e as Error).message})`));
    }
    const text = await res.text().catch(() => '');
    if (text.length > forwardAnswerBytesMax) return fail(clusterError('ENDPOINT_UNREACHABLE', `${apiUrl} answered more than ${forwardAnswerBytesMax} bytes`));
    let body: unknown;
    try { body = JSON.parse(text); } catch { return fail(clusterError('ENDPOINT_UNREACHABLE', `${apiUrl} answered HTTP ${res.status} without JSON`)); }
    if (res.status !== 200) {
      const e = (body as { error?: { code?: string; message?: string } }).error;
      return fail(clusterError('ENDPOINT_UNREACHABLE', `${apiUrl} answered HTTP ${res.status}${e ? ` ${e.code}: ${e.message}` : ''}`));
    }
    const parsed = replyBody.safeParse(body);
    if (!parsed.success) return fail(clusterError('ENDPOINT_UNREACHABLE', `${apiUrl} answered an agent check this node does not read`));
    return ok(parsed.data as AgentCheckReply);
  };
}
