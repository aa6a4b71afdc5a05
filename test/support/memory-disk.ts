/** A Disk over bytes in memory, for the readers' and probes' tests and the fuzzers. */
import type { Disk } from '../../src/io/disk.js';

export function memoryDisk(bytes: Uint8Array, sectorSize = 512): Disk {
  return {
    sectorSize,
    size: bytes.length,
    readAt(offset, length) {
      if (offset >= bytes.length || offset < 0) return new Uint8Array(0);
      return bytes.subarray(offset, Math.min(bytes.length, offset + length));
    },
  };
}
