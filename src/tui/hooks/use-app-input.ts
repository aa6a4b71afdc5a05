/**
 * One keyboard listener for the whole app. A chunk of input (keys typed fast, a paste) is cut into
 * its keys, and each is judged against the state the one before it left (read through `getState`,
 * which every action updates at once). A key whose action settles later (a confirmation that first
 * looks at the source again, a mount) holds the keys after it until it has settled, so `ay` adds.
 */
import { useInput } from 'ink';
import { useRef } from 'react';
import { type KeyPress, splitChunk } from '../keys/chunk.js';
import { convertKey } from '../keys/convert-keys.js';
import { confirmKey, mountKey, progressKey } from '../keys/flow-keys.js';
import { layoutKey } from '../keys/layout-keys.js';
import { sourcesKey } from '../keys/sources-keys.js';
import type { AppState } from '../state/app-reducer.js';
import type { AppActions } from '../state/intents.js';

function handle(s: AppState, a: AppActions, { input, key }: KeyPress, rows: number): unknown {
  if (s.leaving || key.ctrl) return;
  switch (s.screen) {
    case 'sources':
      return sourcesKey(s, a, input, key, rows);
    case 'layout':
      return layoutKey(s, a, input, key, rows);
    case 'confirm':
      return confirmKey(s, a, input, key);
    case 'progress':
      return progressKey(s, a, input, key);
    case 'mount':
      return mountKey(s, a, input, key);
    case 'convert':
      return convertKey(s, a, input, key);
  }
}

export function useAppInput(getState: () => AppState, actions: AppActions, pageRows: number): void {
  const latest = useRef({ getState, actions, pageRows });
  latest.current = { getState, actions, pageRows };
  const queue = useRef<KeyPress[]>([]);
  const waiting = useRef(false);

  const drain = () => {
    while (!waiting.current) {
      const press = queue.current.shift();
      if (!press) return;
      const { getState: get, actions: a, pageRows: rows } = latest.current;
      const pending = handle(get(), a, press, rows);
      if (pending instanceof Promise) {
        waiting.current = true;
        void pending.finally(() => {
          waiting.current = false;
          drain();
        });
      }
    }
  };

  useInput((input, key) => {
    for (const press of splitChunk(input, key)) {
      // Ctrl-C from any screen, at once: leave; during an operation, interrupt it as SIGINT would.
      if (press.key.ctrl && press.input === 'c') {
        queue.current = [];
        latest.current.actions.interrupt();
        return;
      }
      // Ctrl-L from any screen, at once: draw the screen again.
      if (press.key.ctrl && press.input === 'l') {
        latest.current.actions.repaint();
        continue;
      }
      queue.current.push(press);
    }
    drain();
  });
}
