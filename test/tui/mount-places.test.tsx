/**
 * The mount session as an admin uses it on a guest disk, over the real engine adapter and the fake
 * kernel: content the probe does not know is mounted as a type picked from the kernel's list
 * (options checked, a failure said with the kernel's reason and nothing left), and several
 * filesystems are mounted at once (the root, then its /boot inside it, at a mountpoint shown and
 * edited first), taken down nested first.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDmBackend } from '../../src/engine/backends/dm.js';
import { createTuiEngine } from '../../src/tui/engine.js';
import type { LeaveResult } from '../../src/tui/leaving.js';
import { FakeMachine } from '../support/fake-machine.js';
import { expectFits, keys, startApp } from './helpers.js';
import { sampleImage } from './images.js';

const IMAGE = '/img/disk.img';
const SIZE = { columns: 140, rows: 30 };
let scratch: string;
let mnt: string;
let kernel: FakeMachine;

beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), 'kpartx-tui-places-'));
  mnt = join(scratch, 'mnt');
  kernel = new FakeMachine({ dmMajor: 250, filesystems: ['btrfs', 'ext4', 'squashfs', 'xfs'] });
  // p1 ext4 "root"; p5 (a swap partition type) and p6 hold zeros: content the probe does not know.
  kernel.addFile(IMAGE, sampleImage());
});
afterEach(() => rmSync(scratch, { recursive: true, force: true }));

function start(onLeave?: (result: LeaveResult) => void) {
  const shells: string[] = [];
  const engine = createTuiEngine({
    machine: kernel,
    isRoot: true,
    mountRoot: mnt,
    cwd: scratch,
    home: scratch,
    backend: (_kind, k) => createDmBackend(k),
  });
  // Wide enough for the scratch directory's long paths in full.
  const t = startApp(engine, [IMAGE], {
    size: SIZE,
    terminal: { runShell: (cwd) => shells.push(cwd) },
    ...(onLeave ? { onLeave } : {}),
  });
  return { ...t, shells };
}

async function openSession(t: ReturnType<typeof startApp>) {
  await t.waitFor('dos table');
  // Direct mode: a failed attempt must leave a writable map writable, which these cases check.
  await t.press('r', 'read-only off');
  await t.press('a', 'Create 4 maps?');
  await t.press('y', 'created and confirmed');
  await t.press(keys.enter, 'dos table');
  await t.press('m', 'Mount read-only: yes');
}

const mountCalls = () => kernel.calls.filter((c) => c.startsWith('mount ') || c.startsWith('unmount '));
const backspaces = (n: number) => keys.backspace.repeat(n);

describe('content the probe does not recognise', () => {
  it('is offered, asks for one of the kernel types and options, says the kernel reason on failure', async () => {
    const t = start();
    await openSession(t);
    await t.press(keys.down + keys.down, /❯ loop0p6 .*\(unknown\)/);
    expect(t.frame()).toContain(`Mount on: ${mnt}/loop0p6 (o changes)`);
    await t.press(keys.enter, 'which filesystem? This kernel mounts:');
    // The kernel's own list (vfat is not in it), the cursor on ext4.
    for (const type of ['btrfs', 'ext4', 'squashfs', 'xfs'])
      expect(t.frame()).toMatch(new RegExp(`^. ?${type}$`, 'm'));
    expect(t.frame()).not.toContain('vfat');
    expect(t.frame()).toMatch(/❯ ext4/);
    expectFits(t.frame(), SIZE);
    await t.press(keys.down, /❯ squashfs/);
    await t.press(keys.up, /❯ ext4/);
    await t.press(keys.enter, 'as ext4 · options are added to nosuid,nodev,noexec');
    // An option that would undo noexec is refused before any mount call.
    await t.press('exec');
    await t.press(keys.enter, 'option exec: it would undo noexec');
    expect(mountCalls()).toEqual([]);
    // The kernel refuses: its reason is said and nothing is left mounted or made.
    kernel.failOn('mount', { nth: 1, code: 'EINVAL', device: '/dev/mapper/loop0p6' });
    await t.press(`${backspaces(4)}errors=continue`, 'Options: errors=continue');
    await t.press(keys.enter, /cannot mount \/dev\/mapper\/loop0p6 as ext4: .*Invalid argument/);
    expect(kernel.mounts.list()).toEqual([]);
    expect(existsSync(join(mnt, 'loop0p6'))).toBe(false);
    expect(kernel.blockDevice('/dev/mapper/loop0p6').readOnly).toBe(false);
    // Esc goes back to the types: another one is tried.
    await t.press(keys.escape, 'which filesystem?');
    await t.press(keys.down, /❯ squashfs/);
    await t.press(keys.enter, 'as squashfs');
    await t.press(keys.enter, 'Mounted /dev/mapper/loop0p6 (squashfs, read-only, noexec)');
    // The options typed stay with the mount being prepared.
    expect(kernel.calls).toContain(`mount /dev/mapper/loop0p6 ${mnt}/loop0p6 -o errors=continue`);
    expect(kernel.mounts.list()[0]).toMatchObject({ fstype: 'squashfs', options: 'ro,nosuid,nodev,noexec' });
    await t.press('x', 'map(s) removed');
    await t.press(keys.enter, 'Clean: disk.img has no maps left');
    t.app.unmount();
  });

  it('passes the options typed after the ones a read-only mount needs', async () => {
    const t = start();
    await openSession(t);
    await t.press(keys.down + keys.down, /❯ loop0p6/);
    await t.press(keys.enter, 'which filesystem?');
    await t.press(keys.enter, 'as ext4');
    await t.press('errors=continue,nosuid', 'Options: errors=continue,nosuid');
    await t.press(keys.enter, 'Mounted /dev/mapper/loop0p6 (ext4, read-only, noexec)');
    expect(kernel.calls.at(-1)).toBe(`mount /dev/mapper/loop0p6 ${mnt}/loop0p6 -o noload,errors=continue`);
    t.app.unmount();
  });
});

describe('several mounts, at places chosen before mounting', () => {
  /** Mount the root (p1), then p6 at <root>/boot; returns the two mountpoints. */
  async function rootThenBoot(t: ReturnType<typeof start>) {
    await openSession(t);
    await t.press(keys.enter, 'Mounted /dev/mapper/loop0p1 (ext4, read-only, noexec)');
    const root = join(mnt, 'loop0p1');
    // The guest's own /boot directory, in the mounted root.
    mkdirSync(join(root, 'boot'));
    await t.press('m', `Mounted: /dev/mapper/loop0p1 on ${root} (ext4, read-only)`);
    await t.press(keys.down + keys.down, /❯ loop0p6/);
    await t.press('o', `Mount on: ${mnt}/loop0p6`);
    // A place that is not there in the root is refused: nothing is made inside a mounted filesystem.
    await t.press(`${backspaces('loop0p6'.length)}loop0p1/nothere`, `Mount on: ${mnt}/loop0p1/nothere`);
    await t.press(keys.enter, 'which filesystem?');
    await t.press(keys.enter, 'as ext4');
    await t.press(keys.enter, /nothere does not exist in the filesystem mounted on/);
    expect(existsSync(join(root, 'nothere'))).toBe(false);
    expect(kernel.mounts.list()).toHaveLength(1);
    await t.press(keys.escape, 'which filesystem?');
    await t.press(keys.escape, 'Mount on:');
    // Tab completes the directory inside the root.
    await t.press(`${backspaces('nothere'.length)}bo`, `Mount on: ${root}/bo`);
    await t.press('\t', `Mount on: ${root}/boot/`);
    await t.press(keys.enter, 'which filesystem?');
    await t.press(keys.enter, 'as ext4');
    await t.press(keys.enter, 'Also mounted: /dev/mapper/loop0p6 on');
    const boot = join(root, 'boot');
    expect(t.frame()).toContain(`Mounted /dev/mapper/loop0p1 (ext4, read-only, noexec)`);
    expect(t.frame()).toContain(`Also mounted: /dev/mapper/loop0p6 on ${boot} (ext4, read-only)`);
    expect(kernel.mounts.list().map((m) => m.target)).toEqual([root, boot]);
    expectFits(t.frame(), SIZE);
    return { root, boot };
  }

  it('mounts /boot inside the root, opens the shell in the root, unmounts nested first and cleans up', async () => {
    const t = start();
    const { root, boot } = await rootThenBoot(t);
    await t.press('s', 'Back from the shell');
    expect(t.shells).toEqual([root]);
    // The root cannot be remounted read-write under its /boot: said, nothing changed.
    await t.press('w', `${boot} is mounted inside it: unmount that first (u)`);
    expect(kernel.mounts.list().map((m) => m.target)).toEqual([root, boot]);
    // u takes the newest: /boot; the guest's boot/ directory stays.
    await t.press('u', `unmounted ${boot}`);
    expect(kernel.mounts.list().map((m) => m.target)).toEqual([root]);
    expect(existsSync(boot)).toBe(true);
    expect(t.frame()).not.toContain('Also mounted');
    // Mounted again, then x takes both down, nested first, and unmaps.
    await t.press('m', 'Mounted: ');
    await t.press(keys.down + keys.down, /❯ loop0p6/);
    await t.press('o', 'Mount on:');
    await t.press(`${backspaces('loop0p6'.length)}loop0p1/boot`);
    await t.press(keys.enter, 'which filesystem?');
    await t.press(keys.enter, 'as ext4');
    await t.press(keys.enter, 'Also mounted');
    kernel.calls.length = 0;
    await t.press('x', 'map(s) removed');
    await t.press(keys.enter, 'Clean: disk.img has no maps left');
    expect(mountCalls()).toEqual([`unmount ${boot}`, `unmount ${root}`]);
    expect(kernel.mounts.list()).toEqual([]);
    expect(kernel.dm?.list()).toEqual([]);
    // The fake kernel mounts nothing: the boot/ made as the guest's is in the root's mountpoint
    // itself, which keeps it. The mountpoints themselves are never removed from inside a guest.
    expect(readdirSync(mnt)).toEqual(['loop0p1']);
    expect(readdirSync(root)).toEqual(['boot']);
    t.app.unmount();
  });

  it('leaving unmounts every mount, nested first, and says so', async () => {
    let left: LeaveResult | undefined;
    const t = start((result) => {
      left = result;
    });
    const { root, boot } = await rootThenBoot(t);
    kernel.calls.length = 0;
    await t.press('q');
    await t.waitFor(/.*/);
    await new Promise<void>((resolve, reject) => {
      const started = Date.now();
      const poll = () =>
        left ? resolve() : Date.now() - started > 5000 ? reject(new Error('no leave')) : setTimeout(poll, 10);
      poll();
    });
    expect(left?.status).toBe(0);
    expect(left?.lines.slice(0, 2)).toEqual([
      `kpartx-tui: unmounted /dev/mapper/loop0p6 from ${boot}`,
      `kpartx-tui: unmounted /dev/mapper/loop0p1 from ${root}`,
    ]);
    expect(mountCalls()).toEqual([`unmount ${boot}`, `unmount ${root}`]);
    expect(left?.lines.join('\n')).not.toContain('is mounted on');
    t.app.unmount();
  });

  it('Esc while picking another goes back to the mounts; a mounted map is not mounted twice', async () => {
    const t = start();
    await openSession(t);
    await t.press(keys.enter, 'Mounted /dev/mapper/loop0p1');
    await t.press('m', 'Mounted: /dev/mapper/loop0p1');
    await t.press(keys.enter, 'loop0p1 is already mounted on');
    expect(kernel.mounts.list()).toHaveLength(1);
    await t.press(keys.escape, 'Top of the tree:');
    t.app.unmount();
  });
});
