import { be32, be64, le32, le64, safeNumber } from '../engine/bytes.js';
import type { Disk } from '../engine/disk.js';
import { decodeUtf8Visibly } from '../engine/display-text.js';
import { parseQcow2Header, qcow2Unsupported } from './qcow2.js';
import type { ContainerInfo } from './types.js';

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

function qcow2(disk: Disk, head: Uint8Array, file: string): ContainerInfo {
  const header = parseQcow2Header(head, (offset, length) => disk.readAt(offset, length));
  const version = be32(head, 4);
  if (!header) {
    return {
      format: version === 1 ? 'qcow' : 'qcow2',
      description: `QEMU qcow version ${version} image`,
      virtualSize: safeNumber(be64(head, 24)) ?? undefined,
      mappable: false,
      guestReadable: false,
      problem: `qcow version ${version} is not read directly`,
      advice: nbdAdvice(file, version === 1 ? 'qcow' : 'qcow2'),
    };
  }
  const unsupported = qcow2Unsupported(header);
  const info: ContainerInfo = {
    format: 'qcow2',
    description: `QEMU qcow2 v${header.version} image`,
    virtualSize: header.virtualSize,
    mappable: false,
    guestReadable: unsupported === null,
    advice: [
      ...(unsupported === null
        ? ['its partitions are listed from the guest view; to map them, attach it first:']
        : []),
      ...nbdAdvice(file, 'qcow2'),
    ],
  };
  if (unsupported) info.problem = unsupported.detail;
  return info;
}

/** `RW <sectors> FLAT "<file>" <offset>` lines of a VMDK text descriptor. */
function vmdkDescriptor(text: string, file: string): ContainerInfo {
  const extents = [...text.matchAll(/^\s*(RW|RDONLY|NOACCESS)\s+(\d+)\s+(\w+)\s+"([^"]+)"(?:\s+(\d+))?/gmu)];
  const sectors = extents.reduce((sum, m) => sum + Number(m[2]), 0);
  const flat = extents.filter((m) => m[3] === 'FLAT' || m[3] === 'VMFS');
  const advice =
    extents.length > 0 && flat.length === extents.length
      ? flat.length === 1
        ? [
            `this is only a descriptor: the disk's bytes are in "${flat[0]![4]}"${Number(flat[0]![5] ?? 0) ? ` from sector ${flat[0]![5]}` : ''}; run kpartx on that file instead`,
          ]
        : [
            `this descriptor joins ${flat.length} raw extents (${flat.map((m) => `"${m[4]}"`).join(', ')}); convert them to one raw image: qemu-img convert -O raw ${file} disk.raw`,
          ]
      : nbdAdvice(file, 'vmdk');
  return {
    format: 'vmdk-descriptor',
    description: `VMware VMDK descriptor${extents.length ? ` (${extents.map((m) => m[3]).join(', ')} extents)` : ''}`,
    virtualSize: sectors > 0 ? sectors * 512 : undefined,
    mappable: false,
    guestReadable: false,
    advice,
  };
}

function simple(
  format: string,
  description: string,
  virtualSize: number | null | undefined,
  advice: string[],
  problem?: string,
): ContainerInfo {
  const info: ContainerInfo = { format, description, mappable: false, guestReadable: false, advice };
  if (virtualSize !== null && virtualSize !== undefined) info.virtualSize = virtualSize;
  if (problem) info.problem = problem;
  return info;
}

/**
 * A virtual-disk container, forensic image or compressed file found where a raw disk was
 * expected: named, with its virtual size when the header gives it, and what the user can do.
 * `file` is the path shown in the advice. Reads at most the first 512 bytes, 512 bytes at
 * 64 KiB and the last 512 bytes.
 */
export function detectContainer(disk: Disk, file = 'IMAGE'): ContainerInfo | null {
  const head = disk.readAt(0, 512);
  if (head.length < 8) return null;

  if (starts(head, bytesOf('QFI\xfb'))) return qcow2(disk, head, file);
  if (starts(head, bytesOf('QED\0')))
    return simple('qed', 'QEMU QED image', safeNumber(le64(head, 0x30)), nbdAdvice(file, 'qed'));
  if (starts(head, bytesOf('KDMV')))
    return simple(
      'vmdk',
      'VMware VMDK sparse image',
      safeNumber(le64(head, 12) * 512n),
      nbdAdvice(file, 'vmdk'),
    );
  if (starts(head, bytesOf('COWD')))
    return simple('vmdk', 'VMware ESX COWD sparse image', le32(head, 8) * 512, nbdAdvice(file, 'vmdk'));
  if (ascii(head, 0, 21) === '# Disk DescriptorFile') {
    const text = decodeUtf8Visibly(disk.readAt(0, Math.min(disk.size, 64 * 1024)));
    return vmdkDescriptor(text, file);
  }
  if (le32(head, 0x40) === 0xbeda107f && ascii(head, 0, 4) === '<<< ')
    return simple('vdi', 'VirtualBox VDI image', safeNumber(le64(head, 0x170)), nbdAdvice(file, 'vdi'));
  if (ascii(head, 0, 8) === 'vhdxfile') {
    const region = disk.readAt(0x10000, 4);
    if (ascii(region, 0, 4) === 'head')
      return simple('vhdx', 'Hyper-V VHDX image', null, nbdAdvice(file, 'vhdx'));
  }
  if (ascii(head, 0, 8) === 'conectix') {
    const type = be32(head, 60);
    const name = type === 4 ? 'differencing' : type === 3 ? 'dynamic' : 'fixed';
    if (type === 3 || type === 4)
      return simple(
        'vhd',
        `Virtual PC / Hyper-V VHD ${name} image`,
        safeNumber(be64(head, 48)),
        nbdAdvice(file, 'vpc'),
        type === 4 ? 'a differencing VHD needs its parent image' : undefined,
      );
  }
  if (starts(head, [0x45, 0x56, 0x46, 0x09, 0x0d, 0x0a, 0xff, 0x00]))
    return simple('ewf', 'EnCase/EWF forensic image (E01)', null, [
      `mount it with ewfmount ${file} /mnt/ewf, then run kpartx on /mnt/ewf/ewf1`,
    ]);
  for (const c of COMPRESSED) {
    if (starts(head, c.magic) && c.valid(head))
      return simple(c.format, c.name, null, [
        `decompress it first (${c.decompress} ${file}), then run kpartx on the result`,
      ]);
  }

  // A fixed VHD is a raw disk followed by a 512-byte footer.
  if (disk.size >= 1024) {
    const footer = disk.readAt(disk.size - 512, 512);
    if (ascii(footer, 0, 8) === 'conectix' && be32(footer, 60) === 2) {
      const info = simple('vhd-fixed', 'Virtual PC / Hyper-V VHD fixed image', safeNumber(be64(footer, 48)), [
        'a fixed VHD is a raw disk with a 512-byte footer: its partitions map as they are',
      ]);
      info.mappable = true;
      return info;
    }
  }
  return null;
}
