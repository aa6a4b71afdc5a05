/**
 * A guest tree mounted at a host directory. No call here follows a symlink: lstat for entries,
 * O_NOFOLLOW for reads, so resolution (tree.ts) alone decides where a link leads, inside the root.
 */
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  realpathSync,
} from 'node:fs';
import { type EntryKind, type TreeEntry, TreeError, type TreeReader } from './tree.js';

const kindOf = (stat: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean }): EntryKind =>
  stat.isSymbolicLink() ? 'symlink' : stat.isFile() ? 'file' : stat.isDirectory() ? 'directory' : 'other';

const reason = (error: unknown): string =>
  error instanceof Error && 'code' in error ? String((error as NodeJS.ErrnoException).code) : String(error);

export function openDirectoryTree(rootDir: string): TreeReader {
  let root: string;
  try {
    root = realpathSync(rootDir);
  } catch (error) {
    throw new TreeError('/', `${rootDir}: cannot open the tree (${reason(error)})`);
  }
  if (!lstatSync(root).isDirectory()) throw new TreeError('/', `${rootDir}: not a directory`);
  const host = (path: string): string => (path === '/' ? root : `${root}${path}`);
  const fail = (path: string, what: string, error: unknown): never => {
    throw new TreeError(path, `${rootDir}${path}: cannot ${what} (${reason(error)})`);
  };

  return {
    description: rootDir,
    lstat(path: string): TreeEntry | null {
      try {
        const stat = lstatSync(host(path), { throwIfNoEntry: false });
        return stat ? { kind: kindOf(stat), size: stat.size } : null;
      } catch (error) {
        // ENOTDIR and the like: nothing there to read.
        if ((error as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
        return fail(path, 'look at it', error);
      }
    },
    readlink(path: string): string {
      try {
        return readlinkSync(host(path), 'utf8');
      } catch (error) {
        return fail(path, 'read the link', error);
      }
    },
    readFile(path: string, maxBytes: number): Buffer {
      let fd: number;
      try {
        fd = openSync(host(path), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      } catch (error) {
        return fail(path, 'open it', error);
      }
      try {
        const stat = fstatSync(fd);
        if (!stat.isFile()) throw new TreeError(path, `${rootDir}${path}: not a regular file`);
        // Read one byte more than allowed: a file that grew past its stat size is still caught.
        const buffer = Buffer.alloc(Math.min(stat.size, maxBytes) + 1);
        let length = 0;
        while (length < buffer.length) {
          const n = readSync(fd, buffer, length, buffer.length - length, null);
          if (n === 0) break;
          length += n;
        }
        if (length > maxBytes) throw new TreeError(path, `${rootDir}${path}: more than ${maxBytes} bytes`);
        return buffer.subarray(0, length);
      } catch (error) {
        if (error instanceof TreeError) throw error;
        return fail(path, 'read it', error);
      } finally {
        closeSync(fd);
      }
    },
    list(path: string): string[] {
      try {
        return readdirSync(host(path), { encoding: 'utf8' }).sort();
      } catch (error) {
        return fail(path, 'list it', error);
      }
    },
  };
}
