/** Keys of the conversion screen: edit the target, Enter checks then converts, Esc stops or goes back. */
import type { Key } from 'ink';
import type { AppState } from '../state/app-reducer.js';
import type { AppActions } from '../state/intents.js';
import { editText } from './text-editing.js';

export function convertKey(state: AppState, actions: AppActions, input: string, key: Key): unknown {
  const convert = state.convert;
  if (!convert) return;
  if (key.escape) {
    actions.cancelConvert();
    return;
  }
  if (convert.phase === 'running') return;
  if (key.return) return actions.submitConvert();
  if (convert.phase === 'ask') actions.editConvertTarget(editText(convert.target, input, key));
  else if (input === 'q') actions.quit();
}
