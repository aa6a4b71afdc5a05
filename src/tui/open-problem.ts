/**
 * Why a typed path cannot be opened, in words that name the path and the problem (the engine's
 * `failed to stat()` and `invalid device` are the C tool's terse messages).
 */
import type { Machine } from '../engine/machine.js';

const REASONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a part of the path is not a directory',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'the name is too long',
};

/** The message for a source the engine could not read, or `engineError` itself when it is another problem. */
export function openProblem(path: string, machine: Pick<Machine, 'stat'>, engineError: string): string {
  let kind: string;
  try {
    kind = machine.stat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    return `Cannot open ${path}: ${REASONS[code] ?? (code || engineError)}.`;
  }
  if (kind === 'other')
    return `Cannot open ${path}: a directory or special file, not an image or a block device.`;
  return engineError;
}
