/**
 * What the recovery screens show (the system on a mounted filesystem, its accounts, a planned and
 * a written password reset), as plain data: no hash, no password, nothing secret ever reaches it.
 */
import type { AccountView, SystemView } from '../recovery/summary.js';
import type { MountView } from './model.js';

export interface ResetChoices {
  user: string;
  /** Handed straight to the engine, which hashes it and keeps nothing of it. */
  password: string;
  unlock: boolean;
  clearForcedChange: boolean;
  clearAccountExpiry: boolean;
}

/** A reset planned and hashed, not written: what the confirmation shows. */
export interface ResetPreview {
  /** Names the prepared reset inside the engine for commitReset. */
  token: number;
  user: string;
  /** 1-based line number in /etc/shadow. */
  line: number;
  /** The line before and after, hashes elided. */
  before: string;
  after: string;
  /** `password: $y$…(elided) → $6$…(elided)`. */
  changes: string[];
  /** `SHA-512 crypt`, with the implementation: `libcrypt.so.1 (host)`. */
  scheme: string;
  implementation: string;
  /** Why this scheme: `/etc/pam.d/common-password: pam_unix.so yescrypt`. */
  reason: string;
  /** Why the scheme used differs from the one asked for, if it does. */
  notes: string[];
  /** Things left as they are that still stop a login, files that could not be read. */
  warnings: string[];
}

export interface ResetDone {
  user: string;
  /** Host paths written. */
  shadow: string;
  backup: string;
  /** `mode 0640, owner 0:42, SELinux label kept (system_u:object_r:shadow_t:s0)`. */
  kept: string;
  autorelabel: string | null;
  notes: string[];
}

/** The recovery calls the app makes on a mounted filesystem; the real one wraps src/recovery. */
export interface RecoveryEngine {
  /** The system on the mounted filesystem, or null when it holds none the app knows. */
  findSystem(mount: MountView): SystemView | null;
  listAccounts(mount: MountView): AccountView[];
  /** Hash and plan; nothing is written. Refused on a read-only mount. */
  prepareReset(mount: MountView, choices: ResetChoices): ResetPreview;
  /** Write what prepareReset planned (once); the mount must still be read-write. */
  commitReset(mount: MountView, token: number): ResetDone;
  /** Forget a planned reset that was not confirmed. */
  discardReset(token: number): void;
}
