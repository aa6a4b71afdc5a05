#!/usr/bin/env node
/**
 * Bundles the interactive app (dist/tui/run.js with Ink and React, and dist/tui/engine.js) into
 * dist/tui/bundle/, after `tsc` has built dist/. Ink pulls in a few hundred small ES modules
 * (es-toolkit's compat layer alone is hundreds); resolving and evaluating them one by one is most
 * of the app's start-up, and a bundle loads about four times faster. dist/tui/main.js uses the
 * bundle when it is at least as new as itself and falls back to the plain build otherwise.
 */
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rolldown } from 'rolldown';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tuiDir = join(root, 'dist', 'tui');
const outDir = join(tuiDir, 'bundle');

/**
 * yoga-layout (Ink's layout engine) carries its WebAssembly inline as a base64 data: URL, and its
 * loader reads that URL with fetch() wherever fetch exists. In Node that first loads the whole of
 * undici, Node's fetch, some 50 ms of start-up, to decode a string. Hand the loader the bytes
 * instead (it skips fetch when given `wasmBinary`) and drop the unused copy of the data URL.
 */
function yogaWithoutFetch() {
  const yogaDir = dirname(createRequire(import.meta.url).resolve('yoga-layout'));
  const loaderFile = join(yogaDir, '..', 'binaries', 'yoga-wasm-base64-esm.js');
  const indexFile = join(yogaDir, 'index.js');
  const dataUrl = /"data:application\/octet-stream;base64,([A-Za-z0-9+/=]+)"/g;
  const matches = [...readFileSync(loaderFile, 'utf8').matchAll(dataUrl)];
  if (matches.length !== 1) throw new Error(`${loaderFile}: expected one inline wasm data URL`);
  const base64 = matches[0][1];
  const replaceOnce = (code, from, to, file) => {
    const parts = code.split(from);
    if (parts.length !== 2) throw new Error(`${file}: expected \`${from.slice(0, 60)}\` once`);
    return parts.join(to);
  };
  return {
    name: 'yoga-without-fetch',
    transform(code, id) {
      if (id === loaderFile)
        return replaceOnce(code, matches[0][0], '"data:application/octet-stream;base64,"', id);
      if (id === indexFile)
        return replaceOnce(
          code,
          'await loadYoga()',
          `await loadYoga({ wasmBinary: Buffer.from("${base64}", "base64") })`,
          id,
        );
      return null;
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
  const fromInk = join(dirname(createRequire(import.meta.url).resolve('ink')), 'output.js');
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

const bundle = await rolldown({
  input: { app: join(tuiDir, 'run.js'), engine: join(tuiDir, 'engine.js') },
  platform: 'node',
  // koffi is a native addon; Ink's devtools module is only loaded with DEV=true.
  external: [/^node:/, 'koffi', 'react-devtools-core'],
  plugins: [yogaWithoutFetch(), narrowFirstStringWidth()],
  // React, its reconciler and scheduler pick their production or development build at run time;
  // the bundle keeps only the production one (dist/tui/main.js uses it only in production), which
  // halves its size.
  transform: { define: { 'process.env.NODE_ENV': '"production"' } },
  logLevel: 'warn',
});
// Chunk names carry content hashes: drop the previous build's files first.
await rm(outDir, { recursive: true, force: true });
// ES modules, not CommonJS: yoga-layout (Ink's layout engine) initialises with a top-level await.
await bundle.write({
  dir: outDir,
  format: 'es',
  entryFileNames: '[name].mjs',
  chunkFileNames: '[name]-[hash].mjs',
});
await bundle.close();
