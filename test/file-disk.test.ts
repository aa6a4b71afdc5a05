import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openFileDisk, pageCachedDisk } from '../src/io/file-disk.js';
import { memoryDisk } from './support/memory-disk.js';

const work = mkdtempSync(join(tmpdir(), 'file-disk-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const pattern = (size: number) => Uint8Array.from({ length: size }, (_, i) => (i * 7 + (i >> 9)) & 0xff);

describe('openFileDisk', () => {
  it('reads at offsets, short near the end, nothing past it, within the size it was given', () => {
    const bytes = pattern(10_000);
    const path = join(work, 'a.img');
    writeFileSync(path, bytes);
    // Seen as a loop device would show it: whole sectors only.
    const disk = openFileDisk(path, 9728, 512);
    try {
      expect(disk.size).toBe(9728);
      expect([...disk.readAt(100, 4)]).toEqual([...bytes.subarray(100, 104)]);
      expect(disk.readAt(9700, 100).length).toBe(28);
      expect(disk.readAt(9728, 1).length).toBe(0);
      expect(disk.readAt(-1, 1).length).toBe(0);
    } finally {
      disk.close();
    }
  });
});

describe('pageCachedDisk', () => {
  it('returns exactly what the disk returns, for small, page-crossing and end-of-disk reads', () => {
    const bytes = pattern(3 * 4096 + 700);
    const plain = memoryDisk(bytes);
    let reads = 0;
    const counted = {
      ...plain,
      readAt: (o: number, l: number) => {
        reads++;
        return plain.readAt(o, l);
      },
    };
    const cached = pageCachedDisk(counted, 2);
    const cases: [number, number][] = [
      [0, 512],
      [512, 512],
      [4086, 10],
      [4090, 20],
      [8192, 4096],
      [12288, 700],
      [12288, 4096],
      [12900, 10],
      [20000, 5],
      [0, 16384],
      [1, 1],
    ];
    for (const [offset, length] of cases) {
      expect([...cached.readAt(offset, length)], `${offset}+${length}`).toEqual([
        ...plain.readAt(offset, length),
      ]);
    }
    expect(reads).toBeLessThan(cases.length);
    expect(cached.size).toBe(plain.size);
    expect(cached.sectorSize).toBe(512);
  });
});
