#!/usr/bin/env node
// The drop-in CLI. Kept free of React and Ink: it loads only the engine and the kernel layer.
import { main } from '../dist/cli/kpartx.js';

process.exitCode = await main(process.argv.slice(1));
