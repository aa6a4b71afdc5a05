/**
 * Turns a partition table into the exact maps `-a` would create. Pure: the same plan feeds the
 * CLI, the JSON listing and the TUI preview. A partition reaching past the end of its device is
 * never planned; the whole plan is refused instead, so a run never creates half a disk.
 */
import type { ParentDevice, PlannedMap } from './backend.js';
import { kernelDmName, partitionName, partitionUuid, resolveDelimiter } from './names.js';
import type { PartitionTable, Slot } from './partition.js';

export interface PlanOptions {
  /** `-p S`; undefined means the digit rule. */
  delimiter?: string;
  /** `-r`, or a parent that can only be opened read-only. */
  readOnly: boolean;
}

export class PlanError extends Error {
  constructor(
    readonly problems: string[],
    /** Why nothing can be mapped, in a few words (`the partition table does not fit the device`). */
    readonly summary: string,
  ) {
    super(problems.join('\n'));
    this.name = 'PlanError';
  }
}

/** Slots that get a map (size > 0), in the C tool's order: outer slots first, then contained ones. */
export function mappableSlots(table: PartitionTable): Slot[] {
  const used = [...table.slots].filter((slot) => slot.size > 0).sort((a, b) => a.number - b.number);
  return [...used.filter((slot) => slot.container === 0), ...used.filter((slot) => slot.container !== 0)];
}

/** Last sector (exclusive) of a slot. */
export const slotEnd = (slot: Slot): number => slot.start + slot.size;

/** Slots that do not fit on a device of `deviceSectors` 512-byte sectors. */
export function slotsPastEnd(table: PartitionTable, deviceSectors: number): Slot[] {
  return mappableSlots(table).filter((slot) => slotEnd(slot) > deviceSectors);
}

/** One line naming the partition and the device, for -l warnings and -a/-u refusals. */
export function pastEndMessage(name: string, slot: Slot, devicePath: string, deviceSectors: number): string {
  return (
    `${name}: partition ${slot.number} (sectors ${slot.start}-${slotEnd(slot) - 1}) ends past the end of ` +
    `${devicePath} (${deviceSectors} sectors)`
  );
}

/**
 * The C tool says `Invalid slice <k>` (k = 0-based container index) for a contained slot whose
 * container is empty; the slot is still mapped.
 */
export function invalidContainerWarnings(table: PartitionTable): string[] {
  const sizeOf = new Map(table.slots.map((slot) => [slot.number, slot.size]));
  return mappableSlots(table)
    .filter((slot) => slot.container !== 0 && !sizeOf.get(slot.container))
    .map((slot) => `Invalid slice ${slot.container - 1}`);
}

/** Every map `-a` would create for `table` on `parent`, or a PlanError listing every problem. */
export function planMaps(table: PartitionTable, parent: ParentDevice, options: PlanOptions): PlannedMap[] {
  const delimiter = resolveDelimiter(parent.mapName, options.delimiter);
  const problems: string[] = [];
  let pastEnd = 0;
  const maps: PlannedMap[] = [];
  for (const slot of mappableSlots(table)) {
    const name = partitionName(parent.mapName, delimiter, slot.number);
    if (slotEnd(slot) > parent.sizeSectors) {
      problems.push(pastEndMessage(name, slot, parent.path, parent.sizeSectors));
      pastEnd++;
      continue;
    }
    const mapped = kernelDmName(name);
    if (!mapped.ok) {
      problems.push(`${name}: ${mapped.problem}`);
      continue;
    }
    maps.push({
      number: slot.number,
      name,
      dmName: mapped.dmName,
      kernelName: mapped.kernelName,
      uuid: partitionUuid(slot.number, parent.uuid),
      start: slot.start,
      size: slot.size,
      contained: slot.container !== 0,
      readOnly: options.readOnly,
    });
  }
  if (problems.length > 0) {
    const summary =
      pastEnd === problems.length
        ? 'the partition table does not fit the device'
        : pastEnd === 0
          ? `device-mapper cannot take ${problems.length === 1 ? 'a map name' : 'the map names'}`
          : `${problems.length} partitions cannot be mapped`;
    throw new PlanError(problems, summary);
  }
  return maps;
}
