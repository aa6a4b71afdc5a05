/** Keys while a mount is prepared: the mountpoint field, the list of types, the options field. */
import type { Key } from 'ink';
import type { AppActions } from '../state/intents.js';
import type { MountPrepare } from '../state/mount-prepare.js';
import { type KeyHelp, MOUNT_OPTIONS_KEYS, MOUNT_PLACE_KEYS, MOUNT_TYPE_KEYS } from './key-help.js';
import { editText } from './text-editing.js';

export function prepareKey(prepare: MountPrepare, actions: AppActions, input: string, key: Key): unknown {
  if (key.escape) return actions.prepareBack();
  if (key.return) return actions.prepareNext();
  if (prepare.step === 'type') {
    if (key.upArrow || input === 'k') actions.movePrepare(-1);
    else if (key.downArrow || input === 'j') actions.movePrepare(1);
    return;
  }
  if (key.tab) return prepare.step === 'mountpoint' ? actions.completeMountpoint() : undefined;
  const field = prepare.step === 'mountpoint' ? prepare.mountpoint : prepare.options;
  actions.editPrepare(editText(field, input, key));
}

/** The help line of the step being prepared. */
export function prepareHelp(prepare: MountPrepare): KeyHelp[] {
  if (prepare.step === 'type') return [MOUNT_TYPE_KEYS.move, MOUNT_TYPE_KEYS.choose, MOUNT_TYPE_KEYS.back];
  if (prepare.step === 'options') return [MOUNT_OPTIONS_KEYS.mount, MOUNT_OPTIONS_KEYS.back];
  return [
    prepare.needsType ? MOUNT_PLACE_KEYS.next : MOUNT_PLACE_KEYS.mount,
    MOUNT_PLACE_KEYS.complete,
    MOUNT_PLACE_KEYS.cancel,
  ];
}
