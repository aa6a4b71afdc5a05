/**
 * The Linux root on a filesystem read from its bytes without mounting it: the same rules as for a
 * mounted tree (linux-root.ts) over any of the probe's file readers (ext, XFS), plus whether
 * /etc/shadow is there (what a password reset needs).
 */
import { findLinuxRoot, type LinuxSystem, type SystemFiles } from './linux-root.js';

/** What the root rules need of a filesystem reader. */
export interface FileVolume {
  /** Bytes read from the disk so far. */
  readonly bytesRead: number;
  stat(path: string): { kind: NonNullable<ReturnType<SystemFiles['kind']>> } | null;
  readFile(path: string): Uint8Array | null;
}

export type VolumeRootResult =
  | { ok: true; system: LinuxSystem | null; shadow: boolean; bytesRead: number }
  | { ok: false; problem: string };

/**
 * Open the volume and read its root. `ReadError` is the reader's own error class: it is the
 * filesystem's word (a warning, or the problem that stops the read), anything else a bug.
 */
export function readVolumeRoot(
  open: () => FileVolume,
  ReadError: new (message: string) => Error,
): VolumeRootResult {
  const isReadError = (error: unknown): error is Error => error instanceof ReadError;
  /** The same call, its read error naming the path it was reading. */
  const naming = <T>(path: string, read: () => T): T => {
    try {
      return read();
    } catch (error) {
      if (isReadError(error) && !error.message.startsWith(path))
        throw new ReadError(`${path}: ${error.message}`);
      throw error;
    }
  };
  try {
    const volume = open();
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
    if (isReadError(error)) return { ok: false, problem: error.message };
    throw error;
  }
}
