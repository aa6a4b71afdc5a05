/**
 * The few libc calls kpartx-tui needs, bound with koffi. Loaded on first use so that commands that
 * never touch the kernel do not pay for it. Every failure becomes a KernelError carrying errno.
 */
import { createRequire } from 'node:module';
import { errnoCode, strerror } from '../io/errno.js';
import { KernelError } from './types.js';

type Koffi = typeof import('koffi');
let koffiModule: Koffi | undefined;
/**
 * koffi (and its native addon) is required on the first kernel call, not when this module loads:
 * bundles keep this module beside code that screens and listings need before any kernel call.
 */
function koffi(): Koffi {
  koffiModule ??= createRequire(import.meta.url)('koffi') as Koffi;
  return koffiModule;
}

export const O_RDONLY = 0;
export const O_RDWR = 2;
export const O_CLOEXEC = 0o2000000;
export const O_EXCL = 0o200;

type Bound = {
  open: (path: string, flags: number, mode: number) => number;
  close: (fd: number) => number;
  ioctlPtr: (fd: number, request: number, arg: Buffer | null) => number;
  ioctlInt: (fd: number, request: number, arg: number) => number;
  mknod: (path: string, mode: number, dev: bigint) => number;
  mount: (
    source: string,
    target: string,
    fstype: string | null,
    flags: number,
    data: string | null,
  ) => number;
  umount2: (target: string, flags: number) => number;
  flock: (fd: number, op: number) => number;
};

let bound: Bound | undefined;

function libc(): Bound {
  if (bound) return bound;
  const lib = koffi().load('libc.so.6');
  bound = {
    open: lib.func('int open(const char *path, int flags, uint32_t mode)'),
    close: lib.func('int close(int fd)'),
    // ioctl is variadic; pointer and integer arguments travel in the same registers as fixed
    // ones on x86-64 and arm64, so fixed-arity declarations are ABI-safe and faster.
    ioctlPtr: lib.func('int ioctl(int fd, unsigned long request, void *arg)'),
    ioctlInt: lib.func('int ioctl(int fd, unsigned long request, unsigned long arg)'),
    mknod: lib.func('int mknod(const char *path, uint32_t mode, uint64_t dev)'),
    mount: lib.func(
      'int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)',
    ),
    umount2: lib.func('int umount2(const char *target, int flags)'),
    flock: lib.func('int flock(int fd, int op)'),
  };
  return bound;
}

const lastErrno = (): number => koffi().errno();

const errnoError = (errno: number, op: string, device: string): KernelError =>
  new KernelError(op, device, errno, errnoCode(errno), `${device}: ${op} failed: ${strerror(errno)}`);

function check(result: number, op: string, device: string): number {
  if (result < 0) throw errnoError(lastErrno(), op, device);
  return result;
}

export function open(path: string, flags: number): number {
  return check(libc().open(path, flags | O_CLOEXEC, 0), 'open', path);
}

export function close(fd: number): void {
  libc().close(fd);
}

/** ioctl with a buffer the kernel reads and/or fills in place. */
export function ioctl(fd: number, request: number, arg: Buffer | null, op: string, device: string): number {
  return check(libc().ioctlPtr(fd, request, arg), op, device);
}

/**
 * The same ioctl run on a libuv worker thread, so several can wait in the kernel at once (removing
 * a device-mapper map waits for an RCU grace period; concurrent removals share them). errno is
 * read on the thread that made the call, so it is kept per call here.
 */
export function ioctlAsync(
  fd: number,
  request: number,
  arg: Buffer,
  op: string,
  device: string,
): Promise<number> {
  const call = libc().ioctlPtr as unknown as {
    async: (fd: number, request: number, arg: Buffer, done: (error: unknown, result: number) => void) => void;
  };
  return new Promise((resolve, reject) => {
    call.async(fd, request, arg, (error, result) => {
      if (error) reject(error);
      else if (result < 0) reject(errnoError(koffi().errno(), op, device));
      else resolve(result);
    });
  });
}

/** ioctl whose argument is a plain integer (a file descriptor, an index, a flag). */
export function ioctlValue(fd: number, request: number, arg: number, op: string, device: string): number {
  return check(libc().ioctlInt(fd, request, arg), op, device);
}

/** Run `fn` with a file descriptor that is closed afterwards, whatever happens. */
export function withFd<T>(path: string, flags: number, fn: (fd: number) => T): T {
  const fd = open(path, flags);
  try {
    return fn(fd);
  } finally {
    close(fd);
  }
}

export const S_IFBLK = 0o060000;

/** Linux's encoding of a device number for mknod (glibc makedev). */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffn) << 8n) | ((ma & ~0xfffn) << 32n) | (mi & 0xffn) | ((mi & ~0xffn) << 12n);
}

export function mknodBlock(path: string, mode: number, major: number, minor: number): void {
  check(libc().mknod(path, S_IFBLK | (mode & 0o7777), makedev(major, minor)), 'mknod', path);
}

export const MS_RDONLY = 1;
export const MS_NOSUID = 2;
export const MS_NODEV = 4;
export const MS_NOEXEC = 8;

export function mount(
  source: string,
  target: string,
  fstype: string,
  flags: number,
  data: string | null,
): void {
  check(libc().mount(source, target, fstype, flags, data), 'mount', source);
}

export function umount2(target: string, flags: number): void {
  check(libc().umount2(target, flags), 'umount', target);
}

export const LOCK_EX = 2;
export const LOCK_NB = 4;

export function flock(fd: number, op: number, device: string): void {
  check(libc().flock(fd, op), 'flock', device);
}
