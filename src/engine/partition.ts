/**
 * What a partition-table reader returns. Units follow kpartx: every start and size is in
 * 512-byte sectors, whatever the device's logical sector size.
 */

/** Table formats the C kpartx reads, in its probing order. */
export const TABLE_TYPES = ['gpt', 'dos', 'bsd', 'solaris', 'unixware', 'dasd', 'mac', 'sun', 'ps3'] as const;
export type TableType = (typeof TABLE_TYPES)[number];

export type SlotKind = 'primary' | 'extended' | 'logical' | 'nested';

export interface PartitionTypeInfo {
  /** As the format stores it: `0x83` for DOS, the type GUID for GPT, `Apple_HFS` for Mac… */
  code: string;
  /** Readable name, e.g. `Linux`, `EFI System`, `Linux swap`. */
  name: string;
}

/** One slot of the table. Slot `number - 1` is the C tool's slice index. */
export interface Slot {
  /** Partition number as kpartx names it (slice index + 1). */
  number: number;
  /** Absolute start, 512-byte sectors. */
  start: number;
  /** Length, 512-byte sectors; 0 means an empty slot: it keeps its number but is never mapped. */
  size: number;
  /** 0, or the `number` of the slot that contains this one (logical and nested partitions). */
  container: number;
  kind: SlotKind;
  type?: PartitionTypeInfo;
  /** GPT partition name, Mac partition name. */
  name?: string;
  /** GPT unique partition GUID (lower case, dashed). */
  uuid?: string;
  /** GPT attribute bits as 0x-prefixed hex. */
  attributes?: string;
  /** DOS boot indicator 0x80. */
  bootable?: boolean;
  /** An extended partition's whole length (512-byte sectors), where `size` is only its 1 KiB map's. */
  extent?: number;
}

export interface PartitionTable {
  type: TableType;
  /** Logical sector size the table was read with. */
  sectorSize: number;
  /** DOS disk signature (`0x1234abcd`) or GPT disk GUID. */
  diskId?: string;
  slots: Slot[];
}
