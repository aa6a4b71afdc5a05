/**
 * BSD disklabel on the whole disk (the C tool never looks inside DOS partitions). The label sits
 * at 512-byte block 1, or at byte 64 of block 0 (labels written for some platforms). Offsets and
 * sizes are 512-byte sectors whatever the device's sector size.
 */
import { le16, le32, u8 } from '../../io/bytes.js';
import type { PartitionTable, PartitionTypeInfo, Slot } from '../partition.js';
import { applyContainment } from './containment.js';
import type { ReadContext } from './context.js';
import type { TableReader } from './reader.js';

const BSD_MAGIC = 0x82564557;
const MAX_PARTITIONS = 16;
const NPARTITIONS_OFFSET = 138;
const PARTITIONS_OFFSET = 148;
const ENTRY_SIZE = 16;

const FSTYPE_NAMES = [
  'unused',
  'swap',
  'Version 6',
  'Version 7',
  'System V',
  '4.1BSD',
  'Eighth Edition',
  '4.2BSD',
  'MSDOS',
  '4.4LFS',
  'unknown',
  'HPFS',
  'ISO9660',
  'boot',
  'ADOS',
  'HFS',
  'AdvFS',
];

export function bsdFsType(code: number): PartitionTypeInfo {
  return { code: `0x${code.toString(16).padStart(2, '0')}`, name: FSTYPE_NAMES[code] ?? 'unknown' };
}

/** The label bytes (starting at the magic), or null when neither location holds one. */
function findLabel(context: ReadContext): Uint8Array | null {
  const block1 = context.block(1);
  if (!block1) return null;
  if (le32(block1, 0) === BSD_MAGIC) return block1;
  const block0 = context.block(0);
  if (block0 && le32(block0, 64) === BSD_MAGIC) return block0.subarray(64);
  return null;
}

export const bsdReader: TableReader = {
  type: 'bsd',
  read(context): PartitionTable | null {
    const label = findLabel(context);
    if (!label) return null;
    const count = Math.min(le16(label, NPARTITIONS_OFFSET), MAX_PARTITIONS);
    const slots: Slot[] = [];
    for (let i = 0; i < count; i++) {
      const entry = PARTITIONS_OFFSET + i * ENTRY_SIZE;
      const fstype = u8(label, entry + 12);
      if (fstype === 0) continue;
      slots.push({
        number: slots.length + 1,
        start: le32(label, entry + 4),
        size: le32(label, entry),
        container: 0,
        kind: 'primary',
        type: bsdFsType(fstype),
      });
    }
    if (slots.length === 0) return null;
    applyContainment(slots, 'bsd_disklabel', (line) => context.warn(line));
    return { type: 'bsd', sectorSize: context.disk.sectorSize, slots };
  },
};
