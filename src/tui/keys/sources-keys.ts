/** Source list keys: move, open, type a path, refresh, leave. */
import type { Key } from 'ink';
import type { AppState } from '../state/app-reducer.js';
import type { AppActions } from '../state/intents.js';
import { editText } from './text-editing.js';

export function sourcesKey(
  state: AppState,
  actions: AppActions,
  input: string,
  key: Key,
  pageRows: number,
): unknown {
  if (state.pathInput !== null) {
    if (key.escape) {
      actions.editPath(null);
      return;
    }
    if (key.return) {
      const path = state.pathInput.trim();
      if (path) actions.openTypedPath(path);
      return;
    }
    if (key.tab) return actions.completePath();
    actions.editPath(editText(state.pathInput, input, key));
    return;
  }
  if (key.upArrow || input === 'k') actions.moveSource(-1);
  else if (key.downArrow || input === 'j') actions.moveSource(1);
  else if (key.pageUp) actions.moveSource(-pageRows);
  else if (key.pageDown) actions.moveSource(pageRows);
  else if (key.home) actions.moveSource(-Number.MAX_SAFE_INTEGER);
  else if (key.end) actions.moveSource(Number.MAX_SAFE_INTEGER);
  else if (key.return) {
    const source = state.sources[state.sourceIndex];
    if (source) actions.openSource(source.path);
  } else if (input === '/' || input === 'o') actions.editPath('');
  else if (input === 'r') actions.refresh();
  else if (input === 'q' || key.escape) actions.quit();
}
