import { crc32Update } from '../crc32.js';

/** lvm2's INITIAL_CRC, the seed of every checksum it writes. */
export const LVM_INITIAL_CRC = 0xf597a6cf;

/**
 * lvm2's calc_crc: the reflected 0xEDB88320 CRC-32 with neither the initial nor the final
 * inversion, seeded with LVM_INITIAL_CRC. Zlib's form inverts both ends, so inverting around it
 * gives lvm2's (and keeps one fast table for both). `previous` continues a running checksum, as
 * lvm2 does over the two pieces of a wrapped metadata text.
 */
export function lvmCrc(bytes: Uint8Array, previous = LVM_INITIAL_CRC): number {
  return ~crc32Update(~previous >>> 0, bytes) >>> 0;
}
