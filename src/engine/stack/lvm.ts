/**
 * The LVM layer: volume groups assembled from the PVs found among a disk's partitions (or the
 * whole disk), each visible LV with its size, segment type, how it can be attached, and its content
 * probed through its own extents (lvDisk), with no lvm2 and no device-mapper.
 */
import type { Disk } from '../../io/disk.js';
import { probeContent } from '../../probe/index.js';
import { type AssembledVolumeGroup, assembleVolumeGroups, type PvCandidate } from '../lvm/assemble.js';
import { LvmError } from '../lvm/errors.js';
import { type LvMapResult, mapLogicalVolume } from '../lvm/extents.js';
import { openLogicalVolume } from '../lvm/lv-disk.js';
import type { LogicalVolumeMetadata } from '../lvm/metadata.js';
import { readPhysicalVolume } from '../lvm/physical-volume.js';
import { uuidKey } from '../lvm/pv-header.js';
import { lvAttach, segmentTypeOf } from './attach.js';
import { findFilesystemSystem, NO_SYSTEM } from './system.js';
import type { Extent, LogicalVolumeLayer, VolumeGroupLayer } from './types.js';
import { windowDisk } from './window.js';

/** A place that may hold a PV: a partition (its number) or the whole disk (null). */
export interface PvPlaceCandidate {
  partition: number | null;
  extent: Extent;
}

export interface LvmLayers {
  volumeGroups: VolumeGroupLayer[];
  warnings: string[];
}

const targetText = (map: Extract<LvMapResult, { ok: true }>['map']): string[] =>
  map.targets.map((t) =>
    t.kind === 'linear'
      ? `${t.start} ${t.length} linear ${t.pv} ${t.offset}`
      : `${t.start} ${t.length} striped ${t.stripes.length} ${t.chunkSize} ${t.stripes.map((s) => `${s.pv} ${s.offset}`).join(' ')}`,
  );

function logicalVolume(
  group: AssembledVolumeGroup,
  lv: LogicalVolumeMetadata,
  probe: boolean,
): LogicalVolumeLayer {
  const vg = group.metadata;
  const mapped = mapLogicalVolume(vg, lv.name);
  const layer: LogicalVolumeLayer = {
    name: lv.name,
    sizeSectors: lv.extentCount * vg.extentSize,
    segmentType: segmentTypeOf(lv),
    segments: lv.segments.length,
    targets: mapped.ok ? targetText(mapped.map) : [],
    content: null,
    ...NO_SYSTEM,
    attach: lvAttach(vg.name, lv, mapped),
    problem: mapped.ok ? null : mapped.reason,
  };
  if (!mapped.ok) return layer;
  const opened = openLogicalVolume(group, lv.name);
  if (!opened.ok) {
    layer.problem = opened.reason;
    layer.attach = { method: 'none', text: `not mappable: ${opened.reason}` };
    return layer;
  }
  if (probe) {
    try {
      layer.content = probeContent(opened.disk, 0, opened.disk.size);
    } catch {
      layer.content = null;
    }
    Object.assign(layer, findFilesystemSystem(opened.disk, layer.content));
  }
  return layer;
}

/** A PV found on one source, with the place on that source that holds it. */
export interface PlacedPvCandidate extends PvCandidate {
  /** The source (operand) it was read from. */
  origin: string;
  place: PvPlaceCandidate;
}

/** Read every candidate place as a PV; those without a label are skipped, unreadable ones warned about. */
export function readPvCandidates(
  disk: Disk,
  source: string,
  places: readonly PvPlaceCandidate[],
): { candidates: PlacedPvCandidate[]; warnings: string[] } {
  const warnings: string[] = [];
  const candidates: PlacedPvCandidate[] = [];
  for (const place of places) {
    const name = place.partition === null ? source : `${source} partition ${place.partition}`;
    const view = windowDisk(disk, place.extent.start * 512, place.extent.size * 512);
    try {
      const pv = readPhysicalVolume(view);
      if (!pv) continue;
      warnings.push(...pv.warnings.map((w) => `${name}: ${w}`));
      candidates.push({ source: name, disk: view, pv, origin: source, place });
    } catch (error) {
      if (!(error instanceof LvmError)) throw error;
      warnings.push(`${name}: ${error.message}`);
    }
  }
  return { candidates, warnings };
}

/**
 * Assemble the VGs of `candidates` (from one source or several) and describe each. With
 * `nameSources`, every PV also says which source holds it (several sources were given).
 */
export function describeVolumeGroups(
  candidates: readonly PlacedPvCandidate[],
  probe = true,
  nameSources = false,
): { volumeGroups: VolumeGroupLayer[]; warnings: string[] } {
  if (candidates.length === 0) return { volumeGroups: [], warnings: [] };
  const assembly = assembleVolumeGroups(candidates);
  const placeOf = new Map(candidates.map((c) => [uuidKey(c.pv.header.uuid), c]));
  const volumeGroups = assembly.volumeGroups.map((group): VolumeGroupLayer => {
    const vg = group.metadata;
    return {
      name: vg.name,
      uuid: vg.id,
      seqno: vg.seqno,
      extentSize: vg.extentSize,
      sizeSectors: vg.extentCount * vg.extentSize,
      freeSectors: vg.freeExtents * vg.extentSize,
      physicalVolumes: group.members
        .filter((m) => m.found)
        .map((m) => {
          const { place, origin } = placeOf.get(uuidKey(m.metadata.id))!;
          return {
            name: m.metadata.name,
            uuid: m.metadata.id,
            ...(nameSources ? { source: origin } : {}),
            partition: place.partition,
            extent: place.extent,
            peStart: m.metadata.peStart,
            peCount: m.metadata.peCount,
          };
        }),
      missing: group.missing.map((m) => ({ name: m.name, uuid: m.id, lastSeenOn: m.deviceHint })),
      logicalVolumes: vg.logicalVolumes
        .filter((lv) => lv.visible)
        .map((lv) => logicalVolume(group, lv, probe)),
      warnings: group.warnings,
    };
  });
  return { volumeGroups, warnings: assembly.warnings };
}

/**
 * Read every candidate as a PV (those without a label are skipped), assemble their VGs and
 * describe each. `source` names the disk in warnings (`disk.img`).
 */
export function readLvmLayers(
  disk: Disk,
  source: string,
  places: readonly PvPlaceCandidate[],
  probe = true,
): LvmLayers {
  const read = readPvCandidates(disk, source, places);
  const described = describeVolumeGroups(read.candidates, probe);
  return { volumeGroups: described.volumeGroups, warnings: [...read.warnings, ...described.warnings] };
}

/**
 * The VGs of several sources assembled together, so a VG whose PVs lie on different images is
 * whole: each source lists every VG with a PV on it (the same VG under each of its sources), and
 * each PV names its source. A warning of the assembly goes to the source it starts with.
 */
export function readLvmAcrossSources(
  sources: readonly { source: string; candidates: readonly PlacedPvCandidate[] }[],
  probe = true,
): Map<string, LvmLayers> {
  const all = sources.flatMap((s) => s.candidates);
  const described = describeVolumeGroups(all, probe, true);
  const out = new Map<string, LvmLayers>();
  for (const { source, candidates } of sources) {
    const labels = candidates.map((c) => c.source);
    out.set(source, {
      volumeGroups: described.volumeGroups.filter((vg) =>
        vg.physicalVolumes.some((pv) => pv.source === source),
      ),
      warnings: described.warnings.filter((w) => labels.some((label) => w.startsWith(`${label} `))),
    });
  }
  return out;
}

/** Where PVs may be: partitions the probe saw LVM2_member on, or the whole disk when it has no table. */
export function lvmPlaces(
  partitions: readonly { number: number; start: number; size: number; content: { type: string } | null }[],
  whole: { content: { type: string } | null; sizeSectors: number } | null,
): PvPlaceCandidate[] {
  const places: PvPlaceCandidate[] = partitions
    .filter((p) => p.content?.type === 'LVM2_member')
    .map((p) => ({ partition: p.number, extent: { start: p.start, size: p.size } }));
  if (whole?.content?.type === 'LVM2_member')
    places.push({ partition: null, extent: { start: 0, size: whole.sizeSectors } });
  return places;
}
