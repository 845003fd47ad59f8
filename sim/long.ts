// `npm run sim:long -- [--duration SECONDS] [--from S0] [--jobs J] [--patched[=...]] [--faults LIST] ...`
//
// Runs seeds for as long as asked (default: until Ctrl-C), on J worker threads (default: one per
// core), from S0 (default: a start taken from the wall clock, printed, so that a session never
// repeats the previous one's seeds). Prints seeds per second every 10 s, every failing seed with
// the command that replays it, and a summary at the end. The simulation itself reads no clock:
// each seed replays exactly whatever the thread or the order it ran in.

import os from 'node:os';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { failureReport, optionsOf, parseArgs, type RunArgs } from './run.js';
import { runSeed, type SeedResult } from './scenario.js';

interface Job { seed: number }
type Reply = { seed: number; result: SeedResult };

/** Seconds between progress lines. */
const progressEveryS = 10;

async function worker(args: RunArgs): Promise<void> {
  parentPort!.on('message', (job: Job | null) => {
    if (job === null) { process.exit(0); }
    void runSeed(optionsOf(args, job.seed)).then((result) => parentPort!.postMessage({ seed: job.seed, result } satisfies Reply));
  });
  parentPort!.postMessage('ready');
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let jobs = Math.max(1, os.availableParallelism());
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--jobs' || a.startsWith('--jobs=')) {
      const v = Number(a.includes('=') ? a.slice(7) : argv[++i]);
      if (!Number.isInteger(v) || v < 1) throw new Error(`--jobs needs an integer >= 1, not ${v}`);
      jobs = v;
    } else rest.push(a);
  }
  const args = parseArgs(rest);
  if (!rest.some((a) => a === '--from' || a.startsWith('--from='))) args.from = Date.now() % 1_000_000_000;
  const until = args.durationS === null ? Infinity : performance.now() + args.durationS * 1_000;
  process.stdout.write(`sim:long from seed ${args.from} on ${jobs} thread(s)${args.durationS ? ` for ${args.durationS} s` : ' until Ctrl-C'}` +
    `${args.patched.length ? `, fixes ${args.patched.join(',')} applied` : ''}${args.faults ? `, faults ${args.faults.join(',')}` : ''}\n`);
  const started = performance.now();
  let next = args.from;
  let done = 0;
  let failed = 0;
  let lastReport = started;
  let stopping = false;
  const summary = () => {
    const secs = (performance.now() - started) / 1000;
    process.stdout.write(`${done} seed(s) from ${args.from} in ${secs.toFixed(0)} s: ${done - failed} without violation, ${failed} with; ${(done / secs).toFixed(2)} seeds/s\n`);
  };
  process.on('SIGINT', () => { stopping = true; });
  await new Promise<void>((resolve) => {
    let live = jobs;
    for (let j = 0; j < jobs; j++) {
      const w = new Worker(new URL(import.meta.url), { workerData: { args } });
      const feed = () => {
        if (stopping || performance.now() >= until) {
          w.postMessage(null);
          return;
        }
        w.postMessage({ seed: next++ } satisfies Job);
      };
      w.on('message', (m: 'ready' | Reply) => {
        if (m !== 'ready') {
          done++;
          if (!m.result.ok) {
            failed++;
            process.stdout.write(`${failureReport(args, m.result)}\n\n`);
          }
          if (performance.now() - lastReport >= progressEveryS * 1_000) {
            lastReport = performance.now();
            summary();
          }
        }
        feed();
      });
      w.on('exit', () => { if (--live === 0) resolve(); });
    }
  });
  summary();
  if (failed > 0) process.exitCode = 1;
}

if (isMainThread) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(70);
  });
} else {
  void worker((workerData as { args: RunArgs }).args);
}
