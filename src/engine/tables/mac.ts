/**
 * Apple partition map. Block 0 holds the driver descriptor ("ER") with the map's block size; map
 * entry k ("PM") sits at byte k × blockSize. Every entry becomes a partition, numbered in map order,
 * including the map itself and free-space entries, as the C tool does.
 */
import { be16, be32, cString } from '../../io/bytes.js';
import type { PartitionTable, Slot } from '../partition.js';
import type { ReadContext } from './context.js';
import type { TableReader } from './reader.js';

const DRIVER_MAGIC = 0x4552;
const PARTITION_MAGIC = 0x504d;
const MAX_SLOTS = 256;

/** The 512-byte view starting at byte `pos`, as the C tool's getblock gives it; null on read errors. */
function entryAt(context: ReadContext, pos: number): Uint8Array | null {
  const data = context.block(Math.floor(pos / 512));
  return data ? data.subarray(pos % 512) : null;
}

export const macReader: TableReader = {
  type: 'mac',
  read(context): PartitionTable | null {
    const driver = context.block(0);
    if (!driver || be16(driver, 0) !== DRIVER_MAGIC) return null;
    const blockSize = be16(driver, 2);
    const first = entryAt(context, blockSize);
    if (!first || be16(first, 0) !== PARTITION_MAGIC) return null;
    const mapCount = Math.min(be32(first, 4), MAX_SLOTS);
    const unit = Math.floor(blockSize / 512);
    const slots: Slot[] = [];
    for (let k = 1; k <= mapCount; k++) {
      const entry = entryAt(context, k * blockSize);
      // A read error anywhere in the map discards the whole map, as in the C tool.
      if (!entry) return null;
      if (be16(entry, 0) !== PARTITION_MAGIC) break;
      const type = cString(entry, 48, 32);
      slots.push({
        number: k,
        // Exact products (the C tool multiplies in 32 bits and can wrap).
        start: be32(entry, 8) * unit,
        size: be32(entry, 12) * unit,
        container: 0,
        kind: 'primary',
        type: { code: type, name: type },
        name: cString(entry, 16, 32),
      });
    }
    if (slots.length === 0) return null;
    return { type: 'mac', sectorSize: context.disk.sectorSize, slots };
  },
};
