import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32c, recordChecksum } from './crc32c.js';

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
