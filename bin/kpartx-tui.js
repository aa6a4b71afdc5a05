#!/usr/bin/env node
'use strict';
// The interactive app; `--json` answers without loading Ink or React (see src/tui/main.ts).
import('../dist/tui/main.js')
  .then(({ main }) => main(process.argv.slice(2)))
  .then((status) => {
    process.exitCode = status;
  });
