// `clusterd quorum-log verify|dump`: read-only inspection of the cluster database, either in
// the quorum store (--quorum) or in a node's local copy (--data-dir). Verify exits 1 when it
// finds damage; dump prints every record with its seq, term and checksum.

import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeCheckpoint, scanLog } from '../core/log-codec.js';
import { crc32c } from '../core/crc32c.js';
import { logReadMax } from '../core/limits.js';
import { openStore, parseQuorumSpec, type QuorumSpec, type StoreOptions } from '../store/index.js';
import type { ClusterError, Result } from '../core/errors.js';
import { ok } from '../core/errors.js';
import { planLoad } from '../core/load-plan.js';
import type { LeaseRecord, QuorumStore } from '../store/types.js';
import { leaseFileName, readLeaseSlots } from '../store/lease-file.js';
import { readLeaseFloorsAt } from '../store/dir.js';
import { refuseWhileOthersRun } from './rebuild-guard.js';
import { LocalDb } from './local-db.js';

type Out = (line: string) => void;

export async function quorumLogCommand(action: string, o: { quorum?: string; dataDir?: string; json?: boolean }, out: Out, storeOptions: (spec: QuorumSpec) => StoreOptions = () => ({})): Promise<number> {
  if (action !== 'verify' && action !== 'dump') {
    out(`error[BAD_ARGUMENT]: unknown action '${action}'\nhint: clusterd quorum-log verify|dump --quorum dir:PATH (or --data-dir DIR)`);
    return 2;
  }
  if (o.dataDir) return inspectLocal(action, o.dataDir, !!o.json, out);
  if (!o.quorum) {
    out('error[BAD_ARGUMENT]: name what to inspect\nhint: --quorum dir:PATH (the quorum store) or --data-dir DIR (a node\'s local copy)');
    return 2;
  }
  return inspectStore(action, o.quorum, !!o.json, out, storeOptions);
}

async function inspectStore(action: string, spec: string, json: boolean, out: Out, storeOptions: (spec: QuorumSpec) => StoreOptions): Promise<number> {
  const parsed = parseQuorumSpec(spec);
  if (!parsed.ok) { out(parsed.error.format()); return 2; }
  const store = openStore(parsed.value, storeOptions(parsed.value));
  const opened = await store.open();
  if (!opened.ok) { out(opened.error.format()); return opened.error.code === 'QUORUM_DB_DAMAGED' ? 1 : 2; }
  try {
    const integrity = await store.checkIntegrity?.();
    if (integrity && !integrity.ok) { out(`database: DAMAGED: ${integrity.error.format()}`); return 1; }
    const cp = await store.readCheckpoint();
    const head = await store.logHead();
    if (!cp.ok) {
      out(`checkpoint: DAMAGED: ${cp.error.message}`);
      return 1;
    }
    const c = cp.value!;
    const history = await store.readHistory?.();
    const hist = history?.ok ? ` history ${history.value.id}` : '';
    out(json ? JSON.stringify({ checkpoint: { seq: c.seq, term: c.term, crc: c.crc }, head, history: history?.ok ? history.value : null }) : `checkpoint: seq ${c.seq} term ${c.term} crc ${hex(c.crc)}${hist} (${Object.keys(c.config.resources).length} resources, ${Object.keys(c.config.groups).length} groups)`);
    let after = c.seq;
    let count = 0;
    // A damaged page is read again one record at a time: every intact record before the damage is shown.
    let step = logReadMax;
    for (;;) {
      const page = await store.readLog(after, step);
      if (!page.ok) {
        if (page.error.code === 'QUORUM_LOG_DAMAGED' && step > 1) { step = 1; continue; }
        out(`log: DAMAGED after seq ${after}: ${page.error.message}`);
        out(`last good seq: ${after} (${count} intact records after the checkpoint); head: ${head}`);
        return 1;
      }
      for (const r of page.value) {
        if (action === 'dump') out(json ? JSON.stringify(r) : `seq ${r.seq} term ${r.term} crc ${hex(r.crc)} ${JSON.stringify(r.update)}`);
        after = r.seq;
        count++;
      }
      if (page.value.length === 0 || (page.value.length < step && step === logReadMax)) break;
    }
    out(`log: ${count} records after the checkpoint, seq ${c.seq + 1}..${after}, intact; head ${head}`);
    return 0;
  } catch (e) {
    const err = e as ClusterError;
    if (err?.code === 'QUORUM_DB_DAMAGED') { out(`database: DAMAGED: ${err.format()}`); return 1; }
    throw e;
  } finally {
    await store.close();
  }
}

/**
 * `clusterd start` on a store whose database cannot be opened: with --reset-quorum-log and a copy
 * in `dataDir`, set the database aside and make an empty one (node.ts then resets into it from
 * the copy, above the copy's floor); otherwise the refusal load-plan gives.
 */
export async function rebuildUnopenableStore(store: QuorumStore, dataDir: string, damage: ClusterError,
  switches: { resetQuorumLog: boolean; noQuorumLogging: boolean; acceptUnreadableFloors?: boolean }, guard: { self: string; leaseTtlMs: number }): Promise<Result<string>> {
  const db = new LocalDb(dataDir);
  const copy = db.load().copy;
  db.close();
  // The lease file is apart from the database: its slots' floors are read before anything is rebuilt.
  const slots = store.kind === 'dir' ? readLeaseFloorsAt(store.location.replace(/^dir:/, '')) : { floors: [], unreadable: [] };
  const floors = { copy: db.readState().floor, recordTerm: copy?.term ?? 0, slots: slots.floors.map((f) => ({ where: f.where, floor: f.floor })), unreadable: slots.unreadable };
  const plan = planLoad({ switches, copy: copy ? { seq: copy.seq, history: db.readState().history } : null, store: { readable: false, reason: damage.message }, floors, where: { store: store.location, copy: db.dir } });
  if (plan.kind === 'refuse') return { ok: false, error: plan.error };
  if (plan.kind !== 'reset' || !plan.rebuild || !store.rebuildDamaged || !copy) return { ok: false, error: damage };
  const alone = await refuseWhileOthersRun({ ...guard, store: store.location, readLeases: async () => readLeaseFileOf(store),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) });
  if (!alone.ok) return alone;
  const rebuilt = await store.rebuildDamaged(copy.config.name, Date.now());
  if (!rebuilt.ok) return rebuilt;
  return ok(`the database of ${store.location} could not be opened (${damage.message}): set aside as ${rebuilt.value}, made anew; ${plan.note}`);
}

/** The lease slots of a dir store whose database cannot be opened (the lease file is apart from it). */
function readLeaseFileOf(store: QuorumStore): LeaseRecord[] {
  if (store.kind !== 'dir') return [];
  const fd = openSync(join(store.location.replace(/^dir:/, ''), leaseFileName), 'r');
  try {
    return readLeaseSlots(fd).filter((l): l is LeaseRecord => l !== null);
  } finally {
    closeSync(fd);
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
