import type { Disk } from '../io/disk.js';
import { probeBtrfs } from './btrfs.js';
import { probeExfat } from './exfat.js';
import { probeExt } from './ext.js';
import { probeFat } from './fat.js';
import { hintFor } from './hints.js';
import { probeIso9660 } from './iso9660.js';
import { probeLuks } from './luks.js';
import { probeLvm2 } from './lvm.js';
import { probeMdRaid } from './mdraid.js';
import { probeNtfs } from './ntfs.js';
import { type Region, regionOf, SCRATCH_BYTES } from './region.js';
import { probeSquashfs } from './squashfs.js';
import { probeSwap } from './swap.js';
import type { ContentInfo } from './types.js';
import { probeXfs } from './xfs.js';
import { probeZfs } from './zfs.js';

export { ContainerError, type ContainerProblem } from './container-error.js';
export { type ContainerFile, type ContainerFiles, nodeFiles } from './container-files.js';
export {
  type ContainerIssue,
  detectContainer,
  type OpenContainerOptions,
  type OpenedContainer,
  openContainer,
} from './containers.js';
export {
  DEVICE_PLACEHOLDER,
  describeContent,
  hintFor,
  isMountableType,
  mountTypeFor,
} from './hints.js';
export { openQcow2, Qcow2Error, type Qcow2Problem } from './qcow2.js';
export type { Region } from './region.js';
export type { ContainerInfo, ContentInfo, ContentUsage } from './types.js';

type Prober = (region: Region) => ContentInfo | null;

/**
 * libblkid's order: RAID members first (an md 1.0 member holds an intact filesystem at its start),
 * then volume managers and crypto headers, then filesystems.
 */
const PROBERS: readonly Prober[] = [
  probeMdRaid,
  probeLvm2,
  probeLuks,
  probeFat,
  probeSwap,
  probeXfs,
  probeExt,
  probeIso9660,
  probeZfs,
  probeNtfs,
  probeSquashfs,
  probeBtrfs,
  probeExfat,
];

/**
 * What lives in `size` bytes at `offset` of `disk` (a partition, or the whole device), from the
 * signatures on it. Reads only a few small windows inside that range; null when nothing known is
 * there or the range is too short to tell.
 */
export function probeContent(disk: Disk, offset: number, size: number): ContentInfo | null {
  if (!(offset >= 0 && size > 0)) return null;
  // Reads land in one buffer kept between calls: nothing read escapes a call (results are text).
  const scratch = spareScratch ?? new Uint8Array(SCRATCH_BYTES);
  spareScratch = null;
  try {
    return probeRegion(regionOf(disk, offset, size, scratch));
  } finally {
    spareScratch = scratch;
  }
}

/** What the signatures in `region` say it holds (probeContent without choosing how to read). */
export function probeRegion(region: Region): ContentInfo | null {
  for (const probe of PROBERS) {
    const info = probe(region);
    if (info) {
      const hint = hintFor(info);
      return hint ? { ...info, hint } : info;
    }
  }
  return null;
}

let spareScratch: Uint8Array | null = null;
