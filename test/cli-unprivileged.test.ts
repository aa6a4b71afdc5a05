/**
 * The built CLI run as an ordinary user (uid nobody): what it cannot do is said in one line naming
 * the file or directory and the reason, with the C tool's exit status 1 — never a Node error, and
 * never the name of a loop device that was only predicted. The run directory is a scratch one
 * (KPARTX_TUI_RUN_DIR), so the real /run/kpartx-tui is not involved.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canUseLoop, losetupLines } from './loop-helpers.js';

const repo = resolve(import.meta.dirname, '..');
const cli = join(repo, 'bin', 'kpartx.js');
const tui = join(repo, 'bin', 'kpartx-tui.js');
const built = existsSync(join(repo, 'dist', 'cli', 'kpartx.js'));
const NOBODY = 65534;
const skip = !canUseLoop ? 'needs root and loop devices' : !built ? 'needs `npm run build` first' : '';

let dir = '';
let image = '';
let locked = '';

function runAsNobody(bin: string, args: string[], runDir: string) {
  const result = spawnSync(process.execPath, [bin, ...args], {
    cwd: dir,
    uid: NOBODY,
    gid: NOBODY,
    encoding: 'utf8',
    env: { PATH: process.env.PATH, KPARTX_TUI_RUN_DIR: runDir },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe.skipIf(skip !== '')(`kpartx as an ordinary user (${skip || 'root drops to nobody'})`, () => {
  beforeAll(() => {
    dir = mkdtempSync('/tmp/kpartx-tui-nobody-');
    chmodSync(dir, 0o755);
    image = join(dir, 'disk.img');
    execFileSync('truncate', ['-s', '8M', image]);
    execFileSync('sfdisk', ['-q', image], { input: 'label: dos\n2048,4096,83\n' });
    chmodSync(image, 0o644);
    locked = join(dir, 'locked.img');
    writeFileSync(locked, '');
    execFileSync('truncate', ['-s', '8M', locked]);
    chmodSync(locked, 0o000);
  });
  afterAll(() => {
    for (const line of losetupLines(dir)) spawnSync('losetup', ['-d', line.split(':')[0]!]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('-l on an image it cannot read names the image, not the loop it would use', () => {
    const run = runAsNobody(cli, ['-l', 'locked.img'], join(dir, 'run'));
    expect(run.stderr).toBe(`${locked}: Permission denied\n`);
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
  });

  it('--json says the same in its error field', () => {
    const run = runAsNobody(tui, ['--json', 'locked.img'], join(dir, 'run'));
    expect(run.status).toBe(1);
    expect(JSON.parse(run.stdout).sources[0].error).toBe(`${locked}: Permission denied`);
  });

  it('-a and -u say which directory they could not make and that changing maps needs root', () => {
    for (const action of ['-a', '-u']) {
      const run = runAsNobody(cli, [action, 'disk.img'], join(dir, 'run'));
      expect(run.stderr).toBe(
        `disk.img: cannot take the lock on its maps: cannot create ${dir}/run: Permission denied (changing maps needs root)\n`,
      );
      expect(run.status).toBe(1);
    }
    expect(losetupLines(image)).toEqual([]);
  });

  it('-a names the lock file it could not open when root made the directory', () => {
    const runDir = join(dir, 'run-made');
    mkdirSync(join(runDir, 'locks'), { recursive: true, mode: 0o700 });
    chmodSync(runDir, 0o755);
    const run = runAsNobody(cli, ['-a', 'disk.img'], runDir);
    expect(run.stderr).toMatch(
      new RegExp(
        `^disk\\.img: cannot take the lock on its maps: cannot open ${runDir}/locks/file-\\d+-\\d+\\.lock: Permission denied \\(changing maps needs root\\)\\n$`,
      ),
    );
    expect(run.status).toBe(1);
  });

  it('-d on an image with a loop names the loop and what failed', () => {
    const loop = execFileSync('losetup', ['--show', '-f', image], { encoding: 'utf8' }).trim();
    try {
      const run = runAsNobody(cli, ['-d', 'disk.img'], join(dir, 'run'));
      expect(run.stderr).toBe(
        `${loop}: cannot take the lock on its maps: cannot create ${dir}/run: Permission denied (changing maps needs root)\n`,
      );
      expect(run.status).toBe(1);
    } finally {
      execFileSync('losetup', ['-d', loop]);
    }
  });
});
