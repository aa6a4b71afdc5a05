/**
 * Loads the bundled app (dist/tui/bundle/app.cjs, made by scripts/bundle-tui.mjs) as CommonJS with
 * V8's code cache. Node 20 keeps no compiled code between runs (module.enableCompileCache() came
 * in Node 22), so the bundle's 0.8 MB would be parsed and compiled afresh at every start. The build
 * runs the bundle once and saves what V8 compiled next to it (app.cache); loading hands that back
 * to V8, which checks it against its own version and flags and the source, and compiles as usual
 * when it does not fit.
 */
import { isAscii } from 'node:buffer';
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';

export interface LoadedBundle {
  exports: Record<string, unknown>;
  /** Whether V8 took the saved code (false when there was none, it was stale or did not fit). */
  cacheUsed: boolean;
  /** What V8 has compiled of the bundle so far, for the build to save. */
  createCache(): Buffer;
}

/** The cache made after this bundle was written, or undefined. */
function cacheFor(file: string, cacheFile: string): Buffer | undefined {
  try {
    if (statSync(cacheFile).mtimeMs < statSync(file).mtimeMs) return undefined;
    return readFileSync(cacheFile);
  } catch {
    return undefined;
  }
}

export function loadBundle(file: string, cacheFile: string): LoadedBundle {
  const bytes = readFileSync(file);
  // The build writes it in ASCII: read that as Latin-1 and V8 keeps it one byte per character.
  const source = isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
  const cachedData = cacheFor(file, cacheFile);
  // The same wrapper as Node's own CommonJS loader, so the bundle sees the usual module scope.
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: file,
    ...(cachedData ? { cachedData } : {}),
  });
  const module = { exports: {} as Record<string, unknown> };
  const run = script.runInThisContext() as (...args: unknown[]) => void;
  run.call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  return {
    exports: module.exports,
    cacheUsed: cachedData !== undefined && !script.cachedDataRejected,
    createCache: () => script.createCachedData(),
  };
}
