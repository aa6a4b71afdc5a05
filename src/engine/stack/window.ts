import type { Disk } from '../../io/disk.js';

/** `size` bytes of `disk` from `offset`, as a Disk of their own (a partition read as a device). */
export function windowDisk(disk: Disk, offset: number, size: number): Disk {
  const end = Math.min(disk.size, offset + size);
  const length = Math.max(0, end - offset);
  return {
    sectorSize: disk.sectorSize,
    size: length,
    readAt(at, want) {
      if (at < 0 || at >= length || want <= 0) return new Uint8Array(0);
      return disk.readAt(offset + at, Math.min(want, length - at));
    },
  };
}
