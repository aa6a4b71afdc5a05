/**
 * Who keeps a device open, beyond mounts and the maps sysfs lists as holders: loop devices bound
 * on top of it (sysfs does not count them) and, when nothing else is found, a process.
 */
import { type DevNo, sameDevNo } from '../io/devno.js';
import type { Machine } from './machine.js';

/** Loop devices whose backing file is this block device, by path. */
export function loopsOver(machine: Pick<Machine, 'loop' | 'deviceNumber'>, devno: DevNo): string[] {
  let loops: { path: string; backingFile: string }[];
  try {
    loops = machine.loop.scan();
  } catch {
    return [];
  }
  return loops
    .filter((loop) => {
      if (!loop.backingFile.startsWith('/dev/')) return false;
      try {
        const backing = machine.deviceNumber(loop.backingFile);
        return backing !== undefined && sameDevNo(backing, devno);
      } catch {
        return false;
      }
    })
    .map((loop) => loop.path);
}

/** Mountpoints, devices stacked on it (maps by their /dev/mapper path) and loops over it. */
export function holdersOf(
  machine: Pick<Machine, 'mounts' | 'holders' | 'nodes' | 'loop' | 'deviceNumber'>,
  devno: DevNo,
): string[] {
  return [
    ...machine.mounts
      .list()
      .filter((m) => sameDevNo(m.devno, devno))
      .map((m) => m.target),
    ...machine
      .holders(devno)
      .map((h) => (h.dmName ? `${machine.nodes.path}/${h.dmName}` : `/dev/${h.kernelName}`)),
    ...loopsOver(machine, devno),
  ];
}

/** What to say when a device is open and neither a mount nor a stacked device explains it. */
export const openByProcess = (path: string): string => `a process has it open (fuser -vm ${path} names it)`;
