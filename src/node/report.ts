// This node's report in the quorum store: what it runs (each group's epoch, its resources'
// runtime, released, failover requested, fenced), its API address, how far it applied the log,
// its backups. Written only when it changed; not even built when what it is built from is that of
// the last report written (node/quiet.ts).

import { invariant } from '../core/invariant.js';
import { runtimeOf } from '../core/local.js';
import type { NodeReport } from '../store/types.js';
import type { BackupManager } from './backups.js';
import type { ConfigLog } from './config-log.js';
import { sameFacts } from './quiet.js';
import type { Shell } from './shell.js';

export interface ReporterDeps {
  s: Shell;
  log: ConfigLog;
  backups: BackupManager;
  /** Read when needed: a subclass (the simulator) sets its own after construction. */
  incarnation: () => string;
  apiUrl: () => string;
  /** The report is written: this node's own views show it now, not after the next read. */
  published: (r: NodeReport) => void;
}

/** What a report is built from: when it is that of the last report written, the report is too (node/quiet.ts). */
interface ReportFacts {
  local: number;
  incarnation: string;
  apiUrl: string;
  appliedSeq: number;
  logDamagedAt: number | undefined;
  backups: string;
}

export class Reporter {
  private version = 0;
  private lastJson = '';
  private lastFacts: ReportFacts | null = null;

  constructor(private readonly d: ReporterDeps) {}

  async publish(): Promise<void> {
    const { s, log } = this.d;
    const backups = this.d.backups.list();
    const facts: ReportFacts = {
      local: s.localVersion(), incarnation: this.d.incarnation(), apiUrl: this.d.apiUrl(), appliedSeq: log.appliedSeq, logDamagedAt: log.logDamagedAt,
      backups: backups.length > 0 ? JSON.stringify(backups) : '',
    };
    const same = sameFacts(this.lastFacts, facts);
    if (same && !s.o.checkQuietCycles) return;
    const groups: NodeReport['groups'] = {};
    for (const [g, lg] of Object.entries(s.local().groups)) {
      const resources: NodeReport['groups'][string]['resources'] = {};
      for (const [n, lr] of Object.entries(lg.resources)) resources[n] = runtimeOf(lr);
      groups[g] = { epoch: lg.epoch, resources, released: lg.released };
      if (lg.failoverRequested) groups[g]!.failoverRequested = true;
      if (lg.fenced) groups[g]!.fenced = true;
    }
    const body: Omit<NodeReport, 'node' | 'incarnation' | 'version'> = { apiUrl: this.d.apiUrl(), appliedSeq: log.appliedSeq, groups };
    if (log.logDamagedAt !== undefined) body.logDamagedAt = log.logDamagedAt;
    if (backups.length > 0) body.backups = backups; // cluster backup status from any node
    const json = JSON.stringify(body);
    invariant(!same || json === this.lastJson, 'quiet-report', () => `the report changed with the facts of the last one written: ${json.slice(0, 500)}`);
    if (json === this.lastJson) {
      this.lastFacts = facts;
      return;
    }
    const report: NodeReport = { node: s.name, incarnation: this.d.incarnation(), version: ++this.version, ...body };
    const res = s.problems.wrote(await s.o.store.writeReport(report));
    if (!res.ok) return;
    this.lastJson = json;
    this.lastFacts = facts;
    this.d.published(report);
  }
}
