/**
 * CRC-32 as GPT and zlib use it (IEEE 802.3, reflected polynomial 0xEDB88320, seed and final xor
 * ~0). Node's own zlib.crc32 does the bytes where it exists (Node 20.15+); the table is the
 * fallback for older releases.
 */
import * as zlib from 'node:zlib';

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** The JavaScript table form; exported so tests can check both paths agree. */
export function tableCrc32Update(crc: number, bytes: Uint8Array): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

// A namespace import: a named import of crc32 would fail to link on Node releases without it.
const native = (zlib as { crc32?: (data: Uint8Array, value: number) => number }).crc32;

/** Continue a running CRC over more bytes; start with `crc32Update(0, …)`. */
export const crc32Update: (crc: number, bytes: Uint8Array) => number =
  typeof native === 'function' ? (crc, bytes) => native(bytes, crc) >>> 0 : tableCrc32Update;

/** CRC-32 of `bytes` as an unsigned 32-bit number. */
export const crc32 = (bytes: Uint8Array): number => crc32Update(0, bytes);
