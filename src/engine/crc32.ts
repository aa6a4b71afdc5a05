/**
 * CRC-32 as GPT uses it (IEEE 802.3, reflected polynomial 0xEDB88320, seed and final xor ~0: the
 * same value zlib's crc32 gives).
 */

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** Continue a running CRC over more bytes; start with `crc32Update(0, …)`. */
export function crc32Update(crc: number, bytes: Uint8Array): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** CRC-32 of `bytes` as an unsigned 32-bit number. */
export const crc32 = (bytes: Uint8Array): number => crc32Update(0, bytes);
