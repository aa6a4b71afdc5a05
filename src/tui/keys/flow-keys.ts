/** Keys of the confirmation, progress and mount screens. */
import type { Key } from 'ink';
import type { AppState } from '../state/app-reducer.js';
import type { AppActions } from '../state/intents.js';
import { prepareKey } from './mount-prepare-keys.js';
import { recoveryKey } from './recovery-keys.js';

export function confirmKey(_state: AppState, actions: AppActions, input: string, key: Key): void {
  if (input === 'y' || key.return) actions.runConfirmed();
  else if (input === 'n' || input === 'q' || key.escape) actions.cancelConfirm();
}

export function progressKey(state: AppState, actions: AppActions, input: string, key: Key): void {
  if (state.op?.running) return;
  if (key.return || key.escape) actions.dismissProgress();
  else if (input === 'q') actions.quit();
}

export function mountKey(state: AppState, actions: AppActions, input: string, key: Key): unknown {
  const { phase, mount } = state.mount;
  if (phase === 'working') return;
  if (mount && state.recovery.view) {
    recoveryKey(state.recovery, actions.recovery, input, key);
    return;
  }
  if (phase === 'clean') {
    if (key.escape || key.return) actions.back();
    else if (input === 'q') actions.quit();
    return;
  }
  if (mount && phase === 'mounted') {
    if (input === 's') actions.openShell();
    else if (input === 'm') actions.mountAnother();
    else if (input === 'a') actions.recovery.openAccounts();
    else if (input === 'w') actions.recovery.remountWritable();
    else if (input === 'u') actions.unmount();
    else if (input === 'x') actions.finishSession();
    else if (input === 'q') actions.quit();
    return;
  }
  if (state.mount.passphrase) return passphraseKey(actions, input, key);
  if (state.mount.prepare) return prepareKey(state.mount.prepare, actions, input, key);
  if (key.upArrow || input === 'k') actions.moveMount(-1);
  else if (key.downArrow || input === 'j') actions.moveMount(1);
  else if (key.return) return actions.mountSelected();
  else if (input === 'r') actions.toggleMountReadOnly();
  else if (input === 'e') actions.toggleMountExec();
  else if (input === 'o') actions.chooseMountpoint();
  else if (input === 'x') actions.finishSession();
  else if (key.escape && mount) actions.showMounted();
  else if (key.escape) actions.back();
  else if (input === 'q') actions.quit();
}

/** The masked LUKS passphrase field: typing, Backspace, Enter opens, Esc cancels. */
function passphraseKey(actions: AppActions, input: string, key: Key): unknown {
  if (key.escape) return actions.cancelPassphrase();
  if (key.return) return actions.submitPassphrase();
  if (key.backspace || key.delete) return actions.erasePassphrase();
  if (key.upArrow || key.downArrow || key.leftArrow || key.rightArrow || key.tab || key.meta) return;
  // A chunk (fast typing, a paste) may end in Enter: the text is typed, then it submits.
  const parts = input.split(/\r\n|\r|\n/);
  const text = [...parts[0]!].filter((c) => c >= ' ' && c !== '\u007f').join('');
  if (text) actions.typePassphrase(text);
  if (parts.length > 1) return actions.submitPassphrase();
}
