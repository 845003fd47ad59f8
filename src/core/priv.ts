// Private properties of each resource type, validated when they are saved (the coordinator's
// commit and `cluster apply`, core/config.ts checkSaved) by the same parser the type's agent
// uses. A registry: one line per resource type that has a checker.

import { clusterError, fail, ok, type Result } from './errors.js';
import { diskPrivProblems } from './disk-priv.js';
import { processPrivProblems } from './process-priv.js';
import type { PrivProblem, PrivProps } from './types.js';

export type { PrivProblem };

/** A type's checker: every problem of a whole set of private properties at once (none: valid). Pure. */
export type PrivChecker = (priv: PrivProps) => PrivProblem[];

export const privCheckers: ReadonlyMap<string, PrivChecker> = new Map<string, PrivChecker>([
  ['process', processPrivProblems],
  ['disk', diskPrivProblems],
]);

/** The problems of `priv` for a resource of `type`; none for a type without a checker. */
export function privProblems(type: string, priv: PrivProps): PrivProblem[] {
  return privCheckers.get(type)?.(priv) ?? [];
}

/** Problems shown in one error at most; the rest are counted. */
const problemsShownMax = 100;

/** privProblems as one error (every problem in its message, the first one's path), for the API and the fold's save check. */
export function checkTypePriv(resource: string, type: string, priv: PrivProps, pathPrefix = `resources.${resource}.priv`): Result<void> {
  const problems = privProblems(type, priv);
  if (problems.length === 0) return ok(undefined);
  const first = problems[0]!;
  const shown = problems.slice(0, problemsShownMax).map((p) => `${p.key} ${p.message}`);
  const more = problems.length > problemsShownMax ? `; and ${problems.length - problemsShownMax} more` : '';
  const message = problems.length === 1
    ? `private property ${first.key} of ${type} resource '${resource}' ${first.message}`
    : `${problems.length} problems in the private properties of ${type} resource '${resource}': ${shown.join('; ')}${more}`;
  return fail(clusterError('BAD_PROPERTY', message, first.hint, `${pathPrefix}.${first.key}`));
}
