/**
 * The path side of the probe's filesystem readers (ext, XFS): names looked up from the root
 * directory, symbolic links followed inside the filesystem as Linux follows them (40 at most, an
 * absolute target restarting at the filesystem's root, `..` of the root being the root), and the
 * read-only calls a caller makes by path. Each reader supplies its inodes, directory entries, link
 * targets and file contents; reads are counted against one budget per volume.
 */
import type { Disk } from '../io/disk.js';

export type NodeKind = 'file' | 'directory' | 'symlink' | 'other';

/** Files read whole are small configuration files; a larger one is refused, not read. */
export const MAX_FILE_BYTES = 64 * 1024;
/** Bytes one volume may read in all: far more than a few lookups take, far less than a hostile one would. */
const READ_BUDGET = 16 * 1024 * 1024;
/** Linux gives up after 40 links in one lookup (ELOOP). */
const MAX_SYMLINKS = 40;

export interface TreeNode {
  number: number;
  kind: NodeKind;
  size: number;
}

export interface TreeEntry {
  inode: number;
  kind: NodeKind;
  size: number;
}

/** What a reader knows of its filesystem's structures. */
export interface TreeReader<N extends TreeNode> {
  rootInode: number;
  inode(number: number): N;
  /** A directory's entries, names as the bytes on disk (one character per byte). */
  entries(dir: N): readonly { name: string; inode: number }[];
  linkTarget(node: N): string;
  /** The first `node.size` bytes of a regular file. */
  contents(node: N, path: string): Uint8Array;
  /** The reader's own error, naming the problem. */
  fail(message: string): Error;
}

export interface FileTree<G> {
  readonly geometry: G;
  /** Bytes read from the disk so far. */
  readonly bytesRead: number;
  /** The entry at `path` itself (a final symlink is not followed), or null when there is none. */
  lstat(path: string): TreeEntry | null;
  /** The entry `path` leads to, every link followed. */
  stat(path: string): TreeEntry | null;
  /** The target of the symlink at `path` (raw bytes as latin1, one character per byte). */
  readlink(path: string): string;
  /** The regular file `path` leads to, or null when there is none; the reader's error when larger than `maxBytes`. */
  readFile(path: string, maxBytes?: number): Uint8Array | null;
  /** Names in the directory `path` leads to (without `.` and `..`), as UTF-8 text. */
  list(path: string): string[];
}

/** Reads of `disk` counted against the volume's budget; a short read is the reader's error. */
export function budgetedReads(disk: Disk, fail: (message: string) => Error) {
  let bytesRead = 0;
  return {
    bytesRead: () => bytesRead,
    read(offset: number, length: number, what: string): Uint8Array {
      bytesRead += length;
      if (bytesRead > READ_BUDGET) throw fail(`gave up after reading ${READ_BUDGET} bytes of metadata`);
      const bytes = disk.readAt(offset, length);
      if (bytes.length !== length) throw fail(`${what} lies past the end of the device`);
      return bytes;
    },
  };
}

const utf8 = new TextDecoder('utf-8');
const encoder = new TextEncoder();
/** A path's text as the bytes on disk, one character per byte, as directory names are kept. */
const asLatin1 = (text: string): string => String.fromCharCode(...encoder.encode(text));
const components = (path: string): string[] => path.split('/').filter((c) => c !== '' && c !== '.');

export function fileTree<N extends TreeNode, G>(
  geometry: G,
  reads: { bytesRead(): number },
  reader: TreeReader<N>,
): FileTree<G> {
  const { inode, entries, linkTarget, fail } = reader;
  const root = () => inode(reader.rootInode);

  const resolve = (path: string, followLast: boolean): N | null => {
    const queue = components(path);
    let dir = root();
    let links = 0;
    while (queue.length > 0) {
      if (dir.kind !== 'directory') return null;
      const name = queue.shift()!;
      // `..` of the root is the root itself, so no path leads out.
      const found =
        name === '..' && dir.number === reader.rootInode
          ? dir.number
          : entries(dir).find((e) => e.name === name)?.inode;
      if (found === undefined) return null;
      const node = inode(found);
      if (node.kind === 'symlink' && (queue.length > 0 || followLast)) {
        if (++links > MAX_SYMLINKS) throw fail(`${path}: too many levels of symbolic links`);
        const target = linkTarget(node);
        if (target.startsWith('/')) dir = root();
        queue.unshift(...components(target));
        continue;
      }
      if (queue.length === 0) return node;
      dir = node;
    }
    return dir;
  };

  const entryOf = (node: N | null): TreeEntry | null =>
    node ? { inode: node.number, kind: node.kind, size: node.size } : null;

  return {
    geometry,
    get bytesRead() {
      return reads.bytesRead();
    },
    lstat: (path) => entryOf(resolve(asLatin1(path), false)),
    stat: (path) => entryOf(resolve(asLatin1(path), true)),
    readlink(path) {
      const node = resolve(asLatin1(path), false);
      if (node?.kind !== 'symlink') throw fail(`${path}: not a symbolic link`);
      return linkTarget(node);
    },
    readFile(path, maxBytes = MAX_FILE_BYTES) {
      const node = resolve(asLatin1(path), true);
      if (node?.kind !== 'file') return null;
      if (node.size > maxBytes)
        throw fail(`${path}: ${node.size} bytes, more than the ${maxBytes} this reads`);
      return reader.contents(node, path);
    },
    list(path) {
      const node = resolve(asLatin1(path), true);
      if (node?.kind !== 'directory') return [];
      return entries(node)
        .filter((e) => e.name !== '.' && e.name !== '..')
        .map((e) => utf8.decode(Uint8Array.from(e.name, (c) => c.charCodeAt(0))));
    },
  };
}
