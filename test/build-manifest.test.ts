/**
 * One build manifest decides which build runs (bin/build.js reading dist/build.json, written by
 * scripts/build-manifest.mjs): a recorded bundle runs while the plain file it was made from is no
 * newer than when it was bundled; anything else runs the plain build. Checked on a copy of bin/
 * over a made-up dist/, then on this checkout's own build when there is one.
 */
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const repo = join(import.meta.dirname, '..');

/** What a fresh process with `bin` as its bin/ decides for each bundle name. */
function decide(bin: string, names: string[]): Record<string, string | null> {
  const script = `const { usableBundle } = require(${JSON.stringify(join(bin, 'build.js'))});
    console.log(JSON.stringify(Object.fromEntries(${JSON.stringify(names)}.map((n) => [n, usableBundle(n) ?? null]))));`;
  const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  expect(run.stderr).toBe('');
  return JSON.parse(run.stdout);
}

describe('the build manifest', () => {
  const root = mkdtempSync(join(tmpdir(), 'kpartx-tui-build-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const bin = join(root, 'bin');
  const dist = join(root, 'dist');
  mkdirSync(bin);
  mkdirSync(join(dist, 'cli'), { recursive: true });
  copyFileSync(join(repo, 'bin', 'build.js'), join(bin, 'build.js'));
  copyFileSync(join(repo, 'bin', 'package.json'), join(bin, 'package.json'));
  const plain = join(dist, 'cli', 'kpartx.js');
  const bundle = join(dist, 'cli', 'kpartx.cjs');

  it('runs the plain build without a manifest', () => {
    writeFileSync(plain, '');
    writeFileSync(bundle, '');
    expect(decide(bin, ['kpartx'])).toEqual({ kpartx: null });
  });

  it('runs a recorded bundle until the plain build is rebuilt, and never one that is missing', () => {
    writeFileSync(
      join(dist, 'build.json'),
      JSON.stringify({
        bundles: {
          kpartx: { file: 'cli/kpartx.cjs', from: 'cli/kpartx.js', fromMtimeMs: statSync(plain).mtimeMs },
        },
      }),
    );
    expect(decide(bin, ['kpartx', 'app'])).toEqual({ kpartx: bundle, app: null });
    // Unpacked from a package, every file has one old date: still the same build.
    utimesSync(plain, 500_000_000, 500_000_000);
    expect(decide(bin, ['kpartx'])).toEqual({ kpartx: bundle });
    // `tsc` alone since the bundle: the plain build is newer and runs.
    const later = Date.now() / 1000 + 60;
    utimesSync(plain, later, later);
    expect(decide(bin, ['kpartx'])).toEqual({ kpartx: null });
    utimesSync(plain, 500_000_000, 500_000_000);
    rmSync(bundle);
    expect(decide(bin, ['kpartx'])).toEqual({ kpartx: null });
  });

  it('runs the plain build when the manifest is not one', () => {
    writeFileSync(bundle, '');
    writeFileSync(join(dist, 'build.json'), '{ not json');
    expect(decide(bin, ['kpartx'])).toEqual({ kpartx: null });
  });

  describe.skipIf(!existsSync(join(repo, 'dist', 'build.json')))('this checkout’s build', () => {
    it('records the CLI, the app’s entry, the app and the JSON path, each current', () => {
      const manifest = createRequire(import.meta.url)(join(repo, 'dist', 'build.json'));
      expect(Object.keys(manifest.bundles).sort()).toEqual(['app', 'json', 'kpartx', 'kpartx-tui']);
      expect(manifest.build.package).toMatch(/^kpartx-tui@/);
      const chosen = decide(join(repo, 'bin'), ['kpartx', 'kpartx-tui', 'app', 'json']);
      expect(chosen).toEqual({
        kpartx: join(repo, 'dist', 'cli', 'kpartx.cjs'),
        'kpartx-tui': join(repo, 'dist', 'tui', 'main.cjs'),
        app: join(repo, 'dist', 'tui', 'bundle', 'app.cjs'),
        json: join(repo, 'dist', 'cli', 'json.cjs'),
      });
    });
  });
});
