/**
 * Probing is total: whatever the bytes and however short the range, it returns a result or null,
 * never throws, and never reads outside [offset, offset + size).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Disk } from '../src/io/disk.js';
import { detectContainer, probeContent } from '../src/probe/index.js';
import { memoryDisk } from './support/memory-disk.js';

/** A disk that fails the test if anything reads outside the window. */
function guarded(inner: Disk, lo: number, hi: number): Disk {
  return {
    sectorSize: inner.sectorSize,
    size: inner.size,
    readAt(offset, length) {
      if (offset < lo || offset + length > hi)
        throw new Error(`read [${offset}, ${offset + length}) outside [${lo}, ${hi})`);
      return inner.readAt(offset, length);
    },
  };
}

const corpus = resolve(import.meta.dirname, '../../shared/corpus/blkid/fs');
const SAMPLES = [
  'ext4',
  'fat',
  'small-fat32',
  'exfat',
  'ntfs',
  'xfs',
  'btrfs',
  'iso-joliet',
  'luks2',
  'lvm2',
  'mdraid',
  'mdraid-1',
  'swap1',
  'squashfs4',
  'zfs',
  'jbd',
];
const samples = existsSync(corpus)
  ? SAMPLES.filter((n) => readdirSync(corpus).includes(`${n}.img.xz`)).map((name) => ({
      name,
      bytes: new Uint8Array(
        execFileSync('xz', ['-dc', join(corpus, `${name}.img.xz`)], { maxBuffer: 512 * 1024 * 1024 }),
      ),
    }))
  : [];

describe.skipIf(samples.length === 0)(
  'real images cut short (corpus images; skipped without ../shared/corpus)',
  () => {
    for (const { name, bytes } of samples) {
      it(`${name}: every shortened range gives a result or null, read only inside the range`, () => {
        const full = probeContent(memoryDisk(bytes), 0, bytes.length);
        expect(full, 'the whole image is recognised').not.toBeNull();
        const cuts = [
          0,
          1,
          511,
          512,
          1024,
          1100,
          4096,
          8192,
          0x8800,
          0x10000,
          0x10100,
          0x11000,
          0x40000,
          bytes.length >> 1,
          bytes.length - 1,
        ];
        for (const cut of cuts.filter((c) => c <= bytes.length)) {
          // The partition is shorter than its content: the probe must stay inside it.
          const window = guarded(memoryDisk(bytes), 0, cut);
          expect(() => probeContent(window, 0, cut)).not.toThrow();
          // The device itself is shorter than the partition table claims.
          const short = memoryDisk(bytes.subarray(0, cut));
          expect(() => probeContent(short, 0, bytes.length)).not.toThrow();
          expect(() => detectContainer(short)).not.toThrow();
        }
      });

      it(`${name}: found the same way at an offset inside a larger disk`, () => {
        const at = 3 * 1024 * 1024;
        const disk = new Uint8Array(at + bytes.length + 4096).fill(0xa5);
        disk.set(bytes, at);
        const inside = probeContent(guarded(memoryDisk(disk), at, at + bytes.length), at, bytes.length);
        expect(inside).toEqual(probeContent(memoryDisk(bytes), 0, bytes.length));
      });
    }
  },
);

/** Signatures planted at the places probers look, over random bytes. */
const PLANTS: Array<[number, number[]]> = [
  [0x438, [0x53, 0xef]],
  [0, [...'XFSB'].map((c) => c.charCodeAt(0))],
  [0x10040, [...'_BHRfS_M'].map((c) => c.charCodeAt(0))],
  [0x36, [...'FAT16   '].map((c) => c.charCodeAt(0))],
  [0x52, [...'FAT32   '].map((c) => c.charCodeAt(0))],
  [3, [...'EXFAT   '].map((c) => c.charCodeAt(0))],
  [3, [...'NTFS    '].map((c) => c.charCodeAt(0))],
  [0xff6, [...'SWAPSPACE2'].map((c) => c.charCodeAt(0))],
  [0x8001, [...'CD001'].map((c) => c.charCodeAt(0))],
  [0, [...'hsqs'].map((c) => c.charCodeAt(0))],
  [0x200, [...'LABELONE'].map((c) => c.charCodeAt(0))],
  [0, [0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]],
  [0x1000, [0xfc, 0x4e, 0x2b, 0xa9, 1, 0, 0, 0]],
  [0x4000, [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]],
  [0, [0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]],
  [0, [...'# Disk DescriptorFile'].map((c) => c.charCodeAt(0))],
];

describe('random bytes with planted signatures', () => {
  it('never throw and never read outside the range', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 0x12000 }),
        fc.subarray(PLANTS.map((_, i) => i)),
        fc.nat({ max: 0x12000 }),
        (noise, plantIndexes, claimed) => {
          const bytes = Uint8Array.from(noise);
          for (const i of plantIndexes) {
            const [at, magic] = PLANTS[i]!;
            if (at + magic.length <= bytes.length) bytes.set(magic, at);
          }
          const size = Math.min(claimed, bytes.length);
          probeContent(guarded(memoryDisk(bytes), 0, size), 0, size);
          detectContainer(memoryDisk(bytes));
        },
      ),
      { numRuns: 400 },
    );
  });

  it('reads only a few KiB to decide a 1 TiB partition holds nothing known', () => {
    let bytesRead = 0;
    let calls = 0;
    const empty: Disk = {
      sectorSize: 512,
      size: 2 ** 40,
      readAt(offset, length) {
        calls++;
        const n = Math.max(0, Math.min(length, 2 ** 40 - offset));
        bytesRead += n;
        return new Uint8Array(n);
      },
    };
    expect(probeContent(empty, 0, empty.size)).toBeNull();
    expect(bytesRead).toBeLessThan(32 * 1024);
    expect(calls).toBeLessThan(40);
  });

  it('rejects nonsense ranges without reading', () => {
    const disk = guarded(memoryDisk(new Uint8Array(4096)), 0, 0);
    expect(probeContent(disk, -1, 10)).toBeNull();
    expect(probeContent(disk, 0, 0)).toBeNull();
    expect(probeContent(disk, Number.NaN, 10)).toBeNull();
    expect(probeContent(disk, 8192, 4096)).toBeNull();
  });
});
