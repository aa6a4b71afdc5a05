/**
 * GUID partition tables, read as the C kpartx does: the same header checks, the same choice between
 * primary and alternate header and the same messages, plus bounds checks the C code lacks.
 */
import { bytesEqual, le32, le64, u8 } from '../../io/bytes.js';
import { crc32, crc32Update } from '../../io/crc32.js';
import { decodeGuid, isNullGuid } from '../guid.js';
import type { PartitionTable, Slot } from '../partition.js';
import type { ReadContext } from './context.js';
import type { TableReader } from './reader.js';
import { gptType } from './type-names.js';

const SIGNATURE = [0x45, 0x46, 0x49, 0x20, 0x50, 0x41, 0x52, 0x54]; // "EFI PART"
const MIN_HEADER_SIZE = 92;
const ENTRY_SIZE = 128;
/** Only the first 256 entries ever get a number (the C tool's slice array size). */
const MAX_SLOTS = 256;
/** Larger entry arrays are refused before reading (a standard one is 16 KiB). */
const MAX_ENTRY_ARRAY_BYTES = 16 * 1024 * 1024;

/** A header that passed every check, with the entries kpartx looks at. */
interface GptHeader {
  myLba: bigint;
  alternateLba: bigint;
  firstUsableLba: bigint;
  lastUsableLba: bigint;
  diskGuid: Uint8Array;
  entryCount: number;
  entrySize: number;
  entryArrayCrc: number;
  /** The first min(entryCount, 256) entries. */
  entries: Uint8Array;
}

const toSafe = (v: bigint): number | null => (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : null);

/** The header at `lba` and its entry array, or null if any check fails (`is_gpt_valid`). */
function readHeader(context: ReadContext, lba: bigint, lastLba: bigint): GptHeader | null {
  const { disk } = context;
  const sectorSize = disk.sectorSize;
  // Nothing is read outside the disk: the C tool's read there returns nothing and fails the same way.
  if (lba < 1n || lba > lastLba) return null;
  const sector = disk.readAt(Number(lba) * sectorSize, sectorSize);
  if (sector.length < sectorSize || !bytesEqual(sector, 0, SIGNATURE)) return null;

  const headerSize = le32(sector, 12);
  if (headerSize < MIN_HEADER_SIZE || headerSize > sectorSize) return null;
  // A copy (Uint8Array.from): a Buffer's slice() is a view, and zeroing the CRC field in it would
  // change the caller's bytes.
  const header = Uint8Array.from(sector.subarray(0, headerSize));
  header.fill(0, 16, 20);
  if (crc32(header) !== le32(sector, 16)) return null;

  if (le64(sector, 24) !== lba) return null;
  const entrySize = le32(sector, 84);
  if (entrySize !== ENTRY_SIZE) return null;
  const entryCount = le32(sector, 80);
  const entryLba = le64(sector, 72);
  const arrayBytes = entryCount * ENTRY_SIZE;
  // An empty array fails in C too (nothing to allocate); huge or out-of-disk arrays are refused.
  if (arrayBytes === 0 || arrayBytes > MAX_ENTRY_ARRAY_BYTES) return null;
  const arrayStart = toSafe(entryLba * BigInt(sectorSize));
  if (arrayStart === null || arrayStart + arrayBytes > disk.size) return null;

  let crc = 0;
  let entries = new Uint8Array(0);
  const chunk = 1024 * 1024;
  for (let done = 0; done < arrayBytes; done += chunk) {
    const want = Math.min(chunk, arrayBytes - done);
    const part = disk.readAt(arrayStart + done, want);
    if (part.length < want) return null;
    crc = crc32Update(crc, part);
    if (done === 0) entries = Uint8Array.from(part.subarray(0, Math.min(entryCount, MAX_SLOTS) * ENTRY_SIZE));
  }
  if (crc !== le32(sector, 88)) return null;

  return {
    myLba: lba,
    alternateLba: le64(sector, 32),
    firstUsableLba: le64(sector, 40),
    lastUsableLba: le64(sector, 48),
    diskGuid: Uint8Array.from(sector.subarray(56, 72)),
    entryCount,
    entrySize,
    entryArrayCrc: le32(sector, 88),
    entries,
  };
}

/** Sector 0 has 55 AA and an entry of type 0xEE somewhere (hybrid MBRs pass). */
function hasProtectiveMbr(context: ReadContext): boolean {
  const mbr = context.disk.readAt(0, 512);
  if (u8(mbr, 510) !== 0x55 || u8(mbr, 511) !== 0xaa) return false;
  return [0, 1, 2, 3].some((i) => u8(mbr, 0x1be + i * 16 + 4) === 0xee);
}

const hex = (n: number): string => `0x${n.toString(16)}`;

/** Differences between two valid headers, in the C tool's words and order (`compare_gpts`). */
function compareHeaders(p: GptHeader, a: GptHeader, lastLba: bigint): string[] {
  const out: string[] = [];
  if (p.myLba !== a.alternateLba) out.push('GPT:Primary header LBA != Alt. header alternate_lba');
  if (p.alternateLba !== a.myLba) out.push('GPT:Primary header alternate_lba != Alt. header my_lba');
  if (p.firstUsableLba !== a.firstUsableLba) out.push("GPT:first_usable_lbas don't match.");
  if (p.lastUsableLba !== a.lastUsableLba) out.push("GPT:last_usable_lbas don't match.");
  if (!bytesEqual(p.diskGuid, 0, a.diskGuid)) out.push("GPT:disk_guids don't match.");
  if (p.entryCount !== a.entryCount) {
    out.push(`GPT:num_partition_entries don't match: ${hex(p.entryCount)} != ${hex(a.entryCount)}`);
  }
  if (p.entrySize !== a.entrySize) {
    out.push(`GPT:sizeof_partition_entry values don't match: ${hex(p.entrySize)} != ${hex(a.entrySize)}`);
  }
  if (p.entryArrayCrc !== a.entryArrayCrc) {
    out.push(
      `GPT:partition_entry_array_crc32 values don't match: ${hex(p.entryArrayCrc)} != ${hex(a.entryArrayCrc)}`,
    );
  }
  if (p.alternateLba !== lastLba) {
    out.push('GPT:Primary header thinks Alt. header is not at the end of the disk.');
  }
  if (a.myLba !== lastLba) out.push('GPT:Alternate GPT header not at the end of the disk.');
  if (out.length > 0) out.push('GPT: Use GNU Parted to correct GPT errors.');
  return out;
}

/** The header kpartx would use (`find_valid_gpt`), printing what it prints on the way. */
function findValidHeader(context: ReadContext): GptHeader | null {
  const { disk } = context;
  const lastLba = BigInt(Math.floor(disk.size / disk.sectorSize)) - 1n;
  if (lastLba <= 0n) return null;

  const primary = readHeader(context, 1n, lastLba);
  const alternate = primary
    ? (readHeader(context, primary.alternateLba, lastLba) ?? readHeader(context, lastLba, lastLba))
    : readHeader(context, lastLba, lastLba);
  if (!primary && !alternate) return null;

  if (!hasProtectiveMbr(context)) {
    context.warn('  Warning: Disk has a valid GPT signature but invalid PMBR.');
    if (!context.forceGpt) {
      context.warn('  Assuming this disk is *not* a GPT disk anymore.');
      context.warn('  Use gpt kernel option to override.  Use GNU Parted to correct disk.');
      return null;
    }
    context.warn('  Use GNU Parted to correct disk.');
    context.warn('  gpt option taken, disk treated as GPT.');
  }
  if (primary && alternate) {
    for (const line of compareHeaders(primary, alternate, lastLba)) context.warn(line);
  }

  if (primary) {
    if (!alternate) context.warn('Alternate GPT is invalid, using primary GPT.');
    return primary;
  }
  context.warn('Primary GPT is invalid, using alternate GPT.');
  return alternate;
}

/** UTF-16LE name of up to 36 code units, ending at the first NUL. */
function entryName(entries: Uint8Array, off: number): string {
  const units: number[] = [];
  for (let i = 0; i < 36; i++) {
    const unit = u8(entries, off + i * 2) | (u8(entries, off + i * 2 + 1) << 8);
    if (unit === 0) break;
    units.push(unit);
  }
  return String.fromCharCode(...units);
}

const emptySlot = (number: number): Slot => ({ number, start: 0, size: 0, container: 0, kind: 'primary' });

function entrySlot(context: ReadContext, entries: Uint8Array, index: number, mul: number): Slot | null {
  const off = index * ENTRY_SIZE;
  if (isNullGuid(entries, off)) return null;
  const number = index + 1;
  const first = le64(entries, off + 32);
  const last = le64(entries, off + 40);
  // C computes last - first + 1 in unsigned 64-bit arithmetic: an inverted entry becomes huge.
  if (last < first) {
    context.warn(`gpt: partition ${number} ends (LBA ${last}) before it starts (LBA ${first}), ignored`);
    return null;
  }
  const start = toSafe(first * BigInt(mul));
  const size = toSafe((last - first + 1n) * BigInt(mul));
  if (start === null || size === null || start + size > Number.MAX_SAFE_INTEGER) {
    context.warn(`gpt: partition ${number} lies beyond any supported disk size, ignored`);
    return null;
  }
  return {
    number,
    start,
    size,
    container: 0,
    kind: 'primary',
    type: gptType(decodeGuid(entries, off)),
    uuid: decodeGuid(entries, off + 16),
    attributes: `0x${le64(entries, off + 48).toString(16)}`,
    name: entryName(entries, off + 56),
  };
}

export const gptReader: TableReader = {
  type: 'gpt',
  read(context: ReadContext): PartitionTable | null {
    const header = findValidHeader(context);
    if (!header) return null;
    const sectorSize = context.disk.sectorSize;
    const mul = Math.max(1, Math.floor(sectorSize / 512));
    const slots: Slot[] = [];
    let lastUsed = 0;
    for (let i = 0; i < Math.min(header.entryCount, MAX_SLOTS); i++) {
      const slot = entrySlot(context, header.entries, i, mul);
      slots.push(slot ?? emptySlot(i + 1));
      if (slot) lastUsed = i + 1;
    }
    // Like C, a table without any used entry counts as "not found", so the next reader runs.
    if (lastUsed === 0) return null;
    return {
      type: 'gpt',
      sectorSize,
      diskId: decodeGuid(header.diskGuid, 0),
      slots: slots.slice(0, lastUsed),
    };
  },
};
