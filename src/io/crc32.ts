/**
 * CRC-32 as GPT and zlib use it (IEEE 802.3, reflected polynomial 0xEDB88320, seed and final xor
 * ~0). Node's own zlib.crc32 does the bytes where it exists (Node 20.15+); the table is the
 * fallback for older releases. Both are made at the first CRC: zlib costs a listing's start some
 * milliseconds, and only a GPT header needs a CRC.
 */
import { lazyBuiltin } from './builtin.js';

const zlibModule = lazyBuiltin<typeof import('node:zlib')>('node:zlib');

let table: Uint32Array | undefined;

function makeTable(): Uint32Array {
  const made = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    made[n] = c >>> 0;
  }
  return made;
}

/** The JavaScript table form; exported so tests can check both paths agree. */
export function tableCrc32Update(crc: number, bytes: Uint8Array): number {
  table ??= makeTable();
  const lookup = table;
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = lookup[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

let update: ((crc: number, bytes: Uint8Array) => number) | undefined;

/** Continue a running CRC over more bytes; start with `crc32Update(0, …)`. */
export function crc32Update(crc: number, bytes: Uint8Array): number {
  if (!update) {
    const native = (zlibModule() as { crc32?: (data: Uint8Array, value: number) => number }).crc32;
    update = typeof native === 'function' ? (crc, bytes) => native(bytes, crc) >>> 0 : tableCrc32Update;
  }
  return update(crc, bytes);
}

/** CRC-32 of `bytes` as an unsigned 32-bit number. */
export const crc32 = (bytes: Uint8Array): number => crc32Update(0, bytes);
