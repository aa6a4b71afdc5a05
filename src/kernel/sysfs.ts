/**
 * Read-only views of /sys for block and loop devices. Loop state lives in the kernel, so sysfs is
 * the source of truth for what is attached where: no state files are kept anywhere.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import type { DevNo } from '../io/devno.js';
import type { LoopDevice } from './types.js';

export const SYS_BLOCK = '/sys/block';

/** A sysfs attribute without its trailing newline, or undefined when it does not exist. */
export function readAttribute(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').replace(/\n$/, '');
  } catch {
    return undefined;
  }
}

/** `MAJ:MIN` text as sysfs writes it. */
export function parseDevNo(text: string | undefined): DevNo | undefined {
  const match = /^(\d+):(\d+)$/.exec(text?.trim() ?? '');
  return match ? { major: Number(match[1]), minor: Number(match[2]) } : undefined;
}

/** Directory of a block device (disk or partition) by number. */
export const devDir = (devno: DevNo): string => `/sys/dev/block/${devno.major}:${devno.minor}`;

export function blockDevNo(name: string): DevNo | undefined {
  return parseDevNo(readAttribute(`${SYS_BLOCK}/${name}/dev`));
}

/** Devices stacked on this one (dm maps, md arrays…), by kernel name. */
export function holders(devno: DevNo): string[] {
  try {
    return readdirSync(`${devDir(devno)}/holders`).sort();
  } catch {
    return [];
  }
}

export function logicalBlockSize(name: string): number {
  return Number(readAttribute(`${SYS_BLOCK}/${name}/queue/logical_block_size`) ?? 512) || 512;
}

/** Names of the loop devices the kernel has created (bound or not), in numeric order. */
export function loopNames(): string[] {
  let entries: string[];
  try {
    entries = readdirSync(SYS_BLOCK);
  } catch {
    return [];
  }
  return entries
    .filter((name) => /^loop\d+$/.test(name))
    .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)));
}

export interface LoopSysfs {
  name: string;
  devno: DevNo;
  backingFile: string;
  offset: number;
  sizeLimit: number;
  autoclear: boolean;
  readOnly: boolean;
  logicalBlockSize: number;
}

/** State of a bound loop device; undefined when it is unbound or does not exist. */
export function loopState(name: string): LoopSysfs | undefined {
  const dir = `${SYS_BLOCK}/${name}`;
  // An unbound loop has no loop/ directory. Most loops on a host are unbound, and a failed read
  // costs Node an Error with its stack; a stat that does not throw is some ten times cheaper, which
  // `kpartx -l` feels on hosts with a hundred loop devices.
  if (!statSync(`${dir}/loop`, { throwIfNoEntry: false })) return undefined;
  const backingFile = readAttribute(`${dir}/loop/backing_file`);
  const devno = blockDevNo(name);
  if (backingFile === undefined || !devno) return undefined;
  return {
    name,
    devno,
    backingFile,
    offset: Number(readAttribute(`${dir}/loop/offset`) ?? 0),
    sizeLimit: Number(readAttribute(`${dir}/loop/sizelimit`) ?? 0),
    autoclear: readAttribute(`${dir}/loop/autoclear`) === '1',
    readOnly: readAttribute(`${dir}/ro`) === '1',
    logicalBlockSize: logicalBlockSize(name),
  };
}

/**
 * A bound loop device as sysfs alone describes it; its loop name (`lo_file_name`) needs an ioctl,
 * so callers that must stay free of native bindings (listing) go without it.
 */
export function loopFromSysfs(state: LoopSysfs): LoopDevice {
  return {
    index: Number(state.name.slice(4)),
    path: `/dev/${state.name}`,
    devno: state.devno,
    backingFile: state.backingFile,
    offset: state.offset,
    sizeLimit: state.sizeLimit,
    readOnly: state.readOnly,
    autoclear: state.autoclear,
    logicalSectorSize: state.logicalBlockSize,
  };
}
