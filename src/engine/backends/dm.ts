/**
 * Partition maps as device-mapper linear targets, with the C kpartx's names, UUIDs and ownership
 * rules, so maps made by either tool are found, updated and removed by the other:
 *
 *   a map belongs to a parent when its UUID is `part<N>-<parent uuid>` and its single linear
 *   target sits on exactly the parent's device number.
 *
 * Where the C tool loses or damages something this backend does not follow it:
 *   - device numbers are compared exactly (`7:1` is not `7:10`), also for `-d -f`;
 *   - a same-named map without a kpartx UUID is never taken over by -a/-u nor removed by -u: it is
 *     reported as a conflict;
 *   - -d reports a busy map with what holds it and goes on with the others;
 *   - logical (contained) partitions are reported and counted like the others;
 *   - -a/-u are all-or-nothing: conflicts are found before anything changes, and a failure undoes
 *     what the run did (new maps removed, renames and reloads reverted, a loop it attached released).
 */
import { type DevNo, formatDevNo, sameDevNo } from '../../io/devno.js';
import { KernelError } from '../../io/kernel-error.js';
import type {
  EmitEvent,
  ExistingMap,
  MapBackend,
  MapEvent,
  MapRequest,
  OpResult,
  ParentDevice,
  PlannedMap,
  RemoveRequest,
} from '../backend.js';
import { errorText } from '../errors.js';
import { loopsOver } from '../holders.js';
import type { DmApi, DmMapInfo, DmTarget, Machine } from '../machine.js';
import { kernelDmName, nonDmUuid, partitionNumberOf, unmangleDmName } from '../names.js';
import { nextTurn, runOrdered } from '../scheduling.js';
import { lockedBackend, refusedRunEvent, stopEvent } from './locked.js';
import { UndoJournal } from './undo-journal.js';

export interface DmBackendOptions {
  /** How long to wait for another run holding the parent's lock. */
  lockWaitMs?: number;
  /** Called after each map is made (a seam for failure-injection tests). */
  afterMap?: (map: PlannedMap) => void;
}

/**
 * Removals in flight at once. Each waits in the kernel for an RCU grace period (some 40 ms under
 * emulation); side by side they share them: 128 maps went from 5 s to under 0.4 s in the guest.
 */
export const REMOVE_CONCURRENCY = 16;

/** The linear target of a single-target table, or undefined. */
export function singleLinear(table: readonly DmTarget[]): { device: string; offset: number } | undefined {
  if (table.length !== 1 || table[0]!.type !== 'linear') return undefined;
  const [device, offset] = table[0]!.params.trim().split(/\s+/);
  if (!device || offset === undefined || !/^\d+$/.test(offset)) return undefined;
  return { device, offset: Number(offset) };
}

/** Whether a table is one linear target on exactly `devno` (never a substring match). */
export function isLinearOn(table: readonly DmTarget[], devno: DevNo): boolean {
  return singleLinear(table)?.device === formatDevNo(devno);
}

/** Why an existing map with a planned map's name is not ours to reload. */
export function conflictReason(uuid: string, parentUuid: string): 'not-kpartx' | 'other-device' | null {
  if (!uuid) return 'not-kpartx';
  if (partitionNumberOf(uuid, parentUuid) !== null) return null;
  return /^part\d*-/.test(uuid) ? 'other-device' : 'not-kpartx';
}

type Step =
  | { kind: 'create'; map: PlannedMap }
  | { kind: 'reload'; map: PlannedMap; current: DmMapInfo; renameFrom?: string };

interface Owned {
  /** The kernel's name (mangled, as under /dev/mapper). */
  name: string;
  number: number;
  info: { name: string; devno: DevNo; uuid: string };
  /** Empty for a map without a live table. */
  table: DmTarget[];
}

/**
 * A map without a live table (none loaded, or only an inactive one): what a run killed between
 * creating a map and resuming it leaves. No table names a device, so such a map is the parent's
 * when its UUID is `part<N>-<parent uuid>`; nothing can use it, and -d and -u take it away.
 */
export const hasNoLiveTable = (table: readonly DmTarget[] | undefined): boolean => table?.length === 0;

export function createDmBackend(machine: Machine, options: DmBackendOptions = {}): MapBackend {
  if (!machine.dm) throw new Error('device mapper prerequisites not met');
  const dm: DmApi = machine.dm;
  const { nodes } = machine;
  const mapperPath = (name: string): string => `${nodes.path}/${name}`;
  /** Stacked devices by their dm names where they have one (`/dev/mapper/x` rather than `dm-3`). */
  const holdersOf = (devno: DevNo): string[] =>
    machine
      .holders(devno)
      .map((holder) => (holder.dmName ? mapperPath(holder.dmName) : `/dev/${holder.kernelName}`));

  const tableOf = (name: string): DmTarget[] | undefined => {
    try {
      return dm.table(name);
    } catch {
      return undefined;
    }
  };

  const linearTable = (map: PlannedMap, parent: ParentDevice): DmTarget[] => [
    { start: 0, length: map.size, type: 'linear', params: `${formatDevNo(parent.devno)} ${map.start}` },
  ];

  /** Mountpoints and stacked devices that keep a map open. */
  function whoHolds(devno: DevNo): string[] {
    const found = machine.mounts
      .list()
      .filter((entry) => sameDevNo(entry.devno, devno))
      .map((entry) => entry.target);
    return [...new Set([...found, ...holdersOf(devno), ...loopsOver(machine, devno)])];
  }

  /**
   * This parent's partition maps, in the kernel's list order; with `tableless`, also those of its
   * maps that have no live table (see hasNoLiveTable).
   */
  function owned(parent: ParentDevice, options: { tableless?: boolean } = {}): Owned[] {
    const out: Owned[] = [];
    for (const entry of dm.list()) {
      const number = partitionNumberOf(entry.uuid, parent.uuid);
      if (number === null) continue;
      const table = tableOf(entry.name);
      const ours = table && (isLinearOn(table, parent.devno) || (options.tableless && hasNoLiveTable(table)));
      if (!ours) continue;
      out.push({ name: entry.name, number, info: entry, table });
    }
    return out;
  }

  /** Something at /dev/mapper/<name> that is not a device node: the map is refused, the entry never replaced. */
  function nodeBlocked(map: PlannedMap, devno: DevNo | undefined, emit: EmitEvent): boolean {
    const blocker = nodes.blocker(map.kernelName, devno);
    if (blocker) emit({ type: 'refused', name: map.dmName, message: blocker });
    return blocker !== undefined;
  }

  /** Decide what each planned map needs, without changing anything. Problems are emitted. */
  function planSteps(request: MapRequest, emit: EmitEvent): { steps: Step[]; problems: number } {
    const { parent } = request;
    const steps: Step[] = [];
    let problems = 0;
    // One listing instead of two lookups per map: a 128-partition disk is 1 ioctl, not 256.
    const listed = dm.list();
    const names = new Set(listed.map((entry) => entry.name));
    const uuids = new Set(listed.map((entry) => entry.uuid).filter(Boolean));
    for (const map of request.maps) {
      if (map.start < 0 || map.size <= 0 || map.start + map.size > parent.sizeSectors) {
        emit({
          type: 'refused',
          name: map.name,
          message: `${map.name}: partition ${map.number} (sectors ${map.start}-${map.start + map.size - 1}) ends past the end of ${parent.path} (${parent.sizeSectors} sectors)`,
        });
        problems++;
        continue;
      }
      const byName = names.has(map.kernelName) ? dm.info(map.kernelName) : undefined;
      if (byName) {
        const reason = conflictReason(byName.uuid, parent.uuid);
        if (reason) {
          emit({ type: 'conflict', name: map.dmName, reason });
          problems++;
        } else if (nodeBlocked(map, byName.devno, emit)) {
          problems++;
        } else {
          steps.push({ kind: 'reload', map, current: byName });
        }
        continue;
      }
      const byUuid = uuids.has(map.uuid) ? dm.infoByUuid(map.uuid) : undefined;
      if (byUuid) {
        const table = tableOf(byUuid.name);
        // A map of ours under another name (another delimiter), or left without a table.
        if (table && (isLinearOn(table, parent.devno) || hasNoLiveTable(table))) {
          if (nodeBlocked(map, byUuid.devno, emit)) problems++;
          else steps.push({ kind: 'reload', map, current: byUuid, renameFrom: byUuid.name });
        } else {
          emit({
            type: 'failed',
            name: map.dmName,
            op: 'create',
            message: `${map.dmName}: its UUID ${map.uuid} is already used by map ${byUuid.name}, which does not map ${parent.path}`,
          });
          problems++;
        }
        continue;
      }
      if (nodeBlocked(map, undefined, emit)) {
        problems++;
        continue;
      }
      steps.push({ kind: 'create', map });
    }
    return { steps, problems };
  }

  async function addLocked(request: MapRequest, emit: EmitEvent): Promise<OpResult> {
    const { parent } = request;
    const { steps, problems } = planSteps(request, emit);
    if (problems > 0) {
      emit(refusedRunEvent(parent, problems));
      return { failures: problems };
    }
    // One map after the other, as the C tool does: the kernel hands out dm minors in this order.
    const nodeOptions = { sync: request.sync, like: parent.path };
    const journal = new UndoJournal();
    let current: PlannedMap | undefined;
    let op: 'create' | 'reload' | 'resume' | 'rename' = 'create';
    try {
      // Maps over a read-only parent are read-only, whatever the operand was (an image, its loop,
      // a disk): device-mapper would otherwise give a writable map over a read-only device.
      const parentReadOnly = machine.blockDevice(parent.path).readOnly;
      for (const step of steps) {
        const { map } = step;
        current = map;
        request.interrupted?.throwIfAborted();
        const readOnly = request.readOnly || map.readOnly || parentReadOnly;
        const table = linearTable(map, parent);
        if (step.kind === 'create') {
          op = 'create';
          const devno = await dm.create(map.kernelName, map.uuid, table, { readOnly });
          journal.record({
            name: map.dmName,
            announce: true,
            takeBack: async () => {
              await dm.remove(map.kernelName, { noFlush: true });
              await nodes.removed(map.kernelName, devno, nodeOptions);
            },
          });
          const problem = await nodes.created(map.kernelName, devno, nodeOptions);
          if (problem) throw new Error(problem);
          emit({ type: 'created', map, devno, path: mapperPath(map.kernelName), parentDevno: parent.devno });
        } else {
          const { current: found, renameFrom } = step;
          const before = tableOf(renameFrom ?? map.kernelName);
          // A map left without a live table had nothing to restore: undoing its revival removes it.
          const removeAgain = hasNoLiveTable(before)
            ? {
                name: map.dmName,
                announce: true,
                takeBack: async () => {
                  await dm.remove(map.kernelName, { noFlush: true });
                  await nodes.removed(map.kernelName, found.devno, nodeOptions);
                },
              }
            : undefined;
          if (renameFrom) {
            op = 'rename';
            await dm.rename(renameFrom, map.kernelName);
            journal.record(
              removeAgain ?? {
                name: map.dmName,
                announce: false,
                takeBack: async () => {
                  await dm.rename(map.kernelName, renameFrom);
                  await nodes.renamed(map.kernelName, renameFrom, found.devno, nodeOptions);
                },
              },
            );
            emit({ type: 'renamed', from: unmangleDmName(renameFrom), to: map.dmName, uuid: map.uuid });
            const problem = await nodes.renamed(renameFrom, map.kernelName, found.devno, nodeOptions);
            if (problem) throw new Error(problem);
          }
          op = 'reload';
          await dm.reload(map.kernelName, table, { readOnly });
          if (removeAgain) {
            if (!renameFrom) journal.record(removeAgain);
          } else if (before) {
            journal.record({
              name: map.dmName,
              announce: false,
              takeBack: async () => {
                await dm.reload(map.kernelName, before, { readOnly: found.readOnly });
                await dm.resume(map.kernelName, { noFlush: true });
              },
            });
          }
          op = 'resume';
          await dm.resume(map.kernelName, { noFlush: true });
          const devno = dm.info(map.kernelName)?.devno ?? found.devno;
          const problem = await nodes.created(map.kernelName, devno, nodeOptions);
          if (problem) throw new Error(problem);
          emit({ type: 'reloaded', map, devno, path: mapperPath(map.kernelName), parentDevno: parent.devno });
        }
        options.afterMap?.(map);
        await nextTurn();
      }
      return { failures: 0 };
    } catch (error) {
      emit(stopEvent(error, request, current?.dmName ?? parent.path, op));
      return { failures: 1 + (await journal.rollBack(emit)) };
    }
  }

  /**
   * Remove one map (`name` as the kernel has it) unless it is open; busy maps are reported with
   * what holds them. Returns its events rather than emitting them, so removals running side by
   * side still report in order. Events name the map as libdevmapper shows it (unmangled).
   */
  async function removeMap(
    name: string,
    devno: DevNo,
    noFlush: boolean,
    sync: boolean,
  ): Promise<{ events: MapEvent[]; failures: number }> {
    const shown = unmangleDmName(name);
    try {
      // The kernel refuses (EBUSY) to remove an open map, so no open-count query is needed first.
      await dm.remove(name, { noFlush });
    } catch (error) {
      if (error instanceof KernelError && error.code === 'ENXIO') return { events: [], failures: 0 };
      const open = error instanceof KernelError && error.code === 'EBUSY' ? dm.info(name) : undefined;
      const holders = open ? whoHolds(devno) : [];
      if (open && (open.openCount > 0 || holders.length > 0)) {
        return { events: [{ type: 'busy', name: shown, holders }], failures: 1 };
      }
      return {
        events: [{ type: 'failed', name: shown, op: 'remove', message: errorText(error) }],
        failures: 1,
      };
    }
    const problem = await nodes.removed(name, devno, { sync });
    const events: MapEvent[] = [{ type: 'removed', name: shown, path: mapperPath(name) }];
    if (problem) events.push({ type: 'refused', name: shown, message: problem });
    return { events, failures: 0 };
  }

  type Removal = () => Promise<{ events: MapEvent[]; failures: number }>;
  /** A map left alone, reported in its place among the removals. */
  const keep =
    (event: MapEvent): Removal =>
    async () => ({ events: [event], failures: 0 });

  /** Run removals side by side (the maps are independent), reporting them in the given order. */
  async function removeInOrder(removals: Removal[], emit: EmitEvent): Promise<number> {
    let failures = 0;
    await runOrdered(removals, REMOVE_CONCURRENCY, (result) => {
      for (const event of result.events) emit(event);
      failures += result.failures;
    });
    return failures;
  }

  /** The delimiter the plan used (`loop0` + `p` + `1`), for name-based stale checks. */
  function delimiterOf(request: MapRequest): string | undefined {
    const { mapName } = request.parent;
    for (const map of request.maps) {
      const suffix = String(map.number);
      if (map.name.startsWith(mapName) && map.name.endsWith(suffix)) {
        return map.name.slice(mapName.length, map.name.length - suffix.length);
      }
    }
    return /\d$/.test(mapName) ? 'p' : '';
  }

  /** -u: remove this parent's maps whose partition is gone, highest number first like the C tool. */
  async function removeStale(request: MapRequest, emit: EmitEvent): Promise<OpResult> {
    const { parent } = request;
    const wanted = new Set(request.maps.map((map) => map.number));
    // Maps left without a live table count too: the add before this revived the wanted ones.
    const mine = owned(parent, { tableless: true });
    const ownedNames = new Set(mine.map((entry) => entry.name));
    // Same-named maps that are not ours: the C tool removes those without a UUID; we only say so.
    const delimiter = delimiterOf(request);
    const byName = new Map(dm.list().map((entry) => [entry.name, entry]));
    const stale = mine.filter((entry) => !wanted.has(entry.number)).sort((a, b) => b.number - a.number);
    const removals: Removal[] = [];
    for (let number = 256; number >= 1; number--) {
      if (wanted.has(number)) continue;
      if (delimiter !== undefined) {
        const named = kernelDmName(`${parent.mapName}${delimiter}${number}`);
        const other = named.ok ? byName.get(named.kernelName) : undefined;
        if (other && !ownedNames.has(other.name)) {
          const reason = conflictReason(other.uuid, parent.uuid) ?? 'other-device';
          removals.push(keep({ type: 'not-removed', name: unmangleDmName(other.name), reason }));
        }
      }
      for (const entry of stale.filter((candidate) => candidate.number === number)) {
        removals.push(() => removeMap(entry.name, entry.info.devno, true, request.sync));
      }
    }
    return { failures: await removeInOrder(removals, emit) };
  }

  async function removeLocked(request: RemoveRequest, emit: EmitEvent): Promise<OpResult> {
    const { parent } = request;
    // `-d -f` on a parent without its own dm UUID: any linear map on the parent, whatever its UUID.
    const checkUuid = !(request.force && parent.uuid === nonDmUuid(parent.devno));
    const removals: Removal[] = [];
    for (const entry of dm.list()) {
      if (sameDevNo(entry.devno, parent.devno)) continue;
      if (request.only && !request.only.has(partitionNumberOf(entry.uuid, parent.uuid) ?? -1)) continue;
      const table = tableOf(entry.name);
      // No table names a device: the UUID alone says whose it is (see hasNoLiveTable).
      if (hasNoLiveTable(table) && partitionNumberOf(entry.uuid, parent.uuid) !== null) {
        removals.push(() => removeMap(entry.name, entry.devno, false, request.sync));
        continue;
      }
      if (table?.length !== 1) continue;
      const target = singleLinear(table);
      const device = target?.device ?? table[0]!.params.trim().split(/\s+/)[0];
      if (device !== formatDevNo(parent.devno)) continue;
      const shown = unmangleDmName(entry.name);
      if (!target) {
        removals.push(keep({ type: 'not-removed', name: shown, reason: 'not-linear' }));
      } else if (checkUuid && partitionNumberOf(entry.uuid, parent.uuid) === null) {
        removals.push(keep({ type: 'not-removed', name: shown, reason: 'not-kpartx' }));
      } else {
        removals.push(() => removeMap(entry.name, entry.devno, false, request.sync));
      }
    }
    return { failures: await removeInOrder(removals, emit) };
  }

  return lockedBackend(
    {
      kind: 'dm',
      add: addLocked,
      removeStale,
      remove: removeLocked,
      existing: (parent) =>
        owned(parent).map((entry): ExistingMap => {
          const info = dm.info(entry.name);
          const target = singleLinear(entry.table)!;
          return {
            name: entry.name,
            number: entry.number,
            path: mapperPath(entry.name),
            devno: entry.info.devno,
            start: target.offset,
            size: entry.table[0]!.length,
            readOnly: info?.readOnly ?? false,
            openCount: info?.openCount ?? 0,
          };
        }),
    },
    machine.locks,
    options.lockWaitMs,
  );
}
