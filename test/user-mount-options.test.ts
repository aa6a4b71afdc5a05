/** Options a user adds to a mount: the safety options stay, whatever is typed. */
import { describe, expect, it } from 'vitest';
import { enclosingMount, unmountOrder } from '../src/engine/mountpoint.js';
import { MountOptionError, parseUserMountOptions } from '../src/engine/user-mount-options.js';

describe('parseUserMountOptions', () => {
  it('passes filesystem options on, drops what is set anyway, and reads ro as a read-only mount', () => {
    expect(parseUserMountOptions('', false)).toEqual({ data: [], readOnly: false });
    expect(parseUserMountOptions(' errors=continue, ,uid=1000,nosuid,nodev,noexec', false)).toEqual({
      data: ['errors=continue', 'uid=1000'],
      readOnly: false,
    });
    expect(parseUserMountOptions('ro,norecovery', true)).toEqual({ data: ['norecovery'], readOnly: true });
    // rw is a no-op where a read-write mount was asked for anyway.
    expect(parseUserMountOptions('rw', true)).toEqual({ data: [], readOnly: false });
  });

  it('refuses what would undo nosuid, nodev, noexec or a read-only mount, saying why', () => {
    const refused: [string, RegExp][] = [
      ['suid', /^option suid: it would undo nosuid/],
      ['dev', /^option dev: it would undo nodev/],
      ['exec', /^option exec: it would undo noexec/],
      ['defaults', /^option defaults: it means rw,suid,dev,exec/],
      ['uid=0,rw', /^option rw: it would make a read-only mount writable; .*--rw/],
      ['remount', /^option remount: a word of mount\(8\) or fstab/],
      ['x-systemd.automount', /a word of mount\(8\) or fstab/],
      ['noatime', /^option noatime: a mount flag kpartx-tui does not set/],
      ['a\u0000b', /control characters and spaces are not allowed/],
    ];
    for (const [text, message] of refused) {
      const error = (() => {
        try {
          parseUserMountOptions(text, false);
        } catch (e) {
          return e;
        }
      })();
      expect(error, text).toBeInstanceOf(MountOptionError);
      expect((error as Error).message, text).toMatch(message);
    }
  });
});

describe('mounts inside mounts', () => {
  const root = { mountpoint: '/run/k/mnt/loop0p2' };
  const boot = { mountpoint: '/run/k/mnt/loop0p2/boot' };
  const efi = { mountpoint: '/run/k/mnt/loop0p2/boot/efi' };
  const other = { mountpoint: '/run/k/mnt/loop0p20' };

  it('finds the innermost mount a path lies in, never a sibling with the same prefix', () => {
    expect(enclosingMount('/run/k/mnt/loop0p2/boot/efi', [root, boot, other])).toBe(boot);
    expect(enclosingMount('/run/k/mnt/loop0p20/x', [root, boot])).toBeUndefined();
    expect(enclosingMount(root.mountpoint, [root])).toBeUndefined();
  });

  it('unmounts newest first, and a mount inside another before it whatever the order it came in', () => {
    expect(unmountOrder([root, boot, efi, other])).toEqual([other, efi, boot, root]);
    // /boot mounted first (somewhere it does not depend on) then root: still nested first.
    expect(unmountOrder([efi, boot, root])).toEqual([efi, boot, root]);
    expect(unmountOrder([boot, root, efi])).toEqual([efi, boot, root]);
  });
});
