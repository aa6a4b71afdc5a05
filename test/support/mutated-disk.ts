/**
 * A Disk over an image with byte changes and a different size, without copying the image: the
 * fuzz tests mutate multi-megabyte images thousands of times.
 */
import type { Disk } from '../../src/io/disk.js';

export interface Mutation {
  /** Logical sector size the disk reports. */
  sectorSize: number;
  /** Size in bytes (may cut the image short). */
  size: number;
  /** byte offset → new value; later entries win. */
  bytes: ReadonlyArray<readonly [number, number]>;
}

/** Every read, for checking that readers stay on the disk. */
export interface ReadLog {
  offset: number;
  length: number;
}

export function mutatedDisk(base: Uint8Array, mutation: Mutation, log?: ReadLog[]): Disk {
  const { size, sectorSize } = mutation;
  return {
    sectorSize,
    size,
    readAt(offset, length) {
      log?.push({ offset, length });
      if (offset < 0 || offset >= size) return new Uint8Array(0);
      const end = Math.min(size, offset + length);
      const out = new Uint8Array(end - offset);
      out.set(base.subarray(offset, Math.min(end, base.length)));
      for (const [at, value] of mutation.bytes) {
        if (at >= offset && at < end) out[at - offset] = value;
      }
      return out;
    },
  };
}
