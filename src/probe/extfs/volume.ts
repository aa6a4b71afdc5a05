/**
 * Small files of an ext2/3/4 filesystem read straight from its bytes, without mounting: paths are
 * looked up from the root inode, symbolic links followed inside the filesystem (an absolute target
 * starts again at its root, `..` stops there, 40 links at most as in Linux), and every read is
 * checked against the filesystem and counted against a budget, so damaged or hostile metadata
 * ends in an ExtError naming the problem, in bounded time.
 */
import type { Disk } from '../../io/disk.js';
import { budgetedReads, type FileTree, fileTree, type TreeEntry } from '../file-tree.js';
import { type DirectoryEntry, parseDirectoryBlock } from './directory.js';
import { ExtError } from './errors.js';
import { type BlockRun, fileBlockRuns } from './file-blocks.js';
import {
  ENCRYPT_FL,
  type ExtInode,
  INLINE_DATA_FL,
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

/** A directory past this (some 100,000 names) is not searched. */
const MAX_DIRECTORY_BYTES = 4 * 1024 * 1024;
const MAX_LINK_BYTES = 4096;

export type ExtEntry = TreeEntry;
export type ExtVolume = FileTree<ExtGeometry>;

/** Open the ext filesystem on `disk`; ExtError when it is not one or its superblock cannot be trusted. */
export function openExtVolume(disk: Disk): ExtVolume {
  const reads = budgetedReads(disk, (message) => new ExtError(message));
  const readBytes = reads.read;
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

  return fileTree(geometry, reads, {
    rootInode: ROOT_INODE,
    inode,
    entries,
    linkTarget,
    contents: (node) => contents(node, node.size),
    fail: (message) => new ExtError(message),
  });
}
