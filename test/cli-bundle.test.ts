/**
 * The single-file builds of the CLI (dist/cli/kpartx.cjs) and of `kpartx-tui --json`
 * (dist/cli/json.cjs), made by scripts/bundle-cli.mjs: each answers exactly like the plain build,
 * and listing an image loads no native addon (koffi stays unloaded).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMachine } from '../src/kernel/machine.js';
import { runCli, t01 } from './cli-helpers.js';

const bundle = join(import.meta.dirname, '..', 'dist', 'cli', 'kpartx.cjs');
const jsonBundle = join(import.meta.dirname, '..', 'dist', 'cli', 'json.cjs');
const jsonPlain = join(import.meta.dirname, '..', 'dist', 'cli', 'json.js');
const noAddon = "process.dlopen = () => { throw new Error('a native addon was loaded'); };";

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
          noAddon,
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

describe.skipIf(!existsSync(jsonBundle))(
  'dist/cli/json.cjs (skipped until scripts/bundle-cli.mjs has run)',
  () => {
    let work = '';
    beforeAll(() => {
      work = mkdtempSync(join(tmpdir(), 'kpartx-json-bundle-'));
    });
    afterAll(() => rmSync(work, { recursive: true, force: true }));

    it('answers --json like the plain build, without loading a native addon', () => {
      const image = join(work, 't01.img');
      writeFileSync(image, t01());
      const run = (face: string) =>
        spawnSync(
          process.execPath,
          ['--input-type=module', '-e', face, '--', '--json', image, join(work, 'missing.img')],
          { encoding: 'utf8' },
        );
      const exit = '.then((s) => { process.exitCode = s; })';
      const bundled = run(
        `${noAddon}\nimport { createRequire } from 'node:module';\ncreateRequire(import.meta.url)(${JSON.stringify(jsonBundle)}).jsonMain(process.argv.slice(1))${exit};`,
      );
      const plain = run(
        `const { jsonMain } = await import(${JSON.stringify(jsonPlain)});\njsonMain(process.argv.slice(1))${exit};`,
      );
      expect({ status: bundled.status, stdout: bundled.stdout, stderr: bundled.stderr }).toEqual({
        status: plain.status,
        stdout: plain.stdout,
        stderr: plain.stderr,
      });
      // The bin takes the bundle when the build manifest records it as current.
      const hook = join(work, 'hook.cjs');
      writeFileSync(
        hook,
        "const M = require('node:module'); const load = M._load; M._load = function (request, ...rest) { if (String(request).endsWith('json.cjs')) process.stderr.write('loaded ' + request + '\\n'); return load.call(this, request, ...rest); };\n",
      );
      const bin = join(import.meta.dirname, '..', 'bin', 'kpartx-tui.js');
      const viaBin = spawnSync(process.execPath, ['--require', hook, bin, '--json', image], {
        encoding: 'utf8',
      });
      expect(viaBin.stderr).toBe(`loaded ${jsonBundle}\n`);
      expect(JSON.parse(viaBin.stdout).sources[0].partitions).toHaveLength(4);
      const document = JSON.parse(bundled.stdout);
      expect(document.sources.map((s: { partitions: unknown[] }) => s.partitions.length)).toEqual([4, 0]);
      expect(document.sources[1].error).toMatch(/missing\.img/);
    });
  },
);
