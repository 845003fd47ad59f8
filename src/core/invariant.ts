// Invariants of core's transitions (epochs, terms, sequence numbers): a broken one is a bug in
// the code, never an operator's error, so it throws a named InvariantError at once rather than
// letting a wrong decision reach the store.

export class InvariantError extends Error {
  constructor(readonly invariant: string, detail: string) {
    super(`invariant ${invariant} broken: ${detail}`);
    this.name = 'InvariantError';
  }
}

/** Throws InvariantError(`name`) unless `holds`; `detail` is built only then. */
export function invariant(holds: boolean, name: string, detail: () => string): asserts holds {
  if (!holds) throw new InvariantError(name, detail());
}
