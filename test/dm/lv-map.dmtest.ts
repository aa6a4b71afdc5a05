/**
 * LVs mapped by kpartx-tui against lvm2's own activation, on real device-mapper (the QEMU guest).
 * lvm2 makes a VG `rhel` on partitions 2 and 3 of one image (mapped by our kpartx -a): `root` of
 * two non-adjacent segments, `data-lv` striped over both PVs, `home-dir` linear; it activates
 * them, a file system is written into each through lvm2's map, and `dmsetup table` and the bytes
 * are recorded. After `vgchange -an` and `kpartx -d`, a "host" VG also named `rhel` is made active
 * on another loop (its `rhel-root` map is the host's), and `kpartx-tui mount image:rhel/LV` must
 * map the image's LV beside it: the same targets on the same extents (devices written as the
 * partition they are), the same bytes, the file read back, a name and UUID lvm2 never uses; umount
 * (and kpartx -d after an unmount) take everything back and leave the host's map alone.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTuiEngine } from '../../src/tui/engine.js';
import { DEFAULT_OPTIONS, type ExistingMapView } from '../../src/tui/model.js';
import {
  attachLoop,
  boundLoops,
  detachLoop,
  devnoOf,
  dmTables,
  dmUuids,
  inGuest,
  ours,
  resetGuest,
  run,
  sfdiskImage,
  sh,
  skipReason,
  workDir,
} from './guest.js';

const KPARTX_TUI = path.resolve(import.meta.dirname, '../../bin/kpartx-tui.js');
const tui = (...args: string[]) => run(process.execPath, [KPARTX_TUI, ...args]);
const LVS = ['root', 'data-lv', 'home-dir'];

const lvmDir = path.join(workDir, 'lvm-system');
const runDir = path.join(workDir, 'lv-run');

/** An lvm2 command over `devices` only, with the guest's private lvm.conf (no udev). */
const lvm = (devices: string[], command: string, ...args: string[]) =>
  execFileSync(command, ['--devices', devices.join(','), ...args], {
    encoding: 'utf8',
    env: { ...process.env, LVM_SYSTEM_DIR: lvmDir, LVM_SUPPRESS_FD_WARNINGS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 120_000,
  });

/** A clean guest, the run directory and lvm2's private configuration. */
function setUpGuest(): void {
  resetGuest();
  process.env.KPARTX_TUI_RUN_DIR = runDir;
  fs.mkdirSync(runDir, { recursive: true });
  fs.mkdirSync(path.join(lvmDir, 'lock'), { recursive: true });
  fs.writeFileSync(
    path.join(lvmDir, 'lvm.conf'),
    [
      'backup { backup = 0 archive = 0 }',
      'devices { use_devicesfile = 0 obtain_device_list_from_udev = 0 hints = "none" }',
      'activation { udev_sync = 0 udev_rules = 0 monitoring = 0 }',
      `global { locking_dir = "${path.join(lvmDir, 'lock')}" }`,
      '',
    ].join('\n'),
  );
}

function tearDownGuest(): void {
  for (const line of fs.readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
    const target = line.split(' ')[1];
    if (target?.startsWith(`${workDir}/`)) run('umount', [target]);
  }
  resetGuest();
  fs.rmSync(workDir, { recursive: true, force: true });
}

/** A sparse image of `mib` MiB with no partition table: a disk to `pvcreate` whole. */
function blankImage(name: string, mib: number): string {
  const file = path.join(workDir, name);
  fs.writeFileSync(file, '');
  fs.truncateSync(file, mib * 1024 * 1024);
  return file;
}

/** A table with each device number written as its label (`7:3` → `b`), for tables of two runs. */
const labelled = (table: string, labels: ReadonlyMap<string, string>): string =>
  table.replace(/\b\d+:\d+\b/g, (devno) => labels.get(devno) ?? devno);

/** An ext4 holding `hello.txt` made through lvm2's own map of `vg/lv`; its table (labelled) and sha256. */
function recordLv(
  vg: string,
  lv: string,
  labels: ReadonlyMap<string, string>,
): { table: string; sha: string } {
  const map = `/dev/mapper/${vg}-${lv.replaceAll('-', '--')}`;
  const content = path.join(workDir, `content-${vg}-${lv}`);
  fs.mkdirSync(content, { recursive: true });
  fs.writeFileSync(path.join(content, 'hello.txt'), `${lv} of ${vg}\n`);
  sh('mkfs.ext4', '-q', '-F', '-d', content, map);
  return {
    table: labelled(dmTables().get(path.basename(map))!, labels),
    sha: sh('sha256sum', map).split(' ')[0]!,
  };
}

describe.skipIf(!inGuest)(`LV maps of our own against lvm2's (${skipReason})`, () => {
  let image = '';
  let hostLoop = '';
  /** lvm2's table of each LV with devices written as partition labels (`p2`), and its sha256. */
  const recorded = new Map<string, { table: string; sha: string }>();

  /** A table with each device number replaced by the partition its map is (`loop3p2` → `p2`). */
  const relative = (table: string): string => {
    const labels = new Map<string, string>();
    for (const name of dmTables().keys()) {
      const match = /^loop\d+p(\d+)$/.exec(name);
      if (match) labels.set(devnoOf(`/dev/mapper/${name}`), `p${match[1]}`);
    }
    return table.replace(/\b\d+:\d+\b/g, (devno) => labels.get(devno) ?? devno);
  };

  beforeAll(() => {
    setUpGuest();
    image = sfdiskImage('rhel-like', 112, 'label: dos\n2048,8192,83\n10240,98304,8e\n108544,,8e\n');
    expect(ours('-a', image)).toMatchObject({ stderr: '', status: 0 });
    const pvs = [...dmTables().keys()].filter((n) => /p[23]$/.test(n)).map((n) => `/dev/mapper/${n}`);
    expect(pvs).toHaveLength(2);
    lvm(pvs, 'pvcreate', '-q', ...pvs);
    lvm(pvs, 'vgcreate', '-q', '-s', '1m', 'rhel', ...pvs);
    lvm(pvs, 'lvcreate', '-q', '-y', '-L', '8m', '-n', 'root', 'rhel', pvs[0]!);
    lvm(pvs, 'lvcreate', '-q', '-y', '-L', '2m', '-n', 'between', 'rhel', pvs[0]!);
    lvm(pvs, 'lvextend', '-q', '-L', '14m', 'rhel/root', pvs[0]!);
    lvm(pvs, 'lvcreate', '-q', '-y', '-i', '2', '-I', '64k', '-L', '16m', '-n', 'data-lv', 'rhel');
    lvm(pvs, 'lvcreate', '-q', '-y', '-L', '10m', '-n', 'home-dir', 'rhel', pvs[1]!);
    for (const lv of LVS) {
      const map = `/dev/mapper/rhel-${lv.replaceAll('-', '--')}`;
      const content = path.join(workDir, `content-${lv}`);
      fs.mkdirSync(content, { recursive: true });
      fs.writeFileSync(path.join(content, 'hello.txt'), `${lv} of the image's rhel\n`);
      sh('mkfs.ext4', '-q', '-F', '-d', content, map);
      const name = path.basename(map);
      recorded.set(lv, {
        table: relative(dmTables().get(name)!),
        sha: sh('sha256sum', map).split(' ')[0]!,
      });
    }
    lvm(pvs, 'vgchange', '-q', '-an', 'rhel');
    expect(ours('-d', image).status).toBe(0);
    expect(dmTables().size).toBe(0);
    expect(boundLoops()).toEqual([]);

    // The "host's" own VG, also named rhel, active while the image's LVs are mapped.
    const host = path.join(workDir, 'host-pv.img');
    fs.writeFileSync(host, '');
    fs.truncateSync(host, 32 * 1024 * 1024);
    hostLoop = attachLoop(host);
    lvm([hostLoop], 'pvcreate', '-q', hostLoop);
    lvm([hostLoop], 'vgcreate', '-q', 'rhel', hostLoop);
    lvm([hostLoop], 'lvcreate', '-q', '-y', '-L', '8m', '-n', 'root', 'rhel');
    expect([...dmTables().keys()]).toEqual(['rhel-root']);
  });

  afterAll(() => tearDownGuest());

  it('lvm2 made root of two segments, data-lv striped over both PVs', () => {
    expect(recorded.get('root')!.table.split('; ')).toHaveLength(2);
    expect(recorded.get('data-lv')!.table).toMatch(/^0 32768 striped 2 128 p2 \d+ p3 \d+$/);
  });

  for (const lv of LVS) {
    it(`rhel/${lv}: mounted beside the host's rhel-root with lvm2's targets and bytes, and umount leaves only the host's map`, () => {
      const mounted = tui('mount', `${image}:rhel/${lv}`, '--json');
      expect(mounted.stderr).toBe('');
      expect(mounted.status).toBe(0);
      const result = JSON.parse(mounted.stdout);
      expect(result).toMatchObject({ backend: 'dm', readOnly: true, fstype: 'ext4' });
      const name = path.basename(result.device);
      expect(name).toMatch(new RegExp(`^loop\\d+p[23]-rhel-${lv.replaceAll('-', '--')}$`));
      expect(dmUuids().get(name)).toMatch(/^kpartx-tui-lv-[0-9A-Za-z]{64}-\d+:\d+$/);
      expect(relative(dmTables().get(name)!)).toBe(recorded.get(lv)!.table);
      expect(sh('sha256sum', result.device).split(' ')[0]).toBe(recorded.get(lv)!.sha);
      expect(fs.readFileSync(path.join(result.mountpoint, 'hello.txt'), 'utf8')).toBe(
        `${lv} of the image's rhel\n`,
      );
      expect(dmTables().has('rhel-root')).toBe(true);
      const umounted = tui('umount', result.mountpoint);
      expect(umounted.stderr).toBe('');
      expect(umounted.status).toBe(0);
      expect([...dmTables().keys()]).toEqual(['rhel-root']);
      expect(boundLoops()).toEqual([`${hostLoop} ${path.join(workDir, 'host-pv.img')}`]);
    });
  }

  it('kpartx -d removes an LV map before the partition maps under it', () => {
    const mounted = tui('mount', `${image}:rhel/data-lv`, '--json');
    expect(mounted.status).toBe(0);
    const result = JSON.parse(mounted.stdout);
    expect(run('umount', [result.mountpoint]).status).toBe(0);
    const removed = ours('-dv', image);
    expect(removed.status).toBe(0);
    const lines = removed.stdout.split('\n').filter((l) => l.startsWith('del devmap'));
    expect(lines[0]).toBe(`del devmap : ${path.basename(result.device)}`);
    expect([...dmTables().keys()]).toEqual(['rhel-root']);
    fs.rmSync(path.join(runDir, 'mounts'), { recursive: true, force: true });
  });
});

/**
 * PVs that are not partitions of the one image: a data disk `pvcreate`d whole (no partition
 * table; its LV `files` lies past another, so lvm2's offset is more than pe_start), and a VG `pool` over two images (partition 1 of a.img, the whole of b.img) with an LV of
 * one segment on each image and one striped over both, mounted with `--with`. lvm2 activates each
 * first (its table recorded with devices written as `disk`, `a1`, `b`), then kpartx-tui must map
 * the same targets on the same extents of its own loops and maps, the same bytes, and umount must
 * leave nothing at all.
 */
describe.skipIf(!inGuest)(`LVs on whole disks and over two images against lvm2's (${skipReason})`, () => {
  let data = '';
  let a = '';
  let b = '';
  const recorded = new Map<string, { table: string; sha: string }>();

  beforeAll(() => {
    setUpGuest();
    data = blankImage('data-disk.img', 16);
    const dataLoop = attachLoop(data);
    lvm([dataLoop], 'pvcreate', '-q', dataLoop);
    lvm([dataLoop], 'vgcreate', '-q', '-s', '1m', 'data', dataLoop);
    lvm([dataLoop], 'lvcreate', '-q', '-y', '-L', '2m', '-n', 'spare', 'data');
    lvm([dataLoop], 'lvcreate', '-q', '-y', '-L', '8m', '-n', 'files', 'data');
    const diskLabels = new Map([[devnoOf(dataLoop), 'disk']]);
    recorded.set('data/files', recordLv('data', 'files', diskLabels));
    lvm([dataLoop], 'vgchange', '-q', '-an', 'data');
    detachLoop(dataLoop);

    a = sfdiskImage('pool-a', 16, 'label: dos\n2048,,8e\n');
    b = blankImage('pool-b.img', 16);
    expect(ours('-a', a)).toMatchObject({ stderr: '', status: 0 });
    const a1 = `/dev/mapper/${[...dmTables().keys()].find((n) => /^loop\d+p1$/.test(n))!}`;
    const bLoop = attachLoop(b);
    const pvs = [a1, bLoop];
    lvm(pvs, 'pvcreate', '-q', ...pvs);
    lvm(pvs, 'vgcreate', '-q', '-s', '1m', 'pool', ...pvs);
    lvm(pvs, 'lvcreate', '-q', '-y', '-L', '5m', '-n', 'span', 'pool', a1);
    lvm(pvs, 'lvextend', '-q', '-L', '10m', 'pool/span', bLoop);
    lvm(pvs, 'lvcreate', '-q', '-y', '-i', '2', '-I', '64k', '-L', '8m', '-n', 'stripes', 'pool');
    const poolLabels = new Map([
      [devnoOf(a1), 'a1'],
      [devnoOf(bLoop), 'b'],
    ]);
    for (const lv of ['span', 'stripes']) recorded.set(`pool/${lv}`, recordLv('pool', lv, poolLabels));
    lvm(pvs, 'vgchange', '-q', '-an', 'pool');
    expect(ours('-d', a).status).toBe(0);
    detachLoop(bLoop);
    expect(dmTables().size).toBe(0);
    expect(boundLoops()).toEqual([]);
  });

  afterAll(() => tearDownGuest());

  it('lvm2 laid files past spare on the disk, span on both images and stripes over both', () => {
    expect(recorded.get('data/files')!.table).toMatch(/^0 16384 linear disk \d+$/);
    expect(recorded.get('pool/span')!.table).toMatch(/^0 10240 linear a1 \d+; 10240 10240 linear b \d+$/);
    expect(recorded.get('pool/stripes')!.table).toMatch(/^0 16384 striped 2 128 a1 \d+ b \d+$/);
  });

  /** What `kpartx-tui mount --json` says. */
  interface Mounted {
    device: string;
    mountpoint: string;
    loop: string;
    maps: string[];
    with?: { source: string; maps: string[]; loop: string }[];
  }

  /** Mount, compare with lvm2's table and bytes, read back, umount by `umountBy`, and expect nothing left. */
  function mountAndCompare(
    operand: string,
    args: string[],
    vgLv: string,
    labels: (said: Mounted) => Map<string, string>,
    umountBy: (said: Mounted) => string,
  ) {
    const mounted = tui('mount', operand, ...args, '--json');
    expect(mounted.stderr).toBe('');
    expect(mounted.status).toBe(0);
    const said = JSON.parse(mounted.stdout) as Mounted;
    expect(said).toMatchObject({ backend: 'dm', readOnly: true, fstype: 'ext4' });
    const name = path.basename(said.device);
    expect(dmUuids().get(name)).toMatch(/^kpartx-tui-lv-[0-9A-Za-z]{64}-\d+:\d+$/);
    expect(labelled(dmTables().get(name)!, labels(said))).toBe(recorded.get(vgLv)!.table);
    expect(sh('sha256sum', said.device).split(' ')[0]).toBe(recorded.get(vgLv)!.sha);
    const [vg, lv] = vgLv.split('/');
    expect(fs.readFileSync(path.join(said.mountpoint, 'hello.txt'), 'utf8')).toBe(`${lv} of ${vg}\n`);
    const umounted = tui('umount', umountBy(said));
    expect(umounted.stderr).toBe('');
    expect(umounted.status).toBe(0);
    expect(dmTables().size).toBe(0);
    expect(boundLoops()).toEqual([]);
    return said;
  }

  it("data/files on a whole-disk PV: lvm2's targets over the image's loop, its bytes, nothing left", () => {
    const said = mountAndCompare(
      `${data}:data/files`,
      [],
      'data/files',
      (s) => new Map([[devnoOf(s.loop), 'disk']]),
      (s) => s.mountpoint,
    );
    expect(said).toMatchObject({ partition: null, maps: [] });
    expect(path.basename(said.device)).toBe(`${path.basename(said.loop)}-data-files`);
  });

  it('pool/span --with b.img: one segment on each image, lvm2`s targets, umount by the image takes back both', () => {
    const said = mountAndCompare(
      `${a}:pool/span`,
      ['--with', b],
      'pool/span',
      (s) =>
        new Map([
          [devnoOf(`/dev/mapper/${s.maps[0]}`), 'a1'],
          [devnoOf(s.with![0]!.loop), 'b'],
        ]),
      () => a,
    );
    expect(said.maps).toEqual([expect.stringMatching(/^loop\d+p1$/)]);
    expect(path.basename(said.device)).toBe(`${said.maps[0]}-pool-span`);
  });

  /**
   * The app's engine, started on `sources`, mounts `vgLv` from the mount session's rows of the
   * first: lvm2's table and bytes, the file read back, and nothing left after the unmount.
   */
  async function mountInApp(
    sources: string[],
    vgLv: string,
    labels: (devices: string[]) => Map<string, string>,
    partitioned = false,
  ) {
    const app = createTuiEngine({ mountRoot: path.join(workDir, 'app-mnt'), cwd: workDir });
    app.listSources(sources);
    // A partitioned image's LVs are offered once its maps are there (the session's `a`).
    if (partitioned)
      expect((await app.add(sources[0]!, { ...DEFAULT_OPTIONS, readOnly: true }, () => {})).ok).toBe(true);
    await app.inspect(sources[0]!, DEFAULT_OPTIONS); // the first look skips the contents
    const inspection = await app.inspect(sources[0]!, DEFAULT_OPTIONS);
    const [vg, lv] = vgLv.split('/');
    const row = inspection.volumes?.find((v: ExistingMapView) => v.lv?.vg === vg && v.lv?.name === lv);
    expect(row?.notMountableWhy).toBeUndefined();
    const mount = await app.mount(row!.path, { readOnly: true, exec: false });
    const name = path.basename(mount.source);
    const table = dmTables().get(name)!;
    const devices = [...table.matchAll(/ (\d+:\d+) /g)].map((m) => m[1]!);
    expect(labelled(table, labels(devices))).toBe(recorded.get(vgLv)!.table);
    expect(sh('sha256sum', mount.source).split(' ')[0]).toBe(recorded.get(vgLv)!.sha);
    expect(fs.readFileSync(path.join(mount.mountpoint, 'hello.txt'), 'utf8')).toBe(`${lv} of ${vg}\n`);
    await app.unmount(mount);
    if (partitioned) expect((await app.remove(sources[0]!, DEFAULT_OPTIONS, () => {})).ok).toBe(true);
    expect(dmTables().size).toBe(0);
    expect(boundLoops()).toEqual([]);
  }

  it("the app: data/files on a whole-disk PV mounted over the loop it attaches, lvm2's targets, nothing left", async () => {
    await mountInApp([data], 'data/files', ([disk]) => new Map([[disk!, 'disk']]));
  });

  it('the app started on both images: pool/stripes mounted from a.img over both, lvm2`s targets, nothing left', async () => {
    // a1 is a partition map (device-mapper), b the image's loop (major 7).
    await mountInApp(
      [a, b],
      'pool/stripes',
      (devices) => new Map(devices.map((d) => [d, d.startsWith('7:') ? 'b' : 'a1'])),
      true,
    );
  });

  it('pool/stripes --with b.img: striped over both images like lvm2, nothing left after umount', () => {
    mountAndCompare(
      `${a}:pool/stripes`,
      ['--with', b],
      'pool/stripes',
      (s) =>
        new Map([
          [devnoOf(`/dev/mapper/${s.maps[0]}`), 'a1'],
          [devnoOf(s.with![0]!.loop), 'b'],
        ]),
      (s) => s.mountpoint,
    );
  });
});
