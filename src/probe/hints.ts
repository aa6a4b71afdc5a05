import type { ContentInfo } from './types.js';

/** Stands for the mapped partition in hints until the caller knows its real path. */
export const DEVICE_PLACEHOLDER = '/dev/mapper/<map>';

const FILESYSTEM_TYPES = new Set([
  'ext2',
  'ext3',
  'ext4',
  'xfs',
  'btrfs',
  'vfat',
  'exfat',
  'ntfs',
  'iso9660',
  'squashfs',
]);

/** Filesystems the kernel (or ntfs-3g) mounts straight from the mapped partition. */
export function isMountableType(type: string): boolean {
  return FILESYSTEM_TYPES.has(type);
}

/** A name usable for a dm/LUKS mapping: letters, digits, `_` and `-` only. */
function mapName(info: ContentInfo): string {
  const base = (info.label ?? 'secret').replace(/[^A-Za-z0-9_-]+/g, '_');
  return base.length > 0 ? base : 'secret';
}

/**
 * What to run next for this content, on `device` (for example `/dev/mapper/loop0p2`).
 * Undefined for a plain mountable filesystem: mounting it is the obvious next step.
 */
export function hintFor(info: ContentInfo, device: string = DEVICE_PLACEHOLDER): string | undefined {
  switch (info.type) {
    case 'crypto_LUKS':
      return `encrypted (LUKS${info.version ?? ''}): unlock with \`cryptsetup open ${device} ${mapName(info)}\`, then mount /dev/mapper/${mapName(info)}`;
    case 'LVM2_member':
      return info.volumeGroup
        ? `LVM physical volume of volume group "${info.volumeGroup}": activate with \`vgscan && vgchange -ay ${info.volumeGroup}\`, then mount /dev/${info.volumeGroup}/<lv>`
        : 'LVM physical volume in no volume group yet: `pvs` shows it after mapping; `vgcreate` would add it to one';
    case 'linux_raid_member':
      return `md RAID member${info.label ? ` of array "${info.label}"` : ''}: assemble with \`mdadm --assemble --scan\` (or \`mdadm --assemble /dev/md/NAME ${device} …\` with every member), then mount the md device`;
    case 'zfs_member':
      return `ZFS pool member${info.label ? ` of pool "${info.label}"` : ''}: import with \`zpool import -d /dev/mapper ${info.label ?? '<pool>'}\``;
    case 'swap':
      return `swap space: nothing to mount (\`swapon ${device}\` would use it)`;
    case 'jbd':
      return 'external ext3/ext4 journal: nothing to mount; it belongs to the ext filesystem that names it';
    case 'btrfs':
      return info.uuidSub
        ? `btrfs (device ${info.uuidSub}): if the filesystem spans several devices, run \`btrfs device scan\` before mounting`
        : undefined;
    default:
      return undefined;
  }
}

/** A short reason why content is not offered for mounting (for the guided mount). */
export function whyNotMountable(info: ContentInfo): string | undefined {
  if (info.mountable) return undefined;
  return hintFor(info) ?? `${info.type}: not a filesystem the kernel mounts directly`;
}

/**
 * For a device with no partition table whose whole content was recognised: what it is and what
 * to do with it, e.g. `no partition table: the whole file is an ext4 filesystem "root"; mount it
 * directly (mount -o loop,ro disk.img /mnt)`.
 */
export function wholeDeviceAdvice(info: ContentInfo, file: string): string {
  const what = `${info.type}${info.usage === 'filesystem' ? ' filesystem' : ''}${info.label ? ` "${info.label}"` : ''}`;
  if (info.mountable)
    return `no partition table: the whole of ${file} is a ${what}; mount it directly (mount -o loop,ro ${file} /mnt)`;
  const next = hintFor(info, file);
  return `no partition table: the whole of ${file} is ${info.type === 'swap' ? 'swap space' : `a ${what}`}${next ? `; ${next}` : ''}`;
}
