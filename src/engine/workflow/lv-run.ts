/**
 * Logical volumes mapped by kpartx-tui itself, over the maps of their PV partitions (or, for a PV
 * on a whole disk, over the source's parent device itself), on one source or several: find the LV
 * (reading the PVs' metadata, no lvm2), make its map (a device-mapper map, or with the loop backend
 * a loop with offset and size when the LV is one linear run), take it away again, and find every
 * LV map stacked on a parent or its partition maps so `kpartx -d` removes them first.
 */

import { type DevNo, formatDevNo, sameDevNo } from '../../io/devno.js';
import type { Disk } from '../../io/disk.js';
import { errorText } from '../errors.js';
import { holdersOf } from '../holders.js';
import { type AssembledVolumeGroup, assembleVolumeGroups, type PvCandidate } from '../lvm/assemble.js';
import { LvmError, printable } from '../lvm/errors.js';
import { type LvMap, mapLogicalVolume } from '../lvm/extents.js';
import type { LogicalVolumeMetadata } from '../lvm/metadata.js';
import { readPhysicalVolume } from '../lvm/physical-volume.js';
import { uuidKey } from '../lvm/pv-header.js';
import type { Machine } from '../machine.js';
import { unmangleDmName } from '../names.js';
import { lvAttach } from '../stack/attach.js';
import {
  LV_LOOP_MARKER,
  LV_UUID_PREFIX,
  type LvMapPlan,
  LvPlanError,
  lvLoopMarker,
  type PvDevice,
  planLvMap,
} from '../stack/lv-map.js';
import { windowDisk } from '../stack/window.js';

export class LvRunError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LvRunError';
  }
}

/**
 * `IMAGE:VG/LV` (lvm2's name characters), or `IMAGE:N/VG/LV` naming the partition that holds the
 * VG's PV (a LUKS partition is opened to find it): the LV named, unless a file is literally named so.
 */
export function splitLvOperand(
  operand: string,
  exists: (path: string) => boolean,
): { source: string; vg: string; lv: string; partition?: number } | undefined {
  const match = /^(.+):(?:(\d+)\/)?([A-Za-z0-9+_.][A-Za-z0-9+_.-]*)\/([A-Za-z0-9+_.][A-Za-z0-9+_.-]*)$/s.exec(
    operand,
  );
  if (!match || exists(operand)) return undefined;
  return {
    source: match[1]!,
    vg: match[3]!,
    lv: match[4]!,
    ...(match[2] !== undefined ? { partition: Number(match[2]) } : {}),
  };
}

/**
 * Where a PV is: partition `number` (or the whole disk, WHOLE_DISK) of the source at `origin`
 * among those given (0: the operand's own source; 1…: the images added with `--with`).
 */
export interface PvAt {
  origin: number;
  number: number;
}

/** The number standing for a source's whole disk: a PV made on it with no partition table. */
export const WHOLE_DISK = 0;

export interface FoundLv {
  group: AssembledVolumeGroup;
  lv: LogicalVolumeMetadata;
  map: LvMap;
  /** Where each PV the LV uses is, by PV UUID (no dashes). */
  places: Map<string, PvAt>;
}

/** A device that may hold a PV: a partition's window of a source, its whole disk, or an opened LUKS volume. */
export interface PvSource {
  /** The partition number (for a LUKS volume: the partition it is in; WHOLE_DISK for the disk itself). */
  number: number;
  /** Which of the sources given it is on (0 when absent). */
  origin?: number;
  /** How errors name it: `disk.img partition 2`. */
  label: string;
  disk: Disk;
}

/** Every partition as a window of the source disk, to be read as a possible PV. */
export function partitionSources(
  disk: Disk,
  source: string,
  partitions: readonly { number: number; start: number; size: number }[],
  origin = 0,
): PvSource[] {
  return partitions.map((p) => ({
    number: p.number,
    origin,
    label: `${source} partition ${p.number}`,
    disk: windowDisk(disk, p.start * 512, p.size * 512),
  }));
}

/** The PVs found on `sources` (what is not a PV, or a damaged one, is skipped). */
function pvCandidates(sources: readonly PvSource[]): (PvCandidate & PvAt)[] {
  const candidates: (PvCandidate & PvAt)[] = [];
  for (const s of sources) {
    try {
      const pv = readPhysicalVolume(s.disk);
      if (pv) candidates.push({ source: s.label, disk: s.disk, pv, number: s.number, origin: s.origin ?? 0 });
    } catch (error) {
      if (!(error instanceof LvmError)) throw error;
    }
  }
  return candidates;
}

/** The names of the VGs whose PVs are on `sources`. */
export function volumeGroupNames(sources: readonly PvSource[]): string[] {
  return assembleVolumeGroups(pvCandidates(sources)).volumeGroups.map((g) => g.metadata.name);
}

/** Read every partition as a possible PV, assemble the VGs and find `vg/lv`; a clear error otherwise. */
export function findLogicalVolume(
  disk: Disk,
  source: string,
  partitions: readonly { number: number; start: number; size: number }[],
  vgName: string,
  lvName: string,
): FoundLv {
  return findAmong(source, partitionSources(disk, source, partitions), vgName, lvName);
}

/** Find `vg/lv` among the PVs on `sources`; a clear error otherwise. */
export function findAmong(
  source: string,
  sources: readonly PvSource[],
  vgName: string,
  lvName: string,
  /** Where the VG was looked for, for the error that says it is not there. */
  where = 'here',
  /** For a PV none of `sources` holds: where it was looked for, and what to do about it. */
  missing: { notOn: string; hint: string } = { notOn: source, hint: '' },
): FoundLv {
  const candidates = pvCandidates(sources);
  const { volumeGroups } = assembleVolumeGroups(candidates);
  const named = volumeGroups.filter((g) => g.metadata.name === vgName);
  const what = `${source}:${printable(vgName)}/${printable(lvName)}`;
  if (named.length === 0) {
    const names = volumeGroups.map((g) => g.metadata.name).join(', ');
    throw new LvRunError(
      `${what}: no volume group ${printable(vgName)} ${where}; ${names ? `volume groups: ${names}` : 'no LVM PV found'}`,
    );
  }
  if (named.length > 1)
    throw new LvRunError(
      `${what}: ${named.length} volume groups are named ${printable(vgName)} here; not guessing`,
    );
  const group = named[0]!;
  const lv = group.metadata.logicalVolumes.find((l) => l.name === lvName);
  if (!lv) {
    const names = group.metadata.logicalVolumes.filter((l) => l.visible).map((l) => l.name);
    throw new LvRunError(
      `${what}: no logical volume ${printable(lvName)}; logical volumes: ${names.join(', ') || 'none'}`,
    );
  }
  const mapped = mapLogicalVolume(group.metadata, lvName);
  if (!mapped.ok) throw new LvRunError(`${what}: ${lvAttach(vgName, lv, mapped).text}`);
  const byId = new Map(
    candidates.map((c) => [uuidKey(c.pv.header.uuid), { origin: c.origin, number: c.number }]),
  );
  const places = new Map<string, PvAt>();
  for (const target of mapped.map.targets) {
    for (const place of target.kind === 'linear' ? [target] : target.stripes) {
      const at = byId.get(uuidKey(place.pvId));
      const member = group.members.find((m) => uuidKey(m.metadata.id) === uuidKey(place.pvId));
      if (at === undefined || !member?.found) {
        const seen = group.missing.find((m) => uuidKey(m.id) === uuidKey(place.pvId))?.deviceHint;
        throw new LvRunError(
          `${what}: needs PV ${place.pv} (UUID ${place.pvId}${seen ? `, last seen on ${printable(seen)}` : ''}), which is not on ${missing.notOn}${missing.hint}`,
        );
      }
      places.set(uuidKey(place.pvId), at);
    }
  }
  return { group, lv, map: mapped.map, places };
}

/** Where the PV of the LV's first extent is: the LV map is named after its device. */
export function firstPlaceOf(found: FoundLv): PvAt {
  const first = found.map.targets[0]!;
  const id = first.kind === 'linear' ? first.pvId : first.stripes[0]!.pvId;
  return found.places.get(uuidKey(id)) ?? [...found.places.values()][0]!;
}

/**
 * The LV's map over the devices of its PVs as they exist now: the partition maps (`number`) and,
 * for a PV on a whole disk, the source's parent device itself (WHOLE_DISK), each of the source at
 * `origin` (0 when absent). `mapName` gives a partition map's name as planned (the parent's name
 * for WHOLE_DISK); the LV map's name begins with its first PV's.
 */
export function planOverMaps(
  machine: Pick<Machine, 'realpath'>,
  found: FoundLv,
  maps: readonly { origin?: number; number: number | null; path: string; devno: DevNo }[],
  mapName: (number: number, origin: number) => string,
): LvMapPlan {
  const what = `${printable(found.group.metadata.name)}/${printable(found.lv.name)}`;
  const devices = new Map<string, PvDevice>();
  for (const [id, at] of found.places) {
    const map = maps.find((m) => m.number === at.number && (m.origin ?? 0) === at.origin);
    if (!map) {
      const which = at.number === WHOLE_DISK ? 'the disk' : `partition ${at.number}`;
      throw new LvRunError(`${what}: ${which}, which holds one of its PVs, is not mapped`);
    }
    devices.set(id, { path: machine.realpath(map.path), devno: map.devno, offset: 0 });
  }
  const first = firstPlaceOf(found);
  try {
    return planLvMap(
      found.map,
      { vgId: found.group.metadata.id, lvId: found.lv.id },
      mapName(first.number, first.origin),
      devices,
    );
  } catch (error) {
    if (error instanceof LvPlanError) throw new LvRunError(error.message);
    throw error;
  }
}

/** An LV map as it exists: how to find it again and take it away. */
export interface LvDevice {
  via: 'dm' | 'loop';
  /** The kernel (mangled) name: the dm map's name, or the /dev/mapper link's. */
  name: string;
  /** `/dev/mapper/<name>`. */
  path: string;
  devno: DevNo;
  /** The loop device, with the loop backend. */
  loop?: string;
}

/**
 * Make the LV's map, read-only if asked. An LV map of the same name made before (ours, same
 * table) is used as it is and `created` is false; anything else of that name is refused.
 */
export async function attachLv(
  machine: Machine,
  via: 'dm' | 'loop',
  plan: LvMapPlan,
  options: { readOnly: boolean; sync: boolean; like: string },
): Promise<{ device: LvDevice; created: boolean }> {
  const { nodes } = machine;
  const path = `${nodes.path}/${plan.kernelName}`;
  if (via === 'dm') {
    const dm = machine.dm;
    if (!dm) throw new LvRunError(`${plan.name}: device mapper prerequisites not met`);
    const found = dm.info(plan.kernelName);
    if (found) {
      const table = dm.table(plan.kernelName);
      const same =
        found.uuid === plan.uuid &&
        table.length === plan.table.length &&
        table.every((t, i) => t.type === plan.table[i]!.type && t.params === plan.table[i]!.params);
      if (!same)
        throw new LvRunError(
          `${plan.name}: a device-mapper map of that name exists and is not this LV's; not touching it`,
        );
      return { device: { via, name: plan.kernelName, path, devno: found.devno }, created: false };
    }
    const blocker = nodes.blocker(plan.kernelName);
    if (blocker) throw new LvRunError(blocker);
    const devno = await dm.create(plan.kernelName, plan.uuid, plan.table, { readOnly: options.readOnly });
    const problem = await nodes.created(plan.kernelName, devno, { sync: options.sync, like: options.like });
    if (problem && !machine.deviceNumber(path)) {
      await dm.remove(plan.kernelName, { noFlush: true }).catch(() => {});
      throw new LvRunError(problem);
    }
    return { device: { via, name: plan.kernelName, path, devno }, created: true };
  }
  if (!plan.loop.ok) throw new LvRunError(plan.loop.reason);
  const { backing, offsetBytes, sizeBytes } = plan.loop;
  const entry = nodes.entry(plan.kernelName);
  const marker = lvLoopMarker(plan.kernelName);
  if (entry.kind === 'symlink') {
    const loop = machine.loop.list().find((l) => l.path === entry.target);
    if (loop?.name === marker && loop.offset === offsetBytes && loop.sizeLimit === sizeBytes)
      return {
        device: { via, name: plan.kernelName, path, devno: loop.devno, loop: loop.path },
        created: false,
      };
    if (loop)
      throw new LvRunError(`${path} points to ${entry.target}, which is not this LV; not touching it`);
    nodes.unlink(plan.kernelName);
  } else if (entry.kind === 'other') {
    throw new LvRunError(`${path} exists and is not a symlink; not replacing it`);
  }
  const loop = machine.loop.attach(backing, {
    readOnly: options.readOnly,
    offset: offsetBytes,
    sizeLimit: sizeBytes,
    name: marker,
  });
  try {
    nodes.link(plan.kernelName, loop.path);
  } catch (error) {
    machine.loop.detach(loop.path);
    throw new LvRunError(`${path}: ${errorText(error)}`);
  }
  return { device: { via, name: plan.kernelName, path, devno: loop.devno, loop: loop.path }, created: true };
}

/** Take an LV map away (its node or link too); throws naming what holds it. */
export async function detachLv(machine: Machine, device: LvDevice, sync = true): Promise<void> {
  const busy = holdersOf(machine, device.devno);
  if (busy.length > 0)
    throw new LvRunError(`${unmangleDmName(device.name)} is in use by ${busy.join(', ')}; not removing it`);
  if (device.via === 'dm') {
    const dm = machine.dm;
    if (!dm) throw new LvRunError(`${device.name}: device mapper prerequisites not met`);
    const info = dm.info(device.name);
    if (info && sameDevNo(info.devno, device.devno)) {
      await dm.remove(device.name, { noFlush: false });
      await machine.nodes.removed(device.name, device.devno, { sync });
    }
    return;
  }
  const loop = machine.loop.list().find((l) => l.path === device.loop);
  if (loop && sameDevNo(loop.devno, device.devno)) machine.loop.detach(loop.path);
  const entry = machine.nodes.entry(device.name);
  if (entry.kind === 'symlink' && entry.target === device.loop) machine.nodes.unlink(device.name);
}

/** Every LV map of ours stacked on one of `devnos` (a parent's partition maps). */
export function lvDevicesOver(machine: Machine, devnos: readonly DevNo[]): LvDevice[] {
  const over = (text: string): boolean => devnos.some((d) => text === formatDevNo(d));
  const found: LvDevice[] = [];
  const dm = machine.dm;
  if (dm) {
    for (const map of dm.list()) {
      if (!map.uuid.startsWith(LV_UUID_PREFIX)) continue;
      const devices = dm
        .table(map.name)
        .flatMap((t) => t.params.split(' ').filter((w) => /^\d+:\d+$/.test(w)));
      if (devices.some(over))
        found.push({
          via: 'dm',
          name: map.name,
          path: `${machine.nodes.path}/${map.name}`,
          devno: map.devno,
        });
    }
  }
  const links = new Map<string, string>();
  for (const name of machine.nodes.list()) {
    const entry = machine.nodes.entry(name);
    if (entry.kind === 'symlink') links.set(entry.target, name);
  }
  for (const loop of machine.loop.list()) {
    if (!loop.name?.startsWith(LV_LOOP_MARKER)) continue;
    const backing = machine.deviceNumber(loop.backingFile);
    if (!backing || !devnos.some((d) => sameDevNo(d, backing))) continue;
    const name = links.get(loop.path) ?? loop.name.slice(LV_LOOP_MARKER.length);
    found.push({
      via: 'loop',
      name,
      path: `${machine.nodes.path}/${name}`,
      devno: loop.devno,
      loop: loop.path,
    });
  }
  return found;
}
