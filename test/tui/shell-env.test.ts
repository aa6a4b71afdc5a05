/**
 * The shell the mount session opens gets the user's environment, not the app's: a child process
 * started as the bins start (UV_THREADPOOL_SIZE set for the app itself) opens the
 * real terminal's shell, a script that writes down what it got.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseEnviron, userEnvironment } from '../../src/tui/shell-env.js';

const dir = mkdtempSync('/tmp/kpartx-tui-shellenv-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Start a child with `env`, let it set what the bins set, open the shell; return what the shell saw. */
function shellSees(env: Record<string, string>): Record<string, string> {
  const out = join(dir, 'seen');
  const shell = join(dir, 'shell.sh');
  writeFileSync(shell, `#!/bin/sh\nenv -0 > ${out}\n`);
  chmodSync(shell, 0o755);
  const terminal = join(import.meta.dirname, '../../src/tui/terminal.ts');
  const script = join(dir, 'child.ts');
  writeFileSync(
    script,
    [
      // What bin/kpartx-tui.js does before the app starts.
      "process.env.UV_THREADPOOL_SIZE ??= '16';",
      `const { realTerminal } = await import(${JSON.stringify(terminal)});`,
      `realTerminal(process.stdin, process.stdout).runShell(${JSON.stringify(dir)});`,
    ].join('\n'),
  );
  const register = join(import.meta.dirname, '../ts-register.mjs');
  const child = spawnSync(process.execPath, ['--import', register, script], {
    env: { ...env, SHELL: shell },
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
  });
  expect(child.stderr).toBe('');
  expect(child.status).toBe(0);
  return parseEnviron(readFileSync(out));
}

describe('the shell opened from the app', () => {
  it('gets the user environment without the variables the app set for itself', () => {
    const seen = shellSees({ PATH: process.env.PATH ?? '/usr/bin:/bin', KEEP_ME: 'yes', HOME: '/root' });
    expect(seen.KEEP_ME).toBe('yes');
    expect(seen.HOME).toBe('/root');
    expect(seen.KPARTX_TUI_SHELL).toBe('1');
    expect(seen).not.toHaveProperty('UV_THREADPOOL_SIZE');
    expect(seen).not.toHaveProperty('NODE_ENV');
  });

  it('keeps the values the user had set for the same variables', () => {
    const seen = shellSees({
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      NODE_ENV: 'development',
      UV_THREADPOOL_SIZE: '4',
    });
    expect(seen.NODE_ENV).toBe('development');
    expect(seen.UV_THREADPOOL_SIZE).toBe('4');
  });

  it('reads NUL-separated entries, first of a name wins; without /proc it drops only what the app set', () => {
    expect(parseEnviron(Buffer.from('A=1\0B=x=y\0A=2\0junk\0=v\0'))).toEqual({ A: '1', B: 'x=y' });
    const noProc = () => {
      throw new Error('ENOENT');
    };
    expect(userEnvironment(noProc, { A: '1', UV_THREADPOOL_SIZE: '16' })).toEqual({
      A: '1',
    });
    expect(userEnvironment(noProc, { NODE_ENV: 'test', UV_THREADPOOL_SIZE: '8' })).toEqual({
      NODE_ENV: 'test',
      UV_THREADPOOL_SIZE: '8',
    });
  });
});
