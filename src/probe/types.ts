/**
 * What content probing reports. Type names are libblkid's (`ID_FS_TYPE`), so users can compare
 * with `blkid -p` and scripts keep working with the names they already know.
 */

/** What a user can do with the content; `lvm` and `swap` get their own value because the next step differs. */
export type ContentUsage = 'filesystem' | 'raid' | 'crypto' | 'lvm' | 'swap' | 'other';

export interface ContentInfo {
  /** libblkid's TYPE: `ext4`, `vfat`, `crypto_LUKS`, `LVM2_member`, `linux_raid_member`, … */
  type: string;
  usage: ContentUsage;
  /** Volume label, decoded to text (blkid's LABEL before its udev escaping). */
  label?: string;
  /** As blkid prints it (`xxxxxxxx-…`, `XXXX-XXXX`, LVM's 6-4-4-4-4-4-6, ZFS's decimal pool GUID). */
  uuid?: string;
  /** blkid's UUID_SUB: the member's own id (btrfs device, md device, ZFS vdev). */
  uuidSub?: string;
  /** blkid's VERSION (`1.0`, `FAT32`, `2`, `1.2`, `LVM2 001`, `Joliet Extension`). */
  version?: string;
  /** LVM physical volume: the volume group named in its metadata area. */
  volumeGroup?: string;
  /** A filesystem the kernel mounts as it is (no unlocking, assembling or activating first). */
  mountable: boolean;
  /** NTFS: the volume's dirty flag is set (not cleanly unmounted); it is never mounted read-write. */
  dirty?: boolean;
  /** What to run next, with `/dev/mapper/<map>` standing for the mapped partition (hintFor in hints.ts fills in a real one). */
  hint?: string;
}

/** A disk-image container found where a partition table was expected. */
export interface ContainerInfo {
  /** `qcow2`, `qcow`, `vmdk`, `vmdk-descriptor`, `vdi`, `vhd`, `vhd-fixed`, `vhdx`, `qed`, `ewf`, `xz`, `gzip`, `zstd`, `bzip2`. */
  format: string;
  /** Human name, e.g. `QEMU qcow2 v3 image`. */
  description: string;
  /** Size of the disk the guest sees, in bytes, when the header says. */
  virtualSize?: number;
  /** True when the bytes of the file are the disk itself (VHD fixed): partitions map as they are. */
  mappable: boolean;
  /**
   * True when openContainer can read the guest's disk from what the header says (a backing file or
   * an extent must still be there when it is opened).
   */
  guestReadable: boolean;
  /** Why the guest view cannot be read directly, when it cannot. */
  problem?: string;
  /** Next steps, one command or sentence each. */
  advice: string[];
  /** Short facts from the header: cluster size, compression, backing file, extents, … */
  features?: string[];
}
