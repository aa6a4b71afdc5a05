#!/usr/bin/env node
/**
 * Bundles the kpartx CLI (dist/cli/kpartx.js and everything it imports) into one CommonJS file,
 * dist/cli/kpartx.cjs, after `tsc` has built dist/. Loading ~30 ES modules costs about as much as
 * Node's own start-up; one CommonJS file brings `kpartx -l IMAGE` close to a bare `node -e 0`.
 * Modules the CLI imports lazily (the kernel bindings, the map backends) become separate chunks
 * next to it, so listing an image still never loads koffi. The bundle is recorded in dist/build.json
 * (scripts/build-manifest.mjs), which decides whether bin/kpartx.js uses it, with the V8 code
 * cache scripts/code-cache.mjs makes of it.
 */
import { readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rolldown } from 'rolldown';
import { recordBundles } from './build-manifest.mjs';
import { makeCodeCache } from './code-cache.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'dist', 'cli');

const bundle = await rolldown({
  input: { kpartx: join(outDir, 'kpartx.js') },
  platform: 'node',
  external: [/^node:/, 'koffi'],
  logLevel: 'warn',
});
// Same folder as the ES build, so paths relative to the module (../../package.json) still hold.
// Chunk names carry content hashes: drop the previous build's files first.
for (const name of await readdir(outDir)) {
  if (/^(kpartx|json)(-.+)?\.cjs(\.cache)?$/.test(name)) await rm(join(outDir, name));
}
await bundle.write({
  dir: outDir,
  format: 'cjs',
  entryFileNames: '[name].cjs',
  chunkFileNames: 'kpartx-[name]-[hash].cjs',
  // Plain ASCII without doc comments: V8 keeps a source with one character beyond ASCII as two bytes
  // a character (the file read, decoded and wrapped twice as slowly), and comments are only read past.
  charset: 'ascii',
  comments: { jsdoc: false, legal: true, annotation: true },
});
await bundle.close();

// `kpartx-tui --json` the same way, on its own (sharing chunks with kpartx.cjs would add a file to
// every `kpartx -l`): as ES modules its 75 files took longer to load than the listing took.
const json = await rolldown({
  input: { json: join(outDir, 'json.js') },
  platform: 'node',
  external: [/^node:/, 'koffi'],
  logLevel: 'warn',
});
await json.write({
  dir: outDir,
  format: 'cjs',
  entryFileNames: '[name].cjs',
  chunkFileNames: 'json-[name]-[hash].cjs',
});
await json.close();
recordBundles({
  kpartx: { file: 'cli/kpartx.cjs', from: 'cli/kpartx.js' },
  json: { file: 'cli/json.cjs', from: 'cli/json.js' },
});
// After the record: the cache is recorded against the bundle as written (scripts/code-cache.mjs).
makeCodeCache('kpartx', 'cli/kpartx.cjs', ['kpartx', '-l']);
