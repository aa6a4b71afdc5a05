/** Inodes: where one lies (its group's descriptor, the inode table) and the fields a reader needs. */
import { le16, le32 } from '../../io/bytes.js';
import { ExtError } from './errors.js';
import type { ExtGeometry } from './superblock.js';

export const ROOT_INODE = 2;

// i_flags
export const EXTENTS_FL = 0x80000;
export const INLINE_DATA_FL = 0x10000000;
export const ENCRYPT_FL = 0x800;

export type InodeKind = 'file' | 'directory' | 'symlink' | 'other';

export interface ExtInode {
  number: number;
  kind: InodeKind;
  mode: number;
  size: number;
  flags: number;
  /** i_block: 60 bytes of block map, extent tree root, inline data or a fast symlink's target. */
  block: Uint8Array;
  /** The whole on-disk inode (its in-inode extended attributes hold the rest of inline data). */
  raw: Uint8Array;
}

const kindOf = (mode: number): InodeKind => {
  switch (mode & 0xf000) {
    case 0x8000:
      return 'file';
    case 0x4000:
      return 'directory';
    case 0xa000:
      return 'symlink';
    default:
      return 'other';
  }
};

/** The byte offset of inode `ino` on the filesystem, from its group descriptor. */
export function inodeOffset(
  geometry: ExtGeometry,
  ino: number,
  readBlockBytes: (block: number, offset: number, length: number) => Uint8Array,
  descriptorBlock: (i: number) => number,
): number {
  if (!Number.isInteger(ino) || ino < 1 || ino > geometry.inodesCount)
    throw new ExtError(`inode ${ino} is outside the filesystem's ${geometry.inodesCount} inodes`);
  const group = Math.floor((ino - 1) / geometry.inodesPerGroup);
  const index = (ino - 1) % geometry.inodesPerGroup;
  const perBlock = geometry.blockSize / geometry.descSize;
  const desc = readBlockBytes(
    descriptorBlock(Math.floor(group / perBlock)),
    (group % perBlock) * geometry.descSize,
    geometry.descSize,
  );
  const table = le32(desc, 0x08) + (geometry.descSize >= 64 ? le32(desc, 0x28) * 2 ** 32 : 0);
  const tableBlocks = Math.ceil((geometry.inodesPerGroup * geometry.inodeSize) / geometry.blockSize);
  if (table === 0 || table + tableBlocks > geometry.blocksCount)
    throw new ExtError(`group ${group}: inode table at block ${table} is outside the filesystem`);
  return table * geometry.blockSize + index * geometry.inodeSize;
}

export function parseInode(ino: number, raw: Uint8Array): ExtInode {
  const mode = le16(raw, 0x00);
  const kind = kindOf(mode);
  // i_size_high is the top of every file's size since ext4 (it was i_dir_acl for ext2 directories).
  const high = kind === 'file' || kind === 'directory' ? le32(raw, 0x6c) : 0;
  return {
    number: ino,
    kind,
    mode,
    size: le32(raw, 0x04) + high * 2 ** 32,
    flags: le32(raw, 0x20),
    block: raw.subarray(0x28, 0x28 + 60),
    raw,
  };
}

const XATTR_MAGIC = 0xea020000;
const XATTR_INDEX_SYSTEM = 7;

/**
 * The value of `system.data` among the inode's in-inode extended attributes: the part of inline
 * data past the first 60 bytes. Empty when there is none.
 */
export function inlineDataTail(inode: ExtInode): Uint8Array {
  const { raw } = inode;
  if (raw.length <= 128) return new Uint8Array(0);
  const start = 128 + le16(raw, 0x80);
  if (start + 4 > raw.length || le32(raw, start) !== XATTR_MAGIC) return new Uint8Array(0);
  const entries = start + 4;
  let at = entries;
  // Each entry is at least 16 bytes, so this walk ends within the inode.
  while (at + 16 <= raw.length && le32(raw, at) !== 0) {
    const nameLength = raw[at]!;
    const nameIndex = raw[at + 1]!;
    const valueOffset = le16(raw, at + 2);
    const valueInode = le32(raw, at + 4);
    const valueSize = le32(raw, at + 8);
    const name = String.fromCharCode(...raw.subarray(at + 16, at + 16 + nameLength));
    if (nameIndex === XATTR_INDEX_SYSTEM && name === 'data' && valueInode === 0) {
      const from = entries + valueOffset;
      if (from + valueSize > raw.length)
        throw new ExtError(`inode ${inode.number}: inline data runs past the inode`);
      return raw.subarray(from, from + valueSize);
    }
    at += (16 + nameLength + 3) & ~3;
  }
  return new Uint8Array(0);
}
