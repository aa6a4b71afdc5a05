/** Size, sector size, read-only state and number of a block device (BLK* ioctls). */
import { type BigIntStats, statSync } from 'node:fs';
import { type DevNo, splitDevT } from '../io/devno.js';
import { close, ioctl, O_EXCL, O_RDONLY, open, withFd } from './libc.js';
import { type BlockDeviceInfo, KernelError } from './types.js';

export const BLKROSET = 0x125d;
export const BLKROGET = 0x125e;
export const BLKSSZGET = 0x1268;
export const BLKGETSIZE64 = 0x80081272;

/** Device number of a block device node, or undefined when `path` is not one. */
export function blockDevNoOf(path: string): DevNo | undefined {
  try {
    const st = statSync(path, { bigint: true });
    return st.isBlockDevice() ? splitDevT(st.rdev) : undefined;
  } catch {
    return undefined;
  }
}

export function blockDevice(path: string): BlockDeviceInfo {
  let st: BigIntStats;
  try {
    st = statSync(path, { bigint: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'ENOENT';
    const errno = code === 'ENOENT' ? 2 : code === 'EACCES' ? 13 : 0;
    throw new KernelError(
      'stat',
      path,
      errno,
      code,
      `${path}: ${code === 'ENOENT' ? 'No such file or directory' : code}`,
    );
  }
  if (!st.isBlockDevice()) {
    throw new KernelError('stat', path, 15, 'ENOTBLK', `${path}: not a block device`);
  }
  return withFd(path, O_RDONLY, (fd) => {
    const size = new BigUint64Array(1);
    ioctl(fd, BLKGETSIZE64, Buffer.from(size.buffer), 'BLKGETSIZE64', path);
    const sector = Buffer.alloc(4);
    ioctl(fd, BLKSSZGET, sector, 'BLKSSZGET', path);
    const ro = Buffer.alloc(4);
    ioctl(fd, BLKROGET, ro, 'BLKROGET', path);
    return {
      devno: splitDevT(st.rdev),
      sizeBytes: Number(size[0]),
      logicalSectorSize: sector.readInt32LE(0),
      readOnly: ro.readInt32LE(0) !== 0,
    };
  });
}

/**
 * BLKROSET: the device itself refuses writes, whatever opens it. A filesystem mounted on it cannot
 * replay a journal either: ext4, xfs and btrfs check the device before they recover.
 */
export function setBlockReadOnly(path: string, readOnly: boolean): void {
  withFd(path, O_RDONLY, (fd) => {
    const flag = Buffer.alloc(4);
    flag.writeInt32LE(readOnly ? 1 : 0, 0);
    ioctl(fd, BLKROSET, flag, 'BLKROSET', path);
  });
}

/** True when the kernel refuses an exclusive open: mounted, swapped on, or held by a stacked device. */
export function heldExclusively(path: string): boolean {
  try {
    close(open(path, O_RDONLY | O_EXCL));
    return false;
  } catch (error) {
    return error instanceof KernelError && error.code === 'EBUSY';
  }
}
