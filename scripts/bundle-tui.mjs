#!/usr/bin/env node
/**
 * Bundles the interactive app (dist/tui/run.js with Ink and React, and dist/tui/engine.js) into
 * dist/tui/bundle/, after `tsc` has built dist/. Ink pulls in a few hundred small ES modules
 * (es-toolkit's compat layer alone is hundreds); resolving and evaluating them one by one is most
 * of the app's start-up, and a bundle loads about four times faster. dist/tui/main.js uses the
 * bundle when it is at least as new as itself and falls back to the plain build otherwise.
 */
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rolldown } from 'rolldown';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tuiDir = join(root, 'dist', 'tui');
const outDir = join(tuiDir, 'bundle');

const bundle = await rolldown({
  input: { app: join(tuiDir, 'run.js'), engine: join(tuiDir, 'engine.js') },
  platform: 'node',
  // koffi is a native addon; Ink's devtools module is only loaded with DEV=true.
  external: [/^node:/, 'koffi', 'react-devtools-core'],
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
