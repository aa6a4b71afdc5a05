/** XFS extent records (the packed 128-bit bmbt_rec) and the headers of bmap btree blocks. */
import { be16, be32, be64 } from '../../io/bytes.js';
import { XfsError } from './errors.js';

export interface Extent {
  /** First logical block of the file. */
  offset: number;
  /** First filesystem block (AG number in the high bits). */
  block: number;
  count: number;
  /** Allocated but never written: reads as zeros. */
  unwritten: boolean;
}

const MASK21 = (1n << 21n) - 1n;
const MASK54 = (1n << 54n) - 1n;

/** `count` extent records starting at the start of `bytes`. */
export function parseExtents(bytes: Uint8Array, count: number, where: string): Extent[] {
  if (count * 16 > bytes.length)
    throw new XfsError(`${where}: ${count} extents do not fit in ${bytes.length} bytes`);
  const out: Extent[] = [];
  for (let i = 0; i < count; i++) {
    const l0 = be64(bytes, i * 16);
    const l1 = be64(bytes, i * 16 + 8);
    const extent = {
      unwritten: l0 >> 63n === 1n,
      offset: Number((l0 >> 9n) & MASK54),
      block: Number(((l0 & 0x1ffn) << 43n) | (l1 >> 21n)),
      count: Number(l1 & MASK21),
    };
    if (extent.count === 0 || !Number.isSafeInteger(extent.offset + extent.count))
      throw new XfsError(`${where}: extent ${i} is empty or out of range`);
    out.push(extent);
  }
  return out;
}

const BMAP_V4 = 0x424d4150; // "BMAP"
const BMAP_V5 = 0x424d4133; // "BMA3"

export interface BtreeBlock {
  level: number;
  count: number;
  /** Offset of the records (leaf) or keys (node) in the block. */
  header: number;
}

/** The header of a bmap btree block below the inode's root. */
export function parseBtreeBlock(block: Uint8Array, v5: boolean, where: string): BtreeBlock {
  const magic = be32(block, 0);
  if (magic !== (v5 ? BMAP_V5 : BMAP_V4)) throw new XfsError(`${where}: no bmap btree block magic`);
  const header = v5 ? 72 : 24;
  const count = be16(block, 6);
  if (count === 0 || count > Math.floor((block.length - header) / 16))
    throw new XfsError(`${where}: ${count} records in a btree block`);
  return { level: be16(block, 4), count, header };
}
