/**
 * The loop backend over the in-memory machine: everything it needs (loops, /dev/mapper links,
 * holders, read-only state) comes from the Machine, so its logic runs without root or a kernel.
 * The real-loop suite (loop-backend.test.ts) checks the same paths against the kernel.
 */
import { describe, expect, it } from 'vitest';
import type { MapEvent, ParentDevice, PlannedMap } from '../src/engine/backend.js';
import { createLoopBackend } from '../src/engine/backends/loop.js';
import { FakeMachine } from './support/fake-machine.js';

const planned = (number: number, start: number, size: number): PlannedMap => ({
  number,
  name: `loop0p${number}`,
  dmName: `loop0p${number}`,
  kernelName: `loop0p${number}`,
  uuid: `part${number}-devnode_7:0_Wh5pYvM`,
  start,
  size,
  contained: false,
  readOnly: false,
});
const MAPS = [planned(1, 2048, 16384), planned(2, 18432, 16384), planned(3, 34816, 8192)];

function setup(options: { readOnlyImage?: boolean } = {}) {
  const machine = new FakeMachine({ dm: false });
  machine.addFile('/img/disk.img', new Uint8Array(131072 * 512));
  const image = machine.loop.attach('/img/disk.img', { readOnly: options.readOnlyImage ?? false });
  const parent: ParentDevice = {
    path: image.path,
    devno: image.devno,
    sizeSectors: 131072,
    logicalSectorSize: 512,
    uuid: 'devnode_7:0_Wh5pYvM',
    mapName: 'loop0',
    image: { file: '/img/disk.img', loopAttachedByUs: true },
  };
  const events: MapEvent[] = [];
  const emit = (event: MapEvent) => void events.push(event);
  const partitionLoops = () => machine.loop.list().filter((loop) => loop.backingFile === image.path);
  return { machine, parent, events, emit, partitionLoops, backend: createLoopBackend(machine) };
}

describe('loop backend on the in-memory machine', () => {
  it('maps each partition as a loop at its offset, linked under /dev/mapper, and removes them again', async () => {
    const { machine, parent, emit, partitionLoops, backend } = setup();
    expect((await backend.add({ parent, maps: MAPS, readOnly: false, sync: true }, emit)).failures).toBe(0);
    expect(partitionLoops().map((l) => [l.offset, l.sizeLimit, l.readOnly])).toEqual([
      [2048 * 512, 16384 * 512, false],
      [18432 * 512, 16384 * 512, false],
      [34816 * 512, 8192 * 512, false],
    ]);
    expect(machine.nodes.list()).toEqual(['loop0p1', 'loop0p2', 'loop0p3']);
    expect(backend.existing(parent).map((m) => [m.name, m.start, m.size])).toEqual([
      ['loop0p1', 2048, 16384],
      ['loop0p2', 18432, 16384],
      ['loop0p3', 34816, 8192],
    ]);
    expect((await backend.remove({ parent, force: false, sync: true }, emit)).failures).toBe(0);
    expect(partitionLoops()).toEqual([]);
    expect(machine.nodes.list()).toEqual([]);
  });

  it('gives read-only partitions over a read-only parent, whatever the request says', async () => {
    const { parent, emit, partitionLoops, backend } = setup({ readOnlyImage: true });
    await backend.add({ parent, maps: MAPS, readOnly: false, sync: true }, emit);
    expect(partitionLoops().every((loop) => loop.readOnly)).toBe(true);
  });

  it('takes back every loop and link it made when an attach fails part way', async () => {
    const { machine, parent, events, emit, partitionLoops, backend } = setup();
    machine.failOn('loop.attach', { nth: 3 });
    const result = await backend.add({ parent, maps: MAPS, readOnly: false, sync: true }, emit);
    expect(result.failures).toBeGreaterThan(0);
    expect(partitionLoops()).toEqual([]);
    expect(machine.nodes.list()).toEqual([]);
    expect(events.filter((e) => e.type === 'rolled-back').map((e) => (e as { name: string }).name)).toEqual([
      'loop0p2',
      'loop0p1',
    ]);
  });

  it('never replaces what is not its link at /dev/mapper/<name>', async () => {
    const { machine, parent, emit, partitionLoops, backend } = setup();
    machine.nodes.plant('loop0p2', 'a regular file');
    const result = await backend.add({ parent, maps: MAPS, readOnly: false, sync: true }, emit);
    expect(result.failures).toBeGreaterThan(0);
    expect(partitionLoops()).toEqual([]);
    expect(machine.nodes.entry('loop0p2')).toEqual({ kind: 'other' });
  });

  it('keeps a partition whose loop is held, and says by what', async () => {
    const { machine, parent, events, emit, partitionLoops, backend } = setup();
    await backend.add({ parent, maps: MAPS, readOnly: false, sync: true }, emit);
    const held = partitionLoops()[0]!;
    machine.setOpenCount(held.path, 1);
    events.length = 0;
    const result = await backend.remove({ parent, force: false, sync: true }, emit);
    expect(result.failures).toBe(1);
    expect(events.find((e) => e.type === 'busy')).toMatchObject({ name: 'loop0p1' });
    expect(partitionLoops().map((l) => l.path)).toEqual([held.path]);
  });
});
