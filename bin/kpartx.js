#!/usr/bin/env node
'use strict';
// The drop-in CLI, free of React and Ink. The build also bundles it into one CommonJS file,
// dist/cli/kpartx.cjs: loading one file instead of some thirty ES modules keeps `kpartx -l`
// close to a bare Node start, and the build's V8 code cache of it (./code-cache.js) saves most of
// compiling it. Which one runs, and with which cache, is the build manifest's to say (./build.js).
// Map removals wait in the kernel side by side on libuv's worker threads (REMOVE_CONCURRENCY in
// src/engine/backends/dm.ts); libuv starts 4 unless told otherwise before its first use.
process.env.UV_THREADPOOL_SIZE ??= '16';
const { requireBundle } = require('./build.js');

const bundle = requireBundle('kpartx');
const load = bundle ? Promise.resolve(bundle) : import('../dist/cli/kpartx.js');
load
  .then(({ main }) => main(process.argv.slice(1)))
  .then((status) => {
    process.exitCode = status;
  });
