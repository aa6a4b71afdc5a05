/**
 * `kpartx-tui mount IMAGE:VG/LV` where the PVs are not partitions of the one image, on the fake
 * machine: a PV on a whole unpartitioned disk (the LV's map goes over the image's loop itself, at
 * the PV's pe_start) and a VG over two images (`--with`: both images' loops and maps are made,
 * recorded, and taken back in reverse by umount, a failure or a signal). The images are lvm2's own
 * (fixtures/make-lvm.sh: `pvcreate` on each whole image); the filesystem magic is laid at the
 * place lvm2's recorded reports give, so the placement checked is lvm2's, not ours.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackendKind } from '../src/engine/backend.js';
import { createDmBackend } from '../src/engine/backends/dm.js';
import { createLoopBackend } from '../src/engine/backends/loop.js';
import { InterruptedError } from '../src/engine/signals.js';
import { LV_LOOP_MARKER, LV_UUID_PREFIX } from '../src/engine/stack/lv-map.js';
import { type MountFaceDeps, mountMain, mountSource, umountMain } from '../src/mount/main.js';
import { FakeMachine, type FakeMachineOptions } from './support/fake-machine.js';
import { lvmFixtureImage, lvmFixtureReports } from './support/lvm-fixtures.js';

const LINEAR = '/img/data.img';
const A = '/img/a.img';
const B = '/img/b.img';

/** Where lvm2 put extent `pe` of `pv` (byte offset on its image), from the set's recorded report. */
function extentAt(set: 'linear' | 'striped', pv: string, pe: number): number {
  const reports = lvmFixtureReports(set);
  const row = reports.pvs.find((p) => p.pv_name === pv)!;
  const extent = Number(reports.vgs[0]!.vg_extent_size);
  return (Number(row.pe_start) + pe * extent) * 512;
}

/** The first PV range of `lv` in lvm2's report: `[pv, first extent]`. */
function firstRange(set: 'linear' | 'striped', lv: string): [string, number] {
  const row = lvmFixtureReports(set).lvs.find((l) => l.lv_name === lv)!;
  const [, pv, first] = /^(\S+):(\d+)-/.exec(row.seg_pe_ranges!)!;
  return [pv!, Number(first)];
}

/** An ext4 superblock's magic, block size and block count at `at` (the LV's first bytes). */
function ext4At(image: Uint8Array, at: number, blocks: number): void {
  const view = new DataView(image.buffer, image.byteOffset);
  view.setUint16(at + 1080, 0xef53, true);
  view.setUint32(at + 1048, 2, true); // 4 KiB blocks
  view.setUint32(at + 1028, blocks, true);
}

/** A fixture image (a copy: the cache is shared) with an ext4 at the start of each LV named. */
function fixture(name: string, set: 'linear' | 'striped', lvs: string[]): Uint8Array {
  const image = new Uint8Array(lvmFixtureImage(name));
  for (const lv of lvs) {
    const [pv, first] = firstRange(set, lv);
    if (pv === name) ext4At(image, extentAt(set, pv, first), 256);
  }
  return image;
}

let dir: string;
let savedRunDir: string | undefined;
beforeAll(() => {
  dir = mkdtempSync('/tmp/kpt-lv-sources-');
  savedRunDir = process.env.KPARTX_TUI_RUN_DIR;
  process.env.KPARTX_TUI_RUN_DIR = join(dir, 'run');
});
afterAll(() => {
  if (savedRunDir === undefined) delete process.env.KPARTX_TUI_RUN_DIR;
  else process.env.KPARTX_TUI_RUN_DIR = savedRunDir;
  rmSync(dir, { recursive: true, force: true });
});

function setup(options: FakeMachineOptions = {}) {
  const kernel = new FakeMachine(options);
  kernel.addFile(LINEAR, fixture('linear', 'linear', ['home', 'root-lv']));
  kernel.addFile(A, fixture('striped-a', 'striped', ['stripes']));
  kernel.addFile(B, fixture('striped-b', 'striped', ['plain']));
  const out = { stdout: '', stderr: '' };
  const deps = (): MountFaceDeps => ({
    machine: kernel,
    makeBackend: (kind: BackendKind) => (kind === 'dm' ? createDmBackend(kernel) : createLoopBackend(kernel)),
    stdout: (text) => {
      out.stdout += text;
    },
    stderr: (text) => {
      out.stderr += text;
    },
    mountRoot: join(dir, 'mnt'),
  });
  const calls = () =>
    kernel.calls.filter((c) => /^(loop\.attach|loop\.detach|dm\.create|dm\.remove|mount|unmount)/.test(c));
  const nothingLeft = () => {
    expect(kernel.dm?.list() ?? []).toEqual([]);
    expect(kernel.loop.list()).toEqual([]);
    expect(kernel.mounts.list()).toEqual([]);
    expect(kernel.nodes.list()).toEqual([]);
  };
  return { kernel, deps, out, calls, nothingLeft };
}

/** Each call's first two words (`dm.create loop0-…`), image paths left out. */
const steps = (calls: string[]): string[] =>
  calls.map((c) =>
    c
      .split(' ')
      .slice(0, 2)
      .join(' ')
      .replace(/ \/img\/.*$/, ''),
  );

describe('an LV whose PV is a whole unpartitioned disk (fake machine)', () => {
  it('maps the LV over the image`s loop at lvm2`s offset, named after the loop, and umount takes it back', async () => {
    const t = setup();
    expect(await mountMain([`${LINEAR}:fixture-linear/home`, '--json', '--backend', 'dm'], t.deps())).toBe(0);
    const said = JSON.parse(t.out.stdout);
    // No partition: the LV sits on the image's loop, the only map made is the LV's.
    expect(said).toMatchObject({
      device: '/dev/mapper/loop0-fixture--linear-home',
      partition: null,
      fstype: 'ext4',
      readOnly: true,
      backend: 'dm',
      maps: [],
      loop: '/dev/loop0',
    });
    const dm = t.kernel.dm!;
    const map = dm.list().find((m) => m.name === 'loop0-fixture--linear-home')!;
    expect(map.uuid.startsWith(LV_UUID_PREFIX)).toBe(true);
    expect(map.uuid).not.toMatch(/^LVM-/);
    const [, first] = firstRange('linear', 'home');
    expect(dm.table(map.name)).toEqual([
      { start: 0, length: 2048, type: 'linear', params: `7:0 ${extentAt('linear', 'linear', first) / 512}` },
    ]);
    expect(steps(t.calls())).toEqual([
      'loop.attach /dev/loop0',
      'dm.create loop0-fixture--linear-home',
      'mount /dev/mapper/loop0-fixture--linear-home',
    ]);
    t.kernel.calls.length = 0;
    t.out.stdout = '';
    expect(await umountMain([LINEAR, '--json'], t.deps())).toBe(0);
    expect(JSON.parse(t.out.stdout)).toMatchObject({ maps: [], loop: '/dev/loop0' });
    expect(steps(t.calls())).toEqual([
      expect.stringMatching(/^unmount /),
      'dm.remove loop0-fixture--linear-home',
      'loop.detach /dev/loop0',
    ]);
    t.nothingLeft();
  });

  it('with the loop backend a one-run LV is a loop over the image`s loop; two runs say why not', async () => {
    const t = setup({ dm: false });
    const record = await mountSource(`${LINEAR}:fixture-linear/home`, { rw: false }, t.deps());
    expect(record).toMatchObject({ backend: 'loop', partition: 0, maps: [], loop: { path: '/dev/loop0' } });
    const lvLoop = t.kernel.loop.list().find((l) => l.name?.startsWith(LV_LOOP_MARKER))!;
    const [, first] = firstRange('linear', 'home');
    expect(lvLoop).toMatchObject({
      backingFile: '/dev/loop0',
      offset: extentAt('linear', 'linear', first),
      sizeLimit: 1024 * 1024,
      readOnly: true,
    });
    expect(record.device).toBe('/dev/mapper/loop0-fixture--linear-home');
    expect(await umountMain([record.mountpoint], t.deps())).toBe(0);
    t.nothingLeft();
    expect(await mountMain([`${LINEAR}:fixture-linear/root-lv`], t.deps())).toBe(1);
    expect(t.out.stderr).toContain(
      'fixture-linear/root-lv has 2 separate runs on its PVs: a loop device reads one contiguous run, so it needs device-mapper',
    );
    t.nothingLeft();
  });

  it('IMAGE alone points at its LVs, mapping nothing', async () => {
    const t = setup();
    expect(await mountMain([LINEAR], t.deps())).toBe(1);
    expect(t.out.stderr).toMatch(
      /^kpartx-tui mount: \/img\/data\.img: no partition table; the whole disk is .*fixture-linear.*: mount one of its logical volumes with \/img\/data\.img:fixture-linear\/LV\n$/,
    );
    t.nothingLeft();
  });

  it('IMAGE:N/VG/LV on a disk with no partition table names the problem, mapping nothing', async () => {
    const t = setup();
    expect(await mountMain([`${LINEAR}:1/fixture-linear/home`], t.deps())).toBe(1);
    expect(t.out.stderr).toBe(`kpartx-tui mount: ${LINEAR}: no partition 1; partitions: none\n`);
    t.nothingLeft();
  });
});

describe('a VG over two images: kpartx-tui mount A:VG/LV --with B (fake machine)', () => {
  it('maps the striped LV over both images` loops, records both, and umount takes back LV, then loops in reverse', async () => {
    const t = setup();
    expect(
      await mountMain([`${A}:fixture-striped/stripes`, '--with', B, '--json', '--backend', 'dm'], t.deps()),
    ).toBe(0);
    const said = JSON.parse(t.out.stdout);
    expect(said).toMatchObject({
      device: '/dev/mapper/loop0-fixture--striped-stripes',
      loop: '/dev/loop0',
      maps: [],
      with: [{ source: B, maps: [], loop: '/dev/loop1' }],
    });
    const dm = t.kernel.dm!;
    // lvm2's stripes: chunk 128 sectors, a's extent 0 then b's extent 0.
    expect(dm.table('loop0-fixture--striped-stripes')).toEqual([
      {
        start: 0,
        length: 8192,
        type: 'striped',
        params: `2 128 7:0 ${extentAt('striped', 'striped-a', 0) / 512} 7:1 ${extentAt('striped', 'striped-b', 0) / 512}`,
      },
    ]);
    t.kernel.calls.length = 0;
    t.out.stdout = '';
    // Either image names the mount.
    expect(await umountMain([B, '--json'], t.deps())).toBe(0);
    expect(JSON.parse(t.out.stdout)).toMatchObject({
      loop: '/dev/loop0',
      with: [{ source: B, loop: '/dev/loop1' }],
    });
    expect(t.calls()).toEqual([
      expect.stringMatching(/^unmount /),
      expect.stringMatching(/^dm\.remove loop0-fixture--striped-stripes/),
      'loop.detach /dev/loop1',
      'loop.detach /dev/loop0',
    ]);
    t.nothingLeft();
  });

  it('a PV on the other image and no --with: the PV is named with the --with to add, nothing is left', async () => {
    const t = setup();
    const b = lvmFixtureReports('striped').pvs.find((p) => p.pv_name === 'striped-b')!;
    expect(await mountMain([`${A}:fixture-striped/stripes`], t.deps())).toBe(1);
    expect(t.out.stderr).toContain(`needs PV pv1 (UUID ${b.pv_uuid}, last seen on /dev/`);
    expect(t.out.stderr).toContain(`which is not on ${A}; give the image that holds it with --with IMAGE`);
    t.nothingLeft();
  });

  it('an LV wholly on the second image is mapped from it alone', async () => {
    const t = setup({ dm: false });
    const record = await mountSource(`${B}:fixture-striped/plain`, { rw: false }, t.deps());
    const [, first] = firstRange('striped', 'plain');
    expect(t.kernel.loop.list().find((l) => l.name?.startsWith(LV_LOOP_MARKER))).toMatchObject({
      backingFile: '/dev/loop0',
      offset: extentAt('striped', 'striped-b', first),
    });
    expect(await umountMain([record.mountpoint], t.deps())).toBe(0);
    t.nothingLeft();
  });

  it('a failed mount takes back the LV map, then each image`s loop, newest first', async () => {
    const t = setup();
    t.kernel.failOn('mount');
    await expect(
      mountSource(`${A}:fixture-striped/stripes`, { rw: false, backend: 'dm', with: [B] }, t.deps()),
    ).rejects.toThrow(/EIO|Input\/output/);
    const made = steps(t.calls());
    expect(made).toEqual([
      'loop.attach /dev/loop0',
      'loop.attach /dev/loop1',
      'dm.create loop0-fixture--striped-stripes',
      'dm.remove loop0-fixture--striped-stripes',
      'loop.detach /dev/loop1',
      'loop.detach /dev/loop0',
    ]);
    t.nothingLeft();
  });

  it('a signal after the LV map is made is held, then everything on both images is taken back', async () => {
    const t = setup();
    const dm = t.kernel.dm!;
    const create = dm.create.bind(dm);
    dm.create = async (...args) => {
      const devno = await create(...args);
      process.kill(process.pid, 'SIGTERM');
      return devno;
    };
    const error = await mountSource(
      `${A}:fixture-striped/stripes`,
      { rw: false, backend: 'dm', with: [B] },
      t.deps(),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InterruptedError);
    expect((error as InterruptedError).exitCode).toBe(143);
    t.nothingLeft();
  });

  it('refuses --with without an LV, with --overlay, and one image given twice', async () => {
    const t = setup();
    expect(await mountMain([A, '--with', B], t.deps())).toBe(1);
    expect(t.out.stderr).toContain('--with adds images holding PVs of a volume group: name its LV');
    t.out.stderr = '';
    expect(await mountMain([`${A}:fixture-striped/stripes`, '--with', B, '--overlay'], t.deps())).toBe(1);
    expect(t.out.stderr).toContain('--overlay protects one image');
    t.out.stderr = '';
    expect(await mountMain([`${A}:fixture-striped/stripes`, '--with', A], t.deps())).toBe(1);
    expect(t.out.stderr).toContain(`${A} is /dev/loop0, as ${A} is: give each source once`);
    t.out.stderr = '';
    expect(await umountMain([A, '--with', B], t.deps())).toBe(2);
    t.nothingLeft();
  });
});
