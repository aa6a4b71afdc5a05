import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKernel } from '../src/kernel/index.js';
import type { Kernel } from '../src/kernel/types.js';
import {
  built,
  type HeldSignal,
  image128,
  leftOf,
  mapCount,
  NOTHING_LEFT,
  runKpartx,
  SIGNAL_STATUS,
  whenMapper,
} from './interrupt-helpers.js';
import { buildImage, canUseLoop, cleanupLoops, loopSkipReason } from './loop-helpers.js';

/** Loops whose backing file is the image, and the partition loops stacked on those. */
function loopsOf(kernel: Kernel, image: string) {
  const all = kernel.loop.list();
  const parents = all.filter((loop) => loop.backingFile === image);
  const parentPaths = new Set(parents.map((loop) => loop.path));
  return [...parents, ...all.filter((loop) => parentPaths.has(loop.backingFile))];
}

describe.skipIf(!canUseLoop)(`kpartx -a interrupted by a signal (${loopSkipReason})`, () => {
  let dir: string;
  let image: string;
  let kernel: Kernel;

  beforeAll(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'kpartx-cli-int-')));
    image = buildImage(dir, 'three.img', 'dos', [
      { line: '2048,8192,83' },
      { line: '10240,8192,83' },
      { line: '18432,8192,83' },
    ]);
    kernel = createKernel();
  });

  afterAll(() => {
    if (kernel) cleanupLoops(kernel, dir);
    rmSync(dir, { recursive: true, force: true });
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal} after the first partition loop: every map and the image's loop are gone`, async () => {
      const child = spawn(
        process.execPath,
        [
          '--import',
          join(import.meta.dirname, 'ts-register.mjs'),
          join(import.meta.dirname, 'cli-interrupt-child.ts'),
          image,
          '600',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
      });
      const attached = new Promise<void>((done) =>
        child.stderr.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
          if (stderr.includes('attached ')) done();
        }),
      );
      const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
      await attached;
      // Half-way: the image has its loop and one partition loop, two more are still to come.
      expect(loopsOf(kernel, image).length).toBeGreaterThanOrEqual(2);
      child.kill(signal);
      const code = await exited;
      expect(code).toBe(signal === 'SIGINT' ? 130 : 143);
      expect(stderr).toContain(`interrupted by ${signal}`);
      // The run stopped before its third map (the signal is checked between maps), then took back
      // what it had made.
      expect(stdout.match(/^add map /gm)?.length).toBeLessThan(3);
      expect(stderr).toMatch(/interrupted before loop\d+p[23]; removing the maps this run made/);
      expect(stderr).toMatch(/loop\d+p1: removed again \(rolled back\)/);
      expect(loopsOf(kernel, image)).toEqual([]);
      const links = existsSync('/dev/mapper') ? readdirSync('/dev/mapper') : [];
      expect(
        links.filter((name) => /^loop\d+p[123]$/.test(name) && !existsSync(join('/dev/mapper', name))),
      ).toEqual([]);
    }, 60_000);
  }
});

/**
 * The built command on a 128-partition image, signalled right after its first map (the moment is
 * seen in /dev/mapper, no test seam): an add is taken back whole, a delete runs to its end and
 * says so, and the exit status is the signal's.
 */
describe.skipIf(!canUseLoop || !built)(
  `kpartx signalled mid-run on 128 partitions (${!canUseLoop ? loopSkipReason : built ? 'built' : 'needs `npm run build` first'})`,
  () => {
    let dir: string;
    let image: string;
    let kernel: Kernel;

    beforeAll(() => {
      dir = realpathSync(mkdtempSync(join(tmpdir(), 'kpartx-cli-sig-')));
      image = image128(dir);
      kernel = createKernel();
    });

    afterAll(() => {
      if (kernel) cleanupLoops(kernel, dir);
      rmSync(dir, { recursive: true, force: true });
    });

    for (const [signal, status] of Object.entries(SIGNAL_STATUS) as [HeldSignal, number][]) {
      it(`-a and ${signal} after the first map: every map and the image's loop are gone, exit ${status}`, async () => {
        const first = whenMapper(() => mapCount(image) > 0);
        const run = runKpartx(['-av', image]);
        await first.reached;
        run.child.kill(signal);
        const { code } = await run.exited;
        expect(leftOf(image)).toEqual(NOTHING_LEFT);
        expect(code).toBe(status);
        const stderr = run.stderr();
        expect(stderr).toMatch(/interrupted before loop\d+p\d+; removing the maps this run made/);
        expect(stderr).toContain(
          `kpartx: interrupted by ${signal}; the add was rolled back: nothing it made is left\n`,
        );
        // The loop is released once: by the rollback, never a second time, failing.
        expect(stderr.match(/^loop deleted : /gm)).toHaveLength(1);
        expect(stderr).not.toContain("can't del loop");
        expect(run.stdout().match(/^add map /gm)?.length ?? 0).toBeLessThan(128);
      });
    }

    it('-d and SIGTERM after its first removal: it runs to its end and says what it removed', async () => {
      const add = runKpartx(['-a', image]);
      expect((await add.exited).code).toBe(0);
      expect(mapCount(image)).toBe(128);
      const first = whenMapper(() => mapCount(image) < 128);
      const run = runKpartx(['-dv', image]);
      await first.reached;
      run.child.kill('SIGTERM');
      const { code } = await run.exited;
      expect(leftOf(image)).toEqual(NOTHING_LEFT);
      expect(code).toBe(143);
      expect(run.stdout().match(/^del devmap : /gm)).toHaveLength(128);
      expect(run.stderr()).toMatch(
        /^kpartx: interrupted by SIGTERM; the delete ran to its end first: removed 128 maps \(loop\d+p1 … loop\d+p128\), kept none; \/dev\/loop\d+ released\n$/m,
      );
      expect(run.stderr()).not.toContain('undone');
    });
  },
);
