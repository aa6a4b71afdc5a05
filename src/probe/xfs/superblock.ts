/**
 * The XFS superblock fields a file reader needs (v5, and v4 with version 2 directories), each checked
 * before use: a hostile or damaged superblock gives an XfsError naming the field, never an absurd
 * allocation or a wrapped offset.
 */
import { be16, be32, be64, safeNumber, u8 } from '../../io/bytes.js';
import { XfsError } from './errors.js';

const MAGIC = 0x58465342; // "XFSB"
const VERSION_DIRV2 = 0x2000;
const VERSION_MOREBITS = 0x8000;
const VERSION2_FTYPE = 0x200;
const INCOMPAT_FTYPE = 0x1;
/** ftype, sparse inodes, meta_uuid, bigtime, needsrepair, nrext64, exchange-range, parent pointers: none moves a file's bytes. */
const INCOMPAT_KNOWN = 0xff;

export interface XfsGeometry {
  version: 4 | 5;
  blockSize: number;
  sectorSize: number;
  inodeSize: number;
  /** log2 of inodes per block, the low bits of an inode number. */
  inopbLog: number;
  agBlocks: number;
  /** Bits of an AG-relative block number in a filesystem block or inode number. */
  agBlkLog: number;
  agCount: number;
  dataBlocks: number;
  rootIno: number;
  /** Bytes of one directory block (filesystem block << dirblklog). */
  dirBlockSize: number;
  /** Directory entries carry a file type byte. */
  ftype: boolean;
}

/** The geometry of the XFS whose first sector (or more) is `head`, on a device of `diskSize` bytes. */
export function parseXfsSuperblock(head: Uint8Array, diskSize: number): XfsGeometry {
  if (head.length < 512 || be32(head, 0) !== MAGIC) throw new XfsError('no XFS superblock');
  const versionNum = be16(head, 100);
  const version = versionNum & 0xf;
  if (version !== 4 && version !== 5) throw new XfsError(`superblock: version ${version} is not 4 or 5`);
  if (version === 4 && !(versionNum & VERSION_DIRV2))
    throw new XfsError('superblock: version 1 directories are not read');
  const blockSize = be32(head, 4);
  const blockLog = u8(head, 120);
  if (blockLog < 9 || blockLog > 16 || blockSize !== 1 << blockLog)
    throw new XfsError(`superblock: block size ${blockSize} is not a power of two of 512 B–64 KiB`);
  const sectorSize = be16(head, 102);
  if (sectorSize < 512 || sectorSize > blockSize || sectorSize & (sectorSize - 1))
    throw new XfsError(`superblock: sector size ${sectorSize} does not fit block size ${blockSize}`);
  const inodeSize = be16(head, 104);
  const inodeLog = u8(head, 122);
  if (inodeLog < 8 || inodeLog > 11 || inodeSize !== 1 << inodeLog || inodeSize > blockSize)
    throw new XfsError(`superblock: inode size ${inodeSize} is not 256–2048 bytes within a block`);
  const inopbLog = u8(head, 123);
  if (inopbLog !== blockLog - inodeLog || be16(head, 106) !== 1 << inopbLog)
    throw new XfsError('superblock: inodes per block do not match block and inode sizes');
  const agBlocks = be32(head, 84);
  const agBlkLog = u8(head, 124);
  if (agBlocks < 16 || agBlkLog > 31 || agBlkLog !== Math.ceil(Math.log2(agBlocks)))
    throw new XfsError(`superblock: ${agBlocks} blocks per allocation group (log ${agBlkLog})`);
  const agCount = be32(head, 88);
  const dataBlocks = safeNumber(be64(head, 8));
  if (agCount === 0 || dataBlocks === null || dataBlocks === 0 || dataBlocks > agCount * agBlocks)
    throw new XfsError(`superblock: ${dataBlocks ?? 'too many'} blocks in ${agCount} allocation groups`);
  if (dataBlocks * blockSize > diskSize)
    throw new XfsError(
      `superblock: the filesystem needs ${dataBlocks * blockSize} bytes, the device has ${diskSize}`,
    );
  const dirBlockLog = u8(head, 192);
  if (blockLog + dirBlockLog > 16)
    throw new XfsError(`superblock: directory blocks of 2^${blockLog + dirBlockLog} bytes`);
  if (agBlkLog + inopbLog > 32 + 31) throw new XfsError('superblock: inode numbers wider than 64 bits');
  const rootIno = safeNumber(be64(head, 56));
  if (rootIno === null) throw new XfsError('superblock: root inode number out of range');
  let ftype: boolean;
  if (version === 5) {
    const incompat = be32(head, 216);
    const unknown = (incompat & ~INCOMPAT_KNOWN) >>> 0;
    if (unknown)
      throw new XfsError(`superblock: incompatible features 0x${unknown.toString(16)} are not known`);
    ftype = (incompat & INCOMPAT_FTYPE) !== 0;
  } else {
    ftype = (versionNum & VERSION_MOREBITS) !== 0 && (be32(head, 200) & VERSION2_FTYPE) !== 0;
  }
  return {
    version,
    blockSize,
    sectorSize,
    inodeSize,
    inopbLog,
    agBlocks,
    agBlkLog,
    agCount,
    dataBlocks,
    rootIno,
    dirBlockSize: blockSize << dirBlockLog,
    ftype,
  };
}

/** The byte offset of filesystem block `fsb` (AG number in the high bits); XfsError when outside the filesystem. */
export function fsBlockOffset(g: XfsGeometry, fsb: number, count: number, what: string): number {
  const span = 2 ** g.agBlkLog;
  const ag = Math.floor(fsb / span);
  const agBlock = fsb % span;
  const linear = ag * g.agBlocks + agBlock;
  if (
    !Number.isSafeInteger(fsb) ||
    fsb < 0 ||
    ag >= g.agCount ||
    agBlock + count > g.agBlocks ||
    linear + count > g.dataBlocks
  )
    throw new XfsError(`${what}: block ${fsb} (${count} blocks) is outside the filesystem`);
  return linear * g.blockSize;
}

/** The byte offset of inode `ino`; XfsError when the number cannot be one. */
export function inodeOffset(g: XfsGeometry, ino: number): number {
  const perBlock = 2 ** g.inopbLog;
  const block = Math.floor(ino / perBlock);
  if (!Number.isSafeInteger(ino) || ino <= 0) throw new XfsError(`inode number ${ino} is not valid`);
  try {
    return fsBlockOffset(g, block, 1, `inode ${ino}`) + (ino % perBlock) * g.inodeSize;
  } catch {
    throw new XfsError(`inode ${ino} is outside the filesystem`);
  }
}
