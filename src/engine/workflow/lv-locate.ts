/**
 * Where `IMAGE:VG/LV` (or `IMAGE:N/VG/LV`) is to be looked for, decided from what the partitions
 * hold before anything is mapped or asked: on the plain PV partitions, or inside a LUKS partition
 * (Ubuntu's encrypted default: LVM on LUKS), which must then be opened to read its PV. Pure.
 */
import { printable } from '../lvm/errors.js';

export type LvLocation =
  /** Read the VG from the partitions' PVs (`partition`: the one named, which must hold one of them). */
  | { inside: 'partitions'; partition?: number }
  /** Open LUKS partition `partition` and read the VG from the PV inside. */
  | { inside: 'luks'; partition: number };

export class LvLocateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LvLocateError';
  }
}

export function locateVolumeGroup(
  target: { source: string; vg: string; lv: string; partition?: number },
  partitions: readonly { number: number; luks: boolean }[],
  /** The VGs found on the plain partitions' PVs. */
  plainGroups: readonly string[],
): LvLocation {
  const what = `${target.source}:${printable(target.vg)}/${printable(target.lv)}`;
  if (target.partition !== undefined) {
    const named = partitions.find((p) => p.number === target.partition);
    if (!named)
      throw new LvLocateError(
        `${target.source}: no partition ${target.partition}; partitions: ${partitions.map((p) => p.number).join(', ') || 'none'}`,
      );
    return named.luks
      ? { inside: 'luks', partition: named.number }
      : { inside: 'partitions', partition: named.number };
  }
  if (plainGroups.includes(target.vg)) return { inside: 'partitions' };
  const encrypted = partitions.filter((p) => p.luks);
  if (encrypted.length === 0) return { inside: 'partitions' }; // the search says what is there
  if (encrypted.length > 1)
    throw new LvLocateError(
      `${what}: no volume group ${printable(target.vg)} on the plain partitions, and ${encrypted.length} LUKS partitions (${encrypted.map((p) => p.number).join(', ')}) may hold it: say which with ${target.source}:N/${printable(target.vg)}/${printable(target.lv)}`,
    );
  return { inside: 'luks', partition: encrypted[0]!.number };
}
