import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { displayLines, displayText } from '../io/display-text.js';
import { loadBundle } from './load-bundle.js';
import { DEFAULT_OPTIONS } from './model.js';

/**
 * Entry of the kpartx-tui binary. `--json` answers without loading Ink or React; otherwise the app
 * needs a terminal on both ends.
 */

const USAGE = `usage: kpartx-tui [PATH...]
       kpartx-tui --json [options] PATH
       kpartx-tui mount SOURCE[:N] [DIR] [--rw] [--json]
       kpartx-tui umount DIR|SOURCE [--json]

Browse block devices and disk images, preview and create partition maps, and mount them.
With one PATH the app opens straight on its layout.`;

type App = typeof import('./app-bundle.js');

const bundleFile = fileURLToPath(new URL('./bundle/app.cjs', import.meta.url));

/**
 * Whether scripts/bundle-tui.mjs has bundled this build: Ink as one file with its compiled code
 * loads several times faster than as a few hundred modules. A bundle older than the plain build is
 * stale and not used. The bundle holds only React's production build and no devtools: any other
 * NODE_ENV, or DEV=true, gets the plain build.
 */
function bundled(): boolean {
  if (process.env.NODE_ENV !== 'production' || process.env.DEV === 'true') return false;
  try {
    // This module may be running as dist/tui/main.cjs: compare with the plain build itself.
    return statSync(bundleFile).mtimeMs >= statSync(new URL('./main.js', import.meta.url)).mtimeMs;
  } catch {
    return false;
  }
}

async function loadApp(): Promise<App> {
  if (!bundled()) return await import('./app-bundle.js');
  return loadBundle(bundleFile, bundleFile.replace(/\.cjs$/, '.cache')).exports as unknown as App;
}

export async function main(args: string[]): Promise<number> {
  // The script face: no React, no Ink. A file named `mount` is opened as `./mount`.
  if (args[0] === 'mount' || args[0] === 'umount') {
    const face = await import('../mount/main.js');
    return args[0] === 'mount' ? face.mountMain(args.slice(1)) : face.umountMain(args.slice(1));
  }
  if (args.includes('--json')) {
    // A variable specifier keeps this module free of a compile-time tie to the CLI.
    const json: string = '../cli/json.js';
    const { jsonMain } = (await import(json)) as { jsonMain: (args: string[]) => Promise<number> | number };
    return await jsonMain(args);
  }
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    process.stderr.write(
      'kpartx-tui: needs an interactive terminal; for scripts use `kpartx -l PATH` or `kpartx-tui --json PATH`.\n',
    );
    return 2;
  }
  const paths = args.filter((a) => a !== '--');
  // React and its reconciler ship much smaller production builds; load those unless told otherwise.
  process.env.NODE_ENV ??= 'production';
  // Loading Ink takes a while: show where we are at once, on the screen the app will use.
  const where = paths.length === 1 ? ` · opening ${displayText(paths[0]!)}…` : ' · starting…';
  process.stdout.write(`\u001b[?1049h\u001b[2J\u001b[H\u001b[1mkpartx-tui\u001b[22m${where}`);
  try {
    const { createTuiEngine, runApp } = await loadApp();
    const engine = createTuiEngine();
    // Started on one path: look at it before the first frame, which is then its layout itself.
    // A failure is the app's to show.
    const one = paths.length === 1 ? paths[0] : undefined;
    const first = one
      ? await Promise.resolve(engine.inspect(one, DEFAULT_OPTIONS)).catch(() => undefined)
      : undefined;
    return await runApp(engine, paths, first);
  } catch (error) {
    process.stdout.write('\u001b[?1049l\u001b[?25h');
    process.stderr.write(
      `kpartx-tui: ${displayLines(error instanceof Error ? error.message : String(error))}\n`,
    );
    return 1;
  }
}
