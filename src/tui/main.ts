import { createRequire } from 'node:module';
import { displayLines, displayText } from '../io/display-text.js';
import { keysText } from './keys/key-help.js';
import { loadBundle } from './load-bundle.js';
import { DEFAULT_OPTIONS } from './model.js';

/**
 * Entry of the kpartx-tui binary. `--json` answers without loading Ink or React; otherwise the app
 * needs a terminal on both ends.
 */

const USAGE = `usage: kpartx-tui [PATH...]
       kpartx-tui --json [options] PATH
       kpartx-tui mount SOURCE[:N|:VG/LV|:N/VG/LV] [DIR] [--rw|--overlay[=PATH]] [--type T] [--options O] [--json]
       kpartx-tui mount SOURCE:VG/LV [DIR] --with IMAGE [--with IMAGE]... [--rw] [--json]
       kpartx-tui umount DIR|SOURCE [--commit|--discard] [--json]
       kpartx-tui overlay commit|discard OVERLAY
       kpartx-tui passwd SOURCE[:N|:VG/LV|:N/VG/LV] USER [--overlay[=PATH]] [--unlock] [--clear-forced-change] [--clear-expiry] [--json]
       kpartx-tui passwd SOURCE[:N|:VG/LV|:N/VG/LV] --list [--json]
       kpartx-tui convert IMAGE [OUT]

Browse block devices and disk images, preview and create partition maps, and mount them.
With one PATH the app opens straight on its layout.`;

type App = typeof import('./app-bundle.js');

/** What the build manifest decided for this run (bin/build.js reads dist/build.json). */
export interface BuildChoice {
  /** The bundled app (dist/tui/bundle/app.cjs) when the build made it and it is not stale. */
  appBundle?: string;
  /** The bundled `--json` path (dist/cli/json.cjs) when the build made it and it is not stale. */
  jsonBundle?: string;
}

/**
 * The bundle holds only React's production build and no devtools: a NODE_ENV other than
 * production, or DEV=true, gets the plain build.
 */
const wantsPlain = (): boolean =>
  (process.env.NODE_ENV ?? 'production') !== 'production' || process.env.DEV === 'true';

/**
 * The plain app, with React's production build unless NODE_ENV says otherwise. React picks its
 * build from NODE_ENV once, when loaded: it is set for that load only, so it never reaches the
 * processes the app starts (mount, the user's shell).
 */
async function loadPlainApp(): Promise<App> {
  const unset = process.env.NODE_ENV === undefined;
  if (unset) process.env.NODE_ENV = 'production';
  try {
    return await import('./app-bundle.js');
  } finally {
    if (unset) delete process.env.NODE_ENV;
  }
}

/** Ink as one file with its compiled code loads several times faster than as a few hundred modules. */
export async function loadApp(build: BuildChoice): Promise<App> {
  if (!build.appBundle || wantsPlain()) return await loadPlainApp();
  const file = build.appBundle;
  return loadBundle(file, file.replace(/\.cjs$/, '.cache')).exports as unknown as App;
}

export async function main(args: string[], build: BuildChoice = {}): Promise<number> {
  // The script face: no React, no Ink. A file named `mount` is opened as `./mount`.
  if (args[0] === 'mount' || args[0] === 'umount') {
    const face = await import('../mount/main.js');
    return args[0] === 'mount' ? face.mountMain(args.slice(1)) : face.umountMain(args.slice(1));
  }
  if (args[0] === 'convert') {
    const { convertMain } = await import('../mount/convert.js');
    return convertMain(args.slice(1));
  }
  if (args[0] === 'overlay') {
    const { overlayMain } = await import('../mount/overlay-mount.js');
    return overlayMain(args.slice(1));
  }
  if (args[0] === 'passwd') {
    const { passwdMain, processPasswdDeps } = await import('../mount/passwd.js');
    return passwdMain(args.slice(1), processPasswdDeps());
  }
  if (args.includes('--json')) {
    // A variable specifier keeps this module free of a compile-time tie to the CLI. The bundle is one
    // CommonJS file: as ES modules the JSON path spent longer loading than listing an image.
    const json: string = '../cli/json.js';
    type JsonFace = { jsonMain: (args: string[]) => Promise<number> | number };
    const { jsonMain } = build.jsonBundle
      ? (createRequire(build.jsonBundle)(build.jsonBundle) as JsonFace)
      : ((await import(json)) as JsonFace);
    return await jsonMain(args);
  }
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${USAGE}\n\n${keysText()}\n`);
    return 0;
  }
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    process.stderr.write(
      'kpartx-tui: needs an interactive terminal; for scripts use `kpartx -l PATH` or `kpartx-tui --json PATH`.\n',
    );
    return 2;
  }
  const paths = args.filter((a) => a !== '--');
  // Loading Ink takes a while: show where we are at once, on the screen the app will use.
  const where = paths.length === 1 ? ` · opening ${displayText(paths[0]!)}…` : ' · starting…';
  process.stdout.write(`\u001b[?1049h\u001b[2J\u001b[H\u001b[1mkpartx-tui\u001b[22m${where}`);
  try {
    const { createTuiEngine, runApp } = await loadApp(build);
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
