/**
 * The map-run workflow over the fake kernel: its events for an add and a delete of an image, the
 * loop it attached released once (after a refused plan, a failed add, an interruption), a loop it
 * found left alone, and the mount face's choice of partition.
 */
import { describe, expect, it } from 'vitest';
import type { BackendKind, MapBackend } from '../src/engine/backend.js';
import { createDmBackend } from '../src/engine/backends/dm.js';
import { imageLoopName } from '../src/engine/image-loop.js';
import type { WorkflowEvent } from '../src/engine/workflow/events.js';
import { type MapRunRequest, runMaps } from '../src/engine/workflow/map-run.js';
import { KernelError } from '../src/io/kernel-error.js';
import { choosePartition, MountFaceError, splitSource } from '../src/mount/main.js';
import { mbrImage } from './cli-helpers.js';
import { FakeMachine } from './support/fake-machine.js';

const IMAGE = '/img/disk.img';

function setup(sectors = 65536, failOn?: number) {
  const kernel = new FakeMachine();
  kernel.addFile(
    IMAGE,
    mbrImage(sectors, [
      [0x83, 2048, 8192],
      [0x83, 10240, 8192],
    ]),
  );
  const makeBackend = (_kind: BackendKind): MapBackend =>
    createDmBackend(kernel, {
      afterMap: (map) => {
        if (map.number === failOn) throw new KernelError('DM_DEV_CREATE', map.name, 12, 'ENOMEM');
      },
    });
  const events: WorkflowEvent[] = [];
  const request = (action: MapRunRequest['action'] & ('add' | 'delete' | 'update')) => ({
    operand: IMAGE,
    action,
    readOnly: false,
    sync: true,
    backend: 'dm' as const,
  });
  const run = (action: 'add' | 'delete' | 'update') =>
    runMaps(request(action), { machine: kernel, makeBackend }, (e) => void events.push(e));
  return { kernel, events, run };
}

const types = (events: WorkflowEvent[]) => events.map((e) => e.type);

describe('the map-run workflow', () => {
  it('adds: resolves (attaching the loop), maps, and says each step', async () => {
    const t = setup();
    expect(await t.run('add')).toEqual({ status: 'done', failures: 0 });
    expect(types(t.events)).toEqual(['resolved', 'loop-attached', 'created', 'created']);
    expect(t.events[1]).toEqual({ type: 'loop-attached', path: '/dev/loop0', file: IMAGE, readOnly: false });
    expect(t.kernel.dm!.list().map((m) => m.name)).toEqual(['loop0p1', 'loop0p2']);
    // The loop carries kpartx-tui's mark, so -d releases it.
    expect(t.kernel.loop.list()[0]!.name).toBe(imageLoopName(IMAGE));
    t.events.length = 0;
    expect(await t.run('delete')).toEqual({ status: 'done', failures: 0 });
    expect(types(t.events)).toEqual(['resolved', 'removed', 'removed', 'loop-released']);
    expect(t.events.at(-1)).toEqual({ type: 'loop-released', path: '/dev/loop0', cause: 'delete' });
    expect(t.kernel.loop.list()).toEqual([]);
  });

  it('a refused plan changes nothing and lets go of the loop it attached', async () => {
    // Partition 2 ends past the end of a 12288-sector image.
    const t = setup(12288);
    expect(await t.run('add')).toEqual({ status: 'refused', failures: 1 });
    expect(types(t.events)).toEqual(['resolved', 'loop-attached', 'plan-refused', 'loop-released']);
    expect(t.events.at(-1)).toMatchObject({ cause: 'refusal' });
    expect(t.kernel.loop.list()).toEqual([]);
    expect(t.kernel.dm!.list()).toEqual([]);
  });

  it('a failed add is rolled back by the backend, then the loop goes: once', async () => {
    const t = setup(65536, 2);
    const outcome = await t.run('add');
    expect(outcome.failures).toBeGreaterThan(0);
    expect(types(t.events).filter((type) => type.startsWith('loop-'))).toEqual([
      'loop-attached',
      'loop-released',
    ]);
    expect(t.events.at(-1)).toMatchObject({ type: 'loop-released', cause: 'failure' });
    expect(t.kernel.calls.filter((call) => call.startsWith('loop.detach'))).toHaveLength(1);
    expect(t.kernel.loop.list()).toEqual([]);
    expect(t.kernel.dm!.list()).toEqual([]);
  });

  it('a loop found bound (not attached by kpartx-tui) is used and kept by -d', async () => {
    const t = setup();
    t.kernel.loop.attach(IMAGE, { readOnly: false });
    await t.run('add');
    expect(types(t.events)).not.toContain('loop-attached');
    t.events.length = 0;
    await t.run('delete');
    expect(t.events.at(-1)).toMatchObject({ type: 'loop-kept', why: 'foreign', cause: 'delete' });
    expect(t.kernel.loop.list()).toHaveLength(1);
  });

  it('-d on an image without a loop does nothing', async () => {
    const t = setup();
    expect(await t.run('delete')).toEqual({ status: 'nothing-bound', failures: 0 });
    expect(t.events).toEqual([]);
  });
});

describe('the mount face: which partition', () => {
  const ext4 = { type: 'ext4', usage: 'filesystem', mountable: true } as never;
  const luks = { type: 'crypto_LUKS', usage: 'crypto', mountable: false } as never;

  it('takes the only mountable partition, or the one asked for', () => {
    const parts = [
      { number: 1, info: luks },
      { number: 2, info: ext4 },
    ];
    expect(choosePartition('d.img', parts).number).toBe(2);
    expect(choosePartition('d.img', parts, 2).number).toBe(2);
  });

  it('refuses a choice it cannot make, listing the partitions', () => {
    const two = [
      { number: 1, info: ext4 },
      { number: 3, info: ext4 },
    ];
    expect(() => choosePartition('d.img', two)).toThrow(MountFaceError);
    expect(() => choosePartition('d.img', two)).toThrow(
      /2 mountable partitions, say which with d.img:N: 1 \(.*\), 3/,
    );
    expect(() => choosePartition('d.img', two, 2)).toThrow('d.img: no partition 2; partitions: 1, 3');
    const swap = { type: 'swap', usage: 'swap', mountable: false } as const;
    expect(() => choosePartition('d.img', [{ number: 1, info: swap }], 1)).toThrow(
      /d.img:1: .* is not mountable/,
    );
    // LUKS is opened first and what it holds is judged then: N, or the only LUKS when nothing mounts.
    expect(choosePartition('d.img', [{ number: 1, info: luks }], 1).number).toBe(1);
    expect(
      choosePartition('d.img', [
        { number: 1, info: swap },
        { number: 2, info: luks },
      ]).number,
    ).toBe(2);
    expect(() => choosePartition('d.img', [{ number: 1, info: null }])).toThrow(/no mountable partition/);
  });

  it('splits SOURCE:N unless a file has that very name', () => {
    expect(splitSource('disk.img:2')).toEqual({ source: 'disk.img', partition: 2 });
    expect(splitSource('disk.img')).toEqual({ source: 'disk.img' });
    expect(splitSource('/dev/sda')).toEqual({ source: '/dev/sda' });
  });
});
