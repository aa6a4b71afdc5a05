/**
 * Loop devices through /dev/loop-control and the LOOP_* ioctls. What is bound where is always
 * read back from sysfs, never remembered.
 */
import { existsSync, realpathSync } from 'node:fs';
import { BLKROGET, BLKROSET, blockDevNoOf } from './block.js';
import { close, ioctl, ioctlValue, mknodBlock, O_RDONLY, O_RDWR, open, withFd } from './libc.js';
import { blockDevNo, type LoopSysfs, loopFromSysfs, loopNames, loopState } from './sysfs.js';
import { KernelError, type LoopApi, type LoopAttachOptions, type LoopDevice } from './types.js';

export const LOOP_CONTROL = '/dev/loop-control';

export const LOOP_SET_FD = 0x4c00;
export const LOOP_CLR_FD = 0x4c01;
export const LOOP_SET_STATUS64 = 0x4c04;
export const LOOP_GET_STATUS64 = 0x4c05;
export const LOOP_SET_BLOCK_SIZE = 0x4c09;
export const LOOP_CONFIGURE = 0x4c0a;
export const LOOP_CTL_GET_FREE = 0x4c82;

export const LO_FLAGS_READ_ONLY = 1;
export const LO_FLAGS_AUTOCLEAR = 4;

/** `loop_info64` is 232 bytes; `loop_config` wraps it after fd and block_size, 304 bytes in all. */
const LOOP_INFO64_SIZE = 232;
const LOOP_CONFIG_SIZE = 304;
const LO_NAME_SIZE = 64;

/** How often a free index may be lost to another process before giving up. */
const ATTACH_ATTEMPTS = 16;

/** Block the thread for `ms` milliseconds (the kernel calls here are synchronous anyway). */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * A loop's read-only state is how it was bound (LO_FLAGS_READ_ONLY), not sysfs `ro`, which also
 * shows a BLKROSET laid over it for a while (as a read-only mount does). Sysfs is the fallback
 * when the loop cannot be asked.
 */
const toLoopDevice = (state: LoopSysfs, status = loopStatus(`/dev/${state.name}`)): LoopDevice => ({
  name: status?.name,
  ...loopFromSysfs(state),
  readOnly: status ? status.readOnly : state.readOnly,
});

/** Encode `loop_info64` at `at` inside `buf`. */
function writeLoopInfo(buf: Buffer, at: number, options: LoopAttachOptions, fileName: string): void {
  buf.writeBigUInt64LE(BigInt(options.offset ?? 0), at + 24);
  buf.writeBigUInt64LE(BigInt(options.sizeLimit ?? 0), at + 32);
  const flags = (options.readOnly ? LO_FLAGS_READ_ONLY : 0) | (options.autoclear ? LO_FLAGS_AUTOCLEAR : 0);
  buf.writeUInt32LE(flags, at + 52);
  // The name field holds 63 bytes and a NUL; sysfs backing_file is what identifies the file.
  const name = Buffer.from(fileName, 'utf8').subarray(0, LO_NAME_SIZE - 1);
  name.copy(buf, at + 56);
}

/** LOOP_GET_STATUS64: the loop's `lo_file_name` (63 bytes at most) and whether it was bound read-only. */
export function loopStatus(path: string): { name: string; readOnly: boolean } | undefined {
  try {
    return withFd(path, O_RDONLY, (fd) => {
      const info = Buffer.alloc(LOOP_INFO64_SIZE);
      ioctl(fd, LOOP_GET_STATUS64, info, 'LOOP_GET_STATUS64', path);
      const raw = info.subarray(56, 56 + LO_NAME_SIZE);
      const end = raw.indexOf(0);
      return {
        name: raw.subarray(0, end < 0 ? raw.length : end).toString('utf8'),
        readOnly: (info.readUInt32LE(52) & LO_FLAGS_READ_ONLY) !== 0,
      };
    });
  } catch {
    return undefined;
  }
}

/** Make sure `/dev/loopN` exists (containers without devtmpfs have no node for new loops). */
function ensureNode(index: number): string {
  const path = `/dev/loop${index}`;
  if (existsSync(path)) return path;
  const devno = blockDevNo(`loop${index}`);
  if (!devno) throw new KernelError('LOOP_CTL_GET_FREE', path, 6, 'ENXIO', `${path}: no such loop device`);
  mknodBlock(path, 0o660, devno.major, devno.minor);
  return path;
}

const isCode = (error: unknown, ...codes: string[]): boolean =>
  error instanceof KernelError && codes.includes(error.code);

function configure(
  loopFd: number,
  backingFd: number,
  path: string,
  options: LoopAttachOptions,
  name: string,
) {
  const config = Buffer.alloc(LOOP_CONFIG_SIZE);
  config.writeUInt32LE(backingFd, 0);
  config.writeUInt32LE(options.blockSize ?? 0, 4);
  writeLoopInfo(config, 8, options, name);
  try {
    ioctl(loopFd, LOOP_CONFIGURE, config, 'LOOP_CONFIGURE', path);
    return;
  } catch (error) {
    // Kernels before 5.8 do not know LOOP_CONFIGURE: fall back to the older three-step setup.
    if (!isCode(error, 'EINVAL', 'ENOTTY')) throw error;
  }
  ioctlValue(loopFd, LOOP_SET_FD, backingFd, 'LOOP_SET_FD', path);
  try {
    const info = Buffer.alloc(LOOP_INFO64_SIZE);
    writeLoopInfo(info, 0, options, name);
    ioctl(loopFd, LOOP_SET_STATUS64, info, 'LOOP_SET_STATUS64', path);
    if (options.blockSize && options.blockSize !== 512) {
      ioctlValue(loopFd, LOOP_SET_BLOCK_SIZE, options.blockSize, 'LOOP_SET_BLOCK_SIZE', path);
    }
  } catch (error) {
    ioctlValue(loopFd, LOOP_CLR_FD, 0, 'LOOP_CLR_FD', path);
    throw error;
  }
}

/**
 * BLKROSET outlives a binding (it belongs to the block device, not to the file bound to it): a
 * loop attached writable must not inherit one left on its index, say by a session that crashed
 * while a read-only mount held the device read-only. Best effort: a loop that stays read-only is
 * still safe.
 */
function clearLeftoverReadOnly(loopFd: number, path: string): void {
  try {
    const flag = Buffer.alloc(4);
    ioctl(loopFd, BLKROGET, flag, 'BLKROGET', path);
    if (flag.readInt32LE(0) === 0) return;
    flag.writeInt32LE(0, 0);
    ioctl(loopFd, BLKROSET, flag, 'BLKROSET', path);
  } catch {
    // keep the loop as it is
  }
}

export function createLoopApi(): LoopApi {
  const list = (): LoopDevice[] =>
    loopNames()
      .map(loopState)
      .filter((s): s is LoopSysfs => s !== undefined)
      .map((state) => toLoopDevice(state));

  const nextFreeIndex = (): number =>
    withFd(LOOP_CONTROL, O_RDWR, (fd) =>
      ioctlValue(fd, LOOP_CTL_GET_FREE, 0, 'LOOP_CTL_GET_FREE', LOOP_CONTROL),
    );

  const attach = (backing: string, options: LoopAttachOptions): LoopDevice => {
    let readOnly = options.readOnly;
    let backingFd: number;
    try {
      backingFd = open(backing, readOnly ? O_RDONLY : O_RDWR);
    } catch (error) {
      // Like the C tool: a file that cannot be opened for writing is attached read-only.
      if (readOnly || !isCode(error, 'EROFS', 'EACCES')) throw error;
      readOnly = true;
      backingFd = open(backing, O_RDONLY);
    }
    const effective = { ...options, readOnly };
    const name = options.name ?? safeRealpath(backing);
    try {
      let lastError: unknown;
      for (let attempt = 0; attempt < ATTACH_ATTEMPTS; attempt++) {
        const index = nextFreeIndex();
        const path = ensureNode(index);
        // The loop's own open mode matters: a read-only opener makes the loop read-only.
        const loopFd = open(path, readOnly ? O_RDONLY : O_RDWR);
        let device: LoopDevice | undefined;
        try {
          configure(loopFd, backingFd, path, effective, name);
          if (!readOnly) clearLeftoverReadOnly(loopFd, path);
          // Read back while our descriptor still holds it: an autoclear loop goes with the close.
          const state = loopState(`loop${index}`);
          if (state) device = toLoopDevice(state, loopStatus(path));
        } catch (error) {
          lastError = error;
          // Another process bound this index between GET_FREE and CONFIGURE: ask again.
          if (isCode(error, 'EBUSY')) {
            sleepSync(5 + attempt * 5);
            continue;
          }
          throw error;
        } finally {
          close(loopFd);
        }
        if (!device)
          throw new KernelError('LOOP_CONFIGURE', path, 6, 'ENXIO', `${path}: vanished after attach`);
        return device;
      }
      throw lastError;
    } finally {
      close(backingFd);
    }
  };

  const detach = (path: string): void => {
    withFd(path, O_RDONLY, (fd) => {
      // A read-only policy laid over the loop (BLKROSET, for a read-only mount) would outlive the
      // binding and make the next user's writable loop refuse writes: the free loop goes back clean.
      clearLeftoverReadOnly(fd, path);
      ioctlValue(fd, LOOP_CLR_FD, 0, 'LOOP_CLR_FD', path);
    });
  };

  return {
    list,
    nextFreeIndex,
    attach,
    detach,
  };
}

function safeRealpath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** Loops whose backing file is the block device `devno` (partition loops over a parent). */
export function loopsOverDevice(loops: LoopDevice[], devno: { major: number; minor: number }): LoopDevice[] {
  return loops.filter((loop) => {
    const backing = blockDevNoOf(loop.backingFile);
    return backing?.major === devno.major && backing.minor === devno.minor;
  });
}
