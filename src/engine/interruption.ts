/**
 * What an interrupted operation takes back, and what it says it did. An add stops before its next
 * map and everything it made goes again (its maps, the image loop it attached); a removal runs to
 * its end and says what it removed and what it kept. Messages are read from the kernel's state
 * afterwards, so they are true even when a step of the take-back failed.
 */

import type { EmitEvent, MapBackend, MapRequest } from './backend.js';

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
export function madeSince(backend: MapBackend, request: MapRequest, before: ReadonlySet<number>): string[] {
  return backend
    .existing(request.parent)
    .filter((map) => map.number === null || !before.has(map.number))
    .map((map) => map.name);
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

/** What a taken-back add says, given what is still there (maps, the image's loop). */
export function rollbackOutcome(left: readonly string[]): string {
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
