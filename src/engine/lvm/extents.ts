/**
 * Where a logical volume's bytes live: its segments turned into device-mapper style targets over
 * the PVs, in 512-byte sectors (a stripe starts at pe_start + extent * extent_size). Only linear and
 * striped segments placed straight on PVs map this way; anything else (thin, RAID, snapshots,
 * cache, VDO, layered volumes) needs lvm2's own targets and gets a reason instead.
 */
import { printable } from './errors.js';
import type {
  LogicalVolumeMetadata,
  PhysicalVolumeMetadata,
  SegmentMetadata,
  StripedSegment,
  VolumeGroupMetadata,
} from './metadata.js';

/** A place on a PV: `pv` is the metadata's name for it (`pv0`), `pvId` its UUID. */
export interface PvPlace {
  pv: string;
  pvId: string;
  /** Sector on the PV. */
  offset: number;
}

/** `start`/`length` in sectors of the LV, like a dm table line. */
export interface LinearTarget extends PvPlace {
  kind: 'linear';
  start: number;
  length: number;
}

export interface StripedTarget {
  kind: 'striped';
  start: number;
  length: number;
  /** Sectors per chunk (lvm2's stripe_size). */
  chunkSize: number;
  stripes: PvPlace[];
}

export type LvTarget = LinearTarget | StripedTarget;

export interface LvMap {
  vgName: string;
  lvName: string;
  /** Size of the LV in sectors. */
  sectors: number;
  /** In order, covering 0..sectors without gaps. */
  targets: LvTarget[];
}

export type LvMapResult = { ok: true; map: LvMap } | { ok: false; reason: string };

/** Each VG's LVs and PVs by name, made once: callers map every LV of a VG one by one. */
const indexes = new WeakMap<
  VolumeGroupMetadata,
  { lvs: Map<string, LogicalVolumeMetadata>; pvs: Map<string, PhysicalVolumeMetadata> }
>();

function indexOf(vg: VolumeGroupMetadata) {
  let index = indexes.get(vg);
  if (!index) {
    index = { lvs: new Map(), pvs: new Map() };
    for (const lv of vg.logicalVolumes) index.lvs.set(lv.name, lv);
    for (const pv of vg.physicalVolumes) index.pvs.set(pv.name, pv);
    indexes.set(vg, index);
  }
  return index;
}

export function mapLogicalVolume(vg: VolumeGroupMetadata, lvName: string): LvMapResult {
  const { lvs, pvs } = indexOf(vg);
  const lv = lvs.get(lvName);
  if (!lv) return { ok: false, reason: `${vg.name} has no logical volume ${printable(lvName)}` };
  const targets: LvTarget[] = [];
  for (const seg of mergeContiguous(lv.segments)) {
    if (seg.kind !== 'striped') {
      return {
        ok: false,
        reason: `${vg.name}/${lvName} is a ${printable(seg.type)} volume: only linear and striped volumes are mapped`,
      };
    }
    const layered = seg.stripes.find((s) => !s.onPv);
    if (layered) {
      return {
        ok: false,
        reason: `${vg.name}/${lvName} is layered over ${layered.volume}: only volumes placed on PVs are mapped`,
      };
    }
    const stripes = seg.stripes.map((s): PvPlace => {
      const pv = pvs.get(s.volume)!;
      return { pv: pv.name, pvId: pv.id, offset: pv.peStart + s.extent * vg.extentSize };
    });
    const start = seg.startExtent * vg.extentSize;
    const length = seg.extentCount * vg.extentSize;
    targets.push(
      stripes.length === 1
        ? { kind: 'linear', start, length, ...stripes[0]! }
        : { kind: 'striped', start, length, chunkSize: seg.stripeSize!, stripes },
    );
  }
  return { ok: true, map: { vgName: vg.name, lvName, sectors: lv.extentCount * vg.extentSize, targets } };
}

/**
 * lvm2 joins neighbouring segments whose stripes continue each other on the same PVs (it does so
 * when it reads hand-edited metadata), so its dm table has one line for them: do the same.
 */
function mergeContiguous(segments: readonly SegmentMetadata[]) {
  const out: SegmentMetadata[] = [];
  for (const seg of segments) {
    const last = out.at(-1);
    if (last?.kind === 'striped' && seg.kind === 'striped' && continues(last, seg)) {
      out[out.length - 1] = {
        ...last,
        extentCount: last.extentCount + seg.extentCount,
        areaExtents: last.areaExtents + seg.areaExtents,
      };
    } else out.push(seg);
  }
  return out;
}

function continues(a: StripedSegment, b: StripedSegment): boolean {
  if (a.stripes.length !== b.stripes.length || a.stripeSize !== b.stripeSize) return false;
  return a.stripes.every((s, i) => {
    const next = b.stripes[i]!;
    return s.onPv && next.onPv && s.volume === next.volume && s.extent + a.areaExtents === next.extent;
  });
}
