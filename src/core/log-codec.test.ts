import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkpointMagic, decodeCheckpoint, encodeFrame, scanLog, type Frame } from './log-codec.js';
import { crc32c } from './crc32c.js';

const concat = (parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
};

const framesArb = fc.array(fc.string({ maxLength: 60 }), { minLength: 1, maxLength: 8 }).chain((payloads) =>
  fc.record({ start: fc.integer({ min: 1, max: 2 ** 40 }), term: fc.integer({ min: 0, max: 2 ** 40 }) }).map(({ start, term }) =>
    payloads.map((p, i): Frame => ({ seq: start + i, term, payload: JSON.stringify({ p }) }))));

const encodeAll = (fs: Frame[]) => concat(fs.map((f) => encodeFrame(f)));

test('frames round-trip, with seqs and terms beyond 32 bits', () => {
  fc.assert(fc.property(framesArb, (frames) => {
    const scan = scanLog(encodeAll(frames));
    assert.deepEqual(scan.frames, frames);
    assert.equal(scan.tornBytes, 0);
    assert.equal(scan.damage, null);
  }));
});

test('random bytes never throw and never yield a frame', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
    const scan = scanLog(bytes);
    assert.equal(scan.frames.length, 0);
    assert.equal(scan.goodBytes + scan.tornBytes <= bytes.length, true);
  }));
});

test('a truncation at any offset is a torn tail: an exact prefix of the records, never damage', () => {
  fc.assert(fc.property(framesArb, fc.nat(), (frames, cut) => {
    const buf = encodeAll(frames);
    const at = cut % (buf.length + 1);
    const scan = scanLog(buf.subarray(0, at));
    assert.equal(scan.damage, null);
    assert.deepEqual(scan.frames, frames.slice(0, scan.frames.length));
    assert.equal(scan.goodBytes + scan.tornBytes, at);
    const whole = frames.findIndex((_, i) => encodeAll(frames.slice(0, i + 1)).length > at);
    assert.equal(scan.frames.length, whole < 0 ? frames.length : whole);
  }));
});

test('a single bit flip anywhere is detected: the records before it, never a wrong record', () => {
  fc.assert(fc.property(framesArb, fc.nat(), fc.integer({ min: 0, max: 7 }), (frames, pos, bit) => {
    const buf = encodeAll(frames).slice();
    const at = pos % buf.length;
    buf[at]! ^= 1 << bit;
    const scan = scanLog(buf);
    // Every frame returned is an original frame, in order, and the flipped one is not among them.
    assert.deepEqual(scan.frames, frames.slice(0, scan.frames.length));
    assert.ok(scan.frames.length < frames.length, 'the damaged record is not returned');
    // Damage before the last record is reported as damage, never as a torn tail to cut.
    const lastStart = encodeAll(frames.slice(0, -1)).length;
    if (at < lastStart) assert.ok(scan.damage !== null || scan.frames.length === frames.length - 1);
  }));
});

test('checkpoint files: any bit flip or truncation is refused', () => {
  fc.assert(fc.property(fc.string({ maxLength: 200 }), fc.nat(), fc.integer({ min: 0, max: 7 }), (payload, pos, bit) => {
    const buf = encodeFrame({ seq: 7, term: 3, payload }, checkpointMagic).slice();
    assert.equal(decodeCheckpoint(buf).ok, true);
    const flipped = buf.slice();
    flipped[pos % buf.length]! ^= 1 << bit;
    assert.equal(decodeCheckpoint(flipped).ok, false);
    assert.equal(decodeCheckpoint(buf.subarray(0, pos % buf.length)).ok, false);
  }));
});

test('a scan given the bytes as latin1 text finds exactly the same frames, verdicts and damage', () => {
  const anyFrames = fc.array(fc.string({ unit: 'binary', maxLength: 40 }), { minLength: 1, maxLength: 8 }).map((payloads) =>
    payloads.map((p, i): Frame => ({ seq: 1 + i, term: 2, payload: i % 2 === 0 ? JSON.stringify({ p }) : p })));
  fc.assert(fc.property(anyFrames, fc.nat(), fc.nat(), fc.integer({ min: 0, max: 7 }), (frames, cut, pos, bit) => {
    const whole = encodeAll(frames);
    const flipped = whole.slice();
    flipped[pos % flipped.length]! ^= 1 << bit;
    for (const buf of [whole, whole.subarray(0, cut % (whole.length + 1)), flipped]) {
      const latin1 = Buffer.from(buf.buffer, buf.byteOffset, buf.length).toString('latin1');
      assert.deepEqual(scanLog(buf, latin1), scanLog(buf));
    }
    assert.deepEqual(scanLog(whole, Buffer.from(whole).toString('latin1')).frames, frames);
  }), { numRuns: 500 });
});

test('a payload that is not UTF-8 is bad with or without the latin1 text', () => {
  const good = encodeFrame({ seq: 1, term: 1, payload: '{"a":1}' });
  const bytes = new TextEncoder().encode('{"a":"\u00e9"}');
  const badUtf8 = Uint8Array.from(bytes, (b) => (b === 0xc3 ? 0xff : b)); // 0xff never occurs in UTF-8
  const frame = encodeFrame({ seq: 2, term: 1, payload: 'x'.repeat(badUtf8.length) });
  frame.set(badUtf8, 32);
  // Recompute the CRC so only the UTF-8 check can refuse it.
  const v = new DataView(frame.buffer);
  v.setUint32(28, crc32c(frame, crc32c(frame, 0, 0, 28), 32), true);
  const buf = concat([good, frame, good.map((b, i) => (i === 8 ? 3 : b))]);
  const fixSeq = new DataView(buf.buffer, good.length + frame.length);
  fixSeq.setUint32(28, crc32c(buf, crc32c(buf, 0, good.length + frame.length, good.length + frame.length + 28), good.length + frame.length + 32), true);
  for (const scan of [scanLog(buf), scanLog(buf, Buffer.from(buf).toString('latin1'))]) {
    assert.equal(scan.frames.length, 1);
    assert.equal(scan.damage?.reason, 'payload is not UTF-8');
  }
});
