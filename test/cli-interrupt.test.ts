import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Machine as Kernel } from '../src/engine/machine.js';
import { createMachine } from '../src/kernel/machine.js';
import { built } from './interrupt-helpers.js';
import { cliSignalScenarios } from './interrupt-scenarios.js';
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
    kernel = createMachine();
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

describe.skipIf(!canUseLoop || !built)(
  `kpartx signalled mid-run on 128 partitions (${!canUseLoop ? loopSkipReason : built ? 'loop devices' : 'needs `npm run build` first'})`,
  () => cliSignalScenarios(30_000),
);
