import type { PartitionTable, TableType } from '../partition.js';
import type { ReadContext } from './context.js';

/**
 * One partition-table format. `read` returns null when the disk does not hold this format or the
 * format holds nothing usable (the C tool's -1 and 0: try the next reader), else the table with
 * one slot per slice the C tool would fill (empty slots included, so numbering matches).
 */
export interface TableReader {
  readonly type: TableType;
  read(context: ReadContext): PartitionTable | null;
}
