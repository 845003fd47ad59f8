#!/usr/bin/env -S node --max-semi-space-size=1
// clusterd: the node service. The code lives in dist/ (npm run build).
import { setFlagsFromString } from 'node:v8';

// A young generation of 1 MiB per semi-space, however Node.js was started (`node bin/clusterd.js`
// from a unit file gets no flag): the semi-space keeps its first size instead of growing to 16 MiB.
// Set before the daemon's code loads; the heartbeat thread has its own bound (resourceLimits).
setFlagsFromString('--semi-space-growth-factor=1');
const { main } = await import('../dist/src/daemon/main.js');

main(process.argv.slice(2)).catch((e) => {
  process.stderr.write(`error[INTERNAL]: ${e?.stack ?? e}\n`);
  process.exit(1);
});
