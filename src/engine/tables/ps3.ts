/**
 * PlayStation 3 (OtherOS) disk label: the first 0x600 bytes, big-endian. Entries whose start and
 * size are both non-zero get consecutive numbers.
 */
import { be64, safeNumber } from '../../io/bytes.js';
import type { PartitionTable, Slot } from '../partition.js';
import type { TableReader } from './reader.js';

const LABEL_BLOCKS = 3;
const MAGIC1 = 0x0face0ffn;
const MAGIC2 = 0xdeadfacen;
const PARTITIONS_OFFSET = 48;
const PARTITION_STRIDE = 144;
const PARTITION_COUNT = 8;

export const ps3Reader: TableReader = {
  type: 'ps3',
  read(context): PartitionTable | null {
    const label = new Uint8Array(LABEL_BLOCKS * 512);
    for (let blk = 0; blk < LABEL_BLOCKS; blk++) {
      const data = context.block(blk);
      if (!data) return null;
      label.set(data, blk * 512);
    }
    if (be64(label, 16) !== MAGIC1 || be64(label, 24) !== MAGIC2) return null;
    const slots: Slot[] = [];
    for (let i = 0; i < PARTITION_COUNT; i++) {
      const entry = PARTITIONS_OFFSET + i * PARTITION_STRIDE;
      const start = be64(label, entry);
      const size = be64(label, entry + 8);
      if (start === 0n || size === 0n) continue;
      const startSectors = safeNumber(start);
      const sizeSectors = safeNumber(size);
      if (startSectors === null || sizeSectors === null || !Number.isSafeInteger(startSectors + sizeSectors))
        return null;
      slots.push({
        number: slots.length + 1,
        start: startSectors,
        size: sizeSectors,
        container: 0,
        kind: 'primary',
      });
    }
    if (slots.length === 0) return null;
    return { type: 'ps3', sectorSize: context.disk.sectorSize, slots };
  },
};
