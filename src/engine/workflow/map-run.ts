/**
 * One attach/detach workflow for every face (the kpartx CLI, the app, `kpartx-tui mount`):
 *
 *   operand → resolve (attach the image's loop if needed, under the image lock) → read the table →
 *   plan → backend add/update/remove (each under the parent's lock) → on a failure or a signal,
 *   take back what this run made → release the loop this run attached.
 *
 * A MapRun keeps the journal of one run (the source, the loop it attached, the maps there before,
 * what it removed) and offers the steps; `runMaps` strings them together for `-a`/`-u`/`-d`
 * with the signals held (signals.ts): an interrupted add is taken back, `-u` and `-d` run to their
 * end, and the InterruptedError says what happened. Read-only and the delimiter are decided once
 * here and carried on the request and the plan.
 */

import type { BackendKind, EmitEvent, MapBackend, MapRequest, PlannedMap } from '../backend.js';
import { madeSince, mappedNumbers, removalOutcome, rollbackOutcome, takeBackAdd } from '../interruption.js';
import type { Machine } from '../machine.js';
import { resolveDelimiter } from '../names.js';
import type { PartitionTable } from '../partition.js';
import { invalidContainerWarnings, PlanError, planMaps } from '../plan.js';
import { deferSignals } from '../signals.js';
import { openSourceDisk, type ResolvedSource, resolveSource } from '../source.js';
import { containerNote } from '../stack/cli-note.js';
import { readPartitionTable } from '../tables/index.js';
import {
  attachContainer,
  type HeldConnection,
  type NbdFate,
  nbdContainerOf,
  ourConnection,
  releaseContainer,
  stillConnected,
} from './container-attach.js';
import type { EmitWorkflowEvent, LoopReleaseCause } from './events.js';
import { type LoopFate, loopStillBound, releaseLoop } from './release-loop.js';
import { removeStacked, stackedOver } from './stack-remove.js';

export type MapAction = 'add' | 'update' | 'delete';

export interface MapRunRequest {
  operand: string;
  /** `list` only resolves (predicting an image's loop) and reads: it changes nothing. */
  action: MapAction | 'list';
  /** `-r`: maps (and a loop attached for an image) read-only. */
  readOnly: boolean;
  /** `-p`; undefined means the digit rule. Resolved once, against the parent's map name. */
  delimiter?: string;
  forceGpt?: boolean;
  /** `-t`: only this table reader. */
  only?: string;
  /** `-s` (default) or `-n`. */
  sync: boolean;
  /** `-f` (for `-d`). */
  force?: boolean;
  backend: BackendKind;
  /**
   * Let go of the loop this run attached when it maps nothing (no partition table): the app and
   * the mount face do; `kpartx -a` keeps it, as the C tool does.
   */
  releaseIdleLoop?: boolean;
  /** A VM disk container is connected through qemu-nbd read-only unless this is true (and not `-r`). */
  containerWritable?: boolean;
}

export interface MapRunDeps {
  machine: Machine;
  makeBackend(kind: BackendKind, machine: Machine): MapBackend | Promise<MapBackend>;
}

export interface MapRunOutcome {
  /** `nothing-bound`: `-d` on an image no loop is bound to; `no-table`: nothing to map. */
  status: 'done' | 'nothing-bound' | 'no-table' | 'refused';
  /** Counted failures: the C tool's exit status. */
  failures: number;
}

/** Exit statuses are counts of failures; keep a failure from wrapping to 0. */
export const statusOf = (failures: number): number => (failures <= 0 ? 0 : Math.min(failures, 255));

export class MapRun {
  source: ResolvedSource | undefined;
  backend: MapBackend | undefined;
  /** The request as last handed to the backend (its maps are the whole plan). */
  request: MapRequest | undefined;
  /** Partition numbers mapped before this run's add: what taking it back must leave. */
  before: ReadonlySet<number> | undefined;
  /** Read-only as decided for this run: `-r`, a read-only loop, or a read-only parent device. */
  readOnly = false;
  /** The delimiter as decided for this run (`p` after a digit unless `-p` said otherwise). */
  delimiter = '';
  /** Maps `-d` removed so far, and those it kept (busy, not ours). */
  readonly removed: string[] = [];
  readonly kept: string[] = [];
  /** LUKS mappings of ours `-d` closed (their names are among `removed` too). */
  readonly luksClosed: string[] = [];
  /** Maps this run created (not those it found and reloaded). */
  readonly created: { map: PlannedMap; path: string }[] = [];
  /** How the loop this run attached ended, once it was let go of (or kept). */
  loopFate: LoopFate | undefined;
  /** The qemu-nbd connection a container is mapped through (container-attach.ts), and how it ended. */
  nbd: HeldConnection | undefined;
  nbdFate: NbdFate | undefined;

  constructor(
    readonly request0: MapRunRequest,
    readonly deps: MapRunDeps,
    private readonly emit: EmitWorkflowEvent,
  ) {}

  /** The image's loop, when this run attached it. */
  get attachedLoop(): { path: string; file: string } | undefined {
    const source = this.source;
    if (source?.loop?.state !== 'attached' || !source.parent.image) return undefined;
    return { path: source.loop.path, file: source.parent.image.file };
  }

  /** Operand to parent device; an image gets its loop (found, or attached now). */
  async resolve(): Promise<ResolvedSource | undefined> {
    const { operand, action, readOnly } = this.request0;
    // A VM disk container is mapped through its qemu-nbd device, not its file's bytes.
    const container = action === 'list' ? null : nbdContainerOf(this.deps.machine, operand);
    let target = operand;
    if (container) {
      const held =
        action === 'delete'
          ? heldFound(ourConnection(this.deps.machine, container.file), container.file)
          : await attachContainer(
              this.deps.machine,
              operand,
              container,
              readOnly || !this.request0.containerWritable,
            );
      if (!held) return undefined;
      this.nbd = held;
      target = held.path;
      if (held.state === 'attached') {
        const { readOnly: ro } = this.deps.machine.blockDevice(held.path);
        this.emit({
          type: 'nbd-attached',
          path: held.path,
          file: held.file,
          format: container.qemuFormat,
          readOnly: ro,
        });
      }
    }
    let resolved: Awaited<ReturnType<typeof resolveSource>>;
    try {
      resolved = await resolveSource(target, action, { readOnly }, this.deps.machine);
    } catch (error) {
      await this.releaseAttachedNbd('failure');
      throw error;
    }
    if ('nothing' in resolved) return undefined;
    const source = container ? { ...resolved, operand } : resolved;
    this.source = source;
    this.delimiter = resolveDelimiter(source.parent.mapName, this.request0.delimiter);
    this.readOnly = source.readOnly;
    this.emit({ type: 'resolved', source });
    const attached = this.attachedLoop;
    if (attached) this.emit({ type: 'loop-attached', ...attached, readOnly: source.readOnly });
    return source;
  }

  /** The partition table, reader warnings emitted as they come; null when there is none. */
  readTable(): PartitionTable | null {
    const source = this.required();
    const disk = openSourceDisk(source, this.deps.machine);
    try {
      const table = readPartitionTable(disk, {
        ...(this.request0.only !== undefined ? { only: this.request0.only } : {}),
        forceGpt: this.request0.forceGpt ?? false,
        warn: (text) => this.emit({ type: 'warning', text }),
      });
      // The table is the file's own bytes, as the C tool reads them; a VM disk container (whose
      // bytes are not its disk) gets one note naming it and the next step.
      const image = source.parent.image;
      const note = image ? containerNote(disk, source.operand, image.file) : null;
      if (note) this.emit({ type: 'warning', text: note });
      return table;
    } finally {
      disk.close();
    }
  }

  /**
   * Every map for `table`, read-only when the run is or the parent device is (asked once, here).
   * A refused plan is emitted and yields undefined; the caller takes the run back.
   */
  async plan(table: PartitionTable): Promise<PlannedMap[] | undefined> {
    const source = this.required();
    if (!this.readOnly && source.loop?.state !== 'predicted') {
      try {
        this.readOnly = this.deps.machine.blockDevice(source.parent.path).readOnly;
      } catch {
        // The backend asks again and says why it cannot open the parent.
      }
    }
    try {
      const maps = planMaps(table, source.parent, { delimiter: this.delimiter, readOnly: this.readOnly });
      for (const text of invalidContainerWarnings(table)) this.emit({ type: 'warning', text });
      return maps;
    } catch (error) {
      if (!(error instanceof PlanError)) throw error;
      this.emit({
        type: 'plan-refused',
        parent: source.parent.path,
        problems: error.problems,
        summary: error.summary,
      });
      return undefined;
    }
  }

  async makeBackend(): Promise<MapBackend> {
    this.backend ??= await this.deps.makeBackend(this.request0.backend, this.deps.machine);
    return this.backend;
  }

  /**
   * Add (or, for `-u`, update) `maps`; `all` is the whole plan, what an interrupted add is taken
   * back against. A failed run has been rolled back by the backend: the loop this run attached goes
   * too. Only an add stops early when interrupted; an update runs to its end.
   */
  async apply(maps: PlannedMap[], interrupted?: AbortSignal, all: PlannedMap[] = maps): Promise<number> {
    const source = this.required();
    const backend = await this.makeBackend();
    const request: MapRequest = {
      parent: source.parent,
      maps: all,
      readOnly: this.readOnly,
      sync: this.request0.sync,
    };
    this.request = request;
    const emit: EmitEvent = (event) => {
      if (event.type === 'created') this.created.push({ map: event.map, path: event.path });
      this.emit(event);
    };
    let failures: number;
    if (this.request0.action === 'update') {
      failures = (await backend.update({ ...request, maps }, emit)).failures;
    } else {
      this.before = mappedNumbers(backend, request);
      const add = { ...request, maps, ...(interrupted ? { interrupted } : {}) };
      failures = (await backend.add(add, emit)).failures;
    }
    if (failures > 0) failures += await this.releaseAttachedLoop('failure');
    return failures;
  }

  /**
   * `-d`: remove the parent's maps (or only `numbers`), then let go of the image's loop if ours
   * (unless `releaseLoop` is false: an umount releases only a loop its mount attached).
   */
  async remove(numbers?: ReadonlySet<number>, releaseFoundLoop = true): Promise<number> {
    const source = this.required();
    const backend = await this.makeBackend();
    const emit: EmitEvent = (event) => {
      if (event.type === 'busy' || event.type === 'not-removed' || event.type === 'failed')
        this.kept.push(event.name);
      if (event.type === 'removed') this.removed.push(event.name);
      this.emit(event);
    };
    // What kpartx-tui stacked on these partition maps (LV maps, LUKS mappings) goes first (a whole -d only).
    let stackedFailures = 0;
    if (!numbers) {
      const { machine } = this.deps;
      const stacked = stackedOver(machine, source.parent.devno, backend.existing(source.parent));
      const done = await removeStacked(machine, stacked, this.request0.sync, emit);
      stackedFailures = done.failures;
      this.luksClosed.push(...done.closed);
    }
    const result = await backend.remove(
      {
        parent: source.parent,
        force: this.request0.force ?? false,
        sync: this.request0.sync,
        ...(numbers ? { only: numbers } : {}),
      },
      emit,
    );
    let failures = result.failures + stackedFailures;
    const image = source.parent.image;
    // Like the C tool, `-d IMAGE` also lets go of the image's loop, but only one kpartx attached.
    if (releaseFoundLoop && source.loop?.state === 'found' && image) {
      // Who keeps it: the maps this removal left (all of them, when only some were to go).
      const users = numbers ? backend.existing(source.parent).map((map) => map.name) : this.kept;
      const fate = releaseLoop(
        this.deps.machine,
        { path: source.loop.path, file: image.file },
        users,
        'delete',
        this.emit,
      );
      if (fate === 'failed') failures = failures || 1;
      this.loopFate = fate;
    }
    // A container's qemu-nbd connection goes once none of its maps is left.
    if ((await this.releaseAttachedNbd('delete')) > 0) failures = failures || 1;
    return failures;
  }

  /** Let go of the loop this run attached, once no map uses it; 1 when that failed (a counted failure). */
  async releaseAttachedLoop(cause: LoopReleaseCause): Promise<number> {
    const nbd = await this.releaseAttachedNbd(cause);
    const loop = this.attachedLoop;
    if (!loop || this.loopFate === 'released' || this.loopFate === 'gone') return nbd;
    const { backend, source } = this;
    const users = backend && source ? backend.existing(source.parent).map((map) => map.name) : [];
    this.loopFate = releaseLoop(this.deps.machine, loop, users, cause, this.emit);
    return nbd + (this.loopFate === 'failed' ? 1 : 0);
  }

  /**
   * Disconnect the qemu-nbd device this run connected (or, for a delete, the one it found), once
   * no map uses it; 1 when that failed.
   */
  async releaseAttachedNbd(cause: LoopReleaseCause): Promise<number> {
    const held = this.nbd;
    if (!held || (held.state !== 'attached' && cause !== 'delete')) return 0;
    if (this.nbdFate === 'released' || this.nbdFate === 'gone') return 0;
    const { backend, source } = this;
    const users = backend && source ? backend.existing(source.parent).map((map) => map.name) : [];
    this.nbdFate = await releaseContainer(this.deps.machine, held, users, cause, this.emit);
    return this.nbdFate === 'failed' ? 1 : 0;
  }

  /** Let go of a loop an earlier run (a mount) attached, once no map of it is left. */
  async releaseLoopOf(loop: { path: string; file: string }): Promise<LoopFate> {
    const { backend, source } = this;
    const users = backend && source ? backend.existing(source.parent).map((map) => map.name) : [];
    this.loopFate = releaseLoop(this.deps.machine, loop, users, 'umount', this.emit);
    return this.loopFate;
  }

  /**
   * Take back everything this add made (its maps, then the loop it attached) and say, from the
   * kernel's state afterwards, what is left.
   */
  async takeBack(cause: LoopReleaseCause = 'interruption'): Promise<string> {
    const { backend, request, before } = this;
    let left: string[] = [];
    if (backend && request && before) {
      await takeBackAdd(backend, request, before, this.emit);
      left = madeSince(backend, request, before);
    }
    const loop = this.attachedLoop;
    if (loop) {
      await this.releaseAttachedLoop(cause);
      if (loopStillBound(this.deps.machine, loop.path, loop.file)) left.push(loop.path);
    }
    if (this.nbd?.state === 'attached') {
      await this.releaseAttachedNbd(cause);
      if (stillConnected(this.deps.machine, this.nbd)) left.push(this.nbd.path);
    }
    return rollbackOutcome(left);
  }

  /** After an interrupted `-d`: what it removed and kept, and the image loop's state. */
  async removalSummary(): Promise<string> {
    const source = this.source;
    if (!source) return 'nothing had been changed';
    const kept = this.backend ? this.backend.existing(source.parent).map((map) => map.name) : [];
    const image = source.parent.image;
    let loop = '';
    if (source.loop?.state === 'found' && image) {
      const bound = loopStillBound(this.deps.machine, source.loop.path, image.file);
      loop = bound ? `; ${source.loop.path} is still attached` : `; ${source.loop.path} released`;
    }
    return `${removalOutcome(this.removed, kept)}${loop}`;
  }

  private required(): ResolvedSource {
    if (!this.source) throw new Error('the source has not been resolved');
    return this.source;
  }
}

/**
 * `-a`, `-u` or `-d` from start to end, with the signals held from the first step (the loop
 * attach included). Throws SourceError for an operand that cannot be used, InterruptedError
 * (saying what was taken back or done) after a signal.
 */
export async function runMaps(
  request: MapRunRequest & { action: MapAction },
  deps: MapRunDeps,
  emit: EmitWorkflowEvent,
): Promise<MapRunOutcome> {
  const run = new MapRun(request, deps, emit);
  return deferSignals(
    (interrupted) => runSteps(run, interrupted),
    (_result, signal) => {
      emit({ type: 'interrupted', signal });
      if (!run.source) return 'nothing had been changed';
      if (request.action === 'update') return 'the update ran to its end first';
      if (request.action === 'delete') return run.removalSummary();
      return run.takeBack('interruption');
    },
  );
}

async function runSteps(run: MapRun, interrupted: AbortSignal): Promise<MapRunOutcome> {
  const source = await run.resolve();
  if (!source) return { status: 'nothing-bound', failures: 0 };
  if (run.request0.action === 'delete') return { status: 'done', failures: await run.remove() };
  const table = run.readTable();
  if (!table) {
    if (run.request0.releaseIdleLoop) await run.releaseAttachedLoop('rollback');
    // A container's connection with nothing to map is of no use to anyone.
    else await run.releaseAttachedNbd('rollback');
    return { status: 'no-table', failures: 0 };
  }
  const maps = await run.plan(table);
  if (!maps) {
    // A refused plan changed nothing: the loop attached for it goes again.
    await run.releaseAttachedLoop('refusal');
    return { status: 'refused', failures: 1 };
  }
  return { status: 'done', failures: await run.apply(maps, interrupted) };
}

/** A connection found for `-d`: ours from an earlier run. */
const heldFound = (found: { path: string } | undefined, file: string): HeldConnection | undefined =>
  found ? { path: found.path, file, state: 'found' } : undefined;
