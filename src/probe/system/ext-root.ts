/**
 * The Linux root on an ext2/3/4 filesystem, read from its bytes without mounting it: the same
 * rules as for a mounted tree (linux-root.ts) over the ext reader, plus whether /etc/shadow is
 * there (what a password reset needs).
 */
import type { Disk } from '../../io/disk.js';
import { ExtError, openExtVolume } from '../extfs/index.js';
import { findLinuxRoot, type LinuxSystem } from './linux-root.js';

export type ExtRootResult =
  | { ok: true; system: LinuxSystem | null; shadow: boolean; bytesRead: number }
  | { ok: false; problem: string };

/** The same call, its ExtError naming the path it was reading. */
function naming<T>(path: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof ExtError && !error.message.startsWith(path))
      throw new ExtError(`${path}: ${error.message}`);
    throw error;
  }
}

export function readExtRoot(disk: Disk): ExtRootResult {
  try {
    const volume = openExtVolume(disk);
    const isReadError = (error: unknown): error is Error => error instanceof ExtError;
    const system = findLinuxRoot({
      read: (path) => naming(path, () => volume.readFile(path)),
      kind: (path) => naming(path, () => volume.stat(path)?.kind ?? null),
      isReadError,
    });
    let shadow = false;
    if (system) {
      try {
        shadow = naming('/etc/shadow', () => volume.stat('/etc/shadow')?.kind === 'file');
      } catch (error) {
        if (!isReadError(error)) throw error;
        system.warnings.push(error.message);
      }
    }
    return { ok: true, system, shadow, bytesRead: volume.bytesRead };
  } catch (error) {
    if (error instanceof ExtError) return { ok: false, problem: error.message };
    throw error;
  }
}
