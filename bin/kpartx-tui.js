#!/usr/bin/env node
'use strict';
// The interactive app; `--json` answers without loading Ink or React (see src/tui/main.ts). The
// build also bundles the entry into one CommonJS file, dist/tui/main.cjs (requiring it skips
// starting the ES module loader, about 10 ms of the app's start-up), and the app into another.
// Which of them run is the build manifest's to say (./build.js); the entry is told which app to load.
//
// Map removals wait in the kernel side by side on libuv's worker threads (REMOVE_CONCURRENCY in
// src/engine/backends/dm.ts); libuv starts 4 unless told otherwise before its first use.
process.env.UV_THREADPOOL_SIZE ??= '16';
const { usableBundle } = require('./build.js');

const entry = usableBundle('kpartx-tui');
const load = entry ? Promise.resolve(require(entry)) : import('../dist/tui/main.js');
load
  .then(({ main }) =>
    main(process.argv.slice(2), { appBundle: usableBundle('app'), jsonBundle: usableBundle('json') }),
  )
  .then((status) => {
    process.exitCode = status;
  });
