/**
 * Block tables of container images (qcow2 L1/L2, VMDK grain directories and tables, VHD and VHDX
 * BATs, VDI block maps), read in 4 KiB slices as they are needed and kept in one cache per image
 * that is bounded in bytes. Reading a partition table and probing a few partitions of a 20 GiB
 * image then touches a few slices, not megabytes of tables, and a hostile header that claims a
 * huge table costs nothing until an entry is asked for.
 */
import type { Disk } from '../io/disk.js';

export const SLICE_BYTES = 4096;

/** Least-recently-used cache of byte arrays, bounded by their total size. */
export class ByteCache<K> {
  private readonly entries = new Map<K, Uint8Array>();
  private bytes = 0;

  constructor(private readonly maxBytes: number) {}

  get(key: K): Uint8Array | undefined {
    const value = this.entries.get(key);
    if (value) {
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  set(key: K, value: Uint8Array): void {
    const old = this.entries.get(key);
    if (old) {
      this.entries.delete(key);
      this.bytes -= old.length;
    }
    this.entries.set(key, value);
    this.bytes += value.length;
    for (const [oldKey, old] of this.entries) {
      if (this.bytes <= this.maxBytes || this.entries.size === 1) break;
      this.entries.delete(oldKey);
      this.bytes -= old.length;
    }
  }
}

/** One table: `count` entries of `entrySize` bytes at `offset` of `file`. */
export interface TableSpec {
  offset: number;
  count: number;
  entrySize: number;
}

/**
 * Entry `index` of a table as [bytes, position of the entry in them]. `short` is called (and
 * must throw) when the slice holding the entry lies past the end of the file.
 */
export function tableEntry(
  file: Disk,
  cache: ByteCache<number>,
  table: TableSpec,
  index: number,
  short: () => never,
): [Uint8Array, number] {
  const byte = index * table.entrySize;
  const sliceStart = byte - (byte % SLICE_BYTES);
  const at = table.offset + sliceStart;
  let slice = cache.get(at);
  // A slice is cached by where it starts in the file; a shorter one (a table's tail) is re-read
  // when a longer table asks for more from the same place.
  const wanted = Math.min(SLICE_BYTES, table.count * table.entrySize - sliceStart);
  if (!slice || slice.length < wanted) {
    slice = file.readAt(at, wanted);
    if (slice.length < wanted) short();
    cache.set(at, slice);
  }
  return [slice, byte - sliceStart];
}
