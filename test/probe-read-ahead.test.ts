/**
 * Probing reads a few spans of each partition once and serves every signature from them. The
 * answer must be exactly the one the probers give when every read is made as asked, on real
 * filesystems, on damaged copies of them and on ranges cut short; and the number of reads drops.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Disk } from '../src/io/disk.js';
import { probeContent, probeRegion, type Region } from '../src/probe/index.js';
import { haveTool, run } from './probe-helpers.js';
import { memoryDisk } from './support/memory-disk.js';

const MiB = 1024 * 1024;

/** The reference: every read made exactly as the prober asks, nothing shared. */
function exactRegion(disk: Disk, offset: number, size: number): Region {
  const usable = Math.max(0, Math.min(size, disk.size - offset));
  return {
    size: usable,
    read(at, length) {
      if (!Number.isSafeInteger(at) || !Number.isSafeInteger(length)) return null;
      if (at < 0 || length <= 0 || at + length > usable) return null;
      const bytes = disk.readAt(offset + at, length);
      return bytes.length === length ? Uint8Array.from(bytes) : null;
    },
  };
}

/** A disk over bytes that can also read into a caller's buffer, counting the calls. */
function countingDisk(bytes: Uint8Array, withReadInto: boolean): Disk & { calls: number } {
  const inner = memoryDisk(bytes);
  const disk: Disk & { calls: number } = {
    sectorSize: 512,
    size: bytes.length,
    calls: 0,
    readAt(offset, length) {
      disk.calls++;
      return Uint8Array.from(inner.readAt(offset, length));
    },
  };
  if (withReadInto)
    disk.readInto = (into, offset) => {
      disk.calls++;
      const got = inner.readAt(offset, into.length);
      into.set(got);
      return got.length;
    };
  return disk;
}

function expectSameAnswer(bytes: Uint8Array, offset: number, size: number) {
  const expected = probeRegion(exactRegion(memoryDisk(bytes), offset, size));
  expect(probeContent(countingDisk(bytes, true), offset, size), `readInto, ${offset}+${size}`).toEqual(
    expected,
  );
  expect(probeContent(countingDisk(bytes, false), offset, size), `readAt, ${offset}+${size}`).toEqual(
    expected,
  );
  return expected;
}

const work = mkdtempSync(join(tmpdir(), 'probe-read-ahead-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Made {
  name: string;
  bytes: Uint8Array;
}
const made: Made[] = [];

function make(name: string, size: number, tool: string, args: (path: string) => string[], input?: string) {
  if (!haveTool(tool)) return;
  const path = join(work, name);
  writeFileSync(path, '');
  truncateSync(path, size);
  run(tool, args(path), input);
  made.push({ name, bytes: new Uint8Array(readFileSync(path)) });
}

describe('read-ahead spans give the probers the same answers', () => {
  beforeAll(() => {
    make('ext4', 8 * MiB, 'mkfs.ext4', (p) => ['-q', '-F', '-L', 'root', p]);
    make('vfat', 8 * MiB, 'mkfs.vfat', (p) => ['-n', 'EFI', p]);
    make('exfat', 8 * MiB, 'mkfs.exfat', (p) => ['-L', 'data', p]);
    make('swap', 8 * MiB, 'mkswap', (p) => ['-L', 'swp', p]);
    make('ntfs', 8 * MiB, 'mkfs.ntfs', (p) => ['-F', '-Q', '-q', '-L', 'win', p]);
    make('btrfs', 128 * MiB, 'mkfs.btrfs', (p) => ['-q', '-f', '-L', 'pool', p]);
    make('xfs', 320 * MiB, 'mkfs.xfs', (p) => ['-q', '-f', '-L', 'logs', p]);
    make(
      'luks2',
      32 * MiB,
      'cryptsetup',
      (p) => [
        'luksFormat',
        '-q',
        '--type',
        'luks2',
        '--pbkdf',
        'pbkdf2',
        '--pbkdf-force-iterations',
        '1000',
        '--key-file',
        '-',
        p,
      ],
      'secret',
    );
  }, 120_000);

  // util-linux's test images of what needs root or other tools to make (md, LVM, ZFS, …), when present.
  const corpus = resolve(import.meta.dirname, '../../shared/corpus/blkid/fs');
  const SAMPLES = [
    'mdraid',
    'mdraid-1',
    'lvm2',
    'luks1',
    'luks2',
    'zfs',
    'jbd',
    'iso-joliet',
    'squashfs4',
    'swap1',
  ];
  it.skipIf(!existsSync(corpus))(
    "on libblkid's corpus images (skipped without ../shared/corpus)",
    () => {
      for (const name of SAMPLES.filter((n) => existsSync(join(corpus, `${n}.img.xz`)))) {
        const bytes = new Uint8Array(
          execFileSync('xz', ['-dc', join(corpus, `${name}.img.xz`)], { maxBuffer: 512 * 1024 * 1024 }),
        );
        expect(expectSameAnswer(bytes, 0, bytes.length)?.type, name).toBeTruthy();
        for (const cut of [0x10000, 0x8000 + 100, 0x4100])
          expectSameAnswer(bytes, 0, Math.min(cut, bytes.length));
      }
    },
    120_000,
  );

  it('on filesystems made by the real tools, whole and cut short', () => {
    expect(made.length, 'at least some mkfs tools are installed').toBeGreaterThan(3);
    for (const { name, bytes } of made) {
      const whole = expectSameAnswer(bytes, 0, bytes.length);
      expect(whole?.type, name).toBeTruthy();
      for (const cut of [
        0x11000,
        0x10000,
        0x8800,
        0x8000 + 100,
        0x4200,
        0x4100,
        0x2000,
        0x1000,
        1500,
        700,
        100,
      ])
        expectSameAnswer(bytes, 0, Math.min(cut, bytes.length));
    }
  });

  it('on damaged copies and at other offsets (property)', () => {
    if (made.length === 0) return;
    fc.assert(
      fc.property(
        fc.nat({ max: made.length - 1 }),
        fc.array(fc.tuple(fc.nat({ max: 0x12000 }), fc.nat({ max: 255 })), { maxLength: 24 }),
        fc.nat({ max: 3 }),
        fc.nat({ max: 0x20000 }),
        (which, flips, shiftSectors, trim) => {
          const source = made[which]!.bytes;
          // The head of the image (and its tail, where md and ZFS look) at a sector-aligned shift.
          const head = source.subarray(0, Math.min(source.length, 0x40000));
          const shift = shiftSectors * 512;
          const bytes = new Uint8Array(shift + head.length + 0x10000);
          bytes.set(head, shift);
          for (const [at, value] of flips) if (shift + at < bytes.length) bytes[shift + at] = value;
          const size = Math.max(1, bytes.length - shift - trim);
          expectSameAnswer(bytes, shift, size);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reads an empty partition in eleven reads, a filesystem in no more', () => {
    const empty = countingDisk(new Uint8Array(8 * MiB), true);
    expect(probeContent(empty, 0, empty.size)).toBeNull();
    // The first 16.5 KiB, the spans at 32 and 64 KiB, LUKS's secondary headers at 128 KiB…4 MiB
    // and md's two superblocks at the end (each read on its own before: 17 pages of 4 KiB).
    expect(empty.calls).toBe(11);
    const ext4 = made.find((m) => m.name === 'ext4');
    if (ext4) {
      const disk = countingDisk(ext4.bytes, true);
      expect(probeContent(disk, 0, disk.size)?.type).toBe('ext4');
      expect(disk.calls).toBeLessThanOrEqual(11);
    }
  });
});
