/**
 * The header sector at the start of a metadata area: checksum, magic ` LVM2 x[5A%r0N*>`, version 1,
 * its own absolute start and the area's size, then zero-terminated raw locations. Slot 0 points at
 * the committed metadata text inside the area's circular buffer (slot 1 at precommitted text
 * during a two-step write, which readers ignore, as lvm2 does outside that write).
 */
import { ascii, bytesEqual, le32, le64, safeNumber } from '../../io/bytes.js';
import type { Disk } from '../../io/disk.js';
import { lvmCrc } from './crc.js';
import { LvmError } from './errors.js';
import type { DiskArea } from './pv-header.js';

export const MDA_HEADER_SIZE = 512;
const MAGIC = ascii(' LVM2 x[5A%r0N*>');
const VERSION = 1;
const FIRST_LOCATION = 40;
/** RAW_LOCN_IGNORED: the area is kept out of use (`pvchange --metadataignore y`). */
const LOCATION_IGNORED = 0x1;

/** Where a metadata text lies: `offset` is from the start of the area and may wrap past its end. */
export interface RawLocation {
  offset: number;
  size: number;
  checksum: number;
  ignored: boolean;
}

export interface MdaHeader {
  /** Absolute byte offset of the area (and of this header) on the PV. */
  start: number;
  /** Size of the area in bytes, header included. */
  size: number;
  /** The committed text, or null when the area holds none (a PV in no VG). */
  committed: RawLocation | null;
}

export function readMdaHeader(disk: Disk, area: DiskArea): MdaHeader {
  const where = `metadata area at byte ${area.offset}`;
  if (area.offset + MDA_HEADER_SIZE > disk.size)
    throw new LvmError(`${where}: header lies past the end of the device`);
  const b = disk.readAt(area.offset, MDA_HEADER_SIZE);
  if (b.length < MDA_HEADER_SIZE) throw new LvmError(`${where}: header lies past the end of the device`);
  if (!bytesEqual(b, 4, MAGIC)) throw new LvmError(`${where}: no metadata area header (wrong magic)`);
  const crc = lvmCrc(b.subarray(4));
  if (crc !== le32(b, 0)) throw new LvmError(`${where}: header checksum is wrong`);
  const version = le32(b, 20);
  if (version !== VERSION) throw new LvmError(`${where}: unknown header version ${version}`);
  const start = safeNumber(le64(b, 24));
  if (start !== area.offset) throw new LvmError(`${where}: header says it starts at byte ${le64(b, 24)}`);
  const size = safeNumber(le64(b, 32));
  if (size === null || size < MDA_HEADER_SIZE || size > area.size) {
    throw new LvmError(`${where}: header gives size ${le64(b, 32)}, the PV header ${area.size}`);
  }
  const offset = le64(b, FIRST_LOCATION);
  if (offset === 0n) return { start, size, committed: null };
  const textSize = le64(b, FIRST_LOCATION + 8);
  // lvm2's own bounds: the text starts inside the area and is no larger than its buffer.
  if (
    offset < BigInt(MDA_HEADER_SIZE) ||
    offset >= BigInt(size) ||
    textSize > BigInt(size - MDA_HEADER_SIZE)
  ) {
    throw new LvmError(`${where}: metadata location ${offset}+${textSize} lies outside the area`);
  }
  return {
    start,
    size,
    committed: {
      offset: Number(offset),
      size: Number(textSize),
      checksum: le32(b, FIRST_LOCATION + 16),
      ignored: (le32(b, FIRST_LOCATION + 20) & LOCATION_IGNORED) !== 0,
    },
  };
}
