/**
 * Overlay mode of `kpartx-tui mount`/`umount` on the fake machine, over real images (a GPT disk
 * made by sgdisk/mkfs and its qemu-img qcow2): the overlay is created with the image as its
 * backing file (format given), attached read-write through nbd and mapped; the image itself is
 * never connected. umount ends it after the nbd disconnect: --discard deletes it, --commit commits
 * then deletes it, neither keeps it and says how to end it (`kpartx-tui overlay commit`). Refusals
 * (no nbd, no qemu-utils, a block device, a taken path) come before anything is made; a failure or
 * SIGTERM part-way leaves no overlay, connection, map or mount.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackendKind } from '../src/engine/backend.js';
import { createDmBackend } from '../src/engine/backends/dm.js';
import { createLoopBackend } from '../src/engine/backends/loop.js';
import { InterruptedError } from '../src/engine/signals.js';
import { overlayProblem } from '../src/engine/workflow/overlay.js';
import { type MountFaceDeps, mountMain, mountSource, umountMain } from '../src/mount/main.js';
import { overlayMain } from '../src/mount/overlay-mount.js';
import { passwdMain } from '../src/mount/passwd.js';
import { FakeMachine, type FakeMachineOptions } from './support/fake-machine.js';
import { alpine319 } from './support/guest-trees.js';
import { canMakeDisks, disksSkipReason, makeStackDisks, type StackDisks } from './support/stack-images.js';
import { writeTree } from './support/write-tree.js';

describe.skipIf(!canMakeDisks)(`kpartx-tui mount --overlay (fake machine; ${disksSkipReason})`, () => {
  let disks: StackDisks;
  let qcow2: string;
  let dir: string;
  let savedRunDir: string | undefined;
  beforeAll(() => {
    disks = makeStackDisks();
    qcow2 = disks.convert('qcow2');
    dir = mkdtempSync('/tmp/kpt-overlay-fake-');
    savedRunDir = process.env.KPARTX_TUI_RUN_DIR;
    process.env.KPARTX_TUI_RUN_DIR = join(dir, 'run');
  }, 60_000);
  afterAll(() => {
    if (savedRunDir === undefined) delete process.env.KPARTX_TUI_RUN_DIR;
    else process.env.KPARTX_TUI_RUN_DIR = savedRunDir;
    rmSync(dir, { recursive: true, force: true });
    disks?.cleanup();
  });

  function setup(options: FakeMachineOptions = {}, hooks: { signalAt?: number } = {}) {
    const kernel = new FakeMachine({ nbd: true, ...options });
    const out = { stdout: '', stderr: '' };
    const deps: MountFaceDeps = {
      machine: kernel,
      makeBackend: (kind: BackendKind) =>
        kind === 'dm'
          ? createDmBackend(kernel, {
              afterMap: (map) => {
                if (map.number === hooks.signalAt) process.kill(process.pid, 'SIGTERM');
              },
            })
          : createLoopBackend(kernel),
      stdout: (text) => {
        out.stdout += text;
      },
      stderr: (text) => {
        out.stderr += text;
      },
      mountRoot: join(dir, 'mnt'),
    };
    /** qemu-img, qemu-nbd, maps, mounts and removals, in order. */
    const calls = () =>
      kernel.calls.filter((c) => /^(qemu-|dm\.create|dm\.remove|mount|unmount|rm )/.test(c));
    const nothingLeft = () => {
      expect(kernel.dm?.list() ?? []).toEqual([]);
      expect(kernel.loop.list()).toEqual([]);
      expect(kernel.mounts.list()).toEqual([]);
      expect(kernel.nbd.list()).toEqual([]);
    };
    return { kernel, deps, out, calls, nothingLeft };
  }

  it('mounts partition 2 of a qcow2 on an overlay beside it, read-write through nbd; --discard deletes it after the disconnect', async () => {
    const t = setup();
    const overlay = `${qcow2}.overlay.qcow2`;
    expect(await mountMain([`${qcow2}:2`, '--overlay', '--json'], t.deps)).toBe(0);
    const said = JSON.parse(t.out.stdout);
    expect(said).toMatchObject({ partition: 2, fstype: 'ext4', readOnly: false, overlay });
    expect(t.kernel.memoryFile(overlay)).toBeDefined();
    const mountedCalls = t.calls();
    expect(mountedCalls.slice(0, 2)).toEqual([
      `qemu-img create -f qcow2 -F qcow2 -b ${qcow2} ${overlay}`,
      `qemu-nbd --connect=/dev/nbd0 --format=qcow2 ${overlay}`,
    ]);
    // The image itself is never connected, and the map over the overlay is writable.
    expect(t.kernel.calls.some((c) => c.includes('qemu-nbd') && c.endsWith(` ${qcow2}`))).toBe(false);
    expect(t.kernel.dm!.info('nbd0p2')!.readOnly).toBe(false);
    expect(t.kernel.mounts.list()[0]!.options.split(',')).not.toContain('ro');

    t.out.stdout = '';
    expect(await umountMain([qcow2, '--discard', '--json'], t.deps)).toBe(0);
    expect(JSON.parse(t.out.stdout).overlay).toEqual({ path: overlay, image: qcow2, end: 'discard' });
    const after = t.calls().slice(mountedCalls.length);
    expect(after.map((c) => c.split(' ')[0])).toEqual(['unmount', 'dm.remove', 'qemu-nbd', 'rm']);
    expect(after.at(-1)).toBe(`rm ${overlay}`);
    expect(t.kernel.memoryFile(overlay)).toBeUndefined();
    t.nothingLeft();
  });

  it('--commit commits the overlay into the image once its nbd connection is gone, then deletes it', async () => {
    const t = setup();
    const record = await mountSource(`${qcow2}:2`, { rw: false, overlay: '' }, t.deps);
    expect(await umountMain([record.mountpoint, '--commit'], t.deps)).toBe(0);
    const calls = t.calls();
    const disconnect = calls.indexOf('qemu-nbd --disconnect /dev/nbd0');
    const commit = calls.indexOf(`qemu-img commit ${record.overlay!.path}`);
    expect(disconnect).toBeGreaterThan(0);
    expect(commit).toBeGreaterThan(disconnect);
    expect(calls.at(-1)).toBe(`rm ${record.overlay!.path}`);
    expect(t.out.stderr).toMatch(/committed the overlay .* into .*disk\.qcow2 and removed it/);
    t.nothingLeft();
  });

  it('umount without --commit or --discard keeps the overlay and says how to end it; `overlay commit` does later', async () => {
    const t = setup();
    const path = join(dir, 'kept.qcow2');
    const record = await mountSource(`${disks.raw}:2`, { rw: false, overlay: path }, t.deps);
    expect(record.overlay).toEqual({ path, image: disks.raw, format: 'raw' });
    expect(t.calls()[0]).toBe(`qemu-img create -f qcow2 -F raw -b ${disks.raw} ${path}`);
    // The image is found by its own path (the maps are on the overlay's nbd device).
    expect(await umountMain([disks.raw], t.deps)).toBe(0);
    t.nothingLeft();
    expect(t.kernel.memoryFile(path)).toBeDefined();
    expect(t.out.stderr).toContain(`the overlay ${path} is kept`);
    expect(t.out.stderr).toContain(`kpartx-tui overlay commit ${path}`);
    expect(t.out.stderr).toContain(`qemu-img commit ${path}`);

    const io = { stdout: '', stderr: '' };
    const face = {
      stdout: (s: string) => {
        io.stdout += s;
      },
      stderr: (s: string) => {
        io.stderr += s;
      },
    };
    expect(await overlayMain(['commit', path], face, t.kernel)).toBe(0);
    expect(io.stdout).toContain(`committed the overlay ${path} into ${disks.raw}`);
    expect(t.calls().slice(-2)).toEqual([`qemu-img commit ${path}`, `rm ${path}`]);
    // A file that is no overlay is never committed or deleted.
    expect(await overlayMain(['discard', disks.raw], face, t.kernel)).toBe(1);
    expect(io.stderr).toContain('not a qcow2 overlay');
    expect(await overlayMain(['discard', qcow2], face, t.kernel)).toBe(1);
    expect(io.stderr).toContain('without a backing file, not an overlay');
  });

  it('is refused before anything is made: no nbd, no qemu-utils, a block device, a taken path, --rw with it', async () => {
    const noNbd = setup({ nbd: false });
    expect(overlayProblem(noNbd.kernel, qcow2)).toMatch(/this kernel has no nbd/);
    expect(await mountMain([`${qcow2}:2`, '--overlay'], noNbd.deps)).toBe(1);
    expect(noNbd.out.stderr).toMatch(/^kpartx-tui mount: .*disk\.qcow2: overlay mode .* no nbd/);
    expect(noNbd.kernel.calls).toEqual([]);
    expect(noNbd.kernel.overlays.exists(`${qcow2}.overlay.qcow2`)).toBe(false);

    const noTools = setup({ qemuUtils: false });
    expect(await mountMain([`${disks.raw}:2`, '--overlay'], noTools.deps)).toBe(1);
    expect(noTools.out.stderr).toContain('apt install qemu-utils');
    expect(noTools.kernel.calls).toEqual([]);

    const device = setup();
    device.kernel.addDisk('/dev/sdz', disks.raw);
    expect(await mountMain(['/dev/sdz:2', '--overlay'], device.deps)).toBe(1);
    expect(device.out.stderr).toContain('overlay mode is for image files');

    const taken = setup();
    const path = join(dir, 'taken.qcow2');
    writeFileSync(path, 'mine');
    expect(await mountMain([`${qcow2}:2`, `--overlay=${path}`], taken.deps)).toBe(1);
    expect(taken.out.stderr).toContain(`${path} exists: commit or discard it first`);
    expect(taken.kernel.calls).toEqual([]);
    rmSync(path);

    const both = setup();
    expect(await mountMain([`${qcow2}:2`, '--rw', '--overlay'], both.deps)).toBe(2);
    expect(both.kernel.calls).toEqual([]);
  });

  it('a failed mount takes back the map and the connection and deletes the overlay it made', async () => {
    const t = setup();
    t.kernel.failOn('mount');
    const overlay = `${qcow2}.overlay.qcow2`;
    await expect(mountSource(`${qcow2}:2`, { rw: false, overlay: '' }, t.deps)).rejects.toThrow(
      `the overlay ${overlay} removed`,
    );
    expect(t.calls().at(-1)).toBe(`rm ${overlay}`);
    expect(t.kernel.memoryFile(overlay)).toBeUndefined();
    t.nothingLeft();
  });

  it('SIGTERM during the mount takes it all back: no map, no nbd connection, no overlay', async () => {
    const t = setup({}, { signalAt: 2 });
    const overlay = `${qcow2}.overlay.qcow2`;
    const error = await mountSource(`${qcow2}:2`, { rw: false, overlay: '' }, t.deps).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InterruptedError);
    expect((error as InterruptedError).exitCode).toBe(143);
    expect((error as Error).message).toContain(`the overlay ${overlay} removed`);
    expect(t.kernel.memoryFile(overlay)).toBeUndefined();
    t.nothingLeft();
  });

  it('an LV (vgtest/root) is mounted through the overlay the same way, and --discard takes it all back', async (ctx) => {
    if (!disks.lvm) return ctx.skip();
    const t = setup();
    const overlay = `${qcow2}.overlay.qcow2`;
    const record = await mountSource(`${qcow2}:vgtest/root`, { rw: false, overlay: '' }, t.deps);
    expect(record).toMatchObject({ source: `${qcow2}:vgtest/root`, readOnly: false, fstype: 'ext4' });
    expect(record.lv).toBeDefined();
    expect(t.calls()).toContain(`qemu-nbd --connect=/dev/nbd0 --format=qcow2 ${overlay}`);
    expect(await umountMain([qcow2, '--discard'], t.deps)).toBe(0);
    expect(t.kernel.memoryFile(overlay)).toBeUndefined();
    t.nothingLeft();
  });

  it('passwd --overlay writes the new line into an overlay and keeps it; refused before asking without nbd', async () => {
    const t = setup();
    // The fake mounts nothing real: the guest's root is laid out where the mount lands.
    writeTree(join(dir, 'mnt', 'nbd0p2'), alpine319().files);
    const asked: string[] = [];
    const status = await passwdMain([`${qcow2}:2`, 'alpine', '--overlay', '--json'], {
      ...t.deps,
      readPassword: async (user) => {
        asked.push(user);
        return 'n3w-Secret';
      },
    });
    expect(t.out.stderr).toBe('');
    expect(status).toBe(0);
    const overlay = `${qcow2}.overlay.qcow2`;
    expect(JSON.parse(t.out.stdout)).toMatchObject({ user: 'alpine', overlay });
    expect(readFileSync(join(dir, 'mnt', 'nbd0p2', 'etc', 'shadow'), 'utf8')).toMatch(/^alpine:\$6\$/m);
    // The look went through the image read-only, the write through the overlay, which stays.
    const connects = t.calls().filter((c) => c.startsWith('qemu-nbd --connect'));
    expect(connects).toEqual([
      `qemu-nbd --connect=/dev/nbd0 --format=qcow2 --read-only ${qcow2}`,
      `qemu-nbd --connect=/dev/nbd0 --format=qcow2 ${overlay}`,
    ]);
    expect(t.kernel.memoryFile(overlay)).toBeDefined();
    expect(t.calls()).not.toContain(`rm ${overlay}`);
    t.nothingLeft();
    rmSync(join(dir, 'mnt', 'nbd0p2'), { recursive: true });

    const refused = setup({ nbd: false });
    const status2 = await passwdMain([`${qcow2}:2`, 'alpine', '--overlay'], {
      ...refused.deps,
      readPassword: async (user) => {
        asked.push(user);
        return 'n3w-Secret';
      },
    });
    expect(status2).toBe(1);
    expect(refused.out.stderr).toMatch(/this kernel has no nbd/);
    expect(asked).toEqual(['alpine']);
    expect(refused.kernel.calls).toEqual([]);
  });

  it('--commit or --discard on a mount without an overlay is refused, and the mount stays', async () => {
    const t = setup();
    const record = await mountSource(`${qcow2}:2`, { rw: false }, t.deps);
    expect(await umountMain([record.mountpoint, '--commit'], t.deps)).toBe(1);
    expect(t.out.stderr).toContain('--commit is for a mount made with --overlay; this one wrote to nothing');
    expect(t.kernel.mounts.list()).toHaveLength(1);
    expect(await umountMain([record.mountpoint], t.deps)).toBe(0);
    t.nothingLeft();
  });
});
