/**
 * The kpartx CLI on the real kernel of this machine: -l predicts the loop without attaching it,
 * -a/-d work end to end with the backend the machine offers (device-mapper, else one loop per
 * partition), and nothing is left behind.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Machine } from '../src/engine/machine.js';
import { findBoundLoop } from '../src/engine/source.js';
import { createMachine } from '../src/kernel/machine.js';
import { runCli, T01_LINES, t01 } from './cli-helpers.js';

const canUseLoop =
  process.getuid?.() === 0 &&
  (() => {
    try {
      execFileSync('test', ['-c', '/dev/loop-control']);
      return true;
    } catch {
      return false;
    }
  })();

const BIN = join(import.meta.dirname, '..', 'bin', 'kpartx.js');
/** The built CLI (npm test builds before testing). */
const BIN_BUILT = join(import.meta.dirname, '..', 'dist', 'cli', 'kpartx.js');

const lines = (text: string) => text.split('\n').filter((l) => l !== '');

describe.skipIf(!canUseLoop)('kpartx on real loop devices (needs root and /dev/loop-control)', () => {
  const work = canUseLoop ? mkdtempSync(join(tmpdir(), 'kpartx-real-')) : '';
  const image = join(work, 'disk.img');
  if (canUseLoop) writeFileSync(image, t01());
  const host = createMachine();
  const bound = () => findBoundLoop(host.loop.scan(), realpathSync(image));

  afterAll(async () => {
    if (!canUseLoop) return;
    // Whatever a failed assertion left: maps first, then the image's loop.
    await runCli(['-d', image], { kernel: host, realBackends: true });
    const loop = bound();
    if (loop) execFileSync('losetup', ['-d', loop.path]);
    rmSync(work, { recursive: true, force: true });
  });

  it('-l names the loop -a would use and leaves nothing attached', async () => {
    const index = host.loop.nextFreeIndex();
    const run = await runCli(['-l', image], { kernel: host, realBackends: true });
    expect(run.status).toBe(0);
    expect(lines(run.stdout)).toEqual(T01_LINES.map((l) => l.replaceAll('loop0', `loop${index}`)));
    expect(bound()).toBeUndefined();
  });

  it('-l on an image or a loop device needs no kernel bindings (sysfs and plain reads only)', async () => {
    // Every call that needs the native bindings fails: listing must ask only the cheap questions.
    const boom = () => {
      throw new Error('kernel bindings loaded');
    };
    const noKernel: Machine = Object.create(host, {
      blockDevice: { value: boom },
      setReadOnly: { value: boom },
      heldExclusively: { value: boom },
      dm: { get: boom },
      loop: { value: { ...host.loop, list: boom, attach: boom, detach: boom } },
    });
    const image2 = join(work, 'bound.img');
    writeFileSync(image2, t01());
    const loop = execFileSync('losetup', ['-f', '--show', image2], { encoding: 'utf8' }).trim();
    try {
      const name = loop.slice('/dev/'.length);
      const byDevice = await runCli(['-l', loop], { kernel: noKernel });
      expect(byDevice.stderr).toBe('');
      expect(lines(byDevice.stdout)).toEqual(T01_LINES.map((l) => l.replaceAll('loop0', name)));
      // The image is found bound to that loop through sysfs, and the loop is left as it was.
      const byImage = await runCli(['-lv', image2], { kernel: noKernel });
      // With -v it names the backend -a would use where that is not device-mapper.
      const note = host.deviceMapperPresent()
        ? ''
        : 'backend: loop (no device-mapper in this kernel): -a maps each partition as its own loop device\n';
      expect(byImage).toEqual({ status: 0, stdout: byDevice.stdout, stderr: note });
    } finally {
      execFileSync('losetup', ['-d', loop]);
    }
  });

  it('-a maps every partition, -l then reuses the bound loop, -d removes maps and loop', async () => {
    const added = await runCli(['-av', image], { kernel: host, realBackends: true });
    expect(added.stderr).toBe('');
    expect(added.status).toBe(0);
    const loop = bound();
    expect(loop).toBeDefined();
    const name = `loop${loop!.index}`;
    const mapLines = lines(added.stdout);
    expect(mapLines).toHaveLength(4);
    const starts = [2048, 18432, 34816, 51200];
    const sizes = [16384, 16384, 16384, 79872];
    mapLines.forEach((line, i) => {
      expect(line).toMatch(
        new RegExp(
          `^add map ${name}p${i + 1} \\(\\d+:\\d+\\): 0 ${sizes[i]} linear 7:${loop!.index} ${starts[i]}$`,
        ),
      );
    });

    const listed = await runCli(['-l', image], { kernel: host, realBackends: true });
    expect(lines(listed.stdout)).toEqual(T01_LINES.map((l) => l.replaceAll('loop0', name)));

    const removed = await runCli(['-dv', image], { kernel: host, realBackends: true });
    expect(removed.status).toBe(0);
    expect(lines(removed.stdout)).toEqual([1, 2, 3, 4].map((n) => `del devmap : ${name}p${n}`));
    expect(removed.stderr).toBe(`loop deleted : /dev/${name}\n`);
    expect(bound()).toBeUndefined();
  });

  it('-d IMAGE keeps a loop the user attached himself, and removes the maps on it', async () => {
    const userLoop = execFileSync('losetup', ['-f', '--show', image], { encoding: 'utf8' }).trim();
    try {
      const name = userLoop.slice('/dev/'.length);
      const added = await runCli(['-a', image], { kernel: host, realBackends: true });
      expect(added.status).toBe(0);
      expect(bound()?.path).toBe(userLoop);
      const removed = await runCli(['-dv', image], { kernel: host, realBackends: true });
      expect(removed.status).toBe(0);
      expect(lines(removed.stdout)).toEqual([1, 2, 3, 4].map((n) => `del devmap : ${name}p${n}`));
      expect(removed.stderr).toBe(
        `loop kept : ${userLoop} (not attached by kpartx; losetup -d ${userLoop} releases it)\n`,
      );
      expect(bound()?.path).toBe(userLoop);
    } finally {
      execFileSync('losetup', ['-d', userLoop]);
    }
  });

  it('-d IMAGE whose loop the kernel already let go of (autoclear) succeeds', async () => {
    const added = await runCli(['-a', image], { kernel: host, realBackends: true });
    expect(added.status).toBe(0);
    const loop = bound()!;
    // What an earlier -d with a busy map leaves: the loop marked to go with its last user.
    execFileSync('losetup', ['-d', loop.path]);
    expect(bound()?.path).toBe(loop.path);
    const removed = await runCli(['-dv', image], { kernel: host, realBackends: true });
    expect(removed.status).toBe(0);
    expect(removed.stderr).toBe(`loop deleted : ${loop.path}\n`);
    expect(bound()).toBeUndefined();
  });

  it.skipIf(!existsSync(BIN_BUILT))(
    'two -a processes on one image at once share one loop device',
    async () => {
      const run = () =>
        new Promise<number | null>((done) =>
          spawn(process.execPath, [BIN, '-a', '--backend', 'loop', image], { stdio: 'ignore' }).on(
            'exit',
            done,
          ),
        );
      for (let round = 0; round < 3; round++) {
        expect(await Promise.all([run(), run(), run()])).toEqual([0, 0, 0]);
        const file = realpathSync(image);
        expect(host.loop.scan().filter((loop) => loop.backingFile === file)).toHaveLength(1);
        const removed = await runCli(['-d', image], { kernel: host, realBackends: true });
        expect(removed.status).toBe(0);
        expect(bound()).toBeUndefined();
      }
    },
  );
});
