/**
 * What a face shows of a guest system and its accounts: one sentence per field, never a hash.
 * The app's accounts screen and `kpartx-tui passwd --list` both print these.
 */
import type { Account } from './accounts.js';
import type { FoundSystem } from './find-system.js';
import { schemeName } from './hash-policy.js';
import { hiberfilState } from './hibernation.js';

export interface SystemView {
  kind: 'linux' | 'windows';
  /** `Rocky Linux 9.4 root`, `Windows system`. */
  label: string;
  hostname: string | null;
  /** `enforcing (targeted)`; null when the guest has no SELinux config. */
  selinux: string | null;
  /** Windows: what kpartx-tui cannot do here, and which tool can. */
  notice?: string;
  /** Windows: hibernated (or shut down with Fast Startup): never to be written. */
  hibernated?: boolean;
  /** Files that could not be read, named with the reason. */
  warnings: string[];
}

export interface AccountView {
  name: string;
  uid: number;
  shell: string;
  /** `set (yescrypt)`, `locked`, `locked (sha512crypt)`, `no password login`, `empty`. */
  password: string;
  /** YYYY-MM-DD, `must change` (lastchg 0) or null. */
  lastChange: string | null;
  /** `password 2024-05-01`, `account 2025-01-01 (expired)`…; null when neither expires. */
  expiry: string | null;
  /** Its password is in shadow, so a reset can write it. */
  resettable: boolean;
  /** Why not, when it cannot. */
  notResettableWhy?: string;
}

export function systemView(found: FoundSystem, root: string): SystemView {
  if (found.kind === 'windows') {
    return {
      kind: 'windows',
      label: found.label,
      hostname: null,
      selinux: null,
      notice: found.notice,
      hibernated: hiberfilState(root) === 'hibernated',
      warnings: [],
    };
  }
  const { selinux } = found;
  return {
    kind: 'linux',
    label: found.label,
    hostname: found.hostname,
    selinux: selinux ? `${selinux.mode ?? 'not set'}${selinux.policy ? ` (${selinux.policy})` : ''}` : null,
    warnings: found.warnings,
  };
}

function passwordText(account: Account): string {
  const { password } = account;
  switch (password.state) {
    case 'set':
      return `set (${schemeName(password.scheme)})`;
    case 'locked':
      return password.scheme ? `locked (${schemeName(password.scheme)})` : 'locked';
    case 'no-login':
      return 'no password login';
    case 'empty':
      return 'empty';
  }
}

/** pam_unix never ages a password whose maximum is this large (99999 is "never" in every distribution). */
const NEVER_DAYS = 10_000;

export function accountView(account: Account): AccountView {
  const expiry = [
    account.accountExpired
      ? `account expired ${account.accountExpires?.date ?? ''}`.trim()
      : account.accountExpires?.date
        ? `account until ${account.accountExpires.date}`
        : '',
    account.passwordExpired && (account.maxDays ?? 0) < NEVER_DAYS
      ? 'password expired'
      : account.passwordExpires?.date && (account.maxDays ?? NEVER_DAYS) < NEVER_DAYS
        ? `password until ${account.passwordExpires.date}`
        : '',
  ].filter(Boolean);
  const resettable = account.passwordSource === 'shadow';
  return {
    name: account.name,
    uid: account.uid,
    shell: account.shell,
    password: passwordText(account),
    lastChange: account.mustChange ? 'must change' : (account.lastChange?.date ?? null),
    expiry: expiry.length > 0 ? expiry.join(', ') : null,
    resettable,
    ...(resettable
      ? {}
      : {
          notResettableWhy:
            account.passwordSource === 'passwd'
              ? 'its password is in /etc/passwd, not in shadow'
              : 'passwd says "x" but shadow has no line for it',
        }),
  };
}
