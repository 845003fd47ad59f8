// The resource host contract (test/host-contract.ts) on the real host: monitor/client.ts, the
// monitor child process and real processes. The simulator's twin meets the same contract in
// test/sim.test.ts. Every process started here is killed by the clause's cleanup.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { commonPropDefaults } from '../src/core/types.js';
import { MonitorClient } from '../src/monitor/client.js';
import { runHostContract } from './host-contract.js';

const fixture = fileURLToPath(new URL('../../test/fixtures/monitor-resource.mjs', import.meta.url));

/** Gone, or a zombie nobody reaps: either way it runs no more. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

runHostContract('real host', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'clusterd-host-contract-'));
  const client = new MonitorClient();
  // A long self-fence deadline: the watchdog is not under test here, and the clauses ping nobody.
  await client.start({ selfFenceMs: 600_000, node: 'n1', dataDir: dir });
  const pids = new Set<number>();
  return {
    host: client,
    spec: (name, exitAfterMs) => ({
      name, group: 'g1', type: 'process', node: 'n1', epoch: 1, props: { ...commonPropDefaults },
      priv: { command: process.execPath, args: [fixture, ...(exitAfterMs === undefined ? [] : ['--exit-after', String(exitAfterMs)])] },
    }),
    alive: (pid) => { pids.add(pid); return alive(pid); },
    crashMonitor: () => { if (client.pid !== undefined) process.kill(client.pid, 'SIGKILL'); },
    until: async (cond, maxMs) => {
      const end = Date.now() + maxMs;
      while (!cond()) {
        if (Date.now() >= end) return false;
        await sleep(20);
      }
      return true;
    },
    cleanup: async () => {
      await client.shutdown();
      for (const pid of pids) if (alive(pid)) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
