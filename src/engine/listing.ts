/**
 * The `-l` lines, byte for byte as the C kpartx prints them. Outer slots come first with the
 * device path; contained slots (logical, nested) follow on `/dev/dm-K` with an offset relative to
 * their container, where K is the order in which the container was printed (0 when it was not).
 * That form does not describe what `-a` does (it maps them on the whole disk); it is kept because
 * scripts read it.
 */
import { partitionName } from './names.js';
import type { PartitionTable } from './partition.js';
import { mappableSlots } from './plan.js';

export interface ListingOptions {
  /** Map name base: dm name or last path component of the device. */
  mapName: string;
  delimiter: string;
  /** The device as printed: operand as typed, or `/dev/loopN` for an image. */
  devicePath: string;
}

const U64 = 1n << 64n;

/** Offsets are unsigned 64-bit in the C tool; a contained slot starting before its container wraps. */
const relativeStart = (start: number, containerStart: number): string =>
  start >= containerStart
    ? String(start - containerStart)
    : String((BigInt(start) - BigInt(containerStart) + U64) % U64);

export function listingLines(table: PartitionTable, options: ListingOptions): string[] {
  const { mapName, delimiter, devicePath } = options;
  const startOf = new Map(table.slots.map((slot) => [slot.number, slot.start]));
  const order = new Map<number, number>();
  const lines: string[] = [];
  for (const slot of mappableSlots(table)) {
    const name = partitionName(mapName, delimiter, slot.number);
    if (slot.container === 0) {
      lines.push(`${name} : 0 ${slot.size} ${devicePath} ${slot.start}`);
    } else {
      const k = order.get(slot.container) ?? 0;
      const offset = relativeStart(slot.start, startOf.get(slot.container) ?? 0);
      lines.push(`${name} : 0 ${slot.size} /dev/dm-${k} ${offset}`);
    }
    order.set(slot.number, lines.length - 1);
  }
  return lines;
}
