// CRC-32C (Castagnoli), the checksum of quorum-log records and checkpoints. Table-driven,
// pure; a few hundred MB/s is far more than the log needs.

const table = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

export function crc32c(bytes: Uint8Array, seed = 0): number {
  let c = ~seed >>> 0;
  for (let i = 0; i < bytes.length; i++) c = table[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

const encoder = new TextEncoder();

/** Checksum of a log record's identity and payload: seq, term and the JSON text together. */
export function recordChecksum(seq: number, term: number, payloadJson: string): number {
  return crc32c(encoder.encode(`${seq}:${term}:${payloadJson}`));
}
