/**
 * The app started with several sources (`kpartx-tui a.img b.img`, lvm2's fixture images: a VG
 * `fixture-striped` whose two PVs are the whole of each image): the VG is assembled across both, as
 * `--json a.img b.img` does, so the layout of a.img shows it complete with the PV on b.img named by
 * its source; an LV with extents on b.img is mounted from a.img's session too: b.img's loop is
 * attached with a.img's (as `kpartx-tui mount a.img:VG/LV --with b.img` does), and u, x and leaving
 * take the mount, the LV map and both loops down again. An LV all on one image is mounted from the
 * session over that image's loop.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createDmBackend } from '../../src/engine/backends/dm.js';
import { createLoopBackend } from '../../src/engine/backends/loop.js';
import { createTuiEngine } from '../../src/tui/engine.js';
import { FakeMachine } from '../support/fake-machine.js';
import { lvmFixtureImage, lvmFixtureReports } from '../support/lvm-fixtures.js';
import { keys, startApp } from './helpers.js';

const MiB = 1024 * 1024;

/** `name` with an ext4 superblock's magic where lvm2 put the first extent of `lv` on it. */
function withExt4(name: 'striped-a' | 'striped-b', lv: string): Uint8Array {
  const image = new Uint8Array(lvmFixtureImage(name));
  const reports = lvmFixtureReports('striped');
  const row = reports.lvs.find((l) => l.lv_name === lv)!;
  const first = Number(new RegExp(`${name}:(\\d+)-`).exec(row.seg_pe_ranges!)![1]);
  const pv = reports.pvs.find((p) => p.pv_name === name)!;
  const at = (Number(pv.pe_start) + first * Number(reports.vgs[0]!.vg_extent_size)) * 512;
  const view = new DataView(image.buffer, image.byteOffset);
  view.setUint16(at + 1080, 0xef53, true);
  view.setUint32(at + 1048, 2, true);
  view.setUint32(at + 1028, 256, true);
  return image;
}

describe('a VG over several sources in the app', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kpt-lv-sources-app-'));
    // `stripes` begins with a chunk on a.img (a superblock there), `plain` is all on b.img.
    writeFileSync(join(dir, 'a.img'), withExt4('striped-a', 'stripes'));
    writeFileSync(join(dir, 'b.img'), withExt4('striped-b', 'plain'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const engineOver = (machine: FakeMachine) =>
    createTuiEngine({
      machine,
      isRoot: true,
      cwd: dir,
      mountRoot: join(dir, 'mnt'),
      backend: (_kind, m) => createDmBackend(m),
    });

  /** a.img's mount session, with its rows of LVs over both images. */
  async function aSession(kernel: FakeMachine, onLeave?: (lines: string[]) => void) {
    const engine = engineOver(kernel);
    const t = startApp(engine, ['a.img', 'b.img'], {
      size: { columns: 180, rows: 40 },
      ...(onLeave ? { onLeave: (result: { lines: string[] }) => onLeave(result.lines) } : {}),
    });
    await t.waitFor('b.img');
    await t.press(keys.enter, 'fixture-striped/stripes');
    await t.waitFor(/VG fixture-striped · 14 MiB · 9 MiB free · PVs on this disk, b\.img/);
    await t.press('m', 'Mount read-only: yes');
    await t.waitFor('LV map made on mount, with the PV on b.img');
    return { engine, t };
  }

  /** What the fake kernel holds now: loops (by image), dm maps, mounts. */
  const held = (kernel: FakeMachine) => ({
    loops: kernel.loop.list().map((l) => l.backingFile),
    maps: kernel.dm!.list().map((m) => m.name),
    mounts: kernel.mounts.list().map((m) => m.target),
  });
  const nothing = { loops: [], maps: [], mounts: [] };

  it('shows the VG complete on a.img, names b.img, and offers its LVs over both images', async () => {
    const kernel = new FakeMachine({ dmMajor: 250 });
    const { t } = await aSession(kernel);
    expect(t.frame()).not.toContain('missing');
    const frame = t.frame().replace(/\s+/g, ' ');
    expect(frame).toMatch(
      /fixture-striped\/stripes 4 MiB ext2 .* LV map made on mount, with the PV on b\.img/,
    );
    expect(frame).toMatch(/fixture-striped\/plain 1 MiB ext2 .* LV map made on mount, with the PV on b\.img/);
    expect(frame).not.toContain('kpartx-tui mount');
    // Nothing is attached to list them.
    expect(kernel.loop.list()).toEqual([]);
    // b.img, from the source list: the LV all on it is mounted over its loop alone.
    await t.press(keys.escape, 'a add');
    await t.press(keys.escape, 'a.img');
    await t.press(keys.down);
    await t.press(keys.enter, /VG fixture-striped · 14 MiB · 9 MiB free · PVs on this disk, a\.img/);
    await t.press('m', 'Mount read-only: yes');
    await t.waitFor('loop0-fixture--striped-plain');
    expect(t.frame().replace(/\s+/g, ' ')).toContain('LV map made on mount, with the PV on a.img');
    await t.press(keys.down);
    await t.press(keys.enter, 'Mounted /dev/mapper/loop0-fixture--striped-plain');
    expect(kernel.loop.list().map((l) => l.backingFile)).toEqual([join(dir, 'b.img')]);
    await t.press('u');
    await vi.waitFor(() => expect(kernel.loop.list()).toEqual([]));
    expect(kernel.dm!.list()).toEqual([]);
    t.app.unmount();
  });

  it('mounts the striped LV over both images, u takes it all down, and q after a second mount leaves nothing', async () => {
    const kernel = new FakeMachine({ dmMajor: 250 });
    const left: string[] = [];
    const { engine, t } = await aSession(kernel, (lines) => left.push(...lines));
    await t.press(keys.enter, /Mounted \/dev\/mapper\/loop0-fixture--striped-stripes \(ext4, read-only/);
    // Both images got their loop (read-only, as the write mode says); the LV map stripes over both.
    expect(kernel.loop.list().map((l) => [l.path, l.backingFile, l.readOnly])).toEqual([
      ['/dev/loop0', join(dir, 'a.img'), true],
      ['/dev/loop1', join(dir, 'b.img'), true],
    ]);
    expect(kernel.dm!.table('loop0-fixture--striped-stripes')).toEqual([
      { start: 0, length: 8192, type: 'striped', params: '2 128 7:0 2048 7:1 2048' },
    ]);
    expect(held(kernel).mounts).toEqual([join(dir, 'mnt', 'loop0-fixture--striped-stripes')]);
    // u: the mount, the LV map, then b.img's loop, then a.img's.
    kernel.calls.length = 0;
    await t.press('u');
    await vi.waitFor(() => expect(held(kernel)).toEqual(nothing));
    expect(
      kernel.calls
        .filter((c) => /^(loop\.detach|dm\.remove|unmount)/.test(c))
        .map((c) => c.split(' ').slice(0, 2).join(' ')),
    ).toEqual([
      `unmount ${join(dir, 'mnt', 'loop0-fixture--striped-stripes')}`,
      'dm.remove loop0-fixture--striped-stripes',
      'loop.detach /dev/loop1',
      'loop.detach /dev/loop0',
    ]);
    // Mounted again, then q: leaving takes the same way down, and names nothing left.
    await t.waitFor('LV map made on mount, with the PV on b.img');
    await t.press(keys.enter, /Mounted \/dev\/mapper\/loop0-fixture--striped-stripes/);
    expect(held(kernel).loops).toHaveLength(2);
    await t.press('q');
    await vi.waitFor(() =>
      expect(left.join('\n')).toContain('unmounted /dev/mapper/loop0-fixture--striped-stripes'),
    );
    expect(held(kernel)).toEqual(nothing);
    expect(left.join('\n')).not.toContain('still present');
    const options = { readOnly: true, backend: 'auto' as const, sync: true };
    expect(await engine.leftovers([join(dir, 'a.img'), join(dir, 'b.img')], options as never)).toEqual([]);
    t.app.unmount();
  });

  it('a failure part-way (the LV map refused) takes both loops back and says so', async () => {
    const kernel = new FakeMachine({ dmMajor: 250 });
    const { t } = await aSession(kernel);
    kernel.failOn('dm.create', { nth: 1 });
    await t.press(keys.enter);
    await vi.waitFor(() => expect(t.frame()).toMatch(/dm\.create failed/));
    expect(t.frame().replace(/\s+/g, ' ')).toMatch(
      /b\.img: the add was rolled back: nothing it made is left; .*a\.img: the add was rolled back/,
    );
    expect(held(kernel)).toEqual(nothing);
    // Picked again once the kernel agrees: it mounts, over both loops.
    await t.press(keys.enter, /Mounted \/dev\/mapper\/loop0-fixture--striped-stripes/);
    expect(held(kernel).loops).toEqual([join(dir, 'a.img'), join(dir, 'b.img')]);
    await t.press('u');
    await vi.waitFor(() => expect(held(kernel)).toEqual(nothing));
    t.app.unmount();
  });

  it("b.img's loop refused after a.img's was attached: a.img's is let go again", async () => {
    const kernel = new FakeMachine({ dmMajor: 250 });
    const { t } = await aSession(kernel);
    kernel.failOn('loop.attach', { nth: 2 });
    await t.press(keys.enter);
    await vi.waitFor(() => expect(t.frame()).toMatch(/error: .*b\.img/));
    expect(held(kernel)).toEqual(nothing);
    expect(kernel.calls.filter((c) => c.startsWith('loop.detach'))).toEqual(['loop.detach /dev/loop0']);
    t.app.unmount();
  });

  it('an unmount that fails on leaving names what stays on both images', async () => {
    const kernel = new FakeMachine({ dmMajor: 250 });
    const left: string[] = [];
    const { t } = await aSession(kernel, (lines) => left.push(...lines));
    await t.press(keys.enter, /Mounted \/dev\/mapper\/loop0-fixture--striped-stripes/);
    kernel.failOn('unmount');
    await t.press('q');
    await vi.waitFor(() => expect(left.join('\n')).toContain('still present after leaving'));
    const text = left.join('\n');
    expect(text).toMatch(/a\.img: 1 LV map \(loop0-fixture--striped-stripes\), loop device \/dev\/loop0/);
    expect(text).toMatch(/b\.img: 1 LV map \(loop0-fixture--striped-stripes\), loop device \/dev\/loop1/);
    // Unmounted once, then each image's maps and loop.
    expect(text).toMatch(/to remove: umount \S+stripes && kpartx -d \S+a\.img && kpartx -d \S+b\.img$/);
    t.app.unmount();
  });

  it('a loop bound to a.img before the app is used as it is and left bound', async () => {
    const kernel = new FakeMachine({ dmMajor: 250 });
    const before = kernel.loop.attach(join(dir, 'a.img'), { readOnly: true });
    const { t } = await aSession(kernel);
    await t.press(keys.enter, /Mounted \/dev\/mapper\/loop0-fixture--striped-stripes/);
    expect(held(kernel).loops).toEqual([join(dir, 'a.img'), join(dir, 'b.img')]);
    await t.press('u');
    await vi.waitFor(() => expect(held(kernel).maps).toEqual([]));
    expect(kernel.loop.list().map((l) => l.path)).toEqual([before.path]);
    expect(held(kernel).mounts).toEqual([]);
    t.app.unmount();
  });

  it('with the loop backend the striped LV says it needs device-mapper; the one on b.img is an offset loop', async () => {
    const kernel = new FakeMachine({ dm: false });
    const engine = createTuiEngine({
      machine: kernel,
      isRoot: true,
      cwd: dir,
      mountRoot: join(dir, 'mnt'),
      backend: (_kind, m) => createLoopBackend(m),
    });
    const t = startApp(engine, ['a.img', 'b.img'], { size: { columns: 180, rows: 40 } });
    await t.waitFor('b.img');
    await t.press(keys.enter, 'fixture-striped/stripes');
    await t.press('m', 'Mount read-only: yes');
    await t.waitFor('LV map made on mount, with the PV on b.img');
    const frame = t.frame().replace(/\s+/g, ' ');
    expect(frame).toContain(
      'Not mounted here: fixture-striped/stripes ext2 — lv striped map of 1 target (needs device-mapper)',
    );
    expect(frame).not.toContain('kpartx-tui mount');
    await t.press(keys.enter, /Mounted \/dev\/mapper\/loop1-fixture--striped-plain \(ext4/);
    const lvLoop = kernel.loop.list().find((l) => l.backingFile === '/dev/loop1')!;
    expect(lvLoop.offset).toBeGreaterThan(0);
    await t.press('u');
    await vi.waitFor(() => expect(kernel.loop.list()).toEqual([]));
    expect(kernel.mounts.list()).toEqual([]);
    t.app.unmount();
  });

  it("x on a.img takes the mount, the LV map and both images' loops down", async () => {
    const kernel = new FakeMachine({ dmMajor: 250 });
    const { t } = await aSession(kernel);
    await t.press(keys.down);
    await t.press(keys.enter, /Mounted \/dev\/mapper\/loop1-fixture--striped-plain \(ext4/);
    expect(held(kernel).loops).toEqual([join(dir, 'a.img'), join(dir, 'b.img')]);
    await t.press('x');
    await vi.waitFor(() => expect(held(kernel)).toEqual(nothing));
    t.app.unmount();
  });

  it("b.img's PV in an MBR partition: its partition map is made and taken down with its loop", async () => {
    const b = withExt4('striped-b', 'plain');
    const disk = new Uint8Array(MiB + b.length);
    disk.set(b, MiB);
    // One MBR entry, type 8e (Linux LVM), from sector 2048 over the whole of striped-b.
    const entry = new DataView(disk.buffer, 446, 16);
    entry.setUint8(4, 0x8e);
    entry.setUint32(8, MiB / 512, true);
    entry.setUint32(12, b.length / 512, true);
    disk[510] = 0x55;
    disk[511] = 0xaa;
    writeFileSync(join(dir, 'b-mbr.img'), disk);
    const kernel = new FakeMachine({ dmMajor: 250 });
    const t = startApp(engineOver(kernel), ['a.img', 'b-mbr.img'], { size: { columns: 180, rows: 40 } });
    await t.waitFor('b-mbr.img');
    await t.press(keys.enter, 'fixture-striped/stripes');
    await t.press('m', 'Mount read-only: yes');
    await t.waitFor('LV map made on mount, with the PV on b-mbr.img');
    await t.press(keys.enter, /Mounted \/dev\/mapper\/loop0-fixture--striped-stripes \(ext4, read-only/);
    expect(held(kernel).loops).toEqual([join(dir, 'a.img'), join(dir, 'b-mbr.img')]);
    const part = kernel.dm!.list().find((m) => m.name !== 'loop0-fixture--striped-stripes')!;
    expect(part.name).toBe('loop1p1');
    expect(kernel.dm!.table('loop0-fixture--striped-stripes')).toEqual([
      { start: 0, length: 8192, type: 'striped', params: `2 128 7:0 2048 250:${part.devno.minor} 2048` },
    ]);
    kernel.calls.length = 0;
    await t.press('u');
    await vi.waitFor(() => expect(held(kernel)).toEqual(nothing));
    expect(
      kernel.calls
        .filter((c) => /^(loop\.detach|dm\.remove|unmount)/.test(c))
        .map((c) => c.split(' ').slice(0, 2).join(' ')),
    ).toEqual([
      `unmount ${join(dir, 'mnt', 'loop0-fixture--striped-stripes')}`,
      'dm.remove loop0-fixture--striped-stripes',
      'dm.remove loop1p1',
      'loop.detach /dev/loop1',
      'loop.detach /dev/loop0',
    ]);
    t.app.unmount();
  });
});
