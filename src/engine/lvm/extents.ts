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
  // Plain loops and no spreads: a CLI maps every LV of a VG once, mostly in V8's interpreter.
  const segments = lv.segments.length > 1 ? mergeContiguous(lv.segments) : lv.segments;
  const size = vg.extentSize;
  const targets: LvTarget[] = [];
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    if (seg.kind !== 'striped') {
      return {
        ok: false,
        reason: `${vg.name}/${lvName} is a ${printable(seg.type)} volume: only linear and striped volumes are mapped`,
      };
    }
    for (let j = 0; j < seg.stripes.length; j++) {
      if (!seg.stripes[j]!.onPv) {
        return {
          ok: false,
          reason: `${vg.name}/${lvName} is layered over ${seg.stripes[j]!.volume}: only volumes placed on PVs are mapped`,
        };
      }
    }
    const start = seg.startExtent * size;
    const length = seg.extentCount * size;
    if (seg.stripes.length === 1) {
      const stripe = seg.stripes[0]!;
      const pv = pvs.get(stripe.volume)!;
      targets.push({
        kind: 'linear',
        start,
        length,
        pv: pv.name,
        pvId: pv.id,
        offset: pv.peStart + stripe.extent * size,
      });
    } else {
      const stripes: PvPlace[] = [];
      for (let j = 0; j < seg.stripes.length; j++) {
        const stripe = seg.stripes[j]!;
        const pv = pvs.get(stripe.volume)!;
        stripes.push({ pv: pv.name, pvId: pv.id, offset: pv.peStart + stripe.extent * size });
      }
      targets.push({ kind: 'striped', start, length, chunkSize: seg.stripeSize!, stripes });
    }
  }
  return { ok: true, map: { vgName: vg.name, lvName, sectors: lv.extentCount * size, targets } };
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
