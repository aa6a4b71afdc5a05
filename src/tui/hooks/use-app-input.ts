/**
 * One keyboard listener for the whole app. It reads the state from a ref written during render, so
 * a key that arrives right after a frame is judged against that frame, not against a handler that
 * React has not re-registered yet.
 */
import { useInput } from 'ink';
import { useRef } from 'react';
import { confirmKey, mountKey, progressKey } from '../keys/flow-keys.js';
import { layoutKey } from '../keys/layout-keys.js';
import { sourcesKey } from '../keys/sources-keys.js';
import type { AppState } from '../state/app-reducer.js';
import type { AppActions } from '../state/intents.js';

export function useAppInput(state: AppState, actions: AppActions, pageRows: number): void {
  const latest = useRef({ state, actions, pageRows });
  latest.current = { state, actions, pageRows };
  useInput((input, key) => {
    const { state: s, actions: a, pageRows: rows } = latest.current;
    if (s.leaving) return;
    // Ctrl-C from any screen: leave; during an operation, interrupt it as SIGINT would.
    if (key.ctrl && input === 'c') return a.interrupt();
    if (key.ctrl) return;
    switch (s.screen) {
      case 'sources':
        return sourcesKey(s, a, input, key);
      case 'layout':
        return layoutKey(s, a, input, key, rows);
      case 'confirm':
        return confirmKey(s, a, input, key);
      case 'progress':
        return progressKey(s, a, input, key);
      case 'mount':
        return mountKey(s, a, input, key);
    }
  });
}
