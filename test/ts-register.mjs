// Lets a plain `node` child process (spawned by a test) run the TypeScript sources directly:
// `node --import ./test/ts-register.mjs script.ts`. Types are stripped with the TypeScript compiler.
import { register } from 'node:module';

register('./ts-hooks.mjs', import.meta.url);
