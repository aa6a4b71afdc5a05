/**
 * Extended attributes on open file descriptors (flistxattr, fgetxattr, fsetxattr, fremovexattr),
 * bound with koffi. Working on descriptors, never on paths, means no symlink can redirect them.
 * Used to carry a file's SELinux label and other attributes over to its replacement.
 */
import { createRequire } from 'node:module';
import { errnoCode, strerror } from '../io/errno.js';
import { KernelError, type XattrApi } from './types.js';

type Bound = {
  flistxattr: (fd: number, list: Buffer | null, size: number) => number;
  fgetxattr: (fd: number, name: string, value: Buffer | null, size: number) => number;
  fsetxattr: (fd: number, name: string, value: Buffer, size: number, flags: number) => number;
  fremovexattr: (fd: number, name: string) => number;
  errno: () => number;
};

let bound: Bound | undefined;

function libc(): Bound {
  if (bound) return bound;
  const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
  const lib = koffi.load('libc.so.6');
  bound = {
    flistxattr: lib.func('long flistxattr(int fd, void *list, size_t size)'),
    fgetxattr: lib.func('long fgetxattr(int fd, const char *name, void *value, size_t size)'),
    fsetxattr: lib.func('int fsetxattr(int fd, const char *name, const void *value, size_t size, int flags)'),
    fremovexattr: lib.func('int fremovexattr(int fd, const char *name)'),
    errno: () => koffi.errno(),
  };
  return bound;
}

const ERANGE = 34;
/** errno names the shared table lacks. */
const MORE_NAMES: Record<number, [string, string]> = {
  34: ['ERANGE', 'Numerical result out of range'],
  61: ['ENODATA', 'No data available'],
};

function fail(op: string, what: string, errno: number): KernelError {
  const [code, text] = MORE_NAMES[errno] ?? [errnoCode(errno), strerror(errno)];
  return new KernelError(op, what, errno, code, `${what}: ${op} failed: ${text}`);
}

/** Size first, then the data; the size can change in between (ERANGE), so try again a few times. */
function sized(op: string, what: string, call: (buffer: Buffer | null, size: number) => number): Buffer {
  for (let attempt = 0; attempt < 5; attempt++) {
    const size = call(null, 0);
    if (size < 0) throw fail(op, what, libc().errno());
    const buffer = Buffer.alloc(size);
    const got = size === 0 ? 0 : call(buffer, size);
    if (got >= 0) return buffer.subarray(0, got);
    const errno = libc().errno();
    if (errno !== ERANGE) throw fail(op, what, errno);
  }
  throw fail(op, what, ERANGE);
}

export const xattrs: XattrApi = {
  list(fd: number): string[] {
    const raw = sized('flistxattr', `fd ${fd}`, (buffer, size) => libc().flistxattr(fd, buffer, size));
    return raw
      .toString('latin1')
      .split('\0')
      .filter((name) => name !== '');
  },
  get(fd: number, name: string): Buffer {
    return sized(`fgetxattr ${name}`, `fd ${fd}`, (buffer, size) => libc().fgetxattr(fd, name, buffer, size));
  },
  set(fd: number, name: string, value: Buffer): void {
    if (libc().fsetxattr(fd, name, value, value.length, 0) < 0)
      throw fail(`fsetxattr ${name}`, `fd ${fd}`, libc().errno());
  },
  remove(fd: number, name: string): void {
    if (libc().fremovexattr(fd, name) < 0) throw fail(`fremovexattr ${name}`, `fd ${fd}`, libc().errno());
  },
};
