// Progress of a long wait on stderr, for a person at a terminal: one line rewritten in place
// ("group 'web' is OnlinePending: 4 s of 300 s") and erased when the wait ends, so that stdout
// keeps only the result. Nothing is written when stderr is not a terminal: a pipe or a log file
// gets no escape codes and no lines that only made sense while they were being redrawn.

/** Carriage return and erase-to-end-of-line: the line is redrawn in place. */
const redraw = '\r\x1b[K';

export class Progress {
  private shown = false;

  constructor(private readonly write: (s: string) => void, private readonly enabled: boolean) {}

  show(text: string): void {
    if (!this.enabled) return;
    this.write(`${redraw}${text}`);
    this.shown = true;
  }

  /** Erases the line, if one was shown. */
  done(): void {
    if (!this.shown) return;
    this.write(redraw);
    this.shown = false;
  }
}

/** "4 s of 300 s": the time waited so far against the bound. */
export function waitedText(waitedMs: number, waitSeconds: number): string {
  return `${Math.floor(waitedMs / 1000)} s of ${waitSeconds} s`;
}
