/**
 * How each layer of the stack can be attached, decided from data alone: a partition by a map on
 * its parent (unless the parent is a container only qemu-nbd can present), a container through
 * nbd, a logical volume by a linear or striped map (striped and multi-segment ones need
 * device-mapper), and the LV kinds only lvm2 can activate named with the lvm2 command.
 */
import type { LvMapResult } from '../lvm/extents.js';
import type { LogicalVolumeMetadata } from '../lvm/metadata.js';
import type { Attach } from './types.js';

export const PARTITION_MAP: Attach = { method: 'partition-map', text: 'partition map' };
export const NEEDS_NBD: Attach = { method: 'nbd', text: 'needs nbd (qemu-nbd)', needs: 'nbd' };

/** The VM disk formats qemu-nbd presents as a block device. */
const NBD_FORMATS = new Set(['qcow2', 'qcow', 'qed', 'vmdk', 'vhd', 'vhdx', 'vdi']);

/**
 * A container's own attach: a fixed VHD's bytes are the disk; VM disk formats go through qemu-nbd;
 * compressed files and forensic images are not attached at all (their advice says what to do).
 */
export function containerAttach(container: { format: string; mappable: boolean; advice: string[] }): Attach {
  if (container.mappable)
    return { method: 'partition-map', text: 'raw disk with a footer: its partitions map as they are' };
  if (NBD_FORMATS.has(container.format)) return NEEDS_NBD;
  return { method: 'none', text: `not mappable: ${container.advice[0] ?? 'not a disk image'}` };
}

/** A partition inside a container that is not raw cannot be mapped from the file's bytes. */
export function partitionAttach(insideContainer: boolean, pastEnd: boolean): Attach {
  if (pastEnd) return { method: 'none', text: 'not mappable: past the end of the device' };
  return insideContainer ? NEEDS_NBD : PARTITION_MAP;
}

const KIND_NAMES: Record<string, string> = {
  'thin-pool': 'thin pool',
  thin: 'thin volume',
  snapshot: 'snapshot',
  mirror: 'mirror',
  raid: 'RAID volume',
  cache: 'cached volume',
  'cache-pool': 'cache pool',
  vdo: 'VDO volume',
  'vdo-pool': 'VDO pool',
  writecache: 'write-cached volume',
  integrity: 'integrity volume',
  error: 'error volume',
  zero: 'zero volume',
};

/** lvs' segtype: a striped segment of one stripe is `linear`. */
export function segmentTypeOf(lv: LogicalVolumeMetadata): string {
  const first = lv.segments[0];
  if (!first) return 'none';
  if (first.kind === 'striped') return first.stripes.length === 1 ? 'linear' : 'striped';
  return first.type;
}

/**
 * From the LV's map: one linear run maps as a loop with offset and size as well as with dm;
 * several runs or stripes need device-mapper; other kinds are lvm2's to activate.
 */
export function lvAttach(vgName: string, lv: LogicalVolumeMetadata, mapped: LvMapResult): Attach {
  if (mapped.ok) {
    const { targets } = mapped.map;
    if (targets.length === 1 && targets[0]!.kind === 'linear')
      return { method: 'lv-linear-map', text: 'lv linear map' };
    const striped = targets.some((t) => t.kind === 'striped');
    return {
      method: striped ? 'lv-striped-map' : 'lv-linear-map',
      text: `lv ${striped ? 'striped' : 'linear'} map of ${targets.length} target${targets.length === 1 ? '' : 's'} (needs device-mapper)`,
      needs: 'device-mapper',
    };
  }
  const other = lv.segments.find((s) => s.kind !== 'striped');
  const kind = other ? (KIND_NAMES[other.kind] ?? other.type) : 'layered volume';
  return { method: 'none', text: `not mappable: ${kind} — use lvchange -ay ${vgName}/${lv.name}` };
}
