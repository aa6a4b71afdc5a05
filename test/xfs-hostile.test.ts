/**
 * The XFS reader on damaged and hostile filesystems: superblock fields out of range, symlink loops,
 * a root escaped through `..`, an inode number that lies, and random changes to the very bytes a
 * clean read touches. Every case ends in a result or an XfsError naming the problem, never another
 * exception, a hang or a read outside the device.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openXfsVolume, XfsError } from '../src/probe/xfs/index.js';
import { inodeOffset } from '../src/probe/xfs/superblock.js';
import { memoryDisk } from './support/memory-disk.js';
import { mutatedDisk, type ReadLog } from './support/mutated-disk.js';
import {
  canMountXfs,
  hasXfsprogs,
  makeXfsImage,
  ROCKY_XFS_ROOT,
  withMountedXfs,
} from './support/xfs-images.js';

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);

/** Everything the system identification asks of a volume; XfsError is the only failure allowed. */
function exercise(disk: ReturnType<typeof memoryDisk>): string[] {
  let volume: ReturnType<typeof openXfsVolume>;
  try {
    volume = openXfsVolume(disk);
  } catch (error) {
    if (!(error instanceof XfsError)) throw error;
    return [`open: ${error.message}`];
  }
  const outcomes: string[] = [];
  const attempt = (what: string, run: () => unknown) => {
    try {
      const value = run();
      outcomes.push(`${what}: ${value instanceof Uint8Array ? value.length : JSON.stringify(value)}`);
    } catch (error) {
      if (!(error instanceof XfsError)) throw error;
      outcomes.push(`${what}: ${error.message}`);
    }
  };
  for (const path of [
    '/etc/os-release',
    '/etc/hostname',
    '/etc/selinux/config',
    '/etc/loop1',
    '/etc/fragmented',
  ])
    attempt(path, () => volume.readFile(path, 4 * 1024 * 1024));
  attempt('/etc/long-link', () => volume.readlink('/etc/long-link'));
  attempt('/usr/share', () => volume.list('/usr/share').length);
  attempt('/etc/shadow', () => volume.lstat('/etc/shadow'));
  return outcomes;
}

const put32 = (image: Uint8Array, at: number, value: number): Uint8Array => {
  const copy = image.slice();
  new DataView(copy.buffer).setUint32(at, value);
  return copy;
};

describe.skipIf(!hasXfsprogs)('the XFS reader on hostile input', () => {
  let dir: string;
  let image: Uint8Array;
  beforeAll(() => {
    dir = mkdtempSync('/tmp/kpt-xfs-hostile-');
    const path = join(dir, 'hostile.img');
    makeXfsImage(dir, path, {
      sizeMiB: 20,
      steps: [
        ...ROCKY_XFS_ROOT.filter((step) => !('file' in step) || !/entry-(\d{4}|[6-9]\d\d)$/.test(step.file)),
        { link: 'etc/loop1', target: 'loop2' },
        { link: 'etc/loop2', target: '/etc/loop1' },
        { link: 'etc/up', target: '../../../../etc' },
      ],
    });
    if (canMountXfs)
      withMountedXfs(dir, path, (root) => {
        symlinkSync(`/usr/lib/${'deep/'.repeat(150)}os-release`, join(root, 'etc', 'long-link'));
        const fd = openSync(join(root, 'etc', 'fragmented'), 'w');
        try {
          for (let i = 0; i < 100; i++) writeSync(fd, Buffer.alloc(4096, i), 0, 4096, i * 8192);
        } finally {
          closeSync(fd);
        }
      });
    image = new Uint8Array(readFileSync(path));
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the clean image, with links that loop or climb past the root answered', () => {
    const volume = openXfsVolume(memoryDisk(image));
    expect(() => volume.readFile('/etc/loop1')).toThrow(/too many levels of symbolic links/);
    expect(volume.stat('/etc/up/up/up/hostname')).toMatchObject({ kind: 'file' });
    expect(volume.list('/usr/share')).toHaveLength(600);
    expect(exercise(memoryDisk(image))).toContain('/etc/hostname: 9');
  });

  it('names the superblock field that cannot be trusted', () => {
    const open = (bytes: Uint8Array) => () => openXfsVolume(memoryDisk(bytes));
    expect(open(put32(image, 0, 0x12345678))).toThrow('no XFS superblock');
    expect(open(put32(image, 4, 3000))).toThrow(
      'superblock: block size 3000 is not a power of two of 512 B–64 KiB',
    );
    expect(open(put32(image, 84, 0xffffffff))).toThrow(/^superblock: 4294967295 blocks per allocation group/);
    expect(open(put32(image, 12, 0x7fffffff))).toThrow(
      /^superblock: .*blocks in 1 allocation groups|^superblock: the filesystem needs/,
    );
    expect(open(put32(image, 216, 0x80000000))).toThrow(
      'superblock: incompatible features 0x80000000 are not known',
    );
    const shortDevice = mutatedDisk(image, { sectorSize: 512, size: image.length / 2, bytes: [] });
    expect(() => openXfsVolume(shortDevice)).toThrow(
      /^superblock: the filesystem needs 20971520 bytes, the device has 10485760$/,
    );
    const badVersion = image.slice();
    badVersion[101] = (badVersion[101]! & 0xf0) | 3;
    expect(open(badVersion)).toThrow('superblock: version 3 is not 4 or 5');
    // A root inode number past the filesystem, and one whose inode says it is another.
    const root = put32(put32(image, 56, 0), 60, 0x7fffffff);
    expect(() => openXfsVolume(memoryDisk(root)).list('/')).toThrow(
      /^inode 2147483647 is outside the filesystem$/,
    );
    const volume = openXfsVolume(memoryDisk(image));
    const rootIno = volume.geometry.rootIno;
    const lying = put32(image, inodeOffset(volume.geometry, rootIno) + 156, rootIno + 1);
    expect(() => openXfsVolume(memoryDisk(lying)).list('/')).toThrow(
      `inode ${rootIno}: the inode says it is number ${rootIno + 1}`,
    );
    const realtime = image.slice();
    realtime[inodeOffset(volume.geometry, rootIno) + 91]! |= 1; // di_flags: XFS_DIFLAG_REALTIME
    expect(() => openXfsVolume(memoryDisk(realtime)).list('/')).toThrow(
      `inode ${rootIno} keeps its data on the realtime device`,
    );
  });

  it('random changes to the bytes a clean read touches end in a result or an XfsError', () => {
    const log: ReadLog[] = [];
    exercise(mutatedDisk(image, { sectorSize: 512, size: image.length, bytes: [] }, log));
    const spot = fc
      .integer({ min: 0, max: log.length - 1 })
      .chain((i) => fc.integer({ min: log[i]!.offset, max: log[i]!.offset + log[i]!.length - 1 }));
    const byte = fc.oneof(fc.nat(255), fc.constantFrom(0, 0xff, 0x7f, 0x80, 1, 2, 0x0a));
    expect(log.length).toBeGreaterThan(0);
    fc.assert(
      fc.property(fc.array(fc.tuple(spot, byte), { minLength: 1, maxLength: 8 }), (changes) => {
        const reads: ReadLog[] = [];
        const outcomes = exercise(
          mutatedDisk(image, { sectorSize: 512, size: image.length, bytes: changes }, reads),
        );
        expect(outcomes.length).toBeGreaterThan(0);
        for (const read of reads) expect(read.offset + read.length).toBeLessThanOrEqual(image.length);
      }),
      { numRuns: 400, interruptAfterTimeLimit: 10_000, seed: SEED },
    );
  }, 30_000);

  it('random bytes in place of a filesystem end in an XfsError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 8192 }), fc.boolean(), (bytes, magic) => {
        const disk = bytes.slice();
        if (magic && disk.length >= 4) disk.set([0x58, 0x46, 0x53, 0x42], 0);
        expect(exercise(memoryDisk(disk)).length).toBeGreaterThan(0);
      }),
      { numRuns: 300, seed: SEED },
    );
  });
});
