/**
 * How kpartx names partition maps and tags them with UUIDs. Pure string rules, shared by the CLI
 * listing, the planner and the TUI preview, so every surface shows exactly the names `-a` creates.
 */
import type { DevNo } from '../kernel/types.js';

/** device-mapper's name buffer is 128 bytes including the terminating NUL. */
export const DM_NAME_MAX_BYTES = 127;

/** Fixed suffix of the UUID kpartx invents for a parent that has no dm UUID of its own. */
const NONDM_UUID_PREFIX = 'devnode_';
const NONDM_UUID_SUFFIX = '_Wh5pYvM';

/**
 * The last path component exactly as typed (no symlink resolution): `/dev/disk/by-id/wwn-x` gives
 * `wwn-x`. This is the map-name base for every parent that is not a device-mapper device.
 */
export function lastPathComponent(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Without `-p`: `p` when the base name ends in a digit (`loop0p1`, `nvme0n1p1`), else nothing (`sda1`). */
export function defaultDelimiter(mapName: string): string {
  const last = mapName.charCodeAt(mapName.length - 1);
  return last >= 0x30 && last <= 0x39 ? 'p' : '';
}

/** `-p S` wins even when S is empty; otherwise the digit rule applies. */
export function resolveDelimiter(mapName: string, explicit: string | undefined): string {
  return explicit ?? defaultDelimiter(mapName);
}

/** The partition map name as `-l` prints it: base + delimiter + number, `/` kept. */
export function partitionName(mapName: string, delimiter: string, number: number): string {
  return `${mapName}${delimiter}${number}`;
}

/**
 * The name device-mapper is given: every `/` after the first character becomes `!` (a `/` in
 * first position is left alone, as the C tool does).
 */
export function dmName(name: string): string {
  if (name.length <= 1) return name;
  return name[0] + name.slice(1).replaceAll('/', '!');
}

/** UUID for a parent without a dm UUID: stable, derived from its device number in decimal. */
export function nonDmUuid(devno: DevNo): string {
  return `${NONDM_UUID_PREFIX}${devno.major}:${devno.minor}${NONDM_UUID_SUFFIX}`;
}

/** The parent UUID partition UUIDs derive from: the dm UUID when there is one, else the devnode form. */
export function parentUuid(dmUuid: string | undefined, devno: DevNo): string {
  return dmUuid ? dmUuid : nonDmUuid(devno);
}

/** Partition map UUID: `part<N>-<parent uuid>`. */
export function partitionUuid(number: number, parent: string): string {
  return `part${number}-${parent}`;
}

/** The device number encoded in a `devnode_MAJ:MIN_Wh5pYvM` UUID, or null for any other UUID. */
export function devNoFromNonDmUuid(uuid: string): DevNo | null {
  const match = /^devnode_(\d+):(\d+)_Wh5pYvM$/.exec(uuid);
  if (!match) return null;
  return { major: Number(match[1]), minor: Number(match[2]) };
}

/**
 * Ownership test of a partition map UUID: `part<digits>-<parent uuid>`. Returns the partition
 * number, or null when the map is not a kpartx partition of that parent.
 */
export function partitionNumberOf(uuid: string, parent: string): number | null {
  const match = /^part(\d+)-(.*)$/s.exec(uuid);
  if (!match || match[2] !== parent) return null;
  return Number(match[1]);
}

/** True when device-mapper would accept this name length. */
export function fitsDmName(name: string): boolean {
  return Buffer.byteLength(name, 'utf8') <= DM_NAME_MAX_BYTES;
}
