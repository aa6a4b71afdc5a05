/**
 * What the LVM reader assembled, compared with lvm2's own reports (`pvs`, `vgs`, `lvs -a
 * --segments`, in 512-byte sectors): PV UUIDs and geometry, the VG's extent size, counts, free
 * extents and seqno, every segment's type, stripes, stripe size and PE ranges, and the targets each
 * mappable LV gets. Used on live lvm2 runs and on the recorded reports of the fixtures.
 */
import { expect } from 'vitest';
import { type AssembledVolumeGroup, mapLogicalVolume, uuidKey } from '../src/engine/lvm/index.js';

export type ReportRow = Record<string, string>;

export interface Lvm2Reports {
  /** pv_name,pv_uuid,pe_start,dev_size,pv_pe_count,vg_uuid */
  pvs: ReportRow[];
  /** vg_name,vg_uuid,vg_extent_size,vg_extent_count,vg_free_count,vg_seqno,pv_count,lv_count */
  vgs: ReportRow[];
  /** `-a --segments`: vg_uuid,lv_name,lv_uuid,segtype,stripes,stripe_size,seg_start_pe,seg_size_pe,seg_pe_ranges */
  lvs: ReportRow[];
}

export const PVS_FIELDS = 'pv_name,pv_uuid,pe_start,dev_size,pv_pe_count,vg_uuid';
export const VGS_FIELDS =
  'vg_name,vg_uuid,vg_extent_size,vg_extent_count,vg_free_count,vg_seqno,pv_count,lv_count';
export const LVS_FIELDS =
  'vg_uuid,lv_name,lv_uuid,segtype,stripes,stripe_size,seg_start_pe,seg_size_pe,seg_pe_ranges';

/** `[pool_tdata]` → `pool_tdata`: lvs -a brackets hidden LVs. */
const bare = (name: string) => name.replace(/^\[(.*)\]$/, '$1');

/** `/dev/loop3:4-7` → device and first extent. */
function parseRange(range: string): { device: string; first: number } {
  const match = /^(.*):(\d+)-\d+$/.exec(range);
  if (!match) throw new Error(`unexpected PE range ${range}`);
  return { device: match[1]!, first: Number(match[2]) };
}

export function expectMatchesReports(group: AssembledVolumeGroup, reports: Lvm2Reports): void {
  const vg = group.metadata;
  const sameVg = (row: ReportRow) => uuidKey(row.vg_uuid ?? '') === uuidKey(vg.id);

  const deviceOfPv = new Map<string, string>();
  for (const row of reports.pvs.filter(sameVg)) {
    const pv = vg.physicalVolumes.find((p) => uuidKey(p.id) === uuidKey(row.pv_uuid!));
    expect(pv, `PV ${row.pv_uuid}`).toBeDefined();
    expect({ peStart: pv!.peStart, devSize: pv!.devSize, peCount: pv!.peCount }).toEqual({
      peStart: Number(row.pe_start),
      devSize: Number(row.dev_size),
      peCount: Number(row.pv_pe_count),
    });
    const member = group.members.find((m) => m.metadata === pv);
    expect(member?.found?.pv.header.uuid).toBe(row.pv_uuid);
    deviceOfPv.set(pv!.name, row.pv_name!);
  }
  expect(deviceOfPv.size).toBe(vg.physicalVolumes.length);

  const vgRow = reports.vgs.find((row) => uuidKey(row.vg_uuid!) === uuidKey(vg.id));
  expect(vgRow, `VG ${vg.name}`).toBeDefined();
  expect({
    name: vg.name,
    id: vg.id,
    extentSize: vg.extentSize,
    extents: vg.extentCount,
    free: vg.freeExtents,
    seqno: vg.seqno,
    pvs: vg.physicalVolumes.length,
    lvs: vg.logicalVolumes.filter((lv) => lv.visible).length,
  }).toEqual({
    name: vgRow!.vg_name,
    id: vgRow!.vg_uuid,
    extentSize: Number(vgRow!.vg_extent_size),
    extents: Number(vgRow!.vg_extent_count),
    free: Number(vgRow!.vg_free_count),
    seqno: Number(vgRow!.vg_seqno),
    pvs: Number(vgRow!.pv_count),
    lvs: Number(vgRow!.lv_count),
  });

  const segRows = reports.lvs.filter(sameVg);
  const theirs = segRows
    .map((r) => ({
      lv: bare(r.lv_name!),
      id: r.lv_uuid,
      type: r.segtype,
      start: Number(r.seg_start_pe),
      extents: Number(r.seg_size_pe),
      stripes: r.segtype === 'linear' || r.segtype === 'striped' ? Number(r.stripes) : null,
      stripeSize: r.segtype === 'striped' ? Number(r.stripe_size) : null,
      ranges: r.seg_pe_ranges ?? '',
    }))
    .sort((a, b) => a.lv.localeCompare(b.lv) || a.start - b.start);
  const ours = vg.logicalVolumes
    .flatMap((lv) =>
      lv.segments.map((seg) => ({
        lv: lv.name,
        id: lv.id,
        type: seg.kind === 'striped' ? (seg.stripes.length === 1 ? 'linear' : 'striped') : seg.type,
        start: seg.startExtent,
        extents: seg.extentCount,
        stripes: seg.kind === 'striped' ? seg.stripes.length : null,
        stripeSize: seg.kind === 'striped' ? seg.stripeSize : null,
        // lvm2 prints a PV range with the PV's device and an LV range with the LV's name; ranges
        // of other segment types (a thin pool's data LV) come from lvm2's own row.
        ranges:
          seg.kind === 'striped'
            ? seg.stripes
                .map(
                  (s) =>
                    `${s.onPv ? deviceOfPv.get(s.volume) : s.volume}:${s.extent}-${s.extent + seg.areaExtents - 1}`,
                )
                .join(' ')
            : (segRows.find((r) => bare(r.lv_name!) === lv.name && Number(r.seg_start_pe) === seg.startExtent)
                ?.seg_pe_ranges ?? ''),
      })),
    )
    .sort((a, b) => a.lv.localeCompare(b.lv) || a.start - b.start);
  expect(ours).toEqual(theirs);

  // Each LV whose segments are all linear or striped on PVs maps to the sectors of lvm2's ranges.
  const peStartOf = new Map(reports.pvs.map((r) => [r.pv_name!, Number(r.pe_start)]));
  for (const lv of vg.logicalVolumes) {
    const result = mapLogicalVolume(vg, lv.name);
    const onPvs = lv.segments.every((s) => s.kind === 'striped' && s.stripes.every((stripe) => stripe.onPv));
    expect(result.ok, `${lv.name} mappable`).toBe(onPvs);
    if (!result.ok) continue;
    const expected = theirs
      .filter((t) => t.lv === lv.name)
      .map((t) => ({
        start: t.start * vg.extentSize,
        length: t.extents * vg.extentSize,
        places: t.ranges.split(' ').map((range) => {
          const { device, first } = parseRange(range);
          return peStartOf.get(device)! + first * vg.extentSize;
        }),
      }));
    const got = result.map.targets.map((t) => ({
      start: t.start,
      length: t.length,
      places: t.kind === 'linear' ? [t.offset] : t.stripes.map((s) => s.offset),
    }));
    expect(got).toEqual(expected);
  }
}
