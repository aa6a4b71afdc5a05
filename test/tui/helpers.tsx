/** Rendering the app for tests: key names, content waits (never fixed sleeps alone), 80x24. */
import { render } from 'ink-testing-library';
import { expect, vi } from 'vitest';
import App from '../../src/tui/App.js';
import type { LeaveResult } from '../../src/tui/leaving.js';
import type { Inspection, TuiEngine } from '../../src/tui/model.js';
import type { TerminalControl } from '../../src/tui/terminal.js';
import { themeFor } from '../../src/tui/theme.js';

export const keys = {
  up: '\u001B[A',
  down: '\u001B[B',
  enter: '\r',
  escape: '\u001B',
  backspace: '\u007F',
  ctrlC: '\u0003',
};

export function startApp(
  engine: TuiEngine,
  paths: string[],
  options: {
    terminal?: TerminalControl;
    size?: { columns: number; rows: number };
    first?: Inspection;
    onLeave?: (result: LeaveResult) => void;
  } = {},
) {
  const size = options.size ?? { columns: 80, rows: 24 };
  const terminal = options.terminal ?? { runShell() {} };
  const app = render(
    <App
      engine={engine}
      paths={paths}
      terminal={terminal}
      size={size}
      theme={themeFor({ NO_COLOR: '1' })}
      {...(options.first ? { first: options.first } : {})}
      {...(options.onLeave ? { onLeave: options.onLeave } : {})}
    />,
  );
  const frame = () => app.lastFrame() ?? '';
  const waitFor = (text: string | RegExp, timeout = 10_000) =>
    vi.waitFor(() => expect(frame()).toMatch(text), { interval: 5, timeout });
  const press = async (key: string, expected?: string | RegExp) => {
    // Let the frame's effects (list components re-registering their keys) run first.
    await new Promise((r) => setTimeout(r, 15));
    app.stdin.write(key);
    if (expected) await waitFor(expected);
  };
  return { app, frame, waitFor, press };
}

/** Every line within the terminal's width, and no more lines than it has rows. */
export function expectFits(frame: string, size = { columns: 80, rows: 24 }) {
  const lines = frame.split('\n');
  expect(lines.length).toBeLessThanOrEqual(size.rows);
  for (const line of lines) expect([...line].length).toBeLessThanOrEqual(size.columns);
}
