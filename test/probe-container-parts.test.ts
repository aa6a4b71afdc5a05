/** The pieces the container readers are built from: block-mapped disks, joined extents, caches, CRC-32C. */
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32c } from '../src/io/crc32c.js';
import { zstdFrameLength } from '../src/probe/inflate.js';
import { type Block, concatDisks, mappedDisk } from '../src/probe/mapped-disk.js';
import { ByteCache, tableEntry } from '../src/probe/table-slices.js';
import { haveTool } from './probe-helpers.js';
import { memoryDisk } from './support/memory-disk.js';

const counting = (bytes: Uint8Array) => {
  const inner = memoryDisk(bytes);
  const disk = {
    sectorSize: 512,
    size: bytes.length,
    reads: [] as Array<[number, number]>,
    readAt(offset: number, length: number) {
      disk.reads.push([offset, length]);
      return inner.readAt(offset, length);
    },
  };
  return disk;
};

describe('mappedDisk', () => {
  // A 16-block "image": blocks stored in reverse order in the file, some zero, some below.
  const blockSize = 8;
  const file = new Uint8Array(16 * blockSize).map((_, i) => i & 0xff);
  const below = memoryDisk(new Uint8Array(10 * blockSize).fill(0xbb)); // shorter than the guest
  const layout = (index: number): Block =>
    index % 5 === 4
      ? { kind: 'zero' }
      : index % 5 === 3
        ? { kind: 'below' }
        : index === 7
          ? { kind: 'bytes', bytes: new Uint8Array(blockSize).fill(0x77) }
          : { kind: 'data', offset: index < 8 ? index * blockSize : (15 - index) * blockSize };
  const expected = (guest: number): number => {
    const index = Math.floor(guest / blockSize);
    const within = guest % blockSize;
    const block = layout(index);
    if (block.kind === 'zero') return 0;
    if (block.kind === 'below') return guest < below.size ? 0xbb : 0;
    if (block.kind === 'bytes') return 0x77;
    return file[block.offset + within]!;
  };

  it('reads every range as the blocks say (property)', () => {
    const disk = mappedDisk({
      size: 16 * blockSize - 3,
      blockSize,
      sectorSize: 512,
      locate: layout,
      below,
      readData: (offset, length) => memoryDisk(file).readAt(offset, length),
    });
    fc.assert(
      fc.property(fc.nat({ max: 140 }), fc.nat({ max: 140 }), (offset, length) => {
        const got = disk.readAt(offset, length);
        const want = Math.max(0, Math.min(length, disk.size - offset));
        expect(got.length).toBe(want);
        for (let i = 0; i < got.length; i++) expect(got[i], `byte ${offset + i}`).toBe(expected(offset + i));
      }),
    );
  });

  it('reads blocks that follow one another in the file with one read', () => {
    const image = counting(file);
    const disk = mappedDisk({
      size: 8 * blockSize,
      blockSize,
      sectorSize: 512,
      locate: (index) => ({ kind: 'data', offset: index * blockSize }),
      readData: (offset, length) => image.readAt(offset, length),
    });
    expect([...disk.readAt(3, 50)]).toEqual([...file.subarray(3, 53)]);
    expect(image.reads).toEqual([[3, 50]]);
  });
});

describe('concatDisks', () => {
  it('joins extents in order, zeros for ZERO extents and past a short file', () => {
    const a = memoryDisk(Uint8Array.from([1, 2, 3, 4]));
    const b = memoryDisk(Uint8Array.from([9, 8, 7, 6, 5]));
    const disk = concatDisks([
      { size: 3, disk: a, offset: 1 },
      { size: 2 },
      { size: 6, disk: b, offset: 2 }, // only 3 bytes left in b: the rest reads as zeros
    ]);
    expect(disk.size).toBe(11);
    expect([...disk.readAt(0, 20)]).toEqual([2, 3, 4, 0, 0, 7, 6, 5, 0, 0, 0]);
    expect([...disk.readAt(4, 3)]).toEqual([0, 7, 6]);
    expect(disk.readAt(11, 1).length).toBe(0);
  });
});

describe('table slices', () => {
  it('reads an entry with one 4 KiB slice and keeps the cache within its bytes', () => {
    const bytes = new Uint8Array(64 * 1024).map((_, i) => (i >> 2) & 0xff);
    const file = counting(bytes);
    const cache = new ByteCache<number>(8192);
    const table = { offset: 1024, count: 10_000, entrySize: 4 };
    const short = () => {
      throw new Error('short');
    };
    const [b, p] = tableEntry(file, cache, table, 1500, short);
    expect(b[p]).toBe(((1024 + 1500 * 4) >> 2) & 0xff);
    tableEntry(file, cache, table, 1501, short);
    expect(file.reads).toEqual([[1024 + 4096, 4096]]);
    for (const i of [0, 3000, 5000, 7000]) tableEntry(file, cache, table, i, short);
    expect(file.reads.length).toBe(5);
    tableEntry(file, cache, table, 1500, short); // evicted by then: read again
    expect(file.reads.length).toBe(6);
    expect(() =>
      tableEntry(file, cache, { offset: 63 * 1024, count: 1000, entrySize: 8 }, 500, short),
    ).toThrow('short');
  });
});

describe('crc32c', () => {
  it('gives the Castagnoli check value', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });
});

describe.skipIf(!haveTool('zstd'))('zstdFrameLength (skipped without the zstd tool)', () => {
  it('finds where a frame ends, whatever follows it', () => {
    for (const [size, args] of [
      [1000, ['-q', '-c']],
      [300 * 1024, ['-q', '-c', '--no-check']],
      [300 * 1024, ['-q', '-c', '-19']],
      [0, ['-q', '-c']],
    ] as const) {
      const data = new Uint8Array(size).map((_, i) => (i % 251) ^ (i >> 10));
      const frame = new Uint8Array(execFileSync('zstd', [...args], { input: data }));
      const followed = new Uint8Array(frame.length + 700).fill(0x5a);
      followed.set(frame);
      expect(zstdFrameLength(followed), `${size} ${args.join(' ')}`).toBe(frame.length);
      expect(zstdFrameLength(frame.subarray(0, frame.length - 1))).toBeNull();
    }
    expect(zstdFrameLength(Uint8Array.from([1, 2, 3, 4, 5, 6, 7]))).toBeNull();
  });
});
