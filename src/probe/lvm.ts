import { le32, le64, safeNumber } from '../io/bytes.js';
import type { Region } from './region.js';
import { asciiField } from './text.js';
import type { ContentInfo } from './types.js';

const SECTOR = 512;
const LABEL_ID = 'LABELONE';
const LABEL_TYPE = 'LVM2 001';
const MDA_MAGIC = ' LVM2 x[5A%r0N*>';
// Bytes of metadata text read to find the volume group name (it is the first token).
const NAME_WINDOW = 512;

/** LVM's own CRC (a 4-bit-table CRC32 with its own seed) over the label after its crc field. */
function lvmCrc(bytes: Uint8Array): number {
  const table = [
    0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4, 0x4db26158, 0x5005713c,
    0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c, 0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
  ];
  let crc = 0xf597a6cf;
  for (const byte of bytes) {
    crc ^= byte;
    crc = (crc >>> 4) ^ table[crc & 0xf]!;
    crc = (crc >>> 4) ^ table[crc & 0xf]!;
  }
  return crc >>> 0;
}

/** 32 id characters printed in groups of 6-4-4-4-4-4-6, as blkid and pvs print PV UUIDs. */
export function formatLvmId(id: string): string {
  const groups = [6, 4, 4, 4, 4, 4, 6];
  const parts: string[] = [];
  let at = 0;
  for (const g of groups) {
    parts.push(id.slice(at, at + g));
    at += g;
  }
  return parts.join('-');
}

/** Where the label is: sector 0-3 of the first 2 KiB, with its own sector number inside it. */
function findLabel(region: Region): { label: Uint8Array; sector: number } | null {
  for (let sector = 0; sector < 4; sector++) {
    const label = region.read(sector * SECTOR, SECTOR);
    if (!label) return null;
    if (asciiField(label, 0, 8) !== LABEL_ID || asciiField(label, 0x18, 8) !== LABEL_TYPE) continue;
    if (le64(label, 8) !== BigInt(sector)) continue;
    if (lvmCrc(label.subarray(0x14)) !== le32(label, 0x10)) continue;
    return { label, sector };
  }
  return null;
}

/**
 * The volume group name from the first metadata area: its header points at the current
 * metadata text, which starts with `<vgname> {`.
 */
function volumeGroupName(region: Region, label: Uint8Array): string | undefined {
  const pvHeader = le32(label, 0x14);
  // After the PV UUID and device size come two zero-terminated lists: data areas, then metadata areas.
  let at = pvHeader + 32 + 8;
  for (let list = 0; list < 2; list++) {
    for (;;) {
      if (at + 16 > SECTOR) return undefined;
      const offset = le64(label, at);
      at += 16;
      if (offset === 0n) break;
      if (list === 1) return nameFromArea(region, safeNumber(offset), safeNumber(le64(label, at - 8)));
    }
  }
  return undefined;
}

function nameFromArea(region: Region, start: number | null, size: number | null): string | undefined {
  if (start === null || size === null) return undefined;
  const header = region.read(start, SECTOR);
  if (!header || asciiField(header, 4, 16) !== MDA_MAGIC) return undefined;
  const textOffset = safeNumber(le64(header, 0x28));
  const textSize = safeNumber(le64(header, 0x30));
  if (!textOffset || !textSize || textOffset >= size) return undefined;
  const length = Math.min(NAME_WINDOW, textSize, size - textOffset);
  const text = region.read(start + textOffset, length);
  if (!text) return undefined;
  const match = /^([A-Za-z0-9+_.-]+) \{/.exec(asciiField(text, 0, length));
  return match?.[1];
}

/** LVM2 physical volume (`LVM2_member`), with the volume group it belongs to when it has one. */
export function probeLvm2(region: Region): ContentInfo | null {
  const found = findLabel(region);
  if (!found) return null;
  const { label } = found;
  const pvHeader = le32(label, 0x14);
  if (pvHeader + 32 > SECTOR) return null;
  const info: ContentInfo = {
    type: 'LVM2_member',
    usage: 'lvm',
    mountable: false,
    uuid: formatLvmId(asciiField(label, pvHeader, 32)),
    version: LABEL_TYPE,
  };
  const vg = volumeGroupName(region, label);
  if (vg) info.volumeGroup = vg;
  return info;
}
