/**
 * VMware VMDK: a text descriptor (its own file, or embedded in a sparse file) listing extents, and
 * hosted sparse extents (monolithicSparse, streamOptimized) read through their grain directory
 * and grain tables, compressed grains included. FLAT extents are read as raw at their offsets;
 * the extents are joined into one disk. What qemu's block/vmdk.c reads is read the same way.
 */
import { le16, le32, le64 } from '../io/bytes.js';
import type { Disk } from '../io/disk.js';
import { ContainerError, type ContainerProblem } from './container-error.js';
import { besideImage, type OpenContext, type OpenedImage, openNamed } from './container-files.js';
import { inflateZlibUpTo } from './inflate.js';
import { type Block, concatDisks, type Extent, mappedDisk } from './mapped-disk.js';
import { ByteCache, type TableSpec, tableEntry } from './table-slices.js';

const SPARSE_MAGIC = 0x564d444b; // "KDMV" read little-endian
const COWD_MAGIC = 0x44574f43; // "COWD"
const GD_AT_END = 0xffffffffffffffffn;
const FLAG_ZERO_GRAIN = 1 << 2;
const FLAG_MARKERS = 1 << 17;
const COMPRESSION_DEFLATE = 1;
const MARKER_FOOTER = 3;
const MAX_DESCRIPTOR = 1024 * 1024 - 1; // qemu reads at most this much descriptor text
const MAX_GRAIN_SECTORS = 4096; // 2 MiB grains; VMware writes 64 KiB
const MAX_GD_ENTRIES = 32 * 1024 * 1024; // qemu's limit on the grain directory
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const TABLE_CACHE_BYTES = 2 * 1024 * 1024;
const DECODED_GRAINS = 8;

const fail = (file: string, problem: ContainerProblem, detail: string): never => {
  throw new ContainerError(file, 'vmdk', problem, detail);
};

/** The fields of a hosted sparse extent header (`KDMV`). Sizes in 512-byte sectors. */
export interface SparseHeader {
  version: number;
  flags: number;
  capacity: bigint;
  grainSectors: bigint;
  descriptorOffset: bigint;
  descriptorSectors: bigint;
  gtesPerGt: number;
  gdOffset: bigint;
  compressAlgorithm: number;
  uncleanShutdown: boolean;
}

export function parseSparseHeader(b: Uint8Array): SparseHeader | null {
  if (b.length < 80 || le32(b, 0) !== SPARSE_MAGIC) return null;
  return {
    version: le32(b, 4),
    flags: le32(b, 8),
    capacity: le64(b, 12),
    grainSectors: le64(b, 20),
    descriptorOffset: le64(b, 28),
    descriptorSectors: le64(b, 36),
    gtesPerGt: le32(b, 44),
    gdOffset: le64(b, 56),
    uncleanShutdown: b[72] !== 0,
    compressAlgorithm: le16(b, 77),
  };
}

/** What a descriptor says: its type, its extents, and the parent of a delta (snapshot) disk. */
export interface VmdkDescriptor {
  createType?: string;
  parentHint?: string;
  hasParent: boolean;
  extents: { access: string; sectors: number; type: string; file?: string; offset: number }[];
}

export function parseDescriptor(text: string): VmdkDescriptor {
  const value = (key: string) => new RegExp(`^\\s*${key}\\s*=\\s*"?([^"\\r\\n]*)"?`, 'mu').exec(text)?.[1];
  const parentCid = value('parentCID');
  const extents: VmdkDescriptor['extents'] = [];
  for (const m of text.matchAll(
    /^[ \t]*(RW|RDONLY|NOACCESS)[ \t]+(\d+)[ \t]+([A-Z]+)(?:[ \t]+"([^"\r\n]*)"(?:[ \t]+(\d+))?)?/gmu,
  ))
    extents.push({
      access: m[1]!,
      sectors: Number(m[2]),
      type: m[3]!,
      ...(m[4] !== undefined ? { file: m[4] } : {}),
      offset: Number(m[5] ?? 0),
    });
  const descriptor: VmdkDescriptor = {
    hasParent: parentCid !== undefined && parentCid.trim().toLowerCase() !== 'ffffffff',
    extents,
  };
  const createType = value('createType');
  if (createType) descriptor.createType = createType;
  const parentHint = value('parentFileNameHint');
  if (parentHint) descriptor.parentHint = parentHint;
  return descriptor;
}

/** A descriptor as qemu recognises one: comment and blank lines, then `version=N`. */
export function looksLikeDescriptor(head: Uint8Array): boolean {
  const text = new TextDecoder('latin1').decode(head);
  if (text.startsWith('# Disk DescriptorFile')) return true;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    return /^version=[123]\r?$/u.test(line);
  }
  return false;
}

const grainText = (sectors: number) =>
  sectors * 512 >= 1024 * 1024 ? `${(sectors * 512) / (1024 * 1024)} MiB` : `${(sectors * 512) / 1024} KiB`;

/**
 * The guest's disk of a hosted sparse extent: the grain directory (from the footer in
 * streamOptimized files) points to grain tables, which point to grains, compressed or not.
 */
function sparseExtent(file: Disk, name: string, header: SparseHeader, features: string[]): Disk {
  let h = header;
  if (h.gdOffset === GD_AT_END) {
    // streamOptimized: the footer (a copy of the header with the real grain directory) sits
    // between a footer marker and the end-of-stream marker, in the last three sectors.
    const tail = file.size >= 1536 ? file.readAt(file.size - 1536, 1536) : new Uint8Array(0);
    const footer = tail.length === 1536 ? parseSparseHeader(tail.subarray(512, 1024)) : null;
    if (!footer || le32(tail, 8) !== 0 || le32(tail, 12) !== MARKER_FOOTER || le32(tail, 1024 + 12) !== 0)
      return fail(name, 'corrupt', 'the streamOptimized footer at the end of the file is missing or damaged');
    h = footer;
  }
  if (h.version > 3) fail(name, 'version', `VMDK sparse extent version ${h.version} is not read here`);
  if (h.gtesPerGt === 0 || h.gtesPerGt > 512)
    fail(name, 'corrupt', `invalid grain table size of ${h.gtesPerGt} entries`);
  if (h.grainSectors === 0n || h.grainSectors > BigInt(MAX_GRAIN_SECTORS))
    fail(
      name,
      'corrupt',
      `invalid grain size of ${h.grainSectors} sectors (up to ${MAX_GRAIN_SECTORS} read here)`,
    );
  if (h.capacity * 512n > BigInt(MAX_SAFE))
    fail(name, 'corrupt', `capacity of ${h.capacity} sectors is beyond any disk this reader handles`);
  const grainSectors = Number(h.grainSectors);
  const grainBytes = grainSectors * 512;
  const size = Number(h.capacity) * 512;
  const gdEntries = Math.ceil(Number(h.capacity) / (h.gtesPerGt * grainSectors));
  if (gdEntries > MAX_GD_ENTRIES)
    fail(name, 'corrupt', `grain directory of ${gdEntries} entries is too large`);
  if (h.gdOffset * 512n + BigInt(gdEntries * 4) > BigInt(file.size))
    fail(name, 'corrupt', `grain directory at sector ${h.gdOffset} lies past the end of the file`);
  const compressed = h.compressAlgorithm === COMPRESSION_DEFLATE;
  const markers = (h.flags & FLAG_MARKERS) !== 0;
  const zeroGrains = (h.flags & FLAG_ZERO_GRAIN) !== 0;
  features.push(`grain size ${grainText(grainSectors)}`);
  if (compressed) features.push('compressed grains (deflate)');
  if (h.uncleanShutdown) features.push('not closed cleanly');

  const gd: TableSpec = { offset: Number(h.gdOffset) * 512, count: gdEntries, entrySize: 4 };
  const tables = new ByteCache<number>(TABLE_CACHE_BYTES);
  const decoded = new ByteCache<number>(DECODED_GRAINS * grainBytes);
  const bad = (detail: string): never => fail(name, 'corrupt', detail);

  const decompress = (sector: number, grain: number): Uint8Array => {
    const cached = decoded.get(sector);
    if (cached) return cached;
    const at = sector * 512;
    // qemu reads two grains' worth: the marker and compressed data may run past one grain.
    let input: Uint8Array;
    if (markers) {
      const marker = file.readAt(at, 12);
      const length = le32(marker, 8);
      if (marker.length < 12 || length === 0 || length > 2 * grainBytes)
        bad(`compressed grain for guest offset ${grain * grainBytes} has an invalid marker`);
      input = file.readAt(at + 12, length);
    } else input = file.readAt(at, 2 * grainBytes);
    const wanted = Math.min(grainBytes, size - grain * grainBytes);
    const bytes = inflateZlibUpTo(input, grainBytes);
    if (!bytes || bytes.length < wanted)
      return bad(`compressed grain for guest offset ${grain * grainBytes} does not decompress`);
    const whole = bytes.length === grainBytes ? bytes : padded(bytes, grainBytes);
    decoded.set(sector, whole);
    return whole;
  };

  const locate = (grain: number): Block => {
    const gdIndex = Math.floor(grain / h.gtesPerGt);
    if (gdIndex >= gdEntries) return { kind: 'zero' };
    const [gdb, gdp] = tableEntry(file, tables, gd, gdIndex, () => bad('the grain directory is cut short'));
    const gtSector = le32(gdb, gdp);
    if (gtSector === 0) return { kind: 'below' };
    const gt: TableSpec = { offset: gtSector * 512, count: h.gtesPerGt, entrySize: 4 };
    const [b, p] = tableEntry(file, tables, gt, grain % h.gtesPerGt, () =>
      bad(`grain table at sector ${gtSector} lies past the end of the file`),
    );
    const sector = le32(b, p);
    if (sector === 0) return { kind: 'below' };
    if (sector === 1 && zeroGrains) return { kind: 'zero' };
    if (compressed) return { kind: 'bytes', bytes: decompress(sector, grain) };
    return { kind: 'data', offset: sector * 512 };
  };

  return mappedDisk({
    size,
    blockSize: grainBytes,
    sectorSize: 512,
    locate,
    readData(offset, length) {
      const bytes = file.readAt(offset, length);
      if (bytes.length !== length) bad(`grain at file offset ${offset} lies past the end of the file`);
      return bytes;
    },
  });
}

function padded(bytes: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  out.set(bytes);
  return out;
}

/** The descriptor text embedded in a sparse file, or null when it has none. */
function embeddedDescriptor(file: Disk, h: SparseHeader): string | null {
  if (h.descriptorOffset === 0n || h.descriptorSectors === 0n) return null;
  const at = h.descriptorOffset * 512n;
  if (at >= BigInt(file.size)) return null;
  const length = Math.min(Number(h.descriptorSectors * 512n), MAX_DESCRIPTOR);
  return new TextDecoder('latin1').decode(file.readAt(Number(at), length)).replace(/\0.*$/su, '');
}

/** The disk a descriptor's extents make, opening each extent file beside the descriptor. */
function extentsDisk(desc: VmdkDescriptor, ctx: OpenContext, features: string[]): Disk {
  const { name } = ctx;
  if (desc.extents.length === 0) fail(name, 'corrupt', 'the VMDK descriptor lists no extents');
  const pieces: Extent[] = [];
  for (const e of desc.extents) {
    const size = e.sectors * 512;
    if (!Number.isSafeInteger(size)) fail(name, 'corrupt', `extent of ${e.sectors} sectors is too large`);
    if (e.access === 'NOACCESS')
      fail(name, 'unsupported', `extent "${e.file ?? e.type}" is marked NOACCESS: its bytes cannot be read`);
    if (e.type === 'ZERO') {
      pieces.push({ size });
      continue;
    }
    if (e.file === undefined) fail(name, 'corrupt', `${e.type} extent without a file name`);
    if (e.type === 'FLAT' || e.type === 'VMFS') {
      const file = openNamed(ctx, 'vmdk', e.file!, 'extent', 'missing-extent');
      pieces.push({ size, disk: file, offset: e.offset * 512 });
    } else if (e.type === 'SPARSE') {
      const file = openNamed(ctx, 'vmdk', e.file!, 'extent', 'missing-extent');
      const header = parseSparseHeader(file.readAt(0, 512));
      if (!header)
        fail(
          name,
          'unsupported',
          `sparse extent "${e.file}" is not a hosted sparse (KDMV) extent; not read here`,
        );
      const disk = sparseExtent(file, besideImage(name, e.file!), header!, []);
      pieces.push({ size: disk.size, disk });
    } else
      fail(
        name,
        'unsupported',
        `${e.type} extents (in "${e.file}") are not read here; qemu-img convert reads them`,
      );
  }
  features.push(
    `${pieces.length} extent${pieces.length === 1 ? '' : 's'} (${desc.extents.map((e) => e.type).join(', ')})`,
  );
  return concatDisks(pieces);
}

function refuseParent(desc: VmdkDescriptor, name: string): void {
  if (desc.hasParent)
    fail(
      name,
      'backing-file',
      `VMDK delta disk of parent "${desc.parentHint ?? '?'}": its unwritten grains live in the parent, which is not followed here`,
    );
}

/**
 * The guest's disk of a VMDK: a descriptor file (extents opened beside it), a sparse file with
 * the descriptor embedded, or a monolithicSparse/streamOptimized file. Throws ContainerError for
 * a missing extent file, a delta disk (its parent is not followed), ESX-only extent types, and
 * damaged headers or tables.
 */
export function openVmdkImage(file: Disk, ctx: OpenContext): OpenedImage {
  const { name } = ctx;
  const head = file.readAt(0, 512);
  const features: string[] = [];
  if (le32(head, 0) === COWD_MAGIC)
    fail(name, 'unsupported', 'ESX COWD (vmfsSparse) extent: not read here; qemu-img convert reads it');
  const header = parseSparseHeader(head);
  if (header) {
    const text = embeddedDescriptor(file, header);
    const desc = text !== null ? parseDescriptor(text) : undefined;
    if (desc?.createType) features.push(`createType ${desc.createType}`);
    if (desc) refuseParent(desc, name);
    // A sparse file with no capacity is only a carrier for its descriptor (qemu reads it so).
    if (header.capacity === 0n && desc)
      return { disk: extentsDisk(desc, ctx, features), description: 'VMware VMDK image', features };
    return {
      disk: sparseExtent(file, name, header, features),
      description: `VMware VMDK ${header.compressAlgorithm === COMPRESSION_DEFLATE ? 'streamOptimized' : 'sparse'} image`,
      features,
    };
  }
  if (!looksLikeDescriptor(head)) fail(name, 'wrong-format', 'not a VMDK image');
  const text = new TextDecoder('latin1').decode(file.readAt(0, Math.min(file.size, MAX_DESCRIPTOR)));
  const desc = parseDescriptor(text);
  if (desc.createType) features.push(`createType ${desc.createType}`);
  refuseParent(desc, name);
  return { disk: extentsDisk(desc, ctx, features), description: 'VMware VMDK descriptor', features };
}
