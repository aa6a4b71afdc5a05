/**
 * The real terminal: alternate screen on and off, and lending the terminal to a shell. Every way
 * out of the app (normal exit, error, signal) goes through `leaveScreen`.
 */
import { spawnSync } from 'node:child_process';
import { userEnvironment } from './shell-env.js';

const ENTER_ALT = '\u001b[?1049h\u001b[2J\u001b[H';
const LEAVE_ALT = '\u001b[?1049l';
const SHOW_CURSOR = '\u001b[?25h';

/** Hands the terminal to a child process and takes it back (alternate screen, raw mode). */
export interface TerminalControl {
  /** Run `command` in `cwd` with the terminal; returns when it exits. */
  runShell(cwd: string): void;
  /** Clear the screen and draw the app again (Ctrl-L, or after something else wrote over it). */
  repaint?(): void;
}

export interface ScreenControl extends TerminalControl {
  enterScreen(): void;
  leaveScreen(): void;
  /** Called when the terminal comes back from the shell: the renderer must repaint everything. */
  onResume?: () => void;
  /** Set by the renderer: draws its last frame again on a cleared screen. */
  onRepaint?: () => void;
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
      // A resize while the shell ran never reaches the app: an interactive shell takes the
      // terminal's foreground, so SIGWINCH goes to it alone. Signal it to ourselves: Node then asks
      // the terminal its size and emits 'resize' when it changed.
      if (stdout.isTTY) process.kill(process.pid, 'SIGWINCH');
      control.enterScreen();
      control.onResume?.();
    },
    repaint() {
      control.onRepaint?.();
    },
  };
  return control;
}
