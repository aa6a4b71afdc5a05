import { crc32Update } from '../../io/crc32.js';

/** lvm2's INITIAL_CRC, the seed of every checksum it writes. */
export const LVM_INITIAL_CRC = 0xf597a6cf;

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
  update: (crc: number, bytes: Uint8Array) => number = crc32Update,
): number {
  return ~update(~previous >>> 0, bytes) >>> 0;
}
