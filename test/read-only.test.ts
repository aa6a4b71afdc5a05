/**
 * Read-only means read-only, down to the device: a read-only mount sits on a read-only device and
 * tells the filesystem not to replay its journal, and maps over a read-only parent are read-only.
 * The logic on the fake kernel; then dirty ext4, xfs and btrfs images (copied while mounted) through
 * the loop backend and the session on real loop devices, whose checksum must not change.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MapEvent, ParentDevice } from '../src/engine/backend.js';
import { createDmBackend } from '../src/engine/backends/dm.js';
import { createLoopBackend } from '../src/engine/backends/loop.js';
import { noReplayOptions } from '../src/engine/mount-options.js';
import { createSession, SessionError } from '../src/engine/session.js';
import { createMachine } from '../src/kernel/machine.js';
import { runCli } from './cli-helpers.js';
import {
  attachParent,
  buildImage,
  canUseLoop,
  cleanupLoops,
  loopSkipReason,
  losetupLines,
  plan,
} from './loop-helpers.js';
import {
  type DirtyType,
  helloFor,
  makeDirtyImage,
  plainReadOnlyMountWrites,
  sha256File,
} from './support/dirty-fs.js';
import { FakeMachine } from './support/fake-machine.js';

describe('the options that keep a read-only mount from replaying a journal', () => {
  it('names the option of each journaling type, both btrfs spellings, nothing for the others', () => {
    expect(noReplayOptions('ext4')).toEqual(['noload']);
    expect(noReplayOptions('ext3')).toEqual(['noload']);
    expect(noReplayOptions('xfs')).toEqual(['norecovery']);
    expect(noReplayOptions('btrfs')).toEqual(['rescue=nologreplay', 'nologreplay']);
    for (const type of ['vfat', 'exfat', 'ntfs3', 'iso9660', 'squashfs', 'ext2']) {
      expect(noReplayOptions(type)).toEqual(['']);
    }
  });
});

describe('read-only mounts on the fake kernel', () => {
  const U = 'devnode_7:0_Wh5pYvM';
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync('/tmp/kpartx-tui-ro-fake-');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A fake kernel with `/dev/mapper/loop0p1`, writable unless `readOnly`. */
  async function withMap(readOnly = false) {
    const kernel = new FakeMachine();
    kernel.addFile('/img/disk.img', new Uint8Array(65536 * 512));
    kernel.loop.attach('/img/disk.img', { readOnly: false });
    const table = [{ start: 0, length: 16384, type: 'linear', params: '7:0 2048' }];
    await kernel.dm!.create('loop0p1', `part1-${U}`, table, { readOnly });
    kernel.calls.length = 0;
    const mountRoot = mkdtempSync(join(dir, 'mnt-'));
    return {
      kernel,
      session: createSession(kernel, { mountRoot }),
      device: '/dev/mapper/loop0p1',
      mountRoot,
    };
  }

  it('makes a writable map read-only for a read-only mount, with noload, and writable again after', async () => {
    const { kernel, session, device, mountRoot } = await withMap();
    const mounted = session.mount({ name: 'loop0p1', device, readOnly: true, fstype: 'ext4' });
    expect(mounted).toMatchObject({ readOnly: true, exec: false, mountpoint: `${mountRoot}/loop0p1` });
    expect(kernel.calls).toEqual([
      `blockdev --setro ${device}`,
      `mount ${device} ${mountRoot}/loop0p1 -o noload`,
    ]);
    expect(kernel.blockDevice(device).readOnly).toBe(true);
    expect(kernel.mounts.list()[0]!.options).toBe('ro,nosuid,nodev,noexec');
    session.unmount(mounted.mountpoint);
    expect(kernel.calls.slice(2)).toEqual([`unmount ${mountRoot}/loop0p1`, `blockdev --setrw ${device}`]);
    expect(kernel.blockDevice(device).readOnly).toBe(false);
  });

  it('gives the device back even when another session unmounts (the app opens one per action)', async () => {
    const { kernel, session, device, mountRoot } = await withMap();
    const mounted = session.mount({ name: 'loop0p1', device, readOnly: true, fstype: 'xfs' });
    expect(kernel.calls[1]).toBe(`mount ${device} ${mountRoot}/loop0p1 -o norecovery`);
    createSession(kernel, { mountRoot }).unmount(mounted.mountpoint);
    expect(kernel.blockDevice(device).readOnly).toBe(false);
  });

  it('leaves a read-only map as it is: no BLKROSET, nothing to restore', async () => {
    const { kernel, session, device } = await withMap(true);
    // Asked for read-write, a read-only map still mounts read-only, without replay.
    const mounted = session.mount({ name: 'loop0p1', device, readOnly: false, fstype: 'ext4' });
    expect(mounted.readOnly).toBe(true);
    session.unmount(mounted.mountpoint);
    expect(kernel.calls.filter((call) => call.startsWith('blockdev'))).toEqual([]);
    expect(kernel.calls[0]).toMatch(/ -o noload$/);
    expect(kernel.blockDevice(device).readOnly).toBe(true);
  });

  it('a read-write mount replays as usual and changes nothing on the device', async () => {
    const { kernel, session, device, mountRoot } = await withMap();
    const mounted = session.mount({ name: 'loop0p1', device, readOnly: false, fstype: 'ext4' });
    expect(kernel.calls).toEqual([`mount ${device} ${mountRoot}/loop0p1`]);
    expect(kernel.mounts.list()[0]!.options).toBe('rw,nosuid,nodev,noexec');
    session.unmount(mounted.mountpoint);
  });

  it('exec is off unless asked for, and shows in what is mounted', async () => {
    const { kernel, session, device } = await withMap();
    const mounted = session.mount({ name: 'loop0p1', device, readOnly: true, exec: true, fstype: 'ext4' });
    expect(mounted.exec).toBe(true);
    expect(kernel.mounts.list()[0]!.options).toBe('ro,nosuid,nodev');
    const maps = [{ name: 'loop0p1', path: device, devno: mounted.devno }];
    expect(session.listMounted(maps)).toEqual([mounted]);
    session.unmount(mounted.mountpoint);
  });

  it('a failed mount makes the device writable again and leaves no directory', async () => {
    const { kernel, session, device, mountRoot } = await withMap();
    kernel.failOn('mount', { code: 'EIO' });
    expect(() => session.mount({ name: 'loop0p1', device, readOnly: true, fstype: 'ext4' })).toThrow(
      new SessionError(
        `loop0p1: cannot mount ${device} as ext4: ${device}: mount failed: Input/output error`,
      ),
    );
    expect(kernel.calls).toEqual([`blockdev --setro ${device}`, `blockdev --setrw ${device}`]);
    expect(kernel.blockDevice(device).readOnly).toBe(false);
    expect(existsSync(`${mountRoot}/loop0p1`)).toBe(false);
  });

  it('btrfs: an unknown option (EINVAL) is retried with the spelling older kernels know', async () => {
    const { kernel, session, device, mountRoot } = await withMap();
    kernel.failOn('mount', { nth: 1, code: 'EINVAL' });
    const mounted = session.mount({ name: 'loop0p1', device, readOnly: true, fstype: 'btrfs' });
    expect(kernel.calls).toEqual([
      `blockdev --setro ${device}`,
      `mount ${device} ${mountRoot}/loop0p1 -o nologreplay`,
    ]);
    session.unmount(mounted.mountpoint);
    expect(kernel.blockDevice(device).readOnly).toBe(false);
  });

  it('says when a device it made read-only cannot be made writable again', async () => {
    const { kernel, session, device, mountRoot } = await withMap();
    const mounted = session.mount({ name: 'loop0p1', device, readOnly: true, fstype: 'ext4' });
    kernel.failOn('setReadOnly', { code: 'EIO' });
    expect(() => session.unmount(mounted.mountpoint)).toThrow(
      `unmounted ${mountRoot}/loop0p1, but ${device} stays read-only: ${device}: setReadOnly failed: Input/output error`,
    );
    expect(kernel.mounts.list()).toEqual([]);
    expect(existsSync(mounted.mountpoint)).toBe(false);
  });
});

describe('maps over a read-only parent on the fake kernel (dm backend)', () => {
  const U = 'devnode_7:0_Wh5pYvM';
  const maps = [1, 2].map((number) => ({
    number,
    name: `loop0p${number}`,
    dmName: `loop0p${number}`,
    kernelName: `loop0p${number}`,
    uuid: `part${number}-${U}`,
    start: number * 4096,
    size: 4096,
    contained: false,
    readOnly: false,
  }));
  const parent: ParentDevice = {
    path: '/dev/loop0',
    devno: { major: 7, minor: 0 },
    sizeSectors: 65536,
    logicalSectorSize: 512,
    uuid: U,
    mapName: 'loop0',
  };

  async function addOver(prepare: (kernel: FakeMachine) => void) {
    const kernel = new FakeMachine();
    kernel.addFile('/img/disk.img', new Uint8Array(65536 * 512));
    prepare(kernel);
    const backend = createDmBackend(kernel);
    const events: MapEvent[] = [];
    // The request asks for writable maps, as for `kpartx -a /dev/loop0` without -r.
    const result = await backend.add(
      { parent, maps, readOnly: false, sync: true },
      (e) => void events.push(e),
    );
    return { kernel, result, events };
  }

  it('a read-only loop (losetup -r) gives read-only maps', async () => {
    const { kernel, result } = await addOver((k) => void k.loop.attach('/img/disk.img', { readOnly: true }));
    expect(result.failures).toBe(0);
    expect(kernel.calls.filter((call) => call.startsWith('dm.create'))).toEqual([
      'dm.create loop0p1 ro',
      'dm.create loop0p2 ro',
    ]);
  });

  it('a writable loop made read-only with BLKROSET gives read-only maps', async () => {
    const { kernel, result } = await addOver((k) => {
      k.loop.attach('/img/disk.img', { readOnly: false });
      k.setReadOnly('/dev/loop0', true);
    });
    expect(result.failures).toBe(0);
    expect(kernel.dm!.info('loop0p1')?.readOnly).toBe(true);
    expect(kernel.dm!.info('loop0p2')?.readOnly).toBe(true);
  });

  it('a writable parent still gives writable maps', async () => {
    const { kernel } = await addOver((k) => void k.loop.attach('/img/disk.img', { readOnly: false }));
    expect(kernel.dm!.info('loop0p1')?.readOnly).toBe(false);
  });
});

if (!canUseLoop) console.warn(`read-only tests on real loop devices: ${loopSkipReason}`);

const has = (tool: string): boolean => {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

const mountsType = (type: string): boolean => {
  try {
    return readFileSync('/proc/filesystems', 'utf8')
      .split('\n')
      .some((line) => line.endsWith(`\t${type}`));
  } catch {
    return false;
  }
};

describe.skipIf(!canUseLoop)('read-only on real loop devices (loop backend)', () => {
  const kernel = createMachine();
  const backend = createLoopBackend(kernel);
  let dir: string;
  let mountRoot: string;

  beforeAll(() => {
    dir = mkdtempSync('/tmp/kpartx-tui-ro-');
    mountRoot = join(dir, 'mnt');
    mkdirSync(mountRoot);
  });
  /**
   * Unmount what a failed test left under `dir` (btrfs mounts carry no device number to find them
   * by), through a session, so that a map it made read-only is made writable again: the flag
   * would outlive the loop's binding.
   */
  function unmountUnder(): void {
    for (const entry of kernel.mounts.list().reverse()) {
      if (entry.target.startsWith(`${dir}/`)) createSession(kernel, { mountRoot }).unmount(entry.target);
    }
  }
  afterEach(() => {
    unmountUnder();
    cleanupLoops(kernel, dir);
  });
  afterAll(() => {
    unmountUnder();
    cleanupLoops(kernel, dir);
    expect(losetupLines(dir)).toEqual([]);
    for (const entry of kernel.mounts.list()) expect(entry.target.startsWith(dir)).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });

  const cases: [DirtyType, string][] = [
    ['ext4', 'mkfs.ext4'],
    ['xfs', 'mkfs.xfs'],
    ['btrfs', 'mkfs.btrfs'],
  ];
  for (const [type, tool] of cases) {
    const why = !has(tool) ? `${tool} missing` : !mountsType(type) ? `no ${type} in this kernel` : '';
    it.skipIf(why !== '')(
      `a dirty ${type} (copied while mounted) mounts read-only through the session: image unchanged${why ? ` (skipped: ${why})` : ''}`,
      async () => {
        const dirty = makeDirtyImage(dir, `dirty-${type}`, type);
        // The image really needs a replay: an ordinary read-only mount on a writable device writes.
        expect(plainReadOnlyMountWrites(dirty)).toBe(true);
        const before = sha256File(dirty.image);

        // As the app does it: open the image (a writable loop), add writable maps, mount read-only.
        const { parent } = attachParent(kernel, dirty.image);
        const maps = plan(dirty.image, parent);
        expect(await backend.add({ parent, maps, readOnly: false, sync: true }, () => {})).toEqual({
          failures: 0,
        });
        const device = `/dev/mapper/${maps[0]!.dmName}`;
        expect(kernel.blockDevice(device).readOnly).toBe(false);
        const session = createSession(kernel, { mountRoot });
        const mounted = session.mount({ name: maps[0]!.name, device, readOnly: true });
        expect(mounted.fstype).toBe(type);
        // The device under the mount is read-only (BLKROGET), and so is the mount.
        expect(kernel.blockDevice(device).readOnly).toBe(true);
        const entry = kernel.mounts.list().find((m) => m.target === mounted.mountpoint)!;
        expect(entry.options.split(',')).toEqual(expect.arrayContaining(['ro', 'nosuid', 'nodev', 'noexec']));
        expect(readFileSync(join(mounted.mountpoint, 'hello.txt'), 'utf8')).toBe(helloFor(type));
        session.unmount(mounted.mountpoint);
        expect(kernel.blockDevice(device).readOnly).toBe(false);

        expect(await backend.remove({ parent, force: false, sync: true }, () => {})).toEqual({ failures: 0 });
        kernel.loop.detach(parent.path);
        expect(losetupLines(dirty.image)).toEqual([]);
        expect(sha256File(dirty.image)).toBe(before);
        rmSync(dirty.image);
      },
      120_000,
    );
  }

  it('adding again while a map is mounted read-only keeps it: the BLKROSET belongs to the mount, not the map', async () => {
    const image = buildImage(dir, 'again.img', 'dos', [
      { line: '2048,16384,83', ext4: { number: 1, start: 2048, sizeKiB: 8192 } },
    ]);
    const { parent } = attachParent(kernel, image);
    const maps = plan(image, parent);
    const request = { parent, maps, readOnly: false, sync: true };
    expect(await backend.add(request, () => {})).toEqual({ failures: 0 });
    const device = `/dev/mapper/${maps[0]!.dmName}`;
    const session = createSession(kernel, { mountRoot });
    const mounted = session.mount({ name: maps[0]!.name, device, readOnly: true });
    expect(backend.existing(parent).map((m) => m.readOnly)).toEqual([false]);
    const events: MapEvent[] = [];
    expect(await backend.add(request, (e) => void events.push(e))).toEqual({ failures: 0 });
    expect(events.map((e) => e.type)).toEqual(['reloaded']);
    expect(kernel.blockDevice(device).readOnly).toBe(true);
    session.unmount(mounted.mountpoint);
    expect(kernel.blockDevice(device).readOnly).toBe(false);
    expect(await backend.remove({ parent, force: false, sync: true }, () => {})).toEqual({ failures: 0 });
  });

  it('a loop attached writable does not inherit a BLKROSET left on its index', () => {
    const image = join(dir, 'leftover.img');
    execFileSync('truncate', ['-s', '1M', image]);
    // The kernel hands out the lowest free index; another process may take it in between, so try
    // a few times to get the same index back.
    let checked = false;
    for (let attempt = 0; attempt < 5 && !checked; attempt++) {
      const first = kernel.loop.attach(image, { readOnly: false });
      kernel.setReadOnly(first.path, true);
      kernel.loop.detach(first.path);
      const second = kernel.loop.attach(image, { readOnly: false });
      try {
        if (second.index !== first.index) {
          execFileSync('blockdev', ['--setrw', first.path]);
          continue;
        }
        expect(kernel.blockDevice(second.path).readOnly).toBe(false);
        checked = true;
      } finally {
        kernel.loop.detach(second.path);
      }
    }
    expect(checked).toBe(true);
  });

  describe('maps over a read-only /dev/loopN given as the operand (kpartx -a --backend loop)', () => {
    const TWO_PARTS = [{ line: '2048,8192,83' }, { line: '10240,8192,83' }];

    async function addAndCheck(loop: string) {
      const added = await runCli(['-a', '--backend', 'loop', loop], { kernel, realBackends: true });
      expect(added).toMatchObject({ status: 0, stderr: '' });
      const name = loop.slice('/dev/'.length);
      for (const n of [1, 2]) {
        // BLKROGET on the map.
        expect(kernel.blockDevice(`/dev/mapper/${name}p${n}`).readOnly).toBe(true);
      }
      const removed = await runCli(['-d', '--backend', 'loop', loop], { kernel, realBackends: true });
      expect(removed.status).toBe(0);
    }

    it('losetup -r', async () => {
      const image = buildImage(dir, 'ro-parent.img', 'dos', TWO_PARTS, 16);
      const loop = execFileSync('losetup', ['--show', '-f', '-r', image], { encoding: 'utf8' }).trim();
      await addAndCheck(loop);
      execFileSync('losetup', ['-d', loop]);
      expect(losetupLines(image)).toEqual([]);
    });

    it('blockdev --setro on a writable loop', async () => {
      const image = buildImage(dir, 'setro-parent.img', 'dos', TWO_PARTS, 16);
      const loop = execFileSync('losetup', ['--show', '-f', image], { encoding: 'utf8' }).trim();
      execFileSync('blockdev', ['--setro', loop]);
      try {
        await addAndCheck(loop);
      } finally {
        // The flag outlives the binding: whoever gets this loop next must not find it read-only.
        execFileSync('blockdev', ['--setrw', loop]);
      }
      execFileSync('losetup', ['-d', loop]);
      expect(losetupLines(image)).toEqual([]);
    });
  });
});
