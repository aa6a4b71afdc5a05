/**
 * A hostile image in a real terminal (tmux, its own server): the image's file name, its GPT
 * partition names, its ext4 label and the file names inside it all hold terminal escapes (set the
 * title, write the clipboard, clear and overwrite rows, reorder text) and bytes that are not UTF-8.
 * The real binary lists it, opens it, maps it (loop backend), mounts it and shows its tree; the
 * pane's title must stay, no clipboard write (OSC 52) may reach the terminal, no such sequence may
 * be in the bytes the app wrote, and the screen must show the escaped text in place, rows intact.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setGptNames } from './support/gpt-names.js';
import {
  appSkipReason,
  KPARTX_TUI_BIN,
  loopsOfImage as loopsOf,
  mapLinksTo,
  mountsOfLoops,
  tmuxPane,
} from './support/tmux-app.js';

const skipReason = appSkipReason(['sgdisk', 'mkfs.ext4', 'e2label']);

// A server of its own: its clipboard setting and paste buffers are this test's alone.
const server = `kpartx-tui-hostile-${process.pid}`;
const session = 'hostile';
const { tmux, start, screen, waitForScreen, key, press, kill } = tmuxPane(session, server);
const paneTitle = () => tmux('display-message', '-p', '-t', session, '#{pane_title}').trim();
const pasteBuffers = () => tmux('list-buffers', '-F', '#{buffer_name}: #{buffer_sample}').trim();

const ESC = '\u001b';
const BEL = '\u0007';
/** The image's file name: sets the title, then a carriage return. */
const IMAGE_NAME = `evil${ESC}]0;FILEPWN${BEL}\r.img`;
const GPT_NAMES = new Map([
  [1, `T${ESC}]0;PWNED${BEL}`],
  [2, `${ESC}]52;c;SGVsbG8=${BEL}`],
  [3, `ok\r${ESC}[2J${ESC}[Hgone`],
  [4, 'abc\u202edcba\ud800'],
]);
/** The same names as the screen must show them. */
const SHOWN_NAMES = new Map([
  [1, 'T\\x1b]0;PWNED\\x07'],
  [2, '\\x1b]52;c;SGVsbG8=\\x07'],
  [3, 'ok\\x0d\\x1b[2J\\x1b[Hgone'],
  [4, 'abc\\u202edcba\\ud800'],
]);
/** The ext4 label, as `printf` writes it: title, BEL, and a byte that is not UTF-8. */
const LABEL_PRINTF = '\\033]0;LBL\\007\\377';
const SHOWN_LABEL = 'ext4 "\\x1b]0;LBL\\x07\\xff"';
const FILE_NAMES: Buffer[] = [
  Buffer.from(`${ESC}]0;FILETITLE${BEL}`),
  Buffer.concat([Buffer.from('bad-'), Buffer.from([0xff, 0xfe]), Buffer.from('.txt')]),
  Buffer.from(`row\r${ESC}[2Koverwritten`),
  Buffer.from(`${ESC}]52;c;SGVsbG8=${BEL}.txt`),
];
const SHOWN_FILES = [
  '\\x1b]0;FILETITLE\\x07',
  'bad-\\xff\\xfe.txt',
  'row\\x0d\\x1b[2Koverwritten',
  '\\x1b]52;c;SGVsbG8=\\x07.txt',
];

let dir = '';
let image = '';
let rawLog = '';

/**
 * The terminal was not told anything by the disk: title as set, no clipboard write, no OSC or BEL
 * among the bytes the app wrote. Soft: a failure is reported and the run goes on, so a regression
 * shows every way it reaches the terminal, not only the first.
 */
function expectTerminalUntouched(where: string) {
  expect.soft(paneTitle(), `pane title ${where}`).toBe('untouched');
  expect.soft(pasteBuffers(), `paste buffers (OSC 52) ${where}`).toBe('');
  const raw = existsSync(rawLog) ? readFileSync(rawLog) : Buffer.alloc(0);
  expect(raw.length).toBeGreaterThan(0);
  for (const sequence of [`${ESC}]`, BEL, `${ESC}[2J${ESC}[Hgone`, `${ESC}[2Koverwritten`, '\u202e']) {
    expect
      .soft(raw.includes(Buffer.from(sequence)), `${JSON.stringify(sequence)} written ${where}`)
      .toBe(false);
  }
}

const loopsOfImage = (): string[] => loopsOf(image);

describe.skipIf(skipReason !== '')(
  `hostile disk text in a real terminal (${skipReason || 'root, loop, tmux'})`,
  () => {
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'kpartx-tui-hostile-'));
      image = join(dir, IMAGE_NAME);
      rawLog = join(dir, 'raw.log');
      execFileSync('truncate', ['-s', '48M', image]);
      execFileSync(
        'sgdisk',
        [
          '-n1:2048:+16M',
          '-n2:0:+1M',
          '-n3:0:+1M',
          '-n4:0:+1M',
          ...[1, 2, 3, 4].map((n) => `-c${n}:p${n}`),
          image,
        ],
        { stdio: 'ignore' },
      );
      setGptNames(image, GPT_NAMES);
      // Partition 1: ext4 with a hostile label and hostile file names (one not UTF-8).
      const content = join(dir, 'content');
      mkdirSync(content);
      for (const name of FILE_NAMES) writeFileSync(Buffer.concat([Buffer.from(`${content}/`), name]), 'x\n');
      const fs = join(dir, 'p1.ext4');
      execFileSync('mkfs.ext4', ['-q', '-F', '-d', content, fs, '16M'], { stdio: 'ignore' });
      execFileSync('sh', ['-c', `e2label "$1" "$(printf '${LABEL_PRINTF}')"`, 'sh', fs], { stdio: 'ignore' });
      execFileSync('dd', [`if=${fs}`, `of=${image}`, 'bs=512', 'seek=2048', 'conv=notrunc', 'status=none']);
      rmSync(fs);
      rmSync(content, { recursive: true });
    });

    afterAll(() => {
      kill();
      const loops = loopsOfImage();
      for (const target of mountsOfLoops(loops)) spawnSync('umount', [target]);
      for (const link of mapLinksTo(loops)) rmSync(`/dev/mapper/${link}`, { force: true });
      for (const loop of loops.reverse()) spawnSync('losetup', ['-d', `/dev/${loop}`]);
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('lists, opens, maps, mounts and shows the tree of the image: escaped in place, terminal untouched', async () => {
      // The app waits for `go`, so the title and the raw capture are in place before its first byte.
      start(
        `while [ ! -e go ]; do sleep 0.05; done; node ${KPARTX_TUI_BIN}; echo KPARTX_TUI_EXIT=$?; sleep 120`,
        { cwd: dir, columns: 160, rows: 40 },
      );
      tmux('set-option', '-g', 'set-clipboard', 'on');
      tmux('select-pane', '-t', session, '-T', 'untouched');
      tmux('pipe-pane', '-t', session, '-o', `cat >> ${rawLog}`);
      writeFileSync(join(dir, 'go'), '');

      // Each step waits for what any version draws, then checks what this one must: the escaped
      // text in place (soft, like the terminal checks, so the run goes on to the next vector).
      await waitForScreen(/❯ evil/, 30_000);
      await new Promise((r) => setTimeout(r, 300));
      expectTerminalUntouched('on the source list');
      expect.soft(screen()).toContain('❯ evil\\x1b]0;FILE');

      // Open it (by its real name): the title bar names it escaped, in full.
      await key('Enter', 'gpt table');
      const layout = await waitForScreen('ext4 "');
      expect.soft(layout).toContain(`kpartx-tui · ${dir}/evil\\x1b]0;FILEPWN\\x07\\x0d.img`);
      expect.soft(layout).toContain(SHOWN_LABEL);
      // Every row where it belongs: title, write mode, table facts, disk bar, column heads, the
      // partitions in order.
      const lines = layout.split('\n');
      expect.soft(lines[0]).toMatch(/^kpartx-tui · /);
      expect.soft(lines[1]).toBe('write mode: read-only (nothing is written)');
      expect.soft(lines[2]).toMatch(/^gpt table · 48 MiB/);
      const head = lines.findIndex((line) => /^ +# +Start +End +Sectors +Size +Type +Name/.test(line));
      expect.soft(head).toBe(4);
      for (const [i, start] of [2048, 34816, 36864, 38912].entries()) {
        expect.soft(lines[head + 1 + i]).toMatch(new RegExp(`^[ ●] +${i + 1} +${start} `));
      }
      // Each name in full on the detail line of its partition.
      for (const [number, shown] of SHOWN_NAMES) {
        const detail = number === 1 ? layout : await press('Down');
        expect.soft(detail).toContain(`name "${shown}"`);
      }
      expectTerminalUntouched('on the layout');

      // Map it read-only with loop devices, mount partition 1 and read its tree.
      for (let up = 0; up < 3; up++) await press('Up');
      await key('b', 'backend dm');
      await key('b', 'backend loop');
      await waitForScreen(/loop\d+p1 +loop over .* ro/);
      await key('a', 'Create 4 maps read-only?');
      const progress = await key('y', /created and confirmed|Failed/);
      expect(progress).toContain('4 map(s) created and confirmed against the kernel.');
      // The image's loop (found through its escaped-name backing file) and one loop per partition.
      expect(loopsOfImage()).toHaveLength(5);
      await key('Enter', /● 1 /);
      await key('m', 'Mount read-only: yes');
      const mounted = await key('Enter', /Mounted \/dev\/mapper\/loop\d+p1 \(ext4, read-only, noexec\)/);
      await new Promise((r) => setTimeout(r, 300));
      const rows = screen().split('\n');
      const tree = rows.slice(rows.indexOf('Top of the tree:') + 1).map((line) => line.trim());
      for (const name of SHOWN_FILES) expect.soft(tree).toContain(name);
      expect.soft(tree).toContain('lost+found/');
      expect.soft(mounted.split('\n')[0]).toMatch(/^kpartx-tui · /);
      expectTerminalUntouched('on the mount session');

      await key('x', /map\(s\) removed/);
      await key('Enter', 'has no maps left');
      await key('q', 'KPARTX_TUI_EXIT=0');
      expectTerminalUntouched('after leaving');
      expect(loopsOfImage()).toEqual([]);
    }, 180_000);
  },
);
