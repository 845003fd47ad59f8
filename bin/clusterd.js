#!/usr/bin/env node
// clusterd: the node service. The code lives in dist/ (npm run build).
import { applyYoungGeneration } from '../dist/src/node/heap-flags.js';

// Before the daemon's code loads (its modules are the first large allocation).
applyYoungGeneration();
const { main } = await import('../dist/src/daemon/main.js');

main(process.argv.slice(2)).catch((e) => {
  process.stderr.write(`error[INTERNAL]: ${e?.stack ?? e}\n`);
  process.exit(1);
});
