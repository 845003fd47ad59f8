// Carries out the local resource manager's actions (core/local.ts) on the resource monitor, and
// feeds what the monitor reports back to it as facts.

import { isEventName } from '../core/events.js';
import { agentResult, monitorLost, resourceExited, resourceLost, type LocalAction } from '../core/local.js';
import type { EventLevel } from '../store/types.js';
import type { ResourceSpec } from '../monitor/protocol.js';
import type { ConfigLog } from './config-log.js';
import { diskSectorsOf } from './resource-spec.js';
import type { Shell } from './shell.js';

export class LocalExec {
  constructor(private readonly s: Shell, private readonly log: ConfigLog) {}

  /** Carry out the actions of a change of the local state made outside a reconcile (a fact, an operator's request): the change is counted (node/quiet.ts). */
  apply(actions: LocalAction[]): void {
    this.s.localChanged();
    this.send(actions);
  }

  /** Carry out the local manager's actions; results come back as facts. */
  send(actions: LocalAction[]): void {
    const { s } = this;
    for (const a of actions) {
      if (a.kind === 'event') { s.emitEvent(a.event, a.level, a.message, a.data); continue; }
      if (a.kind === 'recycle-monitor') { s.o.host.recycle(a.reason); continue; }
      const config = this.log.config;
      const spec: ResourceSpec = { ...a.spec, node: s.name, ...(s.o.address !== undefined ? { nodeAddress: s.o.address } : {}), cluster: config.name, epoch: a.epoch, ...diskSectorsOf(config, a.spec.name) };
      void s.o.host.call(a.op, spec, a.timeoutMs).then((r) => {
        const nowMs = s.o.clock.nowMs();
        this.apply(agentResult(s.local(), s.name, a.id, r.ok, r.ok ? undefined : r.error, r.ok ? r.data : undefined, nowMs, { group: a.group, resource: a.spec.name }, r.ok ? undefined : r.failure));
        s.kick();
      });
    }
    if (actions.length > 0) s.kick();
  }

  /** What the monitor reports on its own: exits, its own loss, agent log lines, a disk lost to a newer epoch. */
  listen(): void {
    const { s } = this;
    const { host, clock } = s.o;
    host.on('exited', (resource: string, code: number | null, signal: string | null) =>
      this.apply(resourceExited(s.local(), s.name, resource, signal ? `signal ${signal}` : `exit code ${code}`, clock.nowMs())));
    host.on('crashed', (info: { reason: string }) => {
      s.emitEvent('MONITOR_RESTARTED', 'error', `resource monitor on ${s.name} was lost and restarted: ${info.reason}`);
      this.apply(monitorLost(s.local(), s.name, `resource monitor lost: ${info.reason}`, clock.nowMs()));
    });
    // What agents report on their own (RESOURCE_KILLED, DISK_SECTOR_CLAIMED...) goes to the event
    // log; the BACKUP_ ones are node/backups.ts's; a line without an event id goes to the node's log.
    host.on('log', (level: EventLevel, message: string, event?: string, data?: Record<string, unknown>) => {
      // A name the registry (core/events.ts) does not know is a bug in an agent: its line goes to the node's log, named.
      if (event === undefined) s.o.log(level, 'MONITOR_LOG', message);
      else if (!isEventName(event)) s.o.log(level, 'MONITOR_LOG', `unregistered event ${event}: ${message}`);
      else if (!event.startsWith('BACKUP_')) s.emitEvent(event, level, message, data);
    });
    // A disk's private sector shows a newer epoch: stop its dependents at once.
    host.on('lost', (resource: string, reason: string) => this.apply(resourceLost(s.local(), s.name, this.log.config, resource, reason)));
  }
}
