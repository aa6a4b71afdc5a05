/**
 * The Linux root on an XFS, read from its bytes without mounting it: the same rules as for a
 * mounted tree (linux-root.ts) over the XFS reader, plus whether /etc/shadow is there.
 */
import type { Disk } from '../../io/disk.js';
import { openXfsVolume, XfsError } from '../xfs/index.js';
import { findLinuxRoot, type LinuxSystem } from './linux-root.js';

export type XfsRootResult =
  | { ok: true; system: LinuxSystem | null; shadow: boolean; bytesRead: number }
  | { ok: false; problem: string };

/** The same call, its XfsError naming the path it was reading. */
function naming<T>(path: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof XfsError && !error.message.startsWith(path))
      throw new XfsError(`${path}: ${error.message}`);
    throw error;
  }
}

export function readXfsRoot(disk: Disk): XfsRootResult {
  try {
    const volume = openXfsVolume(disk);
    const isReadError = (error: unknown): error is Error => error instanceof XfsError;
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
    if (error instanceof XfsError) return { ok: false, problem: error.message };
    throw error;
  }
}
