// The clock the node shell runs on: real time in clusterd, simulated time in the simulator.
// Its own module so that the shell's parts (node.ts, backups.ts) share it without importing
// each other.

export interface Clock {
  /** Monotonic milliseconds. */
  nowMs(): number;
  wallMs(): number;
  localHour(): number;
  setInterval(fn: () => void, ms: number): () => void;
  setTimeout(fn: () => void, ms: number): () => void;
  /**
   * Milliseconds this thread's event loop has spent working (not waiting for I/O or timers) since
   * it started. Absent where work takes no time of this clock (the simulator).
   */
  loopBusyMs?(): number;
}
