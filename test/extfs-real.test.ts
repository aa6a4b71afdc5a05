/**
 * The ext reader against images made by the real mke2fs and filled by the real debugfs (no mount):
 * every file it reads is compared with what `debugfs -R cat` reads, directory listings with
 * `debugfs -R ls`, on ext2 and ext3 (block maps, indirect blocks) and ext4 (extent trees of depth
 * 0, 1 and 2, inline data), with htree directories of 500 names and fast, slow, relative and
 * absolute symlinks.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExtError, openExtVolume } from '../src/probe/extfs/index.js';
import {
  debugfsCat,
  debugfsList,
  debugfsStat,
  type ExtStep,
  hasE2fsprogs,
  makeExtImage,
} from './support/ext-images.js';
import { memoryDisk } from './support/memory-disk.js';

const OS_RELEASE =
  'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n';
const LONG_TARGET = `../usr/lib/${'a-very-long-directory-name/'.repeat(3)}os-release`;
/** Large contents compared by digest: a deep equality over a megabyte takes seconds. */
const digest = (bytes: Uint8Array | null) =>
  bytes ? createHash('sha256').update(bytes).digest('hex') : null;
const many = Array.from(
  { length: 500 },
  (_, i) => `file-${String(i).padStart(3, '0')}-${'x'.repeat(i % 40)}`,
);

/** The same tree on every type: the files a Linux root identifies itself by, and the awkward cases. */
function steps(big: Uint8Array): ExtStep[] {
  return [
    { dir: 'etc' },
    { dir: 'usr' },
    { dir: 'usr/lib' },
    { dir: 'usr/lib/a-very-long-directory-name' },
    { dir: 'usr/lib/a-very-long-directory-name/a-very-long-directory-name' },
    { dir: 'usr/lib/a-very-long-directory-name/a-very-long-directory-name/a-very-long-directory-name' },
    { file: 'usr/lib/os-release', data: OS_RELEASE },
    {
      file: 'usr/lib/a-very-long-directory-name/a-very-long-directory-name/a-very-long-directory-name/os-release',
      data: 'NAME=deep\n',
    },
    { link: 'etc/os-release', target: '../usr/lib/os-release' },
    { link: 'etc/absolute', target: '/usr/lib/os-release' },
    { link: 'etc/slow', target: LONG_TARGET },
    { link: 'etc/dangling', target: '/nowhere/at/all' },
    { file: 'etc/hostname', data: 'bookworm-vm\n' },
    { file: 'etc/big', data: big },
    { dir: 'many' },
    ...many.map((name, i) => ({ file: `many/${name}`, data: `${name} ${i}\n` })),
  ];
}

describe.skipIf(!hasE2fsprogs)(
  `ext reader on real images (${hasE2fsprogs ? 'e2fsprogs' : 'needs mke2fs and debugfs'})`,
  () => {
    let dir: string;
    const big = new Uint8Array(randomBytes(300 * 1024));
    beforeAll(() => {
      dir = mkdtempSync('/tmp/kpt-extfs-');
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    const kinds = [
      // 1 KiB blocks: the 300 KiB file needs double indirect blocks on ext2/ext3 (12 + 256 direct and single).
      { type: 'ext2', mkfsArgs: ['-b', '1024', '-O', 'dir_index'] },
      { type: 'ext3', mkfsArgs: ['-b', '1024'] },
      { type: 'ext4', mkfsArgs: [] },
      { type: 'ext4', mkfsArgs: ['-b', '1024', '-O', '^metadata_csum,^64bit'] },
    ] as const;

    for (const kind of kinds) {
      it(`${kind.type} ${kind.mkfsArgs.join(' ')}: files, symlinks and a 500-name htree directory read as debugfs reads them`, () => {
        const image = join(dir, `${kind.type}-${kind.mkfsArgs.length}.img`);
        const bytes = makeExtImage(dir, image, {
          type: kind.type,
          sizeKiB: 8192,
          mkfsArgs: [...kind.mkfsArgs],
          steps: steps(big),
          indexDirectories: true,
        });
        // The directory really is indexed (htree), so linear reading is what is tested.
        expect(
          Number.parseInt(/Flags: (0x[0-9a-f]+)/.exec(debugfsStat(image, '/many'))![1]!, 16) & 0x1000,
        ).toBe(0x1000);
        const volume = openExtVolume(memoryDisk(bytes));

        expect(Buffer.from(volume.readFile('/usr/lib/os-release')!)).toEqual(
          debugfsCat(image, '/usr/lib/os-release'),
        );
        // Relative, absolute and slow (longer than i_block) links all lead to the file itself.
        for (const link of ['/etc/os-release', '/etc/absolute'])
          expect(new TextDecoder().decode(volume.readFile(link)!)).toBe(OS_RELEASE);
        expect(volume.readlink('/etc/os-release')).toBe('../usr/lib/os-release');
        expect(volume.readlink('/etc/slow')).toBe(LONG_TARGET);
        expect(new TextDecoder().decode(volume.readFile('/etc/slow')!)).toBe('NAME=deep\n');
        expect(volume.lstat('/etc/slow')).toMatchObject({ kind: 'symlink', size: LONG_TARGET.length });
        expect(volume.stat('/etc/os-release')).toMatchObject({ kind: 'file', size: OS_RELEASE.length });
        expect(volume.readFile('/etc/dangling')).toBeNull();
        expect(volume.readFile('/etc/missing')).toBeNull();
        expect(volume.readFile('/etc')).toBeNull();
        expect(new TextDecoder().decode(volume.readFile('/etc/hostname')!)).toBe('bookworm-vm\n');

        // The big file: refused at the default cap, read whole when asked for, byte for byte.
        expect(() => volume.readFile('/etc/big')).toThrow(ExtError);
        expect(digest(volume.readFile('/etc/big', 1 << 20))).toBe(digest(debugfsCat(image, '/etc/big')));

        expect(volume.list('/many').sort()).toEqual(debugfsList(image, '/many').sort());
        expect(volume.list('/many')).toHaveLength(500);
        for (const name of [many[0]!, many[250]!, many[499]!])
          expect(Buffer.from(volume.readFile(`/many/${name}`)!)).toEqual(debugfsCat(image, `/many/${name}`));
        expect(volume.list('/etc').sort()).toEqual(debugfsList(image, '/etc').sort());
        // `..` stops at the root, as in a chroot.
        expect(volume.stat('/../../usr/../etc/hostname')).toMatchObject({ kind: 'file' });
      });
    }

    it('ext4 extent trees of depth 1 and 2 (a file with hundreds of holes) read as debugfs reads them', () => {
      const image = join(dir, 'deep.img');
      const bytes = makeExtImage(dir, image, {
        type: 'ext4',
        sizeKiB: 16384,
        mkfsArgs: ['-b', '1024'],
        steps: [
          { sparse: 'shallow', chunks: 12, gap: 3 },
          // 1 KiB blocks hold 84 extents: 400 separate extents need a second level of index.
          { sparse: 'deep', chunks: 400, gap: 3 },
        ],
      });
      expect(debugfsStat(image, '/shallow')).toMatch(/\(ETB0\)/);
      expect(debugfsStat(image, '/deep')).toMatch(/\(ETB1\)/);
      const volume = openExtVolume(memoryDisk(bytes));
      for (const name of ['/shallow', '/deep']) {
        const read = volume.readFile(name, 4 << 20)!;
        expect(read.length).toBe(debugfsCat(image, name).length);
        expect(digest(read)).toBe(digest(debugfsCat(image, name)));
        expect(new TextDecoder().decode(read.subarray(399 * 3072, 399 * 3072 + 20))).toMatch(
          name === '/deep' ? /^chunk 399 of deep/ : /^$/,
        );
      }
    });

    it('ext4 inline data: a small file, one spilling into system.data, and an inline directory', () => {
      const image = join(dir, 'inline.img');
      const spill = 'x'.repeat(100);
      const bytes = makeExtImage(dir, image, {
        type: 'ext4',
        sizeKiB: 4096,
        mkfsArgs: ['-O', 'inline_data', '-I', '256'],
        steps: [
          { dir: 'etc' },
          { file: 'etc/hostname', data: 'inline-vm\n' },
          { file: 'etc/spill', data: spill },
          { link: 'etc/link', target: 'hostname' },
        ],
      });
      expect(debugfsStat(image, '/etc/hostname')).toMatch(/Flags: 0x10000000/);
      expect(debugfsStat(image, '/etc/spill')).toMatch(/Flags: 0x10000000/);
      expect(debugfsStat(image, '/etc')).toMatch(/Flags: 0x10000000/);
      const volume = openExtVolume(memoryDisk(bytes));
      expect(new TextDecoder().decode(volume.readFile('/etc/hostname')!)).toBe('inline-vm\n');
      expect(new TextDecoder().decode(volume.readFile('/etc/spill')!)).toBe(spill);
      expect(new TextDecoder().decode(volume.readFile('/etc/link')!)).toBe('inline-vm\n');
      expect(volume.list('/etc').sort()).toEqual(debugfsList(image, '/etc').sort());
      expect(volume.stat('/etc/../etc/./hostname')).toMatchObject({ kind: 'file', size: 10 });
    });
  },
);
