/**
 * The PV header inside the label sector: the PV's UUID, its device size, then two zero-terminated
 * lists of disk areas (data areas, whose first offset is pe_start; metadata areas), then an
 * optional extension (version, flags, bootloader areas).
 */
import { le32, le64, safeNumber } from '../../io/bytes.js';
import { LvmError } from './errors.js';
import { LVM_SECTOR, type PvLabel } from './label.js';

const UUID_LENGTH = 32;
const LOCATION_SIZE = 16;

/** A byte range on the PV. A data area of size 0 reaches to the end of the device. */
export interface DiskArea {
  offset: number;
  size: number;
}

export interface PvHeader {
  /** As lvm2 prints it: 6-4-4-4-4-4-6 characters. */
  uuid: string;
  /** Bytes, as recorded when the PV was written (the VG metadata's dev_size can override it). */
  deviceSize: number;
  dataAreas: DiskArea[];
  metadataAreas: DiskArea[];
  /** Present on PVs written by lvm2 2.02.110 and later. */
  extension: { version: number; flags: number; bootloaderAreas: DiskArea[] } | null;
}

export function parsePvHeader(label: PvLabel): PvHeader {
  const b = label.bytes;
  let at = label.headerOffset;
  if (at + UUID_LENGTH + 8 + LOCATION_SIZE > LVM_SECTOR) {
    throw new LvmError(`PV header at byte ${at} of the label does not fit in it`);
  }
  const uuid = formatLvmUuid(rawUuid(b, at));
  const deviceSize = safeNumber(le64(b, at + UUID_LENGTH));
  if (deviceSize === null) throw new LvmError(`PV ${uuid}: device size is out of range`);
  at += UUID_LENGTH + 8;

  const readList = (what: string): DiskArea[] => {
    const areas: DiskArea[] = [];
    for (;;) {
      if (at + LOCATION_SIZE > LVM_SECTOR) throw new LvmError(`PV ${uuid}: ${what} list overflows the label`);
      const offset = le64(b, at);
      const size = le64(b, at + 8);
      at += LOCATION_SIZE;
      if (offset === 0n) return areas;
      const area = { offset: safeNumber(offset), size: safeNumber(size) };
      if (area.offset === null || area.size === null) {
        throw new LvmError(`PV ${uuid}: ${what} ${areas.length + 1} is out of range`);
      }
      areas.push(area as DiskArea);
    }
  };
  const dataAreas = readList('data area');
  const metadataAreas = readList('metadata area');

  let extension: PvHeader['extension'] = null;
  if (at + 8 <= LVM_SECTOR) {
    const version = le32(b, at);
    const flags = le32(b, at + 4);
    at += 8;
    // Version 0 means no extension was written (a PV from before 2.02.110).
    if (version > 0) {
      const bootloaderAreas: DiskArea[] = [];
      while (at + LOCATION_SIZE <= LVM_SECTOR) {
        const offset = safeNumber(le64(b, at));
        const size = safeNumber(le64(b, at + 8));
        at += LOCATION_SIZE;
        if (offset === 0 || offset === null || size === null) break;
        bootloaderAreas.push({ offset, size });
      }
      extension = { version, flags, bootloaderAreas };
    }
  }
  return { uuid, deviceSize, dataAreas, metadataAreas, extension };
}

function rawUuid(b: Uint8Array, at: number): string {
  let s = '';
  for (let i = 0; i < UUID_LENGTH; i++) {
    const c = b[at + i] ?? 0;
    // lvm2 UUIDs are [A-Za-z0-9]; anything else is shown escaped rather than printed raw.
    s += c >= 0x21 && c < 0x7f ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return s;
}

/** 32 id characters in groups of 6-4-4-4-4-4-6, as pvs and blkid print them. */
export function formatLvmUuid(id: string): string {
  if (id.length !== UUID_LENGTH) return id;
  const groups = [6, 4, 4, 4, 4, 4, 6];
  const parts: string[] = [];
  let at = 0;
  for (const g of groups) {
    parts.push(id.slice(at, at + g));
    at += g;
  }
  return parts.join('-');
}

/** The comparable form of a UUID written with or without its dashes. */
export const uuidKey = (uuid: string): string => uuid.replaceAll('-', '');
