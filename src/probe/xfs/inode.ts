/** The XFS inode core (v1/v2, and v3 on v5 filesystems) and where its data fork lies. */
import { be16, be32, be64, safeNumber, u8 } from '../../io/bytes.js';
import { XfsError } from './errors.js';

const MAGIC = 0x494e; // "IN"
const FLAG2_NREXT64 = 0x10n;
const DIFLAG_REALTIME = 0x1;

export const FORMAT_LOCAL = 1;
export const FORMAT_EXTENTS = 2;
export const FORMAT_BTREE = 3;

export type InodeKind = 'file' | 'directory' | 'symlink' | 'other';

export interface XfsInode {
  number: number;
  kind: InodeKind;
  /** di_format of the data fork: local, extents, btree (device and others are not read). */
  format: number;
  size: number;
  /** Extent records in the data fork (extents format) or below its btree root. */
  extentCount: number;
  /** The data fork's bytes, inside the inode. */
  fork: Uint8Array;
}

const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const kindOf = (mode: number): InodeKind => {
  const type = mode & S_IFMT;
  return type === S_IFDIR ? 'directory' : type === S_IFREG ? 'file' : type === S_IFLNK ? 'symlink' : 'other';
};

/** The inode `ino` whose on-disk bytes are `raw`. */
export function parseInode(ino: number, raw: Uint8Array, v5: boolean): XfsInode {
  if (be16(raw, 0) !== MAGIC) throw new XfsError(`inode ${ino}: no inode magic`);
  const mode = be16(raw, 2);
  if (mode === 0) throw new XfsError(`inode ${ino} is not in use`);
  const version = u8(raw, 4);
  if (v5 ? version !== 3 : version !== 1 && version !== 2)
    throw new XfsError(`inode ${ino}: version ${version} on a v${v5 ? 5 : 4} filesystem`);
  if (version === 3 && safeNumber(be64(raw, 152)) !== ino)
    throw new XfsError(`inode ${ino}: the inode says it is number ${be64(raw, 152)}`);
  const size = safeNumber(be64(raw, 56));
  if (size === null) throw new XfsError(`inode ${ino}: size out of range`);
  const nrext64 = version === 3 && (be64(raw, 120) & FLAG2_NREXT64) !== 0n;
  const extentCount = nrext64 ? safeNumber(be64(raw, 24)) : be32(raw, 76);
  if (extentCount === null) throw new XfsError(`inode ${ino}: extent count out of range`);
  const core = version === 3 ? 176 : 100;
  const room = raw.length - core;
  const forkOffset = u8(raw, 82) * 8;
  // Realtime files keep their blocks on another device, which a Disk here is not.
  if (be16(raw, 90) & DIFLAG_REALTIME)
    throw new XfsError(`inode ${ino} keeps its data on the realtime device`);
  if (forkOffset > room)
    throw new XfsError(`inode ${ino}: attribute fork offset ${forkOffset} past the inode`);
  return {
    number: ino,
    kind: kindOf(mode),
    format: u8(raw, 5),
    size,
    extentCount,
    fork: raw.subarray(core, core + (forkOffset || room)),
  };
}
