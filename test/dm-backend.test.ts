import { describe, expect, it } from 'vitest';
import type { MapEvent, ParentDevice, PlannedMap } from '../src/engine/backend.js';
import { conflictReason, createDmBackend, isLinearOn } from '../src/engine/backends/dm.js';
import { mappedNumbers, takeBackAdd } from '../src/engine/interruption.js';
import { FakeMachine } from './support/fake-machine.js';

const U = 'devnode_7:0_Wh5pYvM';
const parent: ParentDevice = {
  path: '/dev/loop0',
  devno: { major: 7, minor: 0 },
  sizeSectors: 131072,
  logicalSectorSize: 512,
  uuid: U,
  mapName: 'loop0',
};

const planned = (
  number: number,
  start: number,
  size: number,
  extra: Partial<PlannedMap> = {},
): PlannedMap => ({
  number,
  name: `loop0p${number}`,
  dmName: `loop0p${number}`,
  kernelName: `loop0p${number}`,
  uuid: `part${number}-${U}`,
  start,
  size,
  contained: false,
  readOnly: false,
  ...extra,
});

const MAPS = [
  planned(1, 2048, 16384),
  planned(2, 18432, 16384),
  planned(5, 36864, 8192, { contained: true }),
];

function setup() {
  const kernel = new FakeMachine();
  kernel.addFile('/img/disk.img', new Uint8Array(131072 * 512));
  kernel.loop.attach('/img/disk.img', { readOnly: false });
  kernel.calls.length = 0;
  const { nodeLog } = kernel;
  const backend = createDmBackend(kernel);
  const events: MapEvent[] = [];
  const emit = (event: MapEvent) => void events.push(event);
  const tables = () =>
    new Map(kernel.dm!.list().map((e) => [e.name, `${e.uuid} ${kernel.dm!.table(e.name)[0]?.params}`]));
  return { kernel, backend, events, emit, nodeLog, tables };
}

const linear = (params: string, length = 16384) => [{ start: 0, length, type: 'linear', params }];

describe('ownership helpers', () => {
  it('compares device numbers exactly, never as substrings (B1)', () => {
    expect(isLinearOn(linear('7:1 2048'), { major: 7, minor: 1 })).toBe(true);
    expect(isLinearOn(linear('7:10 2048'), { major: 7, minor: 1 })).toBe(false);
    expect(isLinearOn(linear('17:1 2048'), { major: 7, minor: 1 })).toBe(false);
    expect(
      isLinearOn([{ start: 0, length: 8, type: 'striped', params: '7:1 0' }], { major: 7, minor: 1 }),
    ).toBe(false);
  });

  it('classifies same-named maps like the C messages', () => {
    expect(conflictReason(`part3-${U}`, U)).toBeNull();
    expect(conflictReason('', U)).toBe('not-kpartx');
    expect(conflictReason('LVM-abc', U)).toBe('not-kpartx');
    expect(conflictReason('part2-devnode_7:5_Wh5pYvM', U)).toBe('other-device');
  });
});

describe('dm backend on the fake kernel', () => {
  it('creates maps with part<N>-<parent uuid>, then reloads them on a second add', async () => {
    const { backend, events, emit, tables, nodeLog, kernel } = setup();
    expect((await backend.add({ parent, maps: MAPS, readOnly: false, sync: true }, emit)).failures).toBe(0);
    expect(tables()).toEqual(
      new Map([
        ['loop0p1', `part1-${U} 7:0 2048`],
        ['loop0p2', `part2-${U} 7:0 18432`],
        ['loop0p5', `part5-${U} 7:0 36864`],
      ]),
    );
    expect(events.map((e) => e.type)).toEqual(['created', 'created', 'created']);
    expect(nodeLog).toEqual(['+loop0p1', '+loop0p2', '+loop0p5']);
    events.length = 0;
    expect((await backend.add({ parent, maps: MAPS, readOnly: true, sync: true }, emit)).failures).toBe(0);
    expect(events.map((e) => e.type)).toEqual(['reloaded', 'reloaded', 'reloaded']);
    expect(kernel.dm!.info('loop0p1')?.readOnly).toBe(true);
    expect(backend.existing(parent).map((m) => [m.name, m.number, m.start, m.size])).toEqual([
      ['loop0p1', 1, 2048, 16384],
      ['loop0p2', 2, 18432, 16384],
      ['loop0p5', 5, 36864, 8192],
    ]);
  });

  it('refuses the whole run when a same-named map is not ours, takes nothing over (B3)', async () => {
    const { backend, kernel, events, emit } = setup();
    kernel.seedMap('loop0p2', '', linear('7:0 18432'));
    kernel.seedMap('loop0p5', 'part5-devnode_7:9_Wh5pYvM', linear('7:9 0', 8192));
    const result = await backend.add({ parent, maps: MAPS, readOnly: false, sync: true }, emit);
    expect(result.failures).toBe(2);
    expect(events.filter((e) => e.type === 'conflict')).toEqual([
      { type: 'conflict', name: 'loop0p2', reason: 'not-kpartx' },
      { type: 'conflict', name: 'loop0p5', reason: 'other-device' },
    ]);
    expect(kernel.dm!.info('loop0p1')).toBeUndefined();
    expect(kernel.calls).toEqual([]);
  });

  it('renames a map found by its UUID (delimiter change) and reloads it', async () => {
    const { backend, kernel, events, emit, nodeLog } = setup();
    kernel.seedMap('loop0-part1', `part1-${U}`, linear('7:0 2048'));
    await backend.add({ parent, maps: [MAPS[0]!], readOnly: false, sync: true }, emit);
    expect(events[0]).toEqual({ type: 'renamed', from: 'loop0-part1', to: 'loop0p1', uuid: `part1-${U}` });
    expect(events[1]?.type).toBe('reloaded');
    expect(nodeLog).toContain('loop0-part1>loop0p1');
    expect(kernel.dm!.info('loop0-part1')).toBeUndefined();
  });

  it('does not rename a UUID owner that maps another device', async () => {
    const { backend, kernel, events, emit } = setup();
    kernel.seedMap('stale1', `part1-${U}`, linear('7:1 2048'));
    expect((await backend.add({ parent, maps: MAPS, readOnly: false, sync: true }, emit)).failures).toBe(1);
    expect(events[0]).toMatchObject({
      type: 'failed',
      name: 'loop0p1',
      message: expect.stringMatching(/already used by map stale1/),
    });
    expect(kernel.dm!.list().map((e) => e.name)).toEqual(['stale1']);
  });

  it('rolls back everything the run did when a later map fails, a contained one included', async () => {
    const { backend, kernel, events, emit } = setup();
    kernel.seedMap('loop0p1', `part1-${U}`, linear('7:0 1000'));
    kernel.failOn('dm.create', { device: 'loop0p5', code: 'EBUSY' });
    const result = await backend.add({ parent, maps: MAPS, readOnly: false, sync: true }, emit);
    expect(result.failures).toBe(1);
    expect(events.filter((e) => e.type === 'failed')).toEqual([
      { type: 'failed', name: 'loop0p5', op: 'create', message: expect.stringMatching(/loop0p5.*busy/i) },
    ]);
    expect(
      events.filter((e) => e.type === 'rolled-back').map((e) => e.type === 'rolled-back' && e.name),
    ).toEqual(['loop0p2']);
    // p2 is gone again, p1 has its old table back.
    expect([...kernel.dm!.list().map((e) => e.name)]).toEqual(['loop0p1']);
    expect(kernel.dm!.table('loop0p1')[0]?.params).toBe('7:0 1000');
  });

  it('stops before the next map when interrupted and removes what it made', async () => {
    const { kernel, events, emit } = setup();
    const interruption = new AbortController();
    const backend = createDmBackend(kernel, {
      afterMap: (map) => {
        if (map.number === 2) interruption.abort(new Error('SIGINT'));
      },
    });
    const request = { parent, maps: MAPS, readOnly: false, sync: true, interrupted: interruption.signal };
    expect((await backend.add(request, emit)).failures).toBe(1);
    expect(events.map((e) => e.type)).toEqual([
      'created',
      'created',
      'refused',
      'rolled-back',
      'rolled-back',
    ]);
    expect(events[2]).toEqual({
      type: 'refused',
      name: '/dev/loop0',
      message: '/dev/loop0: interrupted before loop0p5; removing the maps this run made',
    });
    expect(kernel.dm!.list()).toEqual([]);
    expect(kernel.calls.filter((call) => call.startsWith('dm.create'))).toEqual([
      'dm.create loop0p1',
      'dm.create loop0p2',
    ]);
  });

  it('taking back a finished add removes what it made and keeps what was there before', async () => {
    const { backend, kernel, events, emit } = setup();
    kernel.seedMap('loop0p1', `part1-${U}`, linear('7:0 2048'));
    const request = { parent, maps: MAPS, readOnly: false, sync: true };
    const before = mappedNumbers(backend, request);
    expect(before).toEqual(new Set([1]));
    await backend.add(request, emit);
    expect(kernel.dm!.list().map((e) => e.name)).toEqual(['loop0p1', 'loop0p2', 'loop0p5']);
    events.length = 0;
    await takeBackAdd(backend, request, before, emit);
    expect(kernel.dm!.list().map((e) => e.name)).toEqual(['loop0p1']);
    expect(events.filter((e) => e.type === 'removed').map((e) => e.type === 'removed' && e.name)).toEqual([
      'loop0p5',
      'loop0p2',
    ]);
    // Nothing of the run left (it rolled back by itself): no update at all.
    kernel.calls.length = 0;
    await takeBackAdd(backend, request, before, emit);
    expect(kernel.calls).toEqual([]);
  });

  it('update removes stale maps of this parent only, never a foreign same-named one (B2)', async () => {
    const { backend, kernel, events, emit } = setup();
    await backend.add({ parent, maps: MAPS, readOnly: false, sync: true }, emit);
    kernel.seedMap('loop0p9', '', linear('7:0 90000', 8));
    kernel.seedMap('loop0p7', 'LVM-xyz', linear('7:0 80000', 8));
    events.length = 0;
    const result = await backend.update({ parent, maps: [MAPS[0]!], readOnly: false, sync: true }, emit);
    expect(result.failures).toBe(0);
    expect(events.filter((e) => e.type !== 'reloaded')).toEqual([
      { type: 'not-removed', name: 'loop0p9', reason: 'not-kpartx' },
      { type: 'not-removed', name: 'loop0p7', reason: 'not-kpartx' },
      { type: 'removed', name: 'loop0p5', path: '/dev/mapper/loop0p5' },
      { type: 'removed', name: 'loop0p2', path: '/dev/mapper/loop0p2' },
    ]);
    expect(kernel.dm!.list().map((e) => e.name)).toEqual(['loop0p1', 'loop0p7', 'loop0p9']);
  });

  it('delete reports a busy map, removes the others and fails (B4)', async () => {
    const { backend, kernel, events, emit } = setup();
    await backend.add({ parent, maps: MAPS, readOnly: false, sync: true }, emit);
    kernel.setOpenCount('loop0p2', 1);
    events.length = 0;
    const result = await backend.remove({ parent, force: false, sync: true }, emit);
    expect(result.failures).toBe(1);
    expect(events).toEqual([
      { type: 'removed', name: 'loop0p1', path: '/dev/mapper/loop0p1' },
      { type: 'busy', name: 'loop0p2', holders: [] },
      { type: 'removed', name: 'loop0p5', path: '/dev/mapper/loop0p5' },
    ]);
  });

  it('delete -f takes any linear map on exactly this device, not on 7:10 (B1)', async () => {
    const { backend, kernel, events, emit } = setup();
    const loop1 = {
      ...parent,
      path: '/dev/loop1',
      devno: { major: 7, minor: 1 },
      uuid: 'devnode_7:1_Wh5pYvM',
    };
    kernel.seedMap('onloop10', '', linear('7:10 0', 8));
    kernel.seedMap('onloop1', '', linear('7:1 0', 8));
    kernel.seedMap('striped1', '', [{ start: 0, length: 8, type: 'striped', params: '7:1 0' }]);
    await backend.remove({ parent: loop1, force: false, sync: true }, emit);
    expect(events).toEqual([
      { type: 'not-removed', name: 'onloop1', reason: 'not-kpartx' },
      { type: 'not-removed', name: 'striped1', reason: 'not-linear' },
    ]);
    events.length = 0;
    await backend.remove({ parent: loop1, force: true, sync: true }, emit);
    expect(events).toEqual([
      { type: 'removed', name: 'onloop1', path: '/dev/mapper/onloop1' },
      { type: 'not-removed', name: 'striped1', reason: 'not-linear' },
    ]);
    expect(kernel.dm!.list().map((e) => e.name)).toEqual(['onloop10', 'striped1']);
  });

  it('refuses a partition past the end of the device before touching the kernel', async () => {
    const { backend, kernel, events, emit } = setup();
    const result = await backend.add(
      { parent, maps: [MAPS[0]!, planned(3, 130000, 4096)], readOnly: false, sync: true },
      emit,
    );
    expect(result.failures).toBe(1);
    expect(events[0]).toMatchObject({
      type: 'refused',
      name: 'loop0p3',
      message: expect.stringMatching(/past the end of \/dev\/loop0/),
    });
    expect(kernel.calls).toEqual([]);
  });

  it('refuses a map whose /dev/mapper path holds something that is not a device node', async () => {
    const { backend, kernel, events, emit } = setup();
    kernel.nodes.plant('loop0p2', 'a regular file');
    const result = await backend.add({ parent, maps: MAPS, readOnly: false, sync: true }, emit);
    expect(result.failures).toBe(1);
    expect(events).toEqual([
      {
        type: 'refused',
        name: 'loop0p2',
        message: '/dev/mapper/loop0p2 exists and is a regular file, not a device node; not replacing it',
      },
      {
        type: 'refused',
        name: '/dev/loop0',
        message: '/dev/loop0: no maps created or changed: 1 partition cannot be mapped',
      },
    ]);
    expect(kernel.calls).toEqual([]);
  });

  it('names maps in the kernel as libdevmapper mangles them, and reports them unmangled', async () => {
    const { backend, kernel, events, emit, nodeLog } = setup();
    const spaced = [1, 2].map((n) =>
      planned(n, n * 4096, 4096, {
        name: `loop0 x${n}`,
        dmName: `loop0 x${n}`,
        kernelName: `loop0\\x20x${n}`,
      }),
    );
    // A map an older version left under the raw name is found by its UUID and renamed.
    kernel.seedMap('loop0 x2', `part2-${U}`, linear('7:0 8192', 4096));
    await backend.add({ parent, maps: spaced, readOnly: false, sync: true }, emit);
    expect(kernel.dm!.list().map((e) => e.name)).toEqual(['loop0\\x20x1', 'loop0\\x20x2']);
    expect(events.map((e) => (e.type === 'created' || e.type === 'reloaded' ? [e.type, e.path] : e))).toEqual(
      [
        ['created', '/dev/mapper/loop0\\x20x1'],
        { type: 'renamed', from: 'loop0 x2', to: 'loop0 x2', uuid: `part2-${U}` },
        ['reloaded', '/dev/mapper/loop0\\x20x2'],
      ],
    );
    expect(nodeLog).toEqual(['+loop0\\x20x1', 'loop0 x2>loop0\\x20x2', '+loop0\\x20x2']);
    events.length = 0;
    expect((await backend.remove({ parent, force: false, sync: true }, emit)).failures).toBe(0);
    expect(events).toEqual([
      { type: 'removed', name: 'loop0 x1', path: '/dev/mapper/loop0\\x20x1' },
      { type: 'removed', name: 'loop0 x2', path: '/dev/mapper/loop0\\x20x2' },
    ]);
  });
});

describe('maps left without a live table (a run killed between create and resume)', () => {
  it("-d removes the parent's by UUID alone, leaves other parents' and foreign ones", async () => {
    const { backend, kernel, events, emit } = setup();
    kernel.seedMap('loop0p1', `part1-${U}`, []);
    kernel.seedMap('loop0p2', `part2-${U}`, [], { inactive: linear('7:0 18432') });
    kernel.seedMap('loop5p1', 'part1-devnode_7:5_Wh5pYvM', []);
    kernel.seedMap('bare', '', []);
    const result = await backend.remove({ parent, force: false, sync: true }, emit);
    expect(result.failures).toBe(0);
    expect(events).toEqual([
      { type: 'removed', name: 'loop0p1', path: '/dev/mapper/loop0p1' },
      { type: 'removed', name: 'loop0p2', path: '/dev/mapper/loop0p2' },
    ]);
    expect(kernel.dm!.list().map((e) => e.name)).toEqual(['bare', 'loop5p1']);
  });

  it('-d reports one it cannot remove and fails', async () => {
    const { backend, kernel, events, emit } = setup();
    kernel.seedMap('loop0p1', `part1-${U}`, []);
    kernel.setOpenCount('loop0p1', 1);
    expect((await backend.remove({ parent, force: false, sync: true }, emit)).failures).toBe(1);
    expect(events).toEqual([{ type: 'busy', name: 'loop0p1', holders: [] }]);
    kernel.setOpenCount('loop0p1', 0);
    kernel.failOn('dm.remove', { code: 'EIO' });
    events.length = 0;
    expect((await backend.remove({ parent, force: false, sync: true }, emit)).failures).toBe(1);
    expect(events).toMatchObject([{ type: 'failed', name: 'loop0p1', op: 'remove' }]);
  });

  it('-a gives one of ours its table, under its name or renamed, and lists it afterwards', async () => {
    const { backend, kernel, events, emit } = setup();
    kernel.seedMap('loop0p1', `part1-${U}`, [], { inactive: linear('7:0 2048') });
    kernel.seedMap('loop0-part2', `part2-${U}`, []);
    expect(backend.existing(parent)).toEqual([]);
    expect((await backend.add({ parent, maps: MAPS, readOnly: false, sync: true }, emit)).failures).toBe(0);
    expect(events.map((e) => e.type)).toEqual(['reloaded', 'renamed', 'reloaded', 'created']);
    expect(backend.existing(parent).map((m) => [m.name, m.start, m.size])).toEqual([
      ['loop0p1', 2048, 16384],
      ['loop0p2', 18432, 16384],
      ['loop0p5', 36864, 8192],
    ]);
  });

  it('a failed -a removes the ones it revived: nothing was there to restore', async () => {
    const { backend, kernel, events, emit } = setup();
    kernel.seedMap('loop0p1', `part1-${U}`, []);
    kernel.seedMap('loop0-part2', `part2-${U}`, []);
    kernel.failOn('dm.create', { device: 'loop0p5' });
    expect((await backend.add({ parent, maps: MAPS, readOnly: false, sync: true }, emit)).failures).toBe(1);
    expect(events.filter((e) => e.type === 'rolled-back' || e.type === 'failed')).toMatchObject([
      { type: 'failed', name: 'loop0p5', op: 'create' },
      { type: 'rolled-back', name: 'loop0p2' },
      { type: 'rolled-back', name: 'loop0p1' },
    ]);
    expect(kernel.dm!.list()).toEqual([]);
  });

  it('-u removes one whose partition is gone', async () => {
    const { backend, kernel, events, emit } = setup();
    kernel.seedMap('loop0p9', `part9-${U}`, []);
    expect((await backend.update({ parent, maps: MAPS, readOnly: false, sync: true }, emit)).failures).toBe(
      0,
    );
    expect(events.filter((e) => e.type === 'removed')).toEqual([
      { type: 'removed', name: 'loop0p9', path: '/dev/mapper/loop0p9' },
    ]);
    expect(kernel.dm!.list().map((e) => e.name)).toEqual(['loop0p1', 'loop0p2', 'loop0p5']);
  });
});
