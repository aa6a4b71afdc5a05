#!/usr/bin/env node
/**
 * Bundles kpartx-tui after `tsc` has built dist/, in two CommonJS files:
 *   - dist/tui/bundle/app.cjs, the interactive app (dist/tui/app-bundle.js: the engine, and Ink
 *     with React), with V8's code cache for it, app.cache (see src/tui/load-bundle.ts). Ink pulls
 *     in a few hundred small ES modules (es-toolkit's compat layer alone is hundreds); resolving
 *     and evaluating them one by one is most of the app's start-up, and one file with compiled
 *     code to go with it loads several times faster. Modules the engine loads lazily (the kernel
 *     bindings, the map backends) stay separate chunks.
 *   - dist/tui/main.cjs, the entry (dist/tui/main.js with the little it imports), which
 *     bin/kpartx-tui.js loads with require(): starting in the ES module loader costs about 10 ms.
 * Both are recorded in dist/build.json (scripts/build-manifest.mjs), which decides whether they
 * run; the plain build is the fallback.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { rolldown } from 'rolldown';
import { recordBundles } from './build-manifest.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tuiDir = join(root, 'dist', 'tui');
const outDir = join(tuiDir, 'bundle');
const require = createRequire(import.meta.url);
const inkDir = dirname(require.resolve('ink'));

const replaceOnce = (code, from, to, file) => {
  const parts = code.split(from);
  if (parts.length !== 2) throw new Error(`${file}: expected \`${from.slice(0, 60)}\` once`);
  return parts.join(to);
};

/**
 * yoga-layout (Ink's layout engine) carries its WebAssembly inline as a base64 data: URL and
 * initialises with a top-level await, which CommonJS cannot hold. Its loader also reads that URL
 * with fetch() wherever fetch exists, which in Node first loads the whole of undici (Node's fetch),
 * 50-100 ms of start-up, to decode a string. Instead, hand the loader the bytes and instantiate them
 * synchronously (Emscripten's instantiateWasm hook), which completes its start-up before it
 * returns, and drop the unused copy of the data URL.
 */
function yogaSync() {
  const yogaDir = dirname(require.resolve('yoga-layout'));
  const loaderFile = join(yogaDir, '..', 'binaries', 'yoga-wasm-base64-esm.js');
  const indexFile = join(yogaDir, 'index.js');
  const dataUrl = /"data:application\/octet-stream;base64,([A-Za-z0-9+/=]+)"/g;
  const matches = [...readFileSync(loaderFile, 'utf8').matchAll(dataUrl)];
  if (matches.length !== 1) throw new Error(`${loaderFile}: expected one inline wasm data URL`);
  const base64 = matches[0][1];
  const instantiate = `(() => {
  const wasmBinary = Buffer.from("${base64}", "base64");
  const yoga = {
    wasmBinary,
    instantiateWasm(imports, receive) {
      const instance = new WebAssembly.Instance(new WebAssembly.Module(wasmBinary), imports);
      receive(instance);
      return instance.exports;
    },
  };
  loadYoga(yoga);
  if (!yoga.calledRun) throw new Error("yoga-layout did not start synchronously");
  return yoga;
})()`;
  return {
    name: 'yoga-sync',
    transform(code, id) {
      if (id === loaderFile)
        return replaceOnce(code, matches[0][0], '"data:application/octet-stream;base64,"', id);
      if (id === indexFile) return replaceOnce(code, 'await loadYoga()', instantiate, id);
      return null;
    },
  };
}

/**
 * Ink's reconciler connects React devtools when DEV=true, through two top-level awaits that
 * CommonJS cannot hold either. The bundle leaves devtools out (dist/tui/main.js takes the plain
 * build when DEV=true), so both are cut here.
 */
function inkWithoutDevtools() {
  const reconciler = join(inkDir, 'reconciler.js');
  return {
    name: 'ink-without-devtools',
    transform(code, id) {
      if (id !== reconciler) return null;
      const noDevtools = "throw new Error('React devtools: run the plain build (DEV=true)');";
      const cut = replaceOnce(code, "await import('./devtools.js');", noDevtools, id);
      return replaceOnce(cut, '? await loadPackageJson()', '? undefined', id);
    },
  };
}

/**
 * Ink measures text with string-width; the bundle gives it dist/tui/string-width.js instead, the
 * same widths with a shortcut for the one-column characters the app draws with (see there). Only
 * Ink's copy of string-width is swapped, by resolved file; the wrapper itself gets the real one.
 */
function narrowFirstStringWidth() {
  const wrapper = join(tuiDir, 'string-width.js');
  const fromInk = join(inkDir, 'output.js');
  return {
    name: 'narrow-first-string-width',
    async resolveId(source, importer, options) {
      if (source !== 'string-width' || !importer) return null;
      const real = await this.resolve(source, fromInk, { ...options, skipSelf: true });
      if (!real) throw new Error('string-width not found from Ink');
      if (importer === wrapper) return real;
      const resolved = await this.resolve(source, importer, { ...options, skipSelf: true });
      return resolved?.id === real.id ? wrapper : resolved;
    },
  };
}

/**
 * Ink's text libraries each make an Intl.Segmenter when loaded; the bundle gives them
 * dist/tui/segmenter.js instead, the same clusters without loading ICU for the text the app draws
 * (see there). Only dependencies are rewritten, and only ES modules (the import goes on top).
 */
function graphemeSegmenter() {
  const segmenter = join(tuiDir, 'segmenter.js');
  return {
    name: 'grapheme-segmenter',
    transform(code, id) {
      if (!id.includes('/node_modules/') || !code.includes('new Intl.Segmenter(')) return null;
      if (!/^\s*(import|export)\s/m.test(code)) throw new Error(`${id}: not an ES module`);
      const swapped = code.replaceAll('new Intl.Segmenter(', 'new GraphemeSegmenter(');
      return `import { GraphemeSegmenter } from ${JSON.stringify(segmenter)};\n${swapped}`;
    },
  };
}

const bundle = await rolldown({
  input: { app: join(tuiDir, 'app-bundle.js') },
  platform: 'node',
  // koffi is a native addon.
  external: [/^node:/, 'koffi'],
  plugins: [yogaSync(), inkWithoutDevtools(), narrowFirstStringWidth(), graphemeSegmenter()],
  // React, its reconciler and scheduler pick their production or development build at run time;
  // the bundle keeps only the production one (dist/tui/main.js uses it only in production), which
  // halves its size.
  transform: { define: { 'process.env.NODE_ENV': '"production"' } },
  logLevel: 'warn',
  onLog(level, log, handler) {
    // The TUI engine imports the loop backend itself; that the backend selector's lazy import of
    // it then stays in the main file is expected.
    if (log.code !== 'INEFFECTIVE_DYNAMIC_IMPORT') handler(level, log);
  },
});
// Chunk names carry content hashes: drop the previous build's files first.
await rm(outDir, { recursive: true, force: true });
await bundle.write({
  dir: outDir,
  format: 'cjs',
  charset: 'ascii',
  comments: { legal: true, annotation: false, jsdoc: false },
  entryFileNames: '[name].cjs',
  chunkFileNames: '[name]-[hash].cjs',
});
await bundle.close();

// The entry: the plain app, the JSON path and the mount, passwd, convert and overlay faces stay ES modules it imports when it needs them.
const entry = await rolldown({
  input: join(tuiDir, 'main.js'),
  platform: 'node',
  external: [
    /^node:/,
    /\/app-bundle\.js$/,
    /\/cli\/json\.js$/,
    /\/mount\/(main|passwd|convert|overlay-mount)\.js$/,
  ],
  logLevel: 'warn',
});
await entry.write({ file: join(tuiDir, 'main.cjs'), format: 'cjs', charset: 'ascii', comments: false });
await entry.close();

/**
 * One start of the app, off-screen: an 80x24 stand-in terminal, a made-up 64-partition GPT disk
 * (its contents arriving a moment after the layout, as the engine's do), then q. V8 compiles most
 * functions only when first called; after this the code cache holds those of the first frames too,
 * which saves the real first frame about 10 ms more.
 */
async function warmUp({ runApp }) {
  const partitions = Array.from({ length: 64 }, (_, i) => ({
    number: i + 1,
    start: 2048 * (i + 1),
    size: 2048,
    container: 0,
    kind: 'primary',
    typeName: 'Linux filesystem',
    typeCode: '0fc63daf-8483-4772-8e79-3d69d8477de4',
    gptName: `part${i + 1}`,
    flags: [],
  }));
  const look = (contents) => ({
    layout: {
      path: '/warm-up.img',
      tableType: 'gpt',
      diskId: '00000000-0000-4000-8000-000000000000',
      sectorSize: 512,
      sizeSectors: 2048 * 66,
      partitions: partitions.map((p) => (contents ? { ...p, contents: `ext4 "${p.gptName}"` } : p)),
      ...(contents ? {} : { contentsPending: true }),
      warnings: [],
    },
    preview: {
      backend: 'loop',
      backendReason: 'no device-mapper here',
      delimiter: 'p',
      maps: partitions.map((p) => ({
        number: p.number,
        name: `loop0p${p.number}`,
        path: `/dev/loop0p${p.number}`,
        table: `loop over /dev/loop0 offset ${p.start * 512} size ${p.size * 512}`,
        readOnly: false,
        exists: false,
      })),
      problems: [],
    },
    existing: [],
  });
  const stdin = Object.assign(new PassThrough({ encoding: 'utf8' }), {
    isTTY: true,
    setRawMode() {},
    ref() {},
    unref() {},
  });
  let shown = '';
  let leaving;
  const stdout = Object.assign(
    new Writable({
      write(chunk, _encoding, done) {
        shown += chunk;
        // The contents are in: leave, once the frame's effects have run (the app then listens
        // for keys again).
        if (!leaving && shown.includes('ext4 "part1"')) leaving = setTimeout(() => stdin.write('q'), 50);
        done();
      },
    }),
    { isTTY: true, columns: 80, rows: 24 },
  );
  const refuse = async () => {
    throw new Error('not in the warm-up');
  };
  const engine = {
    isRoot: false,
    listSources: () => [],
    inspect: () => look(true),
    add: refuse,
    remove: refuse,
    mount: refuse,
    listTree: () => [],
    unmount: refuse,
  };
  const quit = setTimeout(() => {
    throw new Error(`warm-up: the app did not get to its contents; it showed:\n${shown}`);
  }, 10_000);
  await runApp(engine, ['/warm-up.img'], look(false), { stdin, stdout });
  clearTimeout(quit);
}

// Run the bundle once, as the app loads it, and the app once, and keep what V8 compiled.
// Ink draws only its last frame when it sees CI set, so the warm-up would never see the contents
// arrive (and would leave the frame-drawing code out of the cache): draw as in a terminal.
process.env.CI = 'false';
delete process.env.CONTINUOUS_INTEGRATION;
const { loadBundle } = await import(pathToFileURL(join(tuiDir, 'load-bundle.js')).href);
const appFile = join(outDir, 'app.cjs');
const cacheFile = join(outDir, 'app.cache');
// vm.Script, which runs the bundle, has no ES module loader behind import(): the bundle must not
// need one (the bundler turns imports of its own chunks into require()).
if (/\bimport\(/.test(readFileSync(appFile, 'latin1'))) throw new Error(`${appFile}: has an import()`);
const loaded = loadBundle(appFile, cacheFile);
await warmUp(loaded.exports);
writeFileSync(cacheFile, loaded.createCache());
recordBundles({
  'kpartx-tui': { file: 'tui/main.cjs', from: 'tui/main.js' },
  app: { file: 'tui/bundle/app.cjs', from: 'tui/app-bundle.js' },
});
