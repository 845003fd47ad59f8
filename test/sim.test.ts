// The deterministic simulator (sim/): the store twin meets the quorum-store contract; a seed
// replays byte for byte; a fixed budget of seeds runs without violation; the teeth (the
// protocol broken on purpose) are caught within a stated number of seeds; and each bug the
// simulator found in src/ keeps its pinned seed and a few more as regression tests (while a bug is
// open, its proposed fix lives in the harness, sim/patches.ts, and its pin is a todo).
// Figures (seeds per second, detection rates) go to the test diagnostics; no timing is asserted.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultFaultKinds, runSeed, type FaultKind, type SeedResult, type SimOptions, type TeethKind } from '../sim/scenario.js';
import { SimDisk, SimStoreClient, directTransport, itemsOf } from '../sim/sim-store.js';
import { SimProc, World } from '../sim/world.js';
import { bugIds, bugs, fixedBugIds, type BugId } from '../sim/patches.js';
import { runStoreContract } from './store-contract.js';
import { runHostContract } from './host-contract.js';
import { Apps, ProcessTable, SimHost } from '../sim/sim-host.js';
import { MachineClock } from '../sim/sim-clock.js';
import { healthyLink } from '../sim/sim-store.js';
import { Patches } from '../sim/patches.js';
import { commonPropDefaults } from '../src/core/types.js';

runStoreContract('sim twin', async () => {
  const disk = new SimDisk();
  return { stores: [0, 1, 2].map(() => new SimStoreClient(disk, directTransport)), cleanup: async () => undefined };
});

runHostContract('sim twin', async () => {
  const world = new World(1);
  const procs = new ProcessTable(world);
  const apps = new Apps(world);
  const env = { name: 'n1', clock: new MachineClock(world, 0), procs, apps, disk: new SimDisk(), link: healthyLink() };
  const host = new SimHost(world, env, new SimProc('n1/clusterd', 'n1', 'clusterd'), { selfFenceMs: 600_000, incarnation: () => 'i1', flaws: {}, patches: new Patches() });
  const until = async (cond: () => boolean, maxMs: number) => { await world.run(world.now + maxMs, cond); return cond(); };
  let started = false;
  void host.start().then(() => { started = true; });
  await until(() => started, 20_000);
  return {
    host,
    spec: (name, exitAfterMs) => {
      if (exitAfterMs !== undefined) apps.override(name, null, { crashAfterMs: exitAfterMs });
      return { name, group: 'g1', type: 'process', node: 'n1', epoch: 1, props: { ...commonPropDefaults }, priv: {} };
    },
    alive: (pid) => procs.procs.get(pid)?.alive === true,
    crashMonitor: () => { host.crashMonitor(); },
    until,
    cleanup: async () => {
      let done = false;
      void host.shutdown().then(() => { done = true; });
      await until(() => done, 20_000);
    },
  };
});

const kinds = (list: string): FaultKind[] => list.split(',') as FaultKind[];
const describe = (r: SeedResult) => r.ok ? 'ok' : `${r.violation}\n${r.lastTrace.slice(-25).join('\n')}`;

test('a seed replays byte for byte: same trace hash, same events, same last lines', async () => {
  const runs: SimOptions[] = [{ seed: 11 }, { seed: 12, faults: kinds('pause,monitor,crash') }, { seed: 2, teeth: 'no-watchdog' }];
  for (const o of runs) {
    const a = await runSeed(o);
    const b = await runSeed(o);
    assert.equal(a.traceHash, b.traceHash, `seed ${o.seed} replays to the same trace`);
    assert.equal(a.events, b.events);
    assert.deepEqual(a.lastTrace, b.lastTrace);
    assert.equal(a.violation, b.violation);
  }
});

/**
 * The fault kinds of the budget: every kind but the opt-in double fault, `recovery` included. The
 * recovery bug still open (sim/patches.ts) has no fix in the harness: its seeds are skipped (budgetKnown).
 */
const budgetKinds = defaultFaultKinds;
const budgetList = budgetKinds.join(',');
/** Every fault kind but `recovery` (the teeth that break the protocol outside recovery). */
const classic = defaultFaultKinds.filter((k) => k !== 'recovery');

/** Seeds of the fixed budget. */
const budgetSeeds = 60;
/** Seeds of the budget that hit an open bug with no proposed fix in the harness (sim/patches.ts unpatchedBugIds): skipped, named here. */
const budgetKnown: Record<number, BugId> = { 50: 14 };

test(`budget: ${budgetSeeds} seeds, every fault kind, src/ as it is (open bugs' fixes in the harness; seeds ${Object.keys(budgetKnown).join(', ')} of open bugs with none skipped): no violation`, async (t) => {
  const started = performance.now();
  let slowestOnlineMs = 0;
  for (let seed = 1; seed <= budgetSeeds; seed++) {
    if (budgetKnown[seed] !== undefined) continue;
    const r = await runSeed({ seed, faults: budgetKinds, patched: bugIds });
    assert.ok(r.ok, `seed ${seed} (replay: npm run sim -- --seed ${seed} --faults ${budgetList} --patched --trace): ${describe(r)}`);
    assert.ok(r.livenessMs !== null && r.livenessMs <= r.livenessBoundMs);
    slowestOnlineMs = Math.max(slowestOnlineMs, r.livenessMs);
  }
  const secs = (performance.now() - started) / 1000;
  t.diagnostic(`${budgetSeeds} seeds in ${secs.toFixed(1)} s (${(budgetSeeds / secs).toFixed(1)} seeds/s); slowest time to Online after the faults stopped: ${Math.round(slowestOnlineMs)} ms`);
});

/** Seeds of damaged databases and recovery switches, with the proposed fixes of the open bugs applied in the harness. */
const recoverySeeds = 30;

test(`recovery: ${recoverySeeds} seeds of damaged store logs, checkpoints and databases, damaged node copies and restarts under --reset-quorum-log/--no-quorum-logging (open bugs' fixes in the harness): no violation`, async (t) => {
  const injected: Record<string, number> = {};
  for (let seed = 1; seed <= recoverySeeds; seed++) {
    const faults = seed % 2 === 0 ? kinds('recovery') : kinds('recovery,crash,pause,operator,db-down');
    const r = await runSeed({ seed, faults, patched: bugIds });
    assert.ok(r.ok, `seed ${seed} (replay: npm run sim -- --seed ${seed} --faults ${faults.join(',')} --patched --trace): ${describe(r)}`);
    for (const [k, n] of Object.entries(r.injected)) if (k.startsWith('recovery-')) injected[k] = (injected[k] ?? 0) + n;
  }
  // Every kind of damage struck: store record (0), checkpoint (1), unreadable database (2), node copy (3), switch restart (4).
  for (let k = 0; k <= 4; k++) assert.ok((injected[`recovery-${k}`] ?? 0) > 0, `recovery fault ${k} struck: ${JSON.stringify(injected)}`);
  t.diagnostic(`recovery faults struck: ${JSON.stringify(injected)}`);
});

test('backups: 40 to 80 seeds of operator actions with crashes, pauses and monitor faults: no spurious freeze timeout, no writer frozen past its limit', async (t) => {
  const backups = { frozen: 0, thawedInTime: 0 };
  // At least 40 seeds, and more (up to 80) until the operator's random actions have frozen enough
  // backups: how many a seed starts depends on its whole trajectory.
  const exercised = () => backups.frozen >= 5 && backups.thawedInTime >= 3;
  for (let seed = 1; seed <= 80 && (seed <= 40 || !exercised()); seed++) {
    const r = await runSeed({ seed, faults: kinds('operator,crash,pause,monitor,load') });
    assert.ok(r.ok, `seed ${seed} (replay: npm run sim -- --seed ${seed} --faults operator,crash,pause,monitor,load --trace): ${describe(r)}`);
    backups.frozen += r.backups.frozen;
    backups.thawedInTime += r.backups.thawedInTime;
  }
  assert.ok(exercised(), `the seeds exercise backups: ${JSON.stringify(backups)}`);
  t.diagnostic(`${backups.frozen} backups frozen, ${backups.thawedInTime} thawed before their limit, none timed out spuriously, none left frozen`);
});

/**
 * Teeth: each break must make the checkers fire within `withinSeeds` seeds (the measured first
 * detection is well inside; rates over more seeds are in the report). The same seed without the
 * break passes, so the detection is the break's doing.
 */
/**
 * The host's and the store's teeth switch one check off in the real rule (src/monitor/decisions.ts
 * DecisionFlaws, src/store/term-rule.ts TermFlaws), not in a copy; `caughtBy` names the checker
 * (sim/checkers.ts, or the liveness check of sim/scenario.ts) that must fire.
 */
const teeth: { kind: TeethKind; withinSeeds: number; why: string; faults?: string; patched?: boolean; caughtBy: RegExp }[] = [
  { kind: 'no-watchdog', withinSeeds: 20, why: 'a stalled node keeps its resources past the lease TTL', caughtBy: /^SAFETY split brain: / },
  { kind: 'short-ttl', withinSeeds: 20, why: 'a lease TTL shorter than the self-fence deadline: takeover before the stalled owner has stopped', caughtBy: /^SAFETY split brain: / },
  { kind: 'no-release-wait', withinSeeds: 20, why: 'a move gives the group away before its owner released it', caughtBy: /^SAFETY split brain: / },
  { kind: 'stale-term', withinSeeds: 40, why: 'the store accepts writes under a stale term (rule 4)', caughtBy: /^SAFETY .* landed under stale term \d+ \(the coordinator term is \d+\): rule 4$/ },
  { kind: 'no-fence-check', withinSeeds: 150, why: 'a start that straddles a fence spawns anyway', caughtBy: /^SAFETY split brain: / },
  { kind: 'no-start-check', withinSeeds: 150, why: 'node and monitor start whatever they are asked, without checking lease, term, fence or watchdog', caughtBy: /^SAFETY split brain: / },
  { kind: 'no-freeze-abort', withinSeeds: 120, faults: 'operator', why: 'a thaw does not cancel a freeze still under way: the writer stays frozen past its limit', caughtBy: /^SAFETY writer .* is still frozen by backup .* past its limit/ },
  { kind: 'forget-floor', withinSeeds: 20, faults: 'recovery', patched: true, why: 'a recovery ignores the floor in the node copy: a rebuilt store elects a term or assigns an epoch used before', caughtBy: /^SAFETY S9 / },
  // The fence-loss fault reaches a monitor lost with its fence rarely: 6 in 1,400 seeds on the merged schedule, first at seed 331.
  { kind: 'no-fence-on-loss', withinSeeds: 400, faults: 'fence-loss', why: 'a fence sent to a monitor lost with it is never reported done: the node stays fencing', caughtBy: /^LIVENESS a fence was never answered on / },
];
for (const tooth of teeth) {
  test(`teeth: ${tooth.kind} (${tooth.why}) is caught within ${tooth.withinSeeds} seeds, by the right checker`, async (t) => {
    const faults = { ...(tooth.faults ? { faults: kinds(tooth.faults) } : { faults: classic }), ...(tooth.patched ? { patched: bugIds } : {}) };
    for (let seed = 1; seed <= tooth.withinSeeds; seed++) {
      const r = await runSeed({ seed, teeth: tooth.kind, ...faults });
      if (r.ok) continue;
      assert.match(r.violation ?? '', tooth.caughtBy, `seed ${seed}: ${tooth.kind} is caught by the wrong checker`);
      const baseline = await runSeed({ seed, ...faults });
      assert.ok(baseline.ok, `seed ${seed} fails without the break too: ${describe(baseline)}`);
      t.diagnostic(`caught at seed ${seed}: ${r.violation}`);
      return;
    }
    assert.fail(`${tooth.kind} was not caught within ${tooth.withinSeeds} seeds`);
  });
}

/**
 * Bugs fixed in src/ since the simulator found them. Each keeps its pinned seed (the one that
 * showed it, found with every other proposed fix applied in the harness) and a few more seeds of
 * the fault kinds that trigger it, as regression tests on src/ as it is (with the harness's proposed
 * fixes of the bugs still open, as the pins were found). A new bug gets a pin with
 * `npm run sim -- --pin BUG --faults LIST` while its proposed fix lives in sim/patches.ts.
 */
const regressions: { bug: BugId; pin: number | null; faults: string; seeds: number }[] = [
  { bug: 1, pin: null, faults: 'store-down,lease-down', seeds: 8 },
  { bug: 2, pin: 76, faults: 'monitor,resource,operator', seeds: 6 },
  // Seed 49 fails when the monitor's fence refusal (src/monitor/decisions.ts refuseOnline) is taken out of src/: the twin decides through it.
  { bug: 2, pin: 49, faults: 'monitor,resource,operator,crash,pause', seeds: 0 },
  { bug: 3, pin: 7, faults: 'monitor', seeds: 6 },
  { bug: 4, pin: 19, faults: 'crash,poweroff,pause,store-slow,db-down,disk-full,resource,clock,load,operator,shutdown', seeds: 6 },
  { bug: 5, pin: 218, faults: 'crash,poweroff,pause,monitor,store-slow,db-down,disk-full,resource,clock,load,operator,shutdown', seeds: 6 },
  // Seeds 2-4 fail when the answer to a fence sent while no monitor runs (src/monitor/decisions.ts fenceHoldsAtOnce) is taken out of
  // src/: the twin and client.ts decide through it. Its other half (fenceHoldsOnLoss) is held by the no-fence-on-loss tooth and the host contract.
  { bug: 5, pin: null, faults: 'fence-loss,operator', seeds: 4 },
  { bug: 6, pin: 100, faults: 'crash,poweroff,pause,store-slow,operator,shutdown,monitor', seeds: 6 },
  { bug: 7, pin: 11628, faults: classic.join(','), seeds: 0 },
  { bug: 8, pin: 1027, faults: defaultFaultKinds.join(','), seeds: 0 },
  { bug: 9, pin: 3, faults: 'recovery,crash,pause,operator,db-down', seeds: 4 },
  { bug: 10, pin: 3, faults: 'recovery,crash,pause,operator,db-down', seeds: 0 },
  { bug: 11, pin: 12, faults: 'recovery,crash,pause,operator,db-down', seeds: 0 },
  { bug: 12, pin: 59, faults: defaultFaultKinds.join(','), seeds: 0 },
  // Seed 65 showed it. Seeds 31, 114, 216, 227 and 233 of the first 300 fail (a term elected twice, S9) when the lease
  // slots' floors are left out of the recovery floor (src/node/load.ts floorFacts: slots []), and pass as src/ is.
  { bug: 13, pin: 65, faults: defaultFaultKinds.join(','), seeds: 0 },
  { bug: 13, pin: 31, faults: defaultFaultKinds.join(','), seeds: 0 },
  { bug: 13, pin: 114, faults: defaultFaultKinds.join(','), seeds: 0 },
];
for (const reg of regressions) {
  const seeds = [...(reg.pin === null ? [] : [reg.pin]), ...Array.from({ length: reg.seeds }, (_, i) => i + 1)];
  test(`bug ${reg.bug} stays fixed (${bugs[reg.bug]}): seeds ${seeds.join(',')} of ${reg.faults || 'the default fault kinds'} on src/ as it is, open bugs patched`, async () => {
    assert.ok(fixedBugIds.includes(reg.bug));
    for (const seed of seeds) {
      // With the harness's proposed fixes of the bugs still open: a seed that also reaches an open bug tests that bug, not this one.
      const r = await runSeed({ seed, ...(reg.faults ? { faults: kinds(reg.faults) } : {}), patched: bugIds });
      assert.ok(r.ok, `seed ${seed} (replay: npm run sim -- --seed ${seed}${reg.faults ? ` --faults ${reg.faults}` : ''} --patched --trace): ${describe(r)}`);
    }
  });
}

/**
 * Bugs still open (their proposed fixes in the harness, sim/patches.ts): each pinned seed fails
 * with every proposed fix but its own and passes with all of them.
 */
const openPins: { bug: BugId; pin: number; faults: string }[] = [
  // Bug 14 has no proposed fix in the harness yet: seed 50 of the budget kinds shows it (skipped in the budget).
];
for (const p of openPins) {
  test(`open bug ${p.bug} (${bugs[p.bug].split(';')[0]}): seed ${p.pin} fails without its proposed fix, passes with all`, async () => {
    assert.ok(bugIds.includes(p.bug));
    const without = await runSeed({ seed: p.pin, faults: kinds(p.faults), patched: bugIds.filter((b) => b !== p.bug) });
    assert.ok(!without.ok, `seed ${p.pin} passes without the fix for bug ${p.bug}`);
    const all = await runSeed({ seed: p.pin, faults: kinds(p.faults), patched: bugIds });
    assert.ok(all.ok, `seed ${p.pin} with every proposed fix: ${describe(all)}`);
  });
}

test('the opt-in double fault (a monitor hung while its clusterd fails) is caught: nothing on the machine can fence', async () => {
  // A limitation of a user-space watchdog, not a protocol bug (see the report): the simulator must see it.
  const r = await runSeed({ seed: 2, faults: kinds('double-fault,operator') });
  assert.ok(!r.ok && r.violation?.includes('split brain'), describe(r));
  const a = await runSeed({ seed: 2, faults: kinds('double-fault,operator') });
  assert.equal(a.traceHash, r.traceHash, 'a failing seed replays byte for byte too');
});

test('work cost: a busy main thread holds its timers and I/O until its work is done, in order; the heartbeat thread is not held; answers cost by their records', async () => {
  const w = new World(1);
  const p = new SimProc('n1#1', 'n1', 'clusterd');
  const fired: [string, number][] = [];
  w.schedule(10, p, 'timer', () => fired.push(['main timer', w.now]));
  w.schedule(12, p, 'io', () => fired.push(['main io', w.now]));
  w.schedule(10, p, 'timer', () => fired.push(['heartbeat', w.now]), true);
  w.schedule(5, p, 'io', () => w.work(p, 100)); // 100 ms of synchronous work from t=5
  await w.run(1_000);
  assert.deepEqual(fired, [['heartbeat', 10], ['main timer', 105], ['main io', 105]]);
  // Reports count their resources, arrays their elements, a checkpoint its tables.
  assert.equal(itemsOf([{ node: 'n1', resources: { a: {}, b: {} } }, { node: 'n2', resources: {} }]), 4);
  assert.equal(itemsOf({ ok: true, value: { config: { groups: { g: {} }, resources: { a: {}, b: {}, c: {} }, nodes: {} } } }), 4);
});
