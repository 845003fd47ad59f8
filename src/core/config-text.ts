// The JSON text of a configuration in steps: the same text as JSON.stringify (and configJson),
// made a bounded piece at a time so that a caller sharing its thread can yield between pieces.
// At 10,000 resources the text is megabytes; JSON.stringify makes it in one go.

import { configJsonCached, noteConfigJson } from './config.js';
import type { ClusterConfig } from './types.js';

/** Entries of a map stringified per step: a few hundred small objects, well under a millisecond. */
const entriesPerStep = 200;

/**
 * Yields between pieces and returns the text, which equals JSON.stringify(c) (keys in insertion
 * order, undefined values left out, as JSON.stringify does). The text is remembered as
 * configJson's, so the writes that follow (store, own copy) do not make it again.
 */
export function* configJsonSteps(c: ClusterConfig): Generator<void, string> {
  const cached = configJsonCached(c);
  if (cached !== undefined) return cached;
  const parts: string[] = [];
  let firstKey = true;
  for (const [key, value] of Object.entries(c)) {
    if (value === undefined || typeof value === 'function') continue;
    parts.push(`${firstKey ? '{' : ','}${JSON.stringify(key)}:`);
    firstKey = false;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      parts.push(JSON.stringify(value));
      continue;
    }
    parts.push('{');
    let first = true;
    let n = 0;
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v === undefined || typeof v === 'function') continue;
      parts.push(`${first ? '' : ','}${JSON.stringify(k)}:${JSON.stringify(v)}`);
      first = false;
      if (++n % entriesPerStep === 0) yield;
    }
    parts.push('}');
  }
  parts.push(firstKey ? '{}' : '}');
  const json = parts.join('');
  noteConfigJson(c, json);
  return json;
}
