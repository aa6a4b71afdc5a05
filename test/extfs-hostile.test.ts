/**
 * The ext reader on damaged and hostile filesystems: superblock fields out of range, symlink loops,
 * a root escaped through `..` and absolute links, pointers past the end, and random changes to the
 * very bytes a clean read touches. Every case ends in a result or an ExtError naming the problem,
 * never another exception, a hang or a read outside the device.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExtError, openExtVolume } from '../src/probe/extfs/index.js';
import { inodeOffset } from '../src/probe/extfs/inode.js';
import { descriptorBlock } from '../src/probe/extfs/superblock.js';
import { hasE2fsprogs, makeExtImage } from './support/ext-images.js';
import { memoryDisk } from './support/memory-disk.js';
import { mutatedDisk, type ReadLog } from './support/mutated-disk.js';

const LONG_RUN_SECONDS = Number(process.env.FUZZ_SECONDS ?? 0);
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const PATHS = [
  '/etc/os-release',
  '/etc/hostname',
  '/etc/selinux/config',
  '/etc/loop1',
  '/deep/x/y',
  '/etc/shadow',
];

/** Everything the system identification asks of a volume; ExtError is the only failure allowed. */
function exercise(image: Uint8Array | ReturnType<typeof memoryDisk>): string[] {
  const disk = image instanceof Uint8Array ? memoryDisk(image) : image;
  const outcomes: string[] = [];
  let volume: ReturnType<typeof openExtVolume>;
  try {
    volume = openExtVolume(disk);
  } catch (error) {
    if (!(error instanceof ExtError)) throw error;
    return [`open: ${error.message}`];
  }
  for (const path of PATHS) {
    try {
      const bytes = volume.readFile(path);
      outcomes.push(`${path}: ${bytes === null ? 'none' : bytes.length}`);
      volume.list(path.slice(0, path.lastIndexOf('/')) || '/');
      volume.lstat(path);
    } catch (error) {
      if (!(error instanceof ExtError)) throw error;
      outcomes.push(`${path}: ${error.message}`);
    }
  }
  return outcomes;
}

const set = (image: Uint8Array, offset: number, bytes: number[]): Uint8Array => {
  const copy = image.slice();
  copy.set(bytes, offset);
  return copy;
};
const le32 = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];

describe.skipIf(!hasE2fsprogs)(
  `ext reader on hostile input (${hasE2fsprogs ? 'e2fsprogs' : 'needs mke2fs and debugfs'})`,
  () => {
    let dir: string;
    let image: Uint8Array;
    beforeAll(() => {
      dir = mkdtempSync('/tmp/kpt-extfs-hostile-');
      image = makeExtImage(dir, join(dir, 'root.img'), {
        type: 'ext4',
        sizeKiB: 2048,
        mkfsArgs: ['-b', '1024'],
        steps: [
          { dir: 'etc' },
          { dir: 'etc/selinux' },
          { file: 'etc/selinux/config', data: 'SELINUX=enforcing\n' },
          { file: 'etc/hostname', data: 'vm\n' },
          { link: 'etc/loop1', target: 'loop2' },
          { link: 'etc/loop2', target: '/etc/loop1' },
          { link: 'etc/self', target: 'self' },
          { link: 'etc/os-release', target: '../../../../../etc/hostname' },
          { dir: 'deep' },
          { link: 'deep/x', target: '/deep' },
        ],
      });
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('reads the clean image, with links that loop or climb past the root answered', () => {
      const volume = openExtVolume(memoryDisk(image));
      expect(() => volume.readFile('/etc/loop1')).toThrow(/too many levels of symbolic links/);
      expect(() => volume.readFile('/etc/self')).toThrow(/too many levels of symbolic links/);
      // `..` past the root stays at the root, as in a chroot: the link leads to /etc/hostname.
      expect(new TextDecoder().decode(volume.readFile('/etc/os-release')!)).toBe('vm\n');
      // /deep/x is /deep again, so /deep/x/x/x… is a directory as long as the path goes on.
      expect(volume.stat('/deep/x/x/x/x')).toMatchObject({ kind: 'directory' });
      expect(volume.readFile('/deep/x/y')).toBeNull();
    });

    it('names the superblock field that cannot be trusted', () => {
      const sb = 1024;
      const cases: [number, number[], RegExp][] = [
        [sb + 0x38, [0, 0], /no ext2\/3\/4 superblock/],
        [sb + 0x18, le32(30), /block size 2\^40/],
        [sb + 0x04, le32(0xffffffff), /do not fit/],
        [sb + 0x20, le32(0), /blocks per group/],
        [sb + 0x28, le32(0), /inodes per group/],
        [sb + 0x58, [7, 0], /inode size 7/],
        [sb + 0x00, le32(0xffffffff), /inodes in/],
      ];
      for (const [offset, bytes, message] of cases) {
        const broken = set(image, offset, bytes);
        expect(() => openExtVolume(memoryDisk(broken))).toThrow(ExtError);
        expect(() => openExtVolume(memoryDisk(broken))).toThrow(message);
      }
      // Cut short: the superblock itself is not there.
      expect(() => openExtVolume(memoryDisk(image.subarray(0, 1500)))).toThrow(/past the end of the device/);
    });

    it('refuses an inode table or a file block outside the filesystem', () => {
      // Group 0's descriptor is in block 2 (1 KiB blocks): its inode table pointer at +8.
      const badTable = set(image, 2 * 1024 + 8, le32(0x7fffffff));
      expect(() => openExtVolume(memoryDisk(badTable)).readFile('/etc/hostname')).toThrow(
        /inode table at block/,
      );
      // /etc/hostname's one extent (in i_block, after the 12-byte header) sent elsewhere.
      const volume = openExtVolume(memoryDisk(image));
      const ino = volume.lstat('/etc/hostname')!.inode;
      const at =
        inodeOffset(
          volume.geometry,
          ino,
          (block, offset, length) => image.subarray(block * 1024 + offset, block * 1024 + offset + length),
          (i) => descriptorBlock(volume.geometry, i),
        ) +
        0x28 +
        12 +
        8;
      expect(() => openExtVolume(memoryDisk(set(image, at, le32(5000)))).readFile('/etc/hostname')).toThrow(
        /block 5000 is outside the filesystem/,
      );
      // Inside the filesystem but past the end of a copy cut short.
      const cut = set(image, at, le32(2000)).subarray(0, 1100 * 1024);
      expect(() => openExtVolume(memoryDisk(cut)).readFile('/etc/hostname')).toThrow(
        /past the end of the device/,
      );
    });

    it(
      'random changes to the bytes a clean read touches end in a result or an ExtError',
      () => {
        const log: ReadLog[] = [];
        exercise(mutatedDisk(image, { sectorSize: 512, size: image.length, bytes: [] }, log));
        const touched = log.flatMap(({ offset, length }) => [offset, offset + length - 1]);
        const spot = fc
          .integer({ min: 0, max: log.length - 1 })
          .chain((i) => fc.integer({ min: log[i]!.offset, max: log[i]!.offset + log[i]!.length - 1 }));
        const byte = fc.oneof(fc.nat(255), fc.constantFrom(0, 0xff, 0x7f, 0x80, 1, 2, 0x0a, 0xf3));
        expect(touched.length).toBeGreaterThan(0);
        fc.assert(
          fc.property(fc.array(fc.tuple(spot, byte), { minLength: 1, maxLength: 8 }), (changes) => {
            const outcomes = exercise(
              mutatedDisk(image, { sectorSize: 512, size: image.length, bytes: changes }),
            );
            expect(outcomes.length).toBeGreaterThan(0);
          }),
          {
            numRuns: LONG_RUN_SECONDS > 0 ? Number.MAX_SAFE_INTEGER : 400,
            interruptAfterTimeLimit: (LONG_RUN_SECONDS || 8) * 1000,
            seed: SEED,
          },
        );
      },
      (LONG_RUN_SECONDS || 20) * 1000 + 10_000,
    );

    it('random bytes in place of a filesystem end in an ExtError', () => {
      fc.assert(
        fc.property(fc.uint8Array({ minLength: 0, maxLength: 8192 }), fc.boolean(), (bytes, magic) => {
          const disk = bytes.slice();
          if (magic && disk.length >= 1024 + 0x3a) disk.set([0x53, 0xef], 1024 + 0x38);
          expect(exercise(disk).length).toBeGreaterThan(0);
        }),
        { numRuns: 300, seed: SEED },
      );
    });
  },
);
