/**
 * An LV read from several sources (`kpartx-tui mount a.img:VG/LV --with b.img`, or the app started
 * with `a.img b.img`): one map-run per source ("unit"), each resolved (an image gets its loop) and
 * planned, the partitions holding the LV's PVs mapped (a PV on a whole disk without a table is the
 * source's parent itself), and everything taken back newest first: the `--with` sources', then the
 * first one's. The mount face and the app both compose their LV maps from these pieces.
 */

import type { DevNo } from '../../io/devno.js';
import type { Disk } from '../../io/disk.js';
import type { BackendKind, MapBackend, PlannedMap } from '../backend.js';
import { errorText } from '../errors.js';
import type { Machine } from '../machine.js';
import { openSourceDisk, type ResolvedSource } from '../source.js';
import type { EmitWorkflowEvent, WorkflowEvent } from './events.js';
import {
  attachLv,
  detachLv,
  type FoundLv,
  findAmong,
  firstPlaceOf,
  type LvDevice,
  LvRunError,
  type PvSource,
  partitionSources,
  planOverMaps,
  WHOLE_DISK,
} from './lv-run.js';
import { MapRun } from './map-run.js';

/** One source the LV's VG is read from: the first one given, or another (`--with`). */
export interface SourceUnit {
  operand: string;
  run: MapRun;
  /** Why its plan was refused, as the run said it. */
  readonly refusal: string;
  resolved?: ResolvedSource;
  /** Its partitions as planned; null when it has no partition table (its whole disk may be a PV). */
  planned?: PlannedMap[] | null;
}

export interface UnitOptions {
  /** Maps (and a loop attached for a whole disk) read-only. */
  readOnly: boolean;
  backend: BackendKind;
  /** A VM disk container is connected writable only when asked. */
  containerWritable: boolean;
}

/** A map-run that adds `operand`'s maps, its refusal kept for the error that says why. */
export function sourceUnit(
  operand: string,
  options: UnitOptions,
  deps: {
    machine: Machine;
    makeBackend(kind: BackendKind, machine: Machine): MapBackend | Promise<MapBackend>;
  },
  emit: EmitWorkflowEvent,
): SourceUnit {
  const said = { refusal: '' };
  const run = new MapRun(
    {
      operand,
      action: 'add',
      readOnly: options.readOnly,
      sync: true,
      backend: options.backend,
      releaseIdleLoop: true,
      containerWritable: options.containerWritable,
    },
    deps,
    (event: WorkflowEvent) => {
      if (event.type === 'plan-refused') said.refusal = event.problems.join('; ');
      emit(event);
    },
  );
  return {
    operand,
    run,
    get refusal() {
      return said.refusal;
    },
  };
}

/** Resolve and plan every unit (an image gets its loop now); the same device given twice is refused. */
export async function resolveUnits(units: readonly SourceUnit[]): Promise<void> {
  for (const unit of units) {
    let resolved: ResolvedSource | undefined;
    try {
      resolved = await unit.run.resolve();
    } catch (error) {
      // With several sources, a failure names the one it is about (a loop refused for b.img).
      const text = errorText(error);
      if (units.length < 2 || text.includes(unit.operand)) throw error;
      throw new LvRunError(`${unit.operand}: ${text}`);
    }
    if (!resolved) throw new LvRunError(`${unit.operand}: nothing to mount`);
    unit.resolved = resolved;
    const twin = units.find((u) => u !== unit && u.resolved?.parent.path === resolved.parent.path);
    if (twin)
      throw new LvRunError(
        `${unit.operand} is ${resolved.parent.path}, as ${twin.operand} is: give each source once`,
      );
    const table = unit.run.readTable();
    if (table) {
      const planned = await unit.run.plan(table);
      if (!planned) throw new LvRunError(`${unit.operand}: cannot map its partitions: ${unit.refusal}`);
      unit.planned = planned;
    } else unit.planned = null;
  }
}

/** Every place that may hold a PV on the units (a partition, or a whole disk without a table). */
export function unitPvSources(
  units: readonly SourceUnit[],
  disks: readonly Disk[],
  skip?: number,
): PvSource[] {
  return units.flatMap((unit, origin) =>
    unit.planned
      ? partitionSources(
          disks[origin]!,
          unit.operand,
          unit.planned.filter((m) => origin !== 0 || m.number !== skip),
          origin,
        )
      : [{ number: WHOLE_DISK, origin, label: unit.operand, disk: disks[origin]! }],
  );
}

/** Run `body` with every unit's disk open. */
export function withUnitDisks<T>(
  units: readonly SourceUnit[],
  machine: Machine,
  body: (disks: Disk[]) => T,
): T {
  const disks: ReturnType<typeof openSourceDisk>[] = [];
  try {
    for (const unit of units) disks.push(openSourceDisk(unit.resolved!, machine));
    return body(disks);
  } finally {
    for (const disk of disks) disk.close();
  }
}

/** Map the partitions `numbers` of `unit` that are not mapped yet; `failed` says what could not be. */
export async function mapUnitPartitions(
  unit: SourceUnit,
  numbers: ReadonlySet<number>,
  interrupted: AbortSignal | undefined,
  failed: () => string,
): Promise<void> {
  const backend = await unit.run.makeBackend();
  const parent = unit.resolved!.parent;
  const all = unit.planned ?? [];
  const missing = all.filter(
    (m) => numbers.has(m.number) && !backend.existing(parent).some((e) => e.number === m.number),
  );
  if (missing.length > 0) {
    const failures = await unit.run.apply(missing, interrupted, all);
    if (failures > 0) throw new LvRunError(failed());
  }
  interrupted?.throwIfAborted();
}

/** Per unit, the partition numbers of the LV's PVs on it. */
export function usedOn(found: FoundLv, origin: number): Set<number> {
  return new Set([...found.places.values()].filter((p) => p.origin === origin).map((p) => p.number));
}

export interface UnitDevice {
  origin: number;
  number: number | null;
  path: string;
  devno: DevNo;
}

/**
 * The devices the PVs are on now: each unit's partition maps, or a whole disk's parent. `standIn`
 * replaces a map of the first unit (an opened LUKS volume standing in for its partition's map).
 */
export async function unitDevices(
  units: readonly SourceUnit[],
  standIn?: (number: number) => { path: string; devno: DevNo } | undefined,
): Promise<UnitDevice[]> {
  const devices: UnitDevice[] = [];
  for (const [origin, unit] of units.entries()) {
    const parent = unit.resolved!.parent;
    if (!unit.planned) {
      devices.push({ origin, number: WHOLE_DISK, path: parent.path, devno: parent.devno });
      continue;
    }
    const backend = await unit.run.makeBackend();
    for (const m of backend.existing(parent)) {
      const instead = origin === 0 && m.number !== null ? standIn?.(m.number) : undefined;
      devices.push({ origin, number: m.number, ...(instead ?? { path: m.path, devno: m.devno }) });
    }
  }
  return devices;
}

/** A PV device's name as planned (a whole disk's: its parent's), which the LV map's name begins with. */
export function unitMapName(units: readonly SourceUnit[], number: number, origin: number): string {
  const unit = units[origin]!;
  if (number === WHOLE_DISK && !unit.planned) return unit.resolved!.parent.mapName;
  return unit.planned!.find((m) => m.number === number)!.dmName;
}

/** Take back what each unit's run made (maps, an attached loop), the others' first, the first one's last. */
export async function takeBackUnits(units: readonly SourceUnit[]): Promise<string[]> {
  const said: string[] = [];
  for (const unit of units.slice(1).reverse())
    if (unit.run.source) said.push(`${unit.operand}: ${await unit.run.takeBack('rollback')}`);
  const own = await units[0]!.run.takeBack('rollback');
  said.push(units.length > 1 ? `${units[0]!.operand}: ${own}` : own);
  return said;
}

/** An LV map made over the PVs of several sources, with the units that mapped them. */
export interface LvAcross {
  device: LvDevice;
  /** False when an LV map of ours with this table was there already (it is left there). */
  created: boolean;
  units: readonly SourceUnit[];
}

/**
 * Map `vg/lv` whose PVs are on `operands` (the first one's LV, the others holding more of its
 * PVs): each source resolved and planned, the partitions holding its PVs mapped, then the LV map
 * over them. A failure part-way takes back everything made, newest first, and is thrown.
 */
export async function attachLvAcross(
  machine: Machine,
  operands: readonly string[],
  target: { vg: string; lv: string },
  options: UnitOptions & { lvReadOnly: boolean },
  makeBackend: (kind: BackendKind, machine: Machine) => MapBackend | Promise<MapBackend>,
  emit: EmitWorkflowEvent,
): Promise<LvAcross> {
  const units = operands.map((operand) => sourceUnit(operand, options, { machine, makeBackend }, emit));
  const source = operands[0]!;
  try {
    await resolveUnits(units);
    const found = withUnitDisks(units, machine, (disks) =>
      findAmong(source, unitPvSources(units, disks), target.vg, target.lv, `on ${operands.join(' nor ')}`, {
        notOn: operands.join(' nor '),
        hint: '',
      }),
    );
    for (const [origin, unit] of units.entries())
      await mapUnitPartitions(
        unit,
        usedOn(found, origin),
        undefined,
        () => `${source}:${target.vg}/${target.lv}: could not map its PV partitions on ${unit.operand}`,
      );
    const devices = await unitDevices(units);
    const plan = planOverMaps(machine, found, devices, (number, origin) =>
      unitMapName(units, number, origin),
    );
    const first = firstPlaceOf(found);
    const firstDevice = devices.find((d) => d.origin === first.origin && d.number === first.number)!;
    const attached = await attachLv(machine, options.backend === 'loop' ? 'loop' : 'dm', plan, {
      readOnly: options.lvReadOnly,
      sync: true,
      like: machine.realpath(firstDevice.path),
    });
    return { ...attached, units };
  } catch (error) {
    const said = await takeBackUnits(units).catch((e: unknown) => [errorText(e)]);
    if (error instanceof LvRunError) throw new LvRunError(`${error.message} (${said.join('; ')})`);
    throw new LvRunError(`${source}:${target.vg}/${target.lv}: ${errorText(error)} (${said.join('; ')})`);
  }
}

/** Take away an LV map made by attachLvAcross (when it made it), then what each unit mapped, newest first. */
export async function detachLvAcross(machine: Machine, made: LvAcross): Promise<string[]> {
  if (made.created) await detachLv(machine, made.device);
  return takeBackUnits(made.units);
}
