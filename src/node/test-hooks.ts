// Test-only hooks of `clusterd start`, installed only when CLUSTERD_TEST_HOOKS=1 (daemon/main.ts reads it): SIGUSR2 blocks
// the main thread (a busy loop) for the milliseconds written in DATA_DIR/block-ms, as a burst of
// work would, so that real-process tests can show what the heartbeat thread does meanwhile.
// Also: where the resource monitor's heartbeat channel lives.

import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

/** Unix socket paths are limited to 107 bytes on Linux; a longer data directory path falls back to the temp dir. */
const socketPathBytesMax = 100;

export function heartbeatSocketPath(dataDir: string): string {
  const inData = path.join(dataDir, 'heartbeat.sock');
  if (Buffer.byteLength(inData) <= socketPathBytesMax) return inData;
  return path.join(tmpdir(), `clusterd-heartbeat-${process.pid}-${randomBytes(4).toString('hex')}.sock`);
}

/** The file SIGUSR2 reads the block's length from (test hooks only). */
export const blockFileName = 'block-ms';

export function installTestHooks(logger: { warn: (o: object, msg: string) => void }, dataDir: string): void {
  logger.warn({ event: 'TEST_HOOKS' }, 'test hooks are on (CLUSTERD_TEST_HOOKS=1): SIGUSR2 blocks the main thread');
  process.on('SIGUSR2', () => {
    const ms = Number(readFileSync(path.join(dataDir, blockFileName), 'utf8').trim());
    logger.warn({ event: 'TEST_BLOCK' }, `blocking the main thread for ${ms} ms`);
    const until = performance.now() + ms;
    while (performance.now() < until) { /* busy, as a long burst of work */ }
  });
}
