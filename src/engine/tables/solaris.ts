/**
 * Solaris x86 VTOC in 512-byte block 1 (whole disk only, like the C tool).
 *
 * Two layouts are accepted. The C tool describes the VTOC with C `long`s, so on x86_64 it expects
 * 8-byte sanity/version fields and 16-byte slices; the real on-disk format written by Solaris uses
 * 4-byte fields and 12-byte slices. The 64-bit layout is tried first, so every image the C tool
 * lists is listed identically; genuine Solaris labels, which the C tool ignores on x86_64, are
 * listed too.
 */
import { le16, le32, le64, safeNumber } from '../../io/bytes.js';
import type { PartitionTable, Slot } from '../partition.js';
import type { ReadContext } from './context.js';
import type { TableReader } from './reader.js';
import { sunTag } from './sun.js';

const VTOC_SANE = 0x600ddeee;
const SLICE_COUNT = 8;

interface Layout {
  sanity(b: Uint8Array): bigint;
  version(b: Uint8Array): bigint;
  slicesOffset: number;
  sliceSize: number;
  /** Slice size field; null when it does not fit a safe integer. */
  sliceSizeAt(b: Uint8Array, entry: number): number | null;
}

/** What the C tool reads on x86_64 (`unsigned long` = 8 bytes). */
const LAYOUT_LP64: Layout = {
  sanity: (b) => le64(b, 24),
  version: (b) => le64(b, 32),
  slicesOffset: 136,
  sliceSize: 16,
  sliceSizeAt: (b, entry) => safeNumber(le64(b, entry + 8)),
};

/** The on-disk format Solaris writes (32-bit fields). */
const LAYOUT_ILP32: Layout = {
  sanity: (b) => BigInt(le32(b, 12)),
  version: (b) => BigInt(le32(b, 16)),
  slicesOffset: 72,
  sliceSize: 12,
  sliceSizeAt: (b, entry) => le32(b, entry + 8),
};

function readSlices(context: ReadContext, vtoc: Uint8Array, layout: Layout): PartitionTable | null {
  const version = layout.version(vtoc);
  if (version !== 1n) {
    // Printed as the C tool's signed `long`.
    context.warn(`Cannot handle solaris version ${BigInt.asIntN(64, version)} vtoc`);
    return null;
  }
  const slots: Slot[] = [];
  for (let i = 0; i < SLICE_COUNT; i++) {
    const entry = layout.slicesOffset + i * layout.sliceSize;
    const size = layout.sliceSizeAt(vtoc, entry);
    // The C tool adds the signed start to an unsigned offset: the 32-bit pattern, unsigned.
    const start = le32(vtoc, entry + 4);
    if (size === null || !Number.isSafeInteger(start + size)) return null;
    if (size === 0) continue;
    slots.push({
      number: slots.length + 1,
      start,
      size,
      container: 0,
      kind: 'primary',
      type: sunTag(le16(vtoc, entry)),
    });
  }
  if (slots.length === 0) return null;
  return { type: 'solaris', sectorSize: context.disk.sectorSize, slots };
}

export const solarisReader: TableReader = {
  type: 'solaris',
  read(context): PartitionTable | null {
    const vtoc = context.block(1);
    if (!vtoc) return null;
    for (const layout of [LAYOUT_LP64, LAYOUT_ILP32]) {
      if (layout.sanity(vtoc) === BigInt(VTOC_SANE)) return readSlices(context, vtoc, layout);
    }
    return null;
  },
};
