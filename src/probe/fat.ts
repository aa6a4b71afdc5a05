import { le16, le32 } from '../io/bytes.js';
import type { Region } from './region.js';
import { latin1, oemLabel, serial32 } from './text.js';
import type { ContentInfo } from './types.js';

const FAT12_MAX = 0xff4;
const FAT16_MAX = 0xfff4;
const FAT32_MAX = 0x0ffffff6;
const ATTR_VOLUME_ID = 0x08;
const ATTR_DIR = 0x10;
const ATTR_LONG_NAME = 0x0f;
const ENTRY_FREE = 0xe5;
const DIR_ENTRY = 32;
// FAT32 root directories longer than this many clusters are not searched for the label.
const MAX_ROOT_CLUSTERS = 99;

const text = latin1;
const isPowerOfTwo = (n: number) => n > 0 && (n & (n - 1)) === 0;

/** Which signature matched decides how much more checking a boot sector needs. */
function signatureStrength(bs: Uint8Array): 'strong' | 'weak' | null {
  const at52 = text(bs, 0x52, 8);
  const at36 = text(bs, 0x36, 8);
  if (at52.startsWith('MSWIN') || at52 === 'FAT32   ') return 'strong';
  if (at36.startsWith('MSDOS') || ['FAT16   ', 'FAT12   ', 'FAT     '].includes(at36)) return 'strong';
  if (bs[0] === 0xeb || bs[0] === 0xe9 || (bs[0x1fe] === 0x55 && bs[0x1ff] === 0xaa)) return 'weak';
  return null;
}

interface Geometry {
  sectorSize: number;
  clusterSectors: number;
  reserved: number;
  fatSectors: number;
  clusterCount: number;
}

/** The BIOS parameter block fields a FAT driver insists on (the checks libblkid and Linux make). */
function saneBpb(bs: Uint8Array): boolean {
  const media = bs[0x15]!;
  const sectorSize = le16(bs, 0x0b);
  return (
    bs[0x10] !== 0 &&
    le16(bs, 0x0e) !== 0 &&
    (media >= 0xf8 || media === 0xf0) &&
    isPowerOfTwo(bs[0x0d]!) &&
    isPowerOfTwo(sectorSize) &&
    sectorSize >= 512 &&
    sectorSize <= 4096
  );
}

/** The BPB sanity checks that keep random boot code from passing as FAT. */
function validGeometry(bs: Uint8Array, strength: 'strong' | 'weak'): Geometry | null {
  if (strength === 'weak') {
    if (bs[0x1fe] !== 0x55 || bs[0x1ff] !== 0xaa) return null;
    const at36 = text(bs, 0x36, 8);
    if (at36 === 'JFS     ' || at36 === 'HPFS    ') return null;
  }
  if (!saneBpb(bs)) return null;
  const fats = bs[0x10]!;
  const reserved = le16(bs, 0x0e);
  const clusterSectors = bs[0x0d]!;
  const sectorSize = le16(bs, 0x0b);
  // BitLocker volumes carry a FAT-looking BPB.
  if (text(bs, 3, 8) === '-FVE-FS-') return null;

  const sectors = le16(bs, 0x13) || le32(bs, 0x20);
  const fatLength = le16(bs, 0x16) || le32(bs, 0x24);
  const fatSectors = fatLength * fats;
  const rootDirSectors = Math.ceil((le16(bs, 0x11) * DIR_ENTRY) / sectorSize);
  const dataSectors = sectors - (reserved + fatSectors + rootDirSectors);
  if (dataSectors < 0) return null;
  const clusterCount = Math.floor(dataSectors / clusterSectors);
  const isFat32 = le16(bs, 0x16) === 0 && le32(bs, 0x24) !== 0;
  const max = isFat32 ? FAT32_MAX : clusterCount > FAT12_MAX ? FAT16_MAX : FAT12_MAX;
  if (clusterCount > max) return null;
  return { sectorSize, clusterSectors, reserved, fatSectors, clusterCount };
}

/**
 * Sector 0 of an unpartitioned FAT, exFAT or NTFS volume, whose boot sector also ends in 55 AA and
 * so could pass for an MBR: a jump instruction or a FAT type label, and a sane BPB, as the kernel's
 * and libblkid's MBR readers check before taking such a sector as a partition table.
 */
export function looksLikeFilesystemBootSector(sector: Uint8Array): boolean {
  const oem = text(sector, 3, 8);
  if (oem === 'NTFS    ' || oem === 'EXFAT   ') return true;
  const jump = sector[0] === 0xeb || sector[0] === 0xe9;
  return (jump || signatureStrength(sector) === 'strong') && saneBpb(sector);
}

/**
 * The 11-byte name of the volume-label entry among `entries` directory entries at `offset`.
 * Reads one sector at a time and stops at the end-of-directory marker.
 */
function searchLabel(region: Region, offset: number, entries: number, chunk: number): Uint8Array | null {
  const perChunk = chunk / DIR_ENTRY;
  for (let first = 0; first < entries; first += perChunk) {
    const count = Math.min(perChunk, entries - first);
    const block = region.read(offset + first * DIR_ENTRY, count * DIR_ENTRY);
    if (!block) return null;
    for (let i = 0; i < count; i++) {
      const e = block.subarray(i * DIR_ENTRY, (i + 1) * DIR_ENTRY);
      if (e[0] === 0) return null;
      const attr = e[11]!;
      if (e[0] === ENTRY_FREE || le16(e, 20) !== 0 || le16(e, 26) !== 0) continue;
      if ((attr & 0x3f) === ATTR_LONG_NAME) continue;
      if ((attr & (ATTR_VOLUME_ID | ATTR_DIR)) === ATTR_VOLUME_ID) {
        const name = Uint8Array.from(e.subarray(0, 11));
        if (name[0] === 0x05) name[0] = 0xe5; // 0x05 stands for a leading 0xE5 byte
        return name;
      }
    }
  }
  return null;
}

function fat32RootLabel(region: Region, bs: Uint8Array, g: Geometry): Uint8Array | null {
  const clusterBytes = g.clusterSectors * g.sectorSize;
  const dataStart = (g.reserved + g.fatSectors) * g.sectorSize;
  const fatEntries = Math.floor((le32(bs, 0x24) * g.sectorSize) / 4);
  let cluster = le32(bs, 0x2c);
  for (let hops = 0; cluster !== 0 && cluster < fatEntries && hops < MAX_ROOT_CLUSTERS; hops++) {
    const offset = dataStart + (cluster - 2) * clusterBytes;
    const label = searchLabel(region, offset, clusterBytes / DIR_ENTRY, g.sectorSize);
    if (label) return label;
    const next = region.read(g.reserved * g.sectorSize + cluster * 4, 4);
    if (!next) break;
    cluster = le32(next, 0) & 0x0fffffff;
  }
  return null;
}

/**
 * FAT12/16/32 (`vfat`). The label is the volume-label entry of the root directory, as blkid's
 * LABEL; the boot-sector copy is only a fallback users never see in blkid's LABEL, so it is ignored.
 */
export function probeFat(region: Region): ContentInfo | null {
  const bs = region.read(0, 512);
  if (!bs) return null;
  const strength = signatureStrength(bs);
  if (!strength) return null;
  const g = validGeometry(bs, strength);
  if (!g) return null;

  const info: ContentInfo = { type: 'vfat', usage: 'filesystem', mountable: true };
  let label: Uint8Array | null = null;
  if (le16(bs, 0x16) !== 0) {
    const rootStart = (g.reserved + g.fatSectors) * g.sectorSize;
    label = searchLabel(region, rootStart, le16(bs, 0x11), g.sectorSize);
    const extendedSignature = bs[0x26];
    if (extendedSignature === 0x28 || extendedSignature === 0x29) info.uuid = serial32(bs, 0x27);
    if (g.clusterCount < FAT12_MAX) info.version = 'FAT12';
    else if (g.clusterCount < FAT16_MAX) info.version = 'FAT16';
  } else if (le32(bs, 0x24) !== 0) {
    label = fat32RootLabel(region, bs, g);
    info.version = 'FAT32';
    info.uuid = serial32(bs, 0x43);
    const fsinfoSector = le16(bs, 0x30);
    if (fsinfoSector !== 0) {
      const fsinfo = region.read(fsinfoSector * g.sectorSize, 512);
      if (!fsinfo) return null;
      const lead = le32(fsinfo, 0);
      const mid = le32(fsinfo, 484);
      if (lead !== 0x41615252 && lead !== 0x41645252 && lead !== 0) return null;
      if (mid !== 0x61417272 && mid !== 0) return null;
    }
  }
  const labelText = label ? oemLabel(label, 0, 11) : undefined;
  if (labelText) info.label = labelText;
  return info;
}
