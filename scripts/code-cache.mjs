/**
 * The V8 code cache of dist/cli/kpartx.cjs, made after `kpartx -l` has listed a small image in a
 * child Node (so the cache holds the functions a listing compiles, not only the top level), and
 * recorded in dist/build.json. bin/kpartx.js compiles the bundle with it (bin/code-cache.js); a
 * Node or V8 flags of another kind make V8 reject it, and the bundle is then required as usual.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { recordCodeCache } from './build-manifest.mjs';
import { writeListingImage } from './listing-image.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Make and record the code cache of bundle `name` (dist/`file`), exercised by `main(argv)` with
 * argv[1] the image. Run in a child with no NODE_OPTIONS: V8 rejects a cache made under other flags
 * than the run's, and `kpartx` runs with none.
 */
export function makeCodeCache(name, file, argv) {
  const work = mkdtempSync(join(tmpdir(), 'kpartx-code-cache-'));
  try {
    const image = join(work, 'disk.img');
    writeListingImage(image);
    const bundle = join(root, 'dist', file);
    const cacheFile = `${file}.cache`;
    const program = `
      const { writeFileSync } = require('node:fs');
      const { makeCodeCache } = require(${JSON.stringify(join(root, 'bin', 'code-cache.js'))});
      makeCodeCache(${JSON.stringify(bundle)}, async ({ main }) => {
        const status = await main(${JSON.stringify(argv)}.concat(${JSON.stringify(image)}));
        if (status !== 0) throw new Error('the representative run exited ' + status);
      }).then((data) => writeFileSync(${JSON.stringify(join(root, 'dist', cacheFile))}, data));`;
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const child = spawnSync(process.execPath, ['-e', program], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    if (child.status !== 0) throw new Error(`code cache of ${file}: ${child.stderr}`);
    recordCodeCache(name, cacheFile);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
