/**
 * Shared by the real loop-device tests: who may run them, disk images built with sfdisk and
 * mkfs.ext4 (a known file in every filesystem), and a parent device the way the CLI builds one.
 */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import type { ParentDevice, PlannedMap } from '../src/engine/backend.js';
import type { Machine as Kernel } from '../src/engine/machine.js';
import { nonDmUuid } from '../src/engine/names.js';
import type { PartitionTable } from '../src/engine/partition.js';
import { planMaps } from '../src/engine/plan.js';
import { createReadContext } from '../src/engine/tables/context.js';
import { dosReader } from '../src/engine/tables/dos.js';
import { gptReader } from '../src/engine/tables/gpt.js';
import { openFileDisk } from '../src/io/file-disk.js';
import type { LoopDevice } from '../src/kernel/types.js';

export const canUseLoop = process.getuid?.() === 0 && existsSync('/dev/loop-control');
export const loopSkipReason = 'needs root and /dev/loop-control (real loop devices); skipped';

export interface PartitionSpec {
  /** sfdisk line: `start,size,type` in sectors. */
  line: string;
  /** Partition number that gets an ext4 filesystem holding `hello.txt`, and where it starts. */
  ext4?: { number: number; start: number; sizeKiB: number };
}

export const helloText = (image: string, number: number): string => `partition ${number} of ${image}\n`;

/** An image file with the given sfdisk table; ext4 filesystems are written in place (no mount). */
export function buildImage(
  dir: string,
  name: string,
  label: 'dos' | 'gpt',
  parts: PartitionSpec[],
  sizeMiB = 48,
) {
  const image = join(dir, name);
  execFileSync('truncate', ['-s', `${sizeMiB}M`, image]);
  const script = [`label: ${label}`, ...parts.map((p) => p.line)].join('\n');
  execFileSync('sfdisk', ['-q', image], { input: `${script}\n` });
  for (const part of parts) {
    if (!part.ext4) continue;
    const content = join(dir, `${name}.p${part.ext4.number}`);
    mkdirSync(content, { recursive: true });
    writeFileSync(join(content, 'hello.txt'), helloText(name, part.ext4.number));
    execFileSync('mkfs.ext4', [
      '-q',
      '-F',
      '-d',
      content,
      '-E',
      `offset=${part.ext4.start * 512}`,
      image,
      `${part.ext4.sizeKiB}k`,
    ]);
  }
  return image;
}

export function readTable(image: string, sectorSize = 512): PartitionTable {
  const size = Math.floor(statSync(image).size / 512) * 512;
  const disk = openFileDisk(image, size, sectorSize);
  try {
    const context = createReadContext(disk);
    const table = gptReader.read(context) ?? dosReader.read(context);
    if (!table) throw new Error(`${image}: no partition table`);
    return table;
  } finally {
    disk.close();
  }
}

/** Attach the image as the CLI does for an image operand and describe it as a ParentDevice. */
export function attachParent(kernel: Kernel, image: string, options: { blockSize?: number } = {}) {
  const loop = kernel.loop.attach(image, { readOnly: false, ...options });
  return { loop, parent: parentOf(kernel, loop, image) };
}

export function parentOf(kernel: Kernel, loop: LoopDevice, image: string): ParentDevice {
  const info = kernel.blockDevice(loop.path);
  return {
    path: loop.path,
    devno: info.devno,
    sizeSectors: info.sizeBytes / 512,
    logicalSectorSize: info.logicalSectorSize,
    uuid: nonDmUuid(info.devno),
    mapName: `loop${loop.index}`,
    image: { file: image, loopAttachedByUs: true },
  };
}

export function plan(
  image: string,
  parent: ParentDevice,
  readOnly = false,
  delimiter?: string,
): PlannedMap[] {
  return planMaps(readTable(image, parent.logicalSectorSize), parent, { readOnly, delimiter });
}

/** `losetup -a` lines mentioning `text`. */
export function losetupLines(text: string): string[] {
  return execFileSync('losetup', ['-a'], { encoding: 'utf8' })
    .split('\n')
    .filter((line) => line.includes(text));
}

/**
 * Undo whatever a test left: unmount mounts of loops over images in `dir`, drop /dev/mapper links
 * to them, detach partition loops, then the image loops. Returns what had to be cleaned.
 */
export function cleanupLoops(kernel: Kernel, dir: string, mapDir = '/dev/mapper'): string[] {
  const cleaned: string[] = [];
  const all = kernel.loop.list();
  const parents = all.filter((loop) => loop.backingFile.startsWith(`${dir}/`));
  const parentPaths = new Set(parents.map((loop) => loop.path));
  const children = all.filter((loop) => parentPaths.has(loop.backingFile));
  for (const loop of [...children, ...parents]) {
    for (const mount of kernel.mounts.list().reverse()) {
      if (mount.devno.major === loop.devno.major && mount.devno.minor === loop.devno.minor) {
        kernel.mounts.unmount(mount.target);
        cleaned.push(`umount ${mount.target}`);
      }
    }
  }
  let links: string[] = [];
  try {
    links = readdirSync(mapDir);
  } catch {
    // no map directory
  }
  const childPaths = new Set(children.map((loop) => loop.path));
  for (const entry of links) {
    try {
      const target = resolve(mapDir, readlinkSync(join(mapDir, entry)));
      if (childPaths.has(target)) {
        unlinkSync(join(mapDir, entry));
        cleaned.push(`rm ${entry}`);
      }
    } catch {
      // not a symlink
    }
  }
  for (const loop of [...children, ...parents]) {
    try {
      kernel.loop.detach(loop.path);
      cleaned.push(`detach ${loop.path}`);
    } catch {
      // already gone
    }
  }
  return cleaned;
}
