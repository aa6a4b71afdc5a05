/**
 * SHA-512 crypt (`$6$`), written from Ulrich Drepper's specification "Unix crypt using SHA-256
 * and SHA-512" (the algorithm glibc, libxcrypt and musl implement). Used only when the host's
 * libcrypt cannot be loaded; its output is checked against libxcrypt and OpenSSL in the tests.
 */
import { createHash, randomBytes } from 'node:crypto';

export const SHA512_PREFIX = '$6$';
export const ROUNDS_DEFAULT = 5000;
export const ROUNDS_MIN = 1000;
export const ROUNDS_MAX = 999_999_999;
const SALT_MAX = 16;

/** The crypt base-64 alphabet (not RFC 4648's). */
const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

const sha512 = (...parts: Buffer[]): Buffer => {
  const hash = createHash('sha512');
  for (const part of parts) hash.update(part);
  return hash.digest();
};

/** `length` bytes of `source` repeated (steps 16 and 20 of the spec build sequences this way). */
function repeatTo(source: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i += source.length) source.copy(out, i, 0, Math.min(source.length, length - i));
  return out;
}

/** The spec's step 22: the digest's bytes in a fixed shuffle, 3 at a time, 6 bits per character. */
const SHUFFLE: [number, number, number][] = [
  [0, 21, 42],
  [22, 43, 1],
  [44, 2, 23],
  [3, 24, 45],
  [25, 46, 4],
  [47, 5, 26],
  [6, 27, 48],
  [28, 49, 7],
  [50, 8, 29],
  [9, 30, 51],
  [31, 52, 10],
  [53, 11, 32],
  [12, 33, 54],
  [34, 55, 13],
  [56, 14, 35],
  [15, 36, 57],
  [37, 58, 16],
  [59, 17, 38],
  [18, 39, 60],
  [40, 61, 19],
  [62, 20, 41],
];

function encode(digest: Buffer): string {
  let out = '';
  const put = (b2: number, b1: number, b0: number, chars: number) => {
    let w = (b2 << 16) | (b1 << 8) | b0;
    for (let i = 0; i < chars; i++) {
      out += ITOA64[w & 0x3f];
      w >>= 6;
    }
  };
  for (const [a, b, c] of SHUFFLE) put(digest[a]!, digest[b]!, digest[c]!, 4);
  put(0, 0, digest[63]!, 2);
  return out;
}

export interface Sha512Setting {
  salt: string;
  /** null: the default 5000 rounds, not written into the hash. */
  rounds: number | null;
}

/** Salt and rounds from a `$6$[rounds=N$]salt[$...]` setting, as glibc reads them. */
export function parseSha512Setting(setting: string): Sha512Setting | null {
  if (!setting.startsWith(SHA512_PREFIX)) return null;
  let rest = setting.slice(SHA512_PREFIX.length);
  let rounds: number | null = null;
  const custom = /^rounds=([0-9]+)\$/.exec(rest);
  if (custom) {
    rounds = Math.min(ROUNDS_MAX, Math.max(ROUNDS_MIN, Number(custom[1])));
    rest = rest.slice(custom[0].length);
  }
  const end = rest.indexOf('$');
  const salt = (end < 0 ? rest : rest.slice(0, end)).slice(0, SALT_MAX);
  return { salt, rounds };
}

/** crypt(password, setting) for a `$6$` setting. */
export function sha512Crypt(password: string | Buffer, setting: Sha512Setting): string {
  const key = Buffer.isBuffer(password) ? password : Buffer.from(password, 'utf8');
  const salt = Buffer.from(setting.salt.slice(0, SALT_MAX), 'latin1');
  const rounds = setting.rounds ?? ROUNDS_DEFAULT;

  // Steps 4-8: digest B = H(key salt key).
  const b = sha512(key, salt, key);
  // Steps 1-3, 9-12: digest A.
  const a = createHash('sha512').update(key).update(salt);
  a.update(repeatTo(b, key.length));
  for (let n = key.length; n > 0; n >>= 1) a.update(n & 1 ? b : key);
  let digest = a.digest();
  // Steps 13-16: P, the key hashed key-length times, stretched to the key's length.
  const p = repeatTo(sha512(...Array<Buffer>(key.length).fill(key)), key.length);
  // Steps 17-20: S, the salt hashed 16 + A[0] times, cut to the salt's length.
  const s = repeatTo(sha512(...Array<Buffer>(16 + digest[0]!).fill(salt)), salt.length);
  // Step 21: the rounds.
  for (let i = 0; i < rounds; i++) {
    const c = createHash('sha512');
    c.update(i & 1 ? p : digest);
    if (i % 3 !== 0) c.update(s);
    if (i % 7 !== 0) c.update(p);
    c.update(i & 1 ? digest : p);
    digest = c.digest();
  }
  const roundsText = setting.rounds === null ? '' : `rounds=${rounds}$`;
  return `${SHA512_PREFIX}${roundsText}${setting.salt.slice(0, SALT_MAX)}$${encode(digest)}`;
}

/** A fresh 16-character salt (96 bits) from the system's random source. */
export function randomSalt(): string {
  return [...randomBytes(SALT_MAX)].map((byte) => ITOA64[byte & 0x3f]).join('');
}
