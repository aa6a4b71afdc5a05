/**
 * `kpartx-tui mount` onto a directory inside another mount of a guest (its /boot, in the root an
 * earlier `kpartx-tui mount` left mounted): the directory must be there, since nothing is ever
 * created inside a mounted filesystem; and `umount` of the outer one says what is mounted inside
 * it rather than failing with EBUSY.
 */
import { resolve } from 'node:path';
import type { Machine } from '../engine/machine.js';
import { enclosingMount, isInside } from '../engine/mountpoint.js';
import { listRecords } from './record.js';

/** `{ nestedIn }` for the session when `dir` lies inside a mount kpartx-tui mount made. */
export function nestedInRecorded(dir: string, machine: Pick<Machine, 'mounts'>): { nestedIn?: string } {
  const mounted = new Set(machine.mounts.list().map((m) => m.target));
  const outer = enclosingMount(
    resolve(dir),
    listRecords().filter((r) => mounted.has(r.mountpoint)),
  );
  return outer ? { nestedIn: outer.mountpoint } : {};
}

/** A mount lying inside `mountpoint`, which must go first; undefined when none. */
export function mountedInside(mountpoint: string, machine: Pick<Machine, 'mounts'>): string | undefined {
  return machine.mounts.list().find((m) => isInside(m.target, mountpoint))?.target;
}
