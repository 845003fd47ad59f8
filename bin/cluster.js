#!/usr/bin/env node
// `cluster`: the operator CLI. The code lives in src/cli (compiled to dist/); this shim wires
// process I/O, Ctrl-C and the exit code.
import { main } from '../dist/src/cli/main.js';

const controller = new AbortController();
process.on('SIGINT', () => {
  // First Ctrl-C ends --watch / --follow cleanly (exit 0); a second one exits at once.
  if (controller.signal.aborted) process.exit(130);
  controller.abort();
});

const code = await main(process.argv.slice(2), {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  env: process.env,
  isTty: process.stdout.isTTY === true,
  errIsTty: process.stderr.isTTY === true,
  signal: controller.signal,
});
process.exitCode = code;
// Flush stdout before exiting (a pipe may still hold output), then exit even if a socket lingers.
process.stdout.write('', () => process.exit(code));
