/**
 * Whether a mounted NTFS holds a hibernated Windows (hibernation or Fast Startup): its
 * `hiberfil.sys` then starts with `hibr` (any case), as ntfs-3g checks before writing. Writing to
 * such a volume loses what Windows will write back when it resumes. Reads 4 bytes, never more.
 */
import { closeSync, constants, openSync, readSync, realpathSync } from 'node:fs';
import { openDirectoryTree } from './directory-tree.js';
import { findTreePathIgnoringCase, TreeError } from './tree.js';

export type HiberfilState = 'hibernated' | 'not-hibernated' | 'absent';

/** The state of `<root>/hiberfil.sys` (its name matched without case, never through a link). */
export function hiberfilState(root: string): HiberfilState {
  let path: string | null;
  try {
    path = findTreePathIgnoringCase(openDirectoryTree(root), '/hiberfil.sys');
  } catch (error) {
    if (error instanceof TreeError) return 'absent';
    throw error;
  }
  if (path === null) return 'absent';
  let fd: number;
  try {
    fd = openSync(
      `${realpathSync(root)}${path}`,
      constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
    );
  } catch {
    return 'absent';
  }
  try {
    const head = Buffer.alloc(4);
    const n = readSync(fd, head, 0, 4, 0);
    return n === 4 && head.toString('latin1').toLowerCase() === 'hibr' ? 'hibernated' : 'not-hibernated';
  } catch {
    return 'not-hibernated';
  } finally {
    closeSync(fd);
  }
}

export const HIBERNATED_WHY =
  'Windows on it is hibernated (hiberfil.sys is in use: hibernation or Fast Startup); writing now would be lost or corrupt the volume when Windows resumes. Boot Windows and shut it down fully (shutdown /s /t 0), then try again';

export const DIRTY_WHY =
  'the NTFS volume is marked dirty (Windows did not unmount it cleanly); run chkdsk from Windows first';
