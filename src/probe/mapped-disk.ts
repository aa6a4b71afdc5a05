import type { Disk } from '../io/disk.js';

/** Where one block of the guest's disk is. */
export type Block =
  /** Its bytes start at this offset of the image file. */
  | { kind: 'data'; offset: number }
  /** It reads as zeros, whatever an image below holds. */
  | { kind: 'zero' }
  /** It is not in this image: the image below (backing file, parent) has it, else it reads as zeros. */
  | { kind: 'below' }
  /** Its bytes, decoded in memory (a compressed cluster or grain): the whole block. */
  | { kind: 'bytes'; bytes: Uint8Array };

export interface MappedDiskSpec {
  /** The guest's disk size in bytes. */
  size: number;
  /** Bytes per block (cluster, grain, block); a power of two is not required. */
  blockSize: number;
  sectorSize: number;
  /** Where block `index` is. May throw (a damaged table). */
  locate(index: number): Block;
  /** Exactly `length` bytes at `offset` of the image file; throws when they are not all there. */
  readData(offset: number, length: number): Uint8Array;
  /** The image below, for `below` blocks: read where it has bytes, zeros past its end. */
  below?: Disk;
}

/**
 * The guest's disk of a container whose file holds blocks in any order (qcow2, sparse VMDK,
 * dynamic VHD, VHDX, VDI). Consecutive blocks that sit one after another in the file, or all in the
 * image below, are read with one read.
 */
export function mappedDisk(spec: MappedDiskSpec): Disk {
  const { size, blockSize, below } = spec;

  const readBelow = (out: Uint8Array, outAt: number, guest: number, length: number): void => {
    if (!below || guest >= below.size) return;
    const bytes = below.readAt(guest, Math.min(length, below.size - guest));
    out.set(bytes, outAt);
  };

  return {
    sectorSize: spec.sectorSize,
    size,
    readAt(offset, length) {
      if (offset < 0 || offset >= size || length <= 0) return new Uint8Array(0);
      const total = Math.min(length, size - offset);
      const first = Math.floor(offset / blockSize);
      const within = offset - first * blockSize;
      // A read inside one block of file data is that data as it is: no copy.
      if (within + total <= blockSize) {
        const block = spec.locate(first);
        if (block.kind === 'data') return spec.readData(block.offset + within, total);
        if (block.kind === 'bytes') return block.bytes.subarray(within, within + total);
      }
      const out = new Uint8Array(total);
      // A run of file data (or of the image below) not yet read: [file or guest offset, out offset, length].
      let run: { kind: 'data' | 'below'; from: number; outAt: number; length: number } | null = null;
      const flush = () => {
        if (!run) return;
        if (run.kind === 'data') out.set(spec.readData(run.from, run.length), run.outAt);
        else readBelow(out, run.outAt, run.from, run.length);
        run = null;
      };
      for (let done = 0; done < total; ) {
        const guest = offset + done;
        const index = Math.floor(guest / blockSize);
        const inBlock = guest - index * blockSize;
        const n = Math.min(blockSize - inBlock, total - done);
        const block = spec.locate(index);
        if (block.kind === 'data' || block.kind === 'below') {
          const from = block.kind === 'data' ? block.offset + inBlock : guest;
          if (run && run.kind === block.kind && run.from + run.length === from) run.length += n;
          else {
            flush();
            run = { kind: block.kind, from, outAt: done, length: n };
          }
        } else {
          flush();
          if (block.kind === 'bytes') out.set(block.bytes.subarray(inBlock, inBlock + n), done);
        }
        done += n;
      }
      flush();
      return out;
    },
  };
}

/** One piece of a disk made of pieces: `size` bytes from `disk` at `offset`, or zeros without a disk. */
export interface Extent {
  size: number;
  disk?: Disk;
  offset?: number;
}

/**
 * Pieces one after another as one disk (VMDK extents). A piece reads zeros where its disk ends
 * early, as qemu reads a flat extent file that is shorter than the descriptor says.
 */
export function concatDisks(extents: Extent[], sectorSize = 512): Disk {
  const starts: number[] = [];
  let size = 0;
  for (const e of extents) {
    starts.push(size);
    size += e.size;
  }
  const pieceAt = (guest: number) => {
    let lo = 0;
    let hi = extents.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= guest) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  return {
    sectorSize,
    size,
    readAt(offset, length) {
      if (offset < 0 || offset >= size || length <= 0) return new Uint8Array(0);
      const total = Math.min(length, size - offset);
      let i = pieceAt(offset);
      const out = new Uint8Array(total);
      for (let done = 0; done < total; i++) {
        const e = extents[i]!;
        const within = offset + done - starts[i]!;
        const n = Math.min(e.size - within, total - done);
        if (e.disk && n > 0) out.set(e.disk.readAt((e.offset ?? 0) + within, n), done);
        done += n;
      }
      return out;
    },
  };
}
