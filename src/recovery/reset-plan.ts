/**
 * The one-line change a password reset makes to shadow, planned without touching anything: the
 * account's hash replaced, optionally its lock removed, a forced change or expired password
 * cleared and its expiry date removed. Every other field, line and byte stays exactly as it was.
 * The report shows the line before and after with the hashes elided.
 */
import { dayOf } from './accounts.js';
import { RecoveryError } from './errors.js';
import { displayText, joinLines, splitLines } from './lines.js';
import { parsePasswd } from './passwd.js';
import { elidePasswordField, passwordState } from './password-state.js';
import { Secret } from './secret.js';
import { elideShadowLine, parseShadowLine, SHADOW_FIELD } from './shadow.js';

export interface ResetOptions {
  /** Today's day number (days since 1970-01-01), for the last-change date. */
  today: number;
  /** Drop the `!` lock in front of the hash (passwd -l, usermod -L). */
  unlock?: boolean;
  /**
   * Set the last change to today when it is 0 (change forced at next login) or the password has
   * outlived its maximum age (which also ends an inactivity lock-out).
   */
  clearForcedChange?: boolean;
  /** Empty the account expiry date. */
  clearAccountExpiry?: boolean;
}

export type ChangedField = 'password' | 'lastChange' | 'accountExpiry';

export interface FieldChange {
  field: ChangedField;
  /** For the password, the elided field; for days, the number (as in the file) and its date. */
  before: string;
  after: string;
}

export interface ResetReport {
  user: string;
  /** 1-based line number in shadow. */
  line: number;
  /** The line before and after, hashes elided. */
  before: string;
  after: string;
  changes: FieldChange[];
  /** The account keeps its `!` lock (a new password does not unlock it unless asked). */
  stillLocked: boolean;
  /** Expiry left as it is that still keeps the account from logging in. */
  warnings: string[];
}

export interface ResetPlan {
  report: ResetReport;
  /** The file the plan was made from, and the file to write: hashes inside, never shown. */
  oldShadow: Secret<Buffer>;
  newShadow: Secret<Buffer>;
}

const dayText = (field: string): string => {
  if (field === '') return '(none)';
  const date = dayOf(Number(field)).date;
  return date === null ? field : `${field} (${date})`;
};

/**
 * Plan the reset of `user`'s password to `newHash` in `shadow`. `passwd`, when given, is checked
 * to really send the account to shadow (`x`), since a hash in passwd would win over the new one.
 */
export function planPasswordReset(
  shadow: Buffer,
  user: string,
  newHash: Secret<string>,
  options: ResetOptions,
  passwd: Buffer | null = null,
): ResetPlan {
  const hash = newHash.reveal();
  if (!hash.startsWith('$') || /[:\n\r\0]/.test(hash)) {
    throw new RecoveryError('the new hash is not a crypt hash that fits in a shadow field');
  }
  if (passwd !== null) {
    const entry = parsePasswd(passwd).lines.find((l) => l.kind === 'entry' && l.entry.name === user);
    if (entry?.kind !== 'entry') throw new RecoveryError(`/etc/passwd: no account named ${user}`);
    const field = entry.entry.passwordField;
    if (field !== 'x' && field !== `##${user}`) {
      throw new RecoveryError(
        `/etc/passwd: ${user}'s password field is not "x", so the system would not read shadow for it; not changed`,
      );
    }
  }

  const lines = splitLines(shadow);
  const matches: number[] = [];
  lines.forEach((raw, index) => {
    const line = parseShadowLine(raw);
    const name = line.kind === 'entry' ? line.entry.name : displayText(raw.split(':')[0] ?? '');
    if (name === user && raw.includes(':')) matches.push(index);
  });
  if (matches.length === 0) throw new RecoveryError(`/etc/shadow: no line for ${user}`);
  if (matches.length > 1) {
    throw new RecoveryError(
      `/etc/shadow: ${user} has ${matches.length} lines (${matches.map((i) => i + 1).join(', ')}); fix it by hand first`,
    );
  }
  const index = matches[0]!;
  const raw = lines[index]!;
  const parsed = parseShadowLine(raw);
  if (parsed.kind !== 'entry') {
    throw new RecoveryError(`/etc/shadow line ${index + 1}: ${user}'s line is malformed; not changed`);
  }
  const { entry } = parsed;
  const fields = raw.split(':');
  const changes: FieldChange[] = [];
  const warnings: string[] = [];
  const set = (field: ChangedField, position: number, value: string, show: (v: string) => string) => {
    const old = fields[position]!;
    if (old === value) return;
    changes.push({ field, before: show(old), after: show(value) });
    fields[position] = value;
  };

  const oldPassword = entry.passwordField;
  const lock = /^!*/.exec(oldPassword)![0];
  const keepLock = lock !== '' && !options.unlock;
  set('password', SHADOW_FIELD.password, `${keepLock ? lock : ''}${hash}`, elidePasswordField);

  const last = entry.lastChange;
  const max = entry.maxDays;
  const forced = last === 0;
  const aged = last !== null && last > 0 && max !== null && options.today - last > max;
  if (options.clearForcedChange && (forced || aged)) {
    set('lastChange', SHADOW_FIELD.lastChange, String(options.today), dayText);
  } else if (forced) {
    warnings.push(`${user} must still choose a new password at the next login (last change is 0)`);
  } else if (aged) {
    warnings.push(`${user}'s password is past its maximum age; the next login must change it`);
  }

  const expires = entry.expires;
  if (expires !== null && options.clearAccountExpiry) {
    set('accountExpiry', SHADOW_FIELD.expires, '', dayText);
  } else if (expires !== null && options.today >= expires) {
    warnings.push(
      `${user}'s account expired on ${dayText(String(expires))}; it cannot log in until that is cleared`,
    );
  }
  if (keepLock) warnings.push(`${user} stays locked ("!" kept): the new password works once it is unlocked`);

  const newLine = fields.join(':');
  const newLines = [...lines];
  newLines[index] = newLine;
  const report: ResetReport = {
    user,
    line: index + 1,
    before: elideShadowLine(raw),
    after: elideShadowLine(newLine),
    changes,
    stillLocked: keepLock,
    warnings,
  };
  // The state the new line gives must be a set password (locked only when asked to stay so).
  const state = passwordState(fields[SHADOW_FIELD.password]!);
  if (state.state !== (keepLock ? 'locked' : 'set')) {
    throw new RecoveryError(`${user}: the planned password field does not read back as a password`);
  }
  return { report, oldShadow: new Secret(Buffer.from(shadow)), newShadow: new Secret(joinLines(newLines)) };
}
