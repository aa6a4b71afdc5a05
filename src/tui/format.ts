/** Small pure text helpers for fixed-width screens. */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** `1536` → `1.5 KiB`; at most 4 significant characters before the unit. */
export function humanBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  if (unit === 0) return `${bytes} B`;
  const text = value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
  // 1.50 → 1.5, 2.00 → 2, but 160 stays 160.
  return `${text.includes('.') ? text.replace(/\.?0+$/, '') : text} ${UNITS[unit]}`;
}

export const humanSectors = (sectors: number): string => humanBytes(sectors * 512);

/** Cut to `width` columns, marking the cut with an ellipsis. */
export function truncate(text: string, width: number): string {
  if (width <= 0) return '';
  if (text.length <= width) return text;
  if (width === 1) return '…';
  return `${text.slice(0, width - 1)}…`;
}

export const padEnd = (text: string, width: number): string => truncate(text, width).padEnd(width);
export const padStart = (text: string, width: number): string => truncate(text, width).padStart(width);

/** Keep the window of `height` rows that contains `selected`, scrolling as little as needed. */
export function visibleWindow(count: number, selected: number, height: number): { from: number; to: number } {
  if (height <= 0) return { from: 0, to: 0 };
  if (count <= height) return { from: 0, to: count };
  const from = Math.min(Math.max(0, selected - Math.floor(height / 2)), count - height);
  return { from, to: from + height };
}
