// Binary codec of quorum-log files and checkpoint files (a node's local copy of the cluster
// database). Pure: bytes in, records or a precise verdict out; it never throws on bad input.
//
// Record frame (little endian):
//   0  magic 'CLQR' (u32)     4  version (u8) = 1, 3 reserved bytes
//   8  seq (u64)             16  term (u64)          24  payload length (u32)
//  28  CRC-32C over bytes 0..27 and the payload (u32)  32  payload (UTF-8 JSON)
// Checkpoint file: the same frame with magic 'CLQC'; its payload is the configuration.
//
// Verdicts when scanning a log: a frame that is incomplete at the end of the file, or bad with
// no valid frame after it, is a torn tail (a crash during an append: cut it). A bad frame
// followed by a valid one is damage in the middle: never skipped.

import { crc32c, crc32cSeen } from './crc32c.js';

export const recordMagic = 0x52514c43; // 'CLQR'
export const checkpointMagic = 0x43514c43; // 'CLQC'
export const frameVersion = 1;
export const headerBytes = 32;
/** A record larger than this is corrupt: a cluster database record is a few KiB at most. */
export const payloadBytesMax = 16 * 1024 * 1024;

export interface Frame {
  seq: number;
  term: number;
  payload: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

function putU64(v: DataView, at: number, n: number): void {
  v.setUint32(at, n % 0x1_0000_0000, true);
  v.setUint32(at + 4, Math.floor(n / 0x1_0000_0000), true);
}
function getU64(v: DataView, at: number): number {
  return v.getUint32(at + 4, true) * 0x1_0000_0000 + v.getUint32(at, true);
}

export function encodeFrame(f: Frame, magic = recordMagic): Uint8Array {
  const payload = encoder.encode(f.payload);
  const out = new Uint8Array(headerBytes + payload.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, magic, true);
  out[4] = frameVersion;
  putU64(v, 8, f.seq);
  putU64(v, 16, f.term);
  v.setUint32(24, payload.length, true);
  out.set(payload, headerBytes);
  const crc = crc32c(out.subarray(headerBytes), crc32c(out.subarray(0, 28)));
  v.setUint32(28, crc, true);
  return out;
}

export type FrameVerdict =
  | { kind: 'frame'; frame: Frame; bytes: number }
  /** Not enough bytes for the frame the header announces (or for a header). */
  | { kind: 'incomplete' }
  | { kind: 'bad'; reason: string };

/** Decode one frame at `offset`. */
export function decodeFrame(buf: Uint8Array, offset: number, magic = recordMagic, view?: DataView): FrameVerdict {
  return decodeAt(buf, offset, magic, view ?? new DataView(buf.buffer, buf.byteOffset, buf.length), undefined, { bits: 0 });
}

/**
 * decodeFrame with what a scan keeps from frame to frame: one view over the whole buffer, the
 * buffer as latin1 text if the caller has it, and where the CRC loop notes non-ASCII bytes.
 * An ASCII payload (the usual case) is sliced out of `text`; any other is decoded (and checked)
 * as UTF-8. Both give the same string.
 */
function decodeAt(buf: Uint8Array, offset: number, magic: number, v: DataView, text: string | undefined, seen: { bits: number }): FrameVerdict {
  if (buf.length - offset < headerBytes) return { kind: 'incomplete' };
  if (v.getUint32(offset, true) !== magic) return { kind: 'bad', reason: 'bad magic' };
  if (v.getUint8(offset + 4) !== frameVersion) return { kind: 'bad', reason: `unknown frame version ${v.getUint8(offset + 4)}` };
  const len = v.getUint32(offset + 24, true);
  if (len > payloadBytesMax) return { kind: 'bad', reason: `payload length ${len} exceeds ${payloadBytesMax}` };
  if (buf.length - offset < headerBytes + len) return { kind: 'incomplete' };
  const start = offset + headerBytes;
  const end = start + len;
  if (crc32cSeen(buf, crc32c(buf, 0, offset, offset + 28), start, end, seen) !== v.getUint32(offset + 28, true)) return { kind: 'bad', reason: 'checksum mismatch' };
  let payload: string;
  if (text !== undefined && seen.bits < 0x80) payload = text.slice(start, end);
  else {
    try { payload = decoder.decode(buf.subarray(start, end)); } catch { return { kind: 'bad', reason: 'payload is not UTF-8' }; }
  }
  return { kind: 'frame', frame: { seq: getU64(v, offset + 8), term: getU64(v, offset + 16), payload }, bytes: headerBytes + len };
}

export interface LogScan {
  frames: Frame[];
  /** Byte length of the intact prefix: where the next append goes, and where a torn tail is cut. */
  goodBytes: number;
  /** Bytes after goodBytes that are a torn tail (0 if none). */
  tornBytes: number;
  /** Damage before the tail: the first bad frame's offset and the next valid frame's offset. */
  damage: { offset: number; reason: string; resumesAt: number } | null;
}

/**
 * Scan a whole log file. Seqs must grow by one from frame to frame; a gap or a repeat is
 * damage (a frame from another history) and reported like a bad checksum. `latin1`, if given,
 * is the same bytes as text, one character per byte (the shell's Buffer.latin1Slice): ASCII
 * payloads are then sliced from it rather than decoded one by one (a replay of a million
 * records spends a good part of its time there otherwise). The result is the same without it.
 */
export function scanLog(buf: Uint8Array, latin1?: string): LogScan {
  const frames: Frame[] = [];
  const rest = scanLogEach(buf, latin1, (f) => { frames.push(f); });
  return { frames, ...rest };
}

/**
 * scanLog without keeping the frames: `visit` sees each intact frame in order, as it is found.
 * Frames visited before damage is found are still visited: a caller that must not use them when
 * the log turns out damaged (a replay) decides after the scan, from `damage`.
 */
export function scanLogEach(buf: Uint8Array, latin1: string | undefined, visit: (f: Frame) => void): Omit<LogScan, 'frames'> {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.length);
  const text = latin1 !== undefined && latin1.length === buf.length ? latin1 : undefined;
  const seen = { bits: 0 };
  let prevSeq = -1;
  let at = 0;
  while (at < buf.length) {
    const d = decodeAt(buf, at, recordMagic, view, text, seen);
    if (d.kind === 'frame' && (prevSeq < 0 || d.frame.seq === prevSeq + 1)) {
      prevSeq = d.frame.seq;
      at += d.bytes;
      visit(d.frame);
      continue;
    }
    const reason = d.kind === 'bad' ? d.reason : d.kind === 'incomplete' ? 'incomplete frame' : `seq ${d.frame.seq} does not follow ${prevSeq}`;
    const resumesAt = findNextFrame(buf, at + 1);
    if (resumesAt < 0) return { goodBytes: at, tornBytes: buf.length - at, damage: null };
    return { goodBytes: at, tornBytes: 0, damage: { offset: at, reason, resumesAt } };
  }
  return { goodBytes: at, tornBytes: 0, damage: null };
}

/** The offset of the next complete, valid frame at or after `from`, or -1. */
export function findNextFrame(buf: Uint8Array, from: number): number {
  for (let i = from; i + headerBytes <= buf.length; i++) {
    if (buf[i] !== 0x43 || buf[i + 1] !== 0x4c || buf[i + 2] !== 0x51 || buf[i + 3] !== 0x52) continue;
    if (decodeFrame(buf, i).kind === 'frame') return i;
  }
  return -1;
}

export type CheckpointVerdict = { ok: true; frame: Frame } | { ok: false; reason: string };

/** A checkpoint file is exactly one checkpoint frame; anything else is damage. */
export function decodeCheckpoint(buf: Uint8Array): CheckpointVerdict {
  const d = decodeFrame(buf, 0, checkpointMagic);
  if (d.kind === 'incomplete') return { ok: false, reason: 'checkpoint file is truncated' };
  if (d.kind === 'bad') return { ok: false, reason: `checkpoint ${d.reason}` };
  if (d.bytes !== buf.length) return { ok: false, reason: `checkpoint file has ${buf.length - d.bytes} trailing bytes` };
  return { ok: true, frame: d.frame };
}
