/**
 * The single-file build of the CLI (dist/cli/kpartx.cjs, made by scripts/bundle-cli.mjs): it lists
 * exactly like the sources, and listing an image loads no native addon (koffi stays unloaded).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMachine } from '../src/kernel/machine.js';
import { runCli, t01 } from './cli-helpers.js';

const bundle = join(import.meta.dirname, '..', 'dist', 'cli', 'kpartx.cjs');

describe.skipIf(!existsSync(bundle))(
  'dist/cli/kpartx.cjs (skipped until scripts/bundle-cli.mjs has run)',
  () => {
    // Made when the tests run, not when they are collected: a skipped suite leaves no directory.
    let work = '';
    beforeAll(() => {
      work = mkdtempSync(join(tmpdir(), 'kpartx-bundle-'));
    });
    afterAll(() => rmSync(work, { recursive: true, force: true }));

    it('lists an image like the sources, without loading a native addon', async () => {
      const image = join(work, 't01.img');
      writeFileSync(image, t01());
      const launcher = join(work, 'launch.cjs');
      writeFileSync(
        launcher,
        [
          "process.dlopen = () => { throw new Error('a native addon was loaded'); };",
          `require(${JSON.stringify(bundle)}).main(process.argv.slice(1)).then((s) => { process.exitCode = s; });`,
        ].join('\n'),
      );
      const run = spawnSync(process.execPath, [launcher, '-l', image], { encoding: 'utf8' });
      const expected = await runCli(['-l', image], { kernel: createMachine() });
      expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual(expected);
      expect(run.stdout).toMatch(/^loop\d+p1 : 0 16384 \/dev\/loop\d+ 2048\n/);
    });
  },
);
