// V8 settings clusterd applies to its own process, whatever flags Node.js was started with.

import { setFlagsFromString } from 'node:v8';

/**
 * A young generation of 1 MiB per semi-space: the semi-space keeps its first size instead of
 * growing to 16 MiB (`node bin/clusterd.js` from a unit file has no --max-semi-space-size). Node.js
 * sets V8's flags back to its command line's when it creates a worker thread: call this again
 * after each one.
 */
export function keepYoungGenerationSmall(): void {
  setFlagsFromString('--semi-space-growth-factor=1');
}
