/**
 * Volume groups put together from the PVs that were found (partitions of one image, several
 * images): PVs are matched to the VG's metadata by UUID, never by device name, and the newest
 * metadata copy (highest seqno) of each VG wins. A PV the metadata lists but no source holds is
 * named as missing, with the device it was last seen on.
 */
import type { Disk } from '../../io/disk.js';
import { printable } from './errors.js';
import { LVM_SECTOR } from './label.js';
import type { PhysicalVolumeMetadata, VolumeGroupMetadata } from './metadata.js';
import type { PhysicalVolumeRead } from './physical-volume.js';
import { uuidKey } from './pv-header.js';

/** A device holding an LVM2 label, as found by readPhysicalVolume. */
export interface PvCandidate {
  /** How the user knows the device: an image path, `disk.img` partition 2, `/dev/sdb1`… */
  source: string;
  disk: Disk;
  pv: PhysicalVolumeRead;
}

export interface AssembledPv {
  metadata: PhysicalVolumeMetadata;
  /** The device holding this PV, or null when none of the sources does. */
  found: PvCandidate | null;
}

export interface MissingPv {
  name: string;
  id: string;
  deviceHint: string | null;
}

export interface AssembledVolumeGroup {
  metadata: VolumeGroupMetadata;
  /** Where the metadata used came from. */
  metadataSource: string;
  /** Every PV of the metadata, in its order. */
  members: AssembledPv[];
  missing: MissingPv[];
  warnings: string[];
}

export interface LvmAssembly {
  volumeGroups: AssembledVolumeGroup[];
  /** PVs that belong to no VG found here (fresh `pvcreate`, or their VG's metadata is unreadable). */
  orphans: PvCandidate[];
  warnings: string[];
}

export function assembleVolumeGroups(candidates: readonly PvCandidate[]): LvmAssembly {
  const warnings: string[] = [];
  const byUuid = new Map<string, PvCandidate>();
  for (const candidate of candidates) {
    const key = uuidKey(candidate.pv.header.uuid);
    const first = byUuid.get(key);
    if (first) {
      warnings.push(
        `${candidate.source} and ${first.source} carry the same PV UUID ${candidate.pv.header.uuid} (a copied disk?); using ${first.source}`,
      );
    } else byUuid.set(key, candidate);
  }

  // The newest copy of each VG, by VG UUID: two VGs with one name (two `rhel` images) stay apart.
  const newest = new Map<string, { metadata: VolumeGroupMetadata; source: string; copies: PvCandidate[] }>();
  for (const candidate of candidates) {
    const vg = candidate.pv.volumeGroup;
    if (!vg) continue;
    const key = uuidKey(vg.id);
    const entry = newest.get(key);
    if (!entry) newest.set(key, { metadata: vg, source: candidate.source, copies: [candidate] });
    else {
      entry.copies.push(candidate);
      if (vg.seqno > entry.metadata.seqno) Object.assign(entry, { metadata: vg, source: candidate.source });
    }
  }

  const used = new Set<PvCandidate>();
  const volumeGroups = [...newest.values()].map(({ metadata, source, copies }) => {
    const vgWarnings: string[] = [];
    for (const copy of copies) {
      const seqno = copy.pv.volumeGroup!.seqno;
      if (seqno !== metadata.seqno) {
        vgWarnings.push(
          `${copy.source} holds older metadata of ${metadata.name} (seqno ${seqno} < ${metadata.seqno})`,
        );
      }
    }
    const members = metadata.physicalVolumes.map((pv): AssembledPv => {
      const found = byUuid.get(uuidKey(pv.id)) ?? null;
      if (found) {
        used.add(found);
        const needed = (pv.peStart + pv.peCount * metadata.extentSize) * LVM_SECTOR;
        if (found.disk.size < needed) {
          vgWarnings.push(
            `${found.source} (${pv.name} of ${metadata.name}) is ${found.disk.size} bytes, shorter than its extents (${needed}): truncated?`,
          );
        }
      }
      return { metadata: pv, found };
    });
    const missing = members
      .filter((m) => !m.found)
      .map(({ metadata: pv }) => ({ name: pv.name, id: pv.id, deviceHint: pv.deviceHint }));
    for (const pv of missing) {
      vgWarnings.push(
        `${metadata.name}: PV ${pv.name} (UUID ${pv.id}, last seen on ${pv.deviceHint === null ? 'an unknown device' : printable(pv.deviceHint)}) is missing`,
      );
    }
    return { metadata, metadataSource: source, members, missing, warnings: vgWarnings };
  });

  const orphans = candidates.filter((c) => !used.has(c) && byUuid.get(uuidKey(c.pv.header.uuid)) === c);
  for (const orphan of orphans) {
    if (orphan.pv.volumeGroup) {
      warnings.push(
        `${orphan.source} holds metadata of ${orphan.pv.volumeGroup.name} but that VG no longer lists it as a PV`,
      );
    }
  }
  return { volumeGroups, orphans, warnings };
}
