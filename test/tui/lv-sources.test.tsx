/**
 * The app started with several sources (`kpartx-tui a.img b.img`, lvm2's fixture images: a VG
 * `fixture-striped` whose two PVs are the whole of each image): the VG is assembled across both, as
 * `--json a.img b.img` does, so the layout of a.img shows it complete with the PV on b.img named by
 * its source; an LV with extents on b.img says how `kpartx-tui mount … --with b.img` mounts it, and
 * an LV all on one image is mounted from the session over that image's loop.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createDmBackend } from '../../src/engine/backends/dm.js';
import { createTuiEngine } from '../../src/tui/engine.js';
import { FakeMachine } from '../support/fake-machine.js';
import { lvmFixtureImage, lvmFixtureReports } from '../support/lvm-fixtures.js';
import { keys, startApp } from './helpers.js';

/** striped-b with an ext4 superblock's magic where lvm2 put `plain`'s first extent. */
function bWithExt4(): Uint8Array {
  const image = new Uint8Array(lvmFixtureImage('striped-b'));
  const reports = lvmFixtureReports('striped');
  const row = reports.lvs.find((l) => l.lv_name === 'plain')!;
  const first = Number(/:(\d+)-/.exec(row.seg_pe_ranges!)![1]);
  const pv = reports.pvs.find((p) => p.pv_name === 'striped-b')!;
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
    writeFileSync(join(dir, 'a.img'), lvmFixtureImage('striped-a'));
    writeFileSync(join(dir, 'b.img'), bWithExt4());
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

  it('shows the VG complete on a.img, names b.img, and says how to mount an LV that spans both', async () => {
    const kernel = new FakeMachine({ dmMajor: 250 });
    const t = startApp(engineOver(kernel), ['a.img', 'b.img'], { size: { columns: 160, rows: 40 } });
    await t.waitFor('b.img');
    await t.press(keys.enter, 'fixture-striped/stripes');
    await t.waitFor(/VG fixture-striped · 14 MiB · 9 MiB free · PVs on this disk, b\.img/);
    expect(t.frame()).not.toContain('missing');
    await t.press('m', 'Mount read-only: yes');
    await t.waitFor('Not mounted here');
    const frame = t.frame().replace(/\s+/g, ' ');
    expect(frame).toContain(
      'fixture-striped/stripes — it uses a PV on another image (b.img): mount it with `kpartx-tui mount a.img:fixture-striped/stripes --with b.img`',
    );
    expect(frame).toContain(
      'fixture-striped/plain ext2 — it uses a PV on another image (b.img): mount it with `kpartx-tui mount a.img:fixture-striped/plain --with b.img`',
    );
    expect(kernel.loop.list()).toEqual([]);
    // b.img, from the source list: the LV all on it is mounted over its loop, the striped one is not.
    await t.press(keys.escape, 'a add');
    await t.press(keys.escape, 'a.img');
    await t.press(keys.down);
    await t.press(keys.enter, /VG fixture-striped · 14 MiB · 9 MiB free · PVs on this disk, a\.img/);
    await t.press('m', 'Mount read-only: yes');
    await t.waitFor('loop0-fixture--striped-plain');
    expect(t.frame().replace(/\s+/g, ' ')).toContain(
      'fixture-striped/stripes — it uses a PV on another image (a.img): mount it with `kpartx-tui mount b.img:fixture-striped/stripes --with a.img`',
    );
    await t.press(keys.enter, 'Mounted /dev/mapper/loop0-fixture--striped-plain');
    expect(kernel.loop.list().map((l) => l.backingFile)).toEqual([join(dir, 'b.img')]);
    await t.press('u');
    await vi.waitFor(() => expect(kernel.loop.list()).toEqual([]));
    expect(kernel.dm!.list()).toEqual([]);
    t.app.unmount();
  });
});
