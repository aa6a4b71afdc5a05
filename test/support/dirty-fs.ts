/**
 * Disk images whose filesystem needs its journal or log replayed, made the way it happens in real
 * life: by real tools, copying the image while its filesystem is mounted and has just been written.
 * Only util-linux and the mkfs tools prepare them, never the code under test. Shared by the loop
 * tests on this machine and the device-mapper tests in the guest.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';

export type DirtyType = 'ext4' | 'xfs' | 'btrfs';

/**
 * Partition sizes in MiB, small because the guest hashes every image byte on an emulated CPU.
 * mkfs.xfs refuses less than 300 MiB except for fstests, which it knows by the variables below;
 * btrfs fits in 64 MiB with mixed block groups.
 */
const PARTITION_MIB: Record<DirtyType, number> = { ext4: 32, xfs: 64, btrfs: 64 };
const SMALL_XFS_ENV = { ...process.env, TEST_DIR: '/tmp', TEST_DEV: '/dev/null', QA_CHECK_FS: '1' };
const START_SECTOR = 2048;

export const helloFor = (type: DirtyType): string => `hello from a dirty ${type}\n`;

export interface DirtyImage {
  /** The copy: a DOS-partitioned image whose partition 1 needs its journal/log replayed. */
  image: string;
  type: DirtyType;
  /** Partition 1, in bytes. */
  offset: number;
  size: number;
}

export function sha256File(path: string): string {
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(4 << 20);
    for (;;) {
      const got = readSync(fd, buf, 0, buf.length, null);
      if (got === 0) break;
      hash.update(buf.subarray(0, got));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

const run = (cmd: string, ...args: string[]): string =>
  execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** A loop over partition 1 of `image`, as losetup sets it up. */
function partitionLoop(image: string, offset: number, size: number, readOnly = false): string {
  return run(
    'losetup',
    '--show',
    '-f',
    ...(readOnly ? ['-r'] : []),
    '-o',
    String(offset),
    '--sizelimit',
    String(size),
    image,
  ).trim();
}

function mkfs(type: DirtyType, device: string): void {
  if (type === 'ext4') run('mkfs.ext4', '-q', '-F', device);
  else if (type === 'xfs')
    execFileSync('mkfs.xfs', ['-q', '-f', device], { stdio: 'pipe', env: SMALL_XFS_ENV });
  else run('mkfs.btrfs', '-q', '-f', '--mixed', device);
}

/**
 * Build `<name>.img` in `dir`, with `hello.txt` written and cleanly unmounted, then mount it again
 * (commits held back for 300 s), write and fsync a second file, and copy the image while it is
 * still mounted: the copy's ext4 journal, xfs log or btrfs log tree is dirty. The original is
 * unmounted, detached and deleted; the copy is returned.
 */
export function makeDirtyImage(dir: string, name: string, type: DirtyType): DirtyImage {
  const offset = START_SECTOR * 512;
  const size = PARTITION_MIB[type] << 20;
  const original = join(dir, `${name}.orig.img`);
  const image = join(dir, `${name}.img`);
  const mnt = join(dir, `${name}.mnt`);
  mkdirSync(mnt, { recursive: true });
  writeFileSync(original, '');
  run('truncate', '-s', String(offset + size + (1 << 20)), original);
  execFileSync('sfdisk', ['-q', original], { input: `label: dos\n${START_SECTOR},${size / 512},83\n` });
  const loop = partitionLoop(original, offset, size);
  try {
    mkfs(type, loop);
    run('mount', loop, mnt);
    writeFileSync(join(mnt, 'hello.txt'), helloFor(type));
    run('umount', mnt);
    // ext4 and btrfs would otherwise commit on their own within seconds and clean the journal.
    run('mount', '-o', type === 'xfs' ? 'rw' : 'commit=300', loop, mnt);
    try {
      const fd = openSync(join(mnt, 'later.bin'), 'w');
      try {
        writeSync(fd, Buffer.alloc(256 << 10, 0x5a));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      run('cp', '--sparse=always', original, image);
    } finally {
      run('umount', mnt);
    }
  } finally {
    run('losetup', '-d', loop);
    rmSync(original, { force: true });
    rmSync(mnt, { recursive: true, force: true });
  }
  return { image, type, offset, size };
}

/**
 * The control: what an ordinary read-only mount does to a copy of the dirty image on a writable
 * device (mount -o ro, as the session did before). True when the copy changed, i.e. the image
 * really needs a replay and the kernel does write it when not told otherwise.
 */
export function plainReadOnlyMountWrites(dirty: DirtyImage): boolean {
  const control = `${dirty.image}.control`;
  const mnt = `${dirty.image}.control-mnt`;
  run('cp', '--sparse=always', dirty.image, control);
  mkdirSync(mnt, { recursive: true });
  const before = sha256File(control);
  const loop = partitionLoop(control, dirty.offset, dirty.size);
  try {
    run('mount', '-o', 'ro', loop, mnt);
    run('umount', mnt);
  } finally {
    run('losetup', '-d', loop);
  }
  const changed = sha256File(control) !== before;
  rmSync(control, { force: true });
  rmSync(mnt, { recursive: true, force: true });
  return changed;
}
