/**
 * The storage stack's container and LVM layers (src/engine/stack) as the layout draws them: the
 * container line, and each volume group with its LVs under the PV partitions.
 */
import type { ContainerLayer, VolumeGroupLayer } from '../engine/stack/index.js';
import type { ContentInfo } from '../probe/index.js';
import type { ContainerView, VolumeGroupRow } from './model.js';

export function containerView(layer: ContainerLayer): ContainerView {
  return {
    format: layer.format,
    description: layer.description,
    virtualSize: layer.virtualSize,
    features: layer.features,
    ...(layer.problem ? { problem: layer.problem } : {}),
  };
}

export function volumeGroupRows(
  groups: readonly VolumeGroupLayer[],
  contentText: (info: ContentInfo | null) => string | undefined,
): VolumeGroupRow[] {
  return groups.map((vg) => ({
    name: vg.name,
    sizeSectors: vg.sizeSectors,
    freeSectors: vg.freeSectors,
    pvPartitions: vg.physicalVolumes.map((pv) => pv.partition ?? 0),
    missing: vg.missing.map((pv) => `${pv.name}${pv.lastSeenOn ? ` (last on ${pv.lastSeenOn})` : ''}`),
    logicalVolumes: vg.logicalVolumes.map((lv) => {
      const contents = contentText(lv.content);
      return {
        name: lv.name,
        sizeSectors: lv.sizeSectors,
        segmentType: lv.segmentType,
        ...(contents ? { contents } : {}),
        attach: lv.attach.text,
      };
    }),
  }));
}
