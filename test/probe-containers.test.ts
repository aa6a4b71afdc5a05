/** Disk-image containers made by `qemu-img` (and compressors) are named, sized and explained. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeContent, detectContainer, probeContent } from '../src/probe/index.js';
import { fileDisk, haveTool, run } from './probe-helpers.js';
import { memoryDisk } from './support/memory-disk.js';

const MiB = 1024 * 1024;
const work = mkdtempSync(join(tmpdir(), 'probe-containers-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function detect(path: string, name = path) {
  const disk = fileDisk(path);
  try {
    return { info: detectContainer(disk, name), reads: disk.reads };
  } finally {
    disk.close();
  }
}

/** What qemu-img itself says the guest disk size is. */
const qemuVirtualSize = (path: string): number =>
  JSON.parse(run('qemu-img', ['info', '--output=json', path]))['virtual-size'];

describe.skipIf(!haveTool('qemu-img'))('containers made by qemu-img (skipped without qemu-img)', () => {
  // `reads`: how many reads naming it may take (a VHDX's size is in its metadata region).
  const formats = [
    { create: ['-f', 'qcow2'], format: 'qcow2', readable: true, reads: 4 },
    { create: ['-f', 'qcow'], format: 'qcow', readable: false, reads: 4 },
    { create: ['-f', 'qed'], format: 'qed', readable: false, reads: 4 },
    { create: ['-f', 'vmdk'], format: 'vmdk', readable: true, reads: 4 },
    { create: ['-f', 'vmdk', '-o', 'subformat=streamOptimized'], format: 'vmdk', readable: true, reads: 4 },
    { create: ['-f', 'vdi'], format: 'vdi', readable: true, reads: 4 },
    { create: ['-f', 'vpc'], format: 'vhd', readable: true, reads: 4 },
    { create: ['-f', 'vhdx'], format: 'vhdx', readable: true, reads: 12 },
  ];
  for (const f of formats) {
    it(`recognises ${f.create.join(' ')} as ${f.format}, with qemu-img's virtual size and what to do`, () => {
      const path = join(work, `disk-${f.create.join('_').replace(/\W+/g, '')}`);
      run('qemu-img', ['create', '-q', ...f.create, path, '48M']);
      const { info, reads } = detect(path, 'guest.img');
      expect(info?.format).toBe(f.format);
      expect(info?.guestReadable).toBe(f.readable);
      expect(info?.mappable).toBe(false);
      expect(info?.virtualSize).toBe(qemuVirtualSize(path));
      expect(info?.advice.some((a) => a.includes('qemu-nbd --read-only'))).toBe(true);
      expect(info?.advice.some((a) => a.includes('qemu-img convert -O raw guest.img guest.raw'))).toBe(true);
      expect(reads.length).toBeLessThanOrEqual(f.reads);
    });
  }

  it('points a monolithicFlat VMDK descriptor at the raw extent that holds the disk', () => {
    const path = join(work, 'flat.vmdk');
    run('qemu-img', ['create', '-q', '-f', 'vmdk', '-o', 'subformat=monolithicFlat', path, '32M']);
    const { info } = detect(path, 'flat.vmdk');
    expect(info).toMatchObject({ format: 'vmdk-descriptor', virtualSize: 32 * MiB, mappable: false });
    expect(info?.advice[0]).toContain('"flat-flat.vmdk"');
    expect(info?.advice[0]).toContain('run kpartx on that file instead');
  });

  it('calls a fixed VHD mappable as it is (a raw disk with a footer)', () => {
    const path = join(work, 'fixed.vhd');
    run('qemu-img', ['create', '-q', '-f', 'vpc', '-o', 'subformat=fixed', path, '32M']);
    const { info } = detect(path);
    // The disk is everything before the 512-byte footer, and the footer says so.
    expect(info).toMatchObject({
      format: 'vhd-fixed',
      mappable: true,
      virtualSize: statSync(path).size - 512,
    });
  });
});

describe('compressed images and plain disks', () => {
  const raw = join(work, 'plain.img');
  writeFileSync(raw, '');
  truncateSync(raw, 2 * MiB);

  for (const [tool, args, format] of [
    ['xz', ['-k', '-0'], 'xz'],
    ['gzip', ['-k'], 'gzip'],
    ['bzip2', ['-k'], 'bzip2'],
    ['zstd', ['-q', '-k'], 'zstd'],
  ] as const) {
    it.skipIf(!haveTool(tool))(`says a ${format} file must be decompressed first`, () => {
      execFileSync(tool, [...args, raw]);
      const ext = { xz: 'xz', gzip: 'gz', bzip2: 'bz2', zstd: 'zst' }[format];
      const { info } = detect(`${raw}.${ext}`, `disk.img.${ext}`);
      expect(info?.format).toBe(format);
      expect(info?.advice[0]).toMatch(new RegExp(`^decompress it first \\(.* disk\\.img\\.${ext}\\)`));
      rmSync(`${raw}.${ext}`);
    });
  }

  it('finds nothing in a raw disk, an empty file or a filesystem', () => {
    expect(detect(raw).info).toBeNull();
    expect(detectContainer(memoryDisk(new Uint8Array(0)))).toBeNull();
    expect(detectContainer(memoryDisk(new Uint8Array(4)))).toBeNull();
  });

  it.skipIf(!haveTool('mkfs.ext4'))('explains a bare filesystem with no partition table', () => {
    const fs = join(work, 'bare.img');
    writeFileSync(fs, '');
    truncateSync(fs, 8 * MiB);
    run('mkfs.ext4', ['-q', '-F', '-L', 'bare', fs]);
    const disk = fileDisk(fs);
    try {
      expect(detectContainer(disk, 'bare.img')).toBeNull();
      const info = probeContent(disk, 0, disk.size);
      expect(info?.mountable).toBe(true);
      expect(describeContent(info!)).toBe('ext4 filesystem "bare"');
    } finally {
      disk.close();
    }
  });
});
