import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/tui/main.js';
import { sampleImage } from './images.js';

// The scripting path must never load the terminal UI.
vi.mock('ink', () => {
  throw new Error('ink was loaded');
});
vi.mock('react', () => {
  throw new Error('react was loaded');
});

const dir = mkdtempSync(join(tmpdir(), 'kpartx-tui-main-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capture(stream: NodeJS.WriteStream) {
  let text = '';
  const spy = vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
    text += String(chunk);
    return true;
  });
  return { text: () => text, restore: () => spy.mockRestore() };
}

describe('kpartx-tui entry', () => {
  it('answers --json without loading Ink or React', async () => {
    const image = join(dir, 'disk.img');
    writeFileSync(image, sampleImage());
    const out = capture(process.stdout);
    let status: number;
    try {
      status = await main(['--json', image]);
    } finally {
      out.restore();
    }
    expect(status).toBe(0);
    const report = JSON.parse(out.text());
    expect(JSON.stringify(report)).toContain('"type":"dos"');
  });

  it('answers --help with the keys of every screen, without loading Ink or React', async () => {
    const out = capture(process.stdout);
    try {
      expect(await main(['--help'])).toBe(0);
    } finally {
      out.restore();
    }
    expect(out.text()).toMatch(/^usage: kpartx-tui/);
    expect(out.text()).toMatch(/^ {2}Mount session: mounted\n {4}a +accounts/m);
  });

  it('refuses to start without a terminal, pointing at the scripting interfaces', async () => {
    const isTTY = process.stdin.isTTY;
    Object.defineProperty(process.stdin, 'isTTY', { value: false, configurable: true });
    const err = capture(process.stderr);
    try {
      expect(await main(['disk.img'])).toBe(2);
    } finally {
      err.restore();
      Object.defineProperty(process.stdin, 'isTTY', { value: isTTY, configurable: true });
    }
    expect(err.text()).toBe(
      'kpartx-tui: needs an interactive terminal; for scripts use `kpartx -l PATH` or `kpartx-tui --json PATH`.\n',
    );
  });
});

describe('loading the plain app', () => {
  it('takes React’s production build without leaving NODE_ENV to the processes the app starts', () => {
    const mainTs = join(import.meta.dirname, '../../src/tui/main.ts');
    const script = join(dir, 'load-plain.ts');
    writeFileSync(
      script,
      [
        "import { execFileSync } from 'node:child_process';",
        "import { createRequire } from 'node:module';",
        `const { loadApp } = await import(${JSON.stringify(mainTs)});`,
        'const app = await loadApp({});',
        // Node lists CommonJS files it only pre-parsed for their export names too: count the run ones.
        'const cache = createRequire(import.meta.url).cache;',
        'const loaded = Object.keys(cache).filter((f) => cache[f].loaded);',
        'console.log(JSON.stringify({',
        "  app: Object.keys(app).filter((k) => k === 'runApp' || k === 'createTuiEngine').sort(),",
        "  reactBuilds: loaded.filter((f) => /\\/react\\/cjs\\/react\\./.test(f)).map((f) => f.replace(/.*\\//, '')),",
        '  own: process.env.NODE_ENV ?? null,',
        // The environment a child is given: env(1) prints it.
        "  child: /^NODE_ENV=/m.test(execFileSync('env', { encoding: 'utf8' })) ? 'set' : 'unset',",
        '}));',
      ].join('\n'),
    );
    const env = { ...process.env };
    delete env.NODE_ENV;
    const register = join(import.meta.dirname, '../ts-register.mjs');
    const run = spawnSync(process.execPath, ['--import', register, script], { env, encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toEqual({
      app: ['createTuiEngine', 'runApp'],
      reactBuilds: ['react.production.js'],
      own: null,
      child: 'unset',
    });
  });
});
