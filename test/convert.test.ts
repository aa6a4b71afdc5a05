/**
 * `kpartx-tui convert` with the real qemu-img: a qcow2 made by `qemu-img convert -O qcow2` of a GPT
 * disk with a FAT ESP and an ext4 root comes back as a raw copy whose bytes and partition table
 * are the original raw disk's, progress on stderr, the qcow2 unchanged; an existing target, a raw
 * image and a missing one are refused before qemu-img runs.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSpace, defaultRawPath } from '../src/engine/convert.js';
import { readPartitionTable } from '../src/engine/tables/index.js';
import { openFileDisk } from '../src/io/file-disk.js';
import { progressValues } from '../src/kernel/qemu-img.js';
import { convertMain } from '../src/mount/convert.js';
import {
  canMakeDisks,
  disksSkipReason,
  LAYOUT,
  makeStackDisks,
  type StackDisks,
} from './support/stack-images.js';

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

function capture(tty = false) {
  const out = { stdout: '', stderr: '' };
  const io = {
    stdout: (t: string) => {
      out.stdout += t;
    },
    stderr: (t: string) => {
      out.stderr += t;
    },
    tty,
  };
  return { out, io };
}

function layout(path: string) {
  const size = readFileSync(path).length;
  const disk = openFileDisk(path, size, 512);
  try {
    const table = readPartitionTable(disk, { forceGpt: false });
    return table && { type: table.type, slots: table.slots.map((s) => [s.start, s.size]) };
  } finally {
    disk.close();
  }
}

describe('convert: the pure parts', () => {
  it('defaults beside the image, and parses qemu-img -p output', () => {
    expect(defaultRawPath('/vm/disk.qcow2')).toBe('/vm/disk.raw');
    expect(defaultRawPath('/vm/disk.vmdk')).toBe('/vm/disk.raw');
    expect(progressValues('    (0.00/100%)\r    (42.50/100%)\r')).toEqual([0, 42.5]);
  });
  it('checks space against the virtual size, refusing only below the data', () => {
    expect(checkSpace(100 * 2 ** 20, 64 * 2 ** 20, 10 * 2 ** 20).ok).toBe(true);
    const tight = checkSpace(20 * 2 ** 20, 64 * 2 ** 20, 10 * 2 ** 20);
    expect(tight.ok).toBe(true);
    expect(tight.text).toMatch(/sparse/);
    expect(checkSpace(5 * 2 ** 20, 64 * 2 ** 20, 10 * 2 ** 20)).toEqual({
      ok: false,
      text: 'not enough space: 5.0 MiB free, the image holds 10.0 MiB of data (virtual size 64.0 MiB)',
    });
  });
});

describe.skipIf(!canMakeDisks)(`kpartx-tui convert with qemu-img (${disksSkipReason})`, () => {
  let disks: StackDisks;
  let qcow2: string;
  beforeAll(() => {
    disks = makeStackDisks(false);
    qcow2 = disks.convert('qcow2');
  }, 60_000);
  afterAll(() => disks?.cleanup());

  it('copies a qcow2 to raw: same bytes and table as the original disk, progress shown, qcow2 untouched', async () => {
    const before = sha256(qcow2);
    const { out, io } = capture();
    expect(await convertMain([qcow2], io)).toBe(0);
    const target = join(disks.dir, 'disk.raw');
    expect(out.stdout).toBe(`${target}\n`);
    expect(out.stderr).toMatch(/free for a raw copy of 64\.0 MiB \(written sparse\)/);
    expect(out.stderr).toContain(`converting to ${target}: 100%\n`);
    expect(sha256(target)).toBe(sha256(disks.raw));
    expect(layout(target)).toEqual(layout(disks.raw));
    expect(layout(target)?.slots[1]).toEqual([LAYOUT.root.start, LAYOUT.root.size]);
    expect(sha256(qcow2)).toBe(before);
    expect(existsSync(`${target}.part`)).toBe(false);

    // Again: the copy exists now and is never overwritten.
    const again = capture();
    expect(await convertMain([qcow2], again.io)).toBe(1);
    expect(again.out.stderr).toBe(
      `kpartx-tui convert: ${target} exists; not overwriting it (name another path)\n`,
    );
  });

  it('a terminal gets one progress line redrawn in place', async () => {
    const { out, io } = capture(true);
    const target = join(disks.dir, 'tty.raw');
    expect(await convertMain([qcow2, target], io)).toBe(0);
    expect(out.stderr).toMatch(new RegExp(`\\rconverting to ${target}: 100%\\n$`));
  });

  it('a raw image or a missing file is refused before qemu-img runs', async () => {
    const raw = capture();
    expect(await convertMain([disks.raw, join(disks.dir, 'x.raw')], raw.io)).toBe(1);
    expect(raw.out.stderr).toBe(
      `kpartx-tui convert: ${disks.raw}: not a VM disk image qemu-img would convert (qcow2, VMDK, VHD, VHDX, VDI)\n`,
    );
    expect(existsSync(join(disks.dir, 'x.raw'))).toBe(false);
    const usage = capture();
    expect(await convertMain([], usage.io)).toBe(2);
  });
});
