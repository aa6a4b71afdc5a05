/**
 * Partition maps without device-mapper: each partition becomes its own loop device over the
 * parent, with the partition's offset and size, the parent's logical sector size and the map's
 * read-only state. `/dev/mapper/<kernel name>` is a symlink to that loop, so the path is the one
 * the device-mapper backend would give: the name mangled as libdevmapper mangles it, which holds
 * no `/` (it becomes `\x2f`), so a link never lands outside /dev/mapper.
 *
 * Nothing is remembered outside the kernel. A loop is one of the parent's partition maps when
 *   - its backing file (sysfs `loop/backing_file`) is the parent device, and
 *   - its `lo_file_name` carries the marker `kpartx-tui:part<N>:<kernel name>` written at attach time.
 * Offset and size limit (sysfs) tell whether it still matches the partition table. The map's name
 * is the /dev/mapper symlink pointing at it, or the marker's copy when the link is gone.
 */

import { type DevNo, sameDevNo } from '../../io/devno.js';
import type {
  EmitEvent,
  ExistingMap,
  MapBackend,
  MapRequest,
  OpResult,
  ParentDevice,
  PlannedMap,
} from '../backend.js';
import { errorText } from '../errors.js';
import type { LoopDevice, Machine } from '../machine.js';
import { unmangleDmName } from '../names.js';
import { nextTurn } from '../scheduling.js';
import { lockedBackend, refusedRunEvent, stopEvent } from './locked.js';
import { UndoJournal } from './undo-journal.js';

const MARKER_PREFIX = 'kpartx-tui:part';
const LO_NAME_BYTES = 63;

export interface LoopBackendOptions {
  /** How long to wait for another run holding the parent's lock. */
  lockWaitMs?: number;
  /** Called after each partition loop is attached and linked (a seam for interruption tests). */
  afterAttach?: (map: PlannedMap, loop: LoopDevice) => void;
}

/** The marker stored in a partition loop's `lo_file_name`, cut to the 63 bytes the kernel keeps. */
export function loopMarker(number: number, name: string): string {
  const full = Buffer.from(`${MARKER_PREFIX}${number}:${name}`, 'utf8');
  return full
    .subarray(0, LO_NAME_BYTES)
    .toString('utf8')
    .replace(/\uFFFD$/, '');
}

/** Partition number and (possibly truncated) map name from a marker; undefined for other loops. */
export function parseLoopMarker(name: string | undefined): { number: number; name: string } | undefined {
  if (!name?.startsWith(MARKER_PREFIX)) return undefined;
  const match = /^(\d+):(.+)$/s.exec(name.slice(MARKER_PREFIX.length));
  return match ? { number: Number(match[1]), name: match[2]! } : undefined;
}

interface OwnedLoop {
  loop: LoopDevice;
  number: number;
  name: string;
  /** The /dev/mapper entry pointing at this loop, when there is one. */
  link?: string;
}

type LinkState =
  | { kind: 'absent' }
  | { kind: 'ours'; target: string }
  /** A symlink to a loop device that is no longer bound: left over, safe to replace. */
  | { kind: 'stale' }
  | { kind: 'foreign'; what: string };

export function createLoopBackend(machine: Machine, options: LoopBackendOptions = {}): MapBackend {
  const { nodes } = machine;
  const linkPath = (name: string): string => `${nodes.path}/${name}`;

  /** Loops whose backing file is the block device `devno` (partition loops over a parent). */
  const loopsOverDevice = (loops: LoopDevice[], devno: DevNo): LoopDevice[] =>
    loops.filter((loop) => {
      const backing = machine.deviceNumber(loop.backingFile);
      return backing !== undefined && sameDevNo(backing, devno);
    });

  /** Symlinks in the mapper directory by the absolute path they point to. */
  function linksByTarget(): Map<string, string[]> {
    const byTarget = new Map<string, string[]>();
    for (const entry of nodes.list()) {
      const state = nodes.entry(entry);
      // not a symlink (a real dm node, the control node): not ours
      if (state.kind !== 'symlink') continue;
      byTarget.set(state.target, [...(byTarget.get(state.target) ?? []), entry]);
    }
    return byTarget;
  }

  function linkState(name: string, loopPath: string | undefined): LinkState {
    const path = linkPath(name);
    const entry = nodes.entry(name);
    if (entry.kind === 'absent') return { kind: 'absent' };
    if (entry.kind !== 'symlink') return { kind: 'foreign', what: `${path} exists and is not a symlink` };
    const { target } = entry;
    if (loopPath && target === loopPath) return { kind: 'ours', target };
    if (/^\/dev\/loop\d+$/.test(target) && !machine.loop.scan().some((loop) => loop.path === target)) {
      return { kind: 'stale' };
    }
    return { kind: 'foreign', what: `${path} points to ${target}` };
  }

  function placeLink(name: string, loopPath: string): void {
    const state = linkState(name, loopPath);
    if (state.kind === 'ours') return;
    if (state.kind === 'foreign') throw new Error(state.what);
    if (state.kind === 'stale') nodes.unlink(name);
    nodes.link(name, loopPath);
  }

  /** Remove the link only if it still points at this loop. */
  function dropLink(name: string, loopPath: string): void {
    if (linkState(name, loopPath).kind === 'ours') nodes.unlink(name);
  }

  function ownedLoops(parent: ParentDevice): OwnedLoop[] {
    const links = linksByTarget();
    const owned: OwnedLoop[] = [];
    for (const loop of loopsOverDevice(machine.loop.list(), parent.devno)) {
      const marker = parseLoopMarker(loop.name);
      if (!marker) continue;
      // Any link to one of our loops is ours; prefer the one the marker names (it may be cut short).
      const linked = links.get(loop.path) ?? [];
      const link = linked.find((entry) => entry.startsWith(marker.name)) ?? linked[0];
      owned.push({ loop, number: marker.number, name: link ?? marker.name, ...(link ? { link } : {}) });
    }
    return owned.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Who keeps a partition loop busy: mountpoints, stacked devices, loops on top, exclusive openers. */
  function holdersOf(loop: LoopDevice, allLoops: LoopDevice[]): string[] {
    const found = machine.mounts
      .list()
      .filter((entry) => sameDevNo(entry.devno, loop.devno))
      .map((entry) => entry.target);
    found.push(...machine.holders(loop.devno).map((holder) => `/dev/${holder.kernelName}`));
    found.push(...loopsOverDevice(allLoops, loop.devno).map((other) => other.path));
    if (found.length === 0 && machine.heldExclusively(loop.path)) found.push('an exclusive opener');
    return found;
  }

  function matches(existing: OwnedLoop, map: PlannedMap, readOnly: boolean): boolean {
    return (
      existing.loop.offset === map.start * 512 &&
      existing.loop.sizeLimit === map.size * 512 &&
      existing.loop.readOnly === readOnly
    );
  }

  function detachOwned(owned: OwnedLoop): void {
    machine.loop.detach(owned.loop.path);
    dropLink(owned.name, owned.loop.path);
  }

  /** Checks that need no kernel change; any problem refuses the whole run before a single attach. */
  function preflight(request: MapRequest, owned: Map<number, OwnedLoop>, emit: EmitEvent): number {
    let failures = 0;
    const { parent } = request;
    for (const map of request.maps) {
      if (map.start < 0 || map.size <= 0 || map.start + map.size > parent.sizeSectors) {
        emit({
          type: 'refused',
          name: map.name,
          message: `${map.name}: partition ${map.number} (sectors ${map.start}-${map.start + map.size - 1}) does not fit on ${parent.path} (${parent.sizeSectors} sectors)`,
        });
        failures++;
        continue;
      }
      const mine = owned.get(map.number);
      const state = linkState(map.kernelName, mine?.loop.path);
      if (state.kind === 'foreign') {
        emit({ type: 'conflict', name: map.dmName, reason: 'not-kpartx' });
        emit({ type: 'refused', name: map.name, message: `${map.name}: ${state.what}; not touching it` });
        failures++;
      }
    }
    return failures;
  }

  async function addLocked(request: MapRequest, emit: EmitEvent): Promise<OpResult> {
    const { parent } = request;
    const owned = new Map(ownedLoops(parent).map((entry) => [entry.number, entry]));
    const refused = preflight(request, owned, emit);
    if (refused > 0) {
      emit(refusedRunEvent(parent, refused));
      return { failures: refused };
    }

    // Everything this run changed, newest last, so a failure can put the previous state back.
    const journal = new UndoJournal();
    let current: PlannedMap | undefined;
    try {
      // A read-only parent only gives read-only partitions, however it became read-only (a
      // read-only loop, BLKROSET): BLKROGET tells both, sysfs `ro` not on every kernel.
      const parentReadOnly = machine.blockDevice(parent.path).readOnly;
      for (const map of request.maps) {
        current = map;
        request.interrupted?.throwIfAborted();
        const readOnly = request.readOnly || map.readOnly || parentReadOnly;
        const existing = owned.get(map.number);
        const path = linkPath(map.kernelName);
        if (existing && matches(existing, map, readOnly)) {
          if (existing.name !== map.kernelName) {
            placeLink(map.kernelName, existing.loop.path);
            dropLink(existing.name, existing.loop.path);
            journal.record({
              name: map.name,
              announce: true,
              takeBack: () => {
                placeLink(existing.name, existing.loop.path);
                dropLink(map.kernelName, existing.loop.path);
              },
            });
            emit({ type: 'renamed', from: unmangleDmName(existing.name), to: map.dmName, uuid: map.uuid });
          } else {
            placeLink(map.kernelName, existing.loop.path);
          }
          emit({ type: 'reloaded', map, devno: existing.loop.devno, path, parentDevno: parent.devno });
          await nextTurn();
          continue;
        }
        if (existing) {
          // A loop's window and read-only state are fixed at attach: replace it, if nobody uses it.
          const busy = holdersOf(existing.loop, machine.loop.list());
          if (busy.length > 0) {
            emit({ type: 'busy', name: unmangleDmName(existing.name), holders: busy });
            throw new Error(`${existing.name} is in use by ${busy.join(', ')}; cannot change it`);
          }
          detachOwned(existing);
          const previous = existing.loop;
          journal.record({
            name: existing.name,
            announce: true,
            takeBack: () => {
              const back = machine.loop.attach(parent.path, {
                readOnly: previous.readOnly,
                offset: previous.offset,
                sizeLimit: previous.sizeLimit,
                blockSize: previous.logicalSectorSize,
                name: loopMarker(existing.number, existing.name),
              });
              placeLink(existing.name, back.path);
            },
          });
        }
        const loop = machine.loop.attach(parent.path, {
          readOnly,
          offset: map.start * 512,
          sizeLimit: map.size * 512,
          blockSize: parent.logicalSectorSize,
          name: loopMarker(map.number, map.kernelName),
        });
        journal.record({ name: map.name, announce: true, takeBack: () => machine.loop.detach(loop.path) });
        placeLink(map.kernelName, loop.path);
        journal.record({
          name: map.name,
          announce: false,
          takeBack: () => dropLink(map.kernelName, loop.path),
        });
        emit({
          type: existing ? 'reloaded' : 'created',
          map,
          devno: loop.devno,
          path,
          parentDevno: parent.devno,
        });
        options.afterAttach?.(map, loop);
        await nextTurn();
      }
      return { failures: 0 };
    } catch (error) {
      emit(stopEvent(error, request, current?.name ?? parent.path, 'create'));
      return { failures: 1 + (await journal.rollBack(emit)) };
    }
  }

  async function removeStale(request: MapRequest, emit: EmitEvent): Promise<OpResult> {
    const wanted = new Set(request.maps.map((map) => map.number));
    return removeAll(
      ownedLoops(request.parent).filter((owned) => !wanted.has(owned.number)),
      emit,
    );
  }

  async function removeAll(loops: OwnedLoop[], emit: EmitEvent): Promise<OpResult> {
    let failures = 0;
    const all = machine.loop.list();
    for (const owned of loops) {
      failures += removeOne(owned, all, emit);
      await nextTurn();
    }
    return { failures };
  }

  function removeOne(owned: OwnedLoop, all: LoopDevice[], emit: EmitEvent): number {
    // Messages name a map as device-mapper tools show it (unmangled), the path as it is.
    const shown = unmangleDmName(owned.name);
    const busy = holdersOf(owned.loop, all);
    if (busy.length > 0) {
      emit({ type: 'busy', name: shown, holders: busy });
      return 1;
    }
    try {
      detachOwned(owned);
      emit({ type: 'removed', name: shown, path: linkPath(owned.name) });
      return 0;
    } catch (error) {
      emit({ type: 'failed', name: shown, op: 'remove', message: errorText(error) });
      return 1;
    }
  }

  return lockedBackend(
    {
      kind: 'loop',
      add: addLocked,
      removeStale,
      remove: (request, emit) =>
        removeAll(
          ownedLoops(request.parent).filter((owned) => !request.only || request.only.has(owned.number)),
          emit,
        ),
      existing: (parent) => {
        const all = machine.loop.list();
        return ownedLoops(parent).map(
          (owned): ExistingMap => ({
            name: owned.name,
            number: owned.number,
            // The /dev/mapper link when it exists, else the loop device itself.
            path: owned.link ? linkPath(owned.link) : owned.loop.path,
            devno: owned.loop.devno,
            start: owned.loop.offset / 512,
            size: owned.loop.sizeLimit / 512,
            readOnly: owned.loop.readOnly,
            openCount: holdersOf(owned.loop, all).length,
          }),
        );
      },
    },
    machine.locks,
    options.lockWaitMs,
  );
}
