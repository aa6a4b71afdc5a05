import type { Disk } from '../../io/disk.js';

/** What every table reader is handed. */
export interface ReadContext {
  readonly disk: Disk;
  /** `-g`: accept a GPT whose protective MBR is invalid. */
  readonly forceGpt: boolean;
  /**
   * The 512-byte block `blk` (512-byte units, whatever the sector size), read as the C tool's
   * getblock does: the whole logical sector is read and cached; past the end it reports
   * `llseek error`, on a short or failed read `read error, sector <n>`, and returns null.
   */
  block(blk: number): Uint8Array | null;
  /** A diagnostic line for stderr, in the C tool's words where it has them. */
  warn(line: string): void;
}

export function createReadContext(
  disk: Disk,
  options: { forceGpt?: boolean; warn?: (line: string) => void } = {},
) {
  const cache = new Map<number, Uint8Array>();
  const warn = options.warn ?? (() => {});
  const sectorSize = disk.sectorSize;
  const perSector = Math.max(1, Math.floor(sectorSize / 512));
  const context: ReadContext = {
    disk,
    forceGpt: options.forceGpt ?? false,
    warn,
    block(blk) {
      const sector = Math.floor(blk / perSector);
      let data = cache.get(sector);
      if (!data) {
        const offset = sector * sectorSize;
        if (offset > disk.size) {
          warn('llseek error');
          return null;
        }
        try {
          data = disk.readAt(offset, sectorSize);
        } catch {
          // The C tool's read(2) failing (EIO from a device whose last sector is partial) is the
          // same short read to it: warned, and the table simply is not there.
          data = new Uint8Array(0);
        }
        if (data.length < sectorSize) {
          warn(`read error, sector ${sector}`);
          return null;
        }
        cache.set(sector, data);
      }
      const within = (blk % perSector) * 512;
      return data.subarray(within, within + 512);
    },
  };
  return context;
}
