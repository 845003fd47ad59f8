// The resource monitor's agents, one per resource type. Apart from agent.ts (the contract the
// agents implement) so that the agents and the registry that lists them do not import each other.

import type { ResourceType } from '../core/types.js';
import type { AgentEvents, AgentRegistry, ResourceAgent } from './agent.js';
import { DiskAgent } from './disk-agent.js';
import { IpAgent } from './ip-agent.js';
import { LsbAgent } from './lsb-agent.js';
import { OcfAgent } from './ocf-agent.js';
import { ProcessAgent } from './process-agent.js';

export function createAgentRegistry(events: AgentEvents): AgentRegistry {
  const agents: Partial<Record<ResourceType, ResourceAgent>> = {
    process: new ProcessAgent(events),
    disk: new DiskAgent(events),
    ip: new IpAgent(events),
    ocf: new OcfAgent(events),
    lsb: new LsbAgent(events),
  };
  const hooks: (() => void)[] = [];
  return {
    beforeKillAll(hook) {
      hooks.push(hook);
    },
    get(type) {
      const agent = agents[type];
      if (agent === undefined) throw new Error(`resource type '${type}' is not supported yet`);
      return agent;
    },
    killAll() {
      for (const hook of hooks) {
        try {
          hook();
        } catch {
          // Killing comes first: a failing hook must not keep resources running.
        }
      }
      return Object.values(agents).flatMap((agent) => agent.killAll());
    },
    async releaseAll(maxMs) {
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((resolve) => { timer = setTimeout(resolve, maxMs); });
      const all = Promise.all(Object.values(agents).map((agent) => agent.releaseAll?.().catch(() => undefined)));
      await Promise.race([all, bound]);
      clearTimeout(timer);
    },
  };
}
