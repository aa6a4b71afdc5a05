/** Everything dist/tui/main.js needs for the interactive app, as one module for the bundler. */
export { createTuiEngine } from './engine.js';
export { runApp } from './run.js';
