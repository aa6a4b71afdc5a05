/**
 * What the map-run workflow says while it works: the backends' MapEvents, plus the steps around
 * them (the image's loop attached, released or kept, a plan refused, reader warnings). Each face
 * turns them into its own output: the kpartx CLI into the C tool's lines, the app into progress
 * rows, the mount face into one line or a JSON object.
 */
import type { MapEvent } from '../backend.js';
import type { CriticalSignal } from '../signals.js';
import type { ResolvedSource } from '../source.js';

/** Why the workflow lets go of an image's loop. */
export type LoopReleaseCause =
  /** The backend failed and rolled back: the loop this run attached goes too. */
  | 'failure'
  /** The planner refused the run before anything was mapped. */
  | 'refusal'
  /** A signal came: the run is taken back. */
  | 'interruption'
  /** `-d IMAGE` (or an umount): the image's loop goes with its last map. */
  | 'delete'
  /** `kpartx-tui umount` releases the loop its mount attached. */
  | 'umount'
  /** The mount face rolls back (no table, nothing mountable, the mount failed). */
  | 'rollback';

export type WorkflowEvent =
  | MapEvent
  /** The operand is a device now (for an image, through its loop): later events are about it. */
  | { type: 'resolved'; source: ResolvedSource }
  | { type: 'loop-attached'; path: string; file: string; readOnly: boolean }
  | { type: 'loop-released'; path: string; cause: LoopReleaseCause }
  | {
      type: 'loop-kept';
      path: string;
      cause: LoopReleaseCause;
      /** `foreign`: not attached by kpartx-tui; `in-use`: maps (named in `users`) or mounts still use it. */
      why: 'foreign' | 'in-use';
      users: string[];
    }
  | { type: 'loop-release-failed'; path: string; cause: LoopReleaseCause; message: string }
  /** A VM disk container connected through qemu-nbd (container-attach.ts); later maps are on `path`. */
  | { type: 'nbd-attached'; path: string; file: string; format: string; readOnly: boolean }
  | { type: 'nbd-released'; path: string; cause: LoopReleaseCause }
  | { type: 'nbd-kept'; path: string; cause: LoopReleaseCause; users: string[] }
  | { type: 'nbd-release-failed'; path: string; cause: LoopReleaseCause; message: string }
  /** A signal came: what follows takes the run back (an add) or reports it (a delete). */
  | { type: 'interrupted'; signal: CriticalSignal }
  | { type: 'plan-refused'; parent: string; problems: string[]; summary: string }
  /** A table reader's warning or the C tool's `Invalid slice` line: printed as it is. */
  | { type: 'warning'; text: string };

export type EmitWorkflowEvent = (event: WorkflowEvent) => void;
