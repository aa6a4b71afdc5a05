/**
 * A data disk `pvcreate`d whole (lvm2's fixture image, no partition table) in the app: the layout
 * shows its VG and LVs, the note points at the mount session (and `kpartx-tui mount IMAGE:VG/LV`)
 * instead of the host's vgchange, and the session mounts an LV over the image's loop (attached for
 * it, read-only unless the write mode allows writes) and takes both down again, LV map first.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createDmBackend } from '../../src/engine/backends/dm.js';
import { createLoopBackend } from '../../src/engine/backends/loop.js';
import { LV_LOOP_MARKER, LV_UUID_PREFIX } from '../../src/engine/stack/lv-map.js';
import { createTuiEngine } from '../../src/tui/engine.js';
import { leftoverLines } from '../../src/tui/leaving.js';
import { FakeMachine } from '../support/fake-machine.js';
import { lvmFixtureImage, lvmFixtureReports } from '../support/lvm-fixtures.js';
import { expectFits, keys, startApp } from './helpers.js';

/** Where lvm2 put the first extent of `lv` on the linear fixture (bytes), from its recorded report. */
function lvStart(lv: string): number {
  const reports = lvmFixtureReports('linear');
  const row = reports.lvs.find((l) => l.lv_name === lv)!;
  const [, pv, first] = /^(\S+):(\d+)-/.exec(row.seg_pe_ranges!)!;
  const pvRow = reports.pvs.find((p) => p.pv_name === pv)!;
  return (Number(pvRow.pe_start) + Number(first) * Number(reports.vgs[0]!.vg_extent_size)) * 512;
}

/** The linear fixture with an ext4 superblock's magic at the start of `home` (where lvm2 put it). */
function withExt4OnHome(): Uint8Array {
  const image = new Uint8Array(lvmFixtureImage('linear'));
  const view = new DataView(image.buffer, image.byteOffset);
  const at = lvStart('home');
  view.setUint16(at + 1080, 0xef53, true);
  view.setUint32(at + 1048, 2, true); // 4 KiB blocks
  view.setUint32(at + 1028, 256, true);
  return image;
}

describe('a whole-disk PV in the app', () => {
  let dir: string;
  let image: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kpt-lv-whole-'));
    image = join(dir, 'data.img');
    writeFileSync(image, withExt4OnHome());
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const options = { readOnly: true, delimiter: null, forceGpt: false, sync: true, backend: 'auto' as const };

  it('shows the VG and its LVs, and points at the mount session and kpartx-tui mount IMAGE:VG/LV', async () => {
    const engine = createTuiEngine({
      machine: new FakeMachine(),
      isRoot: true,
      cwd: dir,
      backend: (_kind, m) => createDmBackend(m),
    });
    const t = startApp(engine, [image], { size: { columns: 160, rows: 40 } });
    await t.waitFor('fixture-linear/home');
    const frame = t.frame().replace(/\s+/g, ' ');
    expect(frame).toContain('VG fixture-linear');
    expect(frame).toContain(
      'No partition table: the whole disk is a PV of fixture-linear (below); its logical volumes are mounted from the mount session (m)',
    );
    const looked = await engine.inspect(image, options);
    expect(looked?.layout.note).toBe(
      `No partition table: the whole disk is a PV of fixture-linear (below); its logical volumes are mounted from the mount session (m), or with \`kpartx-tui mount ${image}:fixture-linear/LV\``,
    );
    expect(frame).not.toContain('vgchange');
    t.app.unmount();
  });

  const engineOver = (machine: FakeMachine, kind: 'dm' | 'loop') =>
    createTuiEngine({
      machine,
      isRoot: true,
      cwd: dir,
      mountRoot: join(dir, 'mnt'),
      backend: (_kind, m) => (kind === 'dm' ? createDmBackend(m) : createLoopBackend(m)),
    });

  it('with device-mapper: m offers its LVs; one is mounted over the loop attached for it, then all goes', async () => {
    const kernel = new FakeMachine({ dmMajor: 250 });
    const engine = engineOver(kernel, 'dm');
    const t = startApp(engine, [image], { size: { columns: 160, rows: 40 } });
    await t.waitFor('fixture-linear/home');
    await t.press('m', 'Mount read-only: yes');
    await t.waitFor('loop0-fixture--linear-home');
    const frame = t.frame();
    expect(frame).toMatch(/loop0-fixture--linear-home +1(\.0)? MiB +ext2/);
    // Down past root-lv and swap-1 to home.
    await t.press(keys.down);
    await t.press(keys.down);
    expectFits(frame, { columns: 160, rows: 40 });
    // Nothing is attached until an LV is picked.
    expect(kernel.loop.list()).toEqual([]);
    await t.press(
      keys.enter,
      /Mounted \/dev\/mapper\/loop0-fixture--linear-home \(ext\d, read-only, noexec\)/,
    );
    // No lvm2 rule on this fake host: nothing to warn about.
    expect(t.frame()).not.toContain('warning:');
    const [loop] = kernel.loop.list();
    expect(loop).toMatchObject({ path: '/dev/loop0', backingFile: image, readOnly: true });
    const map = kernel.dm!.list().find((m) => m.name === 'loop0-fixture--linear-home')!;
    expect(map.uuid.startsWith(LV_UUID_PREFIX)).toBe(true);
    expect(kernel.dm!.table(map.name)).toEqual([
      { start: 0, length: 2048, type: 'linear', params: `7:0 ${lvStart('home') / 512}` },
    ]);
    expect(kernel.mounts.list().map((m) => m.target)).toEqual([
      join(dir, 'mnt', 'loop0-fixture--linear-home'),
    ]);
    // Unmount in the session: the LV map, then the loop the app attached.
    kernel.calls.length = 0;
    await t.press('u');
    await vi.waitFor(() => expect(kernel.loop.list()).toEqual([]));
    expect(
      kernel.calls.filter((c) => /^(loop\.detach|dm\.remove|unmount)/.test(c)).map((c) => c.split(' ')[0]),
    ).toEqual(['unmount', 'dm.remove', 'loop.detach']);
    expect(kernel.dm!.list()).toEqual([]);
    expect(kernel.loop.list()).toEqual([]);
    expect(await engine.leftovers([image], options)).toEqual([]);
    t.app.unmount();
  });

  it("on a host whose lvm2 activates new PVs, the mounted LV warns that the image's loop shows it one", async () => {
    const rule = '/lib/udev/rules.d/69-lvm.rules';
    const kernel = new FakeMachine({ dmMajor: 250, lvmHost: { rule, eventActivation: true, udev: true } });
    const t = startApp(engineOver(kernel, 'dm'), [image], { size: { columns: 160, rows: 40 } });
    await t.waitFor('fixture-linear/home');
    await t.press('m', 'Mount read-only: yes');
    await t.waitFor('loop0-fixture--linear-home');
    await t.press(keys.down);
    await t.press(keys.down);
    await t.press(keys.enter, /Mounted \/dev\/mapper\/loop0-fixture--linear-home/);
    const frame = t.frame();
    expect(frame.replace(/\s+/g, ' ')).toContain(
      `warning: /dev/loop0 holds an LVM PV on the whole disk and is a loop device: the host's lvm2 (${rule}, event_activation=1) may activate its VG by itself`,
    );
    expectFits(frame, { columns: 160, rows: 40 });
    await t.press('u');
    await vi.waitFor(() => expect(kernel.loop.list()).toEqual([]));
    t.app.unmount();
  });

  it('with the loop backend the LV is an offset loop over the image loop; leaving takes both down', async () => {
    const kernel = new FakeMachine({ dm: false });
    const engine = engineOver(kernel, 'loop');
    const left: string[] = [];
    const t = startApp(engine, [image], {
      size: { columns: 160, rows: 40 },
      onLeave: (result) => left.push(...result.lines),
    });
    await t.waitFor('fixture-linear/home');
    await t.press('m', 'Mount read-only: yes');
    await t.waitFor('loop0-fixture--linear-home');
    // The LV of two runs is not offered: it says why.
    expect(t.frame().replace(/\s+/g, ' ')).toContain('2 separate runs on its PVs');
    await t.press(keys.down);
    await t.press(keys.enter, /Mounted \/dev\/mapper\/loop0-fixture--linear-home \(ext\d, read-only/);
    const lvLoop = kernel.loop.list().find((l) => l.name?.startsWith(LV_LOOP_MARKER))!;
    expect(lvLoop).toMatchObject({
      backingFile: '/dev/loop0',
      offset: lvStart('home'),
      sizeLimit: 1024 * 1024,
    });
    // What would stay if the app were killed now: named, with the command that removes it.
    const remaining = await engine.leftovers([image], options);
    expect(leftoverLines(remaining).join('\n')).toMatch(
      /1 LV map \(loop0-fixture--linear-home\), loop device \/dev\/loop0\n.*mounted on .*\n.*kpartx -d /,
    );
    // Leaving: q unmounts what the session mounted, its LV loop, then the image loop.
    await t.press('q');
    await vi.waitFor(() =>
      expect(left.join('\n')).toContain('unmounted /dev/mapper/loop0-fixture--linear-home'),
    );
    expect(left.join('\n')).not.toContain('still present');
    expect(kernel.loop.list()).toEqual([]);
    expect(kernel.mounts.list()).toEqual([]);
    expect(await engine.leftovers([image], options)).toEqual([]);
    t.app.unmount();
  });

  it('a loop bound before the app is left bound when the LV is unmounted', async () => {
    const kernel = new FakeMachine({ dmMajor: 250 });
    const before = kernel.loop.attach(image, { readOnly: false });
    const engine = engineOver(kernel, 'dm');
    const t = startApp(engine, [image], { size: { columns: 160, rows: 40 } });
    await t.waitFor('fixture-linear/home');
    await t.press('m', 'Mount read-only: yes');
    await t.waitFor('loop0-fixture--linear-home');
    await t.press(keys.down);
    await t.press(keys.down);
    await t.press(keys.enter, 'Mounted /dev/mapper/loop0-fixture--linear-home');
    await t.press('u');
    await vi.waitFor(() => expect(kernel.dm!.list()).toEqual([]));
    expect(kernel.loop.list().map((l) => l.path)).toEqual([before.path]);
    t.app.unmount();
    kernel.loop.detach(before.path);
  });

  it('x in the session unmounts the LV, removes its map, then lets go of the image loop', async () => {
    const kernel = new FakeMachine({ dmMajor: 250 });
    const t = startApp(engineOver(kernel, 'dm'), [image], { size: { columns: 160, rows: 40 } });
    await t.waitFor('fixture-linear/home');
    await t.press('m', 'Mount read-only: yes');
    await t.waitFor('loop0-fixture--linear-home');
    await t.press(keys.down);
    await t.press(keys.down);
    await t.press(keys.enter, 'Mounted /dev/mapper/loop0-fixture--linear-home');
    await t.press('x');
    await vi.waitFor(() => expect(kernel.loop.list()).toEqual([]));
    expect(kernel.dm!.list()).toEqual([]);
    expect(kernel.mounts.list()).toEqual([]);
    t.app.unmount();
  });

  it('in direct mode the image loop is attached writable, and the LV is mounted read-write when asked', async () => {
    const kernel = new FakeMachine({ dmMajor: 250 });
    const t = startApp(engineOver(kernel, 'dm'), [image], { size: { columns: 160, rows: 40 } });
    await t.waitFor('fixture-linear/home');
    await t.press('r', 'read-only off');
    await t.press('m', 'Mount read-only: yes');
    await t.press('r', 'Mount read-only: no');
    await t.waitFor('loop0-fixture--linear-home');
    await t.press(keys.down);
    await t.press(keys.down);
    await t.press(keys.enter, /Mounted \/dev\/mapper\/loop0-fixture--linear-home \(ext\d, read-write/);
    expect(kernel.loop.list()).toMatchObject([{ path: '/dev/loop0', readOnly: false }]);
    await t.press('u');
    await vi.waitFor(() => expect(kernel.loop.list()).toEqual([]));
    t.app.unmount();
  });
});
