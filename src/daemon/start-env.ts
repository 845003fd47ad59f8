// How clusterd is started and how it exits, as deploy/clusterd.service expects: the environment
// beyond the operator's own (the unit sets the same, a test keeps the two equal, and the demo and
// the benchmarks start clusterd so), and the exit status of a refusal (the unit restarts or not).

/**
 * glibc's malloc with fixed thresholds (glibc.malloc.* tunables, read by the C library when the
 * process starts, so they cannot be set from inside Node.js). By default the threshold from which
 * an allocation gets its own mapping rises each time such a block is freed (up to 32 MiB), so
 * after a burst of large buffers (request bodies, answers of megabytes, write queues of stalled
 * streams) the later ones come from the heap and stay resident once freed. Fixed at 128 KiB, a
 * large block is unmapped when freed and the heap's top is given back past 128 KiB.
 *
 * Measured with `npm run bench:memory` (3 nodes, 64 writers and 50 stalled stream readers for 15 s,
 * the groups deleted, then 45 s of quiet), two runs each: clusterd's RSS after the burst 104-127
 * MiB without (mean 114), 94-108 MiB with (mean 100); its idle RSS did not change.
 */
export const mallocTunables = 'glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=131072';

/** `env` with mallocTunables, unless the operator set GLIBC_TUNABLES already (theirs is kept as it is). */
export function clusterdStartEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return env.GLIBC_TUNABLES === undefined ? { ...env, GLIBC_TUNABLES: mallocTunables } : env;
}

/**
 * Exit status of a refusal that may end without anything done by an operator (sysexits'
 * EX_TEMPFAIL): the quorum store cannot be reached, as while etcd forms its quorum after a power
 * cut, when the machines boot together and the first ones find too few members up. systemd
 * restarts clusterd after it (deploy/clusterd.service); every other refusal exits 2, which it does
 * not restart, because a setting or the data needs a person.
 */
export const exitTempFail = 75;
const passingRefusals: ReadonlySet<string> = new Set(['QUORUM_UNAVAILABLE']);

/** How `clusterd` exits on a refusal with this error: exitTempFail, or 2. */
export function exitStatusOf(e: { code: string }): number {
  return passingRefusals.has(e.code) ? exitTempFail : 2;
}
