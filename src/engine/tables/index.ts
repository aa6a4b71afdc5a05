/**
 * All partition-table readers, in the order the C kpartx tries them. The first reader that returns
 * a table wins; a reader that finds nothing usable returns null and the next one runs.
 */
import type { Disk } from '../../io/disk.js';
import type { PartitionTable } from '../partition.js';
import { bsdReader } from './bsd.js';
import { createReadContext } from './context.js';
import { dasdReader } from './dasd.js';
import { dosReader } from './dos.js';
import { gptReader } from './gpt.js';
import { macReader } from './mac.js';
import { ps3Reader } from './ps3.js';
import type { TableReader } from './reader.js';
import { solarisReader } from './solaris.js';
import { sunReader } from './sun.js';
import { unixwareReader } from './unixware.js';

export const READERS: readonly TableReader[] = [
  gptReader,
  dosReader,
  bsdReader,
  solarisReader,
  unixwareReader,
  dasdReader,
  macReader,
  sunReader,
  ps3Reader,
];

export interface ReadTableOptions {
  /** The C tool's `-t NAME`: run only this reader; an unknown name runs none. */
  only?: string;
  /** `-g`: accept a GPT whose protective MBR is invalid. */
  forceGpt?: boolean;
  /** Receives the C tool's diagnostics (stderr lines), in order. */
  warn?: (line: string) => void;
}

export function readPartitionTable(disk: Disk, options: ReadTableOptions = {}): PartitionTable | null {
  const context = createReadContext(disk, { forceGpt: options.forceGpt ?? false, warn: options.warn });
  for (const reader of READERS) {
    if (options.only !== undefined && reader.type !== options.only) continue;
    const table = reader.read(context);
    // A table without slots is the C tool's "0 slices": keep looking.
    if (table && table.slots.length > 0) return table;
  }
  return null;
}
