// `npm run sim -- [--seeds N] [--seed S] [--from S0] [--nodes K] [--groups G] [--steps M]
//                 [--faults LIST] [--teeth KIND] [--trace] [--scale]`
//
// Runs whole simulated clusters (the real node shell and core over simulated clock, store,
// monitor and processes) under seeded faults, with safety and liveness checkers after every
// event. `--seeds N` runs seeds S0..S0+N-1 (S0 = --from, default 1); `--seed S` runs one seed and
// replays it exactly (add --trace for the whole trace). A failing seed prints the options to
// replay it, its trace hash and the last events. Exit code 1 if any seed fails.

import { faultKinds, runSeed, teethKinds, type FaultKind, type SeedResult, type SimOptions, type TeethKind } from './scenario.js';
import { scaleReport } from './scale.js';
import { bugIds } from './patches.js';

export interface RunArgs {
  seeds: number;
  from: number;
  seed: number | null;
  nodes?: number;
  groups?: number;
  steps?: number;
  faults?: FaultKind[];
  teeth: TeethKind | null;
  /** Bugs whose proposed fixes to apply in the harness (--patched: all). */
  patched: number[];
  trace: boolean;
  scale: boolean;
  /** Find seeds that show this bug alone: they fail with every proposed fix but its own, pass with all. */
  pin: number | null;
  /** For sim:long: keep going until this many seconds have passed. */
  durationS: number | null;
}

export function parseArgs(argv: string[]): RunArgs {
  const out: RunArgs = { seeds: 20, from: 1, seed: null, teeth: null, patched: [], trace: false, scale: false, pin: null, durationS: null };
  const int = (flag: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) usage(`${flag} needs an integer >= ${min}, not ${JSON.stringify(v)}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--seeds': out.seeds = int(flag, value(), 1); break;
      case '--from': out.from = int(flag, value(), 0); break;
      case '--seed': out.seed = int(flag, value(), 0); break;
      case '--nodes': out.nodes = int(flag, value(), 1); break;
      case '--groups': out.groups = int(flag, value(), 0); break;
      case '--steps': out.steps = int(flag, value(), 0); break;
      case '--duration': out.durationS = int(flag, value(), 1); break;
      case '--faults': {
        const v = value() ?? '';
        const list = v === 'none' ? [] : v.split(',').map((s) => s.trim()).filter(Boolean);
        const bad = list.filter((k) => !(faultKinds as readonly string[]).includes(k));
        if (bad.length > 0) usage(`unknown fault kind(s) ${bad.join(', ')}; kinds: ${faultKinds.join(', ')} (or none)`);
        out.faults = list as FaultKind[];
        break;
      }
      case '--teeth': {
        const v = value() ?? '';
        if (!(teethKinds as readonly string[]).includes(v)) usage(`unknown teeth ${JSON.stringify(v)}; kinds: ${teethKinds.join(', ')}`);
        out.teeth = v as TeethKind;
        break;
      }
      case '--trace': out.trace = true; break;
      case '--patched': {
        const ids = inline === undefined ? bugIds : inline.split(',').map((x) => Number(x.trim()));
        const bad = ids.filter((id) => !(bugIds as number[]).includes(id));
        if (bad.length > 0) usage(`--patched names unknown bug(s) ${bad.join(', ')}; bugs: ${bugIds.join(', ')}`);
        out.patched = ids;
        break;
      }
      case '--scale': out.scale = true; break;
      case '--pin': {
        const bug = int(flag, value(), 1);
        if (!(bugIds as number[]).includes(bug)) usage(`--pin names bug ${bug}, which is not open; open bugs: ${bugIds.join(', ')}`);
        out.pin = bug;
        break;
      }
      case '--help': case '-h': usage(null); break;
      default: usage(`unknown argument ${JSON.stringify(a)}`);
    }
  }
  return out;
}

function usage(problem: string | null): never {
  const text = `usage: npm run sim -- [--seeds N] [--seed S] [--from S0] [--nodes K] [--groups G] [--steps M] [--faults LIST] [--teeth KIND] [--patched] [--trace] [--scale]
  --seeds N     run N seeds, from --from S0 (default 1)       --seed S   run (replay) seed S only
  --nodes K     nodes per cluster (default: 2..5 from the seed) --groups G groups (default: 1..6 from the seed)
  --steps M     fault steps of 250 ms (default 80)
  --faults LIST comma-separated kinds that may strike: ${faultKinds.join(',')}, or none
                (default: all but double-fault)
  --teeth KIND  break the protocol on purpose: ${teethKinds.join(', ')}
  --patched[=1,2,...]  apply, in the harness, the fixes proposed for the bugs found (sim/patches.ts; default all)
  --trace       print every trace line (with --seed)           --scale    64 nodes / 10,000 resources figures
  --pin BUG     search --seeds seeds for ones that fail with every proposed fix but BUG's and pass with all`;
  if (problem) {
    process.stderr.write(`error: ${problem}\n${text}\n`);
    process.exit(2);
  }
  process.stdout.write(`${text}\n`);
  process.exit(0);
}

export function optionsOf(a: RunArgs, seed: number): SimOptions {
  const o: SimOptions = { seed, teeth: a.teeth, patched: a.patched };
  if (a.nodes !== undefined) o.nodes = a.nodes;
  if (a.groups !== undefined) o.groups = a.groups;
  if (a.steps !== undefined) o.steps = a.steps;
  if (a.faults !== undefined) o.faults = a.faults;
  return o;
}

/** The command that replays `seed` with the options given on this command line. */
export function replayCommand(a: RunArgs, seed: number): string {
  const parts = ['npm run sim --', `--seed ${seed}`];
  if (a.nodes !== undefined) parts.push(`--nodes ${a.nodes}`);
  if (a.groups !== undefined) parts.push(`--groups ${a.groups}`);
  if (a.steps !== undefined) parts.push(`--steps ${a.steps}`);
  if (a.faults !== undefined) parts.push(`--faults ${a.faults.length ? a.faults.join(',') : 'none'}`);
  if (a.teeth) parts.push(`--teeth ${a.teeth}`);
  if (a.patched.length > 0) parts.push(`--patched=${a.patched.join(',')}`);
  return parts.join(' ');
}

export function failureReport(a: RunArgs, r: SeedResult): string {
  return [
    `VIOLATION in seed ${r.seed}: ${r.violation}`,
    `  chosen by the seed: ${r.nodes} nodes, ${r.groups} groups, ${r.steps} steps, faults ${r.faults.join(',') || 'none'}${r.teeth ? `, teeth ${r.teeth}` : ''}${r.patched.length ? `, patched ${r.patched.join(',')}` : ''}`,
    `  replay: ${replayCommand(a, r.seed)} --trace`,
    `  trace hash ${r.traceHash} (${r.events} events, ${(r.simMs / 1000).toFixed(1)} s simulated)`,
    `  last ${r.lastTrace.length} trace lines:`,
    ...r.lastTrace.map((l) => `    ${l}`),
  ].join('\n');
}

export function seedLine(r: SeedResult): string {
  const live = r.livenessMs === null ? '-' : `${Math.round(r.livenessMs)}ms`;
  return `seed ${r.seed}: ${r.ok ? 'ok' : 'FAIL'} hash ${r.traceHash} nodes ${r.nodes} groups ${r.groups} faults ${r.faults.join(',') || 'none'} ` +
    `events ${r.events} sim ${(r.simMs / 1000).toFixed(1)}s online-after-heal ${live} (bound ${r.livenessBoundMs}ms) acks ${r.acks}`;
}

/** Seeds whose failure needs bug `bug` (see --pin), printed as they are found. */
async function findPins(a: RunArgs, bug: number): Promise<void> {
  const others = bugIds.filter((b) => b !== bug);
  let found = 0;
  for (let s = a.from; s < a.from + a.seeds; s++) {
    const without = await runSeed({ ...optionsOf(a, s), patched: others });
    if (without.ok) continue;
    const all = await runSeed({ ...optionsOf(a, s), patched: bugIds });
    if (!all.ok) continue;
    found++;
    process.stdout.write(`seed ${s}: fails with every fix but ${bug} (${without.violation}); passes with all. replay: ${replayCommand({ ...a, patched: others }, s)} --trace\n`);
  }
  process.stdout.write(`${found} seed(s) in ${a.seeds} from ${a.from} show bug ${bug} alone\n`);
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  if (a.scale) {
    await scaleReport((line) => process.stdout.write(`${line}\n`));
    return;
  }
  if (a.pin !== null) {
    await findPins(a, a.pin);
    return;
  }
  if (a.seed !== null) {
    const o = optionsOf(a, a.seed);
    if (a.trace) o.echo = (line) => process.stdout.write(`${line}\n`);
    const r = await runSeed(o);
    process.stdout.write(`${seedLine(r)}\n`);
    if (!r.ok) {
      process.stdout.write(`${failureReport(a, r)}\n`);
      process.exitCode = 1;
    }
    return;
  }
  const started = performance.now();
  let failed = 0;
  let maxLiveness = 0;
  const backups = { frozen: 0, thawedInTime: 0 };
  for (let s = a.from; s < a.from + a.seeds; s++) {
    const r = await runSeed(optionsOf(a, s));
    if (r.livenessMs !== null) maxLiveness = Math.max(maxLiveness, r.livenessMs);
    backups.frozen += r.backups.frozen;
    backups.thawedInTime += r.backups.thawedInTime;
    if (!r.ok) {
      failed++;
      process.stdout.write(`${failureReport(a, r)}\n\n`);
    } else if (process.env.SIM_VERBOSE) process.stdout.write(`${seedLine(r)}\n`);
  }
  const secs = (performance.now() - started) / 1000;
  process.stdout.write(`${a.seeds} seed(s) from ${a.from}: ${a.seeds - failed} without violation, ${failed} with; ` +
    `${(a.seeds / secs).toFixed(2)} seeds/s; slowest time to Online after heal ${Math.round(maxLiveness)} ms; ` +
    `backups ${backups.frozen} frozen, ${backups.thawedInTime} thawed before their limit\n`);
  if (failed > 0) process.exitCode = 1;
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  // `npm run sim | head` closes the pipe early: stop quietly.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0); throw e; });
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(70);
  });
}
