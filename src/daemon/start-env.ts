// The environment clusterd is started with, beyond the operator's own: deploy/clusterd.service
// sets the same (a test keeps the two equal), and the demo and the benchmarks start clusterd so.

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
