/**
 * dist/build.json, the one record of which build runs: the bundles the build made, each with the
 * plain (tsc) file it was made from and that file's modification time then, and the build's
 * identity. bin/build.js reads it for both bins and the app: a bundle is used only while the plain
 * file it came from is no newer than when it was bundled, so a plain rebuild alone (tsc) is never
 * shadowed by a stale bundle.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const manifestFile = join(dist, 'build.json');

function previous() {
  try {
    return JSON.parse(readFileSync(manifestFile, 'utf8'));
  } catch {
    return { bundles: {} };
  }
}

/**
 * Record `bundles` ({ name: { file, from } }, paths relative to dist/), keeping the others the
 * manifest already names (a later step of the same build adds its own).
 */
export function recordBundles(bundles) {
  const { name, version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const manifest = previous();
  for (const [key, { file, from }] of Object.entries(bundles)) {
    statSync(join(dist, file)); // written: a missing bundle is a build failure, not a record
    manifest.bundles[key] = { file, from, fromMtimeMs: statSync(join(dist, from)).mtimeMs };
  }
  manifest.build = {
    package: `${name}@${version}`,
    node: process.version,
    builtAt: new Date().toISOString(),
  };
  writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
}

/**
 * Record `cacheFile` (relative to dist/) as the V8 code cache of the recorded bundle `name`, with
 * the size and modification time of both files now: bin/build.js uses the cache only while both
 * are still these, so a bundle written again never runs with a cache made for the old one.
 */
export function recordCodeCache(name, cacheFile) {
  const manifest = previous();
  const entry = manifest.bundles?.[name];
  if (!entry) throw new Error(`build manifest: no bundle ${name} to record a code cache for`);
  const bundle = statSync(join(dist, entry.file));
  const cache = statSync(join(dist, cacheFile));
  entry.codeCache = {
    file: cacheFile,
    size: cache.size,
    mtimeMs: cache.mtimeMs,
    bundleSize: bundle.size,
    bundleMtimeMs: bundle.mtimeMs,
  };
  writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
}
