/**
 * XFS version 2 directories: the short form kept in the inode, and the data blocks of block, leaf
 * and node directories (their leaf, hash and free blocks are only indexes of the same names).
 */
import { be16, be32, be64, safeNumber, u8 } from '../../io/bytes.js';
import { XfsError } from './errors.js';

export interface DirectoryEntry {
  /** The name's bytes, one character per byte. */
  name: string;
  inode: number;
}

const nameOf = (bytes: Uint8Array, at: number, length: number): string =>
  String.fromCharCode(...bytes.subarray(at, at + length));

/** The short-form directory held in the inode's data fork (`size` bytes of it), with `.` and `..`. */
export function parseShortform(
  fork: Uint8Array,
  size: number,
  self: number,
  ftype: boolean,
  where: string,
): DirectoryEntry[] {
  if (size < 6 || size > fork.length) throw new XfsError(`${where}: short-form directory of ${size} bytes`);
  const count = u8(fork, 0);
  const wide = u8(fork, 1) > 0;
  const inodeBytes = wide ? 8 : 4;
  const inodeAt = (at: number) => (wide ? (safeNumber(be64(fork, at)) ?? -1) : be32(fork, at));
  const entries: DirectoryEntry[] = [
    { name: '.', inode: self },
    { name: '..', inode: inodeAt(2) },
  ];
  let at = 2 + inodeBytes;
  for (let i = 0; i < count; i++) {
    const length = u8(fork, at);
    const end = at + 3 + length + (ftype ? 1 : 0) + inodeBytes;
    if (length === 0 || end > size)
      throw new XfsError(`${where}: short-form entry ${i} runs past the directory`);
    entries.push({ name: nameOf(fork, at + 3, length), inode: inodeAt(end - inodeBytes) });
    at = end;
  }
  return entries;
}

const BLOCK_V4 = 0x58443242; // "XD2B": a single-block directory, with its leaf at the end
const DATA_V4 = 0x58443244; // "XD2D": a data block of a leaf or node directory
const BLOCK_V5 = 0x58444233; // "XDB3"
const DATA_V5 = 0x58444433; // "XDD3"
const FREE_TAG = 0xffff;

/** The entries of one directory data block (block format or data block of a larger directory). */
export function parseDataBlock(
  block: Uint8Array,
  v5: boolean,
  ftype: boolean,
  where: string,
): DirectoryEntry[] {
  const magic = be32(block, 0);
  const isBlock = magic === (v5 ? BLOCK_V5 : BLOCK_V4);
  if (!isBlock && magic !== (v5 ? DATA_V5 : DATA_V4))
    throw new XfsError(`${where}: no directory data block magic`);
  let end = block.length;
  if (isBlock) {
    // The tail: the leaf entries' count (8 bytes each) and the stale count, at the very end.
    const leaves = be32(block, block.length - 8);
    end = block.length - 8 - leaves * 8;
  }
  let at = v5 ? 64 : 16;
  if (end < at) throw new XfsError(`${where}: the block's leaf overlaps its header`);
  const entries: DirectoryEntry[] = [];
  while (at < end) {
    if (be16(block, at) === FREE_TAG) {
      const length = be16(block, at + 2);
      if (length < 8 || length % 8 !== 0 || at + length > end)
        throw new XfsError(`${where}: free space of ${length} bytes at ${at}`);
      at += length;
      continue;
    }
    const length = u8(block, at + 8);
    const size = Math.ceil((11 + length + (ftype ? 1 : 0)) / 8) * 8;
    if (length === 0 || at + size > end) throw new XfsError(`${where}: entry at ${at} runs past the block`);
    entries.push({ name: nameOf(block, at + 9, length), inode: safeNumber(be64(block, at)) ?? -1 });
    at += size;
  }
  return entries;
}
