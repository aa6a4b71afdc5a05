/**
 * Renders the app on the terminal (the real one unless told) and returns its exit status when it
 * has left, the screen restored and what stays behind printed.
 */
import { render } from 'ink';
import { releaseHungUpTerminal } from '../engine/hangup.js';
import { onIdleSignal, raiseSignal, signalExitCode } from '../engine/signals.js';
import App from './App.js';
import { anchoredScreen } from './anchored-frames.js';
import type { LeaveResult } from './leaving.js';
import type { Inspection, TuiEngine } from './model.js';
import { realTerminal } from './terminal.js';

/** The terminal's two ends: the process's own, or stand-ins (the build renders off-screen once). */
export interface AppIo {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
}

export async function runApp(
  engine: TuiEngine,
  paths: string[],
  first?: Inspection,
  io: AppIo = { stdin: process.stdin, stdout: process.stdout },
): Promise<number> {
  const terminal = realTerminal(io.stdin, io.stdout);
  const restore = () => terminal.leaveScreen();
  // SIGINT, SIGTERM and SIGHUP belong to the engine while an operation runs (signals.ts) and to
  // the app while it is shown. Before the app is up and after it has gone, nothing runs: restore
  // the screen and go at once.
  let result: LeaveResult | undefined;
  const stopDefault = onIdleSignal((signal) => {
    // Already left properly: the report is on its way.
    if (result) return;
    restore();
    if (io.stdout === process.stdout) releaseHungUpTerminal({ 0: process.stdin, 1: process.stdout });
    process.exit(signalExitCode(signal));
  });
  // A terminal that went away (its window closed, the SSH session or the tmux server gone) is a
  // hang-up, whether or not a SIGHUP comes with it: reads end, writes fail with EIO.
  let terminalGone = false;
  const lost = () => {
    if (terminalGone) return;
    terminalGone = true;
    raiseSignal('SIGHUP');
  };
  const onWriteError = () => lost();
  io.stdout.on('error', onWriteError);
  io.stdin.on('end', lost);
  // The report goes to stderr when the terminal is gone; stderr may be that terminal too.
  const ignore = () => {};
  process.stderr.on('error', ignore);
  process.once('exit', restore);
  terminal.enterScreen();
  try {
    const app = (
      <App
        engine={engine}
        paths={paths}
        terminal={terminal}
        onLeave={(left) => {
          result = left;
        }}
        {...(first ? { first } : {})}
      />
    );
    // Every frame is drawn from the screen's top-left corner (anchored-frames.ts).
    const screen = anchoredScreen(io.stdout);
    terminal.onRepaint = () => screen.repaint();
    const instance = render(app, {
      stdin: io.stdin,
      stdout: screen.stream,
      exitOnCtrlC: false,
      patchConsole: false,
    });
    // Back from the shell on a cleared screen: the last frame again, whether or not the next
    // render changes anything.
    terminal.onResume = () => screen.repaint();
    await instance.waitUntilExit();
  } finally {
    result ??= { status: 0, lines: [] };
    if (!terminalGone) restore();
    process.off('exit', restore);
    if (result.lines.length > 0) {
      const report = `${result.lines.join('\n')}\n`;
      if (terminalGone) process.stderr.write(report);
      else io.stdout.write(report);
    }
    io.stdin.off('end', lost);
    // Writes to a terminal that is gone keep failing after this: those errors stay ignored.
    if (!terminalGone) {
      io.stdout.off('error', onWriteError);
      process.stderr.off('error', ignore);
    }
    stopDefault();
    if (io.stdout === process.stdout) releaseHungUpTerminal({ 0: process.stdin, 1: process.stdout });
  }
  return result.status;
}
