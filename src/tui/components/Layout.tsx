import { Box, Text } from 'ink';
import { barSegments, segmentText } from '../bar.js';
import { humanBytes, humanSectors, padEnd, padStart, truncate, visibleWindow } from '../format.js';
import type { ContainerView, LayoutView, PartitionRow } from '../model.js';
import type { Theme } from '../theme.js';

export interface LayoutProps {
  layout: LayoutView;
  selected: number;
  width: number;
  /** Rows for the table body (header, bar and detail line come on top). */
  tableRows: number;
  theme: Theme;
}

/** Header lines: table type, size, sector size, count, and the disk id (on its own line if need be). */
export function layoutHeaderLines(layout: LayoutView, width: number): string[] {
  const container = layout.container ? [truncate(containerLine(layout.container), width)] : [];
  return [...container, ...tableHeaderLines(layout, width)];
}

/** `qcow2 image · virtual size 20.0 GiB · QEMU qcow2 v3 image · cluster size 64 KiB`: the layer the table is read through. */
export function containerLine(container: ContainerView): string {
  return [
    `${container.format} image`,
    container.virtualSize === null ? undefined : `virtual size ${humanBytes(container.virtualSize)}`,
    container.description,
    ...container.features,
    container.problem ? `unreadable: ${container.problem}` : undefined,
  ]
    .filter(Boolean)
    .join(' · ');
}

function tableHeaderLines(layout: LayoutView, width: number): string[] {
  const facts = [
    layout.tableType ? `${layout.tableType} table` : 'no partition table',
    `${humanSectors(layout.sizeSectors)} (${layout.sizeSectors} sectors)`,
    `${layout.sectorSize}-byte sectors`,
    `${layout.partitions.filter((p) => p.size > 0).length} partitions`,
  ].join(' · ');
  if (!layout.diskId) return [truncate(facts, width)];
  const oneLine = `${facts} · id ${layout.diskId}`;
  return oneLine.length <= width
    ? [oneLine]
    : [truncate(facts, width), truncate(`disk id ${layout.diskId}`, width)];
}

export function LayoutHeader({ layout, width, theme }: { layout: LayoutView; width: number; theme: Theme }) {
  return (
    <Text color={theme.accent} wrap="truncate">
      {layoutHeaderLines(layout, width).join('\n')}
    </Text>
  );
}

/** The whole disk as one proportional bar; free space is shaded. */
export function DiskBar({ layout, width, theme }: { layout: LayoutView; width: number; theme: Theme }) {
  const segments = barSegments(layout.partitions, layout.sizeSectors, width);
  return (
    <Text wrap="truncate">
      {segments.map((segment, i) => (
        <Text
          // biome-ignore lint/suspicious/noArrayIndexKey: segments have no identity besides position
          key={i}
          color={segment.number === 0 ? theme.free : theme.segments[i % theme.segments.length]}
        >
          {segmentText(segment, i)}
        </Text>
      ))}
    </Text>
  );
}

interface Column {
  title: string;
  width: number;
  right?: boolean;
  cell: (p: PartitionRow) => string;
}

/** `Debian 12 root · ext4 "root"`: the system found without mounting first, so a narrow cell keeps it. */
const contentsCell = (p: PartitionRow): string => [p.system, p.contents].filter(Boolean).join(' · ');

/** Columns that fit `width`: numbers always, text columns share what is left. */
export function tableColumns(partitions: PartitionRow[], width: number): Column[] {
  // An extended partition is shown with its whole extent (its 1 KiB map is in the preview).
  const length = (p: PartitionRow) => p.extent ?? p.size;
  const maxEnd = partitions.reduce((m, p) => Math.max(m, p.start + length(p)), 0);
  const numberWidth = Math.max(7, String(maxEnd).length);
  const depthOf = (p: PartitionRow) => (p.container ? '└' : '');
  const fixed: Column[] = [
    { title: '#', width: 4, cell: (p) => `${depthOf(p)}${p.number}` },
    { title: 'Start', width: numberWidth, right: true, cell: (p) => String(p.start) },
    {
      title: 'End',
      width: numberWidth,
      right: true,
      cell: (p) => (length(p) ? String(p.start + length(p) - 1) : '-'),
    },
    { title: 'Sectors', width: numberWidth, right: true, cell: (p) => String(length(p)) },
    { title: 'Size', width: 8, right: true, cell: (p) => humanSectors(length(p)) },
  ];
  const used = fixed.reduce((sum, c) => sum + c.width + 1, 2);
  const rest = Math.max(0, width - used);
  const hasNames = partitions.some((p) => p.gptName);
  const hasFlags = partitions.some((p) => p.flags.length > 0);
  const hasMaps = partitions.some((p) => p.mappedAs);
  // Each text column: its weight when they must share, and at most how wide it is worth being (a
  // type name past 24 characters is rare; names, contents and maps take what they need).
  const wanted: [Column, number, number][] = [
    [{ title: 'Type', width: 0, cell: (p) => p.typeName }, 3, 24],
    ...(hasNames
      ? ([[{ title: 'Name', width: 0, cell: (p) => p.gptName ?? '' }, 2, 36]] as [Column, number, number][])
      : []),
    ...(hasFlags
      ? ([[{ title: 'Fl', width: 0, cell: (p) => p.flags.join(',') }, 1, 24]] as [Column, number, number][])
      : []),
    [{ title: 'Contents', width: 0, cell: contentsCell }, 3, Number.MAX_SAFE_INTEGER],
    ...(hasMaps
      ? ([[{ title: 'Map', width: 0, cell: (p) => p.mappedAs ?? '' }, 2, Number.MAX_SAFE_INTEGER]] as [
          Column,
          number,
          number,
        ][])
      : []),
  ];
  const needs = wanted.map(([c, , cap]) =>
    Math.min(cap, Math.max(c.title.length, ...partitions.map((p) => c.cell(p).length))),
  );
  const widths = shareWidth(
    rest - wanted.length,
    needs,
    wanted.map(([, w]) => w),
  );
  const flexible = wanted.map(([c], i) => ({ ...c, width: Math.max(2, widths[i]!) }));
  return [...fixed, ...flexible];
}

/**
 * `total` columns shared by weight, none given more than it needs: what a column does not need goes
 * to the others, by their weights, until every one has what it needs or the room is used up.
 */
export function shareWidth(total: number, needs: number[], weights: number[]): number[] {
  const widths = needs.map(() => 0);
  let open = needs.map((_, i) => i);
  let room = Math.max(0, total);
  while (open.length > 0 && room > 0) {
    const weight = open.reduce((sum, i) => sum + weights[i]!, 0);
    const satisfied = open.filter((i) => needs[i]! - widths[i]! <= Math.floor((room * weights[i]!) / weight));
    if (satisfied.length === 0) {
      for (const i of open) widths[i]! += Math.floor((room * weights[i]!) / weight);
      break;
    }
    for (const i of satisfied) {
      room -= needs[i]! - widths[i]!;
      widths[i] = needs[i]!;
    }
    open = open.filter((i) => !satisfied.includes(i));
  }
  return widths;
}

function row(columns: Column[], p: PartitionRow): string {
  return columns.map((c) => (c.right ? padStart(c.cell(p), c.width) : padEnd(c.cell(p), c.width))).join(' ');
}

/**
 * The LVM layer under a PV partition (0: the whole disk): the VG, then each LV indented, with size,
 * segment type, content and how it can be attached. A VG over several PVs comes under its first.
 */
export function volumeGroupLines(layout: LayoutView, partition: number): string[] {
  const lines: string[] = [];
  for (const vg of layout.volumeGroups ?? []) {
    const first = vg.pvPartitions[0];
    if (first !== partition) {
      if (vg.pvPartitions.includes(partition)) lines.push(`    └ PV of VG ${vg.name} (see #${first})`);
      continue;
    }
    const places = [...vg.pvPartitions.map((n) => (n === 0 ? 'this disk' : `#${n}`)), ...vg.pvElsewhere];
    const pvs = places.length > 1 ? ` · PVs on ${places.join(', ')}` : '';
    const missing = vg.missing.length > 0 ? ` · missing ${vg.missing.join(', ')}` : '';
    lines.push(
      `    └ VG ${vg.name} · ${humanSectors(vg.sizeSectors)} · ${humanSectors(vg.freeSectors)} free${pvs}${missing}`,
    );
    for (const lv of vg.logicalVolumes) {
      const contents = [lv.system, lv.contents].map((text) => (text ? ` · ${text}` : '')).join('');
      lines.push(
        `        ${vg.name}/${lv.name} · ${humanSectors(lv.sizeSectors)} · ${lv.segmentType}${contents} · ${lv.attach}`,
      );
    }
  }
  return lines;
}

type TableLine = { kind: 'partition'; index: number; p: PartitionRow } | { kind: 'lvm'; text: string };

/** Partitions in order, each followed by the LVM rows under it; whole-disk VGs first. */
export function tableLines(layout: LayoutView): TableLine[] {
  const lines: TableLine[] = volumeGroupLines(layout, 0).map((text) => ({ kind: 'lvm', text }));
  layout.partitions.forEach((p, index) => {
    lines.push({ kind: 'partition', index, p });
    for (const text of volumeGroupLines(layout, p.number)) lines.push({ kind: 'lvm', text });
  });
  return lines;
}

export function PartitionTable({ layout, selected, width, tableRows, theme }: LayoutProps) {
  const columns = tableColumns(layout.partitions, width);
  const header = columns
    .map((c) => (c.right ? padStart(c.title, c.width) : padEnd(c.title, c.width)))
    .join(' ');
  const lines = tableLines(layout);
  const selectedLine = Math.max(
    0,
    lines.findIndex((line) => line.kind === 'partition' && line.index === selected),
  );
  const scrolls = lines.length > tableRows;
  const height = scrolls ? tableRows - 1 : tableRows;
  let { from, to } = visibleWindow(lines.length, selectedLine, height);
  // A selected PV partition brings the VG and LV rows under it into view, as far as they fit.
  let last = selectedLine;
  while (lines[last + 1]?.kind === 'lvm') last++;
  if (last >= to && last - selectedLine < height) {
    from = last - height + 1;
    to = last + 1;
  }
  const rows = lines.slice(from, to);
  return (
    <Box flexDirection="column">
      <Text bold wrap="truncate">
        {truncate(`  ${header}`, width)}
      </Text>
      {layout.partitions.length === 0 && rows.length === 0 ? <Text dimColor> (no partitions)</Text> : null}
      {rows.map((line, i) => {
        if (line.kind === 'lvm')
          return (
            // biome-ignore lint/suspicious/noArrayIndexKey: LVM rows are identified by their place under the partition
            <Text key={`lvm${from + i}`} color={theme.accent} wrap="truncate">
              {truncate(line.text, width)}
            </Text>
          );
        const { p } = line;
        return (
          <Text key={p.number} inverse={line.index === selected} wrap="truncate" dimColor={p.size === 0}>
            {truncate(`${p.mappedAs ? '●' : ' '} ${row(columns, p)}`, width)}
          </Text>
        );
      })}
      {scrolls ? <Text color={theme.muted}>{`  ${from + 1}–${to} of ${lines.length}`}</Text> : null}
    </Box>
  );
}

/** Lines the detail of a partition may take; each past the first is taken from the maps preview. */
const DETAIL_LINES = 3;

/**
 * Everything known about the highlighted partition: one line, or more (broken between facts) when
 * one would cut it.
 */
export function partitionDetailLines(partition: PartitionRow | undefined, width: number): string[] {
  if (!partition) return [' '];
  const parts = [
    `#${partition.number} ${partition.kind}`,
    partition.typeCode ? `type ${partition.typeCode}` : undefined,
    partition.gptName ? `name "${partition.gptName}"` : undefined,
    partition.flags.length ? `flags ${partition.flags.join(',')}` : undefined,
    partition.contents,
    partition.systemDetail,
    partition.extent !== undefined ? `its map covers ${humanSectors(partition.size)} (the table)` : undefined,
    partition.mappedAs ? `mapped as ${partition.mappedAs}` : 'not mapped',
  ].filter((part): part is string => Boolean(part));
  // Facts are packed line by line, never split; a fact longer than a line is cut.
  const lines: string[] = [];
  for (const part of parts) {
    const last = lines.at(-1);
    if (last !== undefined && `${last} · ${part}`.length <= width)
      lines[lines.length - 1] = `${last} · ${part}`;
    else lines.push(lines.length === 0 ? part : `  ${part}`);
  }
  const shown = lines.slice(0, DETAIL_LINES);
  if (lines.length > DETAIL_LINES)
    shown[DETAIL_LINES - 1] = `${shown[DETAIL_LINES - 1]} · ${lines.slice(DETAIL_LINES).join(' · ').trim()}`;
  return shown.map((line) => truncate(line, width));
}

export function PartitionDetail({
  partition,
  width,
}: {
  partition: PartitionRow | undefined;
  width: number;
}) {
  return <Text wrap="truncate">{partitionDetailLines(partition, width).join('\n')}</Text>;
}

/** The next step for content that is not mounted as it is (LUKS, LVM, md RAID, ZFS, swap…). */
export function partitionNextLine(partition: PartitionRow | undefined, width: number): string | undefined {
  return partition?.contentHint ? truncate(`next: ${partition.contentHint}`, width) : undefined;
}

export function PartitionNext({
  partition,
  width,
  theme,
}: {
  partition: PartitionRow | undefined;
  width: number;
  theme: Theme;
}) {
  const line = partitionNextLine(partition, width);
  return line ? (
    <Text color={theme.accent} wrap="truncate">
      {line}
    </Text>
  ) : null;
}
