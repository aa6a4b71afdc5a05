/**
 * Disk-image containers found where a raw disk was expected: recognised by their first bytes (a
 * fixed VHD by its footer), named with the size of the disk inside, and opened for reading through
 * the one module per format (qcow2.ts, vmdk.ts, vhd.ts, vhdx.ts, vdi.ts).
 */
import { be32, be64, le32, le64, safeNumber } from '../io/bytes.js';
import type { Disk } from '../io/disk.js';
import { ContainerError, type ContainerProblem } from './container-error.js';
import {
  type ContainerFile,
  type ContainerFiles,
  closeAll,
  DEFAULT_MAX_DEPTH,
  nodeFiles,
  type OpenContext,
  type OpenedImage,
} from './container-files.js';
import { openQcow2Image, qcow2Features, qcow2Unsupported, readQcow2Header } from './qcow2.js';
import type { ContainerInfo } from './types.js';
import { openVdiImage, parseVdiHeader, VDI_SIGNATURE } from './vdi.js';
import { findVhdFooter, openVhdImage } from './vhd.js';
import { openVhdxImage, readVhdxLayout } from './vhdx.js';
import { looksLikeDescriptor, openVmdkImage, parseDescriptor, parseSparseHeader } from './vmdk.js';

const starts = (b: Uint8Array, magic: ArrayLike<number>, at = 0) => {
  if (b.length < at + magic.length) return false;
  for (let i = 0; i < magic.length; i++) if (b[at + i] !== magic[i]) return false;
  return true;
};
const bytesOf = (s: string) => [...s].map((c) => c.charCodeAt(0));
const ascii = (b: Uint8Array, at: number, len: number) => String.fromCharCode(...b.subarray(at, at + len));

/** Attach through the kernel's network block device, read-only, then map the partitions of that device. */
function nbdAdvice(file: string, format: string): string[] {
  return [
    `modprobe nbd && qemu-nbd --read-only --format=${format} --connect=/dev/nbd0 ${file}, then kpartx -av /dev/nbd0 (qemu-nbd --disconnect /dev/nbd0 when done)`,
    `or convert it to a raw image: qemu-img convert -O raw ${file} ${file.replace(/\.[^./]+$/u, '')}.raw`,
  ];
}

const GUEST_VIEW = 'its partitions are listed from the guest view; to map them, attach it first:';

interface Compressed {
  format: string;
  magic: number[];
  /** Short magics get one more check so raw data rarely passes for them. */
  valid: (head: Uint8Array) => boolean;
  name: string;
  decompress: string;
}

const COMPRESSED: Compressed[] = [
  {
    format: 'xz',
    magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00],
    valid: () => true,
    name: 'xz-compressed file',
    decompress: 'xz -dk',
  },
  {
    format: 'gzip',
    magic: [0x1f, 0x8b],
    valid: (h) => h[2] === 8,
    name: 'gzip-compressed file',
    decompress: 'gunzip -k',
  },
  {
    format: 'zstd',
    magic: [0x28, 0xb5, 0x2f, 0xfd],
    valid: () => true,
    name: 'zstd-compressed file',
    decompress: 'zstd -dk',
  },
  {
    format: 'bzip2',
    magic: bytesOf('BZh'),
    valid: (h) => h[3]! >= 0x31 && h[3]! <= 0x39,
    name: 'bzip2-compressed file',
    decompress: 'bunzip2 -k',
  },
];

function info(
  format: string,
  description: string,
  virtualSize: number | null | undefined,
  guestReadable: boolean,
  advice: string[],
  extra: { problem?: string | undefined; features?: string[] } = {},
): ContainerInfo {
  const result: ContainerInfo = { format, description, mappable: false, guestReadable, advice, features: [] };
  if (virtualSize !== null && virtualSize !== undefined) result.virtualSize = virtualSize;
  if (extra.problem) result.problem = extra.problem;
  if (extra.features) result.features = extra.features;
  return result;
}

/** The problem text of a ContainerError without the file name in front (the report names the file). */
const detail = (error: ContainerError) => error.message.slice(error.file.length + 2);

function qcow2Info(disk: Disk, head: Uint8Array, file: string): ContainerInfo {
  const version = be32(head, 4);
  try {
    const h = readQcow2Header(disk, file);
    const unsupported = qcow2Unsupported(h);
    const readable = unsupported === null;
    return info(
      'qcow2',
      `QEMU qcow2 v${h.version} image`,
      h.virtualSize,
      readable,
      [...(readable ? [GUEST_VIEW] : []), ...nbdAdvice(file, 'qcow2')],
      { problem: unsupported?.detail, features: qcow2Features(h) },
    );
  } catch (error) {
    if (!(error instanceof ContainerError)) throw error;
    const qcow1 = version === 1;
    const size = safeNumber(be64(head, 24));
    return info(
      qcow1 ? 'qcow' : 'qcow2',
      qcow1 ? 'QEMU qcow (version 1) image' : `QEMU qcow2 v${version} image`,
      error.problem === 'corrupt' ? null : size,
      false,
      nbdAdvice(file, qcow1 ? 'qcow' : 'qcow2'),
      { problem: detail(error) },
    );
  }
}

/** A VMDK descriptor file: its size from the extents, what it joins, whether the reader reads it. */
function vmdkDescriptorInfo(text: string, file: string): ContainerInfo {
  const desc = parseDescriptor(text);
  const sectors = desc.extents.reduce((sum, e) => sum + e.sectors, 0);
  const readable =
    desc.extents.length > 0 &&
    !desc.hasParent &&
    desc.extents.every((e) => ['FLAT', 'VMFS', 'SPARSE', 'ZERO'].includes(e.type) && e.access !== 'NOACCESS');
  const flat = desc.extents.filter((e) => e.type === 'FLAT' || e.type === 'VMFS');
  const advice =
    desc.extents.length > 0 && flat.length === desc.extents.length
      ? flat.length === 1
        ? [
            `this is only a descriptor: the disk's bytes are in "${flat[0]!.file}"${flat[0]!.offset ? ` from sector ${flat[0]!.offset}` : ''}; run kpartx on that file instead`,
          ]
        : [
            `this descriptor joins ${flat.length} raw extents (${flat.map((e) => `"${e.file}"`).join(', ')}); convert them to one raw image: qemu-img convert -O raw ${file} disk.raw`,
          ]
      : [...(readable ? [GUEST_VIEW] : []), ...nbdAdvice(file, 'vmdk')];
  return info(
    'vmdk-descriptor',
    `VMware VMDK descriptor${desc.extents.length ? ` (${desc.extents.map((e) => e.type).join(', ')} extents)` : ''}`,
    sectors > 0 ? sectors * 512 : undefined,
    readable,
    advice,
    {
      problem: desc.hasParent
        ? `VMDK delta disk of parent "${desc.parentHint ?? '?'}" (not followed)`
        : undefined,
      features: [
        ...(desc.createType ? [`createType ${desc.createType}`] : []),
        `${desc.extents.length} extent${desc.extents.length === 1 ? '' : 's'}`,
      ],
    },
  );
}

function vhdxInfo(disk: Disk, file: string): ContainerInfo {
  try {
    const layout = readVhdxLayout(disk, file);
    const problem = layout.hasParent
      ? 'differencing VHDX: needs its parent image'
      : layout.logPending
        ? 'the VHDX log must be replayed first'
        : undefined;
    return info(
      'vhdx',
      'Hyper-V VHDX image',
      layout.virtualSize,
      problem === undefined,
      [...(problem === undefined ? [GUEST_VIEW] : []), ...nbdAdvice(file, 'vhdx')],
      { problem, features: [`block size ${layout.blockSize / (1024 * 1024)} MiB`] },
    );
  } catch (error) {
    if (!(error instanceof ContainerError)) throw error;
    return info('vhdx', 'Hyper-V VHDX image', null, false, nbdAdvice(file, 'vhdx'), {
      problem: detail(error),
    });
  }
}

/**
 * A virtual-disk container, forensic image or compressed file found where a raw disk was
 * expected: named, with its virtual size when the header gives it, whether this reader can read
 * the guest's disk (openContainer does), and what the user can do. `file` is the path shown in
 * the advice. Reads the first 4 KiB, a fixed VHD's footer, a VMDK's descriptor, a VHDX's headers
 * and metadata: never the block tables.
 */
export function detectContainer(disk: Disk, file = 'IMAGE'): ContainerInfo | null {
  const head = disk.readAt(0, 512);
  if (head.length < 8) return null;

  if (starts(head, bytesOf('QFI\xfb'))) return qcow2Info(disk, head, file);
  if (starts(head, bytesOf('QED\0')))
    return info('qed', 'QEMU QED image', safeNumber(le64(head, 0x30)), false, nbdAdvice(file, 'qed'));
  const sparse = parseSparseHeader(head);
  if (sparse) {
    const stream = sparse.compressAlgorithm === 1;
    return info(
      'vmdk',
      `VMware VMDK ${stream ? 'streamOptimized' : 'sparse'} image`,
      safeNumber(sparse.capacity * 512n),
      sparse.version <= 3,
      [...(sparse.version <= 3 ? [GUEST_VIEW] : []), ...nbdAdvice(file, 'vmdk')],
      { features: [`grain size ${Number(sparse.grainSectors) / 2} KiB`] },
    );
  }
  if (starts(head, bytesOf('COWD')))
    return info('vmdk', 'VMware ESX COWD sparse image', le32(head, 8) * 512, false, nbdAdvice(file, 'vmdk'), {
      problem: 'ESX COWD sparse extents are not read here',
    });
  if (looksLikeDescriptor(head)) {
    const text = new TextDecoder('latin1').decode(disk.readAt(0, Math.min(disk.size, 64 * 1024)));
    return vmdkDescriptorInfo(text, file);
  }
  if (le32(head, 0x40) === VDI_SIGNATURE && ascii(head, 0, 4) === '<<< ') {
    const h = parseVdiHeader(head);
    const problem =
      h && h.version !== 0x00010001
        ? `VDI version ${h.version >>> 16}.${h.version & 0xffff} is not read here`
        : h?.hasParent || h?.imageType === 4
          ? 'differencing VDI: needs its parent image'
          : undefined;
    return info(
      'vdi',
      'VirtualBox VDI image',
      safeNumber(le64(head, 0x170)),
      h !== null && problem === undefined,
      [...(problem === undefined ? [GUEST_VIEW] : []), ...nbdAdvice(file, 'vdi')],
      { problem, features: h ? [h.imageType === 2 ? 'fixed' : 'dynamic'] : [] },
    );
  }
  if (ascii(head, 0, 8) === 'vhdxfile') {
    const region = disk.readAt(0x10000, 4);
    if (ascii(region, 0, 4) === 'head') return vhdxInfo(disk, file);
  }
  if (ascii(head, 0, 8) === 'conectix') {
    const footer = findVhdFooter(disk)!.footer;
    const kind = footer.type === 4 ? 'differencing' : footer.type === 3 ? 'dynamic' : 'fixed';
    if (footer.type === 3 || footer.type === 4) {
      const problem = footer.type === 4 ? 'a differencing VHD needs its parent image' : undefined;
      return info(
        'vhd',
        `Virtual PC / Hyper-V VHD ${kind} image`,
        Number.isFinite(footer.size) ? footer.size : null,
        problem === undefined && footer.checksumOk,
        [...(problem === undefined ? [GUEST_VIEW] : []), ...nbdAdvice(file, 'vpc')],
        { problem, features: [kind] },
      );
    }
  }
  if (starts(head, [0x45, 0x56, 0x46, 0x09, 0x0d, 0x0a, 0xff, 0x00]))
    return info('ewf', 'EnCase/EWF forensic image (E01)', null, false, [
      `mount it with ewfmount ${file} /mnt/ewf, then run kpartx on /mnt/ewf/ewf1`,
    ]);
  for (const c of COMPRESSED) {
    if (starts(head, c.magic) && c.valid(head))
      return info(c.format, c.name, null, false, [
        `decompress it first (${c.decompress} ${file}), then run kpartx on the result`,
      ]);
  }

  // A fixed VHD is a raw disk followed by a 512-byte footer.
  if (disk.size >= 1024) {
    const footer = disk.readAt(disk.size - 512, 512);
    if (ascii(footer, 0, 8) === 'conectix' && be32(footer, 60) === 2) {
      const found = findVhdFooter(disk);
      const result = info(
        'vhd-fixed',
        'Virtual PC / Hyper-V VHD fixed image',
        found && Number.isFinite(found.footer.size) ? found.footer.size : safeNumber(be64(footer, 48)),
        true,
        ['a fixed VHD is a raw disk with a 512-byte footer: its partitions map as they are'],
        { features: ['fixed'] },
      );
      result.mappable = true;
      return result;
    }
  }
  return null;
}

/** Why a container's guest view cannot be read, from the ContainerError the reader threw. */
export interface ContainerIssue {
  code: ContainerProblem;
  /** The whole message, starting with the file it is about. */
  message: string;
  /** The file the problem is in (the image, a backing file, an extent). */
  file: string;
}

/** A container opened by openContainer. Everything but `disk` and `close` is plain data. */
export interface OpenedContainer {
  /** `qcow2`, `vmdk`, `vhd`, `vhdx`, `vdi`; `qcow`, `qed`, `ewf`, `xz`, `gzip`, `zstd`, `bzip2` are only named. */
  format: string;
  /** Human name, e.g. `QEMU qcow2 v3 image`. */
  description: string;
  /** The size of the guest's disk in bytes, when known. */
  virtualSize?: number;
  /** Short facts from the header: cluster size, compression, backing file, extents, … */
  features: string[];
  /**
   * True when the file's own bytes are the guest's disk at the same offsets (a fixed VHD): its
   * partitions map as they are. Other containers are mapped through qemu-nbd.
   */
  mappable: boolean;
  /** The guest's disk, when it can be read (else `problem` says why). Reads never write. */
  disk?: Disk;
  problem?: ContainerIssue;
  /** What the user can do next, one command or sentence each. */
  advice: string[];
  /** Other files the guest's disk is read from (backing files, extents), as opened. */
  files: string[];
  /**
   * Close every file openContainer opened (not a Disk it was given). Safe to call more than once;
   * when there is no `disk` the files are already closed.
   */
  close(): void;
}

export interface OpenContainerOptions {
  /** The image as named in messages and advice (default: the path, else `IMAGE`). */
  name?: string;
  /** With a Disk: the image's path, where relative backing and extent names are looked up. */
  path?: string;
  /** How files are opened (default: read-only from the file system). */
  files?: ContainerFiles;
  /** How many backing files a chain may have (default 16). */
  maxBackingDepth?: number;
}

type Reader = (file: Disk, ctx: OpenContext) => OpenedImage;
const READERS: Record<string, Reader> = {
  qcow2: openQcow2Image,
  vmdk: openVmdkImage,
  'vmdk-descriptor': openVmdkImage,
  vhd: openVhdImage,
  'vhd-fixed': openVhdImage,
  vhdx: openVhdxImage,
  vdi: openVdiImage,
};
const FAMILY: Record<string, string> = { 'vmdk-descriptor': 'vmdk', 'vhd-fixed': 'vhd' };

const NEXT_STEP: Partial<Record<ContainerProblem, (issue: ContainerIssue) => string>> = {
  'backing-missing': () =>
    'put the backing file where the image expects it, or point the image at its new place: qemu-img rebase -u -b NEW-PATH IMAGE',
  'missing-extent': () => 'put the extent file beside the descriptor, under the name the descriptor gives',
};

/**
 * Open `source` (a path, or a Disk already open) as a disk-image container: its format, the size
 * of the guest's disk, header facts, and, when this reader can read it, the guest's disk itself
 * (backing files and extents opened relative to the image, read-only). Null when `source` is not a
 * container (a raw disk). A container that cannot be read comes back with `problem` (never a
 * throw); the only throw is a path that cannot be opened at all (ContainerError `io`). Call
 * `close()` when done with the disk.
 */
export function openContainer(
  source: string | Disk,
  options: OpenContainerOptions = {},
): OpenedContainer | null {
  const files = options.files ?? nodeFiles;
  const opened: ContainerFile[] = [];
  let path = options.path;
  let file: Disk;
  if (typeof source === 'string') {
    path = source;
    try {
      const top = files.open(source);
      opened.push(top);
      file = top;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new ContainerError(
        source,
        'unknown',
        'io',
        `cannot be opened: ${code ?? (error as Error).message}`,
      );
    }
  } else file = source;
  const name = options.name ?? path ?? 'IMAGE';
  const close = () => closeAll(opened);
  const others = () => opened.filter((f) => f !== file).map((f) => f.path);

  let found: ContainerInfo | null;
  try {
    found = detectContainer(file, name);
  } catch (error) {
    close();
    const code = (error as NodeJS.ErrnoException).code;
    if (typeof code === 'string')
      throw new ContainerError(name, 'unknown', 'io', `cannot be read: ${(error as Error).message}`);
    throw error;
  }
  if (!found) {
    close();
    return null;
  }
  const result: OpenedContainer = {
    format: FAMILY[found.format] ?? found.format,
    description: found.description,
    features: found.features ?? [],
    mappable: found.mappable,
    advice: found.advice,
    files: [],
    close,
  };
  if (found.virtualSize !== undefined) result.virtualSize = found.virtualSize;
  const reader = READERS[found.format];
  if (!reader) {
    result.problem = {
      code: 'unsupported',
      message: `${name}: ${found.problem ?? `${found.description}: its disk is not read here`}`,
      file: name,
    };
    close();
    return result;
  }
  let identity = path;
  try {
    if (path) identity = files.identity(path);
  } catch {
    // A Disk given with a path that is not (or no longer) a file: the path itself will do.
  }
  const ctx: OpenContext = {
    files,
    name,
    opened,
    seen: identity ? [identity] : [],
    depth: 0,
    maxDepth: options.maxBackingDepth ?? DEFAULT_MAX_DEPTH,
  };
  if (path) ctx.path = path;
  try {
    const image = reader(file, ctx);
    result.disk = image.disk;
    result.description = image.description;
    result.features = image.features;
    result.virtualSize = image.disk.size;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (error instanceof ContainerError)
      result.problem = { code: error.problem, message: error.message, file: error.file };
    else if (typeof code === 'string')
      result.problem = { code: 'io', message: (error as Error).message, file: name };
    else {
      close();
      throw error;
    }
    const next = NEXT_STEP[result.problem.code]?.(result.problem);
    if (next) result.advice = [next, ...result.advice.filter((a) => a !== GUEST_VIEW)];
    else result.advice = result.advice.filter((a) => a !== GUEST_VIEW);
  }
  result.files = others();
  // Without a disk to read, nothing needs to stay open.
  if (!result.disk) close();
  return result;
}
