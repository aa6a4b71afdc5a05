import { le16, le32, le64, safeNumber } from '../io/bytes.js';
import type { Region } from './region.js';
import { latin1, utf16Label } from './text.js';
import type { ContentInfo } from './types.js';

const VOLUME_RECORD = 3; // $Volume is MFT record 3
const ATTR_VOLUME_NAME = 0x60;
const ATTR_VOLUME_INFORMATION = 0x70;
/** VOLUME_IS_DIRTY in $VOLUME_INFORMATION's flags: Windows did not unmount it cleanly (or chkdsk is due). */
const VOLUME_IS_DIRTY = 0x0001;
const ATTR_END = 0xffffffff;
const MAX_CLUSTER = 64 * 1024;
const POWERS = [1, 2, 4, 8, 16, 32, 64, 128];

/**
 * NTFS: boot-sector checks as blkid makes them, the serial as 16 hex digits, and the label from
 * the $VOLUME_NAME attribute of the $Volume record (two small reads at the MFT); the dirty flag
 * from its $VOLUME_INFORMATION, so a volume Windows did not close is never mounted read-write.
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
  const attributes = volumeAttributes(volume, recordSize);
  if (attributes.label) info.label = attributes.label;
  // Set only when dirty: a clean volume reads as it always did.
  if (attributes.flags !== undefined && attributes.flags & VOLUME_IS_DIRTY) info.dirty = true;
  info.uuid = le64(bs, 0x48).toString(16).toUpperCase().padStart(16, '0');
  return info;
}

/** Walk the (resident) attributes of the $Volume record: the volume name and the volume flags. */
function volumeAttributes(record: Uint8Array, recordSize: number): { label?: string; flags?: number } {
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
  const found: { label?: string; flags?: number } = {};
  let at = le16(fixed, 0x14);
  const allocated = Math.min(le32(fixed, 0x1c), recordSize);
  while (at + 0x18 <= allocated) {
    const type = le32(fixed, at);
    const length = le32(fixed, at + 4);
    if (length === 0 || type === ATTR_END) break;
    const valueLength = le32(fixed, at + 0x10);
    const valueOffset = le16(fixed, at + 0x14);
    if (type === ATTR_VOLUME_NAME && found.label === undefined) {
      const label = utf16Label(fixed, at + valueOffset, valueLength, true);
      if (label) found.label = label;
    }
    // Reserved 8 bytes, major and minor version, then the flags.
    if (type === ATTR_VOLUME_INFORMATION && valueLength >= 12 && at + valueOffset + 12 <= recordSize)
      found.flags = le16(fixed, at + valueOffset + 10);
    at += length;
  }
  return found;
}
