/**
 * What the app prints on the restored terminal when it is left: maps, mounts and loop devices that
 * stay behind, and how to take them down. Leaving never hides that something is still there.
 */
import { nameList } from '../engine/interruption.js';
import type { Leftover } from './model.js';

/** How the app ended: the exit status and the lines to print once the terminal is restored. */
export interface LeaveResult {
  /** 0; 1 when something failed on the way out (an unmount); 129/130/143 after a signal. */
  status: number;
  lines: string[];
}

const count = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;

/** Lines naming what is left of each source, then the commands that remove it; none when all is gone. */
export function leftoverLines(leftovers: readonly Leftover[]): string[] {
  if (leftovers.length === 0) return [];
  const lines = ['kpartx-tui: still present after leaving:'];
  for (const left of leftovers) {
    const parts: string[] = [];
    if (left.maps.length > 0) {
      const each =
        left.backend === 'loop' ? (left.maps.length === 1 ? ', a loop device' : ', each a loop device') : '';
      parts.push(`${count(left.maps.length, 'map')} (${nameList(left.maps)}${each})`);
    }
    if (left.lvMaps?.length) parts.push(`${count(left.lvMaps.length, 'LV map')} (${nameList(left.lvMaps)})`);
    if (left.loop) parts.push(`loop device ${left.loop}`);
    lines.push(`  ${left.path}: ${parts.join(', ')}`);
    for (const mount of left.mounts) lines.push(`    ${mount.map} is mounted on ${mount.mountpoint}`);
  }
  lines.push(`  to remove: ${leftovers.flatMap((left) => left.removeWith).join(' && ')}`);
  return lines;
}
