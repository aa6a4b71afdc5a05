/**
 * Password reset on real root filesystems: ext4 made by mkfs.ext4, attached to a loop device and
 * mounted, holding the files of Debian 12, Ubuntu 22.04, Rocky Linux 9.4, Fedora 40 and Alpine 3.19
 * with their owners, modes and (for the SELinux distributions) a security.selinux label, plus
 * trusted.* and user.* attributes on shadow. After each reset:
 * - the new hash verifies with an independent implementation (OpenSSL for SHA-512, Python's crypt
 *   module for yescrypt), and the old one no longer does;
 * - shadow differs from before in that one line only; shadow- is byte for byte the old shadow;
 * - mode, owner, group and every extended attribute (read with Python's os.getxattr) are as before
 *   on both files;
 * - every other file in the filesystem has the same checksum, mode and owner, no temporary file is
 *   left, and after unmounting e2fsck finds the filesystem clean and debugfs reads the new shadow.
 * Failures (a label that cannot be set, another attribute that cannot, a read-only mount, a shadow
 * changed after planning, a shadow that is a symlink) are tested on the same filesystems.
 * A Windows system is recognised on a real NTFS made by mkntfs and mounted with ntfs-3g.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { XattrApi } from '../src/engine/machine.js';
import { openHostCrypt } from '../src/kernel/libcrypt.js';
import { createLoopApi } from '../src/kernel/loop.js';
import { createMountApi } from '../src/kernel/mount.js';
import { KernelError } from '../src/kernel/types.js';
import { xattrs } from '../src/kernel/xattr.js';
import { listGuestAccounts } from '../src/recovery/accounts.js';
import { openDirectoryTree } from '../src/recovery/directory-tree.js';
import { RecoveryError } from '../src/recovery/errors.js';
import { findSystem } from '../src/recovery/find-system.js';
import { commitPasswordReset, preparePasswordReset } from '../src/recovery/reset.js';
import {
  ALL_HASHES,
  alpine319,
  debian12,
  fedora40,
  type GuestFixture,
  rocky94,
  ubuntu2204,
} from './support/guest-trees.js';
import {
  HAS_PYTHON_CRYPT,
  HOST_LIBXCRYPT,
  independentlyVerify,
  opensslSha512,
  pythonSetXattr,
  pythonXattrs,
} from './support/independent.js';
import { writeTree } from './support/write-tree.js';

const hostCrypt = openHostCrypt();
const canRun =
  process.getuid?.() === 0 &&
  existsSync('/dev/loop-control') &&
  !!hostCrypt &&
  !!HOST_LIBXCRYPT &&
  HAS_PYTHON_CRYPT;
const skipReason =
  "needs root, /dev/loop-control (real ext4 on loop devices), the host's libxcrypt and Python's crypt module; skipped";

const loops = createLoopApi();
const mounts = createMountApi();
const dir = mkdtempSync('/tmp/kpartx-tui-passwd-');
const libcrypt = HOST_LIBXCRYPT ?? Buffer.alloc(0);
const TODAY = 20_000;

afterAll(() => {
  // Whatever a failed test left: mounts under dir, then loops over its images.
  for (const mount of mounts.list().reverse())
    if (mount.target.startsWith(`${dir}/`)) mounts.unmount(mount.target);
  for (const loop of loops.list()) if (loop.backingFile.startsWith(`${dir}/`)) loops.detach(loop.path);
  rmSync(dir, { recursive: true, force: true });
});

interface FileState {
  kind: string;
  mode: number;
  uid: number;
  gid: number;
  content: string;
}

/** Every entry under root but shadow and shadow-: type, mode, owner and content checksum (or link target). */
function snapshot(root: string): Map<string, FileState> {
  const states = new Map<string, FileState>();
  const walk = (relative: string) => {
    for (const name of readdirSync(join(root, relative))) {
      const path = `${relative}/${name}`;
      if (path === '/etc/shadow' || path === '/etc/shadow-') continue;
      const stat = lstatSync(join(root, path));
      const kind = stat.isSymbolicLink()
        ? 'link'
        : stat.isDirectory()
          ? 'dir'
          : stat.isFile()
            ? 'file'
            : 'other';
      const content =
        kind === 'link'
          ? readlinkSync(join(root, path))
          : kind === 'file'
            ? createHash('sha256')
                .update(readFileSync(join(root, path)))
                .digest('hex')
            : '';
      states.set(path, { kind, mode: stat.mode, uid: stat.uid, gid: stat.gid, content });
      if (kind === 'dir') walk(path);
    }
  };
  walk('');
  return states;
}

interface Attributes {
  mode: number;
  uid: number;
  gid: number;
  xattrs: Record<string, string>;
}

/** Mode, owner and extended attributes of each path, the attributes read by Python. */
const attributesOf = (...paths: string[]): Attributes[] => {
  const values = pythonXattrs(paths);
  return paths.map((path, i) => {
    const stat = lstatSync(path);
    return { mode: stat.mode, uid: stat.uid, gid: stat.gid, xattrs: values[i]! };
  });
};

interface Guest {
  fixture: GuestFixture;
  image: string;
  loop: string;
  mnt: string;
}

/** A fresh ext4 image on a loop device, mounted, holding the guest's files as the distribution installs them. */
function buildGuest(fixture: GuestFixture, key: string): Guest {
  const image = join(dir, `${key}.img`);
  execFileSync('truncate', ['-s', '48M', image]);
  execFileSync('mkfs.ext4', ['-q', '-F', '-L', key.slice(0, 16), image]);
  const loop = loops.attach(image, { readOnly: false });
  const mnt = join(dir, `mnt-${key}`);
  mkdirSync(mnt);
  mounts.mount(loop.path, mnt, 'ext4', { readOnly: false });
  writeTree(mnt, fixture.files);
  const etc = join(mnt, 'etc');
  // An older backup, as a system that has changed passwords before has.
  writeFileSync(join(etc, 'shadow-'), readFileSync(join(etc, 'shadow')).subarray(0, 40));
  for (const name of ['shadow', 'shadow-', 'gshadow']) {
    if (!existsSync(join(etc, name))) continue;
    chownSync(join(etc, name), 0, fixture.shadowGid);
    chmodSync(join(etc, name), fixture.shadowMode);
  }
  if (existsSync(join(mnt, 'home/debian'))) chownSync(join(mnt, 'home/debian'), 1000, 1000);
  const shadow = join(etc, 'shadow');
  if (fixture.selinuxLabel) pythonSetXattr(shadow, 'security.selinux', fixture.selinuxLabel);
  pythonSetXattr(shadow, 'trusted.kpartx-tui-test', `trusted attribute of ${key}`);
  pythonSetXattr(shadow, 'user.kpartx-tui-test', `user attribute of ${key}`);
  return { fixture, image, loop: loop.path, mnt };
}

function teardown(guest: Guest): void {
  mounts.unmount(guest.mnt);
  loops.detach(guest.loop);
}

interface Before {
  shadow: Buffer;
  backup: Buffer;
  shadowAttributes: Attributes;
  files: Map<string, FileState>;
  etc: string[];
}

function before(guest: Guest): Before {
  const etc = join(guest.mnt, 'etc');
  return {
    shadow: readFileSync(join(etc, 'shadow')),
    backup: readFileSync(join(etc, 'shadow-')),
    shadowAttributes: attributesOf(join(etc, 'shadow'))[0]!,
    files: snapshot(guest.mnt),
    etc: readdirSync(etc).sort(),
  };
}

/** Everything but shadow and shadow- as it was, and no file left behind. */
function expectRestUnchanged(guest: Guest, was: Before): void {
  expect(snapshot(guest.mnt)).toEqual(was.files);
  expect(readdirSync(join(guest.mnt, 'etc')).sort()).toEqual(was.etc);
}

/** Lines that differ between two versions of a file. */
function changedLines(a: Buffer, b: Buffer): number[] {
  const x = a.toString('latin1').split('\n');
  const y = b.toString('latin1').split('\n');
  expect(y.length).toBe(x.length);
  return x.flatMap((line, i) => (line === y[i] ? [] : [i]));
}

const fieldOf = (shadow: Buffer, user: string, field: number): string =>
  shadow
    .toString('latin1')
    .split('\n')
    .find((line) => line.startsWith(`${user}:`))!
    .split(':')[field]!;

interface Case {
  make: () => GuestFixture;
  user: string;
  options: { unlock?: boolean; clearForcedChange?: boolean; clearAccountExpiry?: boolean };
  scheme: string;
  prefix: RegExp;
  /** The line after the reset, with the new hash as HASH. */
  line: string;
}

const cases: Record<string, Case> = {
  debian: {
    make: () => debian12(libcrypt),
    user: 'root',
    options: {},
    scheme: 'yescrypt',
    prefix: /^\$y\$j9T\$/,
    line: 'root:HASH:19700:0:99999:7:::',
  },
  'debian-expired': {
    make: () => debian12(libcrypt),
    user: 'temp',
    options: { clearForcedChange: true, clearAccountExpiry: true },
    scheme: 'yescrypt',
    prefix: /^\$y\$/,
    line: 'temp:HASH:20000:0:99999:7:::',
  },
  ubuntu: {
    make: ubuntu2204,
    user: 'ubuntu',
    options: { unlock: true },
    scheme: 'yescrypt',
    prefix: /^\$y\$/,
    line: 'ubuntu:HASH:19800:0:99999:7:::',
  },
  rocky: {
    make: () => rocky94(libcrypt),
    user: 'rocky',
    options: { unlock: true },
    scheme: 'sha512crypt',
    prefix: /^\$6\$[^$]{16}\$/,
    line: 'rocky:HASH:19850:0:99999:7:::',
  },
  fedora: {
    make: fedora40,
    user: 'root',
    options: { unlock: true },
    scheme: 'yescrypt',
    prefix: /^\$y\$jBT\$/, // YESCRYPT_COST_FACTOR 7
    line: 'root:HASH:19850:0:99999:7:::',
  },
  alpine: {
    make: alpine319,
    user: 'root',
    options: {},
    scheme: 'sha512crypt',
    prefix: /^\$6\$[^$]{16}\$/,
    line: 'root:HASH::0:::::',
  },
};

describe.skipIf(!canRun)('password reset on real ext4 root filesystems', () => {
  it.each(Object.entries(cases))('%s: resets one line and changes nothing else', (key, c) => {
    const guest = buildGuest(c.make(), key);
    let unmounted = false;
    try {
      const tree = openDirectoryTree(guest.mnt);
      const system = findSystem(tree);
      expect(system).toMatchObject({ kind: 'linux', label: guest.fixture.expectedLabel });
      const was = before(guest);
      const password = `new password for ${c.user} on ${key} ✓`;

      const prepared = preparePasswordReset(
        guest.mnt,
        {
          user: c.user,
          password,
          today: TODAY,
          ...c.options,
        },
        hostCrypt,
      );
      expect(prepared.hashing).toMatchObject({
        scheme: c.scheme,
        implementation: `${hostCrypt?.name} (host)`,
      });
      // Preparing writes nothing.
      expect(readFileSync(join(guest.mnt, 'etc/shadow')).equals(was.shadow)).toBe(true);
      const report = commitPasswordReset(prepared, xattrs);

      const shadowPath = join(guest.mnt, 'etc/shadow');
      const backupPath = join(guest.mnt, 'etc/shadow-');
      const after = readFileSync(shadowPath);
      const hash = fieldOf(after, c.user, 1);
      expect(hash).toMatch(c.prefix);
      // The new password verifies; a wrong one does not; every other account keeps its password.
      const others = Object.entries(guest.fixture.passwords).filter(([user]) => user !== c.user);
      expect(
        independentlyVerify([
          [password, hash],
          ['not the password', hash],
          ...others.map(([user, old]): [string, string] => [old, fieldOf(after, user, 1)]),
        ]),
      ).toEqual([true, false, ...others.map(() => true)]);
      // Nothing the faces may show or serialise carries a hash, new or old.
      const shown = JSON.stringify([prepared, report]) + inspect(prepared, { depth: 10 });
      for (const secret of [hash, ...ALL_HASHES]) {
        for (const part of secret.split('$').filter((p) => p.length >= 8)) expect(shown).not.toContain(part);
      }
      const changed = changedLines(was.shadow, after);
      expect(changed).toHaveLength(1);
      expect(after.toString('latin1').split('\n')[changed[0]!]).toBe(c.line.replace('HASH', hash));

      expect(readFileSync(backupPath).equals(was.shadow)).toBe(true);
      expect(attributesOf(shadowPath, backupPath)).toEqual([was.shadowAttributes, was.shadowAttributes]);
      expect(Object.keys(was.shadowAttributes.xattrs)).toEqual(
        [
          ...(guest.fixture.selinuxLabel ? ['security.selinux'] : []),
          'trusted.kpartx-tui-test',
          'user.kpartx-tui-test',
        ].sort(),
      );
      expect(report).toMatchObject({
        attributes: {
          mode: guest.fixture.shadowMode,
          uid: 0,
          gid: guest.fixture.shadowGid,
          selinuxLabel: guest.fixture.selinuxLabel ?? null,
        },
        selinux: guest.fixture.selinuxLabel ? 'kept' : 'none',
        autorelabel: null,
        notes: [],
      });
      expect(existsSync(join(guest.mnt, '.autorelabel'))).toBe(false);
      expectRestUnchanged(guest, was);

      const account = listGuestAccounts(tree, TODAY).find((a) => a.name === c.user)!;
      expect(account.password).toEqual({ state: 'set', scheme: c.scheme });
      expect(account.accountExpired).toBe(false);
      expect(account.mustChange).toBe(false);

      teardown(guest);
      unmounted = true;
      // The filesystem is consistent, and an independent reader of the image sees the new line.
      execFileSync('e2fsck', ['-f', '-n', guest.image], { stdio: 'ignore' });
      const onDisk = execFileSync('debugfs', ['-R', 'cat /etc/shadow', guest.image], {
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      expect(onDisk.equals(after)).toBe(true);
    } finally {
      if (!unmounted) teardown(guest);
    }
  });

  /** Run `fn` on a freshly built guest, and tear it down. */
  const withGuest = (fixture: GuestFixture, key: string, fn: (guest: Guest) => void) => {
    const guest = buildGuest(fixture, key);
    try {
      fn(guest);
    } finally {
      teardown(guest);
    }
  };

  /** Our xattr calls, failing with `errno` for one attribute name when setting. */
  const failingSet = (name: string, errno: number, code: string): XattrApi => ({
    ...xattrs,
    set: (fd, attribute, value) => {
      if (attribute === name) throw new KernelError(`fsetxattr ${attribute}`, `fd ${fd}`, errno, code);
      xattrs.set(fd, attribute, value);
    },
  });

  it('relabels at boot when an SELinux guest’s label cannot be kept', () => {
    withGuest(rocky94(libcrypt), 'rocky-label', (guest) => {
      const prepared = preparePasswordReset(
        guest.mnt,
        { user: 'root', password: 'pw', today: TODAY },
        hostCrypt,
      );
      // SELinux on a host refuses contexts its policy does not know (EINVAL): simulated here.
      const report = commitPasswordReset(prepared, failingSet('security.selinux', 22, 'EINVAL'));
      expect(report.selinux).toBe('lost');
      expect(report.autorelabel).toBe(join(guest.mnt, '.autorelabel'));
      expect(lstatSync(join(guest.mnt, '.autorelabel')).isFile()).toBe(true);
      expect(report.notes).toContain(
        'the guest will relabel its files at the next boot (/.autorelabel), which takes a while',
      );
      // Everything else about the attributes is still kept.
      const [xattrsAfter] = pythonXattrs([join(guest.mnt, 'etc/shadow')]);
      expect(Object.keys(xattrsAfter!)).toEqual(['trusted.kpartx-tui-test', 'user.kpartx-tui-test']);
      expect(lstatSync(join(guest.mnt, 'etc/shadow')).mode & 0o7777).toBe(0);
    });
  });

  it('does not relabel a guest without SELinux when the label cannot be set', () => {
    withGuest(debian12(libcrypt), 'debian-label', (guest) => {
      pythonSetXattr(join(guest.mnt, 'etc/shadow'), 'security.selinux', 'system_u:object_r:shadow_t:s0');
      const prepared = preparePasswordReset(
        guest.mnt,
        { user: 'root', password: 'pw', today: TODAY },
        hostCrypt,
      );
      const report = commitPasswordReset(prepared, failingSet('security.selinux', 22, 'EINVAL'));
      expect(report).toMatchObject({ selinux: 'lost', autorelabel: null });
      expect(report.notes).toContain('the guest does not run SELinux, so the lost label does not matter');
      expect(existsSync(join(guest.mnt, '.autorelabel'))).toBe(false);
    });
  });

  /** Commit must fail with `message` and leave shadow, shadow- and everything else as they were. */
  const expectRefusedUnchanged = (guest: Guest, commit: () => unknown, message: RegExp) => {
    const was = before(guest);
    expect(commit).toThrow(RecoveryError);
    expect(commit).toThrow(message);
    expect(readFileSync(join(guest.mnt, 'etc/shadow')).equals(was.shadow)).toBe(true);
    expect(readFileSync(join(guest.mnt, 'etc/shadow-')).equals(was.backup)).toBe(true);
    expect(attributesOf(join(guest.mnt, 'etc/shadow'))).toEqual([was.shadowAttributes]);
    expectRestUnchanged(guest, was);
  };

  it('changes nothing when another attribute cannot be copied', () => {
    withGuest(ubuntu2204(), 'ubuntu-xattr', (guest) => {
      const prepared = preparePasswordReset(
        guest.mnt,
        { user: 'root', password: 'pw', today: TODAY },
        hostCrypt,
      );
      expectRefusedUnchanged(
        guest,
        () => commitPasswordReset(prepared, failingSet('trusted.kpartx-tui-test', 95, 'EOPNOTSUPP')),
        /cannot set extended attribute trusted\.kpartx-tui-test \(EOPNOTSUPP\)/,
      );
    });
  });

  it('changes nothing when shadow changed after the reset was planned', () => {
    withGuest(alpine319(), 'alpine-race', (guest) => {
      const prepared = preparePasswordReset(
        guest.mnt,
        { user: 'alpine', password: 'pw', today: TODAY },
        hostCrypt,
      );
      const shadow = join(guest.mnt, 'etc/shadow');
      writeFileSync(shadow, Buffer.concat([readFileSync(shadow), Buffer.from('new:*:1::::::\n')]));
      expectRefusedUnchanged(
        guest,
        () => commitPasswordReset(prepared, xattrs),
        /changed since the reset was planned/,
      );
    });
  });

  it('refuses a shadow that is a symlink', () => {
    withGuest(alpine319(), 'alpine-link', (guest) => {
      const prepared = preparePasswordReset(
        guest.mnt,
        { user: 'alpine', password: 'pw', today: TODAY },
        hostCrypt,
      );
      const etc = join(guest.mnt, 'etc');
      writeFileSync(join(etc, 'real-shadow'), readFileSync(join(etc, 'shadow')));
      unlinkSync(join(etc, 'shadow'));
      symlinkSync('real-shadow', join(etc, 'shadow'));
      expect(() => commitPasswordReset(prepared, xattrs)).toThrow(
        /etc\/shadow: is a symlink, not a regular file; not changed/,
      );
      expect(readlinkSync(join(etc, 'shadow'))).toBe('real-shadow');
    });
  });

  it('says a read-only mount cannot be written, and writes nothing', () => {
    withGuest(fedora40(), 'fedora-ro', (guest) => {
      const prepared = preparePasswordReset(
        guest.mnt,
        { user: 'fedora', password: 'pw', today: TODAY },
        hostCrypt,
      );
      mounts.unmount(guest.mnt);
      mounts.mount(guest.loop, guest.mnt, 'ext4', { readOnly: true });
      expectRefusedUnchanged(guest, () => commitPasswordReset(prepared, xattrs), /cannot create \(EROFS\)/);
    });
  });

  it('computes SHA-512 itself when the host has no libcrypt, and says so', () => {
    withGuest(debian12(libcrypt), 'debian-builtin', (guest) => {
      const was = before(guest);
      const prepared = preparePasswordReset(
        guest.mnt,
        { user: 'debian', password: 'built-in pw', today: TODAY },
        null,
      );
      expect(prepared.policy.scheme).toBe('yescrypt');
      expect(prepared.hashing).toEqual({
        scheme: 'sha512crypt',
        implementation: 'built-in SHA-512 crypt',
        notes: [
          'the host has no libcrypt, so yescrypt cannot be made: SHA-512 crypt was computed by kpartx-tui itself',
        ],
      });
      commitPasswordReset(prepared, xattrs);
      const after = readFileSync(join(guest.mnt, 'etc/shadow'));
      const hash = fieldOf(after, 'debian', 1);
      expect(opensslSha512('built-in pw', hash)).toBe(hash);
      expect(changedLines(was.shadow, after)).toHaveLength(1);
      expectRestUnchanged(guest, was);
    });
  });

  it('refuses to prepare a reset for an account that is not there, or in a tree that is no Linux root', () => {
    withGuest(debian12(libcrypt), 'debian-nouser', (guest) => {
      expect(() =>
        preparePasswordReset(guest.mnt, { user: 'nobody-here', password: 'pw' }, hostCrypt),
      ).toThrow('/etc/passwd: no account named nobody-here');
      expect(() =>
        preparePasswordReset(join(guest.mnt, 'home'), { user: 'root', password: 'pw' }, hostCrypt),
      ).toThrow(/home: no Linux root filesystem here/);
    });
  });
});

const has = (tool: string) => {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
const canNtfs = canRun && has('mkntfs') && has('ntfs-3g') && existsSync('/dev/fuse');

describe.skipIf(!canNtfs)('a Windows system on real NTFS (mkntfs, mounted with ntfs-3g)', () => {
  let mnt = '';
  beforeAll(() => {
    const image = join(dir, 'windows.img');
    execFileSync('truncate', ['-s', '16M', image]);
    execFileSync('mkntfs', ['-q', '-F', '-Q', image], { stdio: 'ignore' });
    mnt = join(dir, 'mnt-windows');
    mkdirSync(mnt);
    execFileSync('ntfs-3g', [image, mnt]);
    // Windows XP spelled it WINDOWS/system32; NTFS keeps the case it was given.
    mkdirSync(join(mnt, 'WINDOWS/system32/config'), { recursive: true });
    writeFileSync(join(mnt, 'WINDOWS/system32/config/SAM'), Buffer.from('regf'));
  });
  afterAll(() => {
    if (mnt) execFileSync('umount', [mnt]);
  });

  it('is named, with what kpartx-tui cannot do and what can, and a reset is refused', () => {
    const system = findSystem(openDirectoryTree(mnt));
    expect(system).toMatchObject({
      kind: 'windows',
      label: 'Windows system',
      samPath: '/WINDOWS/system32/config/SAM',
    });
    expect(() => preparePasswordReset(mnt, { user: 'Administrator', password: 'pw' }, hostCrypt)).toThrow(
      /Windows system\. Windows keeps local account passwords in the SAM registry hive.*chntpw/,
    );
  });
});

if (!canRun) describe('password reset on real ext4 root filesystems', () => it.skip(skipReason, () => {}));
