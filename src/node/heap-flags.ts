// V8 settings clusterd applies to its own process, whatever flags Node.js was started with.

import { setFlagsFromString } from 'node:v8';

/**
 * From this many groups and resources in the configuration, the young generation may grow. A cycle
 * whose facts changed allocates tables the size of the configuration (ownership, plan, report);
 * in a 1 MiB young generation they survive two scavenges and are promoted, and the old generation's
 * mark-compact of a heap of hundreds of MiB then held the decision loop for seconds: with 20,000
 * groups under `bench:abuse`, 3 NODE_STALLED and 6-9 NODE_SELF_FENCED per run with 1 MiB, none with
 * the young generation growing (to Node.js's bound, 16 MiB per semi-space). Below this, the 1 MiB
 * keeps an idle node's RSS down (README, memory).
 */
export const youngGenerationGrowsFrom = 5_000;

let grows = false;

/**
 * The young generation's growth as this process wants it now: none (1 MiB per semi-space) for a
 * small configuration, doubling under load for a large one (youngGenerationFor). Node.js sets
 * V8's flags back to its command line's when it creates a worker thread: call this again after
 * each one.
 */
export function applyYoungGeneration(): void {
  setFlagsFromString(`--semi-space-growth-factor=${grows ? 2 : 1}`);
}

/** The configuration holds `objects` groups and resources: let the young generation grow from youngGenerationGrowsFrom on (it does not shrink back). */
export function youngGenerationFor(objects: number): void {
  const want = objects >= youngGenerationGrowsFrom;
  if (want === grows) return;
  grows = want;
  applyYoungGeneration();
}
