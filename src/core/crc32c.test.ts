import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { crc32c, crc32cSeen, recordChecksum } from './crc32c.js';

test('crc32c matches the standard check value', () => {
  // The check value of CRC-32C for "123456789" (RFC 3720, appendix B.4).
  assert.equal(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
});

test('record checksum covers seq, term and payload', () => {
  const a = recordChecksum(1, 1, '{"op":"node-add","node":"n1"}');
  assert.notEqual(a, recordChecksum(2, 1, '{"op":"node-add","node":"n1"}'));
  assert.notEqual(a, recordChecksum(1, 2, '{"op":"node-add","node":"n1"}'));
  assert.notEqual(a, recordChecksum(1, 1, '{"op":"node-add","node":"n2"}'));
});

/** CRC-32C one byte at a time, as first written: the reference for the eight-bytes-per-step version. */
function bytewise(bytes: Uint8Array, seed = 0): number {
  let c = ~seed >>> 0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  }
  return ~c >>> 0;
}

test('crc32c equals the bytewise CRC on any bytes, range and seed (fast-check)', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 100 }), fc.nat(), fc.nat(), fc.integer({ min: 0, max: 0xffffffff }), (bytes, a, b, seed) => {
    assert.equal(crc32c(bytes), bytewise(bytes));
    assert.equal(crc32c(bytes, seed), bytewise(bytes, seed));
    const start = a % (bytes.length + 1);
    const end = start + (b % (bytes.length - start + 1));
    assert.equal(crc32c(bytes, seed, start, end), bytewise(bytes.subarray(start, end), seed));
    // Continuing from the CRC of a prefix gives the CRC of the whole.
    assert.equal(crc32c(bytes, crc32c(bytes, 0, 0, start), start), crc32c(bytes));
    const seen = { bits: -1 };
    assert.equal(crc32cSeen(bytes, seed, start, end, seen), bytewise(bytes.subarray(start, end), seed));
    assert.equal(seen.bits < 0x80, bytes.subarray(start, end).every((x) => x < 0x80));
  }), { numRuns: 2_000 });
});
