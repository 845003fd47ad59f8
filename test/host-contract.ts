// The resource host contract: what the node shell relies on from the host that runs its
// resources (node/resource-host.ts), run against the real one (monitor/client.ts with the monitor
// child and real processes, test/host-contract.test.ts) and against the simulator's twin
// (sim/sim-host.ts over simulated processes, test/sim.test.ts), as test/store-contract.ts is for
// the stores. A twin that drifts from the real host fails here before it lies to the simulator.
//
// Every clause drives time through the harness (`until`): real time for the real host, the
// world's clock for the twin. No clause asserts a duration.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ResourceHost } from '../src/node/resource-host.js';
import type { ResourceSpec } from '../src/monitor/protocol.js';

export interface HostHarness {
  host: ResourceHost;
  /** A process resource that runs until it is stopped; `exitAfterMs`: one that exits on its own after about that long. */
  spec(name: string, exitAfterMs?: number): ResourceSpec;
  /** Ground truth: the process `pid` runs on the machine. */
  alive(pid: number): boolean;
  /** The monitor process dies (SIGKILL), without a word to clusterd. */
  crashMonitor(): void;
  /** Let time pass until `cond` holds or `maxMs` passed; true when it holds. */
  until(cond: () => boolean, maxMs: number): Promise<boolean>;
  cleanup(): Promise<void>;
}

/** Generous bounds: a loaded machine must not fail a clause; none is a timing assertion. */
const callMs = 10_000;
const waitMs = 20_000;

type CallResult = Awaited<ReturnType<ResourceHost['call']>>;

async function settle<T>(h: HostHarness, p: Promise<T>): Promise<T> {
  let done = false;
  void p.then(() => { done = true; }, () => { done = true; });
  assert.ok(await h.until(() => done, waitMs), 'the host answered within the bound');
  return p;
}

async function online(h: HostHarness, name: string, exitAfterMs?: number): Promise<number> {
  const r: CallResult = await settle(h, h.host.call('online', h.spec(name, exitAfterMs), callMs));
  assert.ok(r.ok, `online of ${name}: ${JSON.stringify(r)}`);
  const pid = r.data?.pid;
  assert.ok(typeof pid === 'number' && pid > 0, `online of ${name} names its pid: ${JSON.stringify(r)}`);
  return pid;
}

/**
 * Online after the monitor was lost: served by a new monitor once it is up. A loaded machine may
 * take longer than the client's init bound to start one (it then starts another): a few tries.
 */
async function onlineAfterLoss(h: HostHarness, name: string): Promise<number> {
  let last: CallResult | null = null;
  for (let i = 0; i < 3; i++) {
    last = await settle(h, h.host.call('online', h.spec(name), callMs));
    if (last.ok && typeof last.data?.pid === 'number') return last.data.pid;
  }
  assert.fail(`online of ${name} after the monitor was lost: ${JSON.stringify(last)}`);
}

/** Record each emission of `event` from now on. */
function record(h: HostHarness, event: string): unknown[][] {
  const seen: unknown[][] = [];
  h.host.on(event, (...args: unknown[]) => seen.push(args));
  return seen;
}

export function runHostContract(name: string, make: () => Promise<HostHarness>): void {
  const clause = (title: string, body: (h: HostHarness) => Promise<void>) =>
    test(`${name}: ${title}`, async () => {
      const h = await make();
      try { await body(h); } finally { await h.cleanup(); }
    });

  clause('online starts the process and names its pid; isAlive sees it; offline stops it', async (h) => {
    const pid = await online(h, 'r1');
    assert.ok(h.alive(pid));
    const probe = await settle(h, h.host.call('isAlive', h.spec('r1'), callMs));
    assert.ok(probe.ok && probe.data?.alive === true, `isAlive: ${JSON.stringify(probe)}`);
    const off = await settle(h, h.host.call('offline', h.spec('r1'), callMs));
    assert.ok(off.ok, `offline: ${JSON.stringify(off)}`);
    assert.ok(await h.until(() => !h.alive(pid), waitMs), 'the process is gone after offline');
  });

  clause('a process that exits on its own is reported exited', async (h) => {
    const exited = record(h, 'exited');
    const pid = await online(h, 'r1', 2_000);
    assert.ok(await h.until(() => exited.some((a) => a[0] === 'r1'), waitMs), 'exited is emitted for r1');
    assert.ok(!h.alive(pid));
  });

  clause('a fence stops every resource, and fenced follows; calls decided after it are served again', async (h) => {
    const fenced = record(h, 'fenced');
    const pids = [await online(h, 'r1'), await online(h, 'r2')];
    h.host.fence('contract');
    assert.ok(await h.until(() => fenced.length > 0, waitMs), 'fenced follows a fence');
    assert.ok(await h.until(() => pids.every((p) => !h.alive(p)), waitMs), 'nothing runs after the fence');
    const pid = await online(h, 'r3');
    assert.ok(h.alive(pid), 'an online decided after the fence is served');
  });

  clause('a fence whose monitor dies with it unread still gets its answer, and nothing runs', async (h) => {
    const fenced = record(h, 'fenced');
    const crashed = record(h, 'crashed');
    const pid = await online(h, 'r1');
    h.host.fence('contract');
    h.crashMonitor();
    assert.ok(await h.until(() => fenced.length > 0, waitMs), 'fenced follows, from the monitor or from its loss');
    assert.ok(await h.until(() => !h.alive(pid), waitMs), 'the resource does not survive');
    // The monitor was lost: the host says so too (unless the monitor answered the fence first and the crash came after).
    assert.ok(await h.until(() => crashed.length > 0, waitMs), 'crashed follows the monitor\'s loss');
  });

  clause('a monitor that dies is reported crashed with its resources, which do not survive; a new one serves calls', async (h) => {
    const crashed = record(h, 'crashed');
    const pid = await online(h, 'r1');
    h.crashMonitor();
    assert.ok(await h.until(() => crashed.length > 0, waitMs), 'crashed follows');
    assert.ok(await h.until(() => !h.alive(pid), waitMs), 'the resource does not survive its monitor');
    const info = crashed[0]![0] as { resources?: string[] };
    assert.ok(info.resources?.includes('r1'), `the crash names r1: ${JSON.stringify(info)}`);
    const again = await onlineAfterLoss(h, 'r2');
    assert.ok(h.alive(again), 'a call after the crash is served by a new monitor');
  });

  clause('recycle kills the monitor and its resources; crashed follows; a new monitor serves calls', async (h) => {
    const crashed = record(h, 'crashed');
    const pid = await online(h, 'r1');
    h.host.recycle('contract');
    assert.ok(await h.until(() => crashed.length > 0, waitMs), 'crashed follows a recycle');
    assert.ok(await h.until(() => !h.alive(pid), waitMs), 'the resource is gone');
    const again = await onlineAfterLoss(h, 'r2');
    assert.ok(h.alive(again));
  });
}
