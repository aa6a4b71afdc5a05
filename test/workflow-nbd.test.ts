/**
 * The map-run workflow's qemu-nbd step over the fake kernel, on a real qcow2 (qemu-img convert of
 * a GPT disk): `-a` connects it read-only with its format given and maps /dev/nbdN with either
 * backend; `-d` removes the maps and disconnects; a failed add and a signal mid-add disconnect;
 * a connection the user made is never disconnected; no nbd says so with the convert command.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackendKind, MapBackend } from '../src/engine/backend.js';
import { createDmBackend } from '../src/engine/backends/dm.js';
import { createLoopBackend } from '../src/engine/backends/loop.js';
import { InterruptedError } from '../src/engine/signals.js';
import { SourceError } from '../src/engine/source.js';
import type { WorkflowEvent } from '../src/engine/workflow/events.js';
import { runMaps } from '../src/engine/workflow/map-run.js';
import { KernelError } from '../src/io/kernel-error.js';
import { FakeMachine } from './support/fake-machine.js';
import {
  canMakeDisks,
  disksSkipReason,
  LAYOUT,
  makeStackDisks,
  type StackDisks,
} from './support/stack-images.js';

describe.skipIf(!canMakeDisks)(`the workflow's nbd step (${disksSkipReason})`, () => {
  let disks: StackDisks;
  let qcow2: string;
  beforeAll(() => {
    disks = makeStackDisks(false);
    qcow2 = disks.convert('qcow2');
  }, 60_000);
  afterAll(() => disks?.cleanup());

  function setup(options: { nbd?: boolean; dm?: boolean; failOn?: number; signalAfter?: number } = {}) {
    const kernel = new FakeMachine({ nbd: options.nbd ?? true, dm: options.dm ?? true });
    const makeBackend = (_kind: BackendKind): MapBackend => {
      const backend = kernel.dm
        ? createDmBackend(kernel, {
            afterMap: (map) => {
              if (map.number === options.failOn)
                throw new KernelError('DM_DEV_CREATE', map.name, 12, 'ENOMEM');
              if (map.number === options.signalAfter) process.kill(process.pid, 'SIGTERM');
            },
          })
        : createLoopBackend(kernel);
      return backend;
    };
    const events: WorkflowEvent[] = [];
    const run = (action: 'add' | 'delete', operand = qcow2) =>
      runMaps(
        { operand, action, readOnly: false, sync: true, backend: kernel.dm ? 'dm' : 'loop' },
        { machine: kernel, makeBackend },
        (e) => void events.push(e),
      );
    return { kernel, events, run };
  }

  it('-a connects the image read-only with its format, maps /dev/nbd0; -d removes and disconnects', async () => {
    const t = setup();
    expect(await t.run('add')).toEqual({ status: 'done', failures: 0 });
    expect(t.kernel.calls).toContain(`qemu-nbd --connect=/dev/nbd0 --format=qcow2 --read-only ${qcow2}`);
    expect(t.events.find((e) => e.type === 'nbd-attached')).toEqual({
      type: 'nbd-attached',
      path: '/dev/nbd0',
      file: qcow2,
      format: 'qcow2',
      readOnly: true,
    });
    const maps = t.kernel.dm!.list();
    expect(maps.map((m) => m.name)).toEqual(['nbd0p1', 'nbd0p2', 'nbd0p3']);
    // The maps are the guest's partitions on the nbd device, read-only like their parent.
    const table = t.kernel.dm!.table('nbd0p2');
    expect(table[0]!.params).toBe(`43:0 ${LAYOUT.root.start}`);
    expect(table[0]!.length).toBe(LAYOUT.root.size);
    expect(t.kernel.dm!.info('nbd0p2')!.readOnly).toBe(true);
    expect(t.kernel.loop.list()).toEqual([]);

    // A second -a reuses our connection.
    expect(await t.run('add')).toEqual({ status: 'done', failures: 0 });
    expect(t.kernel.nbd.list()).toHaveLength(1);

    t.events.length = 0;
    expect(await t.run('delete')).toEqual({ status: 'done', failures: 0 });
    expect(t.events.map((e) => e.type)).toEqual([
      'resolved',
      'removed',
      'removed',
      'removed',
      'nbd-released',
    ]);
    expect(t.kernel.dm!.list()).toEqual([]);
    expect(t.kernel.nbd.list()).toEqual([]);
    expect(t.kernel.calls.at(-1)).toBe('qemu-nbd --disconnect /dev/nbd0');
  });

  it('the loop backend maps over /dev/nbdN where there is no device-mapper', async () => {
    const t = setup({ dm: false });
    const added = await t.run('add');
    expect(added, JSON.stringify(t.events)).toEqual({ status: 'done', failures: 0 });
    const loops = t.kernel.loop.list();
    expect(loops.map((l) => [l.backingFile, l.offset, l.readOnly])).toEqual([
      ['/dev/nbd0', LAYOUT.esp.start * 512, true],
      ['/dev/nbd0', LAYOUT.root.start * 512, true],
      ['/dev/nbd0', LAYOUT.lvm.start * 512, true],
    ]);
    expect(await t.run('delete')).toEqual({ status: 'done', failures: 0 });
    expect(t.kernel.loop.list()).toEqual([]);
    expect(t.kernel.nbd.list()).toEqual([]);
  });

  it('a failed add takes its maps back and disconnects', async () => {
    const t = setup({ failOn: 2 });
    const outcome = await t.run('add');
    expect(outcome.failures).toBeGreaterThan(0);
    expect(t.kernel.dm!.list()).toEqual([]);
    expect(t.kernel.nbd.list()).toEqual([]);
    expect(t.events.some((e) => e.type === 'nbd-released' && e.cause === 'failure')).toBe(true);
  });

  it('SIGTERM mid-add takes the maps back and disconnects', async () => {
    const t = setup({ signalAfter: 1 });
    const error = await t.run('add').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InterruptedError);
    expect((error as Error).message).toMatch(/nothing it made is left/);
    expect(t.kernel.dm!.list()).toEqual([]);
    expect(t.kernel.nbd.list()).toEqual([]);
  });

  it('a connect that fails leaves nothing and names the image', async () => {
    const t = setup();
    t.kernel.failOn('nbd.connect');
    const error = await t.run('add').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourceError);
    expect((error as Error).message).toMatch(new RegExp(`^${qcow2}: cannot attach it with qemu-nbd: `));
    expect(t.kernel.nbd.list()).toEqual([]);
  });

  it('-d disconnects only what kpartx-tui connected', async () => {
    const t = setup();
    // The user connected the same image themselves: it is not ours, -d finds nothing of ours.
    t.kernel.connectForeignNbd(0, new Uint8Array(1024 * 1024));
    expect(await t.run('delete')).toEqual({ status: 'nothing-bound', failures: 0 });
    expect(t.kernel.nbd.list().map((c) => [c.path, c.ours])).toEqual([['/dev/nbd0', false]]);
    // Our own add takes the next free device and -d disconnects only that one.
    expect(await t.run('add')).toEqual({ status: 'done', failures: 0 });
    expect(t.kernel.nbd.list().map((c) => [c.path, c.ours])).toEqual([
      ['/dev/nbd0', false],
      ['/dev/nbd1', true],
    ]);
    expect(await t.run('delete')).toEqual({ status: 'done', failures: 0 });
    expect(t.kernel.nbd.list().map((c) => [c.path, c.ours])).toEqual([['/dev/nbd0', false]]);
  });

  it('without nbd: says so and names the convert command', async () => {
    const t = setup({ nbd: false });
    const error = await t.run('add').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourceError);
    expect((error as Error).message).toBe(
      `${qcow2}: a qcow2 image is mapped through nbd, and this kernel has no nbd (modprobe nbd failed); convert it to raw first: kpartx-tui convert ${qcow2} ${qcow2.replace(/\.qcow2$/, '')}.raw`,
    );
    expect(t.kernel.loop.list()).toEqual([]);
  });
});
