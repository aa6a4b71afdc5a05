import type { Disk } from '../engine/disk.js';

/**
 * A bounded window of a disk: a partition, or the whole device. Probers read through it so no
 * read ever leaves the window, and a read that cannot be satisfied in full comes back as null
 * (a truncated image then simply does not match) instead of an exception.
 */
export interface Region {
  /** Usable bytes: the requested size, clipped to what the disk really holds. */
  readonly size: number;
  /** Exactly `length` bytes at `offset` inside the region, or null when they are not all there. */
  read(offset: number, length: number): Uint8Array | null;
}

export function regionOf(disk: Disk, offset: number, size: number): Region {
  const usable = Math.max(0, Math.min(size, disk.size - offset));
  const cache = new Map<string, Uint8Array | null>();
  return {
    size: usable,
    read(at, length) {
      if (!Number.isSafeInteger(at) || !Number.isSafeInteger(length)) return null;
      if (at < 0 || length <= 0 || at + length > usable) return null;
      const key = `${at}:${length}`;
      if (cache.has(key)) return cache.get(key) ?? null;
      const bytes = disk.readAt(offset + at, length);
      const result = bytes.length === length ? bytes : null;
      cache.set(key, result);
      return result;
    },
  };
}
