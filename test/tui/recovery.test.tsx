/**
 * A run killed while its maps were mounted leaves maps, a mount and the image's loop behind. The
 * next run finds them when the source is opened, says so on the layout and in the mount session,
 * and takes them down in order (unmount, remove the maps, release the loop) after a
 * confirmation, naming what it had to keep and why. The real engine adapter over the fake kernel;
 * the "earlier run" is a second engine on the same kernel that is simply abandoned.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDmBackend } from '../../src/engine/backends/dm.js';
import { teardownLines } from '../../src/tui/components/Confirm.js';
import { sourceRow } from '../../src/tui/components/SourceList.js';
import { createTuiEngine } from '../../src/tui/engine.js';
import { DEFAULT_OPTIONS } from '../../src/tui/model.js';
import { FakeMachine } from '../support/fake-machine.js';
import { expectFits, keys, startApp } from './helpers.js';
import { sampleImage } from './images.js';

const IMAGE = '/img/disk.img';
let scratch: string;
let kernel: FakeMachine;

beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), 'kpartx-tui-recovery-'));
  kernel = new FakeMachine({ dmMajor: 250 });
  kernel.addFile(IMAGE, sampleImage());
});
afterEach(() => rmSync(scratch, { recursive: true, force: true }));

const engine = () =>
  createTuiEngine({
    machine: kernel,
    isRoot: true,
    mountRoot: join(scratch, 'mnt'),
    cwd: scratch,
    backend: (_kind, k) => createDmBackend(k),
  });

/** What a run killed in its mount session leaves: four maps, p1 mounted, the image's loop. */
async function earlierRun(): Promise<string> {
  const earlier = engine();
  const added = await earlier.add(IMAGE, DEFAULT_OPTIONS, () => {});
  expect(added.ok).toBe(true);
  const mounted = await earlier.mount('/dev/mapper/loop0p1', { readOnly: true, exec: false });
  return mounted.mountpoint;
}

describe('what an earlier run left', () => {
  it('is shown on the layout and cleaned up from there in order, after a confirmation', async () => {
    const mountpoint = await earlierRun();
    const t = startApp(engine(), [IMAGE]);
    await t.waitFor('Left from an earlier run (x cleans up): 4 maps, 1 mounted on /tmp/');
    expect(t.frame()).toContain('x clean');
    expectFits(t.frame());

    await t.press('x', /Unmount 1, remove 4 maps, release \/dev\/loop0\?/);
    const confirm = t.frame();
    expect(confirm).toContain(`unmount ${mountpoint} (loop0p1)`);
    expect(confirm).toContain('remove 4 maps: loop0p1 loop0p2 loop0p5 loop0p6');
    expect(confirm).toContain('release /dev/loop0 (attached by kpartx-tui)');
    // Nothing happens before the yes.
    expect(kernel.mounts.list()).toHaveLength(1);

    await t.press('y', '1 unmounted, 4 maps removed, loop released.');
    const done = t.frame();
    expect(done).toMatch(/✓ unmount loop0p1/);
    expect(done).toContain(`${mountpoint} unmounted`);
    expect(done).toMatch(/✓ loop0p6 +\/dev\/mapper\/loop0p6/);
    expect(done).toContain('/dev/loop0 released');
    expectFits(done);
    // In that order: unmount, maps, loop.
    const changes = kernel.calls.filter((c) => /^(unmount|dm\.remove|loop\.detach)/.test(c));
    expect(changes[0]).toBe(`unmount ${mountpoint}`);
    expect(changes.at(-1)).toBe('loop.detach /dev/loop0');
    expect(kernel.mounts.list()).toEqual([]);
    expect(kernel.dm?.list()).toEqual([]);
    expect(kernel.loop.list()).toEqual([]);
    expect(existsSync(mountpoint)).toBe(false);

    await t.press(keys.enter, 'dos table');
    expect(t.frame()).not.toContain('Left from an earlier run');
    t.app.unmount();
  });

  it('is not called an earlier run when this run made it', async () => {
    const t = startApp(engine(), [IMAGE]);
    await t.waitFor('dos table');
    await t.press('r', 'read-only off');
    await t.press('a', 'Create 4 maps?');
    await t.press('y', 'created and confirmed');
    await t.press(keys.enter, /● 1 .*loop0p1/);
    expect(t.frame()).not.toContain('earlier run');
    // It can still be cleaned up from the layout.
    await t.press('x', /Remove 4 maps, release \/dev\/loop0\?/);
    await t.press('n', 'dos table');
    t.app.unmount();
  });

  it('keeps what cannot go, says why, and leaves the rest done', async () => {
    const mountpoint = await earlierRun();
    kernel.failOn('unmount', { code: 'EBUSY' });
    // Wide enough for the whole reasons, each step on one line.
    const t = startApp(engine(), [IMAGE], { size: { columns: 240, rows: 30 } });
    await t.waitFor('Left from an earlier run');
    await t.press('x', 'Unmount 1');
    await t.press('y', /3 maps removed; kept: /);
    const frame = t.frame();
    expect(frame).toMatch(
      new RegExp(`✗ unmount loop0p1 .*cannot unmount ${mountpoint}: .*Device or resource busy`),
    );
    expect(frame).toMatch(new RegExp(`! loop0p1 .*busy: mounted on ${mountpoint}`));
    expect(frame).toMatch(/! loop0 .*kept: still used by 1 map/);
    expect(frame).toContain(
      `3 maps removed; kept: mount ${mountpoint}, loop0p1, /dev/loop0 (why: see above)`,
    );
    expect(kernel.mounts.list().map((m) => m.target)).toEqual([mountpoint]);
    expect(kernel.dm?.list().map((m) => m.name)).toEqual(['loop0p1']);
    expect(kernel.loop.list().map((l) => l.path)).toEqual(['/dev/loop0']);
    t.app.unmount();
  });

  it('in the mount session: an earlier mount is taken over, and x cleans everything up', async () => {
    const mountpoint = await earlierRun();
    const t = startApp(engine(), [IMAGE], { size: { columns: 160, rows: 24 } });
    await t.waitFor('Left from an earlier run');
    await t.press('m', 'Mount read-only: yes');
    expect(t.frame()).toMatch(new RegExp(`loop0p1 .* mounted on ${mountpoint}`));
    expect(t.frame()).toContain('x unmount + unmap all');
    await t.press(keys.enter, 'Mounted /dev/mapper/loop0p1 (ext4, read-only, noexec)');
    expect(t.frame()).toContain('was already mounted on');
    expect(t.frame()).toContain('taken over');
    await t.press('x', /Unmount 1, remove 4 maps, release \/dev\/loop0\?/);
    await t.press('y', '1 unmounted, 4 maps removed, loop released.');
    await t.press(keys.enter, 'Clean: disk.img has no maps left and nothing of it is mounted.');
    expect(kernel.mounts.list()).toEqual([]);
    expect(kernel.dm?.list()).toEqual([]);
    expect(kernel.loop.list()).toEqual([]);
    t.app.unmount();
  });

  it('in the mount session: u unmounts a mount taken over, and the list says so', async () => {
    const mountpoint = await earlierRun();
    const t = startApp(engine(), [IMAGE], { size: { columns: 160, rows: 24 } });
    await t.waitFor('Left from an earlier run');
    await t.press('m', /loop0p1 .* mounted on /);
    await t.press(keys.enter, 'taken over');
    await t.press('u', 'unmounted');
    await t.waitFor(/❯ loop0p1 +10 MiB .* 250:0 *\n/);
    expect(t.frame()).not.toMatch(/MiB +mounted on/);
    expect(kernel.mounts.list()).toEqual([]);
    expect(existsSync(mountpoint)).toBe(false);
    t.app.unmount();
  });

  it('a "no" goes back to the mount session it was asked from', async () => {
    await earlierRun();
    const t = startApp(engine(), [IMAGE]);
    await t.waitFor('Left from an earlier run');
    await t.press('m', 'Mount read-only: yes');
    await t.press('x', 'Unmount 1');
    await t.press(keys.escape, 'Mount read-only: yes');
    expect(kernel.mounts.list()).toHaveLength(1);
    t.app.unmount();
  });

  it('a loop an earlier run attached with no maps on it is shown and released', async () => {
    kernel.loop.attach(IMAGE, { readOnly: false, name: `kpartx-tui:image:${IMAGE}` });
    const t = startApp(engine(), [IMAGE]);
    await t.waitFor('Left from an earlier run (x cleans up): /dev/loop0 attached, no maps');
    await t.press('x', /Release \/dev\/loop0\?/);
    await t.press('y', '0 maps removed, loop released.');
    expect(kernel.loop.list()).toEqual([]);
    t.app.unmount();
  });
});

describe('how leftovers read', () => {
  const entry = {
    path: '/work/disk.img',
    name: 'disk.img',
    kind: 'image' as const,
    sizeBytes: 48 << 20,
    what: 'gpt',
    partitioned: true,
    mappedBy: ['loop0'],
  };

  it('the source list row keeps the whole leftovers text at 80 columns', () => {
    expect(sourceRow(entry, 78)).toMatch(/^disk\.img +image +48 MiB +gpt +mapped: loop0$/);
    expect(sourceRow({ ...entry, leftovers: '2 maps, 1 mounted' }, 78)).toBe(
      'disk.img         image     48 MiB  gpt earlier run left: 2 maps, 1 mounted',
    );
  });

  it('the confirmation lists the steps in the order they run, and what it keeps', () => {
    const remains = {
      maps: ['loop0p1', 'loop0p2'],
      mounts: [{ map: 'loop0p1', mountpoint: '/mnt/a' }],
      loop: { path: '/dev/loop0', ours: false },
      earlier: null,
    };
    expect(teardownLines(remains, 80)).toEqual([
      'In this order:',
      '  unmount /mnt/a (loop0p1)',
      '  remove 2 maps: loop0p1 loop0p2',
      '  keep /dev/loop0: not attached by kpartx-tui (losetup -d releases it)',
    ]);
  });
});
