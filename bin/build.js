'use strict';
// Which build runs, for both bins and the app: the bundles dist/build.json records
// (scripts/build-manifest.mjs), each only while the plain file it was made from is no newer than
// when it was bundled. Anything else (no manifest, a bundle missing, `tsc` run alone since) runs the
// plain ES build. A bundle with a V8 code cache recorded (kpartx's) is compiled with it while both
// files are as recorded (./code-cache.js).
const { readFileSync, statSync } = require('node:fs');
const { join } = require('node:path');

const dist = join(__dirname, '..', 'dist');
let manifest;

function bundles() {
  if (manifest === undefined) {
    try {
      manifest = JSON.parse(readFileSync(join(dist, 'build.json'), 'utf8')).bundles ?? {};
    } catch {
      manifest = {};
    }
  }
  return manifest;
}

/** The absolute path of the bundle recorded as `name`, or undefined when the plain build must run. */
function usableBundle(name) {
  const entry = bundles()[name];
  if (!entry || typeof entry.file !== 'string' || typeof entry.from !== 'string') return undefined;
  try {
    const file = join(dist, entry.file);
    statSync(file);
    if (statSync(join(dist, entry.from)).mtimeMs > entry.fromMtimeMs) return undefined;
    return file;
  } catch {
    return undefined;
  }
}

/**
 * The recorded code cache of bundle `name` (scripts/code-cache.mjs) when it was made for the very
 * bundle file at `file` and is itself the file recorded: same size and modification time for
 * both. V8 checks only the source's length, so a bundle rebuilt since must never meet the old
 * cache; a rebuild also records the bundle afresh, without a cache until one is made for it.
 */
function codeCacheOf(name, file) {
  const cache = bundles()[name]?.codeCache;
  if (!cache || typeof cache.file !== 'string') return undefined;
  try {
    const cacheFile = join(dist, cache.file);
    const bundle = statSync(file);
    const made = statSync(cacheFile);
    const same =
      bundle.size === cache.bundleSize &&
      bundle.mtimeMs === cache.bundleMtimeMs &&
      made.size === cache.size &&
      made.mtimeMs === cache.mtimeMs;
    return same ? cacheFile : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The exports of bundle `name`, compiled with its code cache where that cache belongs to it and V8
 * takes it, else required as usual; undefined when the plain build must run.
 */
function requireBundle(name) {
  const file = usableBundle(name);
  if (!file) return undefined;
  const cacheFile = codeCacheOf(name, file);
  const cached = cacheFile && require('./code-cache.js').requireWithCodeCache(file, cacheFile);
  return cached ?? require(file);
}

module.exports = { usableBundle, requireBundle };
