/**
 * Mount options a user adds (`--options`, the app's options field) on top of the ones kpartx-tui
 * always sets. Mounts of a disk are always nosuid and nodev, noexec unless exec is asked for in
 * its own way, and read-only unless a read-write mount is asked for in its own way (never on a
 * read-only device): an option that would undo one of these is refused, with why. What is left is
 * the filesystem's own data string for mount(2). Pure.
 */

export class MountOptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MountOptionError';
  }
}

export interface UserMountOptions {
  /** Filesystem options for mount(2)'s data string, in the order given. */
  data: string[];
  /** `ro` was among them: the mount is read-only whatever else was chosen. */
  readOnly: boolean;
}

/** What kpartx-tui sets anyway: dropped from the list, never an error. */
const ALREADY_SET = new Set(['nosuid', 'nodev', 'noexec']);

/** Options that would take back a safety option, and why they are refused. */
const UNDOING: Record<string, string> = {
  suid: 'it would undo nosuid: set-uid programs on a disk are never honoured',
  dev: 'it would undo nodev: device nodes on a disk are never honoured',
  exec: 'it would undo noexec (in the app, e lets programs run)',
  defaults: 'it means rw,suid,dev,exec, undoing nosuid,nodev,noexec',
};

/** Words of mount(8) and fstab that are no filesystem option: the kernel would refuse them. */
const MOUNT_COMMAND_WORDS = new Set([
  'auto',
  'noauto',
  'bind',
  'rbind',
  'move',
  'remount',
  'loop',
  'user',
  'nouser',
  'users',
  'owner',
  'group',
  'nofail',
  '_netdev',
]);

/** Per-mount flags mount(8) turns into MS_* bits; kpartx-tui sets none of them. */
const MOUNT_FLAGS = new Set([
  'atime',
  'noatime',
  'diratime',
  'nodiratime',
  'relatime',
  'norelatime',
  'strictatime',
  'nostrictatime',
  'private',
  'rprivate',
  'shared',
  'rshared',
  'slave',
  'rslave',
  'unbindable',
  'runbindable',
]);

/**
 * Check `text` (comma-separated, as mount -o takes it). `readWrite`: a read-write mount was asked
 * for (--rw, or read-only off in the app); only then is `rw` accepted, as a no-op. Throws a
 * MountOptionError naming the option and the reason.
 */
export function parseUserMountOptions(text: string, readWrite: boolean): UserMountOptions {
  const data: string[] = [];
  let readOnly = false;
  for (const raw of text.split(',')) {
    const option = raw.trim();
    if (option === '') continue;
    const word = option.split('=')[0]!;
    // Bytes mount(2) would cut the string at, or the option list would be split at.
    if ([...option].some((c) => c <= ' ' || c === '\u007f'))
      throw new MountOptionError(
        `option ${JSON.stringify(option)}: control characters and spaces are not allowed`,
      );
    if (ALREADY_SET.has(option)) continue;
    if (option === 'ro') {
      readOnly = true;
      continue;
    }
    if (option === 'rw') {
      if (readWrite) continue;
      throw new MountOptionError(
        'option rw: it would make a read-only mount writable; ask for a read-write mount instead (--rw; in the app, r)',
      );
    }
    const undoing = UNDOING[option];
    if (undoing) throw new MountOptionError(`option ${option}: ${undoing}`);
    if (MOUNT_COMMAND_WORDS.has(word) || word.startsWith('x-') || word === 'comment')
      throw new MountOptionError(`option ${option}: a word of mount(8) or fstab, not a filesystem option`);
    if (MOUNT_FLAGS.has(word))
      throw new MountOptionError(`option ${option}: a mount flag kpartx-tui does not set; leave it out`);
    data.push(option);
  }
  return { data, readOnly };
}
