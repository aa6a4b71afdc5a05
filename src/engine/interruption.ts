/**
 * What an interrupted operation takes back, and what it says it did. An add stops before its next
 * map and everything it made goes again (its maps, the image loop it attached); a removal runs to
 * its end and says what it removed and what it kept. Messages are read from the kernel's state
 * afterwards, so they are true even when a step of the take-back failed.
 */

import type { EmitEvent, MapBackend, MapRequest, OpResult } from './backend.js';
import { errorText } from './errors.js';
import type { Machine } from './machine.js';
import { deferSignals } from './signals.js';

/** Partition numbers of the parent's maps now: taken before an add, to know what it made. */
export function mappedNumbers(backend: MapBackend, request: MapRequest): Set<number> {
  return new Set(
    backend
      .existing(request.parent)
      .map((map) => map.number)
      .filter((number) => number !== null),
  );
}

/**
 * Take back what an interrupted add left behind. An add that noticed the interruption stopped and
 * rolled back by itself: nothing is left then. One that had already finished is undone by updating
 * to the maps that existed before (so the parent's other stale maps, if any, go too, as after -u).
 */
export async function takeBackAdd(
  backend: MapBackend,
  request: MapRequest,
  before: ReadonlySet<number>,
  emit: EmitEvent,
): Promise<void> {
  if (madeSince(backend, request, before).length === 0) return;
  await backend.update({ ...request, maps: request.maps.filter((map) => before.has(map.number)) }, emit);
}

/** Names of the parent's maps that were not there before the add. */
function madeSince(backend: MapBackend, request: MapRequest, before: ReadonlySet<number>): string[] {
  return backend
    .existing(request.parent)
    .filter((map) => map.number === null || !before.has(map.number))
    .map((map) => map.name);
}

/** What an add run did so far, as far as an interruption has to take it back. */
export interface AddLedger {
  backend?: MapBackend;
  request?: MapRequest;
  /** Partition numbers mapped before the add (what an interrupted add must leave). */
  before?: ReadonlySet<number>;
  /** The image's loop device, when this run attached it, and the kernel's loop interface. */
  attachedLoop?: { path: string; file: string; loops: Machine['loop'] };
}

/** Map names in partition order: `loop0p2` before `loop0p10`. */
function byPartition(a: string, b: string): number {
  const split = (name: string) => /^(.*?)(\d*)$/.exec(name)!;
  const [, stemA, numberA] = split(a);
  const [, stemB, numberB] = split(b);
  if (stemA !== stemB) return stemA! < stemB! ? -1 : 1;
  return Number(numberA) - Number(numberB);
}

/** `loop0p1, loop0p2` or, for many, `loop0p1 … loop0p128`: a line, not a screenful. */
export function nameList(names: readonly string[]): string {
  const sorted = [...names].sort(byPartition);
  if (sorted.length <= 4) return sorted.join(', ');
  return `${sorted[0]} … ${sorted.at(-1)}`;
}

/**
 * After an interrupted add: take back the maps it made (takeBackAdd), let go of the image loop it
 * attached once no map uses it, and say, from the kernel's state afterwards, what is left. The loop
 * is looked up first: a backend that rolled back by itself has already released it.
 */
export async function undoInterruptedAdd(ledger: AddLedger, emit: EmitEvent): Promise<string> {
  const { backend, request, before, attachedLoop } = ledger;
  let left: string[] = [];
  if (backend && request && before) {
    await takeBackAdd(backend, request, before, emit);
    left = madeSince(backend, request, before);
  }
  if (attachedLoop) {
    const { path, file, loops } = attachedLoop;
    const bound = () => loops.list().some((loop) => loop.path === path && loop.backingFile === file);
    const unused = !backend || !request || backend.existing(request.parent).length === 0;
    if (bound() && unused) {
      try {
        loops.detach(path);
        emit({ type: 'loop-detached', path });
      } catch (error) {
        emit({ type: 'failed', name: path, op: 'remove', message: errorText(error) });
      }
    }
    if (bound()) left.push(path);
  }
  if (left.length === 0) return 'the add was rolled back: nothing it made is left';
  const what = left.length > 4 ? `${left.length} devices (${nameList(left)})` : nameList(left);
  return `the add was rolled back, but ${what} ${left.length === 1 ? 'is' : 'are'} still there`;
}

/** What a removal that ran to its end did: the interrupted `-d` says it instead of "undone". */
export function removalOutcome(removed: readonly string[], kept: readonly string[]): string {
  const maps = (n: number) => `${n} map${n === 1 ? '' : 's'}`;
  const gone =
    removed.length > 0 ? `removed ${maps(removed.length)} (${nameList(removed)})` : 'removed no map';
  const stay = kept.length > 0 ? `kept ${maps(kept.length)} (${nameList(kept)})` : 'kept none';
  return `the delete ran to its end first: ${gone}, ${stay}`;
}

/** Add maps; if interrupted, stop and take back what this run made. */
export function guardedAdd(backend: MapBackend, request: MapRequest, emit: EmitEvent): Promise<OpResult> {
  const before = mappedNumbers(backend, request);
  return deferSignals(
    (interrupted) => backend.add({ ...request, interrupted }, emit),
    () => undoInterruptedAdd({ backend, request, before }, emit),
  );
}
