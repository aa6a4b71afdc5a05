/**
 * VirtualBox VDI (version 1.1): a text banner, a header with the disk size, block size and where
 * the block map and the data start, and a block map of 32-bit entries (a block index into the data
 * area, or "not allocated" / "zeroed"). Dynamic and fixed images read alike.
 */
import { le32, le64 } from '../io/bytes.js';
import type { Disk } from '../io/disk.js';
import { ContainerError, type ContainerProblem } from './container-error.js';
import type { OpenContext, OpenedImage } from './container-files.js';
import { mappedDisk } from './mapped-disk.js';
import { ByteCache, type TableSpec, tableEntry } from './table-slices.js';

export const VDI_SIGNATURE = 0xbeda107f;
const VERSION_1_1 = 0x00010001;
const TYPE_DYNAMIC = 1;
const TYPE_FIXED = 2;
const TYPE_DIFF = 4;
const FREE = 0xfffffffe; // this and above: not allocated, or discarded (zeroed)
const MAX_SIZE = 2 ** 52;
const TABLE_CACHE_BYTES = 1024 * 1024;

const isNull = (b: Uint8Array, at: number) => b.subarray(at, at + 16).every((x) => x === 0);

export interface VdiHeader {
  version: number;
  imageType: number;
  blockMapOffset: number;
  dataOffset: number;
  diskSize: bigint;
  blockSize: number;
  blockExtra: number;
  blocks: number;
  hasParent: boolean;
}

export function parseVdiHeader(b: Uint8Array): VdiHeader | null {
  if (b.length < 0x1c8 || le32(b, 0x40) !== VDI_SIGNATURE) return null;
  return {
    version: le32(b, 0x44),
    imageType: le32(b, 0x4c),
    blockMapOffset: le32(b, 0x154),
    dataOffset: le32(b, 0x158),
    diskSize: le64(b, 0x170),
    blockSize: le32(b, 0x178),
    blockExtra: le32(b, 0x17c),
    blocks: le32(b, 0x180),
    hasParent: !isNull(b, 0x1a8) || !isNull(b, 0x1b8),
  };
}

/**
 * The guest's disk of a VDI through its block map: allocated blocks from the data area, free and
 * discarded ones as zeros. Differencing (undo/diff) images need their parent: ContainerError.
 */
export function openVdiImage(file: Disk, ctx: OpenContext): OpenedImage {
  const { name } = ctx;
  const fail = (problem: ContainerProblem, detail: string): never => {
    throw new ContainerError(name, 'vdi', problem, detail);
  };
  const h = parseVdiHeader(file.readAt(0, 512));
  if (!h) return fail('wrong-format', 'not a VDI image');
  if (h.version !== VERSION_1_1)
    fail('version', `VDI version ${h.version >>> 16}.${h.version & 0xffff} is not read here (only 1.1)`);
  if (h.imageType === TYPE_DIFF || h.hasParent)
    fail(
      'backing-file',
      'differencing VDI: its unwritten blocks live in its parent image, which is not followed here',
    );
  if (h.imageType !== TYPE_DYNAMIC && h.imageType !== TYPE_FIXED)
    fail('unsupported', `VDI image type ${h.imageType} is not read here`);
  if (h.blockSize < 512 || h.blockSize % 512 !== 0) fail('corrupt', `invalid block size ${h.blockSize}`);
  if (h.diskSize > BigInt(MAX_SIZE)) fail('corrupt', `disk size of ${h.diskSize} bytes is beyond any disk`);
  const size = Number(h.diskSize);
  if (h.blocks * h.blockSize < size)
    fail('corrupt', `${h.blocks} blocks cannot hold a disk of ${size} bytes`);
  const used = Math.ceil(size / h.blockSize);
  if (h.blockMapOffset + used * 4 > file.size) fail('corrupt', 'the block map lies past the end of the file');
  const map: TableSpec = { offset: h.blockMapOffset, count: used, entrySize: 4 };
  const tables = new ByteCache<number>(TABLE_CACHE_BYTES);
  const stride = h.blockSize + h.blockExtra;

  return {
    disk: mappedDisk({
      size,
      blockSize: h.blockSize,
      sectorSize: 512,
      locate(block) {
        if (block >= used) return { kind: 'zero' };
        const [b, p] = tableEntry(file, tables, map, block, () =>
          fail('corrupt', 'the block map is cut short'),
        );
        const entry = le32(b, p);
        if (entry >= FREE) return { kind: 'zero' };
        return { kind: 'data', offset: h.dataOffset + entry * stride + h.blockExtra };
      },
      readData(offset, length) {
        const bytes = file.readAt(offset, length);
        if (bytes.length !== length)
          fail('corrupt', `block data at file offset ${offset} lies past the end of the file`);
        return bytes;
      },
    }),
    description: 'VirtualBox VDI image',
    features: [
      h.imageType === TYPE_FIXED ? 'fixed' : 'dynamic',
      `block size ${h.blockSize >= 1024 * 1024 ? `${h.blockSize / (1024 * 1024)} MiB` : `${h.blockSize / 1024} KiB`}`,
    ],
  };
}
