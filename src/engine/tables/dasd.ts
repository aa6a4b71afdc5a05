/**
 * IBM S/390 DASD labels, read the way the C tool reads them from an image or loop device: the DASD
 * information ioctl cannot succeed there, so the label is at block 2 of the device's block size,
 * the layout is ECKD, and the geometry is the fallback one (15 heads, records-per-track for the
 * block size, cylinders from the device size, at most 0xFFFE). Multi-byte label fields are read
 * little-endian, as the C tool does on x86_64.
 *
 * - `CMS1`: one partition from the CMS label fields;
 * - `LNX1`: one partition from block 3 to the formatted size (or the device end, if smaller);
 * - `VOL1`: one partition per format-1/8 DSCB of the VTOC (first extent);
 * - anything else: not a DASD label (only a real DASD device would get a default partition).
 */
import { le16, le32, le64, safeNumber, u8 } from '../../io/bytes.js';
import type { PartitionTable, Slot } from '../partition.js';
import type { ReadContext } from './context.js';
import type { TableReader } from './reader.js';

const LABEL_BLOCK = 2;
const HEADS = 15;
const MAX_CYLINDERS = 0xfffe;
const MAX_SLOTS = 256;
/** A VTOC holds a few tracks of DSCBs; this only bounds the walk on hostile images. */
const MAX_VTOC_BLOCKS = 16384;

const EBCDIC = {
  CMS1: [0xc3, 0xd4, 0xe2, 0xf1],
  VOL1: [0xe5, 0xd6, 0xd3, 0xf1],
  LNX1: [0xd3, 0xd5, 0xe7, 0xf1],
};
/** EBCDIC digits of the DSCB format identifiers. */
const FMT = { f1: 0xf1, f4: 0xf4, f5: 0xf5, f7: 0xf7, f8: 0xf8, f9: 0xf9 };

interface Geometry {
  heads: number;
  sectors: number;
  cylinders: number;
}

const ceilDiv = (a: number, b: number) => Math.floor((a + b - 1) / b);

/** Records per track of a 3390 track for a given block size (the fdasd formula). */
export function recordsPerTrack(blockSize: number): number {
  const dn = ceilDiv(blockSize + 6, 232) + 1;
  return Math.floor(1729 / (10 + 9 + ceilDiv(blockSize + 6 * dn, 34)));
}

function fallbackGeometry(blockSize: number, diskBytes: number): Geometry {
  const sectors = recordsPerTrack(blockSize);
  const cylinders = Math.floor(diskBytes / (blockSize * HEADS * sectors));
  return { heads: HEADS, sectors, cylinders: Math.min(cylinders, MAX_CYLINDERS) };
}

const matches = (b: Uint8Array, off: number, expected: number[]) =>
  expected.every((v, i) => b[off + i] === v);

/** Block number of a cylinder-head(-record) address; large-volume cylinders use the high head bits. */
function cchhToBlock(cc: number, hh: number, geometry: Geometry): number {
  const cylinder = (hh & 0xfff0) * 4096 + cc;
  const head = hh & 0x000f;
  return cylinder * geometry.heads * geometry.sectors + head * geometry.sectors;
}

/** `blockSize` bytes at `block`, or null when the disk does not hold all of them. */
function readBlock(context: ReadContext, block: number, blockSize: number): Uint8Array | null {
  const offset = block * blockSize;
  if (!Number.isSafeInteger(offset) || offset + blockSize > context.disk.size) return null;
  const data = context.disk.readAt(offset, blockSize);
  return data.length === blockSize ? data : null;
}

function single(context: ReadContext, start: number, end: number): PartitionTable | null {
  // The C tool subtracts unsigned 64-bit values and would wrap; an end before the start is no label.
  if (!Number.isSafeInteger(end) || end < start) return null;
  const slots: Slot[] = [{ number: 1, start, size: end - start, container: 0, kind: 'primary' }];
  return { type: 'dasd', sectorSize: context.disk.sectorSize, slots };
}

function readCms(context: ReadContext, label: Uint8Array): PartitionTable | null {
  const cmsBlockSize = le32(label, 16);
  if (![512, 1024, 2048, 4096].includes(cmsBlockSize)) return null;
  const unit = cmsBlockSize / 512;
  const blocks = le32(label, 32);
  const reservedOffset = le32(label, 56);
  if (reservedOffset !== 0) {
    // Reserved minidisk: the C tool computes `blocks - 1` in 32 bits.
    return single(context, reservedOffset * unit, ((blocks - 1) >>> 0) * unit);
  }
  return single(context, (LABEL_BLOCK + 1) * unit, blocks * unit);
}

function readLnx(
  context: ReadContext,
  label: Uint8Array,
  unit: number,
  diskSectors: number,
  geometry: Geometry,
): PartitionTable | null {
  let formatted: number | null;
  if (u8(label, 83) === 0xf2) {
    const blocks = safeNumber(le64(label, 84));
    formatted = blocks === null ? null : blocks * unit;
  } else {
    formatted = geometry.cylinders * geometry.heads * geometry.sectors * unit;
  }
  if (formatted === null || !Number.isSafeInteger(formatted)) return null;
  return single(context, (LABEL_BLOCK + 1) * unit, Math.min(diskSectors, formatted));
}

function readVtoc(
  context: ReadContext,
  label: Uint8Array,
  blockSize: number,
  geometry: Geometry,
): PartitionTable | null {
  const unit = blockSize / 512;
  let block = cchhToBlock(le16(label, 15), le16(label, 17), geometry) + u8(label, 19) + 1;
  const slots: Slot[] = [];
  for (let scanned = 0; scanned < MAX_VTOC_BLOCKS && slots.length < MAX_SLOTS; scanned++, block++) {
    const dscb = readBlock(context, block, blockSize);
    if (!dscb) break;
    const format = u8(dscb, 44);
    if (format === FMT.f4 || format === FMT.f5 || format === FMT.f7 || format === FMT.f9) continue;
    if (format !== FMT.f1 && format !== FMT.f8) break;
    // First extent: lower limit CCHH at 107, upper limit CCHH at 111.
    const first = cchhToBlock(le16(dscb, 107), le16(dscb, 109), geometry);
    const last = cchhToBlock(le16(dscb, 111), le16(dscb, 113), geometry);
    const blocks = last - first + geometry.sectors;
    if (blocks < 0) return null;
    slots.push({
      number: slots.length + 1,
      start: first * unit,
      size: blocks * unit,
      container: 0,
      kind: 'primary',
    });
  }
  if (slots.length === 0) return null;
  return { type: 'dasd', sectorSize: context.disk.sectorSize, slots };
}

export const dasdReader: TableReader = {
  type: 'dasd',
  read(context): PartitionTable | null {
    const blockSize = context.disk.sectorSize;
    if (blockSize < 512 || blockSize > 4096) return null;
    const geometry = fallbackGeometry(blockSize, context.disk.size);
    const label = readBlock(context, LABEL_BLOCK, blockSize);
    if (!label) return null;
    const unit = Math.floor(blockSize / 512);
    // The label type is the second 4-byte field (`vollbl`) on an ECKD layout.
    if (matches(label, 4, EBCDIC.CMS1)) return readCms(context, label);
    if (matches(label, 4, EBCDIC.VOL1)) return readVtoc(context, label, blockSize, geometry);
    if (matches(label, 4, EBCDIC.LNX1)) {
      return readLnx(context, label, unit, Math.floor(context.disk.size / 512), geometry);
    }
    return null;
  },
};
