import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { splitDevT } from '../src/io/devno.js';
import { blockDevice, blockDevNoOf, heldExclusively } from '../src/kernel/block.js';
import { close, makedev, O_EXCL, O_RDONLY, open } from '../src/kernel/libc.js';
import { loopsOverDevice } from '../src/kernel/loop.js';
import { createMachine } from '../src/kernel/machine.js';
import { loopNames, loopState, parseDevNo } from '../src/kernel/sysfs.js';
import type { LoopDevice } from '../src/kernel/types.js';
import { KernelError } from '../src/kernel/types.js';
import { canUseLoop, cleanupLoops, loopSkipReason, losetupLines } from './loop-helpers.js';

/** Whole-file loops over `image`, as the kernel lists them. */
const loopsForImage = (loops: LoopDevice[], image: string): LoopDevice[] =>
  loops.filter((l) => l.backingFile === realpathSync(image) && l.offset === 0 && l.sizeLimit === 0);

if (!canUseLoop) console.warn(`kernel loop tests: ${loopSkipReason}`);

describe('device numbers', () => {
  it('splits dev_t the way glibc encodes it', () => {
    expect(splitDevT(0x0700n)).toEqual({ major: 7, minor: 0 });
    expect(splitDevT(0x10300n)).toEqual({ major: 259, minor: 0 });
    // Majors above 4095 and minors above 255 use the high bits.
    expect(splitDevT(makedev(4100, 300))).toEqual({ major: 4100, minor: 300 });
    expect(splitDevT(makedev(259, 1048575))).toEqual({ major: 259, minor: 1048575 });
    expect(parseDevNo('7:12\n')).toEqual({ major: 7, minor: 12 });
    expect(parseDevNo('garbage')).toBeUndefined();
  });

  it('says clearly when a path is not a block device', () => {
    expect(() => blockDevice('/etc/hostname')).toThrow(/^\/etc\/hostname: not a block device$/);
    expect(() => blockDevice('/nonexistent/disk')).toThrow(
      /^\/nonexistent\/disk: No such file or directory$/,
    );
    expect(blockDevNoOf('/etc/hostname')).toBeUndefined();
  });
});

describe.skipIf(!canUseLoop)('loop devices (real)', () => {
  const kernel = createMachine();
  let dir: string;
  let image: string;

  beforeAll(() => {
    dir = mkdtempSync('/tmp/kpartx-tui-kloop-');
    image = join(dir, 'disk.img');
    writeFileSync(image, '');
    truncateSync(image, 8 * 1024 * 1024);
  });

  afterAll(() => {
    cleanupLoops(kernel, dir);
    expect(losetupLines(dir)).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('attaches a whole image, reports it from sysfs, and detaches it', () => {
    const free = kernel.loop.nextFreeIndex();
    expect(loopState(`loop${free}`)).toBeUndefined();
    const loop = kernel.loop.attach(image, { readOnly: false });
    expect(loop).toMatchObject({
      path: `/dev/loop${loop.index}`,
      backingFile: image,
      offset: 0,
      sizeLimit: 0,
      readOnly: false,
      autoclear: false,
      logicalSectorSize: 512,
      name: image,
    });
    expect(kernel.blockDevice(loop.path)).toEqual({
      devno: loop.devno,
      sizeBytes: 8 * 1024 * 1024,
      logicalSectorSize: 512,
      readOnly: false,
    });
    expect(loopsForImage(kernel.loop.list(), image).map((l) => l.path)).toEqual([loop.path]);
    kernel.loop.detach(loop.path);
    expect(loopState(`loop${loop.index}`)).toBeUndefined();
    expect(loopsForImage(kernel.loop.list(), image)).toEqual([]);
  });

  it('a loop made read-only with BLKROSET is given back free and writable when detached', () => {
    const loop = kernel.loop.attach(image, { readOnly: false });
    kernel.setReadOnly(loop.path, true);
    expect(kernel.blockDevice(loop.path).readOnly).toBe(true);
    kernel.loop.detach(loop.path);
    // The policy belongs to the device, not the binding: left set, the next user's loop would refuse writes.
    expect(readFileSync(`/sys/block/loop${loop.index}/ro`, 'utf8').trim()).toBe('0');
  });

  it('sets offset, size limit, read-only, block size, autoclear and name', () => {
    const parent = kernel.loop.attach(image, { readOnly: false });
    const part = kernel.loop.attach(parent.path, {
      readOnly: true,
      offset: 1024 * 1024,
      sizeLimit: 2 * 1024 * 1024,
      blockSize: 4096,
      name: 'kpartx-tui:part1:loopXp1',
    });
    expect(part).toMatchObject({
      backingFile: parent.path,
      offset: 1024 * 1024,
      sizeLimit: 2 * 1024 * 1024,
      readOnly: true,
      logicalSectorSize: 4096,
      name: 'kpartx-tui:part1:loopXp1',
    });
    expect(kernel.blockDevice(part.path)).toMatchObject({ sizeBytes: 2 * 1024 * 1024, readOnly: true });
    // A loop over the parent is found by the parent's number; the image lookup ignores windows.
    expect(loopsOverDevice(kernel.loop.list(), parent.devno).map((l) => l.path)).toEqual([part.path]);
    expect(loopsForImage(kernel.loop.list(), image).map((l) => l.path)).toEqual([parent.path]);
    // lo_file_name keeps 63 bytes.
    const long = kernel.loop.attach(image, { readOnly: true, autoclear: false, name: 'n'.repeat(100) });
    expect(long.name).toBe('n'.repeat(63));
    kernel.loop.detach(long.path);
    kernel.loop.detach(part.path);
    kernel.loop.detach(parent.path);
  });

  it('lists bound loops in numeric order', () => {
    const attached = [0, 1, 2].map(() => kernel.loop.attach(image, { readOnly: true }));
    const listed = kernel.loop.list().map((l) => l.index);
    expect(listed).toEqual([...listed].sort((a, b) => a - b));
    for (const loop of attached) expect(listed).toContain(loop.index);
    expect(loopNames()).toEqual([...loopNames()].sort((a, b) => Number(a.slice(4)) - Number(b.slice(4))));
    for (const loop of attached) kernel.loop.detach(loop.path);
  });

  it('an autoclear loop goes away with its last user', () => {
    const loop = kernel.loop.attach(image, { readOnly: true, autoclear: true });
    expect(loop).toMatchObject({ autoclear: true, backingFile: image });
    // Nobody holds it open once attach has closed its descriptor, so the kernel has freed it.
    expect(loopState(`loop${loop.index}`)).toBeUndefined();
  });

  it('tells an exclusively held device from a free one', () => {
    const loop = kernel.loop.attach(image, { readOnly: true });
    expect(heldExclusively(loop.path)).toBe(false);
    const fd = open(loop.path, O_RDONLY | O_EXCL);
    try {
      expect(heldExclusively(loop.path)).toBe(true);
    } finally {
      close(fd);
    }
    kernel.loop.detach(loop.path);
  });

  it('fails with a clear error for a missing backing file, attaching nothing', () => {
    const before = kernel.loop.list().length;
    let caught: unknown;
    try {
      kernel.loop.attach(join(dir, 'missing.img'), { readOnly: true });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(KernelError);
    expect((caught as KernelError).message).toBe(
      `${join(dir, 'missing.img')}: open failed: No such file or directory`,
    );
    expect(kernel.loop.list().length).toBe(before);
  });

  it('several processes attaching at once each get their own loop (free-index race retried)', async () => {
    const register = join(import.meta.dirname, 'ts-register.mjs');
    const script = join(dir, 'attach-many.ts');
    writeFileSync(
      script,
      [
        `import { createLoopApi } from ${JSON.stringify(join(import.meta.dirname, '../src/kernel/loop.ts'))};`,
        'const api = createLoopApi();',
        'const paths = [];',
        `for (let i = 0; i < 4; i++) paths.push(api.attach(${JSON.stringify(image)}, { readOnly: true }).path);`,
        'process.stdout.write(JSON.stringify(paths));',
      ].join('\n'),
    );
    const runs = [0, 1, 2].map(
      () =>
        new Promise<string[]>((done, fail) => {
          const child = spawn(process.execPath, ['--import', register, script], {
            stdio: ['ignore', 'pipe', 'pipe'],
          });
          let out = '';
          let err = '';
          child.stdout.on('data', (c: Buffer) => {
            out += c;
          });
          child.stderr.on('data', (c: Buffer) => {
            err += c;
          });
          child.on('exit', (code) => (code === 0 ? done(JSON.parse(out)) : fail(new Error(err))));
        }),
    );
    const paths = (await Promise.all(runs)).flat();
    expect(paths).toHaveLength(12);
    expect(new Set(paths).size).toBe(12);
    for (const path of paths) kernel.loop.detach(path);
    expect(loopsForImage(kernel.loop.list(), image)).toEqual([]);
  });
});
