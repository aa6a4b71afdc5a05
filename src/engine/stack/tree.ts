/**
 * The layers read from one source, put together as one tree: source → container → table →
 * partitions → volume groups → logical volumes. A VG hangs under the partition (or disk) holding
 * its first PV found on this source; its other PVs are named in the VG itself.
 */
import type { ContentInfo } from '../../probe/types.js';
import type { Attach, ContainerLayer, Extent, StackNode, SystemLayer, VolumeGroupLayer } from './types.js';

export interface StackParts {
  source: string;
  /** Of the source itself (the file or device), 512-byte sectors. */
  sizeSectors: number;
  container: ContainerLayer | null;
  /** Of the disk the table is read from (the guest disk for a container). */
  diskSectors: number;
  table: { type: string } | null;
  partitions: {
    number: number;
    start: number;
    size: number;
    content: ContentInfo | null;
    system: SystemLayer | null;
    attach: Attach;
  }[];
  /** What the whole disk holds when it has no table. */
  content: ContentInfo | null;
  system: SystemLayer | null;
  volumeGroups: VolumeGroupLayer[];
}

const node = (
  layer: StackNode['layer'],
  name: string,
  extent: Extent | null,
  content: ContentInfo | null,
  attach: Attach | null,
  children: StackNode[] = [],
  system: SystemLayer | null = null,
): StackNode => ({ layer, name, extent, content, system, attach, children });

function volumeGroupNode(vg: VolumeGroupLayer): StackNode {
  return node(
    'volume-group',
    vg.name,
    null,
    null,
    null,
    vg.logicalVolumes.map((lv) =>
      node(
        'logical-volume',
        `${vg.name}/${lv.name}`,
        { start: 0, size: lv.sizeSectors },
        lv.content,
        lv.attach,
        [],
        lv.system,
      ),
    ),
  );
}

export function stackTree(parts: StackParts): StackNode {
  // Under the first of its PVs on this source (a VG over several sources hangs under each).
  const here = (vg: VolumeGroupLayer) =>
    vg.physicalVolumes.find((pv) => pv.source === undefined || pv.source === parts.source);
  const groupsAt = (partition: number | null) =>
    parts.volumeGroups.filter((vg) => here(vg)?.partition === partition).map(volumeGroupNode);
  const whole = { start: 0, size: parts.diskSectors };
  const inner: StackNode[] = parts.table
    ? [
        node(
          'table',
          parts.table.type,
          whole,
          null,
          null,
          parts.partitions.map((p) =>
            node(
              'partition',
              String(p.number),
              { start: p.start, size: p.size },
              p.content,
              p.attach,
              groupsAt(p.number),
              p.system,
            ),
          ),
        ),
      ]
    : groupsAt(null);
  const disk = parts.container
    ? [
        node(
          'container',
          parts.container.format,
          whole,
          parts.table ? null : parts.content,
          parts.container.attach,
          inner,
          parts.table ? null : parts.system,
        ),
      ]
    : inner;
  return node(
    'source',
    parts.source,
    { start: 0, size: parts.sizeSectors },
    parts.container || parts.table ? null : parts.content,
    null,
    disk,
    parts.container || parts.table ? null : parts.system,
  );
}
