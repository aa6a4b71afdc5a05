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

/** Top-level areas in disk order: partitions without container, and the gaps between them. */
function spans(partitions: PartitionRow[], sizeSectors: number): Span[] {
  const top = partitions
    .filter((p) => p.container === 0 && p.size > 0)
    .map((p) => ({ number: p.number, start: p.start, end: Math.min(p.start + p.size, sizeSectors) }))
    .filter((s) => s.end > s.start)
    .sort((a, b) => a.start - b.start);
  const result: Span[] = [];
  let cursor = 0;
  for (const span of top) {
    if (span.start > cursor) result.push({ number: 0, start: cursor, end: span.start });
    const start = Math.max(span.start, cursor);
    if (span.end > start) result.push({ number: span.number, start, end: span.end });
    cursor = Math.max(cursor, span.end);
  }
  if (cursor < sizeSectors) result.push({ number: 0, start: cursor, end: sizeSectors });
  return result;
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
