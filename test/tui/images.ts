/** Small DOS-labelled disk images built in memory for TUI tests. */

export interface DosEntry {
  type: number;
  start: number;
  size: number;
  bootable?: boolean;
}

function putEntry(sector: Uint8Array, index: number, entry: DosEntry, relativeTo = 0): void {
  const at = 446 + index * 16;
  const view = new DataView(sector.buffer, sector.byteOffset);
  sector[at] = entry.bootable ? 0x80 : 0;
  sector[at + 4] = entry.type;
  view.setUint32(at + 8, entry.start - relativeTo, true);
  view.setUint32(at + 12, entry.size, true);
}

/**
 * `sectors` long, with primaries (an extended one, type 0x05, gets the `logicals` chained inside,
 * one EBR each, 2048 sectors before the logical's data; the first EBR opens the extended one).
 */
export function dosImage(sectors: number, primaries: DosEntry[], logicals: DosEntry[] = []): Uint8Array {
  const bytes = new Uint8Array(sectors * 512);
  const mbr = bytes.subarray(0, 512);
  for (const [i, entry] of primaries.entries()) putEntry(mbr, i, entry);
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  const extended = primaries.find((p) => p.type === 0x05);
  if (extended) {
    logicals.forEach((logical, i) => {
      const ebrSector = logical.start - 2048;
      const ebr = bytes.subarray(ebrSector * 512, ebrSector * 512 + 512);
      putEntry(ebr, 0, logical, ebrSector);
      const next = logicals[i + 1];
      if (next)
        putEntry(ebr, 1, { type: 0x05, start: next.start - 2048, size: next.size + 2048 }, extended.start);
      ebr[510] = 0x55;
      ebr[511] = 0xaa;
    });
  }
  return bytes;
}

/** Enough of an ext4 superblock for content probing (magic and label). */
export function stampExt4(image: Uint8Array, startSector: number, label: string): void {
  const base = startSector * 512;
  image[base + 0x438] = 0x53;
  image[base + 0x439] = 0xef;
  // has_journal + extents: ext4
  image[base + 0x45c] = 0x04;
  image[base + 0x460] = 0x40;
  for (let i = 0; i < label.length; i++) image[base + 0x478 + i] = label.charCodeAt(i);
}

/** 32 MiB: a Linux primary (ext4 "root"), an extended one with two logicals, all sector-aligned. */
export function sampleImage(): Uint8Array {
  const image = dosImage(
    65536,
    [
      { type: 0x83, start: 2048, size: 20480, bootable: true },
      { type: 0x05, start: 22528, size: 40960 },
    ],
    [
      { type: 0x82, start: 24576, size: 8192 },
      { type: 0x83, start: 34816, size: 16384 },
    ],
  );
  stampExt4(image, 2048, 'root');
  return image;
}
