// Rule 4 of the store: a leadership write (ownership records, a log append, a checkpoint) lands
// only under the coordinator term the store holds right now. The backends that compare in their
// own code (dir.ts, and the simulator's twin of the store) decide through `termAdmits`; etcd.ts
// makes the same comparison inside its transaction, where etcd checks it.
//
// The flaw switch (TermFlaws) is for the simulator's teeth only: its `stale-term` tooth turns the
// check off here, in the rule production takes. Nothing under src/ sets it.

export interface TermFlaws {
  /** Every write is admitted, whatever its term. */
  acceptStaleTerm?: boolean;
}

/** The rule, with the given check turned off (TermFlaws). */
export function termRuleWith(flaws: Readonly<TermFlaws>): (term: number, current: number) => boolean {
  const accept = flaws.acceptStaleTerm === true;
  return (term, current) => term === current || accept;
}

/** The rule production takes: a write's term must be the store's coordinator term. */
export const termAdmits: (term: number, current: number) => boolean = termRuleWith({});
