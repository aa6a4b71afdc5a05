/** Keys of the recovery screens (accounts, password entry, confirmation, done). */
import type { Key } from 'ink';
import type { RecoveryActions } from '../state/intents.js';
import type { RecoveryState } from '../state/recovery-reducer.js';

/** Printable characters of a chunk (pasted or typed fast), control characters dropped. */
const printable = (input: string): string => [...input].filter((c) => c >= ' ' && c !== '\u007f').join('');

export function recoveryKey(state: RecoveryState, actions: RecoveryActions, input: string, key: Key): void {
  if (state.busy) return;
  switch (state.view) {
    case 'accounts':
      if (key.upArrow) actions.moveAccount(-1);
      else if (key.downArrow) actions.moveAccount(1);
      else if (key.return) actions.chooseAccount();
      else if (input === 'w') actions.remountWritable();
      else if (key.escape) actions.back();
      return;
    case 'password': {
      if (key.escape) actions.back();
      else if (key.return) actions.submitPassword();
      else if (key.backspace || key.delete) actions.erase();
      else if (key.upArrow || key.downArrow || key.leftArrow || key.rightArrow || key.tab || key.meta) return;
      // A chunk (fast typing, a paste) may hold Enter: each part is typed, each Enter submits.
      else
        input.split(/\r\n|\r|\n/).forEach((part, i) => {
          if (i > 0) actions.submitPassword();
          const text = printable(part);
          if (text) actions.typePassword(text);
        });
      return;
    }
    case 'confirm':
      if (input === 'y') actions.commit();
      else if (input === 'u') actions.toggleFlag('unlock');
      else if (input === 'f') actions.toggleFlag('clearForcedChange');
      else if (input === 'e') actions.toggleFlag('clearAccountExpiry');
      else if (input === 'n' || key.escape) actions.back();
      return;
    case 'done':
      if (key.return || key.escape) actions.back();
      return;
  }
}
