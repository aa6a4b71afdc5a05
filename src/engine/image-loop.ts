/**
 * The loop device an image file is mapped through. `kpartx -a IMAGE` attaches it and `-d IMAGE`
 * releases it, but only a loop kpartx-tui attached itself: one the user set up with losetup (or
 * another tool) is left alone, since the kernel cannot tell whose it is otherwise. Ours carry a
 * mark in their loop name (`lo_file_name`, shown by `losetup --list -O NAME`).
 */
import type { Kernel, LoopDevice } from '../kernel/types.js';

const IMAGE_MARK = 'kpartx-tui:image:';

/** The loop name an image loop is attached with (the kernel keeps 63 bytes of it). */
export const imageLoopName = (file: string): string => `${IMAGE_MARK}${file}`;

export const attachedByUs = (loop: Pick<LoopDevice, 'name'>): boolean =>
  loop.name?.startsWith(IMAGE_MARK) ?? false;

export type LoopRelease =
  /** Released now, or already (`gone`). */
  | { outcome: 'detached' | 'gone' }
  /** Not ours: left alone. */
  | { outcome: 'foreign' }
  /** Still used (a map or mount on it, an open file): it goes with its last user. */
  | { outcome: 'in-use' }
  | { outcome: 'failed'; error: unknown };

/**
 * Let go of the image's loop `path` after its maps were removed. A loop that is no longer bound was
 * already released by the kernel (a detach during an earlier run that found a map busy marks it to
 * go with its last user). A detach while something still uses it only marks it likewise: the
 * loop stays bound until the last user lets go, and the outcome says so.
 */
export function releaseImageLoop(kernel: Pick<Kernel, 'loop'>, path: string): LoopRelease {
  const bound = kernel.loop.list().find((loop) => loop.path === path);
  if (!bound) return { outcome: 'gone' };
  if (!attachedByUs(bound)) return { outcome: 'foreign' };
  try {
    kernel.loop.detach(path);
  } catch (error) {
    return { outcome: 'failed', error };
  }
  const still = kernel.loop.list().find((loop) => loop.path === path);
  return still && still.backingFile === bound.backingFile ? { outcome: 'in-use' } : { outcome: 'detached' };
}
