#!/usr/bin/env node
'use strict';
// The interactive app; `--json` answers without loading Ink or React (see src/tui/main.ts). The
// build also bundles the entry into one CommonJS file, dist/tui/main.cjs: requiring it skips
// starting the ES module loader, about 10 ms of the app's start-up. The plain ES build is the
// fallback, and is used when newer than the bundle.
//
// Map removals wait in the kernel side by side on libuv's worker threads (REMOVE_CONCURRENCY in
// src/engine/backends/dm.ts); libuv starts 4 unless told otherwise before its first use.
process.env.UV_THREADPOOL_SIZE ??= '16';
const { statSync } = require('node:fs');
const { join } = require('node:path');

const dir = join(__dirname, '..', 'dist', 'tui');
function bundled() {
  try {
    return statSync(join(dir, 'main.cjs')).mtimeMs >= statSync(join(dir, 'main.js')).mtimeMs;
  } catch {
    return false;
  }
}
const load = bundled() ? Promise.resolve(require(join(dir, 'main.cjs'))) : import('../dist/tui/main.js');
load
  .then(({ main }) => main(process.argv.slice(2)))
  .then((status) => {
    process.exitCode = status;
  });
