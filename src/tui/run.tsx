/** Renders the app on the terminal (the real one unless told) and returns when it has left, the screen restored. */
import { render } from 'ink';
import App from './App.js';
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
  const onSignal = (signal: NodeJS.Signals) => {
    // A signal from outside (the keyboard's Ctrl-C arrives as a key in raw mode) cannot wait like
    // the key does, but it cannot cut an operation in half either: the backend's calls are
    // synchronous and all-or-nothing, so this runs between them. Restore the screen and go.
    restore();
    process.exit(signal === 'SIGHUP' ? 129 : signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('SIGHUP', onSignal);
  process.once('exit', restore);
  terminal.enterScreen();
  try {
    const app = <App engine={engine} paths={paths} terminal={terminal} {...(first ? { first } : {})} />;
    const instance = render(app, {
      stdin: io.stdin,
      stdout: io.stdout,
      exitOnCtrlC: false,
      patchConsole: false,
    });
    // Forget the last frame so the next render paints the fresh screen in full.
    terminal.onResume = () => instance.clear();
    await instance.waitUntilExit();
    return 0;
  } finally {
    restore();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
    process.off('exit', restore);
  }
}
