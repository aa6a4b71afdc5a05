/**
 * kpartx-tui's own directory under /run: lock files and the mount session's mountpoints. It is
 * used as root, in a place where anyone who got there first could have left a symlink (to /etc, to
 * a file of theirs) or a directory they own. Nothing there is followed: directories are made one
 * at a time and checked with lstat (a real directory, owned by us or root, writable by nobody
 * else), files
 * are opened with O_NOFOLLOW and checked with fstat. Anything else is refused, naming the path.
 */
import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readlinkSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { strerror } from '../io/errno.js';

export const DEFAULT_RUN_DIR = '/run/kpartx-tui';
/** Moves the whole directory elsewhere (tests give each run its own). */
export const RUN_DIR_ENV = 'KPARTX_TUI_RUN_DIR';

export function runDir(env: NodeJS.ProcessEnv = process.env): string {
  const given = env[RUN_DIR_ENV];
  return given && isAbsolute(given) ? resolve(given) : DEFAULT_RUN_DIR;
}

/** Something under the run directory that is not what kpartx-tui would have made there. */
export class UnsafePathError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`refusing to use ${path}: ${problem}`);
    this.name = 'UnsafePathError';
  }
}

/** A directory or file there could not be made or opened (not root, read-only /run…). */
export class RunDirError extends Error {
  readonly code: string;
  constructor(
    readonly path: string,
    cause: NodeJS.ErrnoException,
    what: string,
  ) {
    super(`${what} ${path}: ${cause.errno ? strerror(Math.abs(cause.errno)) : cause.message}`);
    this.name = 'RunDirError';
    this.code = cause.code ?? 'EIO';
  }
}

interface EntryFacts {
  isDirectory(): boolean;
  isFile(): boolean;
  isSymbolicLink(): boolean;
  uid: number;
  mode: number;
  nlink: number;
}

const euid = (): number => process.geteuid?.() ?? 0;
const ownerName = (uid: number): string => (uid === 0 ? 'root' : `uid ${uid}`);
const octal = (mode: number): string => `0${(mode & 0o7777).toString(8)}`;

function symlinkProblem(path: string): string {
  let target = '';
  try {
    target = ` (to ${readlinkSync(path)})`;
  } catch {
    // gone meanwhile: still not followed
  }
  return `it is a symbolic link${target}`;
}

/** Why `facts` is not a directory (or file) we own that nobody else may write; undefined when it is. */
export function entryProblem(
  facts: EntryFacts,
  want: 'directory' | 'file',
  uid = euid(),
): string | undefined {
  if (facts.isSymbolicLink()) return 'it is a symbolic link';
  if (want === 'directory' ? !facts.isDirectory() : !facts.isFile())
    return `it is not a ${want === 'directory' ? 'directory' : 'regular file'}`;
  // Root's own entries are as safe as ours: only root could have put them there.
  if (facts.uid !== uid && facts.uid !== 0)
    return `it is owned by ${ownerName(facts.uid)}, not by ${ownerName(uid)}`;
  if (facts.mode & 0o022) return `it is writable by group or others (mode ${octal(facts.mode)})`;
  if (want === 'file' && facts.nlink !== 1) return `it has ${facts.nlink} hard links`;
  return undefined;
}

function lstatOf(path: string): EntryFacts {
  try {
    return lstatSync(path);
  } catch (error) {
    throw new RunDirError(path, error as NodeJS.ErrnoException, 'cannot look at');
  }
}

function refuse(path: string, facts: EntryFacts, want: 'directory' | 'file'): void {
  const problem = entryProblem(facts, want);
  if (problem) {
    throw new UnsafePathError(path, facts.isSymbolicLink() ? symlinkProblem(path) : problem);
  }
}

/**
 * Make the directory `path` (its parent must exist) or accept the one there if it is ours and
 * nobody else can write it. mkdir(2) never follows a symlink in the last component. Returns
 * whether it was made now.
 */
export function ensureOwnDir(path: string, mode: number): boolean {
  let made = true;
  try {
    mkdirSync(path, { mode });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST')
      throw new RunDirError(path, error as NodeJS.ErrnoException, 'cannot create');
    made = false;
  }
  refuse(path, lstatOf(path), 'directory');
  return made;
}

/** `<run dir>/<name>`, each level made or checked: `locks` (0700) or `mnt` (0755). */
export function ensureRunSubdir(name: string, mode: number, env: NodeJS.ProcessEnv = process.env): string {
  const base = runDir(env);
  ensureOwnDir(base, 0o755);
  const sub = join(base, name);
  ensureOwnDir(sub, mode);
  return sub;
}

/**
 * Open (creating if need be) the file `path` for a lock: never through a symlink, never a FIFO or
 * device (O_NONBLOCK keeps a planted FIFO from hanging the open), and only a plain file we own.
 */
export function openOwnFile(path: string, mode = 0o600): number {
  let fd: number;
  try {
    fd = openSync(
      path,
      constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK,
      mode,
    );
  } catch (error) {
    const cause = error as NodeJS.ErrnoException;
    if (cause.code === 'ELOOP') throw new UnsafePathError(path, symlinkProblem(path));
    throw new RunDirError(path, cause, 'cannot open');
  }
  try {
    refuse(path, fstatSync(fd), 'file');
  } catch (error) {
    closeSync(fd);
    throw error;
  }
  return fd;
}

/**
 * A directory below `root` for one mount: `root` (made with its missing parents when it is not
 * the run directory's own) and the leaf are checked as above. Returns the first directory made
 * here, to remove again if the mount fails.
 */
export function ensureMountDir(leaf: string, root: string | undefined): string | undefined {
  let first: string | undefined;
  let base: string;
  if (root === undefined) {
    base = ensureRunSubdir('mnt', 0o755);
  } else {
    base = resolve(root);
    try {
      first = mkdirSync(base, { recursive: true, mode: 0o755 });
    } catch (error) {
      throw new RunDirError(base, error as NodeJS.ErrnoException, 'cannot create');
    }
    refuse(base, lstatOf(base), 'directory');
  }
  if (dirname(resolve(leaf)) !== base)
    throw new UnsafePathError(leaf, `it is not a directory directly in ${base}`);
  if (ensureOwnDir(leaf, 0o755)) first ??= leaf;
  return first;
}
