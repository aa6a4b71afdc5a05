/**
 * The app's recovery calls over src/recovery, on the mountpoint of the mount session: what system
 * is there, its accounts, and a password reset in two steps (prepare, then commit after the
 * confirmation). Prepared resets stay here; the screens only ever get their elided report.
 */
import { errorText } from '../engine/errors.js';
import type { CryptLibrary, XattrApi } from '../engine/machine.js';
import { listGuestAccounts } from '../recovery/accounts.js';
import { openDirectoryTree } from '../recovery/directory-tree.js';
import { findSystem } from '../recovery/find-system.js';
import { schemeName } from '../recovery/hash-policy.js';
import { commitPasswordReset, type PreparedReset, preparePasswordReset } from '../recovery/reset.js';
import { accountView, systemView } from '../recovery/summary.js';
import { type MountView, TuiError } from './model.js';
import type { RecoveryEngine, ResetDone } from './recovery-model.js';

export interface RecoveryDeps {
  /** The host's crypt library, asked for at the first reset (null: none, the built-in SHA-512 is used). */
  crypt: () => CryptLibrary | null;
  xattrs: XattrApi;
  /** Today's day number, for expiry (the host's clock when absent). */
  today?: () => number;
}

/** Recovery errors and unreadable trees read as one sentence in the status line. */
function asTuiError<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    if (error instanceof TuiError) throw error;
    throw new TuiError(errorText(error));
  }
}

export function createRecoveryEngine(deps: RecoveryDeps): RecoveryEngine {
  const prepared = new Map<number, PreparedReset>();
  let nextToken = 1;
  const day = () => deps.today?.();

  const writable = (mount: MountView) => {
    if (mount.readOnly)
      throw new TuiError(`${mount.mountpoint} is mounted read-only: remount it read-write first`);
  };

  return {
    findSystem: (mount) =>
      asTuiError(() => {
        const found = findSystem(openDirectoryTree(mount.mountpoint));
        return found ? systemView(found, mount.mountpoint) : null;
      }),
    listAccounts: (mount) =>
      asTuiError(() => {
        const today = day();
        const tree = openDirectoryTree(mount.mountpoint);
        return (today === undefined ? listGuestAccounts(tree) : listGuestAccounts(tree, today)).map(
          accountView,
        );
      }),
    prepareReset(mount, choices) {
      writable(mount);
      return asTuiError(() => {
        const today = day();
        const request = {
          user: choices.user,
          password: choices.password,
          unlock: choices.unlock,
          clearForcedChange: choices.clearForcedChange,
          clearAccountExpiry: choices.clearAccountExpiry,
          ...(today === undefined ? {} : { today }),
        };
        const reset = preparePasswordReset(mount.mountpoint, request, deps.crypt());
        const token = nextToken++;
        prepared.set(token, reset);
        const { report, hashing, policy } = reset;
        return {
          token,
          user: report.user,
          line: report.line,
          before: report.before,
          after: report.after,
          changes: report.changes.map((c) => `${c.field}: ${c.before} → ${c.after}`),
          scheme: schemeName(hashing.scheme),
          implementation: hashing.implementation,
          reason: policy.reason,
          notes: [...policy.notes, ...hashing.notes],
          warnings: [...report.warnings, ...reset.warnings],
        };
      });
    },
    commitReset(mount, token): ResetDone {
      const reset = prepared.get(token);
      if (!reset) throw new TuiError('that reset was already written or dropped; prepare it again');
      prepared.delete(token);
      writable(mount);
      if (reset.root !== mount.mountpoint) throw new TuiError('the reset was prepared for another mount');
      return asTuiError(() => {
        const written = commitPasswordReset(reset, deps.xattrs);
        const { attributes } = written;
        const label =
          written.selinux === 'kept'
            ? `, SELinux label kept (${attributes.selinuxLabel})`
            : written.selinux === 'lost'
              ? ', SELinux label lost'
              : '';
        return {
          user: reset.report.user,
          shadow: written.shadow,
          backup: written.backup,
          kept: `mode ${(attributes.mode & 0o7777).toString(8).padStart(4, '0')}, owner ${attributes.uid}:${attributes.gid}${label}`,
          autorelabel: written.autorelabel,
          notes: written.notes,
        };
      });
    },
    discardReset: (token) => void prepared.delete(token),
  };
}
