/**
 * The system on an ext filesystem, named without mounting: a Debian root whose os-release is the
 * usual relative link, an old root known by its account files, a filesystem that is no root, an
 * os-release too large to read, a damaged filesystem and one this reader does not cover; and the
 * built `kpartx-tui --json` on a GPT disk with an ext4 Debian root, as a script runs it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonDocument } from '../src/cli/json.js';
import { findFilesystemSystem } from '../src/engine/stack/index.js';
import { readExtRoot } from '../src/probe/system/ext-root.js';
import { DEBIAN_ROOT, type ExtStep, hasE2fsprogs, makeExtImage } from './support/ext-images.js';
import { REPO } from './support/images.js';
import { memoryDisk } from './support/memory-disk.js';
import { canMakeDisks, makeStackDisks, type StackDisks } from './support/stack-images.js';

const ext4 = { type: 'ext4', sizeKiB: 4096 } as const;

describe.skipIf(!hasE2fsprogs)('a Linux root on ext, read without mounting', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync('/tmp/kpt-ext-root-');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const image = (name: string, steps: ExtStep[], type: 'ext2' | 'ext3' | 'ext4' = 'ext4') =>
    makeExtImage(dir, join(dir, `${name}.img`), { ...ext4, type, steps });

  it('names a Debian root through its os-release link, with hostname and shadow, in a few reads', () => {
    for (const type of ['ext2', 'ext3', 'ext4'] as const) {
      const read = readExtRoot(memoryDisk(image(`debian-${type}`, DEBIAN_ROOT, type)));
      expect(read.ok && read.system).toMatchObject({
        kind: 'linux',
        label: 'Debian GNU/Linux 12 root',
        osReleasePath: '/etc/os-release',
        hostname: 'bookworm-vm',
        selinux: null,
        warnings: [],
      });
      expect(read.ok && read.shadow).toBe(true);
      // Superblock, descriptors, a few inodes and directory blocks: tens of KiB, not the filesystem.
      expect(read.ok && read.bytesRead).toBeLessThan(64 * 1024);
    }
  });

  it('a root without os-release is known by passwd, shadow and /bin/sh; a data filesystem is no root', () => {
    const old = image('old', [
      { dir: 'etc' },
      { dir: 'bin' },
      { file: 'etc/passwd', data: 'root:x:0:0::/root:/bin/sh\n' },
      { file: 'etc/shadow', data: 'root:*:1::::::\n' },
      { file: 'bin/sh', data: '\x7fELF' },
      { dir: 'etc/selinux' },
      { file: 'etc/selinux/config', data: 'SELINUX=permissive\nSELINUXTYPE=mls\n' },
    ]);
    const found = findFilesystemSystem(memoryDisk(old), {
      type: 'ext4',
      usage: 'filesystem',
      mountable: true,
    });
    expect(found.system).toMatchObject({
      label: 'Linux root',
      os: null,
      id: null,
      version: null,
      selinux: 'permissive',
      selinuxPolicy: 'mls',
      shadow: true,
    });
    const home = image('home', [{ dir: 'alice' }, { file: 'alice/notes', data: 'hello\n' }]);
    expect(
      findFilesystemSystem(memoryDisk(home), { type: 'ext4', usage: 'filesystem', mountable: true }),
    ).toEqual({
      system: null,
      systemNote: null,
    });
  });

  it('an os-release too large to read is a warning, and /usr/lib/os-release is read instead', () => {
    const bytes = image('large', [
      { dir: 'etc' },
      { dir: 'usr' },
      { dir: 'usr/lib' },
      { file: 'etc/os-release', data: `NAME=Huge\n#${'x'.repeat(70 * 1024)}\n` },
      { file: 'usr/lib/os-release', data: 'NAME="Fedora Linux"\nVERSION_ID=40\nID=fedora\n' },
    ]);
    const read = readExtRoot(memoryDisk(bytes));
    expect(read.ok && read.system?.label).toBe('Fedora Linux 40 root');
    expect(read.ok && read.system?.warnings).toEqual([
      expect.stringMatching(/^\/etc\/os-release: \d+ bytes, more than/),
    ]);
  });

  it('says why nothing is known: a damaged superblock, a filesystem read only once mounted', () => {
    const bytes = image('damaged', DEBIAN_ROOT).slice();
    bytes[1024 + 0x18] = 40; // s_log_block_size
    expect(
      findFilesystemSystem(memoryDisk(bytes), { type: 'ext4', usage: 'filesystem', mountable: true }),
    ).toEqual({
      system: null,
      systemNote: 'ext4 could not be read: superblock: block size 2^50 is not 1–64 KiB',
    });
    expect(
      findFilesystemSystem(memoryDisk(new Uint8Array(0)), {
        type: 'btrfs',
        usage: 'filesystem',
        mountable: true,
      }),
    ).toEqual({
      system: null,
      systemNote: "btrfs is not read without mounting: the app's mount session names its system once mounted",
    });
    // A device that fails to read: the note says so, nothing is thrown at the source.
    const failing = {
      ...memoryDisk(bytes),
      readAt: (): Uint8Array => {
        throw new Error('disk.img: read failed at byte 1024: EIO');
      },
    };
    expect(
      findFilesystemSystem(failing, { type: 'ext3', usage: 'filesystem', mountable: true }).systemNote,
    ).toBe('ext3 could not be read: disk.img: read failed at byte 1024: EIO');
    expect(
      findFilesystemSystem(memoryDisk(new Uint8Array(0)), { type: 'swap', usage: 'swap', mountable: false }),
    ).toEqual({ system: null, systemNote: null });
  });
});

const built =
  existsSync(join(REPO, 'dist', 'cli', 'json.js')) || existsSync(join(REPO, 'dist', 'tui', 'main.cjs'));
describe.skipIf(!canMakeDisks || !built)(
  'the built kpartx-tui --json on a GPT disk with an ext4 root',
  () => {
    let disks: StackDisks;
    beforeAll(() => {
      disks = makeStackDisks(false, true);
    }, 60_000);
    afterAll(() => disks?.cleanup());

    it('carries the system of partition 2, never a hash, and attaches nothing', () => {
      const out = execFileSync('node', [join(REPO, 'bin', 'kpartx-tui.js'), '--json', disks.raw], {
        encoding: 'utf8',
      });
      const [source] = (JSON.parse(out) as JsonDocument).sources;
      expect(source!.partitions[1]!.system).toMatchObject({
        os: 'Debian GNU/Linux 12 (bookworm)',
        id: 'debian',
        version: '12',
        hostname: 'bookworm-vm',
        selinux: null,
        shadow: true,
      });
      expect(source!.partitions[0]!.systemNote).toMatch(/^vfat is not read without mounting/);
      expect(out).not.toContain('$6$');
      expect(source!.image?.loopState).not.toBe('attached');
    });
  },
);
