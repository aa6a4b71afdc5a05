/**
 * Everything one device says as an LVM2 physical volume: its label and PV header, and the volume
 * group metadata in its metadata areas (usually one at 4 KiB, sometimes a second at the end of the
 * device, sometimes none). When the areas disagree, the copy with the highest seqno wins, as in
 * lvm2; a damaged area is reported and the other copy still used.
 */
import type { Disk } from '../../io/disk.js';
import { DEFAULT_LVM_LIMITS, LvmError, type LvmLimits } from './errors.js';
import { findPvLabel } from './label.js';
import { readMdaHeader } from './mda-header.js';
import { parseVolumeGroupMetadata, type VolumeGroupMetadata } from './metadata.js';
import { type MetadataText, readMetadataText } from './metadata-text.js';
import { type DiskArea, type PvHeader, parsePvHeader } from './pv-header.js';

export interface MetadataAreaRead {
  area: DiskArea;
  /** The area holds no VG metadata (the PV is in no VG, or the area is set to be ignored). */
  empty: boolean;
  ignored: boolean;
  /** Seqno of the VG metadata read from this area. */
  seqno: number | null;
  wrapped: boolean;
  /** Why the area could not be read; the other area may still have been. */
  error: string | null;
}

export interface PhysicalVolumeRead {
  /** 512-byte sector (0-3) of the label. */
  labelSector: number;
  header: PvHeader;
  metadataAreas: MetadataAreaRead[];
  /** The newest VG metadata among the areas, or null (no VG recorded here, or none readable). */
  volumeGroup: VolumeGroupMetadata | null;
  /** Human-readable notes: areas that failed or disagree. */
  warnings: string[];
}

/**
 * Null when the device has no LVM2 label. A damaged label or PV header throws LvmError; problems
 * in the metadata areas are reported in the result. Reads: the first 2 KiB, one sector per
 * metadata area header, and each metadata text (capped by `limits.maxTextBytes`).
 */
export function readPhysicalVolume(
  disk: Disk,
  limits: LvmLimits = DEFAULT_LVM_LIMITS,
): PhysicalVolumeRead | null {
  const label = findPvLabel(disk);
  if (!label) return null;
  const header = parsePvHeader(label);
  const warnings: string[] = [];
  const metadataAreas: MetadataAreaRead[] = [];
  let volumeGroup: VolumeGroupMetadata | null = null;
  // Both areas normally hold the same text: parse it once.
  const parsed = new Map<string, VolumeGroupMetadata>();
  for (const area of header.metadataAreas) {
    const read: MetadataAreaRead = {
      area,
      empty: true,
      ignored: false,
      seqno: null,
      wrapped: false,
      error: null,
    };
    metadataAreas.push(read);
    try {
      const mda = readMdaHeader(disk, area);
      read.ignored = mda.committed?.ignored ?? false;
      if (read.ignored) continue;
      const text = readMetadataText(disk, mda, limits);
      if (!text) continue;
      read.empty = false;
      read.wrapped = text.wrapped;
      const vg = parseOnce(parsed, text, limits);
      read.seqno = vg.seqno;
      if (volumeGroup && (volumeGroup.id !== vg.id || volumeGroup.seqno !== vg.seqno)) {
        warnings.push(
          `PV ${header.uuid}: metadata areas disagree (${volumeGroup.name} seqno ${volumeGroup.seqno}, ${vg.name} seqno ${vg.seqno}); using the newer`,
        );
      }
      if (!volumeGroup || vg.seqno > volumeGroup.seqno) volumeGroup = vg;
    } catch (error) {
      if (!(error instanceof LvmError)) throw error;
      read.error = error.message;
      warnings.push(`PV ${header.uuid}: ${error.message}`);
    }
  }
  return { labelSector: label.sector, header, metadataAreas, volumeGroup, warnings };
}

function parseOnce(cache: Map<string, VolumeGroupMetadata>, text: MetadataText, limits: LvmLimits) {
  let vg = cache.get(text.text);
  if (!vg) {
    vg = parseVolumeGroupMetadata(text.text, limits);
    cache.set(text.text, vg);
  }
  return vg;
}
