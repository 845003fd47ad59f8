// `clusterd quorum-log verify|dump`: read-only inspection of the cluster database, either in
// the quorum store (--quorum) or in a node's local copy (--data-dir). Verify exits 1 when it
// finds damage; dump prints every record with its seq, term and checksum.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeCheckpoint, scanLog } from '../core/log-codec.js';
import { crc32c } from '../core/crc32c.js';
import { logReadMax } from '../core/limits.js';
import { openStore, parseQuorumSpec } from '../store/index.js';

type Out = (line: string) => void;

export async function quorumLogCommand(action: string, o: { quorum?: string; dataDir?: string; json?: boolean }, out: Out): Promise<number> {
  if (action !== 'verify' && action !== 'dump') {
    out(`error[BAD_ARGUMENT]: unknown action '${action}'\nhint: clusterd quorum-log verify|dump --quorum dir:PATH (or --data-dir DIR)`);
    return 2;
  }
  if (o.dataDir) return inspectLocal(action, o.dataDir, !!o.json, out);
  if (!o.quorum) {
    out('error[BAD_ARGUMENT]: name what to inspect\nhint: --quorum dir:PATH (the quorum store) or --data-dir DIR (a node\'s local copy)');
    return 2;
  }
  return inspectStore(action, o.quorum, !!o.json, out);
}

async function inspectStore(action: string, spec: string, json: boolean, out: Out): Promise<number> {
  const parsed = parseQuorumSpec(spec);
  if (!parsed.ok) { out(parsed.error.format()); return 2; }
  const store = openStore(spec);
  const opened = await store.open();
  if (!opened.ok) { out(opened.error.format()); return 2; }
  try {
    const cp = await store.readCheckpoint();
    const head = await store.logHead();
    if (!cp.ok) {
      out(`checkpoint: DAMAGED: ${cp.error.message}`);
      return 1;
    }
    const c = cp.value!;
    out(json ? JSON.stringify({ checkpoint: { seq: c.seq, term: c.term, crc: c.crc }, head }) : `checkpoint: seq ${c.seq} term ${c.term} crc ${hex(c.crc)} (${Object.keys(c.config.resources).length} resources, ${Object.keys(c.config.groups).length} groups)`);
    let after = c.seq;
    let count = 0;
    for (;;) {
      const page = await store.readLog(after, logReadMax);
      if (!page.ok) {
        out(`log: DAMAGED after seq ${after}: ${page.error.message}`);
        out(`last good seq: ${after}; head: ${head}`);
        return 1;
      }
      for (const r of page.value) {
        if (action === 'dump') out(json ? JSON.stringify(r) : `seq ${r.seq} term ${r.term} crc ${hex(r.crc)} ${JSON.stringify(r.update)}`);
        after = r.seq;
        count++;
      }
      if (page.value.length < logReadMax) break;
    }
    out(`log: ${count} records after the checkpoint, seq ${c.seq + 1}..${after}, intact; head ${head}`);
    return 0;
  } finally {
    await store.close();
  }
}

function inspectLocal(action: string, dataDir: string, json: boolean, out: Out): number {
  const dir = join(dataDir, 'db');
  const cpPath = join(dir, 'checkpoint');
  const logPath = join(dir, 'quolog');
  if (!existsSync(cpPath)) { out(`error[BAD_ARGUMENT]: no local copy in ${dir}`); return 2; }
  let bad = false;
  const cp = decodeCheckpoint(readFileSync(cpPath));
  if (!cp.ok) { out(`checkpoint ${cpPath}: DAMAGED: ${cp.reason}`); bad = true; }
  else out(`checkpoint ${cpPath}: seq ${cp.frame.seq} term ${cp.frame.term}`);
  const buf = existsSync(logPath) ? readFileSync(logPath) : Buffer.alloc(0);
  const scan = scanLog(buf);
  for (const f of scan.frames) {
    if (action === 'dump') out(json ? JSON.stringify(f) : `seq ${f.seq} term ${f.term} crc ${hex(crc32c(new TextEncoder().encode(f.payload)))} ${f.payload}`);
  }
  const last = scan.frames[scan.frames.length - 1];
  out(`log ${logPath}: ${scan.frames.length} intact records${last ? ` up to seq ${last.seq}` : ''}, ${scan.goodBytes} bytes`);
  if (scan.tornBytes > 0) out(`torn tail: ${scan.tornBytes} bytes at byte ${scan.goodBytes} (cut automatically when the node starts)`);
  if (scan.damage) {
    out(`DAMAGED at byte ${scan.damage.offset}: ${scan.damage.reason}; a valid record follows at byte ${scan.damage.resumesAt}`);
    bad = true;
  }
  return bad ? 1 : 0;
}

const hex = (n: number) => n.toString(16).padStart(8, '0');
