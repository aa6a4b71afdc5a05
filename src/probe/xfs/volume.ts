/**
 * Small files of an XFS read straight from its bytes, without mounting: paths are looked up from
 * the root inode, symbolic links followed inside the filesystem (an absolute target starts again at
 * its root, `..` stops there, 40 links at most as in Linux), and every read is checked against the
 * filesystem and counted against a budget, so damaged or hostile metadata ends in an XfsError
 * naming the problem, in bounded time.
 */
import { be16, be32, be64, safeNumber } from '../../io/bytes.js';
import type { Disk } from '../../io/disk.js';
import { budgetedReads, type FileTree, fileTree, type TreeEntry } from '../file-tree.js';
import { type DirectoryEntry, parseDataBlock, parseShortform } from './directory.js';
import { XfsError } from './errors.js';
import { type Extent, parseBtreeBlock, parseExtents } from './extents.js';
import { FORMAT_BTREE, FORMAT_EXTENTS, FORMAT_LOCAL, parseInode, type XfsInode } from './inode.js';
import { fsBlockOffset, inodeOffset, parseXfsSuperblock, type XfsGeometry } from './superblock.js';

/** A directory whose data blocks pass this (some 100,000 names) is not searched. */
const MAX_DIRECTORY_BYTES = 4 * 1024 * 1024;
/** XFS_SYMLINK_MAXLEN. */
const MAX_LINK_BYTES = 1024;
/** Directory data lives below 32 GiB of the directory's logical space; leaf and free blocks above. */
const DIR_LEAF_OFFSET = 32 * 1024 ** 3;
const SYMLINK_MAGIC = 0x58534c4d; // "XSLM"
const SYMLINK_HEADER = 56;
/** A bmap btree is at most this deep (XFS allows 9 levels for the largest extent counts). */
const MAX_BTREE_LEVEL = 9;

export type XfsEntry = TreeEntry;
export type XfsVolume = FileTree<XfsGeometry>;

/** Open the XFS on `disk`; XfsError when it is not one or its superblock cannot be trusted. */
export function openXfsVolume(disk: Disk): XfsVolume {
  const reads = budgetedReads(disk, (message) => new XfsError(message));
  const readBytes = reads.read;
  const geometry = parseXfsSuperblock(readBytes(0, 512, 'the superblock'), disk.size);
  const { blockSize } = geometry;
  const v5 = geometry.version === 5;
  const readBlocks = (fsb: number, count: number, what: string): Uint8Array =>
    readBytes(fsBlockOffset(geometry, fsb, count, what), count * blockSize, `${what} at block ${fsb}`);

  const inodes = new Map<number, XfsInode>();
  const inode = (ino: number): XfsInode => {
    const cached = inodes.get(ino);
    if (cached) return cached;
    const parsed = parseInode(
      ino,
      readBytes(inodeOffset(geometry, ino), geometry.inodeSize, `inode ${ino}`),
      v5,
    );
    inodes.set(ino, parsed);
    return parsed;
  };

  /** The extents of a btree-format fork: every leaf below the root in the inode, each block once. */
  const btreeExtents = (node: XfsInode, where: string): Extent[] => {
    const { fork } = node;
    const level = be16(fork, 0);
    const count = be16(fork, 2);
    const room = Math.floor((fork.length - 4) / 16);
    if (level === 0 || level > MAX_BTREE_LEVEL || count === 0 || count > room)
      throw new XfsError(`${where}: btree root of level ${level} with ${count} records`);
    const out: Extent[] = [];
    const seen = new Set<number>();
    const visit = (pointer: bigint, expected: number): void => {
      const fsb = safeNumber(pointer);
      if (fsb === null || seen.has(fsb))
        throw new XfsError(`${where}: btree block ${pointer} reached twice or out of range`);
      seen.add(fsb);
      const block = readBlocks(fsb, 1, where);
      const header = parseBtreeBlock(block, v5, `${where}: btree block ${fsb}`);
      if (header.level !== expected)
        throw new XfsError(`${where}: btree block ${fsb} is at level ${header.level}, not ${expected}`);
      if (expected === 0) {
        out.push(...parseExtents(block.subarray(header.header), header.count, where));
        return;
      }
      const pointers = header.header + Math.floor((block.length - header.header) / 16) * 8;
      for (let i = 0; i < header.count; i++) visit(be64(block, pointers + i * 8), expected - 1);
    };
    for (let i = 0; i < count; i++) visit(be64(fork, 4 + room * 8 + i * 8), level - 1);
    return out;
  };

  const extentCache = new Map<number, Extent[]>();
  const extentsOf = (node: XfsInode): Extent[] => {
    const cached = extentCache.get(node.number);
    if (cached) return cached;
    const where = `inode ${node.number}`;
    let list: Extent[];
    if (node.format === FORMAT_EXTENTS) list = parseExtents(node.fork, node.extentCount, where);
    else if (node.format === FORMAT_BTREE) list = btreeExtents(node, where);
    else throw new XfsError(`${where}: data fork format ${node.format} is not read`);
    extentCache.set(node.number, list);
    return list;
  };

  /** `length` bytes from logical byte `start` of the inode's data (holes and unwritten extents as zeros). */
  const contents = (node: XfsInode, start: number, length: number): Uint8Array => {
    const out = new Uint8Array(length);
    const first = Math.floor(start / blockSize);
    const end = Math.ceil((start + length) / blockSize);
    for (const extent of extentsOf(node)) {
      const from = Math.max(first, extent.offset);
      const to = Math.min(end, extent.offset + extent.count);
      if (from >= to || extent.unwritten) continue;
      const bytes = readBlocks(extent.block + (from - extent.offset), to - from, `inode ${node.number}`);
      const at = from * blockSize - start;
      const skip = Math.max(0, -at);
      out.set(bytes.subarray(skip, Math.min(bytes.length, length - at)), Math.max(0, at));
    }
    return out;
  };

  const directories = new Map<number, DirectoryEntry[]>();
  const entries = (dir: XfsInode): DirectoryEntry[] => {
    const cached = directories.get(dir.number);
    if (cached) return cached;
    const where = `directory inode ${dir.number}`;
    let list: DirectoryEntry[];
    if (dir.format === FORMAT_LOCAL) {
      list = parseShortform(dir.fork, dir.size, dir.number, geometry.ftype, where);
    } else {
      // Each directory block that data extents reach, below the leaf area, read once.
      const perBlock = geometry.dirBlockSize / blockSize;
      const limit = DIR_LEAF_OFFSET / blockSize;
      const starts = new Set<number>();
      for (const extent of extentsOf(dir)) {
        const last = Math.min(extent.offset + extent.count, limit);
        for (let b = extent.offset - (extent.offset % perBlock); b < last; b += perBlock) {
          starts.add(b);
          if (starts.size * geometry.dirBlockSize > MAX_DIRECTORY_BYTES)
            throw new XfsError(
              `${where}: more than ${MAX_DIRECTORY_BYTES} bytes of entries, more than this reads`,
            );
        }
      }
      list = [];
      for (const b of [...starts].sort((x, y) => x - y)) {
        const block = contents(dir, b * blockSize, geometry.dirBlockSize);
        list.push(...parseDataBlock(block, v5, geometry.ftype, `${where}, block ${b}`));
      }
    }
    directories.set(dir.number, list);
    return list;
  };

  const linkTarget = (node: XfsInode): string => {
    const where = `symlink inode ${node.number}`;
    if (node.size === 0 || node.size > MAX_LINK_BYTES)
      throw new XfsError(`${where}: target of ${node.size} bytes`);
    if (node.format === FORMAT_LOCAL) {
      if (node.size > node.fork.length) throw new XfsError(`${where}: target larger than the inode`);
      return String.fromCharCode(...node.fork.subarray(0, node.size));
    }
    if (!v5) return String.fromCharCode(...contents(node, 0, node.size));
    // On v5 each block of a remote target starts with a header saying which bytes it holds.
    const blocks = Math.ceil(node.size / (blockSize - SYMLINK_HEADER));
    const raw = contents(node, 0, blocks * blockSize);
    const out = new Uint8Array(node.size);
    for (let i = 0; i < blocks; i++) {
      const block = raw.subarray(i * blockSize, (i + 1) * blockSize);
      const offset = be32(block, 4);
      const bytes = be32(block, 8);
      if (
        be32(block, 0) !== SYMLINK_MAGIC ||
        offset + bytes > node.size ||
        bytes > blockSize - SYMLINK_HEADER
      )
        throw new XfsError(`${where}: remote target block ${i} has no valid header`);
      out.set(block.subarray(SYMLINK_HEADER, SYMLINK_HEADER + bytes), offset);
    }
    return String.fromCharCode(...out);
  };

  return fileTree(geometry, reads, {
    rootInode: geometry.rootIno,
    inode,
    entries,
    linkTarget,
    contents(node, path) {
      if (node.format === FORMAT_LOCAL) {
        if (node.size > node.fork.length) throw new XfsError(`${path}: inline data larger than the inode`);
        return node.fork.slice(0, node.size);
      }
      return contents(node, 0, node.size);
    },
    fail: (message) => new XfsError(message),
  });
}
