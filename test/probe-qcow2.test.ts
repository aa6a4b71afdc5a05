/**
 * Reading a guest disk straight from qcow2 files made by `qemu-img`, compared byte for byte with
 * the same disk in raw form, and the partition table and contents read through it.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPartitionTable } from '../src/engine/tables/index.js';
import type { Disk } from '../src/io/disk.js';
import { DEFAULT_MAX_DEPTH, nodeFiles } from '../src/probe/container-files.js';
import { detectContainer, openContainer, probeContent } from '../src/probe/index.js';
import { openQcow2Image, Qcow2Error } from '../src/probe/qcow2.js';
import { type FileDisk, fileDisk, haveTool, run } from './probe-helpers.js';
import { memoryDisk } from './support/memory-disk.js';

const MiB = 1024 * 1024;
const tools = ['qemu-img', 'sfdisk', 'mkfs.ext4', 'mkfs.vfat'];
const missing = tools.filter((t) => !haveTool(t));
const work = mkdtempSync(join(tmpdir(), 'probe-qcow2-'));
const opened: FileDisk[] = [];
afterAll(() => {
  for (const d of opened) d.close();
  rmSync(work, { recursive: true, force: true });
});

const path = (name: string) => join(work, name);
function open(name: string): FileDisk {
  const d = fileDisk(path(name));
  opened.push(d);
  return d;
}

/** The guest's disk of a qcow2 already open, through the same entry the engine uses. */
function guestOf(file: Disk, name: string): Disk {
  const c = openContainer(file, { name });
  expect(c?.format).toBe('qcow2');
  if (!c?.disk) throw new Error(c?.problem?.message ?? `${name}: no guest disk`);
  return c.disk;
}

/** A 24 MiB DOS-partitioned disk: ext4 "guestroot", FAT16 "GUESTEFI", a patch of data, holes elsewhere. */
function buildRawDisk(): void {
  const raw = path('disk.raw');
  writeFileSync(raw, '');
  truncateSync(raw, 24 * MiB);
  run(
    'sfdisk',
    ['-q', raw],
    'label: dos\nstart=2048, size=12288, type=83\nstart=14336, size=16384, type=c\n',
  );
  const root = path('root.fs');
  writeFileSync(root, '');
  truncateSync(root, 6 * MiB);
  run('mkfs.ext4', ['-q', '-F', '-L', 'guestroot', root]);
  const efi = path('efi.fs');
  writeFileSync(efi, '');
  truncateSync(efi, 8 * MiB);
  run('mkfs.vfat', ['-F', '16', '-s', '1', '-n', 'GUESTEFI', efi]);
  const dd = (src: string, seekMiB: number) =>
    run('dd', [`if=${src}`, `of=${raw}`, 'bs=1M', `seek=${seekMiB}`, 'conv=notrunc,sparse', 'status=none']);
  dd(root, 1);
  dd(efi, 7);
  // Recognisable bytes straddling cluster boundaries in the free space after the partitions.
  const pattern = new Uint8Array(300 * 1024).map((_, i) => (i * 7 + 3) & 0xff);
  execFileSync('dd', [`of=${raw}`, 'bs=1', `seek=${16 * MiB - 1000}`, 'conv=notrunc', 'status=none'], {
    input: pattern,
  });
}

function expectSameBytes(a: Disk, b: Disk) {
  expect(a.size).toBe(b.size);
  for (let at = 0; at < a.size; at += MiB)
    expect(Buffer.from(a.readAt(at, MiB)).equals(Buffer.from(b.readAt(at, MiB)))).toBe(true);
  // Unaligned reads that cross cluster (and L2 table) boundaries.
  let seed = 42;
  const next = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  for (let i = 0; i < 200; i++) {
    const at = next() % a.size;
    const length = 1 + (next() % (200 * 1024));
    expect(
      Buffer.from(a.readAt(at, length)).equals(Buffer.from(b.readAt(at, length))),
      `at ${at} +${length}`,
    ).toBe(true);
  }
  expect(a.readAt(a.size, 10).length).toBe(0);
  expect(a.readAt(a.size - 4, 10).length).toBe(4);
}

describe.skipIf(missing.length > 0)(
  `qcow2 guest view${missing.length ? ` (skipped: ${missing.join(', ')} missing)` : ''}`,
  () => {
    beforeAll(() => {
      buildRawDisk();
      run('qemu-img', ['convert', '-O', 'qcow2', path('disk.raw'), path('v3.qcow2')]);
      run('qemu-img', ['convert', '-O', 'qcow2', '-o', 'compat=0.10', path('disk.raw'), path('v2.qcow2')]);
      run('qemu-img', [
        'convert',
        '-O',
        'qcow2',
        '-o',
        'cluster_size=512',
        path('disk.raw'),
        path('small.qcow2'),
      ]);
      run('qemu-img', [
        'convert',
        '-O',
        'qcow2',
        '-o',
        'cluster_size=2M',
        path('disk.raw'),
        path('big.qcow2'),
      ]);
    });

    for (const [name, what] of [
      ['v3.qcow2', 'v3, 64 KiB clusters'],
      ['v2.qcow2', 'v2 (compat=0.10)'],
      ['small.qcow2', '512-byte clusters: many L2 tables'],
      ['big.qcow2', '2 MiB clusters'],
    ] as const) {
      it(`reads the same bytes as the raw disk (${what})`, () => {
        expectSameBytes(guestOf(open(name), name), open('disk.raw'));
      });
    }

    it('lists the guest partition table and contents without attaching anything', () => {
      const guest = guestOf(open('v3.qcow2'), 'v3.qcow2');
      const raw = open('disk.raw');
      const table = readPartitionTable(guest);
      expect(table).toEqual(readPartitionTable(raw));
      expect(table?.type).toBe('dos');
      const contents = table!.slots
        .filter((s) => s.size > 0)
        .map((s) => probeContent(guest, s.start * 512, s.size * 512));
      expect(contents.map((c) => [c?.type, c?.label])).toEqual([
        ['ext4', 'guestroot'],
        ['vfat', 'GUESTEFI'],
      ]);
      expect(contents).toEqual(
        table!.slots.filter((s) => s.size > 0).map((s) => probeContent(raw, s.start * 512, s.size * 512)),
      );
    });

    it('is recognised as a readable qcow2 container with its virtual size', () => {
      for (const [name, version] of [
        ['v3.qcow2', 3],
        ['v2.qcow2', 2],
      ] as const) {
        const info = detectContainer(open(name), name);
        expect(info).toMatchObject({
          format: 'qcow2',
          description: `QEMU qcow2 v${version} image`,
          virtualSize: 24 * MiB,
          guestReadable: true,
          mappable: false,
        });
        expect(info?.advice.join('\n')).toContain(
          `qemu-nbd --read-only --format=qcow2 --connect=/dev/nbd0 ${name}`,
        );
      }
      expect(detectContainer(open('disk.raw'), 'disk.raw')).toBeNull();
    });

    it.skipIf(!haveTool('qemu-io'))(
      'reads zero-flagged (v3) clusters as zeros even when they keep a host cluster',
      () => {
        copyFileSync(path('v3.qcow2'), path('zeroed.qcow2'));
        copyFileSync(path('disk.raw'), path('zeroed.raw'));
        run('qemu-io', ['-f', 'qcow2', '-c', 'write -z 1M 128k', path('zeroed.qcow2')]);
        run('dd', [
          'if=/dev/zero',
          `of=${path('zeroed.raw')}`,
          'bs=64k',
          'seek=16',
          'count=2',
          'conv=notrunc',
          'status=none',
        ]);
        const guest = guestOf(open('zeroed.qcow2'), 'zeroed.qcow2');
        expect(guest.readAt(MiB, 128 * 1024).every((b) => b === 0)).toBe(true);
        expectSameBytes(guest, open('zeroed.raw'));
      },
    );

    it('reads compressed clusters (qemu-img convert -c) as the raw disk', () => {
      run('qemu-img', ['convert', '-c', '-O', 'qcow2', path('disk.raw'), path('compressed.qcow2')]);
      expectSameBytes(guestOf(open('compressed.qcow2'), 'compressed.qcow2'), open('disk.raw'));
    });

    it('reports a compressed cluster that does not decompress as corrupt, naming the file', () => {
      const file = open('compressed.qcow2');
      const bytes = Uint8Array.from(file.readAt(0, file.size));
      const view = new DataView(bytes.buffer);
      // Guest cluster 0 (the partition table): L1[0] -> L2 table -> its compressed descriptor,
      // whose low 54 bits (64 KiB clusters) are the stream's offset in the file.
      const l1 = Number(view.getBigUint64(40));
      const l2 = Number(view.getBigUint64(l1) & 0x00fffffffffffe00n);
      const entry = view.getBigUint64(l2);
      expect(entry & (1n << 62n), 'cluster 0 is compressed').not.toBe(0n);
      const stream = Number(entry & ((1n << 54n) - 1n));
      bytes.fill(0xff, stream, stream + 16);
      const broken = guestOf(memoryDisk(bytes), 'mangled.qcow2');
      expect(() => broken.readAt(0, 512)).toThrow(Qcow2Error);
      expect(() => broken.readAt(0, 512)).toThrow(
        /^mangled\.qcow2: compressed cluster for guest offset 0 does not decompress to 65536 bytes$/,
      );
      // The clusters around it are still read.
      expect(broken.readAt(20 * MiB, 512).every((b) => b === 0)).toBe(true);
    });

    it('refuses an image with a backing file when it has no path to find it by, naming it', () => {
      run('qemu-img', [
        'create',
        '-q',
        '-f',
        'qcow2',
        '-b',
        'v3.qcow2',
        '-F',
        'qcow2',
        path('overlay.qcow2'),
      ]);
      const overlay = openContainer(open('overlay.qcow2'), { name: 'overlay.qcow2' });
      expect(overlay?.disk).toBeUndefined();
      expect(overlay?.problem?.code).toBe('backing-file');
      expect(overlay?.problem?.message).toMatch(/^overlay\.qcow2: qcow2 image with backing file "v3\.qcow2"/);
      const info = detectContainer(open('overlay.qcow2'), 'overlay.qcow2');
      expect(info).toMatchObject({ format: 'qcow2', guestReadable: true });
      expect(info?.features).toContain('backing file "v3.qcow2" (qcow2)');
    });

    it('refuses an encrypted image', () => {
      run('qemu-img', [
        'create',
        '-q',
        '--object',
        'secret,id=sec0,data=password',
        '-f',
        'qcow2',
        '-o',
        // Legacy AES: created instantly, and the header field is the same one LUKS sets.
        'encrypt.format=aes,encrypt.key-secret=sec0',
        path('encrypted.qcow2'),
        '4M',
      ]);
      const encrypted = openContainer(open('encrypted.qcow2'), { name: 'encrypted.qcow2' });
      expect(encrypted?.disk).toBeUndefined();
      expect(encrypted?.problem?.code).toBe('encryption');
      expect(encrypted?.problem?.message).toBe(
        'encrypted.qcow2: qcow2 image encrypted with AES: its clusters cannot be read without the key',
      );
      expect(detectContainer(open('encrypted.qcow2'), 'e')).toMatchObject({ guestReadable: false });
    });

    it('reports a truncated image as corrupt instead of returning short or wrong data', () => {
      copyFileSync(path('v3.qcow2'), path('cut.qcow2'));
      truncateSync(path('cut.qcow2'), 400 * 1024);
      const guest = guestOf(open('cut.qcow2'), 'cut.qcow2');
      expect(() => guest.readAt(16 * MiB - 1000, 4096)).toThrow(Qcow2Error);
      expect(() => guest.readAt(16 * MiB - 1000, 4096)).toThrow(/^cut\.qcow2: .*past the end of the file/);
    });

    it('rejects files that are not qcow2', () => {
      const ctx = {
        files: nodeFiles,
        name: 'disk.raw',
        opened: [],
        seen: [],
        depth: 0,
        maxDepth: DEFAULT_MAX_DEPTH,
      };
      expect(() => openQcow2Image(open('disk.raw'), ctx)).toThrow(Qcow2Error);
      expect(() => openQcow2Image(open('disk.raw'), ctx)).toThrow(/^disk\.raw: not a qcow2 image$/);
      expect(openContainer(open('disk.raw'), { name: 'disk.raw' })).toBeNull();
    });
  },
);
