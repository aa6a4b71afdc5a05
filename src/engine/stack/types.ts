/**
 * The storage stack as data: what lies between a source and a filesystem (a VM disk container, a
 * partition table, its partitions, LVM volume groups and their logical volumes), each layer with
 * where it lies on the device below, what it holds and how it can be attached to the kernel.
 * Plain JSON-able values: `--json` prints them and the app draws them.
 */
import type { ContentInfo } from '../../probe/types.js';

/** How a layer becomes a block device, or why it cannot. */
export interface Attach {
  method: 'partition-map' | 'lv-linear-map' | 'lv-striped-map' | 'nbd' | 'none';
  /** `partition map`, `lv linear map`, `needs nbd (qemu-nbd)`, `not mappable: thin pool — use lvchange -ay vg/pool`… */
  text: string;
  /** What the kernel must offer for it beyond loop devices. */
  needs?: 'device-mapper' | 'nbd';
}

/** 512-byte sectors on the device below. */
export interface Extent {
  start: number;
  size: number;
}

export interface ContainerLayer {
  /** `qcow2`, `vmdk`, `vhd`, `vhdx`, `vdi`; only named: `qcow`, `qed`, `ewf`, `xz`, `gzip`, `zstd`, `bzip2`. */
  format: string;
  description: string;
  /** Bytes of the guest's disk, when the header says. */
  virtualSize: number | null;
  features: string[];
  /** Whether the guest's disk was read through the container (its table and contents are shown). */
  readable: boolean;
  /** Why the guest's disk cannot be read, when it cannot. */
  problem: string | null;
  /** What to do next, one command or sentence each. */
  advice: string[];
  /** Other files the guest's disk is read from (backing files, extents). */
  files: string[];
  attach: Attach;
}

export interface PhysicalVolumeLayer {
  /** The metadata's key for it (`pv0`). */
  name: string;
  uuid: string;
  /** The source (operand) holding it; only when several sources were inspected together. */
  source?: string;
  /** The partition holding it; null for the whole disk. */
  partition: number | null;
  /** Where it lies on the disk read (the container's guest disk for a container). */
  extent: Extent;
  /** Sector of its first extent, relative to the PV. */
  peStart: number;
  peCount: number;
}

export interface MissingPhysicalVolume {
  name: string;
  uuid: string;
  /** The device lvm2 last saw it on, as written in the metadata. */
  lastSeenOn: string | null;
}

/**
 * A Linux root recognised on a filesystem without mounting it (os-release, hostname, SELinux
 * config, whether /etc/shadow is there). Names and modes only: never a hash.
 */
export interface SystemLayer {
  kind: 'linux';
  /** `Debian GNU/Linux 12 root`. */
  label: string;
  /** PRETTY_NAME (`Debian GNU/Linux 12 (bookworm)`), else NAME and VERSION_ID. */
  os: string | null;
  /** os-release ID (`debian`) and VERSION_ID (`12`). */
  id: string | null;
  version: string | null;
  hostname: string | null;
  /** SELINUX= of /etc/selinux/config; null without that file (or when it does not say). */
  selinux: 'enforcing' | 'permissive' | 'disabled' | null;
  selinuxPolicy: string | null;
  /** /etc/os-release or /usr/lib/os-release; null for a root known by its account files alone. */
  osReleasePath: string | null;
  /** Whether /etc/shadow is there. */
  shadow: boolean;
  /** Files that could not be read, named with the reason. */
  warnings: string[];
}

export interface LogicalVolumeLayer {
  name: string;
  /** 512-byte sectors. */
  sizeSectors: number;
  /** lvs' segtype of its first segment: `linear`, `striped`, `thin`, `thin-pool`, `raid1`… */
  segmentType: string;
  segments: number;
  /** Where its sectors lie, as device-mapper targets would put them; empty when not mappable. */
  targets: string[];
  content: ContentInfo | null;
  /** The system on it, read without mounting (ext2/3/4). */
  system: SystemLayer | null;
  /** Why nothing is said of its system (a filesystem read only once mounted, a damaged one). */
  systemNote: string | null;
  attach: Attach;
  /** Why its content could not be read (a missing PV, its type). */
  problem: string | null;
}

export interface VolumeGroupLayer {
  name: string;
  uuid: string;
  seqno: number;
  /** Sectors per extent. */
  extentSize: number;
  sizeSectors: number;
  freeSectors: number;
  physicalVolumes: PhysicalVolumeLayer[];
  missing: MissingPhysicalVolume[];
  /** Visible LVs, as `lvs` lists them (hidden sub-volumes of pools and RAID are left out). */
  logicalVolumes: LogicalVolumeLayer[];
  warnings: string[];
}

/** One node of the tree: the source, its container, table, partitions, volume groups, volumes. */
export interface StackNode {
  layer: 'source' | 'container' | 'table' | 'partition' | 'volume-group' | 'logical-volume';
  /** `disk.img`, `qcow2`, `gpt`, `3`, `vg0`, `vg0/root`. */
  name: string;
  /** On the device below (the container's guest disk for a table inside one); null for a VG. */
  extent: Extent | null;
  content: ContentInfo | null;
  /** The system on the filesystem this node holds, when read without mounting. */
  system: SystemLayer | null;
  attach: Attach | null;
  children: StackNode[];
}
