/**
 * The add, delete and mount flows through the real engine adapter (table reader, planner,
 * device-mapper backend, session) over the in-memory fake kernel.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDmBackend } from '../../src/engine/backends/dm.js';
import { createTuiEngine } from '../../src/tui/engine.js';
import { FakeMachine } from '../support/fake-machine.js';
import { expectFits, keys, startApp } from './helpers.js';
import { dosImage, sampleImage } from './images.js';

const IMAGE = '/img/disk.img';
let scratch: string;
let kernel: FakeMachine;

beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), 'kpartx-tui-flows-'));
  // A dm major no real device on the host uses, so sysfs lookups find nothing of the host's.
  kernel = new FakeMachine({ dmMajor: 250 });
  kernel.addFile(IMAGE, sampleImage());
});
afterEach(() => rmSync(scratch, { recursive: true, force: true }));

function engine(isRoot = true) {
  return createTuiEngine({
    machine: kernel,
    isRoot,
    mountRoot: join(scratch, 'mnt'),
    cwd: scratch,
    backend: (kind, k) => {
      expect(kind).toBe('dm');
      return createDmBackend(k);
    },
  });
}

async function addAll(t: ReturnType<typeof startApp>) {
  await t.waitFor('dos table');
  await t.press('r', 'read-only off');
  await t.press('a', 'Create 4 maps?');
  await t.press('y', /created and confirmed|Failed/);
}

describe('layout over the real engine', () => {
  it('shows the DOS table with logical partitions under their extended parent', async () => {
    const t = startApp(engine(), [IMAGE]);
    // The first frame comes before content probing; the contents follow.
    await t.waitFor('ext4 "root"');
    const frame = t.frame();
    expect(frame).toMatch(/1 +2048 +22527 +20480 +10 MiB +Linux/);
    expect(frame).toMatch(/└5 +24576 +32767 +8192 +4 MiB +Linux swap/);
    expect(frame).toMatch(/└6 +34816 +51199 +16384 +8 MiB/);
    expect(frame).toContain('ext4 "root"');
    expect(frame).toContain('0 20480 linear 7:0 2048');
    expectFits(frame);
    t.app.unmount();
  });
});

describe('add', () => {
  it('creates every map, each confirmed against the kernel with its path and major:minor', async () => {
    const t = startApp(engine(), [IMAGE]);
    await addAll(t);
    const frame = t.frame();
    expect(frame).toMatch(/✓ loop0p1 +\/dev\/mapper\/loop0p1 250:0/);
    expect(frame).toContain('read back: 0 20480 linear 7:0 2048 · node present');
    expect(frame).toMatch(/✓ loop0p6 +\/dev\/mapper\/loop0p6 250:3/);
    expect(frame).toContain('4 map(s) created and confirmed against the kernel.');
    expectFits(frame);
    expect(kernel.dm?.list().map((m) => m.name)).toEqual(['loop0p1', 'loop0p2', 'loop0p5', 'loop0p6']);
    await t.press(keys.enter, /● 1 .*loop0p1/);
    t.app.unmount();
  });

  it('shows each map the moment it exists, while the next one is still being made', async () => {
    // The node of the second map is held back: the add cannot finish until the test lets it.
    let letSecondThrough = () => {};
    const secondHeld = new Promise<void>((done) => {
      letSecondThrough = done;
    });
    const created = kernel.nodes.created;
    kernel.nodes.created = async (name, devno, options) => {
      if (name === 'loop0p2') await secondHeld;
      return created(name, devno, options);
    };
    const live = createTuiEngine({
      machine: kernel,
      isRoot: true,
      mountRoot: join(scratch, 'mnt'),
      cwd: scratch,
      backend: (_kind, k) => createDmBackend(k),
    });
    const t = startApp(live, [IMAGE]);
    await t.waitFor('dos table');
    await t.press('r', 'read-only off');
    await t.press('a', 'Create 4 maps?');
    await t.press('y', /✓ loop0p1 +\/dev\/mapper\/loop0p1 250:0/);
    expect(t.frame()).toContain('read back: 0 20480 linear 7:0 2048 · node present');
    expect(t.frame()).not.toMatch(/loop0p5|created and confirmed/);
    expect(kernel.dm?.list().map((m) => m.name)).toEqual(['loop0p1', 'loop0p2']);
    letSecondThrough();
    await t.waitFor('4 map(s) created and confirmed against the kernel.');
    t.app.unmount();
  });

  it('shows a failure in place with the rollback that followed, and leaves nothing behind', async () => {
    kernel.failOn('dm.create', { device: 'loop0p5', code: 'EBUSY' });
    const t = startApp(engine(), [IMAGE]);
    await addAll(t);
    await t.waitFor('Failed');
    const frame = t.frame();
    expect(frame).toMatch(/✗ loop0p5/);
    expect(frame).toMatch(/↶ loop0p1/);
    expect(frame).toMatch(/↶ loop0p2/);
    expect(frame).toMatch(/rolled back [23] map/);
    expect(kernel.dm?.list()).toEqual([]);
    expect(kernel.loop.list()).toEqual([]);
    t.app.unmount();
  });

  it('honours read-only and the delimiter typed in the options', async () => {
    const t = startApp(engine(), [IMAGE]);
    await t.waitFor('dos table');
    await t.waitFor('read-only on');
    await t.press('p', 'Delimiter');
    await t.press('-part', 'loop0-part6');
    await t.press(keys.enter, "delim '-part'");
    await t.press('a', 'Create 4 maps read-only?');
    await t.press('y', 'created and confirmed');
    expect(kernel.dm?.list().map((m) => m.name)).toContain('loop0-part5');
    expect(kernel.dm?.info('loop0-part5')?.readOnly).toBe(true);
    t.app.unmount();
  });
});

describe('delete', () => {
  it('removes the free maps and explains the busy one by what holds it', async () => {
    const t = startApp(engine(), [IMAGE]);
    await addAll(t);
    kernel.mounts.mount('/dev/mapper/loop0p1', '/mnt/data', 'ext4', { readOnly: true });
    kernel.setOpenCount('loop0p1', 1);
    await t.press(keys.enter, 'dos table');
    await t.press('d', 'Remove 4 maps?');
    expect(t.frame()).toMatch(/loop0p1 .*busy: mounted on \/mnt\/data/);
    await t.press('y', 'busy, kept');
    const frame = t.frame();
    expect(frame).toMatch(/! loop0p1/);
    expect(frame).toContain('mounted on /mnt/data');
    expect(kernel.dm?.list().map((m) => m.name)).toEqual(['loop0p1']);
    t.app.unmount();
  });
});

describe('delete, busy without a mount', () => {
  it('names the loop bound over a map and the process holding another, before and after', async () => {
    const t = startApp(engine(), [IMAGE]);
    await addAll(t);
    const over = kernel.loop.attach('/dev/mapper/loop0p1', { readOnly: true });
    kernel.setOpenCount('loop0p6', 1);
    await t.press(keys.enter, 'dos table');
    await t.press('d', 'Remove 4 maps?');
    expect(t.frame()).toMatch(new RegExp(`loop0p1 .*busy: used by ${over.path}`));
    expect(t.frame()).toMatch(/loop0p6 .*busy: a process has it open/);
    await t.press('y', 'busy, kept');
    const frame = t.frame();
    expect(frame).toContain(`busy: used by ${over.path}`);
    expect(frame).toContain('busy: a process has it open (fuser -vm /dev/mapper/loop0p6 names it)');
    expect(kernel.dm?.list().map((m) => m.name)).toEqual(['loop0p1', 'loop0p6']);
    kernel.loop.detach(over.path);
    t.app.unmount();
  });
});

describe('not root', () => {
  it('browses, says which actions need root, and never touches the kernel', async () => {
    const t = startApp(engine(false), [IMAGE]);
    await t.waitFor('not root: browsing only');
    expect(t.frame()).toContain('add (root)');
    await t.press('a', 'Adding maps needs root');
    await t.press('d', 'Deleting maps needs root');
    await t.press('m', 'Mounting needs root');
    expect(kernel.calls).toEqual([]);
    t.app.unmount();
  });
});

describe('mount session', () => {
  it('mounts read-only, opens a shell there, then unmounts and unmaps to a confirmed clean state', async () => {
    const shells: string[] = [];
    const t = startApp(engine(), [IMAGE], { terminal: { runShell: (cwd) => shells.push(cwd) } });
    await addAll(t);
    await t.press(keys.enter, 'dos table');
    await t.press('m', 'Mount read-only: yes');
    expect(t.frame()).toContain('Programs may run: no (e toggles)');
    await t.press(keys.enter, 'Mounted /dev/mapper/loop0p1 (ext4, read-only, noexec)');
    expect(t.frame()).toContain(`on ${join(scratch, 'mnt', 'loop0p1')}`);
    // The writable map is made read-only under the read-only mount, and ext4 skips its journal.
    expect(kernel.calls.slice(-2)).toEqual([
      'blockdev --setro /dev/mapper/loop0p1',
      `mount /dev/mapper/loop0p1 ${join(scratch, 'mnt', 'loop0p1')} -o noload`,
    ]);
    expect(kernel.mounts.list()[0]?.options).toBe('ro,nosuid,nodev,noexec');
    expect(kernel.mounts.list().map((m) => m.target)).toEqual([join(scratch, 'mnt', 'loop0p1')]);
    await t.press('s', 'Back from the shell');
    expect(shells).toEqual([join(scratch, 'mnt', 'loop0p1')]);
    await t.press('x', 'map(s) removed');
    await t.press(keys.enter, 'Clean: disk.img has no maps left');
    expect(kernel.mounts.list()).toEqual([]);
    expect(kernel.dm?.list()).toEqual([]);
    expect(kernel.loop.list()).toEqual([]);
    t.app.unmount();
  });

  it('e lets programs run, r mounts read-write; the map is given back writable after unmounting', async () => {
    const t = startApp(engine(), [IMAGE]);
    await addAll(t);
    await t.press(keys.enter, 'dos table');
    await t.press('m', 'Programs may run: no');
    await t.press('e', 'Programs may run: yes');
    await t.press(keys.enter, 'Mounted /dev/mapper/loop0p1 (ext4, read-only, exec)');
    expect(kernel.mounts.list()[0]?.options).toBe('ro,nosuid,nodev');
    await t.press('u', 'unmounted');
    expect(kernel.calls.slice(-1)).toEqual(['blockdev --setrw /dev/mapper/loop0p1']);
    expect(kernel.blockDevice('/dev/mapper/loop0p1').readOnly).toBe(false);
    await t.press('r', 'Mount read-only: no');
    // Both choices are kept for the next mount.
    expect(t.frame()).toContain('Programs may run: yes');
    await t.press(keys.enter, 'Mounted /dev/mapper/loop0p1 (ext4, read-write, exec)');
    expect(kernel.calls.at(-1)).toBe(`mount /dev/mapper/loop0p1 ${join(scratch, 'mnt', 'loop0p1')}`);
    await t.press('x', 'map(s) removed');
    t.app.unmount();
  });
});

describe('what the app says after each step', () => {
  it('refuses to add with a forced dm backend on a kernel without it, before asking', async () => {
    const noDm = new FakeMachine({ dm: false });
    noDm.addFile(IMAGE, sampleImage());
    const t = startApp(
      createTuiEngine({ machine: noDm, isRoot: true, mountRoot: join(scratch, 'mnt'), cwd: scratch }),
      [IMAGE],
    );
    await t.waitFor('dos table');
    await t.press('b', 'backend dm');
    await t.press('a', 'Cannot add maps: device mapper prerequisites not met');
    expect(t.frame()).not.toContain('Create');
    expect(noDm.loop.list()).toEqual([]);
    t.app.unmount();
  });

  it('says maps that already exist were reloaded, not created', async () => {
    const t = startApp(engine(), [IMAGE]);
    await addAll(t);
    await t.press(keys.enter, 'dos table');
    await t.press('a', 'Create 4 maps?');
    await t.press('y', /already existed|created/);
    expect(t.frame()).toContain('4 map(s) already existed: reloaded and confirmed against the kernel.');
    t.app.unmount();
  });

  it('lists the maps to delete in partition order, p9 before p10', async () => {
    const logicals = Array.from({ length: 7 }, (_, i) => ({
      type: 0x83,
      start: 6144 + i * 4096,
      size: 2048,
    }));
    kernel.addFile('/img/many.img', dosImage(65536, [{ type: 0x05, start: 4096, size: 30720 }], logicals));
    const t = startApp(engine(), ['/img/many.img']);
    await t.waitFor('dos table');
    await t.press('r', 'read-only off');
    await t.press('a', 'Create 8 maps?');
    await t.press('y', 'created and confirmed');
    await t.press(keys.enter, 'dos table');
    await t.press('d', 'Remove 8 maps?');
    const names = t
      .frame()
      .split('\n')
      .map((line) => /\bloop0p(\d+)\b/.exec(line)?.[1])
      .filter((n) => n !== undefined)
      .map(Number);
    expect(names).toEqual([1, 5, 6, 7, 8, 9, 10, 11]);
    t.app.unmount();
  });

  it('"Back from the shell." goes once the session moves on', async () => {
    const t = startApp(engine(), [IMAGE]);
    await addAll(t);
    await t.press(keys.enter, 'dos table');
    await t.press('m', 'Mount read-only: yes');
    await t.press(keys.enter, 'Mounted /dev/mapper/loop0p1');
    await t.press('s', 'Back from the shell.');
    await t.press('u', 'unmounted');
    expect(t.frame()).not.toContain('Back from the shell');
    t.app.unmount();
  });
});

describe('read-only maps', () => {
  it('says before and after mounting why read-write was not possible', async () => {
    const t = startApp(engine(), [IMAGE]);
    await t.waitFor('dos table');
    await t.waitFor('r read-only on');
    await t.press('a', 'Create 4 maps read-only?');
    await t.press('y', 'created and confirmed');
    await t.press(keys.enter, 'dos table');
    await t.press('m', 'Mount read-only: yes');
    await t.press('r', 'Mount read-only: no');
    expect(t.frame()).toContain('loop0p1 is a read-only map: it will be mounted read-only.');
    await t.press(keys.enter, /Mounted \/dev\/mapper\/loop0p1 \(ext4, read-only/);
    await t.waitFor('read-only although read-write was chosen: the map loop0p1 is read-only');
    t.app.unmount();
  });
});
