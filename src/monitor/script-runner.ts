// Runs one action of an external agent (an OCF resource agent, an LSB init script): its own
// process group (never through a shell), a deadline after which the whole group is killed, and
// its output kept (the tail, for error messages: OCF agents say why on stderr with
// `ocf-exit-reason:`) and appended to the resource's log.

import { spawn, type ChildProcess } from 'node:child_process';
import { appendFile } from 'node:fs/promises';

/** Output kept per action for messages and meta-data (meta-data of the largest resource-agents is ~20 KB). */
const outputMaxChars = 256 * 1024;
/** After the action's exit, how long its output pipes may stay open: a daemon it started may hold them for ever. */
const pipeDrainMs = 200;

export interface ActionRun {
  code: number | null;
  signal: string | null;
  /** stdout, then stderr. */
  stdout: string;
  stderr: string;
  /** The deadline passed (or the call was aborted) and the action's group was killed. */
  timedOut: boolean;
}

export interface ActionOptions {
  argv: [string, ...string[]];
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  signal: AbortSignal;
  /** Called synchronously with the action's process group id once it runs (before any other turn of the loop). */
  onGroup?: (pgid: number) => void;
  /** Appended to, with a header line, once the action ends (the resource's log). */
  logFile?: string;
  /** For the header line: `start`, `monitor`... */
  label: string;
}

/** Runs the action; never rejects (a failed spawn is exit code 5, "not installed", with the reason on stderr). */
export function runAction(o: ActionOptions): Promise<ActionRun> {
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = spawn(o.argv[0], o.argv.slice(1), { env: o.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      resolve({ code: 5, signal: null, stdout: '', stderr: `cannot run ${o.argv[0]}: ${(err as Error).message}`, timedOut: false });
      return;
    }
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => { if (stdout.length < outputMaxChars) stdout += d; });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => { if (stderr.length < outputMaxChars) stderr += d; });
    const pgid = child.pid;
    if (pgid !== undefined) o.onGroup?.(pgid);
    let timedOut = false;
    const kill = (): void => {
      timedOut = true;
      if (pgid !== undefined) killGroup(pgid);
    };
    const timer = setTimeout(kill, o.timeoutMs);
    o.signal.addEventListener('abort', kill, { once: true });
    let settled = false;
    const finish = (code: number | null, signal: string | null, spawnError?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal.removeEventListener('abort', kill);
      const done = (): void => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        const run: ActionRun = spawnError === undefined ? { code, signal, stdout, stderr, timedOut }
          : { code: 5, signal: null, stdout, stderr: `${stderr}cannot run ${o.argv[0]}: ${spawnError.message}`, timedOut };
        if (o.logFile === undefined) { resolve(run); return; }
        const head = `--- ${new Date().toISOString()} ${o.label}: ${run.signal !== null ? `killed by ${run.signal}` : `exit ${run.code}`}${run.timedOut ? ' (timed out)' : ''}\n`;
        appendFile(o.logFile, head + run.stdout + run.stderr).catch(() => undefined).finally(() => resolve(run));
      };
      if (spawnError !== undefined || (child.stdout?.readableEnded !== false && child.stderr?.readableEnded !== false)) { done(); return; }
      // Let what the action wrote arrive; a daemon it left running may hold the pipes: not waited for.
      const drain = setTimeout(done, pipeDrainMs);
      child.once('close', () => { clearTimeout(drain); done(); });
    };
    child.once('error', (err) => finish(null, null, err));
    child.once('exit', (code, signal) => finish(code, signal));
  });
}

/** The reason an OCF agent gave (`ocf-exit-reason:TEXT` on stderr), else the last lines of its output. */
export function actionReason(run: ActionRun): string {
  const reasons = run.stderr.split('\n').filter((l) => l.startsWith('ocf-exit-reason:')).map((l) => l.slice('ocf-exit-reason:'.length).trim());
  if (reasons.length > 0) return reasons[reasons.length - 1]!;
  const lines = `${run.stdout}\n${run.stderr}`.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return lines.slice(-3).join(' / ').slice(0, 500);
}

export function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // ESRCH: gone already.
  }
}

/** Whether any process of the group is alive (zombies count as gone: see process-agent's groupAlive). */
export function groupHasMembers(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}
