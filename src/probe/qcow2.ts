/**
 * QEMU's qcow2 (versions 2 and 3), read through its cluster tables as qemu's docs/interop/qcow2.txt
 * describes them: zlib (and, where Node.js has it, zstd) compressed clusters, zero clusters,
 * extended L2 entries, and a backing chain followed when its files are there. Every size and
 * offset in the header is checked before it is used, so a hostile header fails at once with a
 * clear error instead of a huge allocation; tables are read in small slices as they are needed.
 */
import { be32, be64, cString } from '../io/bytes.js';
import type { Disk } from '../io/disk.js';
import { ContainerError, type ContainerProblem } from './container-error.js';
import { besideImage, type OpenContext, type OpenedImage, openNamed } from './container-files.js';
import { haveZstd, inflateRawExact, zstdExact } from './inflate.js';
import { type Block, mappedDisk } from './mapped-disk.js';
import { ByteCache, type TableSpec, tableEntry } from './table-slices.js';

export type Qcow2Problem = ContainerProblem;

/** A qcow2 feature this reader does not handle, or a damaged image; names the file and the feature. */
export class Qcow2Error extends ContainerError {
  constructor(file: string, problem: ContainerProblem, detail: string) {
    super(file, 'qcow2', problem, detail);
    this.name = 'Qcow2Error';
  }
}

const MAGIC = 0x514649fb; // "QFI\xFB"
const EXT_BACKING_FORMAT = 0xe2792aca;
const EXT_FEATURE_NAMES = 0x6803f857;
const EXT_DATA_FILE = 0x44415441;
const EXT_BITMAPS = 0x23852875;

const INCOMPAT_DIRTY = 1n;
const INCOMPAT_CORRUPT = 2n;
const INCOMPAT_EXTERNAL_DATA = 4n;
const INCOMPAT_COMPRESSION_TYPE = 8n;
const INCOMPAT_EXTENDED_L2 = 16n;
const KNOWN_INCOMPAT =
  INCOMPAT_DIRTY |
  INCOMPAT_CORRUPT |
  INCOMPAT_EXTERNAL_DATA |
  INCOMPAT_COMPRESSION_TYPE |
  INCOMPAT_EXTENDED_L2;
const COMPAT_LAZY_REFCOUNTS = 1n;

// qemu's own limits: a 32 MiB L1 table, an 8 MiB refcount table, 65536 snapshots.
const MAX_L1_BYTES = 32 * 1024 * 1024;
const MAX_REFTABLE_BYTES = 8 * 1024 * 1024;
const MAX_SNAPSHOTS = 65536;
const MAX_BACKING_NAME = 1023;
const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const TABLE_CACHE_BYTES = 4 * 1024 * 1024;
const DECODED_CLUSTERS = 4;

/** The header fields the reader and the container report use. */
export interface Qcow2Header {
  version: 2 | 3;
  clusterBits: number;
  clusterSize: number;
  virtualSize: number;
  cryptMethod: number;
  l1Size: number;
  l1TableOffset: number;
  snapshots: number;
  incompatibleFeatures: bigint;
  compatibleFeatures: bigint;
  autoclearFeatures: bigint;
  /** 0 zlib, 1 zstd. */
  compressionType: number;
  backingFile?: string;
  /** From the backing format header extension; images made before it existed have none. */
  backingFormat?: string;
  dataFile?: string;
  hasBitmaps: boolean;
  /** Names of feature bits from the image's own feature name table: `incompatible:5` → name. */
  featureNames: Map<string, string>;
}

const sizeText = (bytes: number) =>
  bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0
    ? `${bytes / (1024 * 1024)} MiB`
    : bytes >= 1024 && bytes % 1024 === 0
      ? `${bytes / 1024} KiB`
      : `${bytes} bytes`;

/** A 64-bit field as a number, or null when it is beyond 2^53. */
const field64 = (b: Uint8Array, at: number): number | null => {
  const v = be64(b, at);
  return v <= BigInt(MAX_SAFE) ? Number(v) : null;
};

/**
 * Parse and check the header of `file`. Throws Qcow2Error: `wrong-format` when it is not qcow2,
 * `version` for qcow v1 and unknown versions, `corrupt` for any field out of range.
 */
export function readQcow2Header(file: Disk, name: string): Qcow2Header {
  const fail = (problem: ContainerProblem, detail: string): never => {
    throw new Qcow2Error(name, problem, detail);
  };
  let area = file.readAt(0, 4096);
  if (area.length < 8 || be32(area, 0) !== MAGIC) return fail('wrong-format', 'not a qcow2 image');
  const version = be32(area, 4);
  if (version === 1)
    fail('version', 'QEMU qcow (version 1) image: only qcow2 (versions 2 and 3) is read here');
  if (version !== 2 && version !== 3)
    fail('version', `qcow2 version ${version} is not read here (only versions 2 and 3)`);
  const fixedLength = version === 2 ? 72 : 104;
  if (area.length < fixedLength) fail('corrupt', 'the qcow2 header is cut short');

  const clusterBits = be32(area, 20);
  if (clusterBits < 9 || clusterBits > 21)
    fail('corrupt', `invalid cluster size 2^${clusterBits} (qcow2 clusters are 512 bytes to 2 MiB)`);
  const clusterSize = 2 ** clusterBits;
  const headerLength = version === 2 ? 72 : be32(area, 100);
  if (headerLength < fixedLength || headerLength % 8 !== 0 || headerLength > clusterSize)
    fail('corrupt', `invalid header length ${headerLength}`);

  const virtualSize = field64(area, 24);
  if (virtualSize === null)
    return fail(
      'corrupt',
      `virtual size of ${be64(area, 24)} bytes is beyond any disk this reader handles (8 PiB)`,
    );
  const incompatible = version === 3 ? be64(area, 72) : 0n;
  const extendedL2 = (incompatible & INCOMPAT_EXTENDED_L2) !== 0n;
  const l2Entries = clusterSize / (extendedL2 ? 16 : 8);
  const l1Size = be32(area, 36);
  if (l1Size * 8 > MAX_L1_BYTES)
    fail('corrupt', `L1 table of ${l1Size} entries is larger than qcow2 allows (32 MiB)`);
  if (l1Size < Math.ceil(virtualSize / (clusterSize * l2Entries)))
    fail('corrupt', `L1 table of ${l1Size} entries cannot cover a virtual size of ${virtualSize} bytes`);
  const l1TableOffset = field64(area, 40);
  if (l1TableOffset === null || l1TableOffset % clusterSize !== 0)
    fail('corrupt', `invalid L1 table offset ${be64(area, 40)}`);

  // The refcount table is never read here, but qemu refuses an image whose table is out of range.
  const refcountOffset = field64(area, 48);
  const refcountClusters = be32(area, 56);
  if (
    refcountOffset === null ||
    refcountOffset % clusterSize !== 0 ||
    refcountClusters * clusterSize > MAX_REFTABLE_BYTES ||
    refcountOffset + refcountClusters * clusterSize > MAX_SAFE
  )
    fail('corrupt', `invalid refcount table (offset ${be64(area, 48)}, ${refcountClusters} clusters)`);
  const snapshots = be32(area, 60);
  const snapshotsOffset = field64(area, 64);
  if (snapshots > MAX_SNAPSHOTS) fail('corrupt', `${snapshots} snapshots is more than qcow2 allows`);
  if (snapshots > 0 && (snapshotsOffset === null || snapshotsOffset % clusterSize !== 0))
    fail('corrupt', `invalid snapshot table offset ${be64(area, 64)}`);

  const header: Qcow2Header = {
    version: version as 2 | 3,
    clusterBits,
    clusterSize,
    virtualSize,
    cryptMethod: be32(area, 32),
    l1Size,
    l1TableOffset: l1TableOffset!,
    snapshots,
    incompatibleFeatures: incompatible,
    compatibleFeatures: version === 3 ? be64(area, 80) : 0n,
    autoclearFeatures: version === 3 ? be64(area, 88) : 0n,
    compressionType: version === 3 && headerLength > 104 ? area[104]! : 0,
    hasBitmaps: false,
    featureNames: new Map(),
  };

  // Header extensions run from the end of the header to the backing file name (or the cluster's end).
  const backingOffset = field64(area, 8);
  const backingLength = be32(area, 16);
  if (backingOffset === null || backingOffset > clusterSize)
    fail('corrupt', `invalid backing file name offset ${be64(area, 8)}`);
  const extensionsEnd = backingOffset ? backingOffset : clusterSize;
  const need = (end: number) => {
    if (end > area.length && area.length < extensionsEnd) area = file.readAt(0, extensionsEnd);
    if (end > area.length) fail('corrupt', 'the qcow2 header extensions are cut short');
  };
  for (let at = headerLength; at + 8 <= extensionsEnd; ) {
    need(at + 8);
    const type = be32(area, at);
    const length = be32(area, at + 4);
    if (type === 0) break;
    const data = at + 8;
    if (data + length > extensionsEnd)
      fail('corrupt', `header extension 0x${type.toString(16)} runs past the first cluster`);
    need(data + length);
    const text = () => new TextDecoder().decode(area.subarray(data, data + length));
    if (type === EXT_BACKING_FORMAT) header.backingFormat = text();
    else if (type === EXT_DATA_FILE) header.dataFile = text();
    else if (type === EXT_BITMAPS) header.hasBitmaps = true;
    else if (type === EXT_FEATURE_NAMES)
      for (let e = data; e + 48 <= data + length; e += 48) {
        const kind = ['incompatible', 'compatible', 'autoclear'][area[e]!] ?? `type${area[e]}`;
        header.featureNames.set(`${kind}:${area[e + 1]}`, cString(area, e + 2, 46));
      }
    at = data + Math.ceil(length / 8) * 8;
  }

  if (backingOffset) {
    if (backingLength > MAX_BACKING_NAME)
      fail('corrupt', `backing file name of ${backingLength} bytes is longer than qcow2 allows (1023)`);
    const raw = file.readAt(backingOffset, backingLength);
    if (raw.length !== backingLength) fail('corrupt', 'the backing file name lies past the end of the file');
    header.backingFile = new TextDecoder().decode(raw);
  }
  return header;
}

/** Short facts about the image for reports: cluster size, compression, snapshots, backing file… */
export function qcow2Features(h: Qcow2Header): string[] {
  const features = [`cluster size ${sizeText(h.clusterSize)}`];
  if (h.backingFile !== undefined)
    features.push(`backing file "${h.backingFile}"${h.backingFormat ? ` (${h.backingFormat})` : ''}`);
  if (h.compressionType === 1) features.push('zstd compression');
  if (h.incompatibleFeatures & INCOMPAT_EXTENDED_L2) features.push('extended L2 entries (subclusters)');
  if (h.snapshots > 0)
    features.push(
      `${h.snapshots} internal snapshot${h.snapshots === 1 ? '' : 's'} (the current state is read)`,
    );
  if (h.cryptMethod) features.push(`encrypted (${h.cryptMethod === 2 ? 'LUKS' : 'AES'})`);
  if (h.dataFile !== undefined || h.incompatibleFeatures & INCOMPAT_EXTERNAL_DATA)
    features.push(`external data file${h.dataFile ? ` "${h.dataFile}"` : ''}`);
  if (h.incompatibleFeatures & INCOMPAT_DIRTY) features.push('dirty (not closed cleanly)');
  if (h.incompatibleFeatures & INCOMPAT_CORRUPT) features.push('marked corrupt by qemu');
  if (h.compatibleFeatures & COMPAT_LAZY_REFCOUNTS) features.push('lazy refcounts');
  if (h.hasBitmaps) features.push('persistent dirty bitmaps');
  return features;
}

/** Why this header's guest view cannot be read here (backing files aside), or null when it can. */
export function qcow2Unsupported(h: Qcow2Header): { problem: ContainerProblem; detail: string } | null {
  if (h.cryptMethod !== 0)
    return {
      problem: 'encryption',
      detail: `qcow2 image encrypted with ${h.cryptMethod === 2 ? 'LUKS' : h.cryptMethod === 1 ? 'AES' : `method ${h.cryptMethod}`}: its clusters cannot be read without the key`,
    };
  if (h.incompatibleFeatures & INCOMPAT_EXTERNAL_DATA)
    return {
      problem: 'external-data-file',
      detail: `qcow2 image keeps its data in an external data file${h.dataFile ? ` ("${h.dataFile}")` : ''}, which is not read here`,
    };
  const unknown = h.incompatibleFeatures & ~KNOWN_INCOMPAT;
  if (unknown) {
    const names: string[] = [];
    for (let bit = 0; bit < 64; bit++)
      if (unknown & (1n << BigInt(bit)))
        names.push(h.featureNames.get(`incompatible:${bit}`) ?? `bit ${bit}`);
    return {
      problem: 'unknown-feature',
      detail: `qcow2 image uses incompatible features this reader does not know (${names.join(', ')})`,
    };
  }
  if (h.incompatibleFeatures & INCOMPAT_COMPRESSION_TYPE && h.compressionType !== 1)
    return { problem: 'compression', detail: `unknown qcow2 compression type ${h.compressionType}` };
  // Refused at once rather than at the first compressed cluster: a table half read is worse.
  if (h.compressionType === 1 && !haveZstd())
    return {
      problem: 'compression',
      detail: `qcow2 image compressed with zstd, which this Node.js (${process.version}) cannot decompress (Node.js 22.15 or later can; so does \`qemu-img convert -O raw\`)`,
    };
  return null;
}

/** A backing file name qemu resolves as a protocol or JSON spec rather than a file. */
const isProtocolName = (name: string) =>
  /^(json:|[a-z][a-z0-9+.-]*:\/\/|nbd[:+]|[a-z]+:[a-z]+=)/iu.test(name);

/**
 * The image below a qcow2 overlay: its backing file, opened relative to the overlay as raw or
 * qcow2 (from the backing format extension, else from the file's first bytes, as qemu probes).
 */
function openBacking(h: Qcow2Header, ctx: OpenContext, name: string): Disk {
  const backing = h.backingFile!;
  const fail = (problem: ContainerProblem, detail: string): never => {
    throw new Qcow2Error(name, problem, detail);
  };
  if (!ctx.path)
    return fail(
      'backing-file',
      `qcow2 image with backing file "${backing}": its unallocated clusters live in that file, which is followed only when the image is opened by its path`,
    );
  if (isProtocolName(backing))
    fail(
      'backing-file',
      `backing file "${backing}" is a QEMU protocol or JSON name, not a file: not followed here`,
    );
  if (ctx.depth + 1 > ctx.maxDepth)
    fail(
      'backing-depth',
      `backing chain is deeper than ${ctx.maxDepth} images; not followed past "${backing}"`,
    );
  const file = openNamed(ctx, 'qcow2', backing, 'backing file', 'backing-missing');
  const identity = ctx.files.identity(file.path);
  if (ctx.seen.includes(identity))
    fail(
      'backing-loop',
      `backing file "${backing}" leads back to an image already in the chain (${identity})`,
    );
  const format = h.backingFormat ?? (be32(file.readAt(0, 4), 0) === MAGIC ? 'qcow2' : 'raw');
  if (format === 'raw') return file;
  if (format !== 'qcow2')
    fail(
      'backing-format',
      `backing file "${backing}" is in ${format} format; only raw and qcow2 backing files are followed`,
    );
  const child: OpenContext = {
    ...ctx,
    path: file.path,
    name: besideImage(ctx.name, backing),
    seen: [...ctx.seen, identity],
    depth: ctx.depth + 1,
  };
  return openQcow2Image(file, child).disk;
}

/**
 * The guest's disk inside a qcow2 (v2 or v3) image. Unallocated clusters come from the backing
 * file when there is one, else read as zeros; zero clusters read as zeros; compressed clusters are
 * decompressed (zlib; zstd where Node.js has it). Opening checks the header and throws Qcow2Error
 * for what cannot be read (encryption, an external data file, unknown features, a missing or
 * looping backing file, a damaged header); reads throw Qcow2Error where a table or cluster is
 * damaged. Nothing is ever written to `file`.
 */
export function openQcow2Image(file: Disk, ctx: OpenContext): OpenedImage {
  const { name } = ctx;
  const h = readQcow2Header(file, name);
  const unsupported = qcow2Unsupported(h);
  if (unsupported) throw new Qcow2Error(name, unsupported.problem, unsupported.detail);
  const below = h.backingFile !== undefined ? openBacking(h, ctx, name) : undefined;
  return {
    disk: qcow2Disk(file, name, h, below),
    description: `QEMU qcow2 v${h.version} image`,
    features: qcow2Features(h),
  };
}

function qcow2Disk(file: Disk, name: string, h: Qcow2Header, below: Disk | undefined): Disk {
  const { clusterBits, clusterSize, virtualSize } = h;
  const extendedL2 = (h.incompatibleFeatures & INCOMPAT_EXTENDED_L2) !== 0n;
  const entrySize = extendedL2 ? 16 : 8;
  const l2Entries = clusterSize / entrySize;
  // With extended L2 entries each cluster is 32 subclusters, allocated one by one.
  const subclusters = extendedL2 ? 32 : 1;
  const blockSize = clusterSize / subclusters;
  const neededL1 = Math.ceil(virtualSize / (clusterSize * l2Entries));
  const l1: TableSpec = { offset: h.l1TableOffset, count: neededL1, entrySize: 8 };
  if (h.l1TableOffset + neededL1 * 8 > file.size)
    throw new Qcow2Error(name, 'corrupt', `L1 table at ${h.l1TableOffset} lies past the end of the file`);

  const fail = (detail: string): never => {
    throw new Qcow2Error(name, 'corrupt', detail);
  };
  const tables = new ByteCache<number>(TABLE_CACHE_BYTES);
  const decoded = new ByteCache<number>(DECODED_CLUSTERS * clusterSize);
  // Bits 9-55 of a table entry: hi word bits 0-23 and lo word bits 9-31.
  const offsetOf = (hi: number, lo: number) => (hi & 0x00ffffff) * 2 ** 32 + ((lo & 0xfffffe00) >>> 0);

  /** The guest cluster of this compressed L2 entry, decompressed (cached: probes read it piecemeal). */
  const decompress = (hi: number, lo: number, cluster: number): Uint8Array => {
    const entry = (BigInt(hi) << 32n) | BigInt(lo >>> 0);
    const shift = BigInt(62 - (clusterBits - 8));
    const hostOffset = Number(entry & ((1n << shift) - 1n));
    const sectors = Number((entry >> shift) & ((1n << BigInt(clusterBits - 8)) - 1n)) + 1;
    const cached = decoded.get(hostOffset);
    if (cached) return cached;
    const guest = cluster * clusterSize;
    if (!Number.isSafeInteger(hostOffset) || hostOffset >= file.size)
      fail(`compressed cluster for guest offset ${guest} lies past the end of the file`);
    // The last compressed cluster may end inside a sector the file does not fill: qemu reads zeros there.
    const input = file.readAt(hostOffset, sectors * 512 - (hostOffset % 512));
    const bytes =
      h.compressionType === 1 ? zstdExact(input, clusterSize) : inflateRawExact(input, clusterSize);
    if (!bytes)
      return fail(`compressed cluster for guest offset ${guest} does not decompress to ${clusterSize} bytes`);
    decoded.set(hostOffset, bytes);
    return bytes;
  };

  const locate = (index: number): Block => {
    const cluster = Math.floor(index / subclusters);
    const sub = index - cluster * subclusters;
    const l1Index = Math.floor(cluster / l2Entries);
    if (l1Index >= neededL1) return { kind: 'zero' };
    const [l1b, l1p] = tableEntry(file, tables, l1, l1Index, () => fail('the L1 table is cut short'));
    const l2Offset = offsetOf(be32(l1b, l1p), be32(l1b, l1p + 4));
    if (l2Offset === 0) return { kind: 'below' };
    if (l2Offset % clusterSize !== 0) fail(`L2 table offset ${l2Offset} is not cluster aligned`);
    const table: TableSpec = { offset: l2Offset, count: l2Entries, entrySize };
    const [b, p] = tableEntry(file, tables, table, cluster % l2Entries, () =>
      fail(`L2 table at ${l2Offset} lies past the end of the file`),
    );
    const hi = be32(b, p);
    const lo = be32(b, p + 4);
    if (hi & 0x40000000) {
      const bytes = decompress(hi, lo, cluster);
      return { kind: 'bytes', bytes: bytes.subarray(sub * blockSize, (sub + 1) * blockSize) };
    }
    const host = offsetOf(hi, lo);
    if (extendedL2) {
      const zeroBits = be32(b, p + 8);
      const allocBits = be32(b, p + 12);
      if (allocBits & (1 << sub)) {
        if (host === 0 || host % clusterSize !== 0) fail(`invalid cluster offset ${host} in an L2 entry`);
        return { kind: 'data', offset: host + sub * blockSize };
      }
      return zeroBits & (1 << sub) ? { kind: 'zero' } : { kind: 'below' };
    }
    if (lo & 1) return { kind: 'zero' };
    if (host === 0) return { kind: 'below' };
    if (host % clusterSize !== 0) fail(`cluster offset ${host} in an L2 entry is not cluster aligned`);
    return { kind: 'data', offset: host };
  };

  return mappedDisk({
    size: virtualSize,
    blockSize,
    sectorSize: 512,
    locate,
    below,
    readData(offset, length) {
      const bytes = file.readAt(offset, length);
      if (bytes.length !== length)
        fail(`cluster data at file offset ${offset} lies past the end of the file (${file.size} bytes)`);
      return bytes;
    },
  });
}
