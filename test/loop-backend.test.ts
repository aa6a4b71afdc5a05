import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  openSync,
  readFileSync,
  realpathSync,
  rmSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MapEvent, MapRequest, ParentDevice, PlannedMap } from '../src/engine/backend.js';
import { createLoopBackend, parseLoopMarker } from '../src/engine/backends/loop.js';
import type { Machine as Kernel } from '../src/engine/machine.js';
import { PlanError } from '../src/engine/plan.js';
import { createSession } from '../src/engine/session.js';
import { acquireLock, lockKey } from '../src/kernel/lock.js';
import { loopsOverDevice } from '../src/kernel/loop.js';
import { createMachine } from '../src/kernel/machine.js';
import { loopState } from '../src/kernel/sysfs.js';
import { KernelError } from '../src/kernel/types.js';
import {
  attachParent,
  buildImage,
  canUseLoop,
  cleanupLoops,
  helloText,
  loopSkipReason,
  losetupLines,
  parentOf,
  plan,
  readTable,
} from './loop-helpers.js';

if (!canUseLoop) console.warn(`loop backend tests: ${loopSkipReason}`);

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

function collect() {
  const events: MapEvent[] = [];
  return { events, emit: (event: MapEvent) => events.push(event) };
}

const request = (parent: ParentDevice, maps: PlannedMap[], readOnly = false): MapRequest => ({
  parent,
  maps,
  readOnly,
  sync: true,
});

describe.skipIf(!canUseLoop)('loop backend on real loop devices', () => {
  const kernel = createMachine();
  const backend = createLoopBackend(kernel);
  let dir: string;
  let mountRoot: string;
  let dosImage: string;
  let logicalImage: string;
  let gptImage: string;

  beforeAll(() => {
    dir = mkdtempSync('/tmp/kpartx-tui-loop-');
    mountRoot = join(dir, 'mnt');
    dosImage = buildImage(dir, 'dos.img', 'dos', [
      { line: '2048,16384,83', ext4: { number: 1, start: 2048, sizeKiB: 8192 } },
      { line: '18432,16384,83', ext4: { number: 2, start: 18432, sizeKiB: 8192 } },
    ]);
    logicalImage = buildImage(dir, 'logical.img', 'dos', [
      { line: '2048,8192,83' },
      { line: '18432,,5' },
      { line: '20480,8192,83', ext4: { number: 5, start: 20480, sizeKiB: 4096 } },
      { line: '30720,8192,83' },
    ]);
    gptImage = buildImage(dir, 'gpt.img', 'gpt', [
      { line: '2048,16384,L' },
      { line: '18432,16384,L', ext4: { number: 2, start: 18432, sizeKiB: 8192 } },
    ]);
  });

  afterEach(() => {
    // A failed assertion must not leave devices behind for the next test.
    cleanupLoops(kernel, dir);
  });

  afterAll(() => {
    cleanupLoops(kernel, dir);
    expect(losetupLines(dir)).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
  });

  /** Nothing is left over `parent`: no partition loops, no /dev/mapper links. */
  function expectNothingOver(parent: ParentDevice, maps: PlannedMap[]) {
    expect(loopsOverDevice(kernel.loop.list(), parent.devno)).toEqual([]);
    for (const map of maps) expect(existsSync(`/dev/mapper/${map.dmName}`)).toBe(false);
  }

  it('maps a DOS image, mounts a partition through /dev/mapper, reads it back, and cleans up', async () => {
    const before = sha256(dosImage);
    const { loop, parent } = attachParent(kernel, dosImage);
    const maps = plan(dosImage, parent);
    expect(maps.map((m) => m.name)).toEqual([`loop${loop.index}p1`, `loop${loop.index}p2`]);

    const added = collect();
    expect(await backend.add(request(parent, maps), added.emit)).toEqual({ failures: 0 });
    expect(added.events.map((e) => e.type)).toEqual(['created', 'created']);
    // Mapping alone never writes to the source.
    expect(sha256(dosImage)).toBe(before);
    for (const map of maps) {
      const path = `/dev/mapper/${map.dmName}`;
      expect(lstatSync(path).isSymbolicLink()).toBe(true);
      const state = loopState(realpathSync(path).slice(5))!;
      expect(state.backingFile).toBe(parent.path);
      expect(state.offset).toBe(map.start * 512);
      expect(state.sizeLimit).toBe(map.size * 512);
      expect(state.readOnly).toBe(false);
      expect(state.logicalBlockSize).toBe(512);
      expect(parseLoopMarker(kernel.loop.list().find((l) => l.path === realpathSync(path))?.name)).toEqual({
        number: map.number,
        name: map.dmName,
      });
    }
    const existing = backend.existing(parent);
    expect(existing.map((m) => [m.name, m.number, m.start, m.size, m.openCount])).toEqual([
      [maps[0]!.dmName, 1, 2048, 16384, 0],
      [maps[1]!.dmName, 2, 18432, 16384, 0],
    ]);

    const session = createSession(kernel, { mountRoot });
    const mounted = session.mount({
      name: maps[0]!.name,
      device: `/dev/mapper/${maps[0]!.dmName}`,
      readOnly: false,
    });
    expect(mounted.mountpoint).toBe(`${mountRoot}/${maps[0]!.name}`);
    expect(mounted.fstype).toBe('ext4');
    expect(readFileSync(join(mounted.mountpoint, 'hello.txt'), 'utf8')).toBe(helloText('dos.img', 1));
    expect(session.listMounted(backend.existing(parent)).map((m) => m.mountpoint)).toEqual([
      mounted.mountpoint,
    ]);

    // A mounted partition is refused, the other one still goes, the parent loop stays.
    const busy = collect();
    expect(await backend.remove({ parent, force: false, sync: true }, busy.emit)).toEqual({ failures: 1 });
    expect(busy.events).toEqual([
      { type: 'busy', name: maps[0]!.dmName, holders: [mounted.mountpoint] },
      { type: 'removed', name: maps[1]!.dmName, path: `/dev/mapper/${maps[1]!.dmName}` },
    ]);
    expect(readFileSync(join(mounted.mountpoint, 'hello.txt'), 'utf8')).toBe(helloText('dos.img', 1));
    expect(loopState(`loop${loop.index}`)).toBeDefined();

    session.unmount(mounted.mountpoint);
    expect(existsSync(mounted.mountpoint)).toBe(false);
    const removed = collect();
    expect(await backend.remove({ parent, force: false, sync: true }, removed.emit)).toEqual({ failures: 0 });
    expect(removed.events).toEqual([
      { type: 'removed', name: maps[0]!.dmName, path: `/dev/mapper/${maps[0]!.dmName}` },
    ]);
    expectNothingOver(parent, maps);
    // Removing maps leaves the image's loop to the caller (`-d IMAGE` detaches it, as the C tool).
    expect(losetupLines(dosImage)).toHaveLength(1);
    kernel.loop.detach(parent.path);
    expect(losetupLines(dosImage)).toEqual([]);
  });

  it('maps a logical partition inside an extended one at its absolute offset', async () => {
    const { loop, parent } = attachParent(kernel, logicalImage);
    const maps = plan(logicalImage, parent);
    expect(maps.map((m) => [m.number, m.start, m.size, m.contained])).toEqual([
      [1, 2048, 8192, false],
      [2, 18432, 2, false],
      [5, 20480, 8192, true],
      [6, 30720, 8192, true],
    ]);
    expect(await backend.add(request(parent, maps), () => {})).toEqual({ failures: 0 });
    const p5 = maps.find((m) => m.number === 5)!;
    const session = createSession(kernel, { mountRoot });
    const mounted = session.mount({ name: p5.name, device: `/dev/mapper/${p5.dmName}`, readOnly: true });
    expect(mounted.readOnly).toBe(true);
    expect(readFileSync(join(mounted.mountpoint, 'hello.txt'), 'utf8')).toBe(helloText('logical.img', 5));
    session.unmount(mounted.mountpoint);
    const removed = collect();
    expect(await backend.remove({ parent, force: false, sync: true }, removed.emit)).toEqual({ failures: 0 });
    expect(removed.events.map((e) => e.type)).toEqual(['removed', 'removed', 'removed', 'removed']);
    expectNothingOver(parent, maps);
    expect(loopState(`loop${loop.index}`)?.backingFile).toBe(logicalImage);
  });

  it('maps a GPT image and mounts its second partition', async () => {
    const { parent } = attachParent(kernel, gptImage);
    const maps = plan(gptImage, parent);
    expect(maps.map((m) => m.number)).toEqual([1, 2]);
    expect(await backend.add(request(parent, maps), () => {})).toEqual({ failures: 0 });
    const session = createSession(kernel, { mountRoot });
    const p2 = maps[1]!;
    const mounted = session.mount({ name: p2.name, device: `/dev/mapper/${p2.dmName}`, readOnly: false });
    expect(readFileSync(join(mounted.mountpoint, 'hello.txt'), 'utf8')).toBe(helloText('gpt.img', 2));
    session.unmount(mounted.mountpoint);
    expect(await backend.remove({ parent, force: false, sync: true }, () => {})).toEqual({ failures: 0 });
    expectNothingOver(parent, maps);
  });

  it('gives partition loops the parent logical sector size (4096)', async () => {
    const image = buildImage(dir, 'gpt4k.img', 'gpt', [{ line: '2048,2048,L' }], 32);
    const { parent } = attachParent(kernel, image, { blockSize: 4096 });
    expect(parent.logicalSectorSize).toBe(4096);
    // The image was partitioned with 512-byte sectors; read with 4096 the GPT is elsewhere, so
    // plan by hand: 1 MiB at 1 MiB.
    const maps: PlannedMap[] = [
      {
        number: 1,
        name: `${parent.mapName}p1`,
        dmName: `${parent.mapName}p1`,
        kernelName: `${parent.mapName}p1`,
        uuid: `part1-${parent.uuid}`,
        start: 2048,
        size: 2048,
        contained: false,
        readOnly: false,
      },
    ];
    expect(await backend.add(request(parent, maps), () => {})).toEqual({ failures: 0 });
    const info = kernel.blockDevice(`/dev/mapper/${maps[0]!.dmName}`);
    expect(info.logicalSectorSize).toBe(4096);
    expect(info.sizeBytes).toBe(2048 * 512);
    expect(await backend.remove({ parent, force: false, sync: true }, () => {})).toEqual({ failures: 0 });
    expectNothingOver(parent, maps);
  });

  it('maps read-only: writes through the partition are refused and the image stays unchanged', async () => {
    const before = sha256(dosImage);
    const { parent } = attachParent(kernel, dosImage);
    const maps = plan(dosImage, parent, true);
    expect(await backend.add(request(parent, maps, true), () => {})).toEqual({ failures: 0 });
    const path = `/dev/mapper/${maps[0]!.dmName}`;
    expect(kernel.blockDevice(path).readOnly).toBe(true);
    expect(backend.existing(parent).every((m) => m.readOnly)).toBe(true);
    // The kernel may let a writer open a read-only device; the write itself is refused.
    let fd: number | undefined;
    try {
      fd = openSync(path, 'r+');
      expect(() => writeSync(fd!, Buffer.alloc(512), 0, 512, 0)).toThrow(/EPERM|EROFS|EACCES/);
    } catch (error) {
      expect(String(error)).toMatch(/EROFS|EACCES|EPERM/);
    } finally {
      if (fd !== undefined) closeSync(fd);
    }

    // Asking for a read-write mount of a read-only map still mounts read-only.
    const session = createSession(kernel, { mountRoot });
    const mounted = session.mount({ name: maps[0]!.name, device: path, readOnly: false });
    expect(mounted.readOnly).toBe(true);
    expect(() => writeFileSync(join(mounted.mountpoint, 'new.txt'), 'x')).toThrow(/EROFS/);
    session.unmount(mounted.mountpoint);
    expect(await backend.remove({ parent, force: false, sync: true }, () => {})).toEqual({ failures: 0 });
    expect(sha256(dosImage)).toBe(before);
  });

  it('a read-only parent gives read-only partitions, and a second add keeps them as they are', async () => {
    const loop = kernel.loop.attach(gptImage, { readOnly: true });
    const parent = parentOf(kernel, loop, gptImage);
    const maps = plan(gptImage, parent);
    expect(await backend.add(request(parent, maps), () => {})).toEqual({ failures: 0 });
    const first = backend.existing(parent);
    expect(first.map((m) => m.readOnly)).toEqual([true, true]);
    const again = collect();
    expect(await backend.add(request(parent, maps), again.emit)).toEqual({ failures: 0 });
    expect(again.events.map((e) => e.type)).toEqual(['reloaded', 'reloaded']);
    expect(backend.existing(parent).map((m) => m.devno)).toEqual(first.map((m) => m.devno));
    expect(await backend.remove({ parent, force: false, sync: true }, () => {})).toEqual({ failures: 0 });
    expectNothingOver(parent, maps);
  });

  it('-u reconciles: keeps matching maps, replaces a changed one, removes stale ones', async () => {
    const { parent } = attachParent(kernel, dosImage);
    const maps = plan(dosImage, parent);
    expect(await backend.add(request(parent, maps), () => {})).toEqual({ failures: 0 });
    const first = backend.existing(parent);

    const kept = collect();
    expect(await backend.update(request(parent, [maps[0]!]), kept.emit)).toEqual({ failures: 0 });
    expect(kept.events.map((e) => e.type)).toEqual(['reloaded', 'removed']);
    expect(backend.existing(parent).map((m) => [m.number, m.devno])).toEqual([[1, first[0]!.devno]]);

    const moved = { ...maps[0]!, start: 4096, size: 8192 };
    const changed = collect();
    expect(await backend.update(request(parent, [moved]), changed.emit)).toEqual({ failures: 0 });
    expect(changed.events.map((e) => e.type)).toEqual(['reloaded']);
    expect(backend.existing(parent).map((m) => [m.number, m.start, m.size])).toEqual([[1, 4096, 8192]]);

    expect(await backend.remove({ parent, force: false, sync: true }, () => {})).toEqual({ failures: 0 });
    expectNothingOver(parent, maps);
  });

  it('finds its maps from the kernel alone: a lost /dev/mapper link, a foreign loop over the parent', async () => {
    const { parent } = attachParent(kernel, dosImage);
    const maps = plan(dosImage, parent);
    expect(await backend.add(request(parent, maps), () => {})).toEqual({ failures: 0 });
    const p2Loop = realpathSync(`/dev/mapper/${maps[1]!.dmName}`);
    rmSync(`/dev/mapper/${maps[1]!.dmName}`);
    // A loop someone else put over the same window is not a map of ours, whatever its offset.
    const foreign = kernel.loop.attach(parent.path, {
      readOnly: true,
      offset: maps[0]!.start * 512,
      sizeLimit: maps[0]!.size * 512,
    });
    const fresh = createLoopBackend(kernel);
    expect(fresh.existing(parent).map((m) => [m.name, m.number, m.path])).toEqual([
      [maps[0]!.dmName, 1, `/dev/mapper/${maps[0]!.dmName}`],
      [maps[1]!.dmName, 2, p2Loop],
    ]);
    const run = collect();
    expect(await fresh.remove({ parent, force: false, sync: true }, run.emit)).toEqual({ failures: 0 });
    expect(run.events.map((e) => [e.type, 'name' in e ? e.name : ''])).toEqual([
      ['removed', maps[0]!.dmName],
      ['removed', maps[1]!.dmName],
    ]);
    expect(loopsOverDevice(kernel.loop.list(), parent.devno).map((l) => l.path)).toEqual([foreign.path]);
    kernel.loop.detach(foreign.path);
    expectNothingOver(parent, maps);
  });

  it('is all-or-nothing: a failed attach rolls back every map this run made', async () => {
    const { parent } = attachParent(kernel, logicalImage);
    const maps = plan(logicalImage, parent);
    let attaches = 0;
    const failing: Kernel = {
      ...kernel,
      loop: {
        ...kernel.loop,
        attach: (backing, options) => {
          if (++attaches === 3) throw new KernelError('LOOP_CONFIGURE', '/dev/loopX', 12, 'ENOMEM');
          return kernel.loop.attach(backing, options);
        },
      },
    };
    const run = collect();
    expect((await createLoopBackend(failing).add(request(parent, maps), run.emit)).failures).toBeGreaterThan(
      0,
    );
    // The backend takes back its maps only: the image's loop is the map-run workflow's to release.
    expect(run.events.map((e) => e.type)).toEqual([
      'created',
      'created',
      'failed',
      'rolled-back',
      'rolled-back',
    ]);
    expect(run.events[2]).toMatchObject({ type: 'failed', name: maps[2]!.name, op: 'create' });
    expectNothingOver(parent, maps);
    expect(losetupLines(logicalImage)).toHaveLength(1);
  });

  it('never replaces a /dev/mapper entry it does not own, and attaches nothing then', async () => {
    const { parent } = attachParent(kernel, dosImage);
    const maps = plan(dosImage, parent);
    const squatter = `/dev/mapper/${maps[1]!.dmName}`;
    writeFileSync(squatter, 'not a map\n');
    try {
      const run = collect();
      expect((await backend.add(request(parent, maps), run.emit)).failures).toBe(1);
      expect(run.events[0]).toEqual({ type: 'conflict', name: maps[1]!.dmName, reason: 'not-kpartx' });
      expect(run.events.some((e) => e.type === 'created')).toBe(false);
      expect(readFileSync(squatter, 'utf8')).toBe('not a map\n');
      expectNothingOver(parent, [maps[0]!]);
      expect(run.events.at(-1)).toMatchObject({ type: 'refused', name: parent.path });
    } finally {
      rmSync(squatter, { force: true });
    }
  });

  it('links maps under their mangled names: a space or a / never leaves /dev/mapper', async () => {
    const { parent } = attachParent(kernel, dosImage);
    for (const delimiter of [' x', '/x', '/../../x']) {
      const maps = plan(dosImage, parent, false, delimiter);
      const run = collect();
      expect((await backend.add(request(parent, maps), run.emit)).failures).toBe(0);
      const links = maps.map((map) => `/dev/mapper/${map.kernelName}`);
      for (const link of links) {
        expect(link).toMatch(/^\/dev\/mapper\/loop\d+(\\x[0-9a-f]{2}|[.x])+[12]$/);
        expect(lstatSync(link).isSymbolicLink()).toBe(true);
      }
      expect(existsSync(`/dev/mapper/${parent.mapName}!x1`)).toBe(false);
      expect(existsSync(`/dev/mapper/${parent.mapName} x1`)).toBe(false);
      // Found again by a second add, and removed, under the same names; messages unmangled.
      const again = collect();
      expect((await backend.add(request(parent, maps), again.emit)).failures).toBe(0);
      expect(again.events.map((e) => e.type)).toEqual(['reloaded', 'reloaded']);
      const removal = collect();
      expect((await backend.remove({ parent, force: false, sync: true }, removal.emit)).failures).toBe(0);
      expect(removal.events).toEqual(
        maps.map((map, i) => ({ type: 'removed', name: map.dmName, path: links[i] })),
      );
      for (const link of links) expect(existsSync(link)).toBe(false);
    }
  });

  it('refuses a truncated image before attaching anything', async () => {
    const image = buildImage(dir, 'truncated.img', 'dos', [
      { line: '2048,16384,83' },
      { line: '18432,40000,83' },
    ]);
    truncateSync(image, 16 * 1024 * 1024);
    const { parent } = attachParent(kernel, image);
    // The planner names the partition and the device…
    expect(() => plan(image, parent)).toThrow(PlanError);
    expect(() => plan(image, parent)).toThrow(
      /partition 2 .* ends past the end of \/dev\/loop\d+ \(32768 sectors\)/,
    );
    // …and the backend refuses such a map by itself too, without touching the others.
    const table = readTable(image);
    const maps: PlannedMap[] = table.slots
      .filter((slot) => slot.size > 0)
      .map((slot) => ({
        number: slot.number,
        name: `${parent.mapName}p${slot.number}`,
        dmName: `${parent.mapName}p${slot.number}`,
        kernelName: `${parent.mapName}p${slot.number}`,
        uuid: `part${slot.number}-${parent.uuid}`,
        start: slot.start,
        size: slot.size,
        contained: false,
        readOnly: false,
      }));
    const run = collect();
    expect(await backend.add(request(parent, maps), run.emit)).toEqual({ failures: 1 });
    expect(run.events).toEqual([
      {
        type: 'refused',
        name: maps[1]!.name,
        message: `${maps[1]!.name}: partition 2 (sectors 18432-58431) does not fit on ${parent.path} (32768 sectors)`,
      },
      {
        type: 'refused',
        name: parent.path,
        message: `${parent.path}: no maps created or changed: 1 partition cannot be mapped`,
      },
    ]);
    expectNothingOver(parent, maps);
  });

  it('maps nothing from an image without a partition table', async () => {
    const image = join(dir, 'garbage.img');
    writeFileSync(image, Buffer.alloc(4 * 1024 * 1024, 0x5a));
    const { parent } = attachParent(kernel, image);
    expect(() => readTable(image)).toThrow(/no partition table/);
    expect(await backend.add(request(parent, []), () => {})).toEqual({ failures: 0 });
    expect(backend.existing(parent)).toEqual([]);
  });

  it('waits for the parent lock and fails with a clear message when it stays taken', async () => {
    const { parent } = attachParent(kernel, dosImage);
    const maps = plan(dosImage, parent);
    const held = acquireLock(lockKey(parent), parent.path);
    try {
      const impatient = createLoopBackend(kernel, { lockWaitMs: 200 });
      const started = Date.now();
      await expect(impatient.add(request(parent, maps), () => {})).rejects.toThrow(
        /another kpartx run is changing this device's maps/,
      );
      expect(Date.now() - started).toBeGreaterThanOrEqual(190);
      expectNothingOver(parent, maps);
    } finally {
      held.release();
    }
  });

  describe('in separate processes', () => {
    const childScript = join(import.meta.dirname, 'loop-add-child.ts');
    const register = join(import.meta.dirname, 'ts-register.mjs');

    function runChild(req: MapRequest, pauseMs: number) {
      const child = spawn(
        process.execPath,
        ['--import', register, childScript, JSON.stringify(req), String(pauseMs)],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      const lines: string[] = [];
      let stderr = '';
      let buffered = '';
      const waiters: (() => void)[] = [];
      child.stdout!.on('data', (chunk: Buffer) => {
        buffered += chunk.toString();
        const parts = buffered.split('\n');
        buffered = parts.pop()!;
        lines.push(...parts);
        for (const wake of waiters.splice(0)) wake();
      });
      child.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
        child.on('exit', (code, signal) => done({ code, signal })),
      );
      const firstLine = (type: string) =>
        new Promise<void>((done) => {
          const check = () => {
            if (lines.some((line) => JSON.parse(line).type === type)) done();
            else waiters.push(check);
          };
          check();
        });
      return {
        child: child as ChildProcess,
        exited,
        firstLine,
        events: () => lines.map((line) => JSON.parse(line) as MapEvent | { type: 'attached' }),
        stderr: () => stderr,
      };
    }

    it('two concurrent adds of one parent never map it twice', async () => {
      const { parent } = attachParent(kernel, logicalImage);
      const maps = plan(logicalImage, parent);
      const a = runChild(request(parent, maps), 150);
      const b = runChild(request(parent, maps), 150);
      const [ra, rb] = await Promise.all([a.exited, b.exited]);
      expect([ra.code, rb.code, a.stderr(), b.stderr()]).toEqual([0, 0, '', '']);
      const kinds = [a, b].map((run) =>
        run
          .events()
          .map((e) => e.type)
          .filter((t) => t === 'created' || t === 'reloaded'),
      );
      // One run created every map; the other, waiting for the lock, found them all in place.
      expect(kinds.map((k) => k.join(',')).sort()).toEqual([
        maps.map(() => 'created').join(','),
        maps.map(() => 'reloaded').join(','),
      ]);
      expect(loopsOverDevice(kernel.loop.list(), parent.devno)).toHaveLength(maps.length);
      expect(await backend.remove({ parent, force: false, sync: true }, () => {})).toEqual({ failures: 0 });
      expectNothingOver(parent, maps);
    });

    it('an add interrupted by SIGINT half-way leaves nothing behind', async () => {
      const { parent } = attachParent(kernel, logicalImage);
      const maps = plan(logicalImage, parent);
      const run = runChild(request(parent, maps), 800);
      await run.firstLine('attached');
      // One partition loop exists now, the others are still to come.
      expect(loopsOverDevice(kernel.loop.list(), parent.devno)).toHaveLength(1);
      run.child.kill('SIGINT');
      const { code } = await run.exited;
      expect(code).toBe(130);
      const events = run.events();
      const created = events.filter((e) => e.type === 'created').length;
      // It stopped before the next map instead of making them all, and took back what it made.
      expect(created).toBeGreaterThanOrEqual(1);
      expect(created).toBeLessThan(maps.length);
      expect(events.filter((e) => e.type === 'rolled-back')).toHaveLength(created);
      expect(events).toContainEqual({
        type: 'refused',
        name: parent.path,
        message: expect.stringMatching(/interrupted before .*; removing the maps this run made/),
      });
      expectNothingOver(parent, maps);
    }, 30_000);
  });
});
