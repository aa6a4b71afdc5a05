/**
 * The source list: block devices from sysfs and image files. Reading is injected (`SysReader`) so
 * the classification is tested on a made-up /sys tree.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mappableSlots } from '../engine/plan.js';
import { readPartitionTable } from '../engine/tables/index.js';
import type { Disk } from '../io/disk.js';
import { type FileDisk, openFileDisk, pageCachedDisk } from '../io/file-disk.js';
import { detectContainer, probeContent } from '../probe/index.js';
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

const COMPRESSORS = new Set(['xz', 'gzip', 'zstd', 'bzip2']);

/** A container's short name for the list: `qcow2 image`, `xz-compressed`, `vmdk descriptor`. */
function containerText(format: string): string {
  if (COMPRESSORS.has(format)) return `${format}-compressed`;
  return format === 'vmdk-descriptor' ? 'vmdk descriptor' : `${format} image`;
}

export interface ImageSummary {
  /** `gpt, 3 partitions`, `qcow2 image`, `ext4, no table`, `empty`, `no table found`. */
  what: string;
  partitioned: boolean;
}

/**
 * What an image holds, read by the same readers as its layout: the container sniffing of
 * src/probe, the partition-table readers of src/engine/tables, then content probing of the whole
 * image. Each reads a few small, fixed windows (a table reader stops at its format's limits), so
 * listing a directory of many images stays quick.
 */
export function summarizeImage(disk: Disk): ImageSummary {
  const container = detectContainer(disk);
  // A fixed VHD's bytes are the disk itself: its table is read as it is.
  if (container && !container.mappable) return { what: containerText(container.format), partitioned: false };
  const inside = container ? ` (${containerText(container.format)})` : '';
  const table = readPartitionTable(disk);
  if (table) {
    const count = mappableSlots(table).length;
    return { what: `${table.type}, ${count} partition${count === 1 ? '' : 's'}${inside}`, partitioned: true };
  }
  const content = probeContent(disk, 0, disk.size);
  if (content) return { what: `${content.type}, no table${inside}`, partitioned: false };
  const head = disk.readAt(0, 4096);
  return { what: head.every((b) => b === 0) ? 'empty' : `no table found${inside}`, partitioned: false };
}

function summarizeFile(file: string, size: number): ImageSummary | undefined {
  let disk: FileDisk | undefined;
  try {
    // An image is seen as its loop device would show it: whole 512-byte sectors.
    disk = openFileDisk(file, size - (size % 512), 512);
    return summarizeImage(pageCachedDisk(disk, 16));
  } catch {
    return undefined;
  } finally {
    disk?.close();
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
  const summary = summarizeFile(real, stat.size);
  const ext = path.extname(file).toLowerCase();
  return {
    path: real,
    name: path.basename(file),
    kind: IMAGE_EXTENSIONS.includes(ext) ? 'image' : 'file',
    sizeBytes: stat.size,
    ...(summary ? { what: summary.what } : {}),
    partitioned: summary?.partitioned ?? false,
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

let collator: Intl.Collator | undefined;
/** `d2` before `d10`. One collator for every comparison: localeCompare makes one per call. */
function naturalCompare(a: string, b: string): number {
  collator ??= new Intl.Collator('en', { numeric: true });
  return collator.compare(a, b);
}
