/**
 * Sun (SPARC) disk label in 512-byte block 0. Slot numbers are fixed by slot index (1–8); empty
 * slots keep their number. Starts are cylinders × heads × sectors-per-track, in 512-byte sectors.
 */
import { be16, be32, u8 } from '../../io/bytes.js';
import type { PartitionTable, PartitionTypeInfo, Slot } from '../partition.js';
import { applyContainment } from './containment.js';
import type { TableReader } from './reader.js';

const SUN_MAGIC = 0xdabe;
const MAGIC_OFFSET = 508;
const SLOT_COUNT = 8;
const INFOS_OFFSET = 142;
const NTRKS_OFFSET = 436;
const NSECT_OFFSET = 438;
const PARTITIONS_OFFSET = 444;

/** SunOS/Solaris partition tags (VTOC `v_tag` / Sun label ids), plus the Linux ids fdisk uses. */
const TAG_NAMES: ReadonlyMap<number, string> = new Map([
  [0x00, 'unassigned'],
  [0x01, 'boot'],
  [0x02, 'root'],
  [0x03, 'swap'],
  [0x04, 'usr'],
  [0x05, 'backup'],
  [0x06, 'stand'],
  [0x07, 'var'],
  [0x08, 'home'],
  [0x09, 'alternates'],
  [0x0a, 'cache'],
  [0x0b, 'reserved'],
  [0x82, 'Linux swap'],
  [0x83, 'Linux native'],
  [0x8e, 'Linux LVM'],
  [0xfd, 'Linux raid autodetect'],
]);

export function sunTag(code: number): PartitionTypeInfo {
  return { code: `0x${code.toString(16).padStart(2, '0')}`, name: TAG_NAMES.get(code) ?? 'unknown' };
}

/** XOR of all 256 big-endian 16-bit words, checksum included: 0 for an intact label. */
function checksumOk(label: Uint8Array): boolean {
  let sum = 0;
  for (let off = 0; off < 512; off += 2) sum ^= be16(label, off);
  return sum === 0;
}

export const sunReader: TableReader = {
  type: 'sun',
  read(context): PartitionTable | null {
    const label = context.block(0);
    if (!label || be16(label, MAGIC_OFFSET) !== SUN_MAGIC) return null;
    if (!checksumOk(label)) {
      context.warn('Corrupted Sun disk label');
      return null;
    }
    const sectorsPerCylinder = be16(label, NSECT_OFFSET) * be16(label, NTRKS_OFFSET);
    const slots: Slot[] = [];
    for (let i = 0; i < SLOT_COUNT; i++) {
      const entry = PARTITIONS_OFFSET + i * 8;
      slots.push({
        number: i + 1,
        // At most 2^32 × 2^32: beyond exact doubles only for absurd geometry, which the check
        // below turns into "not a Sun label".
        start: be32(label, entry) * sectorsPerCylinder,
        size: be32(label, entry + 4),
        container: 0,
        kind: 'primary',
        type: sunTag(u8(label, INFOS_OFFSET + i * 4 + 1)),
      });
    }
    if (slots.some((slot) => !Number.isSafeInteger(slot.start + slot.size))) return null;
    applyContainment(slots, 'sun_disklabel', (line) => context.warn(line));
    return { type: 'sun', sectorSize: context.disk.sectorSize, slots };
  },
};
