/**
 * Small files of an ext2/3/4 filesystem read straight from its bytes, without mounting: paths are
 * looked up from the root inode, symbolic links followed inside the filesystem (an absolute target
 * starts again at its root, `..` stops there, 40 links at most as in Linux), and every read is
 * checked against the filesystem and counted against a budget, so damaged or hostile metadata
 * ends in an ExtError naming the problem, in bounded time.
 */
import type { Disk } from '../../io/disk.js';
import { type DirectoryEntry, parseDirectoryBlock } from './directory.js';
import { ExtError } from './errors.js';
import { type BlockRun, fileBlockRuns } from './file-blocks.js';
import {
  ENCRYPT_FL,
  type ExtInode,
  INLINE_DATA_FL,
  type InodeKind,
  inlineDataTail,
  inodeOffset,
  parseInode,
  ROOT_INODE,
} from './inode.js';
import {
  descriptorBlock,
  type ExtGeometry,
  INCOMPAT_FILETYPE,
  parseSuperblock,
  SUPERBLOCK_OFFSET,
} from './superblock.js';

/** Files read whole are small configuration files; a larger one is refused, not read. */
export const MAX_FILE_BYTES = 64 * 1024;
/** A directory past this (some 100,000 names) is not searched. */
const MAX_DIRECTORY_BYTES = 4 * 1024 * 1024;
/** Bytes one volume may read in all: far more than a few lookups take, far less than a hostile one would. */
const READ_BUDGET = 16 * 1024 * 1024;
/** Linux gives up after 40 links in one lookup (ELOOP). */
const MAX_SYMLINKS = 40;
const MAX_LINK_BYTES = 4096;

export interface ExtEntry {
  inode: number;
  kind: InodeKind;
  size: number;
}

export interface ExtVolume {
  readonly geometry: ExtGeometry;
  /** Bytes read from the disk so far. */
  readonly bytesRead: number;
  /** The entry at `path` itself (a final symlink is not followed), or null when there is none. */
  lstat(path: string): ExtEntry | null;
  /** The entry `path` leads to, every link followed. */
  stat(path: string): ExtEntry | null;
  /** The target of the symlink at `path` (raw bytes as latin1, one character per byte). */
  readlink(path: string): string;
  /** The regular file `path` leads to, or null when there is none; ExtError when larger than `maxBytes`. */
  readFile(path: string, maxBytes?: number): Uint8Array | null;
  /** Names in the directory `path` leads to (without `.` and `..`), as UTF-8 text. */
  list(path: string): string[];
}

const utf8 = new TextDecoder('utf-8');
const encoder = new TextEncoder();
/** A path's text as the bytes on disk, one character per byte, as directory names are kept. */
const asLatin1 = (text: string): string => String.fromCharCode(...encoder.encode(text));
const components = (path: string): string[] => path.split('/').filter((c) => c !== '' && c !== '.');

/** Open the ext filesystem on `disk`; ExtError when it is not one or its superblock cannot be trusted. */
export function openExtVolume(disk: Disk): ExtVolume {
  let bytesRead = 0;
  const readBytes = (offset: number, length: number, what: string): Uint8Array => {
    bytesRead += length;
    if (bytesRead > READ_BUDGET) throw new ExtError(`gave up after reading ${READ_BUDGET} bytes of metadata`);
    const bytes = disk.readAt(offset, length);
    if (bytes.length !== length) throw new ExtError(`${what} lies past the end of the device`);
    return bytes;
  };
  const geometry = parseSuperblock(readBytes(0, SUPERBLOCK_OFFSET + 1024, 'the superblock'), disk.size);
  const { blockSize } = geometry;
  const fileType = (geometry.incompat & INCOMPAT_FILETYPE) !== 0;

  const checkBlock = (block: number, what: string): void => {
    if (!Number.isSafeInteger(block) || block >= geometry.blocksCount || block < geometry.firstDataBlock)
      throw new ExtError(
        `${what}: block ${block} is outside the filesystem (${geometry.blocksCount} blocks)`,
      );
  };
  const readBlockBytes = (block: number, offset: number, length: number, what = 'metadata'): Uint8Array => {
    checkBlock(block, what);
    return readBytes(block * blockSize + offset, length, `${what} at block ${block}`);
  };

  const inodes = new Map<number, ExtInode>();
  const inode = (ino: number): ExtInode => {
    const cached = inodes.get(ino);
    if (cached) return cached;
    const offset = inodeOffset(
      geometry,
      ino,
      (block, at, length) => readBlockBytes(block, at, length, 'group descriptors'),
      (i) => descriptorBlock(geometry, i),
    );
    const parsed = parseInode(ino, readBytes(offset, geometry.inodeSize, `inode ${ino}`));
    if (parsed.flags & ENCRYPT_FL) throw new ExtError(`inode ${ino} is encrypted`);
    inodes.set(ino, parsed);
    return parsed;
  };

  /** The first `length` bytes of the inode's data (holes and unwritten extents as zeros). */
  const contents = (node: ExtInode, length: number): Uint8Array => {
    if (node.flags & INLINE_DATA_FL) {
      const all = new Uint8Array([...node.block, ...inlineDataTail(node)]);
      return all.subarray(0, Math.min(length, all.length));
    }
    const out = new Uint8Array(length);
    const wanted = Math.ceil(length / blockSize);
    const where = `inode ${node.number}`;
    const runs: BlockRun[] = fileBlockRuns(
      node,
      wanted,
      (b) => readBlockBytes(b, 0, blockSize, where),
      blockSize,
    );
    for (const run of runs) {
      if (run.zero) continue;
      const count = Math.min(run.length, wanted - run.logical);
      checkBlock(run.physical + count - 1, where);
      for (let i = 0; i < count; i++) {
        const at = (run.logical + i) * blockSize;
        const bytes = readBlockBytes(run.physical + i, 0, Math.min(blockSize, length - at), where);
        out.set(bytes, at);
      }
    }
    return out;
  };

  const directories = new Map<number, DirectoryEntry[]>();
  const entries = (dir: ExtInode): DirectoryEntry[] => {
    const cached = directories.get(dir.number);
    if (cached) return cached;
    const where = `directory inode ${dir.number}`;
    if (dir.size > MAX_DIRECTORY_BYTES)
      throw new ExtError(`${where}: ${dir.size} bytes, more than this reads`);
    let list: DirectoryEntry[];
    if (dir.flags & INLINE_DATA_FL) {
      // `.` is implied and `..` is the first four bytes; entries follow, then go on in system.data.
      const parent = new DataView(dir.block.buffer, dir.block.byteOffset, 4).getUint32(0, true);
      const options = { fileType, blockSize, where };
      list = [
        { name: '.', inode: dir.number },
        { name: '..', inode: parent },
        ...parseDirectoryBlock(dir.block.subarray(4), options),
        ...parseDirectoryBlock(inlineDataTail(dir), options),
      ];
    } else {
      const bytes = contents(dir, dir.size - (dir.size % blockSize));
      list = [];
      for (let at = 0; at < bytes.length; at += blockSize)
        list.push(...parseDirectoryBlock(bytes.subarray(at, at + blockSize), { fileType, blockSize, where }));
    }
    directories.set(dir.number, list);
    return list;
  };

  const linkTarget = (node: ExtInode): string => {
    if (node.size === 0 || node.size > MAX_LINK_BYTES)
      throw new ExtError(`symlink inode ${node.number}: target of ${node.size} bytes`);
    // A fast symlink keeps its target in i_block itself (e2fsprogs' rule: shorter than i_block).
    const bytes =
      node.size < 60 && !(node.flags & INLINE_DATA_FL)
        ? node.block.subarray(0, node.size)
        : contents(node, node.size);
    return String.fromCharCode(...bytes);
  };

  /** The inode `path` names (latin1 components), links followed inside the filesystem; null when missing. */
  const resolve = (path: string, followLast: boolean): ExtInode | null => {
    const queue = components(path);
    let dir = inode(ROOT_INODE);
    let links = 0;
    while (queue.length > 0) {
      if (dir.kind !== 'directory') return null;
      const name = queue.shift()!;
      const found = entries(dir).find((e) => e.name === name);
      if (!found) return null;
      const node = inode(found.inode);
      if (node.kind === 'symlink' && (queue.length > 0 || followLast)) {
        if (++links > MAX_SYMLINKS) throw new ExtError(`${path}: too many levels of symbolic links`);
        const target = linkTarget(node);
        if (target.startsWith('/')) dir = inode(ROOT_INODE);
        queue.unshift(...components(target));
        continue;
      }
      if (queue.length === 0) return node;
      dir = node;
    }
    return dir;
  };

  const entryOf = (node: ExtInode | null): ExtEntry | null =>
    node ? { inode: node.number, kind: node.kind, size: node.size } : null;

  return {
    geometry,
    get bytesRead() {
      return bytesRead;
    },
    lstat: (path) => entryOf(resolve(asLatin1(path), false)),
    stat: (path) => entryOf(resolve(asLatin1(path), true)),
    readlink(path) {
      const node = resolve(asLatin1(path), false);
      if (node?.kind !== 'symlink') throw new ExtError(`${path}: not a symbolic link`);
      return linkTarget(node);
    },
    readFile(path, maxBytes = MAX_FILE_BYTES) {
      const node = resolve(asLatin1(path), true);
      if (node?.kind !== 'file') return null;
      if (node.size > maxBytes)
        throw new ExtError(`${path}: ${node.size} bytes, more than the ${maxBytes} this reads`);
      return contents(node, node.size);
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
