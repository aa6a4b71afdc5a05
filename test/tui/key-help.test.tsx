/**
 * The help line of every screen says what `kpartx-tui --help` says: both come from one table
 * (src/tui/keys/key-help.ts). Walked through as a user would, over the fake kernel.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createDmBackend } from '../../src/engine/backends/dm.js';
import { createTuiEngine } from '../../src/tui/engine.js';
import { main } from '../../src/tui/main.js';
import { FakeMachine } from '../support/fake-machine.js';
import { keys, startApp } from './helpers.js';
import { dosImage, stampExt4 } from './images.js';

const IMAGE = '/img/one.img';
let scratch: string;
let kernel: FakeMachine;

beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), 'kpartx-tui-keyhelp-'));
  kernel = new FakeMachine({ dmMajor: 250 });
  // p1 ext4; p2 zeros: content not recognised, which asks for a type before mounting.
  const image = dosImage(32768, [
    { type: 0x83, start: 2048, size: 8192 },
    { type: 0x83, start: 10240, size: 8192 },
  ]);
  stampExt4(image, 2048, 'root');
  kernel.addFile(IMAGE, image);
});
afterEach(() => rmSync(scratch, { recursive: true, force: true }));

async function helpText(): Promise<string> {
  let text = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    text += String(chunk);
    return true;
  });
  try {
    expect(await main(['--help'])).toBe(0);
  } finally {
    spy.mockRestore();
  }
  return text;
}

/** `Enter open   Tab complete` → [['Enter', 'open'], ['Tab', 'complete']]. */
function helpLine(frame: string): [string, string][] {
  const last = frame.split('\n').at(-1) ?? '';
  return last
    .trim()
    .split(/ {3,}/)
    .map((part) => {
      const space = part.indexOf(' ');
      return [part.slice(0, space), part.slice(space + 1)] as [string, string];
    });
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

describe('kpartx-tui --help', () => {
  it('lists, under each screen, every key its help line shows', async () => {
    const help = await helpText();
    for (const title of ['Sources', 'Layout', 'Options', 'Confirm', 'Mount session', 'Accounts'])
      expect(help).toMatch(new RegExp(`^  ${title}`, 'm'));
    // Keys only --help has room for.
    expect(help).toMatch(/^ {4}R +read the source again$/m);
    expect(help).toMatch(/^ {4}Tab +complete \(/m);

    const engine = createTuiEngine({
      machine: kernel,
      isRoot: true,
      mountRoot: join(scratch, 'mnt'),
      cwd: scratch,
      home: scratch,
      backend: (_kind, k) => createDmBackend(k),
    });
    const t = startApp(engine, [], { size: { columns: 140, rows: 30 } });
    const seen: string[] = [];
    const check = () => {
      const pairs = helpLine(t.frame());
      expect(pairs.length).toBeGreaterThan(1);
      for (const [key, label] of pairs) {
        expect(help).toMatch(new RegExp(`^ {4}${escapeRegExp(key)} +${escapeRegExp(label)}( \\(|$)`, 'm'));
        seen.push(key);
      }
    };
    await t.waitFor('type a path');
    check();
    await t.press('/', 'Tab complete');
    check();
    await t.press(`${IMAGE}\r`, 'ext4 "root"');
    check();
    await t.press('p', 'Delimiter (Enter keep, Esc undo):');
    check();
    await t.press(keys.escape, 'r/p/g/s/b options');
    await t.press('a', 'n/Esc no');
    check();
    await t.press('y', /created and confirmed/);
    check();
    await t.press(keys.enter, 'r/p/g/s/b options');
    await t.press('m', 'Mount read-only: yes');
    check();
    await t.press('o', 'Mount on:');
    check();
    await t.press(keys.escape, 'o mount on…');
    await t.press(keys.enter, /Mounted/);
    check();
    await t.press('m', 'Mounted: /dev/mapper/');
    check();
    await t.press(keys.down, /❯ loop0p2 .*\(unknown\)/);
    await t.press(keys.enter, 'which filesystem?');
    check();
    await t.press(keys.enter, 'Options:');
    check();
    await t.press(keys.escape, 'which filesystem?');
    await t.press(keys.escape, 'o mount on…');
    await t.press('o', 'Enter next');
    check();
    expect(new Set(seen)).toEqual(
      new Set([
        '↑↓',
        'Enter',
        '/',
        'r',
        'o',
        'q',
        'Tab',
        'Esc',
        'a',
        'd',
        'm',
        'r/p/g/s/b',
        'o',
        'y',
        'n/Esc',
        'e',
        'x',
        's',
        'u',
        'w',
      ]),
    );
    t.app.unmount();
  });
});
