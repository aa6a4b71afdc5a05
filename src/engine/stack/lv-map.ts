/**
 * Planning the map of one logical volume, from data alone: its name and UUID (which can never be
 * those the host's lvm2 uses: the name starts with the PV partition's map name, the UUID with
 * `kpartx-tui-lv-`, never `LVM-`), its device-mapper table over the devices its PVs are on, and
 * whether the loop backend can present it (one linear run: a loop with offset and size).
 */
import { type DevNo, formatDevNo } from '../../io/devno.js';
import type { LvMap, PvPlace } from '../lvm/extents.js';
import { uuidKey } from '../lvm/pv-header.js';
import { kernelDmName } from '../names.js';

/** Every LV map kpartx-tui makes has this UUID prefix: `kpartx -d` finds them by it. */
export const LV_UUID_PREFIX = 'kpartx-tui-lv-';
/** The loop backend's LV loops carry `kpartx-tui:lv:<name>` in `lo_file_name`. */
export const LV_LOOP_MARKER = 'kpartx-tui:lv:';
const LO_NAME_BYTES = 63;

/** The device a PV is on: the PV partition's map (offset 0) or the parent (offset = partition start). */
export interface PvDevice {
  path: string;
  devno: DevNo;
  /** Sector where the PV starts on that device. */
  offset: number;
}

export interface LvMapTarget {
  start: number;
  length: number;
  type: 'linear' | 'striped';
  params: string;
}

export type LvLoopPlan =
  | { ok: true; backing: string; offsetBytes: number; sizeBytes: number }
  | { ok: false; reason: string };

export interface LvMapPlan {
  /** `<partition map name>-<vg>-<lv>`, dashes in VG and LV names doubled as lvm2 does. */
  name: string;
  kernelName: string;
  uuid: string;
  sectors: number;
  table: LvMapTarget[];
  loop: LvLoopPlan;
}

export class LvPlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LvPlanError';
  }
}

const doubled = (text: string): string => text.replaceAll('-', '--');

/** The LV map's name: its first PV partition's map name, then the VG and LV as lvm2 joins them. */
export function lvMapName(partitionMapName: string, vg: string, lv: string): string {
  return `${partitionMapName}-${doubled(vg)}-${doubled(lv)}`;
}

/**
 * `kpartx-tui-lv-<vg uuid><lv uuid>-<maj:min of the first PV's device>`: unique per LV and per
 * device it is mapped from (one image attached twice gives two maps), never lvm2's `LVM-`.
 */
export function lvMapUuid(vgId: string, lvId: string, first: DevNo): string {
  return `${LV_UUID_PREFIX}${uuidKey(vgId)}${uuidKey(lvId)}-${formatDevNo(first)}`;
}

export function lvLoopMarker(kernelName: string): string {
  const full = Buffer.from(`${LV_LOOP_MARKER}${kernelName}`, 'utf8');
  return full
    .subarray(0, LO_NAME_BYTES)
    .toString('utf8')
    .replace(/\uFFFD$/, '');
}

/** The whole plan; `devices` gives the device of each PV by UUID (with or without dashes). */
export function planLvMap(
  map: LvMap,
  ids: { vgId: string; lvId: string },
  partitionMapName: string,
  devices: ReadonlyMap<string, PvDevice>,
): LvMapPlan {
  const byKey = new Map([...devices].map(([id, device]) => [uuidKey(id), device]));
  const deviceOf = (place: PvPlace): PvDevice => {
    const device = byKey.get(uuidKey(place.pvId));
    if (!device) throw new LvPlanError(`${map.vgName}/${map.lvName}: PV ${place.pv} is not mapped`);
    return device;
  };
  const at = (place: PvPlace): string => {
    const device = deviceOf(place);
    return `${formatDevNo(device.devno)} ${device.offset + place.offset}`;
  };
  const table = map.targets.map(
    (t): LvMapTarget =>
      t.kind === 'linear'
        ? { start: t.start, length: t.length, type: 'linear', params: at(t) }
        : {
            start: t.start,
            length: t.length,
            type: 'striped',
            params: `${t.stripes.length} ${t.chunkSize} ${t.stripes.map(at).join(' ')}`,
          },
  );
  const name = lvMapName(partitionMapName, map.vgName, map.lvName);
  const kernel = kernelDmName(name);
  if (!kernel.ok) throw new LvPlanError(`${name}: ${kernel.problem}`);
  const firstPlace = map.targets[0];
  if (!firstPlace) throw new LvPlanError(`${map.vgName}/${map.lvName} has no extents`);
  const first = deviceOf(firstPlace.kind === 'linear' ? firstPlace : firstPlace.stripes[0]!);
  return {
    name,
    kernelName: kernel.kernelName,
    uuid: lvMapUuid(ids.vgId, ids.lvId, first.devno),
    sectors: map.sectors,
    table,
    loop: loopPlan(map, deviceOf),
  };
}

/** A loop is one window of one device: only an LV of a single linear run fits. */
function loopPlan(map: LvMap, deviceOf: (place: PvPlace) => PvDevice): LvLoopPlan {
  const what = `${map.vgName}/${map.lvName}`;
  const only = map.targets.length === 1 ? map.targets[0]! : undefined;
  if (only?.kind === 'linear') {
    const device = deviceOf(only);
    return {
      ok: true,
      backing: device.path,
      offsetBytes: (device.offset + only.offset) * 512,
      sizeBytes: only.length * 512,
    };
  }
  const striped = map.targets.find((t) => t.kind === 'striped');
  const reason = striped
    ? `${what} is striped over ${striped.kind === 'striped' ? striped.stripes.length : 0} PVs: a loop device reads one contiguous run, so it needs device-mapper`
    : `${what} has ${map.targets.length} separate runs on its PVs: a loop device reads one contiguous run, so it needs device-mapper`;
  return { ok: false, reason };
}
