/** Source list keys; the list itself (ink-select-input) handles ↑/↓/Enter. */
import type { Key } from 'ink';
import type { AppState } from '../state/app-reducer.js';
import type { AppActions } from '../state/intents.js';
import { editText } from './text-editing.js';

export function sourcesKey(state: AppState, actions: AppActions, input: string, key: Key): void {
  if (state.pathInput !== null) {
    if (key.escape) {
      actions.editPath(null);
      return;
    }
    if (key.return) {
      const path = state.pathInput.trim();
      if (path) actions.openSource(path);
      return;
    }
    actions.editPath(editText(state.pathInput, input, key));
    return;
  }
  if (input === '/' || input === 'o') actions.editPath('');
  else if (input === 'r') actions.refresh();
  else if (input === 'q' || key.escape) actions.quit();
}
