/**
 * What an interrupted run takes back and what it says, over the fake kernel and the dm backend:
 * the image loop is released once (the backend's own rollback may already have done it), an add
 * that had finished is taken back whole, and the words follow what the kernel holds afterwards.
 */
import { describe, expect, it } from 'vitest';
import type { PlannedMap } from '../src/engine/backend.js';
import { createDmBackend } from '../src/engine/backends/dm.js';
import { nameList, removalOutcome } from '../src/engine/interruption.js';
import type { WorkflowEvent } from '../src/engine/workflow/events.js';
import { MapRun } from '../src/engine/workflow/map-run.js';
import { mbrImage } from './cli-helpers.js';
import { FakeMachine } from './support/fake-machine.js';

const IMAGE = '/img/disk.img';
const U = 'devnode_7:0_Wh5pYvM';

const planned = (number: number, start: number): PlannedMap => ({
  number,
  name: `loop0p${number}`,
  dmName: `loop0p${number}`,
  kernelName: `loop0p${number}`,
  uuid: `part${number}-${U}`,
  start,
  size: 8192,
  contained: false,
  readOnly: false,
});

const MAPS = [planned(1, 2048), planned(2, 10240), planned(3, 18432)];

/** An image whose loop this run attached, as `-a IMAGE` does: a MapRun resolved over the fake. */
async function setup(afterMap?: (map: PlannedMap) => void) {
  const kernel = new FakeMachine();
  kernel.addFile(
    IMAGE,
    mbrImage(65536, [
      [0x83, 2048, 8192],
      [0x83, 10240, 8192],
      [0x83, 18432, 8192],
    ]),
  );
  const backend = createDmBackend(kernel, afterMap ? { afterMap } : {});
  const events: WorkflowEvent[] = [];
  const emit = (event: WorkflowEvent) => void events.push(event);
  const run = new MapRun(
    { operand: IMAGE, action: 'add', readOnly: false, sync: true, backend: 'dm' },
    { machine: kernel, makeBackend: () => backend },
    emit,
  );
  const source = (await run.resolve())!;
  expect(source.loop).toEqual({ path: '/dev/loop0', state: 'attached' });
  const maps = (await run.plan(run.readTable()!))!;
  expect(maps.map((m) => m.name)).toEqual(MAPS.map((m) => m.name));
  return { kernel, backend, run, maps, events };
}

const detaches = (kernel: FakeMachine) => kernel.calls.filter((call) => call.startsWith('loop.detach'));

describe('undoing an interrupted add', () => {
  it('an add that stopped and rolled back by itself: the loop is released once', async () => {
    const controller = new AbortController();
    const t = await setup((map) => {
      if (map.number === 1) controller.abort(new Error('SIGTERM'));
    });
    t.events.length = 0;
    expect(await t.run.apply(t.maps, controller.signal)).toBeGreaterThan(0);
    // The backend's rollback removed loop0p1; the workflow let go of the loop this run attached.
    expect(t.events.map((e) => e.type)).toEqual(['created', 'refused', 'rolled-back', 'loop-released']);
    expect(detaches(t.kernel)).toHaveLength(1);
    t.events.length = 0;
    expect(await t.run.takeBack()).toBe('the add was rolled back: nothing it made is left');
    expect(t.events).toEqual([]);
    expect(detaches(t.kernel)).toHaveLength(1);
  });

  it('an add that had finished when the signal came is taken back whole, loop included', async () => {
    const t = await setup();
    expect(await t.run.apply(t.maps)).toBe(0);
    t.events.length = 0;
    expect(await t.run.takeBack()).toBe('the add was rolled back: nothing it made is left');
    const removed = t.events.flatMap((e) => (e.type === 'removed' ? [e.name] : []));
    expect(removed.sort()).toEqual(['loop0p1', 'loop0p2', 'loop0p3']);
    expect(t.events.at(-1)).toEqual({ type: 'loop-released', path: '/dev/loop0', cause: 'interruption' });
    expect(t.kernel.dm!.list()).toEqual([]);
    expect(t.kernel.loop.list()).toEqual([]);
  });

  it('says what could not be taken back, and keeps the loop that map still uses', async () => {
    const t = await setup();
    await t.run.apply(t.maps);
    t.kernel.setOpenCount('loop0p2', 1);
    const said = await t.run.takeBack();
    expect(said).toBe('the add was rolled back, but /dev/loop0, loop0p2 are still there');
    expect(t.events.at(-1)).toMatchObject({ type: 'loop-kept', why: 'in-use', users: ['loop0p2'] });
    expect(t.kernel.dm!.list().map((m) => m.name)).toEqual(['loop0p2']);
    expect(t.kernel.loop.list().map((l) => l.path)).toEqual(['/dev/loop0']);
  });
});

describe('the words', () => {
  it('lists a few names, and the first and last of many in partition order', () => {
    expect(nameList(['loop0p2', 'loop0p1'])).toBe('loop0p1, loop0p2');
    const many = Array.from({ length: 128 }, (_, i) => `loop0p${128 - i}`);
    expect(nameList(many)).toBe('loop0p1 … loop0p128');
  });

  it('an interrupted delete says what it removed and what it kept', () => {
    expect(removalOutcome(['loop0p1', 'loop0p3'], ['loop0p2'])).toBe(
      'the delete ran to its end first: removed 2 maps (loop0p1, loop0p3), kept 1 map (loop0p2)',
    );
    expect(removalOutcome([], [])).toBe('the delete ran to its end first: removed no map, kept none');
  });
});
