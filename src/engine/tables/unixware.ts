/**
 * UnixWare disk label in 512-byte block 29. Slice 0 (the whole disk) is skipped; slices 1–15 with
 * a non-zero label tag get consecutive numbers, even when their size is 0.
 */
import { le16, le32 } from '../../io/bytes.js';
import type { PartitionTable, Slot } from '../partition.js';
import type { TableReader } from './reader.js';
import { sunTag } from './sun.js';

const LABEL_BLOCK = 29;
const DISK_MAGIC = 0xca5e600d;
const VTOC_MAGIC = 0x600ddeee;
const VTOC_MAGIC_OFFSET = 156;
const SLICES_OFFSET = 216;
const SLICE_SIZE = 12;
const SLICE_COUNT = 16;

export const unixwareReader: TableReader = {
  type: 'unixware',
  read(context): PartitionTable | null {
    const label = context.block(LABEL_BLOCK);
    if (!label || le32(label, 4) !== DISK_MAGIC || le32(label, VTOC_MAGIC_OFFSET) !== VTOC_MAGIC) return null;
    const slots: Slot[] = [];
    for (let i = 1; i < SLICE_COUNT; i++) {
      const entry = SLICES_OFFSET + i * SLICE_SIZE;
      const tag = le16(label, entry);
      if (tag === 0) continue;
      slots.push({
        number: slots.length + 1,
        start: le32(label, entry + 4),
        size: le32(label, entry + 8),
        container: 0,
        kind: 'primary',
        type: sunTag(tag),
      });
    }
    if (slots.length === 0) return null;
    return { type: 'unixware', sectorSize: context.disk.sectorSize, slots };
  },
};
