#!/usr/bin/env node
'use strict';
// The interactive app; `--json` answers without loading Ink or React (see src/tui/main.ts).
// Map removals wait in the kernel side by side on libuv's worker threads (REMOVE_CONCURRENCY in
// src/engine/backends/dm.ts); libuv starts 4 unless told otherwise before its first use.
process.env.UV_THREADPOOL_SIZE ??= '16';
import('../dist/tui/main.js')
  .then(({ main }) => main(process.argv.slice(2)))
  .then((status) => {
    process.exitCode = status;
  });
