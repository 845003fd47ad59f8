import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkpointMagic, decodeCheckpoint, encodeFrame, scanLog, type Frame } from './log-codec.js';

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
