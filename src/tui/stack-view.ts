/**
 * The storage stack's container and LVM layers (src/engine/stack) as the layout draws them: the
 * container line, each volume group with its LVs under the PV partitions, and the system a
 * filesystem holds.
 */
import type { ContainerLayer, SystemLayer, VolumeGroupLayer } from '../engine/stack/index.js';
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

/**
 * The VG rows of one source. With several sources given, a VG's PVs on the others are named by
 * their source (`b.img`, `b.img #2`) instead of being counted as this source's partitions.
 */
export function volumeGroupRows(
  groups: readonly VolumeGroupLayer[],
  contentText: (info: ContentInfo | null) => string | undefined,
  sources: {
    isHere: (pv: { source?: string }) => boolean;
    givenAs: (source: string) => string;
  } = { isHere: () => true, givenAs: (source) => source },
): VolumeGroupRow[] {
  return groups.map((vg) => ({
    name: vg.name,
    sizeSectors: vg.sizeSectors,
    freeSectors: vg.freeSectors,
    pvPartitions: vg.physicalVolumes.filter(sources.isHere).map((pv) => pv.partition ?? 0),
    pvElsewhere: vg.physicalVolumes
      .filter((pv) => !sources.isHere(pv))
      .map((pv) => `${sources.givenAs(pv.source ?? '')}${pv.partition ? ` #${pv.partition}` : ''}`),
    missing: vg.missing.map((pv) => `${pv.name}${pv.lastSeenOn ? ` (last on ${pv.lastSeenOn})` : ''}`),
    logicalVolumes: vg.logicalVolumes.map((lv) => {
      const contents = contentText(lv.content);
      return {
        name: lv.name,
        sizeSectors: lv.sizeSectors,
        segmentType: lv.segmentType,
        ...(contents ? { contents } : {}),
        ...(lv.system ? { system: shortSystemLabel(lv.system.label) } : {}),
        attach: lv.attach.text,
      };
    }),
  }));
}

/**
 * `Debian 12 root`: a system's label as a layout row has room for. os-release NAMEs ending in
 * "GNU/Linux" (Debian, Kali, Devuan) lose that ending; the others are kept (`Rocky Linux 9.4 root`).
 */
export const shortSystemLabel = (label: string): string => label.replace(/ GNU\/Linux(?= |$)/, '');

/** A system found without mounting, as the layout names it: the short label, then in full with host and SELinux. */
export function systemView(system: SystemLayer | null | undefined): {
  system?: string;
  systemDetail?: string;
} {
  if (!system) return {};
  const selinux = system.selinux
    ? `SELinux ${system.selinux}${system.selinuxPolicy ? ` (${system.selinuxPolicy})` : ''}`
    : undefined;
  const detail = [system.label, system.hostname ? `host ${system.hostname}` : undefined, selinux];
  return { system: shortSystemLabel(system.label), systemDetail: detail.filter(Boolean).join(' · ') };
}
