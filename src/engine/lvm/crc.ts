import * as zlib from 'node:zlib';
import { crc32Update } from '../crc32.js';

/** lvm2's INITIAL_CRC, the seed of every checksum it writes. */
export const LVM_INITIAL_CRC = 0xf597a6cf;

/** zlib's form: a running CRC continued over more bytes (Node 20.15+, else the table in crc32.ts). */
type Crc32Update = (crc: number, bytes: Uint8Array) => number;
// A namespace import: a named import of crc32 would fail to link on Node releases without it.
const zlibCrc32 = (zlib as { crc32?: (data: Uint8Array, value: number) => number }).crc32;
const nativeUpdate: Crc32Update | null =
  typeof zlibCrc32 === 'function' ? (crc, bytes) => zlibCrc32(bytes, crc) : null;

/**
 * lvm2's calc_crc: the reflected 0xEDB88320 CRC-32 with neither the initial nor the final
 * inversion, seeded with LVM_INITIAL_CRC. Zlib's form inverts both ends, so inverting around it
 * gives lvm2's. `previous` continues a running checksum, as lvm2 does over the two pieces of a
 * wrapped metadata text. Node's own zlib does the bytes when it can: a metadata text is read once
 * per process, before JavaScript table code would have been compiled.
 */
export function lvmCrc(
  bytes: Uint8Array,
  previous = LVM_INITIAL_CRC,
  update: Crc32Update = nativeUpdate ?? crc32Update,
): number {
  return ~update(~previous >>> 0, bytes) >>> 0;
}

/** The JavaScript table, for checking that both paths agree. */
export const tableCrc32Update: Crc32Update = crc32Update;
