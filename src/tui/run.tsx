/** Renders the app on the real terminal and returns when it has left, the screen restored. */
import { render } from 'ink';
import App from './App.js';
import type { TuiEngine } from './model.js';
import { realTerminal } from './terminal.js';

export async function runApp(engine: TuiEngine, paths: string[]): Promise<number> {
  const terminal = realTerminal(process.stdin, process.stdout);
  const restore = () => terminal.leaveScreen();
  const onSignal = (signal: NodeJS.Signals) => {
    // SIGTERM/SIGHUP cannot wait for an operation like Ctrl-C does: engine calls are synchronous,
    // so none is half-way when this runs; restore the screen and go.
    restore();
    process.exit(signal === 'SIGHUP' ? 129 : 143);
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGHUP', onSignal);
  process.once('exit', restore);
  terminal.enterScreen();
  try {
    const instance = render(<App engine={engine} paths={paths} terminal={terminal} />, {
      exitOnCtrlC: false,
      patchConsole: false,
    });
    // Forget the last frame so the next render paints the fresh screen in full.
    terminal.onResume = () => instance.clear();
    await instance.waitUntilExit();
    return 0;
  } finally {
    restore();
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', onSignal);
    process.off('exit', restore);
  }
}
