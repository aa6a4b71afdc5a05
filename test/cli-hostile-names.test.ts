/**
 * Messages that quote an operand, a device or an option as typed: a name holding terminal escapes
 * is printed with them escaped (`\x1b`), never raw. Normal names print exactly as the C tool does
 * (the rest of the CLI suite checks those byte for byte).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, t01 } from './cli-helpers.js';
import { FakeMachine } from './support/fake-machine.js';

const ESC = '\u001b';
const TITLE = `${ESC}]0;PWNED\u0007`;
const SHOWN = '\\x1b]0;PWNED\\x07';
const work = mkdtempSync(join(tmpdir(), 'kpartx-cli-hostile-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// biome-ignore lint/suspicious/noControlCharactersInRegex: looking for control characters
const CONTROLS = /[\u0000-\u0009\u000b-\u001f\u007f]/;

describe('kpartx messages quoting a hostile name', () => {
  it('failed to stat() (on stdout, as the C tool prints it) shows the escapes', async () => {
    const run = await runCli(['-l', `/nonexistent/${TITLE}.img`], { kernel: new FakeMachine() });
    expect(run).toEqual({ status: 1, stdout: `failed to stat() /nonexistent/${SHOWN}.img\n`, stderr: '' });
  });

  it('invalid device on stderr shows the escapes', async () => {
    const dir = join(work, `dir${TITLE}\r`);
    mkdirSync(dir);
    const run = await runCli(['-a', dir], { kernel: new FakeMachine() });
    expect(run.stderr).toBe(`invalid device: ${work}/dir${SHOWN}\\x0d\n`);
  });

  it('an I/O error naming the device shows the escapes', async () => {
    const kernel = new FakeMachine();
    const device = `/dev/disk/by-id/${TITLE}`;
    kernel.addDisk(device, t01());
    kernel.failOn('read', { device });
    expect(await runCli(['-l', device], { kernel })).toEqual({
      status: 1,
      stdout: '',
      stderr: `/dev/disk/by-id/${SHOWN}: read failed: Input/output error\n`,
    });
  });
});

const repo = resolve(import.meta.dirname, '..');
const built =
  existsSync(join(repo, 'dist', 'cli', 'kpartx.js')) && existsSync(join(repo, 'dist', 'tui', 'main.js'));

describe.skipIf(!built)('the binaries write no raw control to either stream', () => {
  const run = (bin: string, args: string[]) =>
    spawnSync(process.execPath, [join(repo, 'bin', bin), ...args], { cwd: work, encoding: 'latin1' });

  it('kpartx -l on a missing file with escapes in its name', () => {
    const result = run('kpartx.js', ['-l', `${TITLE}.img`]);
    expect(result.status).toBe(1);
    expect(result.stdout).toBe(`failed to stat() ${SHOWN}.img\n`);
    expect(result.stderr).not.toMatch(CONTROLS);
  });

  it('kpartx-tui --json with an option and an operand holding escapes', () => {
    const badOption = run('kpartx-tui.js', ['--json', '--backend', TITLE, 'x.img']);
    expect(badOption.status).toBe(1);
    expect(badOption.stderr).toBe(`kpartx-tui: invalid backend '${SHOWN}': use dm or loop\n`);
    // The report itself is JSON: the name is there, escaped as JSON escapes it.
    const missing = run('kpartx-tui.js', ['--json', `${TITLE}.img`]);
    expect(missing.stdout).not.toMatch(CONTROLS);
    expect(missing.stdout).toContain('\\u001b]0;PWNED\\u0007.img');
  });
});
