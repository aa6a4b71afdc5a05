/**
 * A password reset in a mounted guest, in two steps a face can put a confirmation between:
 * prepare (find the system, choose the scheme, hash, plan the one-line change; nothing written)
 * and commit (write shadow and its backup, keeping attributes and the SELinux label).
 */
import type { CryptLibrary, XattrApi } from '../engine/machine.js';
import { today } from './accounts.js';
import { openDirectoryTree } from './directory-tree.js';
import { RecoveryError } from './errors.js';
import { findSystem, type LinuxSystem } from './find-system.js';
import { hashPassword } from './hash-password.js';
import { chooseHashPolicy, type HashPolicy, type WritableScheme } from './hash-policy.js';
import { planPasswordReset, type ResetPlan, type ResetReport } from './reset-plan.js';
import { type WriteReport, writeShadow } from './shadow-writer.js';
import { MAX_ACCOUNT_FILE_BYTES, readTreeFile, TreeError } from './tree.js';

export interface PasswordResetRequest {
  user: string;
  password: string;
  unlock?: boolean;
  clearForcedChange?: boolean;
  clearAccountExpiry?: boolean;
  /** Today's day number; the host's clock by default. */
  today?: number;
}

export interface PreparedReset {
  /** The mountpoint of the guest's root. */
  root: string;
  system: LinuxSystem;
  policy: HashPolicy;
  /** How the hash was made: the scheme actually used, by which implementation, and why it differs. */
  hashing: { scheme: WritableScheme; implementation: string; notes: string[] };
  /** What will change, hashes elided: safe to show. */
  report: ResetReport;
  /** Files read along the way that could not be (named, with the reason). */
  warnings: string[];
  /** The files to write: hashes inside, held as secrets. */
  plan: ResetPlan;
}

/** Everything up to the write. `crypt` is the host's library (null: none, SHA-512 is made here). */
export function preparePasswordReset(
  root: string,
  request: PasswordResetRequest,
  crypt: CryptLibrary | null,
): PreparedReset {
  const tree = openDirectoryTree(root);
  const system = findSystem(tree);
  if (system === null) throw new RecoveryError(`${root}: no Linux root filesystem here`);
  if (system.kind === 'windows') throw new RecoveryError(`${root}: ${system.label}. ${system.notice}`);
  const warnings = [...system.warnings];
  let shadow: Buffer | null;
  let passwd: Buffer | null;
  try {
    shadow = readTreeFile(tree, '/etc/shadow', MAX_ACCOUNT_FILE_BYTES);
    passwd = readTreeFile(tree, '/etc/passwd', MAX_ACCOUNT_FILE_BYTES);
  } catch (error) {
    if (error instanceof TreeError) throw new RecoveryError(`${root}: ${error.message}`);
    throw error;
  }
  if (shadow === null) throw new RecoveryError(`${root}: no /etc/shadow`);
  if (passwd === null) throw new RecoveryError(`${root}: no /etc/passwd`);
  const policy = chooseHashPolicy(tree, warnings);
  const hashed = hashPassword(request.password, policy, crypt);
  const plan = planPasswordReset(
    shadow,
    request.user,
    hashed.hash,
    {
      today: request.today ?? today(),
      unlock: request.unlock,
      clearForcedChange: request.clearForcedChange,
      clearAccountExpiry: request.clearAccountExpiry,
    },
    passwd,
  );
  return {
    root,
    system,
    policy,
    hashing: { scheme: hashed.scheme, implementation: hashed.implementation, notes: hashed.notes },
    report: plan.report,
    warnings,
    plan,
  };
}

/** Write what was prepared; `xattrs` carries shadow's attributes and label to the new file. */
export function commitPasswordReset(prepared: PreparedReset, xattrs: XattrApi): WriteReport {
  return writeShadow(prepared.root, prepared.plan, { selinux: prepared.system.selinux, xattrs });
}
