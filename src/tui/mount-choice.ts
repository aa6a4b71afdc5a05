/**
 * A mount as chosen in the app's session (where, which type, what options) turned into what the
 * engine's session is asked for: options checked so they never undo nosuid, nodev, noexec or
 * read-only, a named type checked against the kernel's, and a mountpoint inside another mounted
 * filesystem (a guest's /boot in its root) marked so that it must exist there. No React here.
 */
import { resolve } from 'node:path';
import type { Machine } from '../engine/machine.js';
import { enclosingMount, isInside } from '../engine/mountpoint.js';
import type { MountRequest } from '../engine/session.js';
import { MountOptionError, parseUserMountOptions } from '../engine/user-mount-options.js';
import { type MountChoice, TuiError } from './model.js';

export interface ChoiceContext {
  /** The directory relative mountpoints are read from. */
  cwd: string;
  /** Where the session makes default mountpoints. */
  mountRoot: string;
  /** Mountpoints this app mounted. */
  mountedHere: Iterable<string>;
  kernel: Pick<Machine, 'mounts' | 'filesystemSupported'>;
  /** The type the probe recognised, when it did. */
  probed: string | undefined;
}

export function sessionRequest(
  choice: MountChoice,
  context: ChoiceContext,
): Pick<MountRequest, 'readOnly' | 'exec' | 'fstype' | 'options' | 'mountpoint' | 'nestedIn'> {
  let options: ReturnType<typeof parseUserMountOptions>;
  try {
    options = parseUserMountOptions(choice.options ?? '', !choice.readOnly);
  } catch (error) {
    if (error instanceof MountOptionError) throw new TuiError(error.message);
    throw error;
  }
  const fstype = choice.fstype ?? context.probed;
  if (choice.fstype && context.kernel.filesystemSupported(choice.fstype) === false)
    throw new TuiError(`this kernel cannot mount ${choice.fstype}`);
  if (choice.mountpoint !== undefined && choice.mountpoint.trim() === '')
    throw new TuiError('no mountpoint given');
  const mountpoint = choice.mountpoint ? resolve(context.cwd, choice.mountpoint.trim()) : undefined;
  // Mounted filesystems a mountpoint may lie in: this app's, and any under the session's root.
  const root = resolve(context.mountRoot);
  const mounted = [
    ...context.mountedHere,
    ...context.kernel.mounts
      .list()
      .map((m) => m.target)
      .filter((t) => isInside(t, root)),
  ].map((m) => ({ mountpoint: m }));
  const outer = mountpoint ? enclosingMount(mountpoint, mounted) : undefined;
  return {
    readOnly: choice.readOnly || options.readOnly,
    exec: choice.exec,
    ...(fstype ? { fstype } : {}),
    options: options.data,
    ...(mountpoint ? { mountpoint } : {}),
    ...(outer ? { nestedIn: outer.mountpoint } : {}),
  };
}
