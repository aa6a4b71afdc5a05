'use strict';
// A CommonJS bundle compiled with a V8 code cache: V8 then neither parses the bundle nor compiles
// the functions the cache holds, most of what loading dist/cli/kpartx.cjs costs `kpartx -l` beyond
// Node's own start. Node 20 has no module.enableCompileCache, so the bundle is wrapped and run here
// as the CommonJS loader runs a file. The build makes the cache (scripts/code-cache.mjs, through
// makeCodeCache) and nothing writes it at run time; bin/build.js decides whether it belongs to the
// bundle on disk. The app's bundle has its own loader of the same kind, src/tui/load-bundle.ts; this
// one is plain CommonJS so that the CLI needs no ES module to start.
const { isAscii } = require('node:buffer');
const { readFileSync } = require('node:fs');
const Module = require('node:module');
const { dirname } = require('node:path');
const vm = require('node:vm');

/** The same wrapper when the cache is made and when it is used: V8 checks the source's length. */
const wrap = (source) => `(function (exports, require, module, __filename, __dirname) { ${source}\n});`;

function compile(file, cachedData) {
  const bytes = readFileSync(file);
  // The build writes it in ASCII: read as Latin-1 it needs no UTF-8 decoding (as src/tui/load-bundle.ts).
  const source = isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
  return new vm.Script(wrap(source), { filename: file, cachedData });
}

/** Runs the compiled bundle as the module `file`; its own relative requires resolve next to it. */
function run(script, file) {
  const module = new Module(file, null);
  module.filename = file;
  require.cache[file] = module;
  script
    .runInThisContext()
    .call(module.exports, module.exports, Module.createRequire(file), module, file, dirname(file));
  module.loaded = true;
  return module.exports;
}

/**
 * The exports of CommonJS `file` compiled with the code cache in `cacheFile`; undefined, with the
 * bundle not run, when the cache cannot be read or V8 rejects it (made by another Node, with other
 * V8 flags, or for a source of another length): the caller then requires the file as usual.
 */
function requireWithCodeCache(file, cacheFile) {
  let script;
  try {
    script = compile(file, readFileSync(cacheFile));
  } catch {
    return undefined;
  }
  return script.cachedDataRejected ? undefined : run(script, file);
}

/**
 * At build time: runs `file`, lets `exercise(exports)` do a representative run, then returns the
 * code cache of all the functions compiled so far.
 */
async function makeCodeCache(file, exercise) {
  const script = compile(file);
  await exercise(run(script, file));
  return script.createCachedData();
}

module.exports = { requireWithCodeCache, makeCodeCache };
