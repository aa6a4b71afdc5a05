/**
 * Our kpartx against real device-mapper, no udev: data through the maps, read-only maps, busy maps,
 * all-or-nothing add, /dev/mapper nodes, -d IMAGE, and two runs at once.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { MapEvent, ParentDevice, PlannedMap } from '../../src/engine/backend.js';
import { createDmBackend } from '../../src/engine/backends/dm.js';
import { createMachine } from '../../src/kernel/machine.js';
import {
  dmUuids,
  fixtureImage,
  guestState,
  inGuest,
  KPARTX_OURS,
  ours,
  resetGuest,
  run,
  sfdiskImage,
  sh,
  skipReason,
  workDir,
} from './guest.js';

const TWO_PARTS = 'label: dos\n2048,16384\n18432,16384\n';

describe.skipIf(!inGuest)(`kpartx on real device-mapper (${skipReason})`, () => {
  beforeAll(() => resetGuest());
  beforeEach(() => resetGuest());
  afterAll(() => {
    run('umount', ['-l', path.join(workDir, 'mnt')]);
    resetGuest();
  });

  it('maps an ext4 partition whose file, written before, reads back through the map', () => {
    const img = sfdiskImage('ext4', 32, TWO_PARTS);
    const content = path.join(workDir, 'content');
    fs.mkdirSync(content, { recursive: true });
    fs.writeFileSync(path.join(content, 'hello.txt'), 'written before mapping\n');
    sh('mkfs.ext4', '-q', '-F', '-E', `offset=${2048 * 512}`, '-d', content, img, '8M');
    const add = ours('-av', img);
    expect(add.stderr).toBe('');
    expect(add.stdout).toBe(
      'add map loop0p1 (254:0): 0 16384 linear 7:0 2048\nadd map loop0p2 (254:1): 0 16384 linear 7:0 18432\n',
    );
    expect(add.status).toBe(0);
    // No udev here: the nodes are ours, block devices with the kernel's numbers.
    expect(guestState().nodes).toEqual(['loop0p1 254:0', 'loop0p2 254:1']);
    const mnt = path.join(workDir, 'mnt');
    fs.mkdirSync(mnt, { recursive: true });
    sh('mount', '-t', 'ext4', '/dev/mapper/loop0p1', mnt);
    try {
      expect(fs.readFileSync(path.join(mnt, 'hello.txt'), 'utf8')).toBe('written before mapping\n');
      // Busy: the mounted map stays, says who holds it, the other map goes, the loop stays.
      const busy = ours('-dv', img);
      expect(busy.status).not.toBe(0);
      expect(busy.stdout).toBe('loop0p1 is in use. Not removing\ndel devmap : loop0p2\n');
      expect(busy.stderr).toContain(`loop0p1 is held by ${mnt}`);
      // The loop stays while p1 uses it: never "loop deleted" for it.
      expect(busy.stderr).not.toContain('loop deleted');
      expect(busy.stderr).toContain(
        'loop kept : /dev/loop0 (still used by loop0p1; it is released when no longer used)',
      );
      const state = guestState();
      expect(state.tables).toEqual(['loop0p1: 0 16384 linear 7:0 2048']);
      expect(state.loops).toEqual([`/dev/loop0 ${img}`]);
    } finally {
      sh('umount', mnt);
    }
    // -d IMAGE without udev (no /dev/block links) finds the loop and lets it go once unused.
    // The earlier -d already let go of the loop (the kernel detaches it once unused): no error now.
    const del = ours('-dv', img);
    expect({ status: del.status, stderr: del.stderr }).toEqual({
      status: 0,
      stderr: 'loop deleted : /dev/loop0\n',
    });
    expect(del.stdout).toBe('del devmap : loop0p1\n');
    expect(guestState()).toEqual({ tables: [], attrs: [], uuids: [], nodes: [], loops: [] });
  });

  it('-d removes our maps left without a live table (none, or only an inactive one)', () => {
    const loop = sh('losetup', '--show', '-f', sfdiskImage('tableless', 32, TWO_PARTS)).trim();
    expect(loop).toBe('/dev/loop0');
    // What a run killed between DM_DEV_CREATE and the resume leaves.
    sh('dmsetup', 'create', '--notable', '-u', 'part1-devnode_7:0_Wh5pYvM', 'loop0p1');
    sh('dmsetup', 'create', '--notable', '-u', 'part2-devnode_7:0_Wh5pYvM', 'loop0p2');
    sh('dmsetup', 'load', 'loop0p2', '--table', '0 16384 linear 7:0 18432');
    // Another parent's, and one without a UUID: not ours.
    sh('dmsetup', 'create', '--notable', '-u', 'part1-devnode_7:1_Wh5pYvM', 'loop1p1');
    sh('dmsetup', 'create', '--notable', 'bare');
    expect(sh('dmsetup', 'info', '-c', '--noheadings', '-o', 'name,attr', 'loop0p2').trim()).toBe(
      'loop0p2:-I-w',
    );
    const del = ours('-dv', loop);
    expect(del).toEqual({ status: 0, stdout: 'del devmap : loop0p1\ndel devmap : loop0p2\n', stderr: '' });
    expect([...dmUuids()].sort()).toEqual([
      ['bare', ''],
      ['loop1p1', 'part1-devnode_7:1_Wh5pYvM'],
    ]);
  });

  it('-d reports a table-less map of ours it cannot remove, with a non-zero status', async () => {
    const loop = sh('losetup', '--show', '-f', sfdiskImage('tableless-open', 32, TWO_PARTS)).trim();
    sh('dmsetup', 'create', '--notable', '-u', `part1-devnode_7:${loop.slice(9)}_Wh5pYvM`, 'held');
    // The kernel makes the disk (/dev/dm-N) at the first table load: an inactive table is enough
    // to hold it open. dmsetup makes no /dev/mapper node for a map it did not resume.
    sh('dmsetup', 'load', 'held', '--table', `0 8 linear 7:${loop.slice(9)} 2048`);
    const minor = sh('dmsetup', 'info', '-c', '--noheadings', '-o', 'minor', 'held').trim();
    const fd = fs.openSync(`/dev/dm-${minor}`, 'r');
    const holder = spawn('sleep', ['600'], { stdio: [fd, 'ignore', 'ignore'] });
    fs.closeSync(fd);
    const gone = new Promise((done) => holder.on('exit', done));
    try {
      const del = ours('-dv', loop);
      expect(del.status).toBe(1);
      expect(del.stdout).toBe('held is in use. Not removing\n');
      expect(dmUuids().has('held')).toBe(true);
    } finally {
      holder.kill('SIGKILL');
      await gone;
    }
    // Once nobody holds it, it goes.
    expect(ours('-dv', loop)).toEqual({ status: 0, stdout: 'del devmap : held\n', stderr: '' });
  });

  it('-u revives a table-less map of a partition that exists and removes one of a partition that is gone', () => {
    const img = sfdiskImage('tableless-update', 32, TWO_PARTS);
    const loop = sh('losetup', '--show', '-f', img).trim();
    sh('dmsetup', 'create', '--notable', '-u', 'part1-devnode_7:0_Wh5pYvM', 'loop0p1');
    sh('dmsetup', 'create', '--notable', '-u', 'part7-devnode_7:0_Wh5pYvM', 'loop0p7');
    const update = ours('-uv', loop);
    expect(update).toEqual({
      status: 0,
      stdout:
        'add map loop0p1 (254:0): 0 16384 linear 7:0 2048\nadd map loop0p2 (254:2): 0 16384 linear 7:0 18432\n' +
        'del devmap : loop0p7\n',
      stderr: '',
    });
    expect(guestState().tables).toEqual([
      'loop0p1: 0 16384 linear 7:0 2048',
      'loop0p2: 0 16384 linear 7:0 18432',
    ]);
    expect(ours('-d', loop).status).toBe(0);
  });

  it('names maps as libdevmapper mangles them: dmsetup keeps working, nodes are the mangled names', () => {
    const img = sfdiskImage('mangled', 32, TWO_PARTS);
    const add = ours('-av', '-p', ' x', img);
    expect(add).toEqual({
      status: 0,
      stdout:
        'add map loop0 x1 (254:0): 0 16384 linear 7:0 2048\nadd map loop0 x2 (254:1): 0 16384 linear 7:0 18432\n',
      stderr: '',
    });
    // With a raw space in a kernel name, dmsetup ls failed for every map of the system.
    expect(run('dmsetup', ['ls']).stdout).toBe('loop0 x1\t(254:0)\nloop0 x2\t(254:1)\n');
    expect(
      sh('dmsetup', 'info', '-c', '--noheadings', '-o', 'mangled_name').split('\n').filter(Boolean),
    ).toEqual(['loop0\\x20x1', 'loop0\\x20x2']);
    expect(guestState().nodes).toEqual(['loop0\\x20x1 254:0', 'loop0\\x20x2 254:1']);
    const del = ours('-dv', img);
    expect(del.stdout).toBe('del devmap : loop0 x1\ndel devmap : loop0 x2\n');
    expect(guestState()).toEqual({ tables: [], attrs: [], uuids: [], nodes: [], loops: [] });
  });

  it('never replaces or removes a regular file, a directory or a foreign symlink at /dev/mapper/<name>', () => {
    const img = sfdiskImage('squat', 32, TWO_PARTS);
    const squatters: [string, () => void, string][] = [
      ['loop0p2', () => fs.writeFileSync('/dev/mapper/loop0p2', 'keep me\n'), 'a regular file'],
      ['loop0p2', () => fs.mkdirSync('/dev/mapper/loop0p2'), 'a directory'],
      [
        'loop0p2',
        () => fs.symlinkSync('/etc/hostname', '/dev/mapper/loop0p2'),
        'a symbolic link to /etc/hostname',
      ],
    ];
    for (const [name, make, what] of squatters) {
      make();
      const add = ours('-av', img);
      expect(add.status).toBe(1);
      expect(add.stdout).toBe('');
      expect(add.stderr).toBe(
        `/dev/mapper/${name} exists and is ${what}, not a device node; not replacing it\n` +
          '/dev/loop0: no maps created or changed: 1 partition cannot be mapped\n' +
          'loop deleted : /dev/loop0\n',
      );
      expect(guestState()).toMatchObject({ tables: [], loops: [] });
      expect(fs.lstatSync(`/dev/mapper/${name}`).isBlockDevice()).toBe(false);
      fs.rmSync(`/dev/mapper/${name}`, { recursive: true });
    }
    // Put there while the map exists: -d removes the map and leaves the file.
    expect(ours('-a', img).status).toBe(0);
    fs.rmSync('/dev/mapper/loop0p2');
    fs.writeFileSync('/dev/mapper/loop0p2', 'keep me\n');
    const del = ours('-dv', img);
    expect(del.status).toBe(0);
    expect(del.stdout).toBe('del devmap : loop0p1\ndel devmap : loop0p2\n');
    expect(del.stderr).toBe(
      "/dev/mapper/loop0p2 is a regular file, not this map's device node; left in place\nloop deleted : /dev/loop0\n",
    );
    expect(fs.readFileSync('/dev/mapper/loop0p2', 'utf8')).toBe('keep me\n');
    expect(guestState()).toMatchObject({ tables: [], loops: [] });
  });

  it('-r makes read-only maps that refuse writes', () => {
    // A block device operand: with an image, a read-only loop would keep later maps read-only.
    const loop = sh('losetup', '--show', '-f', sfdiskImage('ro', 32, TWO_PARTS)).trim();
    expect(ours('-ar', loop).status).toBe(0);
    expect(sh('blockdev', '--getro', '/dev/mapper/loop0p1').trim()).toBe('1');
    const write = run('dd', ['if=/dev/zero', 'of=/dev/mapper/loop0p1', 'bs=512', 'count=1', 'oflag=direct']);
    expect(write.status).not.toBe(0);
    expect(write.stderr).toMatch(/Operation not permitted|Read-only/);
    // -a without -r makes them writable again, as the C tool does.
    expect(ours('-a', loop).status).toBe(0);
    expect(sh('blockdev', '--getro', '/dev/mapper/loop0p1').trim()).toBe('0');
    expect(ours('-d', loop).status).toBe(0);
    expect(guestState().tables).toEqual([]);
  });

  it('-n without udev still gets nodes; -d removes them', () => {
    const img = sfdiskImage('nosync', 32, TWO_PARTS);
    expect(ours('-an', img).status).toBe(0);
    expect(guestState().nodes).toEqual(['loop0p1 254:0', 'loop0p2 254:1']);
    expect(ours('-dn', img).status).toBe(0);
    expect(guestState()).toEqual({ tables: [], attrs: [], uuids: [], nodes: [], loops: [] });
  });

  it('a conflicting map makes -a change nothing and release the loop it attached', () => {
    resetGuest();
    const img = sfdiskImage('conflict', 32, 'label: dos\n2048,8192\n10240,8192\n18432,8192\n');
    sh('dmsetup', 'create', 'loop0p3', '--table', '0 8 error');
    const add = ours('-av', img);
    expect(add.status).toBe(1);
    expect(add.stdout).toBe('');
    expect(add.stderr).toContain('loop0p3 is already in use, and not a kpartx partition');
    const state = guestState();
    expect(state.tables).toEqual(['loop0p3: 0 8 error']);
    expect(state.loops).toEqual([]);
    resetGuest();
  });

  it('rolls back maps made before a failure in the middle of a run', async () => {
    resetGuest();
    const img = sfdiskImage('rollback', 32, 'label: dos\n2048,8192\n10240,8192\n18432,8192\n');
    const loop = sh('losetup', '--show', '-f', img).trim();
    const kernel = createMachine();
    let made = 0;
    const backend = createDmBackend(kernel, {
      afterMap: () => {
        made++;
        if (made === 2) throw new Error('injected failure after the second map');
      },
    });
    const parent: ParentDevice = {
      path: loop,
      devno: { major: 7, minor: Number(loop.replace('/dev/loop', '')) },
      sizeSectors: 65536,
      logicalSectorSize: 512,
      uuid: `devnode_7:${loop.replace('/dev/loop', '')}_Wh5pYvM`,
      mapName: path.basename(loop),
    };
    const maps: PlannedMap[] = [2048, 10240, 18432].map((start, i) => ({
      number: i + 1,
      name: `${parent.mapName}p${i + 1}`,
      dmName: `${parent.mapName}p${i + 1}`,
      kernelName: `${parent.mapName}p${i + 1}`,
      uuid: `part${i + 1}-${parent.uuid}`,
      start,
      size: 8192,
      contained: false,
      readOnly: false,
    }));
    const events: MapEvent[] = [];
    const result = await backend.add({ parent, maps, readOnly: false, sync: true }, (e) => events.push(e));
    expect(result.failures).toBe(1);
    expect(events.map((e) => e.type)).toEqual(['created', 'created', 'failed', 'rolled-back', 'rolled-back']);
    expect(events[2]).toMatchObject({
      name: `${parent.mapName}p2`,
      message: 'injected failure after the second map',
    });
    expect(guestState()).toMatchObject({ tables: [], nodes: [] });
    resetGuest();
  });

  it('-u removes the map of a deleted partition; a past-the-end partition is refused', () => {
    resetGuest();
    const img = sfdiskImage('update', 32, 'label: dos\n2048,8192\n10240,8192\n18432,8192\n');
    expect(ours('-a', img).status).toBe(0);
    sh('sfdisk', '-q', '--delete', img, '2');
    const update = ours('-uv', img);
    expect(update.status).toBe(0);
    expect(update.stdout).toBe(
      'add map loop0p1 (254:0): 0 8192 linear 7:0 2048\nadd map loop0p3 (254:2): 0 8192 linear 7:0 18432\ndel devmap : loop0p2\n',
    );
    expect(ours('-d', img).status).toBe(0);
    // Shrink the image under the table: the last partition no longer fits.
    fs.truncateSync(img, 20 * 512 * 1024);
    const add = ours('-av', img);
    expect(add.status).not.toBe(0);
    expect(add.stderr).toMatch(/loop0p3: partition 3 .*past the end/);
    expect(guestState()).toMatchObject({ tables: [], loops: [] });
  });

  it('SIGINT during -a of 128 partitions: it stops, takes its maps and loop back, exits 130', async () => {
    resetGuest();
    const img = fixtureImage('dos-gpt/t05.img.xz');
    const child = spawn(process.execPath, [KPARTX_OURS, '-a', img], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
    // Interrupt once some maps exist, long before all 128 do.
    const deadline = Date.now() + 60_000;
    while (!fs.existsSync('/dev/mapper/loop0p3') && Date.now() < deadline) {
      await new Promise((done) => setTimeout(done, 5));
    }
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(stderr).toMatch(/\/dev\/loop0: interrupted before loop0p\d+; removing the maps this run made/);
    expect(stderr).toContain('kpartx: interrupted by SIGINT');
    expect(stderr).not.toContain('loop0p128');
    expect(guestState()).toMatchObject({ tables: [], nodes: [], loops: [] });
  });

  it('-dv removes 128 maps side by side and reports them in the listing order', () => {
    resetGuest();
    const img = fixtureImage('dos-gpt/t05.img.xz');
    expect(ours('-a', img).status).toBe(0);
    expect(guestState().tables).toHaveLength(128);
    // The kernel's listing order (the walk -d makes), not sorted.
    const listed = [...dmUuids().keys()];
    const removal = ours('-dv', img);
    expect(removal.status).toBe(0);
    expect(removal.stdout).toBe(listed.map((name) => `del devmap : ${name}\n`).join(''));
    expect(guestState()).toMatchObject({ tables: [], nodes: [], loops: [] });
  });

  it('two runs on the same device at once do not interleave', async () => {
    resetGuest();
    const img = sfdiskImage('lock', 32, 'label: dos\n2048,4096\n6144,4096\n10240,4096\n14336,4096\n');
    const loop = sh('losetup', '--show', '-f', img).trim();
    const runOne = () =>
      new Promise<number>((resolve) => {
        const child = spawn(process.execPath, [KPARTX_OURS, '-a', loop], { stdio: 'ignore' });
        child.on('close', (code) => resolve(code ?? -1));
      });
    const codes = await Promise.all([runOne(), runOne(), runOne()]);
    expect(codes).toEqual([0, 0, 0]);
    expect(guestState().tables).toHaveLength(4);
    expect(ours('-d', loop).status).toBe(0);
    resetGuest();
  });
});
