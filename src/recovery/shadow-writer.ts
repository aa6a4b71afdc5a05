/**
 * Writes a planned shadow into a mounted guest the way shadow-utils does: the current file copied
 * to `shadow-`, the new content in a temporary file beside it, each with the original's mode,
 * owner and extended attributes (the SELinux label among them), flushed to disk, then renamed
 * over. A reader sees the old file or the new one, never half of one; a failure before the
 * renames leaves the guest as it was. `/.autorelabel` is created only when the guest runs SELinux
 * and its label could not be kept.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  fsyncSync,
  openSync,
  readSync,
  realpathSync,
  renameSync,
  type Stats,
  unlinkSync,
  writeSync,
} from 'node:fs';
import type { XattrApi } from '../engine/machine.js';
import { KernelError } from '../io/kernel-error.js';
import { openDirectoryTree } from './directory-tree.js';
import { RecoveryError } from './errors.js';
import { type SelinuxConfig, selinuxEnabled } from './find-system.js';
import type { ResetPlan } from './reset-plan.js';
import { MAX_ACCOUNT_FILE_BYTES, resolveTreePath, TreeError } from './tree.js';

export const SELINUX_XATTR = 'security.selinux';

export interface WriteOptions {
  /** The guest's SELinux config (LinuxSystem.selinux): with SELinux on, a lost label means a relabel. */
  selinux: SelinuxConfig | null;
  /** Extended-attribute calls: the machine's. */
  xattrs: XattrApi;
}

export interface KeptAttributes {
  mode: number;
  uid: number;
  gid: number;
  /** Names of the extended attributes copied. */
  xattrs: string[];
  /** The SELinux label the file had (it is no secret), or null. */
  selinuxLabel: string | null;
}

export interface WriteReport {
  /** Host paths. */
  shadow: string;
  backup: string;
  attributes: KeptAttributes;
  /** kept: same label on shadow and shadow-; none: there was none; lost: it could not be set. */
  selinux: 'kept' | 'none' | 'lost';
  /** Host path of the /.autorelabel created, or null. */
  autorelabel: string | null;
  notes: string[];
}

const O_NOFOLLOW = constants.O_NOFOLLOW;

const describe = (error: unknown): string => {
  if (error instanceof KernelError) return `${error.code}`;
  const code = (error as NodeJS.ErrnoException)?.code;
  return code ?? (error instanceof Error ? error.message : String(error));
};

function readAll(fd: number, size: number, path: string): Buffer {
  if (size > MAX_ACCOUNT_FILE_BYTES)
    throw new RecoveryError(`${path}: larger than ${MAX_ACCOUNT_FILE_BYTES} bytes`);
  const buffer = Buffer.alloc(size + 1);
  let length = 0;
  while (length < buffer.length) {
    const n = readSync(fd, buffer, length, buffer.length - length, null);
    if (n === 0) break;
    length += n;
  }
  return buffer.subarray(0, length);
}

function writeAll(fd: number, bytes: Buffer): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
}

interface Original {
  stat: Stats;
  attributes: Map<string, Buffer>;
}

/** Where /etc/shadow really is inside the guest: /etc may be a link, shadow itself must not be. */
function locateShadow(root: string): { dir: string; guestPath: string } {
  const tree = openDirectoryTree(root);
  let etc: string | null;
  try {
    etc = resolveTreePath(tree, '/etc');
  } catch (error) {
    if (error instanceof TreeError) throw new RecoveryError(error.message);
    throw error;
  }
  if (etc === null || tree.lstat(etc)?.kind !== 'directory')
    throw new RecoveryError(`${root}: no /etc directory`);
  const guestPath = `${etc === '/' ? '' : etc}/shadow`;
  const kind = tree.lstat(guestPath)?.kind;
  if (kind === undefined) throw new RecoveryError(`${root}${guestPath}: no such file`);
  if (kind !== 'file')
    throw new RecoveryError(`${root}${guestPath}: is a ${kind}, not a regular file; not changed`);
  return { dir: `${realpathSync(root)}${etc === '/' ? '' : etc}`, guestPath };
}

/** Write `plan` into the guest mounted at `root`. */
export function writeShadow(root: string, plan: ResetPlan, options: WriteOptions): WriteReport {
  const xattr = options.xattrs;
  const { dir } = locateShadow(root);
  const shadowPath = `${dir}/shadow`;
  const backupPath = `${dir}/shadow-`;
  const oldBytes = plan.oldShadow.reveal();
  const newBytes = plan.newShadow.reveal();

  // The current file, its attributes, and proof it is still what the plan was made from.
  const original = ((): Original => {
    let fd: number;
    try {
      fd = openSync(shadowPath, constants.O_RDONLY | O_NOFOLLOW);
    } catch (error) {
      throw new RecoveryError(`${shadowPath}: cannot open (${describe(error)})`);
    }
    try {
      const stat = fstatSync(fd);
      if (!stat.isFile()) throw new RecoveryError(`${shadowPath}: not a regular file; not changed`);
      if (!readAll(fd, stat.size, shadowPath).equals(oldBytes)) {
        throw new RecoveryError(`${shadowPath}: changed since the reset was planned; nothing written`);
      }
      const attributes = new Map<string, Buffer>();
      let names: string[] = [];
      try {
        names = xattr.list(fd);
      } catch (error) {
        // A filesystem without extended attributes has none to keep.
        if (!(error instanceof KernelError && error.code === 'EOPNOTSUPP')) {
          throw new RecoveryError(`${shadowPath}: cannot list extended attributes (${describe(error)})`);
        }
      }
      for (const name of names) {
        try {
          attributes.set(name, xattr.get(fd, name));
        } catch (error) {
          throw new RecoveryError(
            `${shadowPath}: cannot read extended attribute ${name} (${describe(error)})`,
          );
        }
      }
      return { stat, attributes };
    } finally {
      closeSync(fd);
    }
  })();

  const label = original.attributes.get(SELINUX_XATTR) ?? null;
  const notes: string[] = [];
  let labelLost = false;
  const created: string[] = [];
  const tag = randomBytes(6).toString('hex');

  /** A new file beside shadow with the original's owner, mode and attributes, holding `bytes`, on disk. */
  const copyWith = (name: string, bytes: Buffer): string => {
    const path = `${dir}/${name}.kpartx-tui-${tag}`;
    let fd: number;
    try {
      fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_NOFOLLOW, 0o600);
    } catch (error) {
      throw new RecoveryError(`${path}: cannot create (${describe(error)})`);
    }
    created.push(path);
    try {
      fchownSync(fd, original.stat.uid, original.stat.gid);
      fchmodSync(fd, original.stat.mode & 0o7777);
      for (const [attribute, value] of original.attributes) {
        try {
          xattr.set(fd, attribute, value);
        } catch (error) {
          if (attribute !== SELINUX_XATTR) {
            throw new RecoveryError(
              `${path}: cannot set extended attribute ${attribute} (${describe(error)})`,
            );
          }
          labelLost = true;
          notes.push(`${name}: the SELinux label could not be set (${describe(error)})`);
        }
      }
      if (label === null) {
        // On an SELinux host the new file got the host's label; the original had none.
        try {
          xattr.get(fd, SELINUX_XATTR);
          xattr.remove(fd, SELINUX_XATTR);
        } catch (error) {
          const code = error instanceof KernelError ? error.code : '';
          if (code !== 'ENODATA' && code !== 'EOPNOTSUPP') {
            labelLost = true;
            notes.push(
              `${name}: a label the original did not have could not be removed (${describe(error)})`,
            );
          }
        }
      }
      writeAll(fd, bytes);
      fsyncSync(fd);
    } catch (error) {
      if (error instanceof RecoveryError) throw error;
      throw new RecoveryError(`${path}: cannot write (${describe(error)})`);
    } finally {
      closeSync(fd);
    }
    return path;
  };

  const removeCreated = () => {
    for (const path of created) {
      try {
        unlinkSync(path);
      } catch {
        // already renamed or never there
      }
    }
  };

  let backupTemp: string;
  let shadowTemp: string;
  try {
    backupTemp = copyWith('shadow-', oldBytes);
    shadowTemp = copyWith('shadow', newBytes);
  } catch (error) {
    removeCreated();
    throw error;
  }
  try {
    renameSync(backupTemp, backupPath);
  } catch (error) {
    removeCreated();
    throw new RecoveryError(`${backupPath}: cannot replace the backup (${describe(error)}); nothing changed`);
  }
  try {
    renameSync(shadowTemp, shadowPath);
  } catch (error) {
    removeCreated();
    throw new RecoveryError(
      `${shadowPath}: cannot replace (${describe(error)}); shadow is unchanged and shadow- now holds a copy of it`,
    );
  }
  syncDirectory(dir);

  // Read back what is now there.
  const written = (() => {
    const fd = openSync(shadowPath, constants.O_RDONLY | O_NOFOLLOW);
    try {
      return readAll(fd, fstatSync(fd).size, shadowPath);
    } finally {
      closeSync(fd);
    }
  })();
  if (!written.equals(newBytes))
    throw new RecoveryError(`${shadowPath}: reads back different from what was written`);

  let autorelabel: string | null = null;
  if (labelLost && selinuxEnabled(options.selinux)) {
    const rootReal = realpathSync(root);
    autorelabel = `${rootReal}/.autorelabel`;
    try {
      const fd = openSync(autorelabel, constants.O_WRONLY | constants.O_CREAT | O_NOFOLLOW, 0o644);
      fsyncSync(fd);
      closeSync(fd);
      syncDirectory(rootReal);
      notes.push('the guest will relabel its files at the next boot (/.autorelabel), which takes a while');
    } catch (error) {
      throw new RecoveryError(
        `${autorelabel}: cannot create (${describe(error)}); shadow was written but has no SELinux label: ` +
          'boot the guest with enforcing=0 and run restorecon /etc/shadow',
      );
    }
  } else if (labelLost) {
    notes.push('the guest does not run SELinux, so the lost label does not matter');
  }

  return {
    shadow: shadowPath,
    backup: backupPath,
    attributes: {
      mode: original.stat.mode & 0o7777,
      uid: original.stat.uid,
      gid: original.stat.gid,
      xattrs: [...original.attributes.keys()],
      selinuxLabel: label === null ? null : label.toString('utf8').replace(/\0+$/, ''),
    },
    selinux: labelLost ? 'lost' : label === null ? 'none' : 'kept',
    autorelabel,
    notes,
  };
}

/** Make renames in `dir` durable. */
function syncDirectory(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
