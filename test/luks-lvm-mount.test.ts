/**
 * LVM on LUKS under `kpartx-tui mount IMAGE:VG/LV` (and `IMAGE:N/VG/LV`), on the fake machine: the
 * VG is looked for on the plain partitions first, then inside the only LUKS partition, which is
 * mapped and opened (passphrase asked once) so its PV is read through the opened volume; the LV is
 * mapped over `<map>-luks`. Teardown and every take-back go newest first: the mount, the LV map,
 * cryptsetup close, the partition map, the loop.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackendKind } from '../src/engine/backend.js';
import { createDmBackend } from '../src/engine/backends/dm.js';
import { createLoopBackend } from '../src/engine/backends/loop.js';
import { InterruptedError } from '../src/engine/signals.js';
import { LV_UUID_PREFIX } from '../src/engine/stack/lv-map.js';
import { NO_DM_CRYPT } from '../src/engine/workflow/luks.js';
import { locateVolumeGroup } from '../src/engine/workflow/lv-locate.js';
import { splitLvOperand } from '../src/engine/workflow/lv-run.js';
import { luksOperand, type MountFaceDeps, mountMain, mountSource, umountMain } from '../src/mount/main.js';
import { passwdMain } from '../src/mount/passwd.js';
import { removeRecord } from '../src/mount/record.js';
import { createTuiEngine } from '../src/tui/engine.js';
import { mbrImage, runCli } from './cli-helpers.js';
import { FakeMachine, type FakeMachineOptions } from './support/fake-machine.js';
import { vgText, writePv } from './support/lvm-writer.js';

const IMAGE = '/img/ubuntu.img';
const PAYLOAD = 32; // sectors of "header" before the plaintext in the fake's LUKS
const PV_SECTORS = 12288; // 6 MiB: 1 MiB of metadata, one 4 MiB extent
const P1 = 2048;
const P1_SECTORS = PAYLOAD + PV_SECTORS;
const P2 = P1 + P1_SECTORS;
const PASSPHRASE = 'correct horse';

/**
 * Partition 1: LUKS2 whose plaintext is a PV of VG `ubuntu-vg` with LV `lv0` holding an ext4;
 * partition 2: empty, or a second LUKS header (`twoLuks`).
 */
function ubuntuImage(options: { twoLuks?: boolean } = {}): Uint8Array {
  const image = mbrImage(P2 + 2048, [
    [0x83, P1, P1_SECTORS],
    [0x83, P2, 2048],
  ]);
  const luksHeader = [0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe, 0, 2]; // "LUKS\xBA\xBE", version 2
  image.set(luksHeader, P1 * 512);
  if (options.twoLuks) image.set(luksHeader, P2 * 512);
  const pv = writePv({ size: PV_SECTORS * 512, text: vgText('ubuntu-vg', 1, 1, 1) });
  const plain = (P1 + PAYLOAD) * 512;
  image.set(pv, plain);
  const lv = plain + 2048 * 512; // pe_start
  const view = new DataView(image.buffer, image.byteOffset);
  view.setUint16(lv + 1080, 0xef53, true);
  view.setUint32(lv + 1048, 2, true); // 4 KiB blocks
  view.setUint32(lv + 1028, 1024, true); // s_blocks_count: the 4 MiB LV
  return image;
}

let dir: string;
let savedRunDir: string | undefined;
beforeAll(() => {
  dir = mkdtempSync('/tmp/kpt-luks-lvm-fake-');
  savedRunDir = process.env.KPARTX_TUI_RUN_DIR;
  process.env.KPARTX_TUI_RUN_DIR = join(dir, 'run');
});
afterAll(() => {
  if (savedRunDir === undefined) delete process.env.KPARTX_TUI_RUN_DIR;
  else process.env.KPARTX_TUI_RUN_DIR = savedRunDir;
  rmSync(dir, { recursive: true, force: true });
});

function setup(options: FakeMachineOptions = {}, image = ubuntuImage()) {
  const kernel = new FakeMachine({ luks: { passphrase: PASSPHRASE, payloadSectors: PAYLOAD }, ...options });
  kernel.addFile(IMAGE, image);
  const out = { stdout: '', stderr: '' };
  const asked: string[] = [];
  const deps = (passphrase = PASSPHRASE, backend?: BackendKind): MountFaceDeps => ({
    machine: kernel,
    makeBackend: (kind: BackendKind) =>
      (backend ?? kind) === 'dm' ? createDmBackend(kernel) : createLoopBackend(kernel),
    stdout: (text) => {
      out.stdout += text;
    },
    stderr: (text) => {
      out.stderr += text;
    },
    mountRoot: join(dir, 'mnt'),
    readPassphrase: async (what) => {
      asked.push(what);
      return passphrase;
    },
  });
  /** The state-changing calls, in order. */
  const calls = () =>
    kernel.calls.filter((c) =>
      /^(loop\.attach|loop\.detach|dm\.create|dm\.remove|crypt|mount|unmount)/.test(c),
    );
  const nothingLeft = () => {
    expect(kernel.dm?.list() ?? []).toEqual([]);
    expect(kernel.loop.list()).toEqual([]);
    expect(kernel.mounts.list()).toEqual([]);
  };
  return { kernel, deps, out, asked, calls, nothingLeft };
}

/** Each call's first word and its object (`dm.create loop0p1`), paths of the image left out. */
const steps = (calls: string[]): string[] =>
  calls.map((c) =>
    c
      .split(' ')
      .slice(0, 2)
      .join(' ')
      .replace(/ \/.*$/, ''),
  );

describe('kpartx-tui mount IMAGE:VG/LV with the PV inside LUKS (fake machine)', () => {
  it('opens the only LUKS partition, maps the LV over <map>-luks, and umount undoes it newest first', async () => {
    const t = setup();
    const record = await mountSource(`${IMAGE}:ubuntu-vg/lv0`, { rw: false }, t.deps());
    expect(t.asked).toEqual([`${IMAGE}:1`]);
    expect(record).toMatchObject({
      partition: 1,
      device: '/dev/mapper/loop0p1-luks-ubuntu--vg-lv0',
      fstype: 'ext4',
      readOnly: true,
      luks: { kernelName: 'loop0p1-luks', path: '/dev/mapper/loop0p1-luks' },
      lv: { via: 'dm', name: 'loop0p1-luks-ubuntu--vg-lv0' },
      maps: [{ number: 1, name: 'loop0p1' }],
    });
    const dm = t.kernel.dm!;
    const lvMap = dm.list().find((m) => m.name === 'loop0p1-luks-ubuntu--vg-lv0')!;
    const luks = dm.list().find((m) => m.name === 'loop0p1-luks')!;
    expect(lvMap.uuid.startsWith(LV_UUID_PREFIX)).toBe(true);
    // Over the opened volume, at the PV's pe_start: the LV reads the plaintext.
    expect(dm.table(lvMap.name)).toEqual([
      { start: 0, length: 8192, type: 'linear', params: `${luks.devno.major}:${luks.devno.minor} 2048` },
    ]);
    expect(steps(t.calls())).toEqual([
      'loop.attach',
      'dm.create loop0p1',
      'crypt.open loop0p1-luks',
      'dm.create loop0p1-luks',
      'dm.create loop0p1-luks-ubuntu--vg-lv0',
      'mount',
    ]);
    t.kernel.calls.length = 0;
    expect(await umountMain([record.mountpoint, '--json'], t.deps())).toBe(0);
    expect(JSON.parse(t.out.stdout)).toMatchObject({ luks: 'loop0p1-luks', maps: ['loop0p1'] });
    // The fake's cryptsetup close removes its map with the fake's dm calls: shown right after it.
    expect(steps(t.calls())).toEqual([
      'unmount',
      'dm.remove loop0p1-luks-ubuntu--vg-lv0',
      'crypt.close loop0p1-luks',
      'dm.remove loop0p1-luks',
      'dm.remove loop0p1',
      'loop.detach',
    ]);
    t.nothingLeft();
  });

  it('IMAGE:N/VG/LV names the LUKS partition; --json says what it made', async () => {
    const t = setup();
    expect(await mountMain([`${IMAGE}:1/ubuntu-vg/lv0`, '--json'], t.deps())).toBe(0);
    const said = JSON.parse(t.out.stdout);
    expect(said).toMatchObject({ luks: 'loop0p1-luks', maps: ['loop0p1'], partition: 1, fstype: 'ext4' });
    expect(await umountMain([said.mountpoint], t.deps())).toBe(0);
    t.nothingLeft();
  });

  it('with two LUKS partitions it asks which before asking anything else', async () => {
    const t = setup({}, ubuntuImage({ twoLuks: true }));
    expect(await mountMain([`${IMAGE}:ubuntu-vg/lv0`], t.deps())).toBe(1);
    expect(t.out.stderr).toBe(
      `kpartx-tui mount: ${IMAGE}:ubuntu-vg/lv0: no volume group ubuntu-vg on the plain partitions, and 2 LUKS partitions (1, 2) may hold it: say which with ${IMAGE}:N/ubuntu-vg/lv0\n`,
    );
    expect(t.asked).toEqual([]);
    t.nothingLeft();
    // Named, it is found.
    const record = await mountSource(`${IMAGE}:1/ubuntu-vg/lv0`, { rw: false }, t.deps());
    expect(record.luks?.kernelName).toBe('loop0p1-luks');
    expect(await umountMain([record.mountpoint], t.deps())).toBe(0);
    t.nothingLeft();
  });

  it('IMAGE:N over a LUKS partition holding a PV points at IMAGE:N/VG/LV and takes everything back', async () => {
    const t = setup();
    await expect(mountSource(`${IMAGE}:1`, { rw: false }, t.deps())).rejects.toThrow(
      `; mount one of its LVs with ${IMAGE}:1/ubuntu-vg/LV`,
    );
    t.nothingLeft();
  });

  it('a wrong passphrase fails with cryptsetup`s words and leaves nothing', async () => {
    const t = setup();
    expect(await mountMain([`${IMAGE}:ubuntu-vg/lv0`], t.deps('wrong'))).toBe(1);
    expect(t.out.stderr).toBe(
      `kpartx-tui mount: ${IMAGE}:1: cryptsetup open failed: No key available with this passphrase.\n`,
    );
    t.nothingLeft();
  });

  it('a VG that is not inside either is named, and the LUKS volume is closed again', async () => {
    const t = setup();
    await expect(mountSource(`${IMAGE}:centos/root`, { rw: false }, t.deps())).rejects.toThrow(
      `${IMAGE}:centos/root: no volume group centos on ${IMAGE} nor inside its LUKS partition 1; volume groups: ubuntu-vg`,
    );
    expect(t.calls().filter((c) => c.startsWith('crypt'))).toEqual([
      'crypt.open loop0p1-luks ro',
      'crypt.close loop0p1-luks',
    ]);
    t.nothingLeft();
  });

  it('a failed mount takes back the LV map, then LUKS, then the partition map, then the loop', async () => {
    const t = setup();
    t.kernel.failOn('mount');
    await expect(mountSource(`${IMAGE}:ubuntu-vg/lv0`, { rw: false }, t.deps())).rejects.toThrow(
      /EIO|Input\/output/,
    );
    const made = steps(t.calls());
    // The mount was refused: what follows the LV map's creation is its take-back.
    expect(made.slice(made.indexOf('dm.create loop0p1-luks-ubuntu--vg-lv0') + 1)).toEqual([
      'dm.remove loop0p1-luks-ubuntu--vg-lv0',
      'crypt.close loop0p1-luks',
      'dm.remove loop0p1-luks',
      'dm.remove loop0p1',
      'loop.detach',
    ]);
    t.nothingLeft();
  });

  it('a failure making the LV map closes LUKS and takes back the rest', async () => {
    const t = setup();
    t.kernel.failOn('dm.create', { device: 'loop0p1-luks-ubuntu--vg-lv0' });
    await expect(mountSource(`${IMAGE}:ubuntu-vg/lv0`, { rw: false }, t.deps())).rejects.toThrow();
    expect(t.calls().filter((c) => c.startsWith('crypt'))).toEqual([
      'crypt.open loop0p1-luks ro',
      'crypt.close loop0p1-luks',
    ]);
    t.nothingLeft();
  });

  it('a signal right after the open is held, then everything is taken back', async () => {
    const t = setup();
    const crypt = t.kernel.crypt;
    const open = crypt.open;
    crypt.open = async (...args) => {
      await open(...args);
      process.kill(process.pid, 'SIGTERM');
    };
    const error = await mountSource(`${IMAGE}:ubuntu-vg/lv0`, { rw: false }, t.deps()).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InterruptedError);
    expect((error as InterruptedError).exitCode).toBe(143);
    expect(t.calls().filter((c) => c.startsWith('crypt'))).toEqual([
      'crypt.open loop0p1-luks ro',
      'crypt.close loop0p1-luks',
    ]);
    t.nothingLeft();
  });

  it('without device-mapper it refuses before asking the passphrase or mapping anything', async () => {
    const t = setup({ dm: false });
    expect(await mountMain([`${IMAGE}:ubuntu-vg/lv0`], t.deps())).toBe(1);
    expect(t.out.stderr).toBe(`kpartx-tui mount: ${IMAGE}:1: ${NO_DM_CRYPT}\n`);
    expect(t.asked).toEqual([]);
    expect(t.calls().filter((c) => !c.startsWith('loop.'))).toEqual([]);
    t.nothingLeft();
  });

  it('--rw opens LUKS writable and maps the LV writable', async () => {
    const t = setup();
    const record = await mountSource(`${IMAGE}:ubuntu-vg/lv0`, { rw: true }, t.deps());
    expect(t.calls()).toContain('crypt.open loop0p1-luks');
    expect(t.kernel.dm!.info('loop0p1-luks-ubuntu--vg-lv0')?.readOnly).toBe(false);
    expect(await umountMain([record.mountpoint], t.deps())).toBe(0);
    t.nothingLeft();
  });

  it('passwd IMAGE:VG/LV asks the passphrase first, once, and closes LUKS after each mount', async () => {
    const t = setup();
    expect(await luksOperand(`${IMAGE}:ubuntu-vg/lv0`, t.deps())).toBe(`${IMAGE}:1`);
    expect(await luksOperand(`${IMAGE}:1/ubuntu-vg/lv0`, t.deps())).toBe(`${IMAGE}:1`);
    expect(t.calls()).toEqual([]);
    const order: string[] = [];
    const status = await passwdMain([`${IMAGE}:ubuntu-vg/lv0`, 'root'], {
      ...t.deps(),
      readPassphrase: async (what) => {
        order.push(`passphrase ${what}`);
        return PASSPHRASE;
      },
      readPassword: async (user) => {
        order.push(`password ${user}`);
        return 'n3w-Secret';
      },
    });
    // The fake mounts nothing real: the look finds no system and stops there.
    expect(status).toBe(1);
    expect(t.out.stderr).toMatch(/no Linux root filesystem/);
    expect(order).toEqual([`passphrase ${IMAGE}:1`, 'password root']);
    expect(t.calls().filter((c) => c.startsWith('crypt'))).toEqual([
      'crypt.open loop0p1-luks ro',
      'crypt.close loop0p1-luks',
    ]);
    t.nothingLeft();
  });
});

describe('where an LV is looked for', () => {
  const parts = [
    { number: 1, luks: false },
    { number: 2, luks: true },
    { number: 3, luks: true },
  ];
  const target = { source: 'vm.img', vg: 'vg', lv: 'root' };

  it('on the plain partitions when the VG is there, else in the only LUKS partition', () => {
    expect(locateVolumeGroup(target, parts, ['vg'])).toEqual({ inside: 'partitions' });
    expect(locateVolumeGroup(target, parts.slice(0, 2), [])).toEqual({ inside: 'luks', partition: 2 });
    expect(locateVolumeGroup(target, parts.slice(0, 1), [])).toEqual({ inside: 'partitions' });
    expect(() => locateVolumeGroup(target, parts, [])).toThrow('2 LUKS partitions (2, 3) may hold it');
  });

  it('IMAGE:N/VG/LV names the partition: LUKS is opened, a plain one must hold a PV', () => {
    expect(locateVolumeGroup({ ...target, partition: 3 }, parts, ['vg'])).toEqual({
      inside: 'luks',
      partition: 3,
    });
    expect(locateVolumeGroup({ ...target, partition: 1 }, parts, [])).toEqual({
      inside: 'partitions',
      partition: 1,
    });
    expect(() => locateVolumeGroup({ ...target, partition: 9 }, parts, [])).toThrow(
      'vm.img: no partition 9; partitions: 1, 2, 3',
    );
  });

  it('parses IMAGE:N/VG/LV beside IMAGE:VG/LV', () => {
    expect(splitLvOperand('vm.img:2/ubuntu-vg/root', () => false)).toEqual({
      source: 'vm.img',
      partition: 2,
      vg: 'ubuntu-vg',
      lv: 'root',
    });
    expect(splitLvOperand('vm.img:2/root', () => false)).toEqual({ source: 'vm.img', vg: '2', lv: 'root' });
    expect(splitLvOperand('dir:x/vm.img:3/vg/lv', () => false)).toMatchObject({
      source: 'dir:x/vm.img',
      partition: 3,
    });
  });
});

describe('what a killed mount of an LV inside LUKS leaves, taken down without its record', () => {
  /** A mount of ubuntu-vg/lv0 whose record is gone, as a kill -9 before it was written leaves it. */
  async function leftBehind(t: ReturnType<typeof setup>, options: { mounted: boolean }) {
    const record = await mountSource(`${IMAGE}:ubuntu-vg/lv0`, { rw: false }, t.deps());
    removeRecord(record.mountpoint);
    if (!options.mounted) t.kernel.mounts.unmount(record.mountpoint);
    t.kernel.calls.length = 0;
    return record;
  }

  it('kpartx -d removes the LV map, closes the LUKS mapping, then the partition maps and the loop', async () => {
    const t = setup();
    await leftBehind(t, { mounted: false });
    const run = await runCli(['-dv', IMAGE], { kernel: t.kernel });
    expect(run).toEqual({
      status: 0,
      stdout: [
        'del devmap : loop0p1-luks-ubuntu--vg-lv0',
        'del devmap : loop0p1-luks',
        'del devmap : loop0p1',
        '',
      ].join('\n'),
      stderr: 'loop deleted : /dev/loop0\n',
    });
    expect(steps(t.calls())).toEqual([
      'dm.remove loop0p1-luks-ubuntu--vg-lv0',
      'crypt.close loop0p1-luks',
      'dm.remove loop0p1-luks',
      'dm.remove loop0p1',
      'loop.detach',
    ]);
    t.nothingLeft();
  });

  it('with the loop backend the partition maps are loops and LUKS over one is closed all the same', async () => {
    const t = setup();
    const record = await mountSource(`${IMAGE}:ubuntu-vg/lv0`, { rw: false, backend: 'loop' }, t.deps());
    expect(record.backend).toBe('loop');
    removeRecord(record.mountpoint);
    t.kernel.mounts.unmount(record.mountpoint);
    const run = await runCli(['-d', '--backend', 'loop', IMAGE], { kernel: t.kernel });
    expect(run).toMatchObject({ status: 0, stderr: '' });
    expect(t.kernel.calls.filter((c) => c.startsWith('crypt'))).toContain('crypt.close loop0p1-luks');
    t.nothingLeft();
  });

  it('a mounted LV is refused naming its mountpoint, and the LUKS mapping and partition map under it stay', async () => {
    const t = setup();
    const record = await leftBehind(t, { mounted: true });
    const run = await runCli(['-d', IMAGE], { kernel: t.kernel });
    expect(run.status).toBeGreaterThan(0);
    expect(run.stderr).toContain(
      `loop0p1-luks-ubuntu--vg-lv0 is in use by ${record.mountpoint}; not removing it\n`,
    );
    expect(run.stderr).toContain(
      'loop0p1-luks is held by /dev/mapper/loop0p1-luks-ubuntu--vg-lv0\nloop0p1 is held by /dev/mapper/loop0p1-luks\n',
    );
    expect(t.calls().filter((c) => c.startsWith('crypt'))).toEqual([]);
    expect(
      t.kernel
        .dm!.list()
        .map((m) => m.name)
        .sort(),
    ).toEqual(['loop0p1', 'loop0p1-luks', 'loop0p1-luks-ubuntu--vg-lv0']);
    // Once unmounted, a second -d takes the rest.
    t.kernel.mounts.unmount(record.mountpoint);
    expect((await runCli(['-d', IMAGE], { kernel: t.kernel })).status).toBe(0);
    expect(t.kernel.dm!.list()).toEqual([]);
  });

  it('a LUKS mapping of ours without a table (cryptsetup killed mid-open), or with cryptsetup gone, is removed as a map', async () => {
    for (const cryptsetup of [true, false]) {
      const t = setup({ cryptsetup });
      expect((await runCli(['-a', IMAGE], { kernel: t.kernel })).status).toBe(0);
      const p2 = t.kernel.dm!.info('loop0p2')!.devno;
      t.kernel.seedMap('loop0p1-luks', 'CRYPT-LUKS2-0123-loop0p1-luks', []);
      t.kernel.seedMap('loop0p2-luks', 'CRYPT-LUKS2-4567-loop0p2-luks', [
        { start: 0, length: 8, type: 'linear', params: `${p2.major}:${p2.minor} 32` },
      ]);
      t.kernel.calls.length = 0;
      const run = await runCli(['-dv', IMAGE], { kernel: t.kernel });
      expect(run).toMatchObject({ status: 0, stderr: 'loop deleted : /dev/loop0\n' });
      expect(run.stdout.split('\n').slice(0, 2)).toEqual([
        'del devmap : loop0p1-luks',
        'del devmap : loop0p2-luks',
      ]);
      // cryptsetup closes the one with a table when it is there; the map is removed otherwise.
      expect(steps(t.calls()).slice(0, 3)).toEqual(
        cryptsetup
          ? ['dm.remove loop0p1-luks', 'crypt.close loop0p2-luks', 'dm.remove loop0p2-luks']
          : ['dm.remove loop0p1-luks', 'dm.remove loop0p2-luks', 'dm.remove loop0p1'],
      );
      t.nothingLeft();
    }
  });

  it('a LUKS mapping the user opened under another name, and maps not made by cryptsetup, are never touched', async () => {
    const t = setup();
    expect((await runCli(['-a', IMAGE], { kernel: t.kernel })).status).toBe(0);
    const dm = t.kernel.dm!;
    await t.kernel.crypt.open(
      '/dev/mapper/loop0p1',
      'mydata',
      { passphrase: PASSPHRASE },
      { readOnly: true },
    );
    // Named like ours but made by someone else (no cryptsetup UUID), over partition 2.
    const p2 = dm.info('loop0p2')!.devno;
    await dm.create(
      'loop0p2-luks',
      'LVM-not-ours',
      [{ start: 0, length: 8, type: 'linear', params: `${p2.major}:${p2.minor} 0` }],
      { readOnly: true },
    );
    const run = await runCli(['-dv', IMAGE], { kernel: t.kernel });
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('loop0p1 is in use. Not removing\nloop0p2 is in use. Not removing\n');
    expect(run.stderr).toBe(
      'loop0p1 is held by /dev/mapper/mydata\nloop0p2 is held by /dev/mapper/loop0p2-luks\n' +
        'loop kept : /dev/loop0 (still used by loop0p1, loop0p2; it is released when no longer used)\n',
    );
    expect(t.calls().filter((c) => c.startsWith('crypt.close'))).toEqual([]);
    expect(
      dm
        .list()
        .map((m) => m.name)
        .sort(),
    ).toEqual(['loop0p1', 'loop0p2', 'loop0p2-luks', 'mydata']);
  });

  it('a LUKS mapping of ours held by the host`s lvm2 (auto-activation) stays, naming its holder', async () => {
    const t = setup();
    const record = await leftBehind(t, { mounted: false });
    const dm = t.kernel.dm!;
    // The LV map of ours goes; an lvm2 map over the same opened volume is the host's.
    const luks = dm.info('loop0p1-luks')!.devno;
    await dm.create(
      'ubuntu--vg-lv0',
      'LVM-hostvgid-hostlvid',
      [{ start: 0, length: 8192, type: 'linear', params: `${luks.major}:${luks.minor} 2048` }],
      { readOnly: true },
    );
    const run = await runCli(['-d', IMAGE], { kernel: t.kernel });
    expect(run.status).toBeGreaterThan(0);
    expect(run.stderr).toContain('loop0p1-luks is held by /dev/mapper/ubuntu--vg-lv0\n');
    expect(dm.info(`${record.device.slice('/dev/mapper/'.length)}`)).toBeUndefined();
    expect(dm.info('ubuntu--vg-lv0')).toBeDefined();
    expect(dm.info('loop0p1-luks')).toBeDefined();
    expect(t.calls().filter((c) => c.startsWith('crypt'))).toEqual([]);
  });

  it('kpartx-tui umount IMAGE without a record removes the same, in the same order', async () => {
    const t = setup();
    await leftBehind(t, { mounted: false });
    expect(await umountMain([IMAGE, '--json'], t.deps())).toBe(0);
    expect(JSON.parse(t.out.stdout)).toEqual({
      mountpoint: null,
      device: null,
      maps: ['loop0p1-luks-ubuntu--vg-lv0', 'loop0p1-luks', 'loop0p1'],
      loop: '/dev/loop0',
      luks: 'loop0p1-luks',
      overlay: null,
    });
    expect(steps(t.calls())).toEqual([
      'dm.remove loop0p1-luks-ubuntu--vg-lv0',
      'crypt.close loop0p1-luks',
      'dm.remove loop0p1-luks',
      'dm.remove loop0p1',
      'loop.detach',
    ]);
    t.nothingLeft();
    // Nothing left: there is no record and nothing to remove.
    t.out.stderr = '';
    expect(await umountMain([IMAGE], t.deps())).toBe(1);
    expect(t.out.stderr).toBe(
      `kpartx-tui umount: ${IMAGE}: not mounted by kpartx-tui mount (no record of it)\n`,
    );
  });

  it('kpartx-tui umount IMAGE without a record keeps a mounted LV, naming the mountpoint', async () => {
    const t = setup();
    const record = await leftBehind(t, { mounted: true });
    expect(await umountMain([IMAGE], t.deps())).toBe(1);
    expect(t.out.stderr).toContain(`kpartx-tui umount: ${IMAGE}: no record of a mount; `);
    expect(t.out.stderr).toContain(
      `kept loop0p1-luks-ubuntu--vg-lv0 (loop0p1-luks-ubuntu--vg-lv0 is in use by ${record.mountpoint}; not removing it)`,
    );
    expect(t.kernel.mounts.list().map((m) => m.target)).toEqual([record.mountpoint]);
    expect(t.kernel.dm!.info('loop0p1-luks')).toBeDefined();
  });

  it('the app`s clean-up unmounts the LV, removes it, closes LUKS, then the partition maps', async () => {
    const t = setup();
    const record = await leftBehind(t, { mounted: true });
    const engine = createTuiEngine({
      machine: t.kernel,
      isRoot: true,
      cwd: dir,
      mountRoot: join(dir, 'mnt'),
      backend: (kind, m) => (kind === 'dm' ? createDmBackend(m) : createLoopBackend(m)),
    });
    const said: string[] = [];
    const outcome = await engine.tearDown(
      IMAGE,
      { readOnly: false, delimiter: null, forceGpt: false, sync: true, backend: 'auto' },
      (e) => said.push(`${e.type} ${e.name}`),
    );
    expect(outcome.ok).toBe(true);
    expect(said.indexOf('note unmount loop0p1-luks-ubuntu--vg-lv0')).toBeGreaterThanOrEqual(0);
    expect(steps(t.calls())).toEqual([
      'unmount',
      'dm.remove loop0p1-luks-ubuntu--vg-lv0',
      'crypt.close loop0p1-luks',
      'dm.remove loop0p1-luks',
      'dm.remove loop0p1',
      'loop.detach',
    ]);
    expect(record.mountpoint).toBeTruthy();
    t.nothingLeft();
  });
});
