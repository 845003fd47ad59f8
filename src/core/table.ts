// Tables keyed by names (nodes, groups, resources): null-prototype records read through own(), so
// that a name is data and never one of JavaScript's built-in properties (constructor, toString,
// __proto__, ...). Every table of the configuration is made by these functions.

/** A new empty table: no prototype, so `t['constructor']` is undefined and `t['__proto__'] = v` is an entry. */
export function newTable<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/** A copy of `from` as a table (own enumerable entries, in their order). */
export function tableOf<T>(from: Readonly<Record<string, T>>): Record<string, T> {
  const t = newTable<T>();
  for (const k of Object.keys(from)) t[k] = from[k]!;
  return t;
}

/** The entry `name` of `table` if the table itself holds it; never an inherited property. */
export function own<T>(table: Readonly<Record<string, T>>, name: string): T | undefined {
  return Object.prototype.hasOwnProperty.call(table, name) ? table[name] : undefined;
}
