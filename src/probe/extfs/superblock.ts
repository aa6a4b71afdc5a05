/**
 * The ext2/3/4 superblock fields a file reader needs, each checked before use: a hostile or damaged
 * superblock gives an ExtError naming the field, never an absurd allocation or a wrapped offset.
 */
import { le16, le32 } from '../../io/bytes.js';
import { ExtError } from './errors.js';

export const SUPERBLOCK_OFFSET = 1024;
const MAGIC = 0xef53;

// Incompatible features (s_feature_incompat).
export const INCOMPAT_FILETYPE = 0x2;
export const INCOMPAT_META_BG = 0x10;
export const INCOMPAT_64BIT = 0x80;
const INCOMPAT_JOURNAL_DEV = 0x8;
const INCOMPAT_DIRDATA = 0x1000;
// Read-only compatible: sparse_super decides where the backup superblocks (and meta_bg descriptors) sit.
const RO_COMPAT_SPARSE_SUPER = 0x1;

export interface ExtGeometry {
  blockSize: number;
  /** Blocks in the filesystem; a block at or past this is out of range. */
  blocksCount: number;
  firstDataBlock: number;
  blocksPerGroup: number;
  inodesPerGroup: number;
  inodesCount: number;
  inodeSize: number;
  groupCount: number;
  /** Bytes per group descriptor: 32, or s_desc_size with 64bit. */
  descSize: number;
  firstMetaBg: number;
  incompat: number;
  sparseSuper: boolean;
}

/** The geometry of the ext filesystem whose first 2 KiB (or more) are `head`. */
export function parseSuperblock(head: Uint8Array, diskSize: number): ExtGeometry {
  const sb = head.subarray(SUPERBLOCK_OFFSET, SUPERBLOCK_OFFSET + 1024);
  if (sb.length < 1024 || le16(sb, 0x38) !== MAGIC) throw new ExtError('no ext2/3/4 superblock');
  const logBlockSize = le32(sb, 0x18);
  if (logBlockSize > 6) throw new ExtError(`superblock: block size 2^${10 + logBlockSize} is not 1–64 KiB`);
  const blockSize = 1024 << logBlockSize;
  const incompat = le32(sb, 0x60);
  if (incompat & INCOMPAT_JOURNAL_DEV) throw new ExtError('an external journal device holds no files');
  if (incompat & INCOMPAT_DIRDATA) throw new ExtError('dirdata directories (Lustre) are not read');
  const is64 = (incompat & INCOMPAT_64BIT) !== 0;
  const blocksCount = le32(sb, 0x04) + (is64 ? le32(sb, 0x150) * 2 ** 32 : 0);
  const firstDataBlock = le32(sb, 0x14);
  const blocksPerGroup = le32(sb, 0x20);
  const inodesPerGroup = le32(sb, 0x28);
  const inodesCount = le32(sb, 0x00);
  const revision = le32(sb, 0x4c);
  const inodeSize = revision === 0 ? 128 : le16(sb, 0x58);
  const descSize = is64 ? le16(sb, 0xfe) : 32;

  if (blocksCount === 0 || blocksCount * blockSize > diskSize + blockSize * 1024)
    // A little past the end is a truncated copy; far past it is a lie that would send reads anywhere.
    throw new ExtError(
      `superblock: ${blocksCount} blocks of ${blockSize} bytes do not fit a ${diskSize}-byte device`,
    );
  if (blocksPerGroup === 0 || blocksPerGroup > blockSize * 8)
    throw new ExtError(`superblock: ${blocksPerGroup} blocks per group`);
  if (inodesPerGroup === 0 || inodesPerGroup > blockSize * 8)
    throw new ExtError(`superblock: ${inodesPerGroup} inodes per group`);
  if (inodeSize < 128 || inodeSize > blockSize || (inodeSize & (inodeSize - 1)) !== 0)
    throw new ExtError(`superblock: inode size ${inodeSize}`);
  if (descSize < 32 || descSize > 1024 || (descSize & (descSize - 1)) !== 0)
    throw new ExtError(`superblock: group descriptor size ${descSize}`);
  if (firstDataBlock >= blocksCount) throw new ExtError(`superblock: first data block ${firstDataBlock}`);
  const groupCount = Math.ceil((blocksCount - firstDataBlock) / blocksPerGroup);
  if (inodesCount > groupCount * inodesPerGroup)
    throw new ExtError(`superblock: ${inodesCount} inodes in ${groupCount} groups of ${inodesPerGroup}`);
  return {
    blockSize,
    blocksCount,
    firstDataBlock,
    blocksPerGroup,
    inodesPerGroup,
    inodesCount,
    inodeSize,
    groupCount,
    descSize,
    firstMetaBg: le32(sb, 0x104),
    incompat,
    sparseSuper: (le32(sb, 0x64) & RO_COMPAT_SPARSE_SUPER) !== 0,
  };
}

const isPowerOf = (n: number, base: number): boolean => {
  let x = n;
  while (x > 1 && x % base === 0) x /= base;
  return x === 1;
};

/** Whether group `g` holds a copy of the superblock (and so its meta_bg descriptor block sits one block in). */
export function groupHasSuper(geometry: ExtGeometry, g: number): boolean {
  if (g <= 1 || !geometry.sparseSuper) return true;
  return isPowerOf(g, 3) || isPowerOf(g, 5) || isPowerOf(g, 7);
}

/** The block holding group descriptor block `i` (e2fsprogs' ext2fs_descriptor_block_loc2, primary copy). */
export function descriptorBlock(geometry: ExtGeometry, i: number): number {
  const { firstDataBlock, blockSize, descSize, blocksPerGroup } = geometry;
  if (!(geometry.incompat & INCOMPAT_META_BG) || i < geometry.firstMetaBg) return firstDataBlock + 1 + i;
  const group = i * (blockSize / descSize);
  return firstDataBlock + group * blocksPerGroup + (groupHasSuper(geometry, group) ? 1 : 0);
}
