/**
 * The containment/overlap rule the C tool applies to BSD and Sun labels, whose 'c' (BSD) or
 * backup (Sun) slice conventionally spans the whole disk.
 *
 * For every ordered pair (i, j) of non-empty slots, in index order:
 * - i starts before j and ends strictly inside j → `<label>: slice i overlaps with j` (0-based
 *   indices) and i becomes empty;
 * - i starts at or after j and ends at or before j's end → i is nested in j (the last such j wins,
 *   so two identical slices contain each other).
 * Sizes are changed while the pairs are walked, exactly as the C tool does, so a slot emptied
 * earlier no longer counts for later pairs. Arithmetic is exact (no 32-bit wrap-around).
 */
import type { Slot } from '../partition.js';

export type ContainmentLabel = 'bsd_disklabel' | 'sun_disklabel';

export function applyContainment(slots: Slot[], label: ContainmentLabel, warn: (line: string) => void): void {
  for (let i = 0; i < slots.length; i++) {
    const inner = slots[i]!;
    if (inner.size === 0) continue;
    const end = inner.start + inner.size;
    for (let j = 0; j < slots.length; j++) {
      if (i === j) continue;
      const outer = slots[j]!;
      if (outer.size === 0) continue;
      const outerEnd = outer.start + outer.size;
      if (inner.start < outer.start) {
        if (end > outer.start && end < outerEnd) {
          warn(`${label}: slice ${i} overlaps with ${j}`);
          inner.size = 0;
        }
      } else if (end <= outerEnd) {
        inner.container = outer.number;
        inner.kind = 'nested';
      }
    }
  }
}
