/**
 * Typing a path after `/`: `~` is the user's home, Tab completes from the file system as a shell
 * does. Real files in a scratch home, opened through the real engine adapter over the fake kernel.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDmBackend } from '../../src/engine/backends/dm.js';
import { createTuiEngine } from '../../src/tui/engine.js';
import { candidateLines, completePath, expandHome } from '../../src/tui/path-completion.js';
import { FakeMachine } from '../support/fake-machine.js';
import { expectFits, keys, startApp } from './helpers.js';
import { sampleImage } from './images.js';

let scratch: string;
let home: string;

beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), 'kpartx-tui-path-'));
  home = join(scratch, 'home');
  mkdirSync(join(home, 'disks'), { recursive: true });
  mkdirSync(join(home, 'documents'));
  writeFileSync(join(home, 'disks', 'sample-a.img'), sampleImage());
  writeFileSync(join(home, 'disks', 'sample-b.img'), sampleImage());
  writeFileSync(join(home, 'disks', 'other.img'), sampleImage());
  writeFileSync(join(home, '.hidden.img'), '');
  symlinkSync(join(home, 'disks'), join(home, 'linked'));
});
afterEach(() => rmSync(scratch, { recursive: true, force: true }));

const engine = () =>
  createTuiEngine({
    machine: new FakeMachine({ dmMajor: 250 }),
    isRoot: true,
    mountRoot: join(scratch, 'mnt'),
    cwd: scratch,
    home,
    backend: (_kind, k) => createDmBackend(k),
  });

const field = (frame: string) => frame.split('\n').find((line) => line.startsWith('Path:'));

describe('the path field', () => {
  it('completes a unique match, a common prefix with its candidates, and nothing when nothing matches', async () => {
    const t = startApp(engine(), [], { size: { columns: 100, rows: 24 } });
    await t.waitFor('type a path');
    await t.press('/~/di');
    await t.press('\t', /Path: ~\/disks\//);
    await t.press('sa\t', /Path: ~\/disks\/sample-$/m);
    // Both matches are listed under the field, and the help line names Tab.
    const lines = t.frame().split('\n');
    const at = lines.findIndex((line) => line.startsWith('Path:'));
    expect(lines[at + 1]?.trim()).toBe('sample-a.img  sample-b.img');
    expect(t.frame()).toContain('Tab complete');
    expectFits(t.frame(), { columns: 100, rows: 24 });
    await t.press('b\t', /Path: ~\/disks\/sample-b\.img$/m);
    expect(t.frame()).not.toContain('sample-a.img');
    // No match: the field stays as typed.
    await t.press('x\t');
    await new Promise((r) => setTimeout(r, 50));
    expect(field(t.frame())).toMatch(/^Path: ~\/disks\/sample-b\.imgx$/);
    // Enter opens the path with ~ read as the home directory.
    await t.press(`${keys.backspace}\r`, 'dos table');
    expect(t.frame()).toContain(`kpartx-tui · ${join(home, 'disks', 'sample-b.img')}`);
    t.app.unmount();
  });

  it('counts every key of a chunk around Tab, follows links to directories, and expands `~` alone', async () => {
    const t = startApp(engine(), [], { size: { columns: 100, rows: 24 } });
    await t.waitFor('type a path');
    // Typed in one go: each Tab completes before the next keys are typed.
    await t.press('/~\tli\to\t', /Path: ~\/linked\/other\.img$/m);
    await t.press(keys.escape);
    await t.press(`/${home}/do\t`, /Path: .*\/home\/documents\/$/m);
    t.app.unmount();
  });
});

describe('completion and ~, as pure functions', () => {
  const entries = [
    { name: 'disk1.img', directory: false },
    { name: 'disk2.img', directory: false },
    { name: 'dir', directory: true },
    { name: '.disk.img', directory: false },
  ];
  it('completes as a shell does', () => {
    expect(completePath('/x/di', entries)).toEqual({
      text: '/x/di',
      candidates: ['dir/', 'disk1.img', 'disk2.img'],
    });
    expect(completePath('/x/dis', entries)).toEqual({
      text: '/x/disk',
      candidates: ['disk1.img', 'disk2.img'],
    });
    expect(completePath('dir', entries)).toEqual({ text: 'dir/', candidates: [] });
    expect(completePath('/x/.d', entries)).toEqual({ text: '/x/.disk.img', candidates: [] });
    expect(completePath('/x/z', entries)).toEqual({ text: '/x/z', candidates: [] });
  });
  it('reads ~ and ~/ as the home, and leaves ~user and inner ~ alone', () => {
    expect(expandHome('~', '/home/ann')).toBe('/home/ann');
    expect(expandHome('~/a.img', '/home/ann/')).toBe('/home/ann/a.img');
    expect(expandHome('~bob/a.img', '/home/ann')).toBe('~bob/a.img');
    expect(expandHome('/x/~/a', '/home/ann')).toBe('/x/~/a');
    expect(expandHome('~/a', undefined)).toBe('~/a');
  });
  it('shows what fits and counts the rest', () => {
    const many = Array.from({ length: 40 }, (_, i) => `image-${i}.img`);
    const lines = candidateLines(many, 40, 2);
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(40);
    const shown = lines
      .join('  ')
      .split('  ')
      .filter((w) => w.endsWith('.img')).length;
    expect(lines[1]).toMatch(new RegExp(`\\+${40 - shown} more$`));
  });
});
