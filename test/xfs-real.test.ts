/**
 * The XFS reader on filesystems made by the real mkfs.xfs (v5, and v4 with `-m crc=0`), filled from
 * a prototype file and, where this host mounts xfs, through a real mount (remote symlinks, a file
 * fragmented into a btree fork): every name and file compared with xfs_db and the files written.
 */
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readXfsRoot } from '../src/probe/system/xfs-root.js';
import { openXfsVolume, XfsError } from '../src/probe/xfs/index.js';
import { memoryDisk } from './support/memory-disk.js';
import {
  canMountXfs,
  hasXfsprogs,
  makeXfsImage,
  ROCKY_XFS_ROOT,
  withMountedXfs,
  xfsDbFormat,
  xfsDbList,
} from './support/xfs-images.js';

describe.skipIf(!hasXfsprogs)('XFS read without mounting, against mkfs.xfs and xfs_db', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync('/tmp/kpt-xfs-real-');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const [version, args] of [
    ['v5', []],
    ['v4', ['-m', 'crc=0']],
    // 1 KiB blocks and 8 KiB directory blocks: each directory block spans eight filesystem blocks.
    ['v5 with 1 KiB blocks and 8 KiB directory blocks', ['-b', 'size=1024', '-n', 'size=8192']],
  ] as const) {
    it(`${version}: short-form and node directories, files and a relative link read as written`, () => {
      const image = join(dir, `rocky-${args.join('')}.img`);
      makeXfsImage(dir, image, { sizeMiB: 20, mkfsArgs: [...args], steps: ROCKY_XFS_ROOT });
      const bytes = new Uint8Array(readFileSync(image));
      const volume = openXfsVolume(memoryDisk(bytes));
      expect(volume.geometry.version).toBe(version.startsWith('v5') ? 5 : 4);
      if ((args as readonly string[]).includes('size=8192'))
        expect(volume.geometry).toMatchObject({ blockSize: 1024, dirBlockSize: 8192 });
      // /etc fits in its inode; /usr/share's 2000 names need several data blocks and a leaf index.
      expect(xfsDbFormat(image, '/etc')).toBe('local');
      expect(['extents', 'btree']).toContain(xfsDbFormat(image, '/usr/share'));
      // /usr/lib/modules is one directory block (XDB3, or XD2B on v4) holding its own leaf.
      expect(xfsDbFormat(image, '/usr/lib/modules')).toBe('extents');
      expect(volume.stat('/usr/lib/modules')?.size).toBe(volume.geometry.dirBlockSize);
      expect(new TextDecoder().decode(volume.readFile('/usr/lib/modules/mod-39')!)).toContain('Rocky');
      for (const path of ['/', '/etc', '/usr/lib/modules', '/usr/share'])
        expect(volume.list(path).sort()).toEqual(xfsDbList(image, path).sort());
      expect(volume.list('/usr/share')).toHaveLength(2000);
      // Every file outside /usr/share and one in 100 inside (each costs an inode and a block of budget).
      for (const [i, step] of ROCKY_XFS_ROOT.entries()) {
        if ('file' in step && (!step.file.startsWith('usr/share/') || i % 100 === 0))
          expect(new TextDecoder().decode(volume.readFile(step.file)!)).toBe(step.data);
        if ('link' in step) expect(volume.readlink(step.link)).toBe(step.target);
      }
      expect(volume.stat('/etc/os-release')).toMatchObject({ kind: 'file' });
      expect(volume.lstat('/etc/os-release')).toMatchObject({ kind: 'symlink' });
      expect(volume.readFile('/etc/missing')).toBeNull();
      expect(volume.readFile('/etc/shadow/x')).toBeNull();
      // `..` stops at the root, as in a chroot.
      expect(volume.stat('/../../etc/hostname')).toMatchObject({ kind: 'file' });
      expect(() => volume.readFile('/usr/lib/os-release', 10)).toThrow(XfsError);
      // Naming the root reads the few blocks it needs, not the filesystem.
      const read = readXfsRoot(memoryDisk(bytes));
      expect(read.ok && read.system).toMatchObject({ label: 'Rocky Linux 9.4 root', hostname: 'rocky-vm' });
      expect(read.ok && read.bytesRead).toBeLessThan(64 * 1024);
    });
  }

  it.skipIf(!canMountXfs)(
    'through a real mount: remote symlinks, a btree-format file, a large directory',
    () => {
      const image = join(dir, 'mounted.img');
      makeXfsImage(dir, image, { sizeMiB: 20, steps: [{ dir: 'etc' }] });
      const longTarget = `/usr/lib/${'deep/'.repeat(150)}os-release`;
      const fragments: number[] = [];
      withMountedXfs(dir, image, (root) => {
        symlinkSync(longTarget, join(root, 'etc', 'long-link'));
        // Every other block written (holes between): hundreds of extents, more than the inode holds.
        const fd = openSync(join(root, 'etc', 'fragmented'), 'w');
        try {
          for (let i = 0; i < 400; i++) {
            const block = Buffer.alloc(4096, i & 0xff);
            writeSync(fd, block, 0, block.length, i * 8192);
            fragments.push(i);
          }
        } finally {
          closeSync(fd);
        }
        execFileSync('mkdir', [join(root, 'many')]);
        for (let i = 0; i < 3000; i++)
          closeSync(openSync(join(root, 'many', `name-${i}-${'x'.repeat(i % 40)}`), 'w'));
        expect(readlinkSync(join(root, 'etc', 'long-link'))).toBe(longTarget);
      });
      expect(xfsDbFormat(image, '/etc/long-link')).toBe('extents');
      expect(xfsDbFormat(image, '/etc/fragmented')).toBe('btree');
      const volume = openXfsVolume(memoryDisk(new Uint8Array(readFileSync(image))));
      expect(volume.readlink('/etc/long-link')).toBe(longTarget);
      const bytes = volume.readFile('/etc/fragmented', 4 * 1024 * 1024)!;
      expect(bytes.length).toBe(399 * 8192 + 4096);
      for (const i of fragments) {
        expect(bytes[i * 8192]).toBe(i & 0xff);
        expect(bytes[i * 8192 + 4095]).toBe(i & 0xff);
        if (i < 399) expect(bytes[i * 8192 + 4096]).toBe(0);
      }
      expect(volume.list('/many').sort()).toEqual(xfsDbList(image, '/many').sort());
      expect(volume.list('/many')).toHaveLength(3000);
    },
  );
});
