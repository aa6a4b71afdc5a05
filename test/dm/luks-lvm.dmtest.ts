/**
 * LVM on LUKS (Ubuntu's encrypted default) on real device-mapper, dm-crypt and lvm2 (the QEMU
 * guest): partition 2 holds LUKS2 made by cryptsetup, and inside it a PV of VG `ubuntu-vg` made by
 * lvm2 with an ext4 root LV; lvm2's table and the LV's bytes are recorded. A "host" VG also named
 * `ubuntu-vg` is active while `kpartx-tui mount img:ubuntu-vg/root` (passphrase on stdin) opens the
 * LUKS partition, reads the PV through it and maps the LV over `<map>-luks`: lvm2's target on the
 * same extents, the same bytes, the file read back. umount leaves only the host's map and loop; a
 * wrong passphrase leaves nothing. The app's engine does the same from its mount session: the LUKS
 * row opened with the passphrase, the LV inside offered, mounted, and everything closed again.
 * A mount killed with SIGKILL once its LV map exists (or whose record is gone) leaves the stack
 * without a record: `kpartx -d IMAGE`, and `kpartx-tui umount IMAGE`, take it down top first (LV
 * map, LUKS mapping, partition map, loop) and leave only the host's.
 */
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTuiEngine } from '../../src/tui/engine.js';
import { DEFAULT_OPTIONS } from '../../src/tui/model.js';
import {
  attachLoop,
  boundLoops,
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
const tui = (input: string, ...args: string[]) => run(process.execPath, [KPARTX_TUI, ...args], input);
const PASSPHRASE = 'guest lvm on luks';
const P2_START = 18432;
const P2_SECTORS = 81920; // 40 MiB: 16 MiB of LUKS2 header and keyslots, then the PV

describe.skipIf(!inGuest)(`kpartx-tui mount IMAGE:VG/LV with the PV inside LUKS (${skipReason})`, () => {
  const lvmDir = path.join(workDir, 'luks-lvm-system');
  const runDir = path.join(workDir, 'luks-lvm-run');
  let image = '';
  let hostLoop = '';
  /** lvm2's table of ubuntu-vg/root with the opened LUKS device written as `luks`, and its sha256. */
  let lvm2Table = '';
  let lvm2Sha = '';

  const lvm = (devices: string[], command: string, ...args: string[]) =>
    execFileSync(command, ['--devices', devices.join(','), ...args], {
      encoding: 'utf8',
      env: { ...process.env, LVM_SYSTEM_DIR: lvmDir, LVM_SUPPRESS_FD_WARNINGS: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 120_000,
    });
  const relative = (table: string, luks: string): string =>
    table.replaceAll(devnoOf(`/dev/mapper/${luks}`), 'luks');

  beforeAll(() => {
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
    image = sfdiskImage('ubuntu-like', 50, `label: dos\n2048,16384,83\n${P2_START},${P2_SECTORS},83\n`);
    const part = `${image}.p2`;
    fs.writeFileSync(part, '');
    fs.truncateSync(part, P2_SECTORS * 512);
    const format = run(
      'cryptsetup',
      [
        'luksFormat',
        '-q',
        '--type',
        'luks2',
        '--pbkdf',
        'pbkdf2',
        '--pbkdf-force-iterations',
        '1000',
        '--key-file',
        '-',
        part,
      ],
      PASSPHRASE,
    );
    if (format.status !== 0) throw new Error(`luksFormat: ${format.stderr}`);
    const opened = run('cryptsetup', ['open', '--key-file', '-', part, 'kpt-setup'], PASSPHRASE);
    if (opened.status !== 0) throw new Error(`cryptsetup open: ${opened.stderr}`);
    const pv = '/dev/mapper/kpt-setup';
    try {
      lvm([pv], 'pvcreate', '-q', pv);
      lvm([pv], 'vgcreate', '-q', '-s', '1m', 'ubuntu-vg', pv);
      lvm([pv], 'lvcreate', '-q', '-y', '-L', '12m', '-n', 'root', 'ubuntu-vg');
      const content = path.join(workDir, 'luks-lvm-content');
      fs.mkdirSync(content, { recursive: true });
      fs.writeFileSync(path.join(content, 'hello.txt'), 'root of an encrypted ubuntu-vg\n');
      const map = '/dev/mapper/ubuntu--vg-root';
      sh('mkfs.ext4', '-q', '-F', '-d', content, map);
      lvm2Table = relative(dmTables().get('ubuntu--vg-root')!, 'kpt-setup');
      lvm2Sha = sh('sha256sum', map).split(' ')[0]!;
      lvm([pv], 'vgchange', '-q', '-an', 'ubuntu-vg');
    } finally {
      run('cryptsetup', ['close', 'kpt-setup']);
    }
    sh('dd', `if=${part}`, `of=${image}`, 'bs=512', `seek=${P2_START}`, 'conv=notrunc', 'status=none');
    fs.rmSync(part);
    resetGuest(); // the loop cryptsetup attached for the file
    expect(dmTables().size).toBe(0);

    // The "host's" own VG, also named ubuntu-vg, active while the image's LV is mapped.
    const host = path.join(workDir, 'luks-host-pv.img');
    fs.writeFileSync(host, '');
    fs.truncateSync(host, 16 * 1024 * 1024);
    hostLoop = attachLoop(host);
    lvm([hostLoop], 'pvcreate', '-q', hostLoop);
    lvm([hostLoop], 'vgcreate', '-q', 'ubuntu-vg', hostLoop);
    lvm([hostLoop], 'lvcreate', '-q', '-y', '-L', '4m', '-n', 'root', 'ubuntu-vg');
    expect([...dmTables().keys()]).toEqual(['ubuntu--vg-root']);
  });

  afterAll(() => {
    for (const line of fs.readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
      const target = line.split(' ')[1];
      if (target?.startsWith(`${workDir}/`)) run('umount', [target]);
    }
    resetGuest();
    fs.rmSync(workDir, { recursive: true, force: true });
  });

  const hostOnly = () => {
    expect([...dmTables().keys()]).toEqual(['ubuntu--vg-root']);
    expect(boundLoops()).toEqual([`${hostLoop} ${path.join(workDir, 'luks-host-pv.img')}`]);
  };

  it('lvm2 put root in one run on the opened volume', () => {
    expect(lvm2Table).toMatch(/^0 24576 linear luks \d+$/);
  });

  it('opens partition 2, maps ubuntu-vg/root over it with lvm2`s target and bytes, and umount leaves only the host`s', () => {
    const mounted = tui(`${PASSPHRASE}\n`, 'mount', `${image}:ubuntu-vg/root`, '--json');
    expect(mounted.stderr).toBe('');
    expect(mounted.status).toBe(0);
    const result = JSON.parse(mounted.stdout);
    expect(result).toMatchObject({ backend: 'dm', readOnly: true, fstype: 'ext4', partition: 2 });
    expect(result.luks).toBe(`${result.maps[0]}-luks`);
    expect(result.device).toBe(`/dev/mapper/${result.luks}-ubuntu--vg-root`);
    const name = path.basename(result.device);
    const tables = dmTables();
    expect([...tables.keys()].sort()).toEqual([result.maps[0], result.luks, name, 'ubuntu--vg-root'].sort());
    expect(tables.get(result.luks)).toMatch(/ crypt aes-xts-plain64 /);
    expect(relative(tables.get(name)!, result.luks)).toBe(lvm2Table);
    expect(dmUuids().get(name)).toMatch(/^kpartx-tui-lv-[0-9A-Za-z]{64}-\d+:\d+$/);
    expect(run('blockdev', ['--getro', result.device]).stdout.trim()).toBe('1');
    expect(sh('sha256sum', result.device).split(' ')[0]).toBe(lvm2Sha);
    expect(fs.readFileSync(path.join(result.mountpoint, 'hello.txt'), 'utf8')).toBe(
      'root of an encrypted ubuntu-vg\n',
    );
    const umounted = tui('', 'umount', result.mountpoint, '--json');
    expect(umounted.stderr).toBe('');
    expect(umounted.status).toBe(0);
    expect(JSON.parse(umounted.stdout)).toMatchObject({ luks: result.luks, maps: [result.maps[0]] });
    hostOnly();
    expect(fs.readdirSync('/dev/mapper').sort()).toEqual(['control', 'ubuntu--vg-root']);
  });

  it('IMAGE:N/VG/LV names the LUKS partition', () => {
    const mounted = tui(`${PASSPHRASE}\n`, 'mount', `${image}:2/ubuntu-vg/root`, '--json');
    expect(mounted.status).toBe(0);
    const result = JSON.parse(mounted.stdout);
    expect(fs.readFileSync(path.join(result.mountpoint, 'hello.txt'), 'utf8')).toBe(
      'root of an encrypted ubuntu-vg\n',
    );
    expect(tui('', 'umount', image).status).toBe(0);
    hostOnly();
  });

  it('the app: the LUKS row opened, its LV offered and mounted over <map>-luks, then all closed', async () => {
    const app = createTuiEngine({ mountRoot: path.join(workDir, 'app-mnt'), cwd: workDir });
    const added = await app.add(image, { ...DEFAULT_OPTIONS, readOnly: true }, () => {});
    expect(added.ok).toBe(true);
    await app.inspect(image, DEFAULT_OPTIONS); // the first look skips the contents
    const before = await app.inspect(image, DEFAULT_OPTIONS);
    const luksRow = before.existing.find((m) => m.luks)!;
    expect(luksRow.number).toBe(2);
    const opened = await app.unlock(luksRow.path, PASSPHRASE, { readOnly: true, exec: false });
    expect(opened).toMatchObject({ opened: `${luksRow.name}-luks` });
    const after = await app.inspect(image, DEFAULT_OPTIONS);
    const lvRow = after.volumes?.find((v) => v.name === `${luksRow.name}-luks-ubuntu--vg-root`);
    expect(lvRow?.notMountableWhy).toBeUndefined();
    const mount = await app.mount(lvRow!.path, { readOnly: true, exec: false });
    expect(relative(dmTables().get(path.basename(lvRow!.path))!, `${luksRow.name}-luks`)).toBe(lvm2Table);
    expect(fs.readFileSync(path.join(mount.mountpoint, 'hello.txt'), 'utf8')).toBe(
      'root of an encrypted ubuntu-vg\n',
    );
    await app.unmount(mount);
    // The LV map and the LUKS mapping are gone with the unmount; the partition maps stay.
    expect([...dmTables().keys()].sort()).toEqual(
      [`${luksRow.name.replace(/2$/, '1')}`, luksRow.name, 'ubuntu--vg-root'].sort(),
    );
    const removed = await app.remove(image, DEFAULT_OPTIONS, () => {});
    expect(removed.ok).toBe(true);
    hostOnly();
  });

  /** What a mount that never wrote its record leaves: any mount of it undone, the records gone. */
  const forgetMounts = () => {
    for (const line of fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').reverse()) {
      const target = line.split(' ')[1];
      if (target?.startsWith(`${runDir}/`)) expect(run('umount', [target]).status).toBe(0);
    }
    const records = path.join(runDir, 'mounts');
    for (const name of fs.existsSync(records) ? fs.readdirSync(records) : [])
      fs.rmSync(path.join(records, name));
  };
  const lvNode = () => fs.readdirSync('/dev/mapper').find((name) => name.endsWith('-luks-ubuntu--vg-root'));

  it('kpartx -d after a mount killed by SIGKILL removes the LV map, closes LUKS, then the partition map and loop', async () => {
    const child = spawn(process.execPath, [KPARTX_TUI, 'mount', `${image}:ubuntu-vg/root`, '--json'], {
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    let done = false;
    child.on('exit', () => {
      done = true;
    });
    child.stdin!.end(`${PASSPHRASE}\n`);
    // Killed the moment its LV map is there (it may have got further on a fast run: then that is undone by hand).
    const deadline = Date.now() + 300_000;
    while (!lvNode() && !done && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    child.kill('SIGKILL');
    await exited;
    const lv = lvNode();
    expect(lv).toBeDefined();
    forgetMounts();
    const luks = lv!.replace(/-ubuntu--vg-root$/, '');
    const partition = luks.replace(/-luks$/, '');
    expect(run('cryptsetup', ['status', luks]).status).toBe(0);
    expect([...dmTables().keys()].sort()).toEqual([partition, luks, lv, 'ubuntu--vg-root'].sort());

    const removed = ours('-dv', image);
    expect(removed.stderr).toMatch(/^loop deleted : \/dev\/loop\d+\n$/);
    expect(removed.stdout).toBe(`del devmap : ${lv}\ndel devmap : ${luks}\ndel devmap : ${partition}\n`);
    expect(removed.status).toBe(0);
    hostOnly();
    expect(fs.readdirSync('/dev/mapper').sort()).toEqual(['control', 'ubuntu--vg-root']);
    const status = run('cryptsetup', ['status', luks]);
    expect(status.status).not.toBe(0);
    expect(status.stdout).toContain('inactive');
  });

  it('kpartx-tui umount IMAGE without the mount`s record takes the same stack down', () => {
    const mounted = tui(`${PASSPHRASE}\n`, 'mount', `${image}:ubuntu-vg/root`, '--json');
    expect(mounted.status).toBe(0);
    const result = JSON.parse(mounted.stdout);
    forgetMounts();
    const umounted = tui('', 'umount', image, '--json');
    expect(umounted.stderr).toBe('');
    expect(umounted.status).toBe(0);
    expect(JSON.parse(umounted.stdout)).toEqual({
      mountpoint: null,
      device: null,
      maps: [path.basename(result.device), result.luks, result.maps[0]],
      loop: result.loop,
      luks: result.luks,
      overlay: null,
    });
    hostOnly();
    expect(run('cryptsetup', ['status', result.luks]).status).not.toBe(0);
  });

  it('a wrong passphrase fails with cryptsetup`s reason and leaves nothing', () => {
    const mounted = tui('not the passphrase\n', 'mount', `${image}:ubuntu-vg/root`);
    expect(mounted.status).toBe(1);
    expect(mounted.stderr).toContain(
      `${image}:2: cryptsetup open failed: No key available with this passphrase.`,
    );
    hostOnly();
    expect(
      fs.existsSync(path.join(runDir, 'mounts')) ? fs.readdirSync(path.join(runDir, 'mounts')) : [],
    ).toEqual([]);
  });
});
