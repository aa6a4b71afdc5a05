/**
 * VM disk images made by `qemu-img` from one GPT disk with three filesystems, in every format and
 * subformat openContainer reads: the guest's disk read through the container must be byte for byte
 * what `qemu-img convert -O raw` gives, and the partition table and contents read from it must be
 * those of the raw disk. Backing chains and missing files are named clearly.
 */

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPartitionTable } from '../src/engine/tables/index.js';
import type { Disk } from '../src/io/disk.js';
import { type OpenedContainer, openContainer, probeContent } from '../src/probe/index.js';
import { type FileDisk, fileDisk, haveTool, run } from './probe-helpers.js';

const MiB = 1024 * 1024;
const tools = ['qemu-img', 'qemu-io', 'sgdisk', 'mkfs.ext4', 'mkfs.vfat'];
const missing = tools.filter((t) => !haveTool(t));
const work = mkdtempSync(join(tmpdir(), 'probe-vm-images-'));
const toClose: Array<{ close(): void }> = [];
afterAll(() => {
  for (const c of toClose) c.close();
  rmSync(work, { recursive: true, force: true });
});
const path = (name: string) => join(work, name);

function rawFile(name: string): FileDisk {
  const d = fileDisk(path(name));
  toClose.push(d);
  return d;
}

function open(name: string, options = {}): OpenedContainer {
  const c = openContainer(path(name), options);
  expect(c, `${name} is a container`).not.toBeNull();
  toClose.push(c!);
  return c!;
}

/** A 32 MiB GPT disk: ext4 "guestroot", FAT "EFI", NTFS "win" (or a second ext4), random bytes in a gap. */
function buildRawDisk(): void {
  const raw = path('disk.raw');
  writeFileSync(raw, '');
  truncateSync(raw, 32 * MiB);
  run('sgdisk', [
    '-n1:2048:+8M',
    '-t1:8300',
    '-c1:root',
    '-n2:0:+8M',
    '-t2:ef00',
    '-n3:0:+12M',
    '-t3:0700',
    raw,
  ]);
  const place = (fs: string, seekMiB: number) =>
    run('dd', [`if=${fs}`, `of=${raw}`, 'bs=1M', `seek=${seekMiB}`, 'conv=notrunc,sparse', 'status=none']);
  const make = (name: string, mib: number, tool: string, args: string[]) => {
    const fs = path(name);
    writeFileSync(fs, '');
    truncateSync(fs, mib * MiB);
    run(tool, [...args, fs]);
    return fs;
  };
  place(make('p1.fs', 8, 'mkfs.ext4', ['-q', '-F', '-L', 'guestroot']), 1);
  place(make('p2.fs', 8, 'mkfs.vfat', ['-n', 'EFI']), 9);
  place(
    haveTool('mkfs.ntfs')
      ? make('p3.fs', 12, 'mkfs.ntfs', ['-q', '-F', '-Q', '-L', 'win'])
      : make('p3.fs', 12, 'mkfs.ext4', ['-q', '-F', '-L', 'data']),
    17,
  );
  // Bytes that are neither zero nor filesystem metadata, across cluster and grain boundaries.
  const pattern = new Uint8Array(300 * 1024).map((_, i) => (i * 7 + (i >> 9)) & 0xff);
  execFileSync('dd', [`of=${raw}`, 'bs=1', `seek=${30 * MiB - 1000}`, 'conv=notrunc', 'status=none'], {
    input: pattern,
  });
}

function sha256(disk: Disk): string {
  const hash = createHash('sha256');
  for (let at = 0; at < disk.size; at += 4 * MiB) hash.update(disk.readAt(at, 4 * MiB));
  return hash.digest('hex');
}

/** qemu's own view of an image, as a raw file beside it. */
function qemuRaw(name: string, format: string): FileDisk {
  run('qemu-img', ['convert', '-f', format, '-O', 'raw', path(name), path(`${name}.qemu.raw`)]);
  return rawFile(`${name}.qemu.raw`);
}

/** Unaligned reads crossing cluster, grain and block boundaries give the same bytes. */
function expectSameRanges(a: Disk, b: Disk) {
  let seed = 7;
  const next = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  for (let i = 0; i < 60; i++) {
    const at = next() % a.size;
    const length = 1 + (next() % (300 * 1024));
    expect(
      Buffer.from(a.readAt(at, length)).equals(Buffer.from(b.readAt(at, length))),
      `at ${at} +${length}`,
    ).toBe(true);
  }
  expect(a.readAt(a.size - 4, 10).length).toBe(4);
  expect(a.readAt(a.size, 10).length).toBe(0);
}

/** The table and the contents of every partition, as kpartx-tui would list them. */
function listing(disk: Disk) {
  const table = readPartitionTable(disk);
  return {
    table,
    contents: (table?.slots ?? [])
      .filter((s) => s.size > 0)
      .map((s) => probeContent(disk, s.start * 512, s.size * 512)),
  };
}

const IMAGES: Array<{ name: string; args: string[]; format: string; what: string; features?: string[] }> = [
  { name: 'v3.qcow2', args: ['-O', 'qcow2', '-o', 'compat=1.1'], format: 'qcow2', what: 'qcow2 v3' },
  { name: 'v2.qcow2', args: ['-O', 'qcow2', '-o', 'compat=0.10'], format: 'qcow2', what: 'qcow2 v2' },
  {
    name: 'packed.qcow2',
    args: ['-c', '-O', 'qcow2'],
    format: 'qcow2',
    what: 'qcow2, zlib-compressed clusters',
  },
  {
    name: 'packed-v2.qcow2',
    args: ['-c', '-O', 'qcow2', '-o', 'compat=0.10,cluster_size=4096'],
    format: 'qcow2',
    what: 'qcow2 v2, compressed 4 KiB clusters',
  },
  {
    name: 'sub.qcow2',
    args: ['-O', 'qcow2', '-o', 'extended_l2=on,cluster_size=128k'],
    format: 'qcow2',
    what: 'qcow2 with subclusters',
    features: ['extended L2 entries (subclusters)'],
  },
  {
    name: 'flat.vmdk',
    args: ['-O', 'vmdk', '-o', 'subformat=monolithicFlat'],
    format: 'vmdk',
    what: 'VMDK monolithicFlat',
    features: ['createType monolithicFlat'],
  },
  {
    name: 'split.vmdk',
    args: ['-O', 'vmdk', '-o', 'subformat=twoGbMaxExtentFlat'],
    format: 'vmdk',
    what: 'VMDK twoGbMaxExtentFlat',
  },
  {
    name: 'sparse.vmdk',
    args: ['-O', 'vmdk', '-o', 'subformat=monolithicSparse'],
    format: 'vmdk',
    what: 'VMDK monolithicSparse',
    features: ['createType monolithicSparse'],
  },
  {
    name: 'split-sparse.vmdk',
    args: ['-O', 'vmdk', '-o', 'subformat=twoGbMaxExtentSparse'],
    format: 'vmdk',
    what: 'VMDK twoGbMaxExtentSparse',
  },
  {
    name: 'stream.vmdk',
    args: ['-O', 'vmdk', '-o', 'subformat=streamOptimized'],
    format: 'vmdk',
    what: 'VMDK streamOptimized (compressed grains)',
    features: ['compressed grains (deflate)'],
  },
  { name: 'fixed.vhd', args: ['-O', 'vpc', '-o', 'subformat=fixed'], format: 'vpc', what: 'VHD fixed' },
  { name: 'dynamic.vhd', args: ['-O', 'vpc', '-o', 'subformat=dynamic'], format: 'vpc', what: 'VHD dynamic' },
  { name: 'disk.vhdx', args: ['-O', 'vhdx'], format: 'vhdx', what: 'VHDX dynamic' },
  { name: 'fixed.vhdx', args: ['-O', 'vhdx', '-o', 'subformat=fixed'], format: 'vhdx', what: 'VHDX fixed' },
  { name: 'disk.vdi', args: ['-O', 'vdi'], format: 'vdi', what: 'VDI dynamic' },
  { name: 'static.vdi', args: ['-O', 'vdi', '-o', 'static=on'], format: 'vdi', what: 'VDI fixed' },
];

describe.skipIf(missing.length > 0)(
  `VM disk images made by qemu-img${missing.length ? ` (skipped: ${missing.join(', ')} missing)` : ''}`,
  () => {
    let rawListing: ReturnType<typeof listing>;
    beforeAll(() => {
      buildRawDisk();
      rawListing = listing(rawFile('disk.raw'));
      for (const image of IMAGES)
        run('qemu-img', ['convert', '-f', 'raw', ...image.args, path('disk.raw'), path(image.name)]);
    }, 120_000);

    it('the raw disk lists a GPT with three filesystems', () => {
      expect(rawListing.table?.type).toBe('gpt');
      expect(rawListing.contents.map((c) => c?.label)).toEqual([
        'guestroot',
        'EFI',
        haveTool('mkfs.ntfs') ? 'win' : 'data',
      ]);
    });

    for (const image of IMAGES) {
      it(`${image.what}: the same bytes as qemu-img's raw view, and the same listing`, () => {
        const c = open(image.name);
        expect(c.problem).toBeUndefined();
        const guest = c.disk!;
        const reference = qemuRaw(image.name, image.format);
        expect(guest.size).toBe(reference.size);
        expect(c.virtualSize).toBe(reference.size);
        expect(sha256(guest)).toBe(sha256(reference));
        expectSameRanges(guest, reference);
        for (const feature of image.features ?? []) expect(c.features).toContain(feature);
        expect(c.mappable).toBe(image.name === 'fixed.vhd');
        const seen = listing(guest);
        expect(seen.table).toEqual(rawListing.table);
        expect(seen.contents).toEqual(rawListing.contents);
      });
    }

    it('zstd-compressed qcow2: read where Node.js has zstd, else refused at once, naming zstd', () => {
      run('qemu-img', [
        'convert',
        '-c',
        '-O',
        'qcow2',
        '-o',
        'compression_type=zstd',
        path('disk.raw'),
        path('zstd.qcow2'),
      ]);
      const c = open('zstd.qcow2');
      expect(c.features).toContain('zstd compression');
      if (c.disk) expect(sha256(c.disk)).toBe(sha256(qemuRaw('zstd.qcow2', 'qcow2')));
      else {
        expect(c.problem?.code).toBe('compression');
        expect(c.problem?.message).toMatch(
          /^.*zstd\.qcow2: qcow2 image compressed with zstd, which this Node\.js \(v\d+/,
        );
        expect(c.virtualSize).toBe(32 * MiB);
      }
    });

    describe('a qcow2 overlay on a backing file', () => {
      beforeAll(() => {
        mkdirSync(path('vm'));
        run('qemu-img', ['convert', '-O', 'qcow2', path('disk.raw'), path('vm/base.qcow2')]);
        // Named relative to the overlay's directory, as qemu-img writes it.
        run('qemu-img', [
          'create',
          '-q',
          '-f',
          'qcow2',
          '-b',
          'base.qcow2',
          '-F',
          'qcow2',
          path('vm/overlay.qcow2'),
        ]);
        run('qemu-io', [
          '-f',
          'qcow2',
          '-c',
          'write -P 0xab 1M 64k',
          '-c',
          'write -P 0xcd 20M 1000k',
          '-c',
          'write -z 17M 64k',
          path('vm/overlay.qcow2'),
        ]);
      });

      it('reads written clusters from the overlay and the rest from the backing file', () => {
        const c = open('vm/overlay.qcow2');
        expect(c.problem).toBeUndefined();
        expect(c.features).toContain('backing file "base.qcow2" (qcow2)');
        expect(c.files).toEqual([path('vm/base.qcow2')]);
        const guest = c.disk!;
        expect(sha256(guest)).toBe(sha256(qemuRaw('vm/overlay.qcow2', 'qcow2')));
        expect(guest.readAt(MiB, 64 * 1024).every((b) => b === 0xab)).toBe(true);
        expect(guest.readAt(17 * MiB, 64 * 1024).every((b) => b === 0)).toBe(true);
        expect(listing(guest).table).toEqual(rawListing.table);
      });

      it('follows a chain of three, with a raw image at its root', () => {
        run('qemu-img', [
          'create',
          '-q',
          '-f',
          'qcow2',
          '-b',
          '../disk.raw',
          '-F',
          'raw',
          path('vm/mid.qcow2'),
        ]);
        run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x11 2M 4k', path('vm/mid.qcow2')]);
        run('qemu-img', [
          'create',
          '-q',
          '-f',
          'qcow2',
          '-b',
          'mid.qcow2',
          '-F',
          'qcow2',
          path('vm/top.qcow2'),
        ]);
        run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x22 3M 4k', path('vm/top.qcow2')]);
        const c = open('vm/top.qcow2');
        expect(c.files).toEqual([path('vm/mid.qcow2'), path('disk.raw')]);
        expect(sha256(c.disk!)).toBe(sha256(qemuRaw('vm/top.qcow2', 'qcow2')));
      });

      it('reads zeros past the end of a smaller backing file', () => {
        run('qemu-img', ['create', '-q', '-f', 'qcow2', path('vm/small.qcow2'), '1M']);
        run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x5a 0 1M', path('vm/small.qcow2')]);
        run('qemu-img', [
          'create',
          '-q',
          '-f',
          'qcow2',
          '-b',
          'small.qcow2',
          '-F',
          'qcow2',
          path('vm/grown.qcow2'),
          '4M',
        ]);
        const guest = open('vm/grown.qcow2').disk!;
        expect(guest.size).toBe(4 * MiB);
        const bytes = guest.readAt(MiB - 512, 1024);
        expect(bytes.subarray(0, 512).every((b) => b === 0x5a)).toBe(true);
        expect(bytes.subarray(512).every((b) => b === 0)).toBe(true);
        expect(sha256(guest)).toBe(sha256(qemuRaw('vm/grown.qcow2', 'qcow2')));
      });

      it('names a missing backing file and where it was looked for', () => {
        run('qemu-img', [
          'create',
          '-q',
          '-f',
          'qcow2',
          '-b',
          'gone.qcow2',
          '-F',
          'qcow2',
          '-u',
          path('vm/orphan.qcow2'),
          '64M',
        ]);
        const c = open('vm/orphan.qcow2');
        expect(c.disk).toBeUndefined();
        expect(c.virtualSize).toBe(64 * MiB);
        expect(c.problem).toEqual({
          code: 'backing-missing',
          file: path('vm/orphan.qcow2'),
          message: `${path('vm/orphan.qcow2')}: backing file "gone.qcow2" is missing (looked for ${path('vm/gone.qcow2')})`,
        });
        expect(c.advice[0]).toContain('qemu-img rebase -u -b');
      });

      it('stops at a chain that loops, and at one deeper than allowed', () => {
        run('qemu-img', ['create', '-q', '-f', 'qcow2', path('vm/a.qcow2'), '8M']);
        run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', 'a.qcow2', '-F', 'qcow2', path('vm/b.qcow2')]);
        run('qemu-img', [
          'rebase',
          '-q',
          '-u',
          '-f',
          'qcow2',
          '-b',
          'b.qcow2',
          '-F',
          'qcow2',
          path('vm/a.qcow2'),
        ]);
        const loop = open('vm/b.qcow2');
        expect(loop.problem?.code).toBe('backing-loop');
        expect(loop.problem?.message).toMatch(
          /backing file "b\.qcow2" leads back to an image already in the chain/,
        );
        const deep = open('vm/top.qcow2', { maxBackingDepth: 1 });
        expect(deep.problem?.code).toBe('backing-depth');
        expect(deep.problem?.message).toContain('deeper than 1 image');
      });

      it('without the image path (a Disk only) says the backing file cannot be followed', () => {
        const disk = rawFile('vm/overlay.qcow2');
        const c = openContainer(disk, { name: 'overlay.qcow2' })!;
        expect(c.problem?.code).toBe('backing-file');
        expect(c.problem?.message).toMatch(/^overlay\.qcow2: qcow2 image with backing file "base\.qcow2"/);
        // Given the path, the same Disk is read through its chain.
        const withPath = openContainer(disk, { path: path('vm/overlay.qcow2') })!;
        toClose.push(withPath);
        expect(withPath.disk?.readAt(MiB, 1)[0]).toBe(0xab);
      });
    });

    it('names a VMDK extent file that is missing', () => {
      run('qemu-img', [
        'convert',
        '-O',
        'vmdk',
        '-o',
        'subformat=monolithicFlat',
        path('disk.raw'),
        path('moved.vmdk'),
      ]);
      renameSync(path('moved-flat.vmdk'), path('elsewhere.vmdk'));
      const c = open('moved.vmdk');
      expect(c.format).toBe('vmdk');
      expect(c.virtualSize).toBe(32 * MiB);
      expect(c.problem?.code).toBe('missing-extent');
      expect(c.problem?.message).toBe(
        `${path('moved.vmdk')}: extent "moved-flat.vmdk" is missing (looked for ${path('moved-flat.vmdk')})`,
      );
    });

    it('closes every file it opened', () => {
      const c = open('vm/top.qcow2');
      c.close();
      expect(() => c.disk!.readAt(3 * MiB, 512)).toThrow(/EBADF/);
    });

    it('returns null for a raw disk and a filesystem image', () => {
      expect(openContainer(path('disk.raw'))).toBeNull();
      expect(openContainer(path('p1.fs'))).toBeNull();
      expect(() => openContainer(path('nothing-here.qcow2'))).toThrow(
        /nothing-here\.qcow2: cannot be opened: ENOENT/,
      );
    });
  },
);
