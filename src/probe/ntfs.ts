import { le16, le32, le64, safeNumber } from '../io/bytes.js';
import type { Region } from './region.js';
import { latin1, utf16Label } from './text.js';
import type { ContentInfo } from './types.js';

const VOLUME_RECORD = 3; // $Volume is MFT record 3
const ATTR_VOLUME_NAME = 0x60;
const ATTR_END = 0xffffffff;
const MAX_CLUSTER = 64 * 1024;
const POWERS = [1, 2, 4, 8, 16, 32, 64, 128];

/**
 * NTFS: boot-sector checks as blkid makes them, the serial as 16 hex digits, and the label from
 * the $VOLUME_NAME attribute of the $Volume record (two small reads at the MFT).
 */
export function probeNtfs(region: Region): ContentInfo | null {
  const bs = region.read(0, 512);
  if (!bs) return null;
  if (latin1(bs, 3, 8) !== 'NTFS    ') return null;
  const sectorSize = le16(bs, 0x0b);
  const sectorsPerCluster = bs[0x0d]!;
  if (sectorSize < 256 || sectorSize > 4096) return null;
  if (!POWERS.includes(sectorsPerCluster)) return null;
  if (sectorSize * sectorsPerCluster > MAX_CLUSTER) return null;
  // Fields FAT uses must be zero on NTFS.
  if (le16(bs, 0x0e) || le16(bs, 0x11) || le16(bs, 0x13) || le16(bs, 0x16) || le32(bs, 0x20) || bs[0x10])
    return null;
  const perRecord = bs[0x40]!;
  if (perRecord < 0xe1 || perRecord > 0xf7) {
    if (![1, 2, 4, 8, 16, 32, 64].includes(perRecord)) return null;
  }
  const recordSize = perRecord < 0x80 ? perRecord * sectorsPerCluster * sectorSize : 2 ** (256 - perRecord);
  const clusters = le64(bs, 0x28) / BigInt(sectorsPerCluster);
  const mft = le64(bs, 0x30);
  if (mft > clusters || le64(bs, 0x38) > clusters) return null;
  const mftOffset = safeNumber(mft * BigInt(sectorSize * sectorsPerCluster));
  if (mftOffset === null) return null;

  const first = region.read(mftOffset, recordSize);
  if (!first || latin1(first, 0, 4) !== 'FILE') return null;
  const volume = region.read(mftOffset + VOLUME_RECORD * recordSize, recordSize);
  if (!volume || latin1(volume, 0, 4) !== 'FILE') return null;

  const info: ContentInfo = { type: 'ntfs', usage: 'filesystem', mountable: true };
  const label = volumeName(volume, recordSize);
  if (label) info.label = label;
  info.uuid = le64(bs, 0x48).toString(16).toUpperCase().padStart(16, '0');
  return info;
}

/** Walk the attributes of the $Volume record to the volume name. */
function volumeName(record: Uint8Array, recordSize: number): string | undefined {
  // The update sequence array replaces the last two bytes of each sector; put them back first.
  const fixed = Uint8Array.from(record);
  const usaOffset = le16(record, 4);
  const usaCount = le16(record, 6);
  for (let i = 1; i < usaCount; i++) {
    const end = i * 512 - 2;
    if (end + 2 > recordSize || usaOffset + i * 2 + 2 > recordSize) break;
    fixed[end] = record[usaOffset + i * 2]!;
    fixed[end + 1] = record[usaOffset + i * 2 + 1]!;
  }
  let at = le16(fixed, 0x14);
  const allocated = le32(fixed, 0x1c);
  while (at < recordSize && at <= allocated) {
    const type = le32(fixed, at);
    const length = le32(fixed, at + 4);
    if (length === 0 || type === ATTR_END) return undefined;
    if (type === ATTR_VOLUME_NAME) {
      const valueLength = le32(fixed, at + 0x10);
      const valueOffset = le16(fixed, at + 0x14);
      return utf16Label(fixed, at + valueOffset, valueLength, true);
    }
    at += length;
  }
  return undefined;
}
