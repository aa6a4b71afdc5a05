/**
 * Hash a new password in the scheme the guest expects, with the host's libxcrypt (never a program
 * from the guest). Without a host libcrypt, SHA-512 crypt is computed here instead, and the result
 * says so.
 */
import type { CryptLibrary } from '../engine/machine.js';
import { RecoveryError } from './errors.js';
import { schemeName, type WritableScheme } from './hash-policy.js';
import { Secret } from './secret.js';
import { parseSha512Setting, ROUNDS_MAX, ROUNDS_MIN, randomSalt, sha512Crypt } from './sha512-crypt.js';

export const SCHEME_PREFIX: Record<WritableScheme, string> = {
  yescrypt: '$y$',
  'gost-yescrypt': '$gy$',
  sha512crypt: '$6$',
  sha256crypt: '$5$',
  bcrypt: '$2b$',
};

/** libxcrypt refuses longer phrases (CRYPT_MAX_PASSPHRASE_SIZE 512, NUL included). */
export const MAX_PASSWORD_BYTES = 511;

export interface HashedPassword {
  hash: Secret<string>;
  /** The scheme actually used. */
  scheme: WritableScheme;
  /** `libcrypt.so.1 (host)` or `built-in SHA-512 crypt`. */
  implementation: string;
  notes: string[];
}

/** Refuse passwords crypt(3) cannot take or a login prompt cannot type, with the reason. */
export function checkNewPassword(password: string): void {
  if (password.length === 0) throw new RecoveryError('the new password is empty');
  if (/[\0\r\n]/.test(password)) {
    throw new RecoveryError('the new password contains a NUL or line break, which no login prompt can type');
  }
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) {
    throw new RecoveryError(
      `the new password is longer than ${MAX_PASSWORD_BYTES} bytes, which crypt(3) refuses`,
    );
  }
}

/** A hash that can go into a shadow field as it is. */
function checkHash(hash: string, prefix: string, implementation: string): string {
  if (!hash.startsWith(prefix) || /[:\n\r\0]/.test(hash)) {
    throw new RecoveryError(`${implementation} returned something that is not a ${prefix} hash`);
  }
  return hash;
}

/**
 * SHA-512 crypt computed here. `rounds` is the guest's SHA_CRYPT rounds when its policy is SHA-512
 * (null: glibc's default 5000, not written into the hash), clamped as glibc clamps it.
 */
function builtInSha512(password: string, rounds: number | null, notes: string[]): HashedPassword {
  const implementation = 'built-in SHA-512 crypt';
  const clamped = rounds === null ? null : Math.min(ROUNDS_MAX, Math.max(ROUNDS_MIN, rounds));
  const hash = sha512Crypt(password, { salt: randomSalt(), rounds: clamped });
  // Read back as a login would read it: the setting parsed from the hash must give the same hash.
  const setting = parseSha512Setting(hash);
  if (!setting || sha512Crypt(password, setting) !== hash) {
    throw new RecoveryError(`${implementation}: the new hash does not verify; nothing was written`);
  }
  return {
    hash: new Secret(checkHash(hash, '$6$', implementation)),
    scheme: 'sha512crypt',
    implementation,
    notes,
  };
}

/** `crypt` is the host's library (the machine's libcrypt.so.1 or .2); null when it has none. */
export function hashPassword(
  password: string,
  policy: { scheme: WritableScheme; cost: number | null },
  crypt: CryptLibrary | null,
): HashedPassword {
  checkNewPassword(password);
  const wanted = schemeName(policy.scheme);
  if (crypt === null) {
    const notes =
      policy.scheme === 'sha512crypt'
        ? ['the host has no libcrypt: SHA-512 crypt was computed by kpartx-tui itself']
        : [
            `the host has no libcrypt, so ${wanted} cannot be made: SHA-512 crypt was computed by kpartx-tui itself`,
          ];
    return builtInSha512(password, policy.scheme === 'sha512crypt' ? policy.cost : null, notes);
  }
  const implementation = `${crypt.name} (host)`;
  const prefix = SCHEME_PREFIX[policy.scheme];
  let setting: string;
  try {
    setting = crypt.gensalt(prefix, policy.cost ?? 0);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return builtInSha512(password, policy.scheme === 'sha512crypt' ? policy.cost : null, [
      `the host's ${crypt.name} cannot make ${wanted} (${why}): SHA-512 is used instead`,
    ]);
  }
  const hash = checkHash(crypt.crypt(password, setting), prefix, implementation);
  // The hash must verify against the password it was made from, or nothing is written.
  if (crypt.crypt(password, hash) !== hash) {
    throw new RecoveryError(`${implementation}: the new ${wanted} hash does not verify; nothing was written`);
  }
  return { hash: new Secret(hash), scheme: policy.scheme, implementation, notes: [] };
}
