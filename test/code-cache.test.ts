/**
 * The V8 code cache of the CLI's bundle (bin/code-cache.js, made by scripts/code-cache.mjs and
 * recorded in dist/build.json): used only while it belongs to the bundle file on disk and V8 takes
 * it; a rejected, missing or stale cache falls back to requiring the bundle, with the same answer.
 * Checked over a made-up dist/ with a copy of bin/, then on this checkout's own build.
 */
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { t01 } from './cli-helpers.js';

const repo = join(import.meta.dirname, '..');

/**
 * Runs `program` (CommonJS) in a fresh Node with no flags, after a hook that reports on stderr
 * each code cache V8 is offered (`offered accepted|rejected`) and each file the CommonJS loader
 * loads by name ending in `.cjs` (`required NAME`).
 */
function node(work: string, program: string, args: string[] = []) {
  const hook = join(work, 'hook.cjs');
  writeFileSync(
    hook,
    `const vm = require('node:vm');
const Script = vm.Script;
vm.Script = function (source, options) {
  const script = new Script(source, options);
  if (options && options.cachedData) process.stderr.write('offered ' + (script.cachedDataRejected ? 'rejected' : 'accepted') + '\\n');
  return script;
};
const M = require('node:module');
const load = M._load;
M._load = function (request, ...rest) {
  if (String(request).endsWith('.cjs')) process.stderr.write('required ' + require('node:path').basename(request) + '\\n');
  return load.call(this, request, ...rest);
};
`,
  );
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return spawnSync(process.execPath, ['--require', hook, '-e', program, '--', ...args], {
    encoding: 'utf8',
    env,
  });
}

describe('the code cache over a made-up build', () => {
  let work = '';
  let bin = '';
  let dist = '';
  let bundle = '';
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'kpartx-code-cache-'));
    bin = join(work, 'bin');
    dist = join(work, 'dist');
    mkdirSync(bin);
    mkdirSync(join(dist, 'cli'), { recursive: true });
    for (const name of ['build.js', 'code-cache.js', 'package.json'])
      copyFileSync(join(repo, 'bin', name), join(bin, name));
    bundle = join(dist, 'cli', 'kpartx.cjs');
    // Two bundles of the same length, so V8's own check (the source's length) cannot tell them apart.
    writeFileSync(join(dist, 'cli', 'kpartx.js'), '');
    writeFileSync(join(dist, 'cli', 'helper.cjs'), "exports.greeting = (who) => 'hello ' + who;\n");
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const source = (word: 'first' | 'again') =>
    `const { greeting } = require('./helper.cjs');\nexports.word = () => greeting('${word}');\n`;

  /** Writes the bundle, makes its cache in a fresh Node and records both as the build does. */
  function build(word: 'first' | 'again') {
    writeFileSync(bundle, source(word));
    const made = node(
      work,
      `const { makeCodeCache } = require(${JSON.stringify(join(bin, 'code-cache.js'))});
makeCodeCache(${JSON.stringify(bundle)}, (m) => m.word()).then((data) => require('node:fs').writeFileSync(${JSON.stringify(`${bundle}.cache`)}, data));`,
    );
    expect(made.status, made.stderr).toBe(0);
    record();
  }

  /** dist/build.json naming the bundle and its cache, with both files' size and time now. */
  function record() {
    const cache = statSync(`${bundle}.cache`);
    const file = statSync(bundle);
    writeFileSync(
      join(dist, 'build.json'),
      JSON.stringify({
        bundles: {
          kpartx: {
            file: 'cli/kpartx.cjs',
            from: 'cli/kpartx.js',
            fromMtimeMs: statSync(join(dist, 'cli', 'kpartx.js')).mtimeMs,
            codeCache: {
              file: 'cli/kpartx.cjs.cache',
              size: cache.size,
              mtimeMs: cache.mtimeMs,
              bundleSize: file.size,
              bundleMtimeMs: file.mtimeMs,
            },
          },
        },
      }),
    );
  }

  /** What bin/build.js's requireBundle gives in a fresh Node, and what the hook saw on the way. */
  function run() {
    const result = node(
      work,
      `process.stdout.write(require(${JSON.stringify(join(bin, 'build.js'))}).requireBundle('kpartx').word());`,
    );
    expect(result.status, result.stderr).toBe(0);
    return { answer: result.stdout, seen: result.stderr.split('\n').filter(Boolean) };
  }

  it('compiles the bundle with its cache, whose relative requires still resolve next to it', () => {
    build('first');
    expect(run()).toEqual({ answer: 'hello first', seen: ['offered accepted', 'required helper.cjs'] });
  });

  it('never runs a bundle written again with the old cache, even of the same length', () => {
    build('first');
    writeFileSync(bundle, source('again'));
    expect(statSync(bundle).size).toBe(Buffer.byteLength(source('first')));
    expect(run()).toEqual({ answer: 'hello again', seen: ['required kpartx.cjs', 'required helper.cjs'] });
  });

  it('falls back to requiring the bundle when V8 rejects the cache', () => {
    build('first');
    writeFileSync(`${bundle}.cache`, Buffer.alloc(statSync(`${bundle}.cache`).size, 7));
    record();
    expect(run()).toEqual({
      answer: 'hello first',
      seen: ['offered rejected', 'required kpartx.cjs', 'required helper.cjs'],
    });
  });

  it('requires the bundle when the cache is missing or not the one recorded', () => {
    build('first');
    writeFileSync(`${bundle}.cache`, Buffer.concat([readFileSync(`${bundle}.cache`), Buffer.from([0])]));
    expect(run().seen).toEqual(['required kpartx.cjs', 'required helper.cjs']);
    rmSync(`${bundle}.cache`);
    expect(run()).toEqual({ answer: 'hello first', seen: ['required kpartx.cjs', 'required helper.cjs'] });
  });
});

const realBundle = join(repo, 'dist', 'cli', 'kpartx.cjs');

describe.skipIf(!existsSync(`${realBundle}.cache`))(
  'this checkout’s build (skipped until npm run build)',
  () => {
    let work = '';
    beforeAll(() => {
      work = mkdtempSync(join(tmpdir(), 'kpartx-code-cache-real-'));
    });
    afterAll(() => rmSync(work, { recursive: true, force: true }));

    it('kpartx -l runs the bundle from its accepted cache and answers as the bundle required plainly', () => {
      const image = join(work, 't01.img');
      writeFileSync(image, t01());
      const launch = (how: string) =>
        node(work, `${how}.main(['kpartx', '-l', process.argv[1]]).then((s) => { process.exitCode = s; });`, [
          image,
        ]);
      const cached = launch(
        `require(${JSON.stringify(join(repo, 'bin', 'build.js'))}).requireBundle('kpartx')`,
      );
      const plain = launch(`require(${JSON.stringify(realBundle)})`);
      // The bundle's own chunks (kpartx-*.cjs) are required either way.
      const seen = (stderr: string) =>
        stderr.split('\n').filter((line) => line && !line.startsWith('required kpartx-'));
      expect(seen(cached.stderr)).toEqual(['offered accepted']);
      expect(seen(plain.stderr)).toEqual(['required kpartx.cjs']);
      expect(cached.status).toBe(0);
      expect({ status: cached.status, stdout: cached.stdout }).toEqual({
        status: plain.status,
        stdout: plain.stdout,
      });
      expect(cached.stdout).toMatch(/^loop\d+p1 : 0 16384 \/dev\/loop\d+ 2048\n/);
    });
  },
);
