/**
 * The proportional disk bar: the whole source in `width` cells, each cell showing the partition
 * (or free space) that covers most of it. Pure, so its proportions are tested without a terminal.
 */
import type { PartitionRow } from './model.js';

export interface BarSegment {
  /** Partition number, or 0 for free space. */
  number: number;
  cells: number;
}

interface Span {
  number: number;
  start: number;
  end: number;
}

/** `items` in disk order within [from, to), gaps between them given `gap` as their number. */
function fill(items: Span[], from: number, to: number, gap: number): Span[] {
  const result: Span[] = [];
  let cursor = from;
  for (const span of [...items].sort((a, b) => a.start - b.start)) {
    if (span.start > cursor) result.push({ number: gap, start: cursor, end: span.start });
    const start = Math.max(span.start, cursor);
    const end = Math.min(span.end, to);
    if (end > start) result.push({ number: span.number, start, end });
    cursor = Math.max(cursor, end);
  }
  if (cursor < to) result.push({ number: gap, start: cursor, end: to });
  return result;
}

const spanOf = (p: PartitionRow, sizeSectors: number): Span => ({
  number: p.number,
  start: p.start,
  end: Math.min(p.start + (p.extent ?? p.size), sizeSectors),
});

/**
 * Areas in disk order: top-level partitions (an extended one with its whole extent) and the gaps
 * between them; an extended partition is drawn as its logical partitions, each taking the boot
 * record and alignment gap before it, and the space after the last is free.
 */
function spans(partitions: PartitionRow[], sizeSectors: number): Span[] {
  const top = partitions
    .filter((p) => p.container === 0 && (p.extent ?? p.size) > 0)
    .map((p) => spanOf(p, sizeSectors))
    .filter((s) => s.end > s.start);
  return fill(top, 0, sizeSectors, 0).flatMap((area) => {
    const inside = partitions.filter((p) => p.container === area.number && p.container !== 0 && p.size > 0);
    if (
      area.number === 0 ||
      inside.length === 0 ||
      !partitions.some((p) => p.number === area.number && p.kind === 'extended')
    )
      return [area];
    const logicals = inside
      .map((p) => spanOf(p, sizeSectors))
      .filter((s) => s.end > s.start && s.start >= area.start)
      .sort((a, b) => a.start - b.start);
    let cursor = area.start;
    const grown = logicals.map((s) => {
      const span = { ...s, start: Math.min(s.start, Math.max(cursor, area.start)) };
      cursor = Math.max(cursor, s.end);
      return span;
    });
    return fill(grown, area.start, area.end, 0);
  });
}

/**
 * Cells per area. Every partition gets at least one cell while there is room (a 1 MiB ESP on a
 * 1 TiB disk must stay visible); the rest is shared by size, largest remainders first.
 */
export function barSegments(partitions: PartitionRow[], sizeSectors: number, width: number): BarSegment[] {
  if (width <= 0 || sizeSectors <= 0) return [];
  let areas = spans(partitions, sizeSectors);
  // Too many areas for the width: drop the smallest gaps first, then the smallest partitions.
  while (areas.length > width) {
    const victim = areas.reduce((min, a) =>
      (a.number === 0 ? 0 : 1) < (min.number === 0 ? 0 : 1) ||
      ((a.number === 0) === (min.number === 0) && a.end - a.start < min.end - min.start)
        ? a
        : min,
    );
    areas = areas.filter((a) => a !== victim);
  }
  const total = areas.reduce((sum, a) => sum + (a.end - a.start), 0);
  const spare = width - areas.length;
  const shares = areas.map((a) => ((a.end - a.start) / total) * spare);
  const cells = shares.map((s) => 1 + Math.floor(s));
  let left = width - cells.reduce((sum, c) => sum + c, 0);
  const order = shares.map((s, i) => ({ i, r: s - Math.floor(s) })).sort((a, b) => b.r - a.r);
  for (const { i } of order) {
    if (left <= 0) break;
    cells[i] = (cells[i] ?? 0) + 1;
    left -= 1;
  }
  return areas.map((a, i) => ({ number: a.number, cells: cells[i] ?? 0 }));
}

/** The text of one segment: its number, then a fill; free space is a light shade. */
export function segmentText(segment: BarSegment, index: number): string {
  if (segment.number === 0) return '░'.repeat(segment.cells);
  const fill = index % 2 === 0 ? '█' : '▓';
  const label = String(segment.number);
  if (label.length + 1 > segment.cells) return fill.repeat(segment.cells);
  return `${label}${fill.repeat(segment.cells - label.length)}`;
}
