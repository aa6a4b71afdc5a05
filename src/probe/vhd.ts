/**
 * Virtual PC / Hyper-V VHD: a fixed disk is the raw disk followed by a 512-byte footer; a dynamic
 * disk keeps a copy of the footer at the start, a dynamic header, and a block allocation table
 * (BAT) of blocks that each start with a sector bitmap. The guest's size follows qemu's rules
 * (CHS geometry for Virtual PC and qemu images, the footer's size for Hyper-V and the rest).
 */
import { be16, be32, be64 } from '../io/bytes.js';
import type { Disk } from '../io/disk.js';
import { ContainerError, type ContainerProblem } from './container-error.js';
import type { OpenContext, OpenedImage } from './container-files.js';
import { concatDisks, mappedDisk } from './mapped-disk.js';
import { ByteCache, type TableSpec, tableEntry } from './table-slices.js';

const TYPE_FIXED = 2;
const TYPE_DYNAMIC = 3;
const TYPE_DIFFERENCING = 4;
const MAX_GEOMETRY = 65535 * 16 * 255;
const MAX_SECTORS = 0xff000000; // 2040 GiB
const UNALLOCATED = 0xffffffff;
const TABLE_CACHE_BYTES = 1024 * 1024;

const ascii = (b: Uint8Array, at: number, length: number) =>
  String.fromCharCode(...b.subarray(at, at + length));

export interface VhdFooter {
  type: number;
  creatorApp: string;
  /** The guest's size in bytes, by qemu's rules. */
  size: number;
  dataOffset: bigint;
  checksumOk: boolean;
}

/** The footer (or its copy at the start of a dynamic disk), or null without the `conectix` cookie. */
export function parseVhdFooter(b: Uint8Array): VhdFooter | null {
  if (b.length < 512 || ascii(b, 0, 8) !== 'conectix') return null;
  let sum = 0;
  for (let i = 0; i < 512; i++) if (i < 64 || i >= 68) sum += b[i]!;
  const creatorApp = ascii(b, 28, 4);
  const chsSectors = be16(b, 56) * b[58]! * b[59]!;
  // Virtual PC and qemu size the disk by its geometry; Hyper-V, disk2vhd, Xen and qemu's
  // force_size images by the footer's current size (and so does everyone past the largest geometry).
  const bySize =
    ['win ', 'qem2', 'd2v ', 'CTXS', 'tap\0'].includes(creatorApp) || chsSectors === MAX_GEOMETRY;
  const current = be64(b, 48);
  const sectors = bySize ? current / 512n : BigInt(chsSectors);
  return {
    type: be32(b, 60),
    creatorApp,
    size: sectors > BigInt(MAX_SECTORS) ? Number.POSITIVE_INFINITY : Number(sectors) * 512,
    dataOffset: be64(b, 16),
    checksumOk: ~sum >>> 0 === be32(b, 64),
  };
}

/** Where a VHD's footer is: at the start (dynamic, with its copy at the end) or only at the end (fixed). */
export function findVhdFooter(file: Disk): { footer: VhdFooter; atStart: boolean } | null {
  const head = parseVhdFooter(file.readAt(0, 512));
  if (head) return { footer: head, atStart: true };
  if (file.size < 1024) return null;
  const tail = parseVhdFooter(file.readAt(file.size - 512, 512));
  return tail ? { footer: tail, atStart: false } : null;
}

/**
 * The guest's disk of a VHD: fixed ones read as the raw bytes before the footer, dynamic ones
 * through the BAT (unallocated blocks read as zeros). A differencing VHD needs its parent, which
 * is not followed: ContainerError `backing-file`.
 */
export function openVhdImage(file: Disk, ctx: OpenContext): OpenedImage {
  const { name } = ctx;
  const fail = (problem: ContainerProblem, detail: string): never => {
    throw new ContainerError(name, 'vhd', problem, detail);
  };
  const found = findVhdFooter(file);
  if (!found) return fail('wrong-format', 'not a VHD image');
  const { footer } = found;
  if (!footer.checksumOk) fail('corrupt', 'the VHD footer checksum does not match');
  if (!Number.isFinite(footer.size)) fail('corrupt', 'the VHD is larger than the format allows (2040 GiB)');
  const features = [`creator "${footer.creatorApp.replace(/\0/gu, '')}"`];

  // qemu treats a footer at the start as a dynamic disk whatever its type says, and reads a fixed
  // one (footer at the end only) as the bytes it covers.
  if (!found.atStart || footer.type === TYPE_FIXED) {
    if (found.atStart) fail('corrupt', 'fixed VHD with a footer copy at the start');
    return {
      disk: concatDisks([{ size: footer.size, disk: file, offset: 0 }]),
      description: 'Virtual PC / Hyper-V VHD fixed image',
      features: ['fixed', ...features],
    };
  }
  if (footer.type === TYPE_DIFFERENCING)
    fail(
      'backing-file',
      'differencing VHD: its unwritten blocks live in its parent image, which is not followed here',
    );
  if (footer.type !== TYPE_DYNAMIC) fail('unsupported', `VHD disk type ${footer.type} is not read here`);

  if (footer.dataOffset > BigInt(file.size - 1024))
    fail('corrupt', 'the dynamic VHD header lies past the end of the file');
  const dyn = file.readAt(Number(footer.dataOffset), 1024);
  if (ascii(dyn, 0, 8) !== 'cxsparse') fail('corrupt', 'the dynamic VHD header has no cxsparse cookie');
  const blockSize = be32(dyn, 32);
  if (blockSize < 512 || (blockSize & (blockSize - 1)) !== 0)
    fail('corrupt', `invalid block size ${blockSize}`);
  const entries = be32(dyn, 28);
  if (entries * blockSize < footer.size) fail('corrupt', `a BAT of ${entries} entries cannot cover the disk`);
  const batOffset = be64(dyn, 16);
  const used = Math.ceil(footer.size / blockSize);
  if (batOffset + BigInt(used * 4) > BigInt(file.size))
    fail('corrupt', 'the BAT lies past the end of the file');
  // Each block starts with its sector bitmap, a whole number of sectors long.
  const bitmapBytes = Math.ceil(blockSize / (8 * 512) / 512) * 512;
  const bat: TableSpec = { offset: Number(batOffset), count: used, entrySize: 4 };
  const tables = new ByteCache<number>(TABLE_CACHE_BYTES);
  features.unshift(
    'dynamic',
    `block size ${blockSize >= 1024 * 1024 ? `${blockSize / (1024 * 1024)} MiB` : `${blockSize / 1024} KiB`}`,
  );

  return {
    disk: mappedDisk({
      size: footer.size,
      blockSize,
      sectorSize: 512,
      locate(block) {
        if (block >= used) return { kind: 'zero' };
        const [b, p] = tableEntry(file, tables, bat, block, () => fail('corrupt', 'the BAT is cut short'));
        const sector = be32(b, p);
        return sector === UNALLOCATED
          ? { kind: 'below' }
          : { kind: 'data', offset: sector * 512 + bitmapBytes };
      },
      readData(offset, length) {
        const bytes = file.readAt(offset, length);
        if (bytes.length !== length)
          fail('corrupt', `block data at file offset ${offset} lies past the end of the file`);
        return bytes;
      },
    }),
    description: 'Virtual PC / Hyper-V VHD dynamic image',
    features,
  };
}
