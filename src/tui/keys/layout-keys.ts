/** Layout screen keys: move, change options, overlay mode, start add/delete/mount/clean-up, leave. */
import type { Key } from 'ink';
import type { AppState } from '../state/app-reducer.js';
import type { AppActions } from '../state/intents.js';
import { editText } from './text-editing.js';

export function layoutKey(
  state: AppState,
  actions: AppActions,
  input: string,
  key: Key,
  pageRows: number,
): unknown {
  if (state.overlayEnd !== null) {
    if (input === 'c') return actions.endOverlay('commit');
    if (input === 'd') return actions.endOverlay('discard');
    if (input === 'k') return actions.endOverlay('keep');
    if (key.escape) actions.endOverlay(null);
    return;
  }
  if (state.overlayInput !== null) {
    if (key.escape) actions.editOverlay(null);
    else if (key.return) return actions.submitOverlay();
    else actions.editOverlay(editText(state.overlayInput, input, key));
    return;
  }
  if (state.delimiterInput !== null) {
    if (key.escape) {
      actions.editDelimiter(null);
      return;
    }
    if (key.return) {
      actions.editDelimiter(null, true);
      return;
    }
    actions.editDelimiter(editText(state.delimiterInput, input, key));
    return;
  }
  if (key.upArrow || input === 'k') actions.movePartition(-1);
  else if (key.downArrow || input === 'j') actions.movePartition(1);
  else if (key.pageUp) actions.movePartition(-pageRows);
  else if (key.pageDown) actions.movePartition(pageRows);
  else if (key.home) actions.movePartition(-Number.MAX_SAFE_INTEGER);
  else if (key.end) actions.movePartition(Number.MAX_SAFE_INTEGER);
  else if (input === 'r') actions.setOption({ type: 'toggle', option: 'readOnly' });
  else if (input === 'g') actions.setOption({ type: 'toggle', option: 'forceGpt' });
  else if (input === 's') actions.setOption({ type: 'toggle', option: 'sync' });
  else if (input === 'b') actions.setOption({ type: 'cycle-backend' });
  else if (input === 'p') actions.editDelimiter(state.options.delimiter ?? '');
  else if (input === 'P') actions.setOption({ type: 'set-delimiter', delimiter: null });
  else if (input === 'a') return actions.request('add');
  else if (input === 'd') return actions.request('remove');
  else if (input === 'm') actions.openMount();
  else if (input === 'x') return actions.request('teardown');
  else if (input === 'c') actions.openConvert();
  else if (input === 'o') actions.openOverlay();
  else if (input === 'R') actions.refresh();
  else if (key.escape) actions.back();
  else if (input === 'q') actions.quit();
}
