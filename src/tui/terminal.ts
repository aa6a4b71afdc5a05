/**
 * The real terminal: alternate screen on and off, and lending the terminal to a shell. Every way
 * out of the app (normal exit, error, signal) goes through `leaveScreen`.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, fstatSync, openSync } from 'node:fs';
import { isatty } from 'node:tty';
import type { TerminalControl } from './hooks/use-kpartx-app.js';
import { userEnvironment } from './shell-env.js';

const ENTER_ALT = '\u001b[?1049h\u001b[2J\u001b[H';
const LEAVE_ALT = '\u001b[?1049l';
const SHOW_CURSOR = '\u001b[?25h';

export interface ScreenControl extends TerminalControl {
  enterScreen(): void;
  leaveScreen(): void;
  /** Called when the terminal comes back from the shell: the renderer must repaint everything. */
  onResume?: () => void;
}

export function realTerminal(stdin: NodeJS.ReadStream, stdout: NodeJS.WriteStream): ScreenControl {
  let inAlt = false;
  const control: ScreenControl = {
    enterScreen() {
      if (inAlt) return;
      stdout.write(ENTER_ALT);
      inAlt = true;
    },
    leaveScreen() {
      if (!inAlt) return;
      stdout.write(`${LEAVE_ALT}${SHOW_CURSOR}`);
      inAlt = false;
    },
    runShell(cwd) {
      const shell = process.env.SHELL || '/bin/sh';
      control.leaveScreen();
      stdout.write(`Shell in ${cwd}. Type exit to return to kpartx-tui.\n`);
      const wasRaw = stdin.isRaw;
      if (stdin.isTTY) stdin.setRawMode(false);
      // Synchronous on purpose: the event loop (and so Ink's stdin reader) sleeps while the shell
      // owns the terminal.
      spawnSync(shell, [], { cwd, stdio: 'inherit', env: { ...userEnvironment(), KPARTX_TUI_SHELL: '1' } });
      if (stdin.isTTY && wasRaw) stdin.setRawMode(true);
      control.enterScreen();
      control.onResume?.();
    },
  };
  return control;
}

/**
 * When the terminal has gone away (hung up: reads end, writes and terminal calls fail with EIO):
 * point the standard descriptors that were that terminal at /dev/null. Node puts a terminal's mode
 * back as it exits and aborts when it cannot; a descriptor that no longer refers to the file it
 * started with is left alone. Their streams are closed first, so nothing watches the descriptors
 * while they change. Does nothing while the terminal is there.
 */
export function letGoOfDeadTerminal(): void {
  let terminal: ReturnType<typeof fstatSync>;
  try {
    terminal = fstatSync(1);
  } catch {
    return;
  }
  if (isatty(1) || !terminal.isCharacterDevice()) return;
  process.stdin.destroy();
  process.stdout.destroy();
  for (const fd of [0, 1, 2]) {
    try {
      const now = fstatSync(fd);
      if (now.dev !== terminal.dev || now.ino !== terminal.ino) continue;
      closeSync(fd);
      // The lowest free descriptor: the one just closed.
      const reopened = openSync('/dev/null', 'r+');
      if (reopened !== fd) closeSync(reopened);
    } catch {
      // closed already: nothing to restore there
    }
  }
}
