/**
 * The mount session offers the LVs of mapped PV partitions like partitions: a GPT disk whose PV
 * partition holds a VG lvm2 wrote (vgtest/root with an ext4, vgtest/data empty), opened in the app
 * over the fake kernel with each backend; the LV map is made on mount through lv-run (a dm map over
 * the PV partition's map, or with the loop backend a loop with offset and size), mounted, and taken
 * away before the partition maps when the session ends.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDmBackend } from '../../src/engine/backends/dm.js';
import { createLoopBackend } from '../../src/engine/backends/loop.js';
import { LV_LOOP_MARKER, LV_UUID_PREFIX } from '../../src/engine/stack/lv-map.js';
import { createTuiEngine } from '../../src/tui/engine.js';
import { FakeMachine } from '../support/fake-machine.js';
import { canMakeDisks, disksSkipReason, makeStackDisks, type StackDisks } from '../support/stack-images.js';
import { expectFits, keys, startApp } from './helpers.js';

describe.skipIf(!canMakeDisks)(`LVs in the mount session (${disksSkipReason})`, () => {
  let disks: StackDisks;
  let scratch: string;
  beforeAll(() => {
    disks = makeStackDisks();
  }, 120_000);
  afterAll(() => disks?.cleanup());
  beforeEach(() => {
    scratch = mkdtempSync(join(tmpdir(), 'kpt-lv-session-'));
  });
  afterEach(() => rmSync(scratch, { recursive: true, force: true }));

  const engineOver = (machine: FakeMachine, kind: 'dm' | 'loop') =>
    createTuiEngine({
      machine,
      isRoot: true,
      cwd: disks.dir,
      mountRoot: join(scratch, 'mnt'),
      backend: (_kind, m) => (kind === 'dm' ? createDmBackend(m) : createLoopBackend(m)),
    });

  async function openSession(t: ReturnType<typeof startApp>) {
    await t.waitFor('vgtest/root');
    await t.press('r', 'read-only off');
    await t.press('a', /Create 3 maps\?/);
    await t.press('y', /created and confirmed|Failed/);
    await t.press(keys.enter, 'gpt table');
    await t.press('m', 'Mount read-only: yes');
  }

  it('with device-mapper: the LV is offered, mapped on mount over the PV map, and removed first', async () => {
    if (!disks.lvm) return;
    const kernel = new FakeMachine({ dmMajor: 250 });
    const t = startApp(engineOver(kernel, 'dm'), [disks.raw]);
    await openSession(t);
    const frame = t.frame();
    expect(frame).toMatch(/loop0p3-vgtest-root +12(\.0)? MiB +ext4 "lvroot" +\/dev\/mapper\/loop0p3-vgtest-/);
    expect(frame).toMatch(/loop0p3-vgtest-data +8(\.0)? MiB/);
    // The PV partition itself is explained, not offered.
    expect(frame).toMatch(
      /loop0p3 LVM2_member — LVM physical volume of vgtest: its logical volumes are\s+listed with the maps/,
    );
    expectFits(frame);
    // Down past the ESP and the root partition to the LV.
    await t.press(keys.down);
    await t.press(keys.down);
    await t.press(keys.enter, 'Mounted /dev/mapper/loop0p3-vgtest-root (ext4, read-only, noexec)');
    const lvMap = kernel.dm?.list().find((m) => m.name === 'loop0p3-vgtest-root');
    expect(lvMap?.uuid.startsWith(LV_UUID_PREFIX)).toBe(true);
    const p3 = kernel.dm?.list().find((m) => m.name === 'loop0p3');
    expect(kernel.dm?.table('loop0p3-vgtest-root')[0]?.params).toMatch(
      new RegExp(`^${p3!.devno.major}:${p3!.devno.minor} \\d+$`),
    );
    expect(kernel.mounts.list().map((m) => m.target)).toEqual([join(scratch, 'mnt', 'loop0p3-vgtest-root')]);
    // Unmount, remove: the LV map goes with the unmount, then the partition maps.
    await t.press('x', 'map(s) removed');
    await t.press(keys.enter, 'Clean: disk.img has no maps left');
    expect(kernel.mounts.list()).toEqual([]);
    expect(kernel.dm?.list()).toEqual([]);
    expect(kernel.loop.list()).toEqual([]);
    t.app.unmount();
  });

  it('with the loop backend: a linear LV becomes an offset loop over the PV partition loop', async () => {
    if (!disks.lvm) return;
    const kernel = new FakeMachine({ dm: false });
    const t = startApp(engineOver(kernel, 'loop'), [disks.raw]);
    await openSession(t);
    await t.press(keys.down);
    await t.press(keys.down);
    await t.press(keys.enter, /Mounted \/dev\/mapper\/loop0p3-vgtest-root \(ext4, read-only/);
    const lvLoop = kernel.loop.list().find((l) => l.name?.startsWith(LV_LOOP_MARKER));
    const p3 = kernel.loop.list().find((l) => l.path === lvLoop?.backingFile);
    expect(p3).toBeDefined();
    expect(lvLoop?.sizeLimit).toBe(12 * 1024 * 1024);
    await t.press('x', 'map(s) removed');
    await t.press(keys.enter, 'Clean: disk.img has no maps left');
    expect(kernel.mounts.list()).toEqual([]);
    expect(kernel.loop.list()).toEqual([]);
    t.app.unmount();
  });

  it('a clean-up of a mounted LV unmounts it and removes its map before the partition maps', async () => {
    if (!disks.lvm) return;
    const kernel = new FakeMachine({ dmMajor: 250 });
    const engine = engineOver(kernel, 'dm');
    const t = startApp(engine, [disks.raw]);
    await openSession(t);
    await t.press(keys.down);
    await t.press(keys.down);
    await t.press(keys.enter, 'Mounted /dev/mapper/loop0p3-vgtest-root');
    t.app.unmount();
    const said: string[] = [];
    const options = {
      readOnly: false,
      delimiter: null,
      forceGpt: false,
      sync: true,
      backend: 'auto' as const,
    };
    const outcome = await engine.tearDown(disks.raw, options, (e) => said.push(`${e.type} ${e.name}`));
    expect(outcome.ok).toBe(true);
    const lvGone = said.indexOf('removed loop0p3-vgtest-root');
    expect(lvGone).toBeGreaterThan(said.indexOf('note unmount loop0p3-vgtest-root'));
    expect(lvGone).toBeLessThan(said.indexOf('removed loop0p3'));
    expect(kernel.dm?.list()).toEqual([]);
    expect(kernel.mounts.list()).toEqual([]);
  });
});
