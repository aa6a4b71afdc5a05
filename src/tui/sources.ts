/**
 * The source list: block devices from sysfs and image files. Reading is injected (`SysReader`) so
 * the classification is tested on a made-up /sys tree.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SourceEntry, SourceKind } from './model.js';

export const IMAGE_EXTENSIONS = ['.img', '.raw', '.iso', '.qcow2', '.vmdk', '.vdi', '.vhd', '.vhdx', '.bin'];

export interface SysReader {
  /** Entries of a directory, [] when it does not exist. */
  list(dir: string): string[];
  /** A file's trimmed text, undefined when unreadable. */
  read(file: string): string | undefined;
}

export const realSys: SysReader = {
  list(dir) {
    try {
      return fs.readdirSync(dir);
    } catch {
      return [];
    }
  },
  read(file) {
    try {
      return fs.readFileSync(file, 'utf8').trim();
    } catch {
      return undefined;
    }
  },
};

const LOOP_MAJOR = 7;
const MD_MAJOR = 9;
const NBD_MAJOR = 43;

/** Device kind from its name and major number. */
export function deviceKind(name: string, major: number): SourceKind {
  if (major === LOOP_MAJOR || name.startsWith('loop')) return 'loop';
  if (name.startsWith('dm-')) return 'dm';
  if (major === MD_MAJOR || name.startsWith('md')) return 'md';
  if (major === NBD_MAJOR || name.startsWith('nbd')) return 'nbd';
  if (/^vd[a-z]+$/.test(name)) return 'virtio';
  return 'disk';
}

/** Whole-disk block devices worth offering: bound loops, disks with a size, dm/md/nbd in use. */
export function blockDevices(sys: SysReader = realSys, root = '/sys/block'): SourceEntry[] {
  const entries: SourceEntry[] = [];
  for (const name of sys.list(root).sort(naturalCompare)) {
    const dir = `${root}/${name}`;
    const sectors = Number(sys.read(`${dir}/size`) ?? '0');
    if (!(sectors > 0) || name.startsWith('ram')) continue;
    const major = Number((sys.read(`${dir}/dev`) ?? '0:0').split(':')[0]);
    const kind = deviceKind(name, major);
    const partitioned = sys
      .list(dir)
      .some((child) => child.startsWith(name) && sys.read(`${dir}/${child}/partition`) !== undefined);
    const holders = sys.list(`${dir}/holders`).map((h) => sys.read(`${root}/${h}/dm/name`) ?? h);
    const model = sys.read(`${dir}/device/model`);
    const backing = kind === 'loop' ? sys.read(`${dir}/loop/backing_file`) : undefined;
    const dmName = kind === 'dm' ? sys.read(`${dir}/dm/name`) : undefined;
    entries.push({
      path: `/dev/${name}`,
      name,
      kind,
      sizeBytes: sectors * 512,
      ...(model ? { model } : backing ? { model: backing } : dmName ? { model: dmName } : {}),
      partitioned,
      mappedBy: holders,
    });
  }
  return entries;
}

/** Loop devices bound to each backing file, from sysfs (how an image's maps are found). */
export function loopsByBackingFile(sys: SysReader = realSys, root = '/sys/block'): Map<string, string[]> {
  const result = new Map<string, string[]>();
  for (const name of sys.list(root)) {
    if (!name.startsWith('loop')) continue;
    const backing = sys.read(`${root}/${name}/loop/backing_file`);
    if (!backing) continue;
    result.set(backing, [...(result.get(backing) ?? []), name]);
  }
  return result;
}

/** What the first bytes say: a table type, a container format, or a bare filesystem. */
export function sniff(head: Uint8Array): string {
  const ascii = (offset: number, length: number) =>
    String.fromCharCode(...head.subarray(offset, offset + length));
  if (ascii(512, 8) === 'EFI PART') return 'gpt';
  if (ascii(4096, 8) === 'EFI PART') return 'gpt (4K sectors)';
  if (ascii(0, 4) === 'QFI\xfb') return 'qcow2 image';
  if (ascii(0, 4) === 'KDMV') return 'vmdk image';
  if (ascii(0, 21) === '# Disk DescriptorFile') return 'vmdk descriptor';
  if (ascii(0, 8) === 'vhdxfile') return 'vhdx image';
  if (ascii(0, 8) === 'conectix') return 'vhd image';
  if (head[0x40] === 0x7f && head[0x41] === 0x10 && head[0x42] === 0xda && head[0x43] === 0xbe)
    return 'vdi image';
  if (head[0] === 0xfd && ascii(1, 5) === '7zXZ\0') return 'xz-compressed';
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip-compressed';
  if (ascii(0x8001, 5) === 'CD001')
    return head[510] === 0x55 && head[511] === 0xaa ? 'dos (hybrid iso)' : 'iso9660';
  if (ascii(3, 8) === 'NTFS    ') return 'ntfs, no table';
  if (ascii(0x36, 3) === 'FAT' || ascii(0x52, 5) === 'FAT32') return 'vfat, no table';
  if (head[0x438] === 0x53 && head[0x439] === 0xef) return 'ext2/3/4, no table';
  if (ascii(0, 4) === 'XFSB') return 'xfs, no table';
  if (ascii(0, 4) === 'hsqs') return 'squashfs, no table';
  if (ascii(0, 6) === 'LUKS\xba\xbe') return 'LUKS, no table';
  if (head[510] === 0x55 && head[511] === 0xaa) return 'dos';
  if (head.every((b) => b === 0)) return 'empty';
  return 'no table found';
}

const SNIFF_BYTES = 0x8800;

function sniffFile(file: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const head = new Uint8Array(SNIFF_BYTES);
    const length = fs.readSync(fd, head, 0, SNIFF_BYTES, 0);
    return sniff(head.subarray(0, length));
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** An image file (or any regular file the user named) as a list entry. */
export function imageEntry(file: string, loops: Map<string, string[]>): SourceEntry | undefined {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    return undefined;
  }
  if (!stat.isFile()) return undefined;
  const real = fs.realpathSync(file);
  const what = sniffFile(real);
  const ext = path.extname(file).toLowerCase();
  return {
    path: real,
    name: path.basename(file),
    kind: IMAGE_EXTENSIONS.includes(ext) ? 'image' : 'file',
    sizeBytes: stat.size,
    ...(what ? { what } : {}),
    partitioned:
      what === 'gpt' || what === 'dos' || what?.startsWith('gpt') === true || what === 'dos (hybrid iso)',
    mappedBy: loops.get(real) ?? [],
  };
}

/** Images in `dir` by extension, plus every path given (files or block devices), no duplicates. */
export function listSources(
  extraPaths: string[],
  dir = process.cwd(),
  sys: SysReader = realSys,
): SourceEntry[] {
  const loops = loopsByBackingFile(sys);
  const images: SourceEntry[] = [];
  const seen = new Set<string>();
  const add = (entry: SourceEntry | undefined) => {
    if (!entry || seen.has(entry.path)) return;
    seen.add(entry.path);
    images.push(entry);
  };
  const devices = blockDevices(sys);
  for (const extra of extraPaths) {
    const absolute = path.resolve(dir, extra);
    const device = devices.find((d) => d.path === absolute);
    if (device) continue;
    add(imageEntry(absolute, loops));
  }
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir).sort(naturalCompare);
  } catch {
    names = [];
  }
  for (const name of names) {
    if (IMAGE_EXTENSIONS.includes(path.extname(name).toLowerCase()))
      add(imageEntry(path.join(dir, name), loops));
  }
  return [...images, ...devices];
}

function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}
