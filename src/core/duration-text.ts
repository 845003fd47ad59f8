// How every message prints a duration in milliseconds. Durations measured on a monotonic clock
// are fractions (performance.now()); a message shows what an operator can read, not 2106.1003 ms.

/** Below this, one decimal still says something (a 2.5 ms fsync); above it, whole milliseconds. */
const decimalBelowMs = 10;

/** `2106 ms`, `2.5 ms`, `3 ms`: whole milliseconds from 10 ms up, one decimal below. */
export function msText(ms: number): string {
  return `${roundMs(ms)} ms`;
}

/** The number msText prints, for messages that put the unit elsewhere. */
export function roundMs(ms: number): number {
  if (!Number.isFinite(ms)) return ms;
  const rounded = Math.abs(ms) < decimalBelowMs ? Math.round(ms * 10) / 10 : Math.round(ms);
  return rounded === 0 ? 0 : rounded; // never "-0 ms"
}
