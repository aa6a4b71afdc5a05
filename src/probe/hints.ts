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

/**
 * The kernel filesystem type that mounts `info`, or undefined when it is not a filesystem the
 * kernel mounts as it is. ext2 and ext3 go through the ext4 driver (the one modern kernels have),
 * NTFS through the in-kernel ntfs3.
 */
export function mountTypeFor(info: ContentInfo): string | undefined {
  if (!info.mountable || !isMountableType(info.type)) return undefined;
  if (info.type === 'ext2' || info.type === 'ext3') return 'ext4';
  return info.type === 'ntfs' ? 'ntfs3' : info.type;
}

/** A name usable for a dm/LUKS mapping: letters, digits, `_` and `-` only. */
function mapName(info: ContentInfo): string {
  const base = (info.label ?? 'secret').replace(/[^A-Za-z0-9_-]+/g, '_');
  return base.length > 0 ? base : 'secret';
}

/** A short noun phrase for the content: `LUKS2 encrypted volume "vault"`, `ext4 filesystem "root"`. */
export function describeContent(info: ContentInfo): string {
  const label = info.label ? ` "${info.label}"` : '';
  switch (info.type) {
    case 'crypto_LUKS':
      return `LUKS${info.version ?? ''} encrypted volume${label}`;
    case 'LVM2_member':
      return `LVM physical volume${info.volumeGroup ? ` of volume group "${info.volumeGroup}"` : ''}`;
    case 'linux_raid_member':
      return `md RAID member${info.label ? ` of array "${info.label}"` : ''}${info.version ? ` (metadata ${info.version})` : ''}`;
    case 'zfs_member':
      return `ZFS pool member${info.label ? ` of pool "${info.label}"` : ''}`;
    case 'swap':
      return `swap space${label}`;
    case 'jbd':
      return 'external ext3/ext4 journal';
    case 'squashfs3':
      return `squashfs ${info.version ?? '3.x'} image`;
    default:
      return `${info.type} filesystem${label}`;
  }
}

/** What the machine the hint is for can do, when the caller knows. */
export interface HintContext {
  /** false: this kernel has no device-mapper, so cryptsetup and LVM activation cannot work here. */
  deviceMapper?: boolean;
}

/** Said instead of a command that needs device-mapper on a kernel without it. */
const NEEDS_DM =
  'needs device-mapper, which this kernel does not have: load it (`modprobe dm_mod`) or use a machine that has it';

/**
 * What to run next for this content, on `device` (for example `/dev/mapper/loop0p2`).
 * Undefined for a plain mountable filesystem: mounting it is the obvious next step. Every hint
 * only reads: none writes to the disk being looked at.
 */
export function hintFor(
  info: ContentInfo,
  device: string = DEVICE_PLACEHOLDER,
  context: HintContext = {},
): string | undefined {
  const noDm = context.deviceMapper === false;
  switch (info.type) {
    case 'crypto_LUKS':
      return noDm
        ? `unlocking it (cryptsetup open) ${NEEDS_DM}`
        : `unlock with \`cryptsetup open ${device} ${mapName(info)}\`, then mount /dev/mapper/${mapName(info)}`;
    case 'LVM2_member':
      if (!info.volumeGroup)
        return 'a physical volume in no volume group: it holds no logical volume to mount';
      return noDm
        ? `activating volume group ${info.volumeGroup} (vgchange -ay) ${NEEDS_DM}`
        : `activate with \`vgscan && vgchange -ay ${info.volumeGroup}\`, then mount /dev/${info.volumeGroup}/<lv>`;
    case 'linux_raid_member':
      return `assemble with \`mdadm --assemble --scan\` (or \`mdadm --assemble /dev/md/NAME ${device} …\` naming every member), then mount the md device`;
    case 'zfs_member':
      return `import with \`zpool import -d /dev/mapper ${info.label ?? '<pool>'}\``;
    case 'swap':
      return `nothing to mount (\`swapon ${device}\` would use it as swap)`;
    case 'jbd':
      return 'nothing to mount: it is the journal of another ext3/ext4 filesystem';
    case 'squashfs3':
      return 'current kernels mount only squashfs 4: extract it with unsquashfs from squashfs-tools 3.x';
    case 'btrfs':
      return info.uuidSub
        ? 'if the filesystem spans several devices, run `btrfs device scan` before mounting'
        : undefined;
    default:
      return undefined;
  }
}
