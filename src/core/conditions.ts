// Repeated failures logged as conditions, pure: a failure that recurs on every attempt (an
// ownership write refused on each cycle while the quorum disk is full, a cycle that keeps
// throwing) is one condition. It is logged once when it starts, once per summary interval with
// its count while it lasts, and once when it ends with the total; never once per attempt
// (Q168460: ten identical lines a second buried the cause). The shell feeds it each attempt's
// outcome with its monotonic time and logs the lines it returns.

export interface ConditionLine {
  /** The condition's key while it starts or lasts; `${key}_RECOVERED` when it ends. */
  event: string;
  phase: 'started' | 'continuing' | 'ended';
  /** Occurrences since the condition started. */
  count: number;
  /** Milliseconds since the condition started. */
  forMs: number;
  message: string;
}

interface Held {
  /** What makes two failures "the same" (an error code): a different one ends this condition and starts another. */
  signature: string;
  message: string;
  sinceMs: number;
  count: number;
  summaryAtMs: number;
  countAtSummary: number;
}

/** One line a minute while a condition lasts: enough to see it is still there, 600 times fewer than one per 100 ms cycle. */
export const conditionSummaryEveryMs = 60_000;

export class Conditions {
  private readonly held = new Map<string, Held>();

  constructor(private readonly summaryEveryMs: number = conditionSummaryEveryMs) {}

  /** One more occurrence of `key`: the lines to log now (none while it merely repeats within the interval). */
  occurred(key: string, signature: string, message: string, nowMs: number): ConditionLine[] {
    const h = this.held.get(key);
    if (h && h.signature === signature) {
      h.count++;
      h.message = message;
      if (nowMs - h.summaryAtMs < this.summaryEveryMs) return [];
      const since = h.count - h.countAtSummary;
      h.summaryAtMs = nowMs;
      h.countAtSummary = h.count;
      return [{ event: key, phase: 'continuing', count: h.count, forMs: nowMs - h.sinceMs,
        message: `${message} (still failing: ${h.count} times in ${Math.round(nowMs - h.sinceMs)} ms, ${since} since the last line)` }];
    }
    const lines = h ? this.cleared(key, nowMs, `${key} (${h.signature}) changed to ${signature}`) : [];
    this.held.set(key, { signature, message, sinceMs: nowMs, count: 1, summaryAtMs: nowMs, countAtSummary: 1 });
    lines.push({ event: key, phase: 'started', count: 1, forMs: 0,
      message: `${message} (repeats are counted, one line every ${Math.round(this.summaryEveryMs / 1000)} s while it lasts)` });
    return lines;
  }

  /** `key` no longer holds: one closing line if it did, beginning with `what` ("space is back"). */
  cleared(key: string, nowMs: number, what = `${key} ended`): ConditionLine[] {
    const h = this.held.get(key);
    if (!h) return [];
    this.held.delete(key);
    const forMs = nowMs - h.sinceMs;
    return [{ event: `${key}_RECOVERED`, phase: 'ended', count: h.count, forMs,
      message: `${what} after ${h.count} occurrence(s) over ${Math.round(forMs)} ms; last: ${h.message}` }];
  }

  /** The condition held under `key`, if any. */
  holding(key: string): { signature: string; message: string; sinceMs: number; count: number } | undefined {
    const h = this.held.get(key);
    return h ? { signature: h.signature, message: h.message, sinceMs: h.sinceMs, count: h.count } : undefined;
  }
}
