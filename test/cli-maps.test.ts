import { describe, expect, it } from 'vitest';
import { mbrImage, runCli, t01 } from './cli-helpers.js';
import { FakeMachine } from './support/fake-machine.js';

const lines = (text: string) => text.split('\n').filter((l) => l !== '');
const ADD_T01 = [
  'add map loop0p1 (254:0): 0 16384 linear 7:0 2048',
  'add map loop0p2 (254:1): 0 16384 linear 7:0 18432',
  'add map loop0p3 (254:2): 0 16384 linear 7:0 34816',
  'add map loop0p4 (254:3): 0 79872 linear 7:0 51200',
];

function kernelWith(bytes = t01(), file = '/img/t01.img') {
  const kernel = new FakeMachine();
  kernel.addFile(file, bytes);
  return kernel;
}

describe('kpartx -a / -d on an image with device-mapper', () => {
  it('creates the maps, prints them with -v, and leaves the loop bound', async () => {
    const kernel = kernelWith();
    const run = await runCli(['-av', '/img/t01.img'], { kernel });
    expect(run).toEqual({ status: 0, stdout: `${ADD_T01.join('\n')}\n`, stderr: '' });
    expect(kernel.dm!.list().map((m) => [m.name, m.uuid])).toEqual([
      ['loop0p1', 'part1-devnode_7:0_Wh5pYvM'],
      ['loop0p2', 'part2-devnode_7:0_Wh5pYvM'],
      ['loop0p3', 'part3-devnode_7:0_Wh5pYvM'],
      ['loop0p4', 'part4-devnode_7:0_Wh5pYvM'],
    ]);
    expect(kernel.dm!.table('loop0p4')).toEqual([
      { start: 0, length: 79872, type: 'linear', params: '7:0 51200' },
    ]);
    expect(kernel.loop.list().map((l) => l.backingFile)).toEqual(['/img/t01.img']);
  });

  it('is silent without -v, reloads on a second run, and -d removes maps and the loop', async () => {
    const kernel = kernelWith();
    expect(await runCli(['-a', '/img/t01.img'], { kernel })).toEqual({ status: 0, stdout: '', stderr: '' });
    const again = await runCli(['-av', '/img/t01.img'], { kernel });
    expect(lines(again.stdout)).toEqual(ADD_T01);
    expect(kernel.calls.filter((c) => c.startsWith('dm.reload'))).toHaveLength(4);
    expect(kernel.loop.list()).toHaveLength(1);
    const removed = await runCli(['-dv', '/img/t01.img'], { kernel });
    expect(removed).toEqual({
      status: 0,
      stdout: 'del devmap : loop0p1\ndel devmap : loop0p2\ndel devmap : loop0p3\ndel devmap : loop0p4\n',
      stderr: 'loop deleted : /dev/loop0\n',
    });
    expect(kernel.dm!.list()).toEqual([]);
    expect(kernel.loop.list()).toEqual([]);
  });

  it('does nothing for -d on an image no loop is bound to', async () => {
    const kernel = kernelWith();
    expect(await runCli(['-dv', '/img/t01.img'], { kernel })).toEqual({ status: 0, stdout: '', stderr: '' });
    expect(kernel.calls).toEqual([]);
  });

  it('creates read-only maps on a read-only loop with -r', async () => {
    const kernel = kernelWith();
    expect((await runCli(['-ar', '/img/t01.img'], { kernel })).status).toBe(0);
    expect(kernel.loop.list()[0]!.readOnly).toBe(true);
    expect(kernel.dm!.info('loop0p1')!.readOnly).toBe(true);
  });

  it('maps logical partitions on the whole disk at their absolute start', async () => {
    const image = mbrImage(131072, [
      [0x83, 2048, 16384],
      [0x05, 18432, 112640],
    ]);
    image.set(mbrImage(1, [[0x83, 2048, 16384]]), 18432 * 512);
    const kernel = kernelWith(image, '/img/ext.img');
    const run = await runCli(['-av', '/img/ext.img'], { kernel });
    expect(lines(run.stdout)).toEqual([
      'add map loop0p1 (254:0): 0 16384 linear 7:0 2048',
      'add map loop0p2 (254:1): 0 2 linear 7:0 18432',
      'add map loop0p5 (254:2): 0 16384 linear 7:0 20480',
    ]);
  });
});

describe('kpartx -a refuses what it cannot do completely', () => {
  it('refuses an image whose partition ends past the end, creates nothing and lets go of the loop', async () => {
    const image = mbrImage(24576, [
      [0x83, 2048, 16384],
      [0x83, 18432, 16384],
    ]);
    const kernel = kernelWith(image, '/img/cut.img');
    const run = await runCli(['-av', '/img/cut.img'], { kernel });
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    expect(lines(run.stderr)).toEqual([
      'loop0p2: partition 2 (sectors 18432-34815) ends past the end of /dev/loop0 (24576 sectors)',
      '/dev/loop0: no maps created: the partition table does not fit the device',
    ]);
    expect(kernel.dm!.list()).toEqual([]);
    expect(kernel.loop.list()).toEqual([]);
  });

  it('rolls back when a create fails midway', async () => {
    const kernel = kernelWith();
    kernel.failOn('dm.create', { nth: 3, code: 'EBUSY' });
    const run = await runCli(['-av', '/img/t01.img'], { kernel });
    expect(run.status).toBeGreaterThan(0);
    expect(run.stderr).toContain('create/reload failed on loop0p3\n');
    expect(run.stderr).toContain('Device or resource busy');
    expect(kernel.dm!.list()).toEqual([]);
    expect(kernel.loop.list()).toEqual([]);
  });

  it('reports a same-named map that is not a kpartx partition and changes nothing', async () => {
    const kernel = kernelWith();
    kernel.loop.attach('/img/t01.img', { readOnly: false });
    kernel.seedMap('loop0p1', 'LVM-foreign', [{ start: 0, length: 8, type: 'linear', params: '7:0 0' }]);
    const run = await runCli(['-a', '/img/t01.img'], { kernel });
    expect(run.status).toBeGreaterThan(0);
    expect(run.stderr).toContain('loop0p1 is already in use, and not a kpartx partition\n');
    expect(kernel.dm!.list().map((m) => m.name)).toEqual(['loop0p1']);
  });
});

describe('kpartx -u and -d with device-mapper', () => {
  it('-u removes the map of a deleted partition', async () => {
    const kernel = kernelWith();
    await runCli(['-a', '/img/t01.img'], { kernel });
    const changed = t01();
    changed.fill(0, 446 + 2 * 16, 446 + 3 * 16);
    kernel.addFile('/img/t01.img', changed);
    const run = await runCli(['-uv', '/img/t01.img'], { kernel });
    expect(run.status).toBe(0);
    expect(lines(run.stdout)).toEqual([ADD_T01[0], ADD_T01[1], ADD_T01[3], 'del devmap : loop0p3']);
    expect(kernel.dm!.list().map((m) => m.name)).toEqual(['loop0p1', 'loop0p2', 'loop0p4']);
  });

  it('-d keeps a map that is in use, removes the others and reports status 1', async () => {
    const kernel = kernelWith();
    await runCli(['-a', '/img/t01.img'], { kernel });
    kernel.setOpenCount('loop0p2', 1);
    const run = await runCli(['-dv', '/dev/loop0'], { kernel });
    expect(run.status).toBe(1);
    expect(lines(run.stdout)).toEqual([
      'del devmap : loop0p1',
      'loop0p2 is in use. Not removing',
      'del devmap : loop0p3',
      'del devmap : loop0p4',
    ]);
    // A block-device operand never detaches the loop.
    expect(kernel.loop.list()).toHaveLength(1);
  });

  it('-d IMAGE says the loop stays while a kept map uses it, and deletes it only once released', async () => {
    const kernel = kernelWith();
    await runCli(['-a', '/img/t01.img'], { kernel });
    kernel.setOpenCount('loop0p2', 1);
    const busy = await runCli(['-dv', '/img/t01.img'], { kernel });
    expect(busy.status).toBe(1);
    expect(busy.stderr).toBe(
      'loop kept : /dev/loop0 (still used by loop0p2; it is released when no longer used)\n',
    );
    expect(kernel.loop.list()).toHaveLength(1);
    // Without -v nothing is said about the loop.
    expect((await runCli(['-d', '/img/t01.img'], { kernel })).stderr).toBe('');
    kernel.setOpenCount('loop0p2', 0);
    const done = await runCli(['-dv', '/img/t01.img'], { kernel });
    expect(done).toEqual({
      status: 0,
      stdout: 'del devmap : loop0p2\n',
      stderr: 'loop deleted : /dev/loop0\n',
    });
    expect(kernel.loop.list()).toEqual([]);
  });

  it('mangles map names as libdevmapper does, prints them unmangled, and finds them again', async () => {
    const kernel = kernelWith();
    const add = await runCli(['-av', '-p', ' x', '/img/t01.img'], { kernel });
    expect(lines(add.stdout)).toEqual(ADD_T01.map((line) => line.replace('loop0p', 'loop0 x')));
    expect(kernel.dm!.list().map((m) => m.name)).toEqual([
      'loop0\\x20x1',
      'loop0\\x20x2',
      'loop0\\x20x3',
      'loop0\\x20x4',
    ]);
    // The same maps again, also when the delimiter is given mangled already.
    expect((await runCli(['-u', '-p', '\\x20x', '/img/t01.img'], { kernel })).status).toBe(0);
    expect(kernel.dm!.list()).toHaveLength(4);
    const del = await runCli(['-dv', '/img/t01.img'], { kernel });
    expect(lines(del.stdout)).toEqual([1, 2, 3, 4].map((n) => `del devmap : loop0 x${n}`));
    expect(kernel.dm!.list()).toEqual([]);
    // `/` becomes `!`, which is mangled in turn.
    await runCli(['-a', '-p', '/x', '/img/t01.img'], { kernel });
    expect(kernel.dm!.list()[0]!.name).toBe('loop0\\x21x1');
  });

  it('refuses names libdevmapper cannot mangle before changing anything', async () => {
    const kernel = kernelWith();
    const run = await runCli(['-av', '-p', '\\x20 ', '/img/t01.img'], { kernel });
    expect(run.status).toBe(1);
    expect(lines(run.stderr)).toEqual([
      ...[1, 2, 3, 4].map(
        (n) =>
          `loop0\\x20 ${n}: device-mapper cannot take this name: it mixes mangled (\\xNN) and unmangled characters, or is mangled improperly`,
      ),
      '/dev/loop0: no maps created: device-mapper cannot take the map names',
    ]);
    expect(kernel.dm!.list()).toEqual([]);
    expect(kernel.loop.list()).toEqual([]);
  });

  it('names maps of a dm parent after it and derives their UUIDs from its UUID', async () => {
    const kernel = new FakeMachine();
    kernel.addDisk('/dev/sdq', t01(), { devno: { major: 65, minor: 0 } });
    kernel.seedMap('mpathx', 'mpath-3600abc', [
      { start: 0, length: 131072, type: 'linear', params: '65:0 0' },
    ]);
    const run = await runCli(['-av', '-p', '-part', '/dev/mapper/mpathx'], { kernel });
    expect(lines(run.stdout)[0]).toBe('add map mpathx-part1 (254:1): 0 16384 linear 254:0 2048');
    expect(kernel.dm!.info('mpathx-part1')!.uuid).toBe('part1-mpath-3600abc');
  });
});

describe('kpartx backend selection', () => {
  it('says device mapper prerequisites are not met for --backend dm without device-mapper', async () => {
    const kernel = new FakeMachine({ dm: false });
    kernel.addFile('/img/t01.img', t01());
    expect(await runCli(['-a', '--backend', 'dm', '/img/t01.img'], { kernel })).toEqual({
      status: 1,
      stdout: '',
      stderr: 'device mapper prerequisites not met\n',
    });
    // Checked before the operand count, like the C tool.
    expect(await runCli(['-d', '--backend=dm'], { kernel })).toMatchObject({
      status: 1,
      stderr: 'device mapper prerequisites not met\n',
    });
    expect(kernel.calls).toEqual([]);
  });

  it('still lists without device-mapper', async () => {
    const kernel = new FakeMachine({ dm: false });
    kernel.addFile('/img/t01.img', t01());
    expect((await runCli(['-l', '--backend', 'dm', '/img/t01.img'], { kernel })).status).toBe(0);
  });
});
