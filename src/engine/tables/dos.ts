/**
 * DOS/MBR partition tables, numbered exactly like the C kpartx: primaries 1–4 by slot, then one
 * number per EBR data entry visited (empty ones included), chain after chain.
 */
import { le32, u8 } from '../../io/bytes.js';
import { looksLikeFilesystemBootSector } from '../../probe/fat.js';
import type { PartitionTable, Slot } from '../partition.js';
import type { ReadContext } from './context.js';
import type { TableReader } from './reader.js';
import { dosType, isDosExtended } from './type-names.js';

/** The C tool's slice array size: partition numbers stop at 256. */
const MAX_SLOTS = 256;
/** The C tool gives up on a chain after this many EBRs in a row that add no slice. */
const MAX_EMPTY_EBRS = 100;
const GPT_PROTECTIVE = 0xee;
const PRIMARY_SLOTS = 4;

interface MbrEntry {
  boot: number;
  type: number;
  start: number;
  count: number;
}

function entry(sector: Uint8Array, index: number): MbrEntry {
  const off = 0x1be + index * 16;
  return {
    boot: u8(sector, off),
    type: u8(sector, off + 4),
    start: le32(sector, off + 8),
    count: le32(sector, off + 12),
  };
}

const hasBootSignature = (sector: Uint8Array): boolean =>
  u8(sector, 510) === 0x55 && u8(sector, 511) === 0xaa;

/**
 * Whether sector 0 is a DOS partition table at all. The C tool accepts any 55 AA sector; like the
 * kernel and libblkid this refuses boot indicators other than 0x00/0x80, and a filesystem boot
 * sector whose "entries" describe nothing that fits on the disk.
 */
export function isPlausibleMbr(sector: Uint8Array, diskSectors: number): boolean {
  const entries = [0, 1, 2, 3].map((i) => entry(sector, i));
  if (entries.some((e) => e.boot !== 0 && e.boot !== 0x80)) return false;
  if (!looksLikeFilesystemBootSector(sector)) return true;
  return entries.some(
    (e) => e.type !== 0 && e.count !== 0 && e.start !== 0 && e.start + e.count <= diskSectors,
  );
}

function logicalChain(
  context: ReadContext,
  extended: MbrEntry,
  container: number,
  mul: number,
  logicals: Slot[],
): void {
  const base = extended.start * mul;
  const visited = new Set<number>();
  let next = base;
  let emptyEbrs = 0;
  for (;;) {
    const here = next;
    if (++emptyEbrs > MAX_EMPTY_EBRS) return;
    // The C tool follows a looping chain until all 256 numbers are used up; stop at the repeat.
    if (visited.has(here)) {
      context.warn(
        `dos_extd_partition: extended boot record at sector ${here} is linked twice, chain stopped`,
      );
      return;
    }
    visited.add(here);
    const ebr = context.block(here);
    if (!ebr || !hasBootSignature(ebr)) return;
    let linked = false;
    // Only the first two entries of an EBR are looked at; 2 and 3 are ignored.
    for (let i = 0; i < 2; i++) {
      const e = entry(ebr, i);
      if (isDosExtended(e.type)) {
        if (e.start !== 0 && e.count !== 0 && !linked) {
          next = base + e.start * mul;
          linked = true;
        }
        continue;
      }
      if (PRIMARY_SLOTS + logicals.length >= MAX_SLOTS) {
        context.warn('dos_extd_partition: too many slices');
        return;
      }
      // An empty entry still takes a number: map names depend on it, so this stays as in C.
      logicals.push({
        number: PRIMARY_SLOTS + logicals.length + 1,
        start: here + e.start * mul,
        size: e.count * mul,
        container,
        kind: 'logical',
        type: dosType(e.type),
        bootable: e.boot === 0x80,
      });
      emptyEbrs = 0;
    }
    if (!linked) return;
  }
}

export const dosReader: TableReader = {
  type: 'dos',
  read(context: ReadContext): PartitionTable | null {
    const sectorSize = context.disk.sectorSize;
    const mul = Math.max(1, Math.floor(sectorSize / 512));
    const mbr = context.block(0);
    if (!mbr || !hasBootSignature(mbr)) return null;
    if (!isPlausibleMbr(mbr, Math.floor(context.disk.size / sectorSize))) return null;

    const slots: Slot[] = [];
    const logicals: Slot[] = [];
    for (let i = 0; i < 4; i++) {
      const e = entry(mbr, i);
      // A protective entry means GPT (or hybrid): the DOS view is dropped, even chains already read.
      if (e.type === GPT_PROTECTIVE) return null;
      const extended = isDosExtended(e.type);
      slots[i] = {
        number: i + 1,
        start: e.start * mul,
        // Only 1 KiB of an extended partition is mapped (room for a boot loader), whatever its size.
        size: extended ? (mul === 1 ? 2 : mul) : e.count * mul,
        container: 0,
        kind: extended ? 'extended' : 'primary',
        type: dosType(e.type),
        bootable: e.boot === 0x80,
        ...(extended ? { extent: e.count * mul } : {}),
      };
      // Logical numbers start at 5 and continue across chains.
      if (extended) logicalChain(context, e, i + 1, mul, logicals);
    }

    const signature = le32(mbr, 440);
    const table: PartitionTable = { type: 'dos', sectorSize, slots: [...slots, ...logicals] };
    if (signature !== 0) table.diskId = `0x${signature.toString(16).padStart(8, '0')}`;
    return table;
  },
};
