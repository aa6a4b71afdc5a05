import { be32, be64, safeNumber } from '../engine/bytes.js';
import type { Disk } from '../engine/disk.js';
import { decodeUtf8Visibly } from '../engine/display-text.js';

/** Why the guest's disk cannot be read straight from a qcow2 file. */
export type Qcow2Problem =
  | 'not-qcow2'
  | 'version'
  | 'backing-file'
  | 'encryption'
  | 'external-data-file'
  | 'extended-l2'
  | 'unknown-feature'
  | 'compressed-cluster'
  | 'corrupt';

/** A qcow2 feature this reader does not handle, or a damaged image; names the file and the feature. */
export class Qcow2Error extends Error {
  constructor(
    readonly file: string,
    readonly problem: Qcow2Problem,
    detail: string,
  ) {
    super(`${file}: ${detail}`);
    this.name = 'Qcow2Error';
  }
}

const MAGIC = 0x514649fb; // "QFI\xFB"
const OFFSET_MASK = 0x00fffffffffffe00n; // bits 9-55 of L1/L2 entries
const COMPRESSED = 1n << 62n;
const ZERO_FLAG = 1n; // v3: the cluster reads as zeros
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
const MAX_L1_ENTRIES = 4 * 1024 * 1024; // qemu's own limit (32 MiB of L1)
const L2_CACHE_TABLES = 32;

/** The qcow2 header fields the reader and the container report need. */
export interface Qcow2Header {
  version: number;
  clusterBits: number;
  virtualSize: number;
  backingFile?: string;
  cryptMethod: number;
  l1Size: number;
  l1TableOffset: number;
  incompatibleFeatures: bigint;
}

/** Parse the header at the start of `head` (at least 104 bytes of the file); null when it is not qcow2 v2/v3. */
export function parseQcow2Header(
  head: Uint8Array,
  readBackingName?: (offset: number, length: number) => Uint8Array,
): Qcow2Header | null {
  if (head.length < 72 || be32(head, 0) !== MAGIC) return null;
  const version = be32(head, 4);
  if (version !== 2 && version !== 3) return null;
  const virtualSize = safeNumber(be64(head, 24));
  const l1TableOffset = safeNumber(be64(head, 40));
  if (virtualSize === null || l1TableOffset === null) return null;
  const header: Qcow2Header = {
    version,
    clusterBits: be32(head, 20),
    virtualSize,
    cryptMethod: be32(head, 32),
    l1Size: be32(head, 36),
    l1TableOffset,
    incompatibleFeatures: version >= 3 && head.length >= 80 ? be64(head, 72) : 0n,
  };
  const backingOffset = safeNumber(be64(head, 8));
  const backingLength = be32(head, 16);
  if (backingOffset) {
    const name = readBackingName?.(backingOffset, Math.min(backingLength, 1023));
    header.backingFile = name ? decodeUtf8Visibly(name) : '(unreadable name)';
  }
  return header;
}

/** Why this header cannot be read directly, or null when it can. */
export function qcow2Unsupported(h: Qcow2Header): { problem: Qcow2Problem; detail: string } | null {
  if (h.backingFile !== undefined)
    return {
      problem: 'backing-file',
      detail: `qcow2 image with backing file "${h.backingFile}": its unallocated clusters live in that file, which is not read here`,
    };
  if (h.cryptMethod !== 0)
    return {
      problem: 'encryption',
      detail: `qcow2 image encrypted with ${h.cryptMethod === 2 ? 'LUKS' : 'AES'}: its clusters cannot be read without the key`,
    };
  if (h.incompatibleFeatures & INCOMPAT_EXTERNAL_DATA)
    return { problem: 'external-data-file', detail: 'qcow2 image keeps its data in an external data file' };
  if (h.incompatibleFeatures & INCOMPAT_EXTENDED_L2)
    return { problem: 'extended-l2', detail: 'qcow2 image uses extended L2 entries (subclusters)' };
  const unknown = h.incompatibleFeatures & ~KNOWN_INCOMPAT;
  if (unknown)
    return {
      problem: 'unknown-feature',
      detail: `qcow2 image uses unknown incompatible features 0x${unknown.toString(16)}`,
    };
  return null;
}

/**
 * The guest's disk inside a qcow2 (v2 or v3) image, read through the L1/L2 cluster tables.
 * Unallocated and zero clusters read as zeros; a compressed cluster throws Qcow2Error when it is
 * read. Images with a backing file, encryption, an external data file or subclusters throw when
 * opened. Nothing is ever written to `file`.
 */
export function openQcow2(file: Disk, name: string): Disk {
  const head = file.readAt(0, 112);
  const header = parseQcow2Header(head, (offset, length) => file.readAt(offset, length));
  if (!header) {
    const version = head.length >= 8 && be32(head, 0) === MAGIC ? be32(head, 4) : null;
    throw version === null
      ? new Qcow2Error(name, 'not-qcow2', 'not a qcow2 image')
      : new Qcow2Error(name, 'version', `qcow version ${version} is not read here (only qcow2 v2 and v3)`);
  }
  const unsupported = qcow2Unsupported(header);
  if (unsupported) throw new Qcow2Error(name, unsupported.problem, unsupported.detail);

  const { clusterBits, virtualSize } = header;
  if (clusterBits < 9 || clusterBits > 21)
    throw new Qcow2Error(name, 'corrupt', `invalid cluster size 2^${clusterBits}`);
  const clusterSize = 2 ** clusterBits;
  const l2Entries = clusterSize / 8;
  const neededL1 = Math.ceil(virtualSize / (clusterSize * l2Entries));
  if (header.l1Size < neededL1 || header.l1Size > MAX_L1_ENTRIES)
    throw new Qcow2Error(
      name,
      'corrupt',
      `L1 table of ${header.l1Size} entries cannot cover ${virtualSize} bytes`,
    );
  const l1 = file.readAt(header.l1TableOffset, neededL1 * 8);
  if (l1.length !== neededL1 * 8)
    throw new Qcow2Error(name, 'corrupt', 'L1 table lies past the end of the file');

  const l2Cache = new Map<number, Uint8Array>();
  const l2Table = (offset: number): Uint8Array => {
    const cached = l2Cache.get(offset);
    if (cached) return cached;
    const table = file.readAt(offset, clusterSize);
    if (table.length !== clusterSize)
      throw new Qcow2Error(name, 'corrupt', `L2 table at ${offset} lies past the end of the file`);
    if (l2Cache.size >= L2_CACHE_TABLES) l2Cache.delete(l2Cache.keys().next().value!);
    l2Cache.set(offset, table);
    return table;
  };

  /** Host offset of the guest cluster holding `guestOffset`, or null when it reads as zeros. */
  const hostCluster = (guestOffset: number): number | null => {
    const cluster = Math.floor(guestOffset / clusterSize);
    const l1Entry = be64(l1, Math.floor(cluster / l2Entries) * 8);
    const l2Offset = Number(l1Entry & OFFSET_MASK);
    if (l2Offset === 0) return null;
    const entry = be64(l2Table(l2Offset), (cluster % l2Entries) * 8);
    if (entry & COMPRESSED)
      throw new Qcow2Error(
        name,
        'compressed-cluster',
        `guest offset ${cluster * clusterSize} is in a compressed cluster, which is not read here (\`qemu-img convert -O raw\` decompresses it)`,
      );
    if (header.version >= 3 && entry & ZERO_FLAG) return null;
    const host = Number(entry & OFFSET_MASK);
    return host === 0 ? null : host;
  };

  /** `length` guest bytes at `at` (all in one cluster), or null when they read as zeros. */
  const readWithinCluster = (at: number, length: number): Uint8Array | null => {
    const host = hostCluster(at);
    if (host === null) return null;
    const within = at % clusterSize;
    const data = file.readAt(host + within, length);
    if (data.length !== length)
      throw new Qcow2Error(
        name,
        'corrupt',
        `data cluster for guest offset ${at - within} lies past the end of the file`,
      );
    return data;
  };

  return {
    sectorSize: 512,
    size: virtualSize,
    readAt(offset, length) {
      if (offset < 0 || offset >= virtualSize || length <= 0) return new Uint8Array(0);
      const total = Math.min(length, virtualSize - offset);
      // Within one cluster the file's bytes are the answer as they are: no copy.
      if ((offset % clusterSize) + total <= clusterSize)
        return readWithinCluster(offset, total) ?? new Uint8Array(total);
      const out = new Uint8Array(total);
      for (let done = 0; done < total; ) {
        const n = Math.min(clusterSize - ((offset + done) % clusterSize), total - done);
        const data = readWithinCluster(offset + done, n);
        if (data) out.set(data, done);
        done += n;
      }
      return out;
    },
  };
}
