/**
 * The LVM2 physical-volume label: a 512-byte sector among the first four of the device that
 * starts with `LABELONE`, names its own sector number, carries lvm2's CRC over the rest of the
 * sector and says `LVM2 001`. The PV header follows inside the same sector.
 */
import { ascii, bytesEqual, le32, le64 } from '../../io/bytes.js';
import type { Disk } from '../../io/disk.js';
import { lvmCrc } from './crc.js';
import { LvmError } from './errors.js';

export const LVM_SECTOR = 512;
/** lvm2 looks for the label in sectors 0-3 (LABEL_SCAN_SECTORS). */
const SCAN_SECTORS = 4;
const LABEL_ID = ascii('LABELONE');
const LABEL_TYPE = ascii('LVM2 001');
/** The label header: id[8], sector u64, crc u32, offset u32, type[8]. */
const LABEL_HEADER_SIZE = 32;

export interface PvLabel {
  /** The 512-byte sector (0-3) holding the label. */
  sector: number;
  /** The whole label sector; the PV header starts at `headerOffset` in it. */
  bytes: Uint8Array;
  headerOffset: number;
}

/**
 * The label, or null when no sector carries one. A sector that says `LABELONE` but fails its own
 * checks (sector number, checksum, type) is skipped as lvm2 skips it; when no good label is found
 * after such a sector, the LvmError names what was wrong with it.
 */
export function findPvLabel(disk: Disk): PvLabel | null {
  const head = disk.readAt(0, SCAN_SECTORS * LVM_SECTOR);
  let damage: string | null = null;
  for (let sector = 0; sector < SCAN_SECTORS; sector++) {
    const at = sector * LVM_SECTOR;
    if (at + LVM_SECTOR > head.length) break;
    const bytes = head.subarray(at, at + LVM_SECTOR);
    if (!bytesEqual(bytes, 0, LABEL_ID)) continue;
    const problem = labelProblem(bytes, sector);
    if (problem) {
      damage ??= `LVM label in sector ${sector}: ${problem}`;
      continue;
    }
    return { sector, bytes, headerOffset: le32(bytes, 20) };
  }
  if (damage) throw new LvmError(damage);
  return null;
}

function labelProblem(bytes: Uint8Array, sector: number): string | null {
  const written = le64(bytes, 8);
  if (written !== BigInt(sector)) return `it says it is in sector ${written}`;
  const crc = lvmCrc(bytes.subarray(20));
  if (crc !== le32(bytes, 16)) return `bad checksum (${hex32(le32(bytes, 16))}, computed ${hex32(crc)})`;
  if (!bytesEqual(bytes, 24, LABEL_TYPE)) return 'type is not "LVM2 001"';
  const offset = le32(bytes, 20);
  if (offset < LABEL_HEADER_SIZE || offset >= LVM_SECTOR)
    return `PV header offset ${offset} is outside the label`;
  return null;
}

const hex32 = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;
