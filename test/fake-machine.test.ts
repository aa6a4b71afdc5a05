import { describe, expect, it } from 'vitest';
import { KernelError } from '../src/kernel/types.js';
import { FakeMachine } from './support/fake-machine.js';

const image = (sectors: number) => {
  const bytes = new Uint8Array(sectors * 512);
  bytes[512] = 0xab;
  return bytes;
};

describe('FakeMachine loops', () => {
  it('hands out the lowest free index and reads through the loop', () => {
    const k = new FakeMachine({ loopDevices: 2 });
    k.addFile('/img/a.img', image(100));
    expect(k.loop.nextFreeIndex()).toBe(0);
    const a = k.loop.attach('/img/a.img', { readOnly: false });
    expect(a).toMatchObject({ index: 0, path: '/dev/loop0', backingFile: '/img/a.img', readOnly: false });
    const b = k.loop.attach('/img/a.img', { readOnly: true, offset: 512 });
    expect(b.index).toBe(1);
    expect(k.loop.nextFreeIndex()).toBe(2);
    expect(k.blockDevice('/dev/loop1')).toMatchObject({ sizeBytes: 99 * 512, readOnly: true });
    expect(k.deviceDisk('/dev/loop1').readAt(0, 1)[0]).toBe(0xab);
    k.loop.detach('/dev/loop0');
    expect(k.loop.nextFreeIndex()).toBe(0);
    expect(k.loop.list().map((l) => l.path)).toEqual(['/dev/loop1']);
  });

  it('rounds a loop size down to whole sectors', () => {
    const k = new FakeMachine();
    k.addFile('/img/odd', new Uint8Array(1000));
    const loop = k.loop.attach('/img/odd', { readOnly: false });
    expect(k.blockDevice(loop.path).sizeBytes).toBe(512);
  });
});

describe('FakeMachine device-mapper', () => {
  const setup = () => {
    const k = new FakeMachine();
    k.addFile('/img/d.img', image(2048));
    const loop = k.loop.attach('/img/d.img', { readOnly: false });
    return { k, dm: k.dm!, loop };
  };

  it('creates maps with the lowest free minor and refuses duplicate names and uuids', async () => {
    const { k, dm } = setup();
    const table = [{ start: 0, length: 100, type: 'linear', params: '7:0 1' }];
    expect(await dm.create('loop0p1', 'part1-x', table, { readOnly: false })).toEqual({
      major: 254,
      minor: 0,
    });
    await expect(dm.create('loop0p1', 'part9-x', table, { readOnly: false })).rejects.toThrow(KernelError);
    await expect(dm.create('other', 'part1-x', table, { readOnly: false })).rejects.toThrow(/busy/);
    expect(dm.info('loop0p1')).toMatchObject({ uuid: 'part1-x', openCount: 0, readOnly: false });
    expect(k.deviceDisk('/dev/mapper/loop0p1').readAt(0, 1)[0]).toBe(0xab);
    expect(k.calls).toContain('dm.create loop0p1');
  });

  it('refuses a linear target past the end of its device', async () => {
    const { dm } = setup();
    const table = [{ start: 0, length: 2048, type: 'linear', params: '7:0 1' }];
    await expect(dm.create('big', 'u', table, { readOnly: false })).rejects.toThrow(/Invalid argument/);
    expect(dm.info('big')).toBeUndefined();
  });

  it('applies a reload on resume, renames, and refuses to remove an open map', async () => {
    const { dm, k } = setup();
    await dm.create('m', 'u', [{ start: 0, length: 10, type: 'linear', params: '7:0 0' }], {
      readOnly: false,
    });
    await dm.reload('m', [{ start: 0, length: 20, type: 'linear', params: '7:0 0' }], { readOnly: true });
    expect(dm.table('m')[0]!.length).toBe(10);
    await dm.resume('m', { noFlush: true });
    expect(dm.table('m')[0]!.length).toBe(20);
    expect(dm.info('m')!.readOnly).toBe(true);
    await dm.rename('m', 'n');
    expect(dm.info('m')).toBeUndefined();
    k.setOpenCount('n', 1);
    await expect(dm.remove('n', { noFlush: false })).rejects.toThrow(/busy/);
    k.setOpenCount('n', 0);
    await dm.remove('n', { noFlush: false });
    expect(dm.list()).toEqual([]);
  });

  it('detaching a loop that maps still use only marks it autoclear', async () => {
    const { dm, k, loop } = setup();
    await dm.create('m', 'u', [{ start: 0, length: 10, type: 'linear', params: '7:0 0' }], {
      readOnly: false,
    });
    k.loop.detach(loop.path);
    expect(k.loop.list()[0]!.autoclear).toBe(true);
    await dm.remove('m', { noFlush: false });
    expect(k.loop.list()).toEqual([]);
  });

  it('injects failures on the nth call', async () => {
    const { dm, k } = setup();
    k.failOn('dm.create', { nth: 2, code: 'EBUSY' });
    const table = [{ start: 0, length: 10, type: 'linear', params: '7:0 0' }];
    await dm.create('a', 'ua', table, { readOnly: false });
    await expect(dm.create('b', 'ub', table, { readOnly: false })).rejects.toThrow(/Device or resource busy/);
    await dm.create('c', 'uc', table, { readOnly: false });
    expect(dm.list().map((m) => m.name)).toEqual(['a', 'c']);
  });

  it('can be a kernel without device-mapper', () => {
    expect(new FakeMachine({ dm: false }).dm).toBeNull();
  });
});

describe('FakeMachine mounts', () => {
  it('mounting holds the map open until unmounted', async () => {
    const k = new FakeMachine();
    k.addDisk('/dev/sdz', image(64));
    await k.dm!.create('sdz1', 'u', [{ start: 0, length: 8, type: 'linear', params: '8:0 0' }], {
      readOnly: false,
    });
    k.mounts.mount('/dev/mapper/sdz1', '/mnt', 'ext4', { readOnly: true });
    expect(k.dm!.info('sdz1')!.openCount).toBe(1);
    expect(k.mounts.list()[0]).toMatchObject({
      target: '/mnt',
      options: 'ro,nosuid,nodev,noexec',
      devno: { major: 254, minor: 0 },
    });
    k.mounts.unmount('/mnt');
    expect(k.dm!.info('sdz1')!.openCount).toBe(0);
  });
});
