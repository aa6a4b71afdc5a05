'use strict';
// Which build runs, for both bins and the app: the bundles dist/build.json records
// (scripts/build-manifest.mjs), each only while the plain file it was made from is no newer than
// when it was bundled. Anything else (no manifest, a bundle missing, `tsc` run alone since) runs the
// plain ES build.
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

module.exports = { usableBundle };
