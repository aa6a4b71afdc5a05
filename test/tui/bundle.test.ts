/**
 * The bundles of scripts/bundle-tui.mjs: the app (dist/tui/bundle/app.cjs and its code cache
 * app.cache) loads with the saved code, and without it when the cache is stale or unusable; the
 * entry (dist/tui/main.cjs) runs as the plain one does. Each load runs in a child process: a fresh
 * V8, as at the app's start.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const dist = join(import.meta.dirname, '..', '..', 'dist', 'tui');
const bundle = join(dist, 'bundle', 'app.cjs');
const cache = join(dist, 'bundle', 'app.cache');

function load(cacheFile: string): { cacheUsed: boolean; exports: string[] } {
  const script = `
    const { loadBundle } = await import(${JSON.stringify(pathToFileURL(join(dist, 'load-bundle.js')).href)});
    const loaded = loadBundle(${JSON.stringify(bundle)}, ${JSON.stringify(cacheFile)});
    console.log(JSON.stringify({ cacheUsed: loaded.cacheUsed, exports: Object.keys(loaded.exports).sort() }));`;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  expect(run.stderr).toBe('');
  return JSON.parse(run.stdout);
}

describe.skipIf(!existsSync(cache))('dist/tui/bundle (skipped until scripts/bundle-tui.mjs has run)', () => {
  // Made when the tests run, not when they are collected: a skipped suite leaves no directory.
  let work = '';
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'kpartx-tui-bundle-'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('loads the engine and the app with the code the build saved', () => {
    expect(load(cache)).toEqual({ cacheUsed: true, exports: ['createTuiEngine', 'runApp'] });
  });

  it('compiles afresh when the cache is older than the bundle or not V8’s', () => {
    const stale = join(work, 'stale.cache');
    copyFileSync(cache, stale);
    utimesSync(stale, 0, 0);
    expect(load(stale)).toEqual({ cacheUsed: false, exports: ['createTuiEngine', 'runApp'] });
    const garbage = join(work, 'garbage.cache');
    writeFileSync(garbage, Buffer.alloc(4096, 7));
    expect(load(garbage)).toEqual({ cacheUsed: false, exports: ['createTuiEngine', 'runApp'] });
  });

  it('has an entry that answers like the plain one', async () => {
    const { main } = await import('../../src/tui/main.js');
    const script = `require(${JSON.stringify(join(dist, 'main.cjs'))}).main(['--help']).then((s) => { process.exitCode = s; });`;
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    let expected = '';
    const write = process.stdout.write;
    process.stdout.write = ((chunk: string) => {
      expected += chunk;
      return true;
    }) as typeof process.stdout.write;
    try {
      expect(await main(['--help'])).toBe(0);
    } finally {
      process.stdout.write = write;
    }
    expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({
      status: 0,
      stdout: expected,
      stderr: '',
    });
  });
});
