/**
 * Hyper-V VHDX: two checksummed headers (the newer one counts), a region table pointing to the
 * BAT and the metadata region, metadata items giving the block size, the virtual size and the
 * logical sector size, and a BAT whose payload entries are interleaved with one sector-bitmap
 * entry per chunk. Layout from Microsoft's VHDX specification v1.00 (as qemu's block/vhdx.c reads it).
 */
import { hex, le16, le32, le64 } from '../io/bytes.js';
import { crc32c } from '../io/crc32c.js';
import type { Disk } from '../io/disk.js';
import { ContainerError, type ContainerProblem } from './container-error.js';
import type { OpenContext, OpenedImage } from './container-files.js';
import { mappedDisk } from './mapped-disk.js';
import { ByteCache, type TableSpec, tableEntry } from './table-slices.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const HEADERS = [64 * KiB, 128 * KiB];
const REGION_TABLES = [192 * KiB, 256 * KiB];
const REGION_TABLE_BYTES = 64 * KiB;
const METADATA_TABLE_BYTES = 64 * KiB;
const MAX_ENTRIES = 2047;
const MAX_SIZE = 64 * 1024 * 1024 * MiB; // 64 TiB

const BAT_REGION = '2DC27766-F623-4200-9D64-115E9BFD4A08';
const METADATA_REGION = '8B7CA206-4790-4B9A-B8FE-575F050F886E';
const FILE_PARAMETERS = 'CAA16737-FA36-4D43-B3B6-33F0AA44E76B';
const VIRTUAL_DISK_SIZE = '2FA54224-CD1B-4876-B211-5DBED83BF4B8';
const PAGE_83 = 'BECA12AB-B2E6-4523-93EF-C309E000C746';
const LOGICAL_SECTOR_SIZE = '8141BF1D-A96F-4709-BA47-F233A8FAAB5F';
const PHYSICAL_SECTOR_SIZE = 'CDA348C7-445D-4471-9CC9-E9885251C556';
const PARENT_LOCATOR = 'A8D35F2D-B30B-454D-ABF7-D3D84834AB0C';
const NEEDED_METADATA = [FILE_PARAMETERS, VIRTUAL_DISK_SIZE, LOGICAL_SECTOR_SIZE];
const KNOWN_METADATA = [
  FILE_PARAMETERS,
  VIRTUAL_DISK_SIZE,
  PAGE_83,
  LOGICAL_SECTOR_SIZE,
  PHYSICAL_SECTOR_SIZE,
  PARENT_LOCATOR,
];

const BLOCK_NOT_PRESENT = 0;
const BLOCK_UNDEFINED = 1;
const BLOCK_ZERO = 2;
const BLOCK_UNMAPPED = 3;
const BLOCK_UNMAPPED_OLD = 5;
const BLOCK_FULLY_PRESENT = 6;
const TABLE_CACHE_BYTES = 1024 * 1024;

/** A GUID as stored by Microsoft (first three fields little-endian), in its usual text form. */
function guid(b: Uint8Array, at: number): string {
  const field = (v: number, digits: number) => v.toString(16).padStart(digits, '0');
  return [
    field(le32(b, at), 8),
    field(le16(b, at + 4), 4),
    field(le16(b, at + 6), 4),
    hex(b, at + 8, 2),
    hex(b, at + 10, 6),
  ]
    .join('-')
    .toUpperCase();
}

const ascii = (b: Uint8Array, at: number, length: number) =>
  String.fromCharCode(...b.subarray(at, at + length));

/** The structure at `at` when its CRC-32C (taken with the checksum field as zero) matches. */
function checksummed(file: Disk, at: number, length: number, signature: string): Uint8Array | null {
  const bytes = file.readAt(at, length);
  if (bytes.length !== length || ascii(bytes, 0, 4) !== signature) return null;
  const copy = Uint8Array.from(bytes);
  copy.fill(0, 4, 8);
  return crc32c(copy) === le32(bytes, 4) ? bytes : null;
}

export interface VhdxLayout {
  blockSize: number;
  virtualSize: number;
  logicalSectorSize: number;
  hasParent: boolean;
  logPending: boolean;
  bat: { offset: number; length: number };
}

/** Headers, region table and metadata, checked; throws ContainerError naming what is wrong. */
export function readVhdxLayout(file: Disk, name: string): VhdxLayout {
  const fail = (problem: ContainerProblem, detail: string): never => {
    throw new ContainerError(name, 'vhdx', problem, detail);
  };
  if (ascii(file.readAt(0, 8), 0, 8) !== 'vhdxfile') fail('wrong-format', 'not a VHDX image');
  const headers = HEADERS.map((at) => checksummed(file, at, 4 * KiB, 'head')).filter((h) => h !== null);
  if (headers.length === 0) return fail('corrupt', 'neither VHDX header is valid');
  const header = headers.reduce((a, b) => (le64(b, 8) > le64(a, 8) ? b : a));
  if (le16(header, 66) !== 1) fail('version', `VHDX version ${le16(header, 66)} is not read here`);
  const logPending = header.subarray(48, 64).some((b) => b !== 0);

  // The second copy is read only when the first is damaged.
  const table =
    checksummed(file, REGION_TABLES[0]!, REGION_TABLE_BYTES, 'regi') ??
    checksummed(file, REGION_TABLES[1]!, REGION_TABLE_BYTES, 'regi');
  if (!table) return fail('corrupt', 'neither VHDX region table is valid');
  const regions = new Map<string, { offset: number; length: number }>();
  const count = le32(table, 8);
  if (count > MAX_ENTRIES) fail('corrupt', `region table of ${count} entries`);
  for (let i = 0; i < count; i++) {
    const at = 16 + i * 32;
    const id = guid(table, at);
    const offset = Number(le64(table, at + 16));
    const length = le32(table, at + 24);
    if (id !== BAT_REGION && id !== METADATA_REGION && le32(table, at + 28) & 1)
      fail('unsupported', `the VHDX has a required region this reader does not know (${id})`);
    if (!Number.isSafeInteger(offset) || offset + length > file.size)
      fail('corrupt', `region ${id} lies past the end of the file`);
    regions.set(id, { offset, length });
  }
  const bat = regions.get(BAT_REGION);
  const metadata = regions.get(METADATA_REGION);
  if (!bat || !metadata) return fail('corrupt', 'the VHDX region table lacks the BAT or the metadata region');

  const meta = file.readAt(metadata.offset, Math.min(metadata.length, METADATA_TABLE_BYTES));
  if (ascii(meta, 0, 8) !== 'metadata') fail('corrupt', 'the VHDX metadata table has no signature');
  const items = new Map<string, Uint8Array>();
  const entries = le16(meta, 10);
  if (entries > MAX_ENTRIES || 32 + entries * 32 > meta.length)
    fail('corrupt', `metadata table of ${entries} entries`);
  for (let i = 0; i < entries; i++) {
    const at = 32 + i * 32;
    const id = guid(meta, at);
    const offset = le32(meta, at + 16);
    const length = le32(meta, at + 20);
    if (!KNOWN_METADATA.includes(id) && le32(meta, at + 24) & 4)
      fail('unsupported', `the VHDX has required metadata this reader does not know (${id})`);
    if (!NEEDED_METADATA.includes(id) || length > 64 * KiB) continue;
    if (offset + length > metadata.length) fail('corrupt', `metadata item ${id} lies outside its region`);
    items.set(id, file.readAt(metadata.offset + offset, length));
  }
  const parameters = items.get(FILE_PARAMETERS);
  const size = items.get(VIRTUAL_DISK_SIZE);
  const sector = items.get(LOGICAL_SECTOR_SIZE);
  if (!parameters || parameters.length < 8 || !size || size.length < 8 || !sector || sector.length < 4)
    return fail(
      'corrupt',
      'the VHDX metadata lacks the file parameters, the virtual size or the sector size',
    );
  const blockSize = le32(parameters, 0);
  if (blockSize < MiB || blockSize > 256 * MiB || (blockSize & (blockSize - 1)) !== 0)
    fail('corrupt', `invalid block size ${blockSize}`);
  const logicalSectorSize = le32(sector, 0);
  if (logicalSectorSize !== 512 && logicalSectorSize !== 4096)
    fail('corrupt', `invalid logical sector size ${logicalSectorSize}`);
  const virtualSize = le64(size, 0);
  if (virtualSize > BigInt(MAX_SIZE) || virtualSize % BigInt(logicalSectorSize) !== 0n)
    fail('corrupt', `invalid virtual size ${virtualSize}`);
  return {
    blockSize,
    virtualSize: Number(virtualSize),
    logicalSectorSize,
    hasParent: (le32(parameters, 4) & 2) !== 0,
    logPending,
    bat,
  };
}

/**
 * The guest's disk of a VHDX through its BAT: fully present blocks from the file, not present,
 * zero and unmapped blocks as zeros. A differencing VHDX (parent needed) and one whose log must
 * be replayed first throw ContainerError.
 */
export function openVhdxImage(file: Disk, ctx: OpenContext): OpenedImage {
  const { name } = ctx;
  const fail = (problem: ContainerProblem, detail: string): never => {
    throw new ContainerError(name, 'vhdx', problem, detail);
  };
  const layout = readVhdxLayout(file, name);
  if (layout.hasParent)
    fail(
      'backing-file',
      'differencing VHDX: its unwritten blocks live in its parent image, which is not followed here',
    );
  if (layout.logPending)
    fail(
      'log-replay',
      'the VHDX log has entries that must be replayed before its tables can be trusted (Hyper-V or `qemu-img check -r all` replays it)',
    );
  const { blockSize, virtualSize, logicalSectorSize } = layout;
  const chunkRatio = (2 ** 23 * logicalSectorSize) / blockSize;
  const blocks = Math.ceil(virtualSize / blockSize);
  const batEntries = blocks === 0 ? 0 : blocks + Math.floor((blocks - 1) / chunkRatio);
  if (batEntries * 8 > layout.bat.length) fail('corrupt', 'the BAT region is too small for the disk');
  const bat: TableSpec = { offset: layout.bat.offset, count: batEntries, entrySize: 8 };
  const tables = new ByteCache<number>(TABLE_CACHE_BYTES);

  return {
    disk: mappedDisk({
      size: virtualSize,
      blockSize,
      sectorSize: logicalSectorSize,
      locate(block) {
        const index = block + Math.floor(block / chunkRatio);
        if (index >= batEntries) return { kind: 'zero' };
        const [b, p] = tableEntry(file, tables, bat, index, () => fail('corrupt', 'the BAT is cut short'));
        const low = le32(b, p);
        const state = low & 7;
        if (
          state === BLOCK_NOT_PRESENT ||
          state === BLOCK_UNDEFINED ||
          state === BLOCK_ZERO ||
          state === BLOCK_UNMAPPED ||
          state === BLOCK_UNMAPPED_OLD
        )
          return { kind: 'zero' };
        if (state !== BLOCK_FULLY_PRESENT)
          return fail('corrupt', `block ${block} has BAT state ${state}, which only differencing disks use`);
        // Bits 20-63: the file offset in MiB.
        return { kind: 'data', offset: le32(b, p + 4) * 2 ** 32 + ((low & 0xfff00000) >>> 0) };
      },
      readData(offset, length) {
        if (offset >= file.size)
          fail('corrupt', `block data at file offset ${offset} lies past the end of the file`);
        const bytes = file.readAt(offset, length);
        if (bytes.length === length) return bytes;
        // qemu has written images whose last block is only partly in the file; the rest reads as zeros.
        const out = new Uint8Array(length);
        out.set(bytes);
        return out;
      },
    }),
    description: 'Hyper-V VHDX image',
    features: [
      `block size ${blockSize / MiB} MiB`,
      ...(logicalSectorSize !== 512 ? [`${logicalSectorSize}-byte logical sectors`] : []),
    ],
  };
}
