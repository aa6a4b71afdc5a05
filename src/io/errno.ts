/**
 * The one errno table: Linux numbers, symbolic names and glibc's English strerror text, for the
 * errnos kpartx-tui reports. Both Node's fs errors (by `code`) and raw syscall results (by number)
 * are described from it, so a message reads the same whichever path failed.
 */
const ERRNOS: [number, string, string][] = [
  [1, 'EPERM', 'Operation not permitted'],
  [2, 'ENOENT', 'No such file or directory'],
  [5, 'EIO', 'Input/output error'],
  [6, 'ENXIO', 'No such device or address'],
  [9, 'EBADF', 'Bad file descriptor'],
  [11, 'EAGAIN', 'Resource temporarily unavailable'],
  [12, 'ENOMEM', 'Cannot allocate memory'],
  [13, 'EACCES', 'Permission denied'],
  [15, 'ENOTBLK', 'Block device required'],
  [16, 'EBUSY', 'Device or resource busy'],
  [17, 'EEXIST', 'File exists'],
  [19, 'ENODEV', 'No such device'],
  [20, 'ENOTDIR', 'Not a directory'],
  [21, 'EISDIR', 'Is a directory'],
  [22, 'EINVAL', 'Invalid argument'],
  [24, 'EMFILE', 'Too many open files'],
  [25, 'ENOTTY', 'Inappropriate ioctl for device'],
  [28, 'ENOSPC', 'No space left on device'],
  [30, 'EROFS', 'Read-only file system'],
  [36, 'ENAMETOOLONG', 'File name too long'],
  [40, 'ELOOP', 'Too many levels of symbolic links'],
  [95, 'EOPNOTSUPP', 'Operation not supported'],
  [123, 'ENOMEDIUM', 'No medium found'],
];

const BY_NUMBER = new Map(ERRNOS.map(([n, code, text]) => [n, { code, text }]));
const BY_CODE = new Map(ERRNOS.map(([n, code, text]) => [code, { errno: n, text }]));

/** Symbolic name of an errno (`EBUSY`), or `errno N`. */
export const errnoCode = (errno: number): string => BY_NUMBER.get(errno)?.code ?? `errno ${errno}`;

/** glibc's strerror text of an errno number. */
export const strerror = (errno: number): string => BY_NUMBER.get(errno)?.text ?? `Unknown error ${errno}`;

/** The number of a symbolic errno (`EBUSY` → 16); EIO for names not in the table. */
export const errnoNumber = (code: string): number => BY_CODE.get(code)?.errno ?? 5;

/** strerror text of an error carrying a Node `code` (`ENOENT`), else the error's own message. */
export function strerrorOf(error: unknown): string {
  const code = (error as { code?: string } | null)?.code;
  const known = code ? BY_CODE.get(code) : undefined;
  if (known) return known.text;
  return error instanceof Error ? error.message : String(error);
}
