/**
 * Letting go of an image's loop device: the one place that does it, for every face and every
 * cause (a failed or refused run, an interruption, `-d`, an umount). Only a loop kpartx-tui
 * attached is ever detached (image-loop.ts), and only once nothing of ours still uses it.
 */
import { errorText } from '../errors.js';
import { releaseImageLoop } from '../image-loop.js';
import type { Machine } from '../machine.js';
import type { EmitWorkflowEvent, LoopReleaseCause } from './events.js';

export type LoopFate = 'released' | 'gone' | 'kept' | 'failed';

/**
 * Release `path` (bound to `file`) for `cause`; `users` are the maps still on it.
 *
 * - After a failure, a refusal, an interruption or a rollback it is the loop this run attached: kept
 *   while maps use it, else detached; one no longer bound is `gone` and nothing is said.
 * - For a delete it is the loop found bound to the image: detached if kpartx-tui attached it, even
 *   while something still uses it (the kernel then lets it go with its last user, as the C tool's
 *   `-d` does); `users` only name who keeps it.
 */
export function releaseLoop(
  machine: Pick<Machine, 'loop'>,
  loop: { path: string; file: string },
  users: readonly string[],
  cause: LoopReleaseCause,
  emit: EmitWorkflowEvent,
): LoopFate {
  const { path } = loop;
  if (cause !== 'delete') {
    if (!loopStillBound(machine, path, loop.file)) return 'gone';
    if (users.length > 0) {
      emit({ type: 'loop-kept', path, cause, why: 'in-use', users: [...users] });
      return 'kept';
    }
  }
  const released = releaseImageLoop(machine, path);
  switch (released.outcome) {
    case 'detached':
    case 'gone':
      emit({ type: 'loop-released', path, cause });
      return released.outcome === 'gone' ? 'gone' : 'released';
    case 'foreign':
      emit({ type: 'loop-kept', path, cause, why: 'foreign', users: [] });
      return 'kept';
    case 'in-use':
      emit({ type: 'loop-kept', path, cause, why: 'in-use', users: [...users] });
      return 'kept';
    case 'failed':
      emit({ type: 'loop-release-failed', path, cause, message: errorText(released.error) });
      return 'failed';
  }
}

/** Whether `path` is still bound to `file` (a rolled-back run may have let go of it). */
export const loopStillBound = (machine: Pick<Machine, 'loop'>, path: string, file: string): boolean =>
  machine.loop.list().some((entry) => entry.path === path && entry.backingFile === file);
