/**
 * Output that is not the app's reaching its terminal (a background job, a `wall` message): the
 * real binary in tmux, with bytes written straight to its pane's tty in between. The next frame
 * must be whole in its place (title on the first row, the table under it, no stray text), and
 * Ctrl-L must draw the screen again when nothing else changes.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appSkipReason, KPARTX_TUI_BIN, tmuxPane } from './support/tmux-app.js';

const skipReason = appSkipReason(['sfdisk']);
const server = `kpartx-tui-redraw-${process.pid}`;
const session = 'redraw';
const { tmux, start, screen, waitForScreen, kill } = tmuxPane(session, server);

let dir = '';

/** Bytes written to the pane's terminal by someone else: lines, then text left mid-row. */
function strayOutput(text: string): void {
  const tty = tmux('display-message', '-p', '-t', session, '#{pane_tty}').trim();
  writeFileSync(tty, `\r\n${text}\r\n${text}\r\n${text}`);
}

/** The layout's rows, each where it belongs. */
function expectWholeLayout(shown: string): void {
  const lines = shown.split('\n');
  expect(lines[0]).toMatch(/^kpartx-tui · .*disk\.img$/);
  expect(lines[1]).toBe('write mode: read-only (nothing is written)');
  expect(lines[2]).toMatch(/^dos table · 8 MiB/);
  expect(shown).not.toContain('STRAY');
}

async function settled(): Promise<string> {
  let last = screen();
  for (;;) {
    await new Promise((r) => setTimeout(r, 300));
    const now = screen();
    if (now === last) return now;
    last = now;
  }
}

describe.skipIf(skipReason !== '')(`the app's screen after foreign output (${skipReason || 'tmux'})`, () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kpartx-tui-redraw-'));
    const image = join(dir, 'disk.img');
    execFileSync('truncate', ['-s', '8M', image]);
    execFileSync('sfdisk', ['-q', image], { input: '2048,4096\n6144,\n' });
    start(`node ${KPARTX_TUI_BIN} disk.img; sleep 60`, { cwd: dir });
  });

  afterAll(() => {
    kill();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('draws the next frame whole, in place, after other output; Ctrl-L draws it again', async () => {
    await waitForScreen('dos table', 30_000);
    expectWholeLayout(await settled());

    // A frame after foreign output: moving the selection changes the frame.
    strayOutput('STRAY line from a background job');
    await waitForScreen('STRAY');
    tmux('send-keys', '-t', session, 'Down');
    await waitForScreen('#2 primary');
    expectWholeLayout(await settled());

    // Nothing changes in the app: Ctrl-L alone brings it back.
    strayOutput('STRAY again');
    await waitForScreen('STRAY');
    tmux('send-keys', '-t', session, 'C-l');
    // Matches once no STRAY is left on the screen.
    await waitForScreen(/^(?![\s\S]*STRAY)/);
    expectWholeLayout(await settled());
    expect(screen()).toContain('#2 primary');
  });
});
