/**
 * `--type T` and `--options O` of `kpartx-tui mount`, checked before anything is mapped: T must be
 * a type this kernel mounts (/proc/filesystems or a loadable module, as the app's picker asks),
 * and O may only add to the options every mount gets (user-mount-options.ts). Content the probe
 * does not recognise is mounted only with a type the user named: never left to the kernel to guess.
 */
import type { Machine } from '../engine/machine.js';
import { MountOptionError, parseUserMountOptions } from '../engine/user-mount-options.js';

/** What the user asked for, checked. */
export interface FsChoice {
  /** The kernel filesystem type to mount with, instead of the probe's. */
  type?: string;
  /** Filesystem options added to the data string. */
  data: string[];
  /** `ro` was among the options. */
  readOnly: boolean;
}

/** `this kernel mounts: btrfs, ext4, …`, or nothing when the kernel cannot be asked. */
function mountsHere(machine: Pick<Machine, 'mountableFilesystems'>): string {
  const types = machine.mountableFilesystems();
  return types.length > 0 ? ` (this kernel mounts: ${types.join(', ')})` : '';
}

/** Check --type and --options; the Error says which and why. */
export function checkFsChoice(
  machine: Pick<Machine, 'filesystemSupported' | 'mountableFilesystems'>,
  request: { type?: string; options?: string; rw: boolean },
): FsChoice {
  const { type } = request;
  if (type !== undefined) {
    if (!/^[A-Za-z0-9_.+-]+$/.test(type))
      throw new Error(`--type ${JSON.stringify(type)}: not a filesystem type name`);
    if (machine.filesystemSupported(type) === false)
      throw new Error(`--type ${type}: this kernel cannot mount it${mountsHere(machine)}`);
  }
  try {
    const parsed = parseUserMountOptions(request.options ?? '', request.rw);
    return { ...(type ? { type } : {}), ...parsed };
  } catch (error) {
    if (error instanceof MountOptionError) throw new Error(`--options: ${error.message}`);
    throw error;
  }
}

/** Content the probe does not know, and no --type: `disk.img:3: no filesystem recognised; …`. */
export function unrecognisedContent(what: string, machine: Pick<Machine, 'mountableFilesystems'>): string {
  return `${what}: no filesystem recognised; give one with --type${mountsHere(machine)}`;
}
