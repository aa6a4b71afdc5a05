import type { Disk } from '../../io/disk.js';
import { containerListNote, openContainerLayer } from './container.js';

/**
 * The note `kpartx -l`/`-a` print on stderr when the image is a VM disk container whose bytes
 * are not its disk (the C tool lists those bytes, usually nothing): null for anything else.
 */
export function containerNote(disk: Disk, operand: string, file: string): string | null {
  const opened = openContainerLayer(disk, operand, file);
  if (!opened) return null;
  try {
    return containerListNote(operand, opened.layer);
  } finally {
    opened.close();
  }
}
