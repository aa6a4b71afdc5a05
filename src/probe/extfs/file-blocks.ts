/**
 * Where a file's blocks are: an extent tree (ext4, any depth) or a classic block map (ext2/ext3:
 * 12 direct blocks, then single, double and triple indirect blocks). Only the first `wanted`
 * logical blocks are looked for, so a small file costs a few reads whatever its inode claims, and
 * every node is bounded: a tree deeper than ext4 allows, a node seen twice or a count past its
 * block is an ExtError, never a loop.
 */
import { le16, le32 } from '../../io/bytes.js';
import { ExtError } from './errors.js';
import { EXTENTS_FL, type ExtInode } from './inode.js';

/** `length` blocks from logical block `logical` lie at `physical`; unwritten extents read as zeros. */
export interface BlockRun {
  logical: number;
  physical: number;
  length: number;
  zero: boolean;
}

/** Reads one whole block, in range or an ExtError. */
export type ReadBlock = (block: number) => Uint8Array;

const EXTENT_MAGIC = 0xf30a;
/** ext4 itself refuses trees deeper than 5. */
const MAX_EXTENT_DEPTH = 5;
const UNWRITTEN = 32768;

export function fileBlockRuns(
  inode: ExtInode,
  wanted: number,
  readBlock: ReadBlock,
  blockSize: number,
): BlockRun[] {
  return inode.flags & EXTENTS_FL
    ? extentRuns(inode, wanted, readBlock)
    : blockMapRuns(inode, wanted, readBlock, blockSize);
}

function extentRuns(inode: ExtInode, wanted: number, readBlock: ReadBlock): BlockRun[] {
  const runs: BlockRun[] = [];
  const seen = new Set<number>();
  const where = `inode ${inode.number}`;

  const walk = (node: Uint8Array, expectedDepth: number | null, capacity: number): void => {
    if (le16(node, 0) !== EXTENT_MAGIC) throw new ExtError(`${where}: extent tree node without its magic`);
    const entries = le16(node, 2);
    const depth = le16(node, 6);
    if (entries > capacity)
      throw new ExtError(`${where}: extent node claims ${entries} entries, room for ${capacity}`);
    if (depth > MAX_EXTENT_DEPTH || (expectedDepth !== null && depth !== expectedDepth))
      throw new ExtError(
        `${where}: extent tree depth ${depth} where ${expectedDepth ?? `at most ${MAX_EXTENT_DEPTH}`} belongs`,
      );
    for (let i = 0; i < entries; i++) {
      const at = 12 + i * 12;
      const first = le32(node, at);
      if (first >= wanted) break; // entries are sorted: the rest lie past what is asked for
      if (depth === 0) {
        const raw = le16(node, at + 4);
        const length = raw > UNWRITTEN ? raw - UNWRITTEN : raw;
        const physical = le16(node, at + 6) * 2 ** 32 + le32(node, at + 8);
        if (length > 0) runs.push({ logical: first, physical, length, zero: raw > UNWRITTEN });
      } else {
        // An index entry covers from its first block to the next entry's: any starting before `wanted` may hold some.
        const child = le32(node, at + 4) + le16(node, at + 8) * 2 ** 32;
        if (seen.has(child)) throw new ExtError(`${where}: extent tree block ${child} is reached twice`);
        seen.add(child);
        const block = readBlock(child);
        walk(block, depth - 1, Math.floor((block.length - 12) / 12));
      }
    }
  };
  walk(inode.block, null, 4);
  return runs;
}

function blockMapRuns(inode: ExtInode, wanted: number, readBlock: ReadBlock, blockSize: number): BlockRun[] {
  const runs: BlockRun[] = [];
  const perBlock = blockSize / 4;
  const push = (logical: number, physical: number): void => {
    if (physical === 0) return; // a hole
    const last = runs.at(-1);
    if (last && last.logical + last.length === logical && last.physical + last.length === physical)
      last.length++;
    else runs.push({ logical, physical, length: 1, zero: false });
  };
  for (let i = 0; i < 12 && i < wanted; i++) push(i, le32(inode.block, i * 4));
  // Each level of indirection multiplies the blocks one pointer covers.
  let start = 12;
  for (let level = 1; level <= 3 && start < wanted; level++) {
    const span = perBlock ** level;
    const pointer = le32(inode.block, (11 + level) * 4);
    if (pointer !== 0) indirect(pointer, level, start);
    start += span;
  }
  return runs;

  function indirect(block: number, level: number, first: number): void {
    const table = readBlock(block);
    const span = perBlock ** (level - 1);
    for (let i = 0; i < perBlock; i++) {
      const logical = first + i * span;
      if (logical >= wanted) return;
      const pointer = le32(table, i * 4);
      if (pointer === 0) continue;
      if (level === 1) push(logical, pointer);
      else indirect(pointer, level - 1, logical);
    }
  }
}
