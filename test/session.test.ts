import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Machine as Kernel } from '../src/engine/machine.js';
import { unmountOrder } from '../src/engine/mountpoint.js';
import { createSession, probeFilesystem, SessionError, undoMount } from '../src/engine/session.js';
import {
  deferSignals,
  InterruptedError,
  onIdleSignal,
  operationRunning,
  raiseSignal,
} from '../src/engine/signals.js';
import { createMachine } from '../src/kernel/machine.js';
import { canUseLoop, cleanupLoops, loopSkipReason, losetupLines } from './loop-helpers.js';

const has = (tool: string): boolean => {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

describe('filesystem signatures (images made by the real mkfs tools)', () => {
  const dir = mkdtempSync('/tmp/kpartx-tui-fs-');
  const content = join(dir, 'content');
  mkdirSync(content);
  writeFileSync(join(content, 'f.txt'), 'x');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const blank = (name: string, mib: number): string => {
    const path = join(dir, name);
    writeFileSync(path, '');
    truncateSync(path, mib * 1024 * 1024);
    return path;
  };

  const cases: [string, string, string, (path: string) => void, number][] = [
    ['mkfs.ext2', 'ext2', 'ext4', (p) => execFileSync('mkfs.ext2', ['-q', '-F', p]), 8],
    ['mkfs.ext3', 'ext3', 'ext4', (p) => execFileSync('mkfs.ext3', ['-q', '-F', p]), 8],
    ['mkfs.ext4', 'ext4', 'ext4', (p) => execFileSync('mkfs.ext4', ['-q', '-F', p]), 8],
    ['mkfs.xfs', 'xfs', 'xfs', (p) => execFileSync('mkfs.xfs', ['-q', p]), 300],
    ['mkfs.btrfs', 'btrfs', 'btrfs', (p) => execFileSync('mkfs.btrfs', ['-q', p], { stdio: 'ignore' }), 128],
    ['mkfs.vfat', 'vfat', 'vfat', (p) => execFileSync('mkfs.vfat', [p], { stdio: 'ignore' }), 8],
    ['mkfs.vfat', 'vfat', 'vfat', (p) => execFileSync('mkfs.vfat', ['-F', '32', p], { stdio: 'ignore' }), 64],
    ['mkfs.exfat', 'exfat', 'exfat', (p) => execFileSync('mkfs.exfat', [p], { stdio: 'ignore' }), 8],
    [
      'mkntfs',
      'ntfs',
      'ntfs3',
      (p) => execFileSync('mkntfs', ['-q', '-F', '-Q', '-f', p], { stdio: 'ignore' }),
      8,
    ],
  ];
  for (const [tool, type, mountType, make, mib] of cases) {
    it.skipIf(!has(tool))(`${type} made by ${tool} (${mib} MiB)`, () => {
      const image = blank(`${tool}-${mib}.img`, mib);
      make(image);
      expect(probeFilesystem(image)).toEqual({ type, mountType });
    });
  }

  it.skipIf(!has('mksquashfs'))('squashfs', () => {
    const image = join(dir, 'sq.img');
    execFileSync('mksquashfs', [content, image, '-quiet', '-noappend'], { stdio: 'ignore' });
    expect(probeFilesystem(image)).toEqual({ type: 'squashfs', mountType: 'squashfs' });
  });

  it.skipIf(!has('genisoimage'))('iso9660', () => {
    const image = join(dir, 'cd.iso');
    execFileSync('genisoimage', ['-quiet', '-o', image, content], { stdio: 'ignore' });
    expect(probeFilesystem(image)).toEqual({ type: 'iso9660', mountType: 'iso9660' });
  });

  it('recognises nothing in zeros, in a short read, or in an ext journal device', () => {
    const file = (name: string, bytes: Buffer): string => {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      return path;
    };
    expect(probeFilesystem(file('zeros', Buffer.alloc(0x11000)))).toBeUndefined();
    expect(probeFilesystem(file('short', Buffer.alloc(100)))).toBeUndefined();
    const journal = Buffer.alloc(0x11000);
    journal.writeUInt16LE(0xef53, 1080);
    journal.writeUInt32LE(0x0008, 1120);
    journal.writeUInt32LE(2, 1048); // s_log_block_size: 4 KiB blocks
    expect(probeFilesystem(file('journal', journal))).toBeUndefined();
    // The same superblock without the journal-device flag is a filesystem to mount.
    journal.writeUInt32LE(0, 1120);
    expect(probeFilesystem(file('ext2', journal))).toEqual({ type: 'ext2', mountType: 'ext4' });
  });
});

// Signals reach a test only when it runs in its own process (Vitest's default "forks" pool).
const ownProcess = isMainThread;

describe.skipIf(!ownProcess)('signal deferral', () => {
  it('returns the result untouched when no signal came', async () => {
    let undone = false;
    await expect(
      deferSignals(
        () => 42,
        () => {
          undone = true;
          return 'undone';
        },
      ),
    ).resolves.toBe(42);
    expect(undone).toBe(false);
  });

  it('holds SIGINT during the work, then undoes it and reports 130 with what the undo says', async () => {
    const steps: string[] = [];
    const run = deferSignals(
      () => {
        process.kill(process.pid, 'SIGINT');
        steps.push('work finished');
        return 'made';
      },
      (made) => {
        steps.push(`undo ${made}`);
        return `${made} was taken back`;
      },
    );
    await expect(run).rejects.toMatchObject({
      name: 'InterruptedError',
      signal: 'SIGINT',
      exitCode: 130,
      message: 'interrupted by SIGINT; made was taken back',
    });
    expect(steps).toEqual(['work finished', 'undo made']);
  });

  it('holds SIGHUP too (a closed terminal): 129', async () => {
    const run = deferSignals(
      () => {
        process.kill(process.pid, 'SIGHUP');
        return 1;
      },
      () => 'nothing to take back',
    );
    await expect(run).rejects.toMatchObject({ signal: 'SIGHUP', exitCode: 129 });
  });

  it('takes the signals at the call, before the work starts, and gives them back after', async () => {
    const before = process.listenerCount('SIGTERM');
    const run = deferSignals(
      async () => {
        await new Promise((r) => setTimeout(r, 20));
        return 'done';
      },
      () => 'undone',
    );
    // Taken synchronously: a signal now would be held, not kill the process.
    expect(operationRunning()).toBe(true);
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    await run;
    expect(operationRunning()).toBe(false);
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });

  it('gives a signal that arrives while no operation runs to the idle receiver, newest first', async () => {
    const got: string[] = [];
    const stopOuter = onIdleSignal((signal) => got.push(`outer ${signal}`));
    const stopInner = onIdleSignal((signal) => got.push(`inner ${signal}`));
    process.kill(process.pid, 'SIGTERM');
    await vi.waitFor(() => expect(got).toEqual(['inner SIGTERM']));
    stopInner();
    raiseSignal('SIGHUP');
    expect(got).toEqual(['inner SIGTERM', 'outer SIGHUP']);
    // During an operation the operation holds it; the idle receiver hears nothing.
    await expect(
      deferSignals(
        () => {
          raiseSignal('SIGINT');
          return 0;
        },
        () => 'undone',
      ),
    ).rejects.toMatchObject({ signal: 'SIGINT' });
    expect(got).toEqual(['inner SIGTERM', 'outer SIGHUP']);
    stopOuter();
    expect(process.listenerCount('SIGHUP')).toBe(0);
  });
});

if (!canUseLoop) console.warn(`session mount tests: ${loopSkipReason}`);

describe.skipIf(!canUseLoop)('mount session on real loop devices', () => {
  const kernel = createMachine();
  let dir: string;
  let mountRoot: string;
  let device: string;
  let blankDevice: string;

  beforeAll(() => {
    dir = mkdtempSync('/tmp/kpartx-tui-session-');
    mountRoot = join(dir, 'mnt');
    const content = join(dir, 'content');
    mkdirSync(content);
    writeFileSync(join(content, 'hello.txt'), 'hello from ext4\n');
    const image = join(dir, 'fs.img');
    execFileSync('truncate', ['-s', '16M', image]);
    execFileSync('mkfs.ext4', ['-q', '-F', '-d', content, image]);
    device = kernel.loop.attach(image, { readOnly: false }).path;
    const zeros = join(dir, 'zeros.img');
    execFileSync('truncate', ['-s', '4M', zeros]);
    blankDevice = kernel.loop.attach(zeros, { readOnly: false }).path;
  });

  afterAll(() => {
    cleanupLoops(kernel, dir);
    for (const entry of kernel.mounts.list()) expect(entry.target.startsWith(dir)).toBe(false);
    expect(losetupLines(dir)).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('mounts under the session directory, lists, refuses a second mount, unmounts and tidies up', () => {
    const session = createSession(kernel, { mountRoot });
    const mounted = session.mount({ name: 'loop9p1', device, readOnly: false });
    expect(mounted).toMatchObject({
      name: 'loop9p1',
      device,
      mountpoint: `${mountRoot}/loop9p1`,
      fstype: 'ext4',
    });
    expect(readFileSync(join(mounted.mountpoint, 'hello.txt'), 'utf8')).toBe('hello from ext4\n');
    const entry = kernel.mounts.list().find((m) => m.target === mounted.mountpoint)!;
    expect(entry.options.split(',')).toEqual(expect.arrayContaining(['rw', 'nosuid', 'nodev']));

    const asMap = [{ name: 'loop9p1', path: device, devno: mounted.devno }];
    expect(session.listMounted(asMap)).toEqual([{ ...mounted, readOnly: false }]);
    expect(() => session.mount({ name: 'loop9p1', device, readOnly: false })).toThrow(
      `loop9p1 is already mounted on ${mounted.mountpoint}`,
    );

    session.unmount(mounted.mountpoint);
    expect(existsSync(mounted.mountpoint)).toBe(false);
    expect(session.listMounted(asMap)).toEqual([]);
    expect(() => session.unmount(mounted.mountpoint)).toThrow(`${mounted.mountpoint} is not mounted`);
  });

  it('mounts read-only on request and keeps a mountpoint it did not create', () => {
    const session = createSession(kernel, { mountRoot });
    const own = join(dir, 'mine');
    mkdirSync(own);
    const mounted = session.mount({ name: 'x', device, readOnly: true, mountpoint: own });
    expect(mounted.readOnly).toBe(true);
    expect(() => writeFileSync(join(own, 'new.txt'), 'x')).toThrow(/EROFS/);
    session.unmount(own);
    expect(existsSync(own)).toBe(true);
  });

  it('says clearly when there is no filesystem or the type is wrong, and leaves no directory', () => {
    const session = createSession(kernel, { mountRoot: join(dir, 'fresh', 'root') });
    expect(() => session.mount({ name: 'blank', device: blankDevice, readOnly: true })).toThrow(
      new SessionError(`blank: no filesystem recognised on ${blankDevice}; name its type`),
    );
    expect(() => session.mount({ name: 'wrong', device, readOnly: true, fstype: 'squashfs' })).toThrow(
      /^wrong: cannot mount \/dev\/loop\d+ as squashfs: /,
    );
    expect(existsSync(join(dir, 'fresh'))).toBe(false);
  });

  it.skipIf(!ownProcess)('an interrupted mount is unmounted again', async () => {
    const interrupting: Kernel = {
      ...kernel,
      mounts: {
        ...kernel.mounts,
        mount: (...args) => {
          process.kill(process.pid, 'SIGTERM');
          kernel.mounts.mount(...args);
        },
      },
    };
    const session = createSession(interrupting, { mountRoot });
    const error = await deferSignals(
      () => session.mount({ name: 'sig', device, readOnly: true }),
      (mounted) => undoMount(session, mounted),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InterruptedError);
    expect((error as InterruptedError).exitCode).toBe(143);
    expect(kernel.mounts.list().some((m) => m.target === `${mountRoot}/sig`)).toBe(false);
    expect(existsSync(`${mountRoot}/sig`)).toBe(false);
  });

  it('mounts a second filesystem inside the first only on a directory that is there, and adds options', () => {
    // A root holding boot/ and a symlink out of itself, and a second ext4 for its /boot.
    const rootContent = join(dir, 'root-content');
    mkdirSync(join(rootContent, 'boot'), { recursive: true });
    symlinkSync('/etc', join(rootContent, 'etc-link'));
    writeFileSync(join(rootContent, 'etc-file'), 'a file\n');
    const rootImage = join(dir, 'root.img');
    execFileSync('truncate', ['-s', '16M', rootImage]);
    execFileSync('mkfs.ext4', ['-q', '-F', '-d', rootContent, rootImage]);
    const rootDevice = kernel.loop.attach(rootImage, { readOnly: false }).path;
    const session = createSession(kernel, { mountRoot });
    const root = session.mount({
      name: 'root',
      device: rootDevice,
      readOnly: true,
      options: ['errors=continue'],
    });
    expect(root.mountpoint).toBe(`${mountRoot}/root`);
    // Nothing is made inside the mounted root, and no link in it is followed.
    for (const [inside, why] of [
      ['missing', 'missing does not exist in the filesystem mounted on'],
      ['etc-link', 'etc-link in the filesystem mounted on .* is or passes through a symbolic link'],
      ['etc-file', 'etc-file in the filesystem mounted on .* is not a directory'],
    ] as const) {
      expect(() =>
        session.mount({
          name: 'boot',
          device,
          readOnly: true,
          mountpoint: join(root.mountpoint, inside),
          nestedIn: root.mountpoint,
        }),
      ).toThrow(new RegExp(`^boot: not mounted: ${why}`));
    }
    expect(existsSync(join(root.mountpoint, 'missing'))).toBe(false);
    const boot = session.mount({
      name: 'boot',
      device,
      readOnly: true,
      mountpoint: join(root.mountpoint, 'boot'),
      nestedIn: root.mountpoint,
    });
    expect(readFileSync(join(boot.mountpoint, 'hello.txt'), 'utf8')).toBe('hello from ext4\n');
    // An option the filesystem does not know is the kernel's to refuse, and nothing is left.
    expect(() =>
      session.mount({
        name: 'bogus',
        device: blankDevice,
        readOnly: true,
        fstype: 'ext4',
        options: ['bogus_option'],
      }),
    ).toThrow(/^bogus: cannot mount \/dev\/loop\d+ as ext4: /);
    expect(existsSync(`${mountRoot}/bogus`)).toBe(false);
    // Nested first; the guest's own boot/ stays.
    expect(unmountOrder([root, boot]).map((m) => m.name)).toEqual(['boot', 'root']);
    expect(() => session.unmount(root.mountpoint)).toThrow(/cannot unmount .*busy/i);
    session.unmount(boot.mountpoint);
    expect(existsSync(boot.mountpoint)).toBe(true);
    session.unmount(root.mountpoint);
    expect(existsSync(root.mountpoint)).toBe(false);
  });
});
