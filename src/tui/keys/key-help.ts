/**
 * The keys of every screen, named once: the help line under each screen picks from here and
 * `kpartx-tui --help` prints it all, so the two cannot drift apart. No React or Ink here: --help
 * is answered before the app is loaded.
 */

/** A key as the help line shows it. */
export interface KeyHelp {
  key: string;
  label: string;
  /** Shown but greyed out, with the reason in the label (e.g. `add (root)`). */
  disabled?: boolean;
}

/** Said in --help only: the help line has no room. */
export interface KeyDoc extends KeyHelp {
  /** Other keys that do the same. */
  also?: string;
  /** More about what it does. */
  note?: string;
}

const doc = (key: string, label: string, more: { also?: string; note?: string } = {}): KeyDoc => ({
  key,
  label,
  ...more,
});

export const EVERY_SCREEN_KEYS = {
  repaint: doc('Ctrl-L', 'draw the screen again', { note: 'after another program wrote over it' }),
};

export const SOURCE_KEYS = {
  move: doc('↑↓', 'move', { also: 'j k, PgUp PgDn, Home End' }),
  open: doc('Enter', 'open'),
  typePath: doc('/', 'type a path', { also: 'o' }),
  refresh: doc('r', 'refresh'),
  quit: doc('q', 'quit', { also: 'Esc' }),
};

export const PATH_KEYS = {
  open: doc('Enter', 'open', { note: '~ and ~/… are the home directory' }),
  complete: doc('Tab', 'complete', {
    note: 'several matches: their common prefix, listed under the field',
  }),
  cancel: doc('Esc', 'cancel'),
};

export const LAYOUT_KEYS = {
  add: doc('a', 'add'),
  remove: doc('d', 'delete'),
  mount: doc('m', 'mount'),
  clean: doc('x', 'clean', { note: 'unmount, unmap and release the loop of what is set up on the source' }),
  convert: doc('c', 'convert to raw', { note: 'a VM disk container on a kernel without nbd' }),
  overlay: doc('o', 'overlay', {
    note: 'write mode: writes go to a qcow2 overlay file, the image is only read; with one in use: end it',
  }),
  options: doc('r/p/g/s/b', 'options', { note: 'see Options' }),
  move: doc('↑↓', 'move', { also: 'j k, PgUp PgDn, Home End' }),
  reread: doc('R', 'read the source again'),
  back: doc('Esc', 'back'),
  quit: doc('q', 'quit'),
};

/** The overlay path field (after o): where the overlay file is made. */
export const OVERLAY_KEYS = {
  create: doc('Enter', 'create and open it', { note: 'the app then works on the overlay' }),
  cancel: doc('Esc', 'cancel'),
};

/** Ending an overlay (o with one in use, or leaving): nothing of it may be mapped any more. */
export const OVERLAY_END_KEYS = {
  commit: doc('c', 'commit into the image', { note: 'qemu-img commit, then the overlay is removed' }),
  discard: doc('d', 'discard', { note: 'the overlay is deleted; the image is as it was' }),
  keep: doc('k', 'keep', { note: 'end it later: kpartx-tui overlay commit|discard PATH' }),
  cancel: doc('Esc', 'go on with the overlay'),
};

/** The map options on the layout; the options line shows each with its value. */
export const OPTION_KEYS = {
  readOnly: doc('r', 'read-only', {
    note: 'write mode: read-only (on) or direct (off, writes go to the source)',
  }),
  delimiter: doc('p', 'delim', { note: 'typed: Enter keeps it, Esc undoes it' }),
  defaultDelimiter: doc('P', 'default delimiter'),
  forceGpt: doc('g', 'force-gpt'),
  sync: doc('s', 'sync'),
  backend: doc('b', 'backend', { note: 'auto, dm, loop' }),
};

export const DELIMITER_KEYS = {
  keep: doc('Enter', 'keep'),
  undo: doc('Esc', 'undo'),
};

export const CONFIRM_KEYS = {
  yes: doc('y', 'yes', { also: 'Enter' }),
  no: doc('n/Esc', 'no', { also: 'q' }),
};

export const PROGRESS_KEYS = {
  interrupt: doc('Ctrl-C', 'stop', {
    note: 'while it runs: an add is rolled back, a delete finishes; then quit',
  }),
  back: doc('Enter', 'back', { also: 'Esc' }),
  quit: doc('q', 'quit'),
};

export const MOUNT_PICK_KEYS = {
  move: doc('↑↓', 'move', { also: 'j k' }),
  mount: doc('Enter', 'mount', { note: 'content not recognised: pick a filesystem type first' }),
  place: doc('o', 'mount on…', {
    note: 'edit the mountpoint shown under the list first; inside a mounted filesystem it must exist there',
  }),
  readOnly: doc('r', 'read-only'),
  exec: doc('e', 'exec'),
  finish: doc('x', 'unmap all'),
  finishMounted: doc('x', 'unmount + unmap all', { note: 'when something is mounted: newest first' }),
  back: doc('Esc', 'back', { note: 'to the mounts, when something is mounted' }),
  quit: doc('q', 'quit'),
};

/** The masked passphrase of a LUKS map picked in the mount session. */
export const PASSPHRASE_KEYS = {
  open: doc('Enter', 'open and mount', { note: 'cryptsetup opens it as <map>-luks; closed at its unmount' }),
  cancel: doc('Esc', 'cancel'),
};

export const MOUNT_PLACE_KEYS = {
  mount: doc('Enter', 'mount'),
  next: doc('Enter', 'next', { note: 'content not recognised: on to the filesystem type' }),
  complete: doc('Tab', 'complete', { note: 'directories' }),
  cancel: doc('Esc', 'cancel'),
};

export const MOUNT_TYPE_KEYS = {
  move: doc('↑↓', 'move', { also: 'j k' }),
  choose: doc('Enter', 'choose', { note: 'the types this kernel mounts' }),
  back: doc('Esc', 'back'),
};

export const MOUNT_OPTIONS_KEYS = {
  mount: doc('Enter', 'mount', {
    note: 'options are added to nosuid,nodev,noexec; any that would undo them, or read-only, is refused',
  }),
  back: doc('Esc', 'back'),
};

export const MOUNTED_KEYS = {
  accounts: doc('a', 'accounts', { note: 'on a Linux system' }),
  readWrite: doc('w', 'read-write', { note: 'remount in place' }),
  shell: doc('s', 'shell here', { note: '$SHELL in the first mount; exit comes back' }),
  another: doc('m', 'mount another', { note: 'e.g. /boot inside the root: o chooses where' }),
  unmount: doc('u', 'unmount', { note: 'the newest mount; one inside another goes first' }),
  finish: doc('x', 'unmount + unmap', { note: 'every mount, newest first' }),
  quit: doc('q', 'quit'),
};

export const ACCOUNT_KEYS = {
  move: doc('↑↓', 'move'),
  reset: doc('Enter', 'reset password'),
  readWrite: doc('w', 'read-write'),
  back: doc('Esc', 'back'),
};

export const PASSWORD_KEYS = {
  next: doc('Enter', 'next', { note: 'then again to check' }),
  cancel: doc('Esc', 'cancel'),
};

export const RESET_KEYS = {
  write: doc('y', 'write'),
  options: doc('u/f/e', 'options', { note: 'u unlock, f clear a forced change, e clear the account expiry' }),
  back: doc('n/Esc', 'back'),
  done: doc('Enter', 'back to the accounts', { note: 'once written' }),
};

export const CONVERT_KEYS = {
  check: doc('Enter', 'check space', { note: 'after the target path; Enter again converts' }),
  convert: doc('Enter', 'convert'),
  stop: doc('Esc/Ctrl-C', 'stop and remove the part-written copy', { note: 'while it runs' }),
  change: doc('Esc', 'change the path'),
  back: doc('Esc', 'back'),
  quit: doc('q', 'quit'),
};

/** Every screen's keys, in the order a session meets them. */
export const SCREENS: { title: string; keys: Record<string, KeyDoc> }[] = [
  { title: 'Every screen', keys: EVERY_SCREEN_KEYS },
  { title: 'Sources', keys: SOURCE_KEYS },
  { title: 'Path field (after /)', keys: PATH_KEYS },
  { title: 'Layout', keys: LAYOUT_KEYS },
  { title: 'Options (on the layout)', keys: OPTION_KEYS },
  { title: 'Delimiter field (after p)', keys: DELIMITER_KEYS },
  { title: 'Overlay path field (after o)', keys: OVERLAY_KEYS },
  { title: 'Ending the overlay (o with one in use, q, Esc)', keys: OVERLAY_END_KEYS },
  { title: 'Convert to raw (after c)', keys: CONVERT_KEYS },
  { title: 'Confirm', keys: CONFIRM_KEYS },
  { title: 'Progress', keys: PROGRESS_KEYS },
  { title: 'Mount session: picking a map', keys: MOUNT_PICK_KEYS },
  { title: 'Mount session: LUKS passphrase', keys: PASSPHRASE_KEYS },
  { title: 'Mount session: mountpoint field (after o)', keys: MOUNT_PLACE_KEYS },
  { title: 'Mount session: filesystem type (content not recognised)', keys: MOUNT_TYPE_KEYS },
  { title: 'Mount session: options field (after the type)', keys: MOUNT_OPTIONS_KEYS },
  { title: 'Mount session: mounted', keys: MOUNTED_KEYS },
  { title: 'Accounts', keys: ACCOUNT_KEYS },
  { title: 'Accounts: new password', keys: PASSWORD_KEYS },
  { title: 'Accounts: the planned change', keys: RESET_KEYS },
];

/** The keys of every screen, as --help prints them. */
export function keysText(): string {
  const width = Math.max(...SCREENS.flatMap((s) => Object.values(s.keys).map((k) => k.key.length)));
  const lines = ['Keys:'];
  for (const screen of SCREENS) {
    lines.push(`  ${screen.title}`);
    for (const k of Object.values(screen.keys)) {
      const more = [k.note, k.also && `also ${k.also}`].filter(Boolean).join('; ');
      lines.push(`    ${k.key.padEnd(width + 2)}${k.label}${more ? ` (${more})` : ''}`);
    }
  }
  return lines.join('\n');
}
