/**
 * Content probing on images made by the real tools (mkfs.*, mkswap, mksquashfs, genisoimage,
 * cryptsetup, pvcreate), compared field by field with `blkid -p` on the same image.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { probeContent } from '../src/probe/index.js';
import { oemLabel } from '../src/probe/text.js';
import type { ContentInfo } from '../src/probe/types.js';
import { type BlkidView, blkidProbe, canUseLoop, fileDisk, haveTool, run } from './probe-helpers.js';
import { privateLvmEnv } from './support/lvm-env.js';

const work = mkdtempSync(join(tmpdir(), 'probe-real-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const MiB = 1024 * 1024;

function image(name: string, size: number): string {
  const path = join(work, name);
  writeFileSync(path, '');
  truncateSync(path, size);
  return path;
}

/** Our label, in the bytes blkid would print (FAT labels go back to their code page). */
function sameLabel(ours: string | undefined, theirs: Uint8Array | undefined, type: string): boolean {
  if (!ours || !theirs) return ours === undefined && theirs === undefined;
  const asUtf8 = new TextDecoder('utf-8', { fatal: false }).decode(theirs);
  if (asUtf8 === ours) return true;
  return type === 'vfat' && oemLabel(theirs, 0, theirs.length) === ours;
}

function probeFile(path: string, offset = 0): { info: ContentInfo | null; bytesRead: number } {
  const disk = fileDisk(path);
  try {
    const info = probeContent(disk, offset, disk.size - offset);
    return { info, bytesRead: disk.bytesRead };
  } finally {
    disk.close();
  }
}

function expectLikeBlkid(info: ContentInfo | null, ref: BlkidView) {
  expect(ref.type, 'blkid recognised the image').toBeDefined();
  expect(info?.type).toBe(ref.type);
  expect(sameLabel(info?.label, ref.label, ref.type ?? '')).toBe(true);
  expect(info?.uuid).toBe(ref.uuid);
  if (ref.uuidSub) expect(info?.uuidSub).toBe(ref.uuidSub);
}

interface Case {
  name: string;
  tools: string[];
  build: () => string;
  expected: Partial<ContentInfo>;
  /** Most formats need a few KiB; a few (exFAT/FAT label chains, ZFS) read more. */
  maxBytes?: number;
}

const cases: Case[] = [
  {
    name: 'ext2',
    tools: ['mkfs.ext2'],
    build: () => {
      const p = image('ext2.img', 8 * MiB);
      run('mkfs.ext2', ['-q', '-F', '-L', 'e2label', '-U', '11111111-2222-3333-4444-555555555555', p]);
      return p;
    },
    expected: {
      type: 'ext2',
      label: 'e2label',
      uuid: '11111111-2222-3333-4444-555555555555',
      mountable: true,
    },
  },
  {
    name: 'ext3',
    tools: ['mkfs.ext3'],
    build: () => {
      const p = image('ext3.img', 16 * MiB);
      run('mkfs.ext3', ['-q', '-F', '-L', 'journalled', p]);
      return p;
    },
    expected: { type: 'ext3', label: 'journalled', usage: 'filesystem' },
  },
  {
    name: 'ext4 with a UTF-8 label',
    tools: ['mkfs.ext4'],
    build: () => {
      const p = image('ext4.img', 16 * MiB);
      run('mkfs.ext4', ['-q', '-F', '-L', 'données', '-U', 'abcdef01-2345-6789-abcd-ef0123456789', p]);
      return p;
    },
    expected: {
      type: 'ext4',
      label: 'données',
      uuid: 'abcdef01-2345-6789-abcd-ef0123456789',
      version: '1.0',
    },
  },
  {
    name: 'ext4 without a label',
    tools: ['mkfs.ext4'],
    build: () => {
      const p = image('ext4-nolabel.img', 16 * MiB);
      run('mkfs.ext4', ['-q', '-F', p]);
      return p;
    },
    expected: { type: 'ext4', label: undefined },
  },
  ...[12, 16, 32].map(
    (bits): Case => ({
      name: `FAT${bits}`,
      tools: ['mkfs.vfat'],
      build: () => {
        const p = image(`fat${bits}.img`, bits === 32 ? 64 * MiB : 16 * MiB);
        run('mkfs.vfat', ['-F', String(bits), '-n', `FAT${bits}VOL`, '-i', '1234ABCD', p]);
        return p;
      },
      expected: {
        type: 'vfat',
        label: `FAT${bits}VOL`,
        uuid: '1234-ABCD',
        version: `FAT${bits}`,
        mountable: true,
      },
    }),
  ),
  {
    name: 'FAT32 without a label',
    tools: ['mkfs.vfat'],
    build: () => {
      const p = image('fat32-nolabel.img', 64 * MiB);
      run('mkfs.vfat', ['-F', '32', '-i', 'DEADBEEF', p]);
      return p;
    },
    expected: { type: 'vfat', label: undefined, uuid: 'DEAD-BEEF' },
  },
  {
    name: 'swap v1',
    tools: ['mkswap'],
    build: () => {
      const p = image('swap.img', 4 * MiB);
      run('mkswap', ['-L', 'swappy', '-U', '01234567-89ab-cdef-0123-456789abcdef', p]);
      return p;
    },
    expected: {
      type: 'swap',
      usage: 'swap',
      label: 'swappy',
      uuid: '01234567-89ab-cdef-0123-456789abcdef',
      mountable: false,
    },
  },
  {
    name: 'xfs',
    tools: ['mkfs.xfs'],
    build: () => {
      const p = image('xfs.img', 320 * MiB);
      run('mkfs.xfs', ['-q', '-f', '-L', 'xfsvol', '-m', 'uuid=0badcafe-1234-4321-8888-123456789abc', p]);
      return p;
    },
    expected: { type: 'xfs', label: 'xfsvol', uuid: '0badcafe-1234-4321-8888-123456789abc', mountable: true },
  },
  {
    name: 'btrfs',
    tools: ['mkfs.btrfs'],
    build: () => {
      const p = image('btrfs.img', 128 * MiB);
      run('mkfs.btrfs', ['-q', '-f', '-L', 'butter', '-U', 'feedface-0000-1111-2222-333344445555', p]);
      return p;
    },
    expected: { type: 'btrfs', label: 'butter', uuid: 'feedface-0000-1111-2222-333344445555' },
  },
  {
    name: 'exFAT',
    tools: ['mkfs.exfat'],
    build: () => {
      const p = image('exfat.img', 32 * MiB);
      run('mkfs.exfat', ['-L', 'Exfätlabel', p]);
      return p;
    },
    expected: { type: 'exfat', label: 'Exfätlabel', mountable: true },
    maxBytes: 96 * 1024,
  },
  {
    name: 'NTFS',
    tools: ['mkntfs'],
    build: () => {
      const p = image('ntfs.img', 32 * MiB);
      run('mkntfs', ['-q', '-F', '-f', '-L', 'Windows Données', p]);
      return p;
    },
    expected: { type: 'ntfs', label: 'Windows Données', mountable: true },
  },
  {
    name: 'squashfs',
    tools: ['mksquashfs'],
    build: () => {
      const src = join(work, 'sq-src');
      mkdirSync(src, { recursive: true });
      writeFileSync(join(src, 'hello.txt'), 'hello\n');
      const p = join(work, 'squash.img');
      run('mksquashfs', [src, p, '-noappend', '-quiet']);
      return p;
    },
    expected: { type: 'squashfs', version: '4.0', mountable: true, label: undefined, uuid: undefined },
  },
  {
    name: 'ISO 9660 with Joliet',
    tools: ['genisoimage'],
    build: () => {
      const src = join(work, 'iso-src');
      mkdirSync(src, { recursive: true });
      writeFileSync(join(src, 'readme.txt'), 'iso\n');
      const p = join(work, 'joliet.iso');
      run('genisoimage', ['-quiet', '-J', '-r', '-V', 'Install Disc 1', '-o', p, src]);
      return p;
    },
    expected: { type: 'iso9660', label: 'Install Disc 1', version: 'Joliet Extension', mountable: true },
  },
  {
    name: 'ISO 9660 without Joliet',
    tools: ['genisoimage'],
    build: () => {
      const src = join(work, 'iso-src2');
      mkdirSync(src, { recursive: true });
      writeFileSync(join(src, 'a.txt'), 'a\n');
      const p = join(work, 'plain.iso');
      run('genisoimage', ['-quiet', '-V', 'PLAINISO', '-o', p, src]);
      return p;
    },
    expected: { type: 'iso9660', label: 'PLAINISO', version: undefined },
  },
  {
    name: 'LUKS1',
    tools: ['cryptsetup'],
    build: () => {
      const p = image('luks1.img', 8 * MiB);
      run(
        'cryptsetup',
        [
          'luksFormat',
          '-q',
          '--type',
          'luks1',
          '--pbkdf-force-iterations',
          '1000',
          '--uuid',
          '12345678-1234-1234-1234-123456789abc',
          '--key-file',
          '-',
          p,
        ],
        'secret',
      );
      return p;
    },
    expected: {
      type: 'crypto_LUKS',
      usage: 'crypto',
      version: '1',
      uuid: '12345678-1234-1234-1234-123456789abc',
      mountable: false,
    },
  },
  {
    name: 'LUKS2 with a label',
    tools: ['cryptsetup'],
    build: () => {
      const p = image('luks2.img', 32 * MiB);
      run(
        'cryptsetup',
        [
          'luksFormat',
          '-q',
          '--type',
          'luks2',
          '--pbkdf',
          'pbkdf2',
          '--pbkdf-force-iterations',
          '1000',
          '--label',
          'vault',
          '--key-file',
          '-',
          p,
        ],
        'secret',
      );
      return p;
    },
    expected: { type: 'crypto_LUKS', version: '2', label: 'vault', mountable: false },
  },
];

describe('content probing on images made by the real tools', () => {
  for (const c of cases) {
    const missing = c.tools.filter((t) => !haveTool(t));
    it.skipIf(missing.length > 0)(
      `${c.name}${missing.length ? ` (skipped: ${missing.join(', ')} not installed)` : ''}`,
      () => {
        const path = c.build();
        const { info, bytesRead } = probeFile(path);
        for (const [key, value] of Object.entries(c.expected))
          expect(info?.[key as keyof ContentInfo], key).toEqual(value);
        expectLikeBlkid(info, blkidProbe(path));
        expect(bytesRead).toBeLessThanOrEqual(c.maxBytes ?? 64 * 1024);
      },
    );
  }

  it.skipIf(!haveTool('cryptsetup'))(
    'finds LUKS2 by its secondary header when the primary one is wiped',
    () => {
      const p = image('luks2-wiped.img', 32 * MiB);
      run(
        'cryptsetup',
        [
          'luksFormat',
          '-q',
          '--type',
          'luks2',
          '--pbkdf',
          'pbkdf2',
          '--pbkdf-force-iterations',
          '1000',
          '--label',
          'second',
          '--key-file',
          '-',
          p,
        ],
        'secret',
      );
      const before = probeFile(p).info;
      run('dd', ['if=/dev/zero', `of=${p}`, 'bs=4096', 'count=1', 'conv=notrunc', 'status=none']);
      const { info } = probeFile(p);
      expect(info).toMatchObject({ type: 'crypto_LUKS', version: '2', label: 'second', uuid: before?.uuid });
      expectLikeBlkid(info, blkidProbe(p));
    },
  );

  it('finds a filesystem inside a partition at its offset, never reading past the partition', () => {
    if (!haveTool('mkfs.ext4')) return;
    const fs = image('part-ext4.img', 8 * MiB);
    run('mkfs.ext4', ['-q', '-F', '-L', 'inner', fs]);
    const whole = image('disk-with-part.img', 12 * MiB);
    run('dd', [`if=${fs}`, `of=${whole}`, 'bs=1M', 'seek=2', 'conv=notrunc,sparse', 'status=none']);
    const disk = fileDisk(whole);
    try {
      const info = probeContent(disk, 2 * MiB, 8 * MiB);
      expect(info).toMatchObject({ type: 'ext4', label: 'inner' });
      for (const [offset, length] of disk.reads) {
        expect(offset).toBeGreaterThanOrEqual(2 * MiB);
        expect(offset + length).toBeLessThanOrEqual(10 * MiB);
      }
    } finally {
      disk.close();
    }
  });
});

describe.skipIf(!canUseLoop || !haveTool('pvcreate'))(
  'LVM2 physical volumes made by pvcreate/vgcreate (needs root and loop devices; skipped otherwise)',
  () => {
    const loops: string[] = [];
    // A private LVM_SYSTEM_DIR: the host's /etc/lvm gets no backups or archives of test VGs.
    const lvmEnv = privateLvmEnv();
    afterAll(() => {
      for (const loop of loops) spawnSync('losetup', ['-d', loop]);
      lvmEnv.dispose();
    });
    const lvm = (cmd: string, args: string[]) => execFileSync(cmd, args, { env: lvmEnv.env, stdio: 'pipe' });

    function pvOnLoop(name: string, vg?: string): string {
      const path = image(name, 64 * MiB);
      const loop = run('losetup', ['-f', '--show', path]).trim();
      loops.push(loop);
      lvm('pvcreate', ['-ff', '-y', loop]);
      if (vg) lvm('vgcreate', [vg, loop]);
      spawnSync('losetup', ['-d', loop]);
      loops.splice(loops.indexOf(loop), 1);
      return path;
    }

    it('names the volume group from the metadata area and the PV UUID like blkid', () => {
      const vg = `kpt_probe_${process.pid}`;
      const path = pvOnLoop('pv-in-vg.img', vg);
      const { info } = probeFile(path);
      expectLikeBlkid(info, blkidProbe(path));
      expect(info).toMatchObject({ type: 'LVM2_member', usage: 'lvm', volumeGroup: vg, mountable: false });
      expect(info?.uuid).toMatch(/^[\w]{6}-([\w]{4}-){5}[\w]{6}$/);
      expect(info?.hint).toContain(`vgchange -ay ${vg}`);
    });

    it('reports a PV that belongs to no volume group yet', () => {
      const path = pvOnLoop('pv-alone.img');
      const { info } = probeFile(path);
      expectLikeBlkid(info, blkidProbe(path));
      expect(info?.volumeGroup).toBeUndefined();
    });
  },
);
