/** Next-step texts and the mountable flag the interactive app shows for each kind of content. */
import { describe, expect, it } from 'vitest';
import { DEVICE_PLACEHOLDER, describeContent, hintFor, isMountableType } from '../src/probe/index.js';
import type { ContentInfo } from '../src/probe/types.js';

const info = (type: string, extra: Partial<ContentInfo> = {}): ContentInfo => ({
  type,
  usage: 'other',
  mountable: isMountableType(type),
  ...extra,
});

describe('hints', () => {
  it('tells how to unlock LUKS on the mapped partition', () => {
    expect(hintFor(info('crypto_LUKS', { version: '2', label: 'my vault' }), '/dev/mapper/loop0p2')).toBe(
      'unlock with `cryptsetup open /dev/mapper/loop0p2 my_vault`, then mount /dev/mapper/my_vault',
    );
    expect(hintFor(info('crypto_LUKS', { version: '1' }))).toContain(
      `cryptsetup open ${DEVICE_PLACEHOLDER} secret`,
    );
  });

  it('activates the named LVM volume group', () => {
    expect(hintFor(info('LVM2_member', { volumeGroup: 'vg0' }))).toBe(
      'activate with `vgscan && vgchange -ay vg0`, then mount /dev/vg0/<lv>',
    );
    expect(hintFor(info('LVM2_member'))).toMatch(/in no volume group: it holds no logical volume/);
    expect(hintFor(info('LVM2_member'))).not.toContain('vgcreate');
  });

  it('says what device-mapper-bound steps need on a kernel without it, and never suggests them', () => {
    const noDm = { deviceMapper: false };
    expect(hintFor(info('crypto_LUKS'), '/dev/mapper/loop0p2', noDm)).toBe(
      'unlocking it (cryptsetup open) needs device-mapper, which this kernel does not have: load it (`modprobe dm_mod`) or use a machine that has it',
    );
    const pv = hintFor(info('LVM2_member', { volumeGroup: 'vg0' }), '/dev/mapper/loop0p3', noDm);
    expect(pv).toMatch(/^activating volume group vg0 \(vgchange -ay\) needs device-mapper/);
    expect(pv).not.toContain('`vgchange');
  });

  it('assembles md arrays, imports ZFS pools, and says swap is not mounted', () => {
    expect(hintFor(info('linux_raid_member', { label: 'host:0' }), '/dev/mapper/loop0p1')).toContain(
      'assemble with `mdadm --assemble --scan` (or `mdadm --assemble /dev/md/NAME /dev/mapper/loop0p1 …`',
    );
    expect(hintFor(info('zfs_member', { label: 'tank' }))).toBe(
      'import with `zpool import -d /dev/mapper tank`',
    );
    expect(hintFor(info('swap'), '/dev/mapper/loop0p3')).toBe(
      'nothing to mount (`swapon /dev/mapper/loop0p3` would use it as swap)',
    );
  });

  it('has nothing to add for a plain filesystem, but warns about multi-device btrfs', () => {
    expect(hintFor(info('ext4'))).toBeUndefined();
    expect(hintFor(info('btrfs', { uuidSub: 'abc' }))).toContain('btrfs device scan');
  });

  it('offers only mountable filesystems and explains the rest', () => {
    for (const t of ['ext2', 'ext3', 'ext4', 'xfs', 'btrfs', 'vfat', 'exfat', 'ntfs', 'iso9660', 'squashfs'])
      expect(isMountableType(t), t).toBe(true);
    for (const t of [
      'swap',
      'crypto_LUKS',
      'LVM2_member',
      'linux_raid_member',
      'zfs_member',
      'jbd',
      'squashfs3',
    ])
      expect(isMountableType(t), t).toBe(false);
  });

  it('names the content in a short phrase', () => {
    expect(describeContent(info('ext4', { label: 'root' }))).toBe('ext4 filesystem "root"');
    expect(describeContent(info('LVM2_member', { volumeGroup: 'vg0' }))).toBe(
      'LVM physical volume of volume group "vg0"',
    );
    expect(describeContent(info('linux_raid_member', { label: 'h:0', version: '1.2' }))).toBe(
      'md RAID member of array "h:0" (metadata 1.2)',
    );
  });
});
