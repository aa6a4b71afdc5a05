/**
 * Why a mounted filesystem must not become writable: a read-only map (it follows a read-only parent
 * or was added read-only), or an NTFS that Windows left dirty or hibernated. Pure reasons; the
 * engine adapter checks them before it remounts anything.
 */
import { basename } from 'node:path';
import { DIRTY_WHY, HIBERNATED_WHY, type HiberfilState } from '../recovery/hibernation.js';

export function readOnlyMapWhy(mapPath: string): string {
  return (
    `${basename(mapPath)} is a read-only map, so it cannot be written: maps are read-only when they ` +
    'were added with read-only on, or when their parent (the image, its loop, the disk) is read-only. ' +
    'Delete the maps and add them again with read-only off (r on the layout), if the parent is writable'
  );
}

/** Why this NTFS must stay read-only, or null when it may be written. */
export function ntfsWriteRefusal(
  mapPath: string,
  facts: { dirty: boolean; hiberfil: HiberfilState },
): string | null {
  const name = basename(mapPath);
  if (facts.hiberfil === 'hibernated') return `${name} not mounted read-write: ${HIBERNATED_WHY}`;
  if (facts.dirty) return `${name} not mounted read-write: ${DIRTY_WHY}`;
  return null;
}
