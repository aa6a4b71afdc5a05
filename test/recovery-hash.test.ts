/**
 * Hashing a new password: the built-in SHA-512 crypt against the specification's vectors, the
 * host's libxcrypt and OpenSSL; the libcrypt binding; the fallbacks; and the scheme each guest
 * expects, decided from its PAM stack, login.defs, shadow and crypt library.
 */
import { execFileSync } from 'node:child_process';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { openHostCrypt } from '../src/kernel/libcrypt.js';
import { RecoveryError } from '../src/recovery/errors.js';
import { checkNewPassword, hashPassword } from '../src/recovery/hash-password.js';
import {
  chooseHashPolicy,
  detectGuestCrypt,
  parseLoginDefs,
  parsePamLine,
} from '../src/recovery/hash-policy.js';
import { parseSha512Setting, randomSalt, sha512Crypt } from '../src/recovery/sha512-crypt.js';
import { alpine319, debian12, fedora40, rocky94, ubuntu2204 } from './support/guest-trees.js';
import {
  HAS_PYTHON_CRYPT,
  HOST_LIBXCRYPT,
  opensslSha512,
  pythonCrypt as pythonCryptAll,
} from './support/independent.js';
import { type MemoryTreeSpec, memoryTree } from './support/memory-tree.js';

const hostCrypt = openHostCrypt();
const libcryptFile = HOST_LIBXCRYPT ?? Buffer.alloc(0);
const noHostCrypt = !hostCrypt || !HAS_PYTHON_CRYPT;
if (noHostCrypt) {
  describe('host libcrypt', () =>
    it.skip("needs the host's libxcrypt and Python's crypt module; skipped", () => {}));
}

/** Python's crypt module: another binding of the host's libcrypt, for yescrypt. */
const pythonCrypt = (password: string, setting: string): string => pythonCryptAll([[password, setting]])[0]!;

const crypt = (password: string, setting: string) => {
  const parsed = parseSha512Setting(setting);
  if (!parsed) throw new Error(setting);
  return sha512Crypt(password, parsed);
};

describe('built-in SHA-512 crypt', () => {
  // The test vectors published with Drepper's specification.
  it.each([
    [
      '$6$saltstring',
      'Hello world!',
      '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1',
    ],
    [
      '$6$rounds=10000$saltstringsaltstring',
      'Hello world!',
      '$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.',
    ],
    [
      '$6$rounds=5000$toolongsaltstring',
      'This is just a test',
      '$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0',
    ],
    [
      '$6$rounds=1400$anotherlongsaltstring',
      'a very much longer text to encrypt.  This one even stretches over morethan one line.',
      '$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1',
    ],
    [
      '$6$rounds=77777$short',
      'we have a short salt string but not a short password',
      '$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0',
    ],
    [
      '$6$rounds=123456$asaltof16chars..',
      'a short string',
      '$6$rounds=123456$asaltof16chars..$BtCwjqMJGx5hrJhZywWvt0RLE8uZ4oPwcelCjmw2kSYu.Ec6ycULevoBK25fs2xXgMNrCzIMVcgEJAstJeonj1',
    ],
    [
      '$6$rounds=10$roundstoolow',
      'the minimum number is still observed',
      '$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX.',
    ],
  ])('%s of %j', (setting, password, expected) => {
    expect(crypt(password, setting)).toBe(expected);
  });

  it.skipIf(!hostCrypt)('matches the host libxcrypt for any password, salt and round count', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 80 }).filter((p) => !p.includes('\0')),
        fc.stringMatching(/^[./0-9A-Za-z]{0,20}$/),
        // libxcrypt refuses rounds below 1000 where the spec clamps them (the vector above covers that).
        fc.option(fc.integer({ min: 1000, max: 3000 }), { nil: null }),
        (password, salt, rounds) => {
          const setting = `$6$${rounds === null ? '' : `rounds=${rounds}$`}${salt}`;
          expect(crypt(password, setting)).toBe(hostCrypt!.crypt(password, setting));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('matches `openssl passwd -6 -salt`', () => {
    for (const password of ['root', 'correct horse battery staple', 'pässwörd €', 'x'.repeat(200)]) {
      const salt = randomSalt();
      const openssl = execFileSync('openssl', ['passwd', '-6', '-salt', salt, '-stdin'], {
        input: password,
        encoding: 'utf8',
      }).trim();
      expect(sha512Crypt(password, { salt, rounds: null })).toBe(openssl);
    }
  });

  it('makes 16-character salts from the crypt alphabet, different each time', () => {
    const salts = new Set(Array.from({ length: 50 }, randomSalt));
    expect(salts.size).toBe(50);
    for (const salt of salts) expect(salt).toMatch(/^[./0-9A-Za-z]{16}$/);
  });
});

describe.skipIf(noHostCrypt)('host libcrypt binding', () => {
  it('loads libxcrypt, makes settings with fresh salt and hashes as Python’s binding does', () => {
    expect(hostCrypt?.name).toMatch(/^libcrypt\.so\.[12]$/);
    const setting = hostCrypt!.gensalt('$y$', 5);
    expect(setting).toMatch(/^\$y\$j9T\$[./0-9A-Za-z]{22}$/);
    expect(hostCrypt!.gensalt('$y$', 5)).not.toBe(setting);
    expect(hostCrypt!.gensalt('$6$', 10000)).toMatch(/^\$6\$rounds=10000\$[./0-9A-Za-z]{16}$/);
    const hash = hostCrypt!.crypt('pässwörd', setting);
    expect(pythonCrypt('pässwörd', setting)).toBe(hash);
  });

  it('reports an unknown prefix and a bad setting as errors with errno', () => {
    expect(() => hostCrypt!.gensalt('$nope$', 0)).toThrow(/crypt_gensalt \$nope\$ failed: Invalid argument/);
    expect(() => hostCrypt!.crypt('x', '$nope$')).toThrow(/crypt failed: Invalid argument/);
  });

  it('is null when no library of those names loads', () => {
    expect(openHostCrypt(['libcrypt-not-here.so.9'])).toBeNull();
  });
});

describe.skipIf(noHostCrypt)('hashPassword', () => {
  it('makes a yescrypt hash with the host library, with the cost asked for, that verifies independently', () => {
    const made = hashPassword('new root pw', { scheme: 'yescrypt', cost: 7 }, hostCrypt);
    const hash = made.hash.reveal();
    expect(made).toMatchObject({
      scheme: 'yescrypt',
      implementation: `${hostCrypt?.name} (host)`,
      notes: [],
    });
    // The second parameter character is log2(N) - 1: 2^12 ('9') for the default cost 5, 2^14 ('B') for 7.
    expect(hash).toMatch(/^\$y\$jBT\$/);
    expect(pythonCrypt('new root pw', hash)).toBe(hash);
    expect(pythonCrypt('wrong', hash)).not.toBe(hash);
  });

  it('makes SHA-512 with rounds and SHA-256 and bcrypt as asked', () => {
    const sha = hashPassword('pw', { scheme: 'sha512crypt', cost: 20000 }, hostCrypt).hash.reveal();
    expect(sha).toMatch(/^\$6\$rounds=20000\$/);
    expect(crypt('pw', sha)).toBe(sha);
    expect(hashPassword('pw', { scheme: 'sha256crypt', cost: null }, hostCrypt).hash.reveal()).toMatch(
      /^\$5\$/,
    );
    expect(hashPassword('pw', { scheme: 'bcrypt', cost: 5 }, hostCrypt).hash.reveal()).toMatch(/^\$2b\$05\$/);
  });

  it('falls back to the built-in SHA-512 when the host library refuses the setting, and says so', () => {
    const made = hashPassword('pw', { scheme: 'bcrypt', cost: 99 }, hostCrypt);
    expect(made.scheme).toBe('sha512crypt');
    expect(made.implementation).toBe('built-in SHA-512 crypt');
    expect(made.notes[0]).toMatch(/cannot make bcrypt \(.*Invalid argument\): SHA-512 is used instead/);
    const hash = made.hash.reveal();
    expect(hostCrypt!.crypt('pw', hash)).toBe(hash);
  });

  it("hashes with the guest's SHA rounds without a host libcrypt, clamped as glibc does", () => {
    const hash = hashPassword('pw', { scheme: 'sha512crypt', cost: 20000 }, null).hash.reveal();
    expect(hash).toMatch(/^\$6\$rounds=20000\$[./0-9A-Za-z]{16}\$/);
    expect(hostCrypt!.crypt('pw', hash)).toBe(hash);
    const low = hashPassword('pw', { scheme: 'sha512crypt', cost: 10 }, null).hash.reveal();
    expect(low).toMatch(/^\$6\$rounds=1000\$/);
    expect(hostCrypt!.crypt('pw', low)).toBe(low);
    // Another scheme's cost means nothing to SHA-512: the default rounds, not written.
    expect(hashPassword('pw', { scheme: 'yescrypt', cost: 7 }, null).hash.reveal()).not.toMatch(/rounds=/);
  });

  it('falls back to the built-in SHA-512 without a host libcrypt, and says which scheme it could not make', () => {
    const made = hashPassword('new pw', { scheme: 'yescrypt', cost: null }, null);
    expect(made).toMatchObject({ scheme: 'sha512crypt', implementation: 'built-in SHA-512 crypt' });
    expect(made.notes).toEqual([
      'the host has no libcrypt, so yescrypt cannot be made: SHA-512 crypt was computed by kpartx-tui itself',
    ]);
    const hash = made.hash.reveal();
    expect(opensslSha512('new pw', hash)).toBe(hash);
  });

  it('never shows the hash when printed or serialised', () => {
    const made = hashPassword('pw', { scheme: 'yescrypt', cost: null }, hostCrypt);
    const hash = made.hash.reveal();
    expect(JSON.stringify(made)).not.toContain(hash.slice(7));
    expect(String(made.hash)).toBe('(withheld)');
    expect(inspect(made)).not.toContain(hash.slice(7));
  });

  it('refuses passwords crypt cannot take, naming the problem', () => {
    expect(() => checkNewPassword('')).toThrow('the new password is empty');
    expect(() => checkNewPassword('a\nb')).toThrow(/line break/);
    expect(() => checkNewPassword('a\0b')).toThrow(/NUL/);
    expect(() => checkNewPassword('é'.repeat(300))).toThrow(/longer than 511 bytes/);
    expect(() => hashPassword('', { scheme: 'yescrypt', cost: null }, hostCrypt)).toThrow(RecoveryError);
    expect(() => checkNewPassword('x'.repeat(511))).not.toThrow();
  });
});

describe.skipIf(!HOST_LIBXCRYPT)('which scheme a guest expects', () => {
  it.each([
    [
      debian12(libcryptFile),
      'yescrypt',
      null,
      '/etc/pam.d/common-password: pam_unix.so yescrypt',
      'libxcrypt-yescrypt',
    ],
    [ubuntu2204(), 'yescrypt', null, '/etc/pam.d/common-password: pam_unix.so yescrypt', 'unknown'],
    [
      rocky94(libcryptFile),
      'sha512crypt',
      null,
      '/etc/pam.d/system-auth: pam_unix.so sha512',
      'libxcrypt-yescrypt',
    ],
    [fedora40(), 'yescrypt', 7, '/etc/pam.d/system-auth: pam_unix.so yescrypt', 'unknown'],
    [alpine319(), 'sha512crypt', null, '/etc/shadow already holds SHA-512 hashes', 'musl'],
  ])('$name', (guest, scheme, cost, reason, guestCrypt) => {
    expect(chooseHashPolicy(memoryTree(guest.files))).toEqual({
      scheme,
      cost,
      reason,
      guestCrypt,
      notes: [],
    });
  });

  const policyOf = (files: MemoryTreeSpec) => chooseHashPolicy(memoryTree(files));

  it('follows login.defs when there is no PAM setting, with its rounds', () => {
    expect(
      policyOf({
        '/etc/login.defs': 'ENCRYPT_METHOD SHA512\nSHA_CRYPT_MIN_ROUNDS 6000\nSHA_CRYPT_MAX_ROUNDS 9000\n',
      }),
    ).toMatchObject({
      scheme: 'sha512crypt',
      cost: 9000,
      reason: '/etc/login.defs: ENCRYPT_METHOD SHA512',
    });
    expect(
      policyOf({ '/etc/login.defs': 'ENCRYPT_METHOD SHA256\nSHA_CRYPT_MIN_ROUNDS 100\n' }),
    ).toMatchObject({
      scheme: 'sha256crypt',
      cost: 1000,
    });
    expect(
      policyOf({ '/etc/login.defs': 'ENCRYPT_METHOD YESCRYPT\nYESCRYPT_COST_FACTOR 40\n' }),
    ).toMatchObject({
      scheme: 'yescrypt',
      cost: 11,
    });
  });

  it('takes rounds= from pam_unix over login.defs', () => {
    const files = {
      '/etc/pam.d/common-password':
        'password [success=1 default=ignore] pam_unix.so obscure sha512 rounds=65536\n',
      '/etc/login.defs': 'SHA_CRYPT_MAX_ROUNDS 7000\n',
    };
    expect(policyOf(files)).toMatchObject({ scheme: 'sha512crypt', cost: 65536 });
  });

  it('writes SHA-512 instead of MD5 or DES, and says why', () => {
    const md5 = policyOf({ '/etc/login.defs': 'ENCRYPT_METHOD MD5\n' });
    expect(md5).toMatchObject({ scheme: 'sha512crypt', reason: '/etc/login.defs: ENCRYPT_METHOD MD5' });
    expect(md5.notes[0]).toMatch(/asks for MD5, which is long broken: SHA-512 is used instead/);
    expect(policyOf({ '/etc/login.defs': 'MD5_CRYPT_ENAB yes\n' }).notes[0]).toMatch(
      /MD5_CRYPT_ENAB yes asks for MD5/,
    );
    expect(policyOf({ '/etc/pam.d/passwd': 'password required pam_unix.so bigcrypt\n' }).scheme).toBe(
      'sha512crypt',
    );
  });

  it('does not write yescrypt for a guest whose crypt cannot read it', () => {
    const musl = policyOf({
      '/etc/login.defs': 'ENCRYPT_METHOD YESCRYPT\n',
      '/lib/ld-musl-aarch64.so.1': 'elf',
    });
    expect(musl).toMatchObject({ scheme: 'sha512crypt', guestCrypt: 'musl' });
    expect(musl.notes).toEqual([
      "/etc/login.defs: ENCRYPT_METHOD YESCRYPT asks for yescrypt, but the guest's crypt is musl's: SHA-512 is used instead",
    ]);
    const oldGlibc = policyOf({
      '/etc/pam.d/common-password': 'password required pam_unix.so yescrypt\n',
      '/lib/x86_64-linux-gnu/libcrypt.so.1': Buffer.from('\x7fELF glibc libcrypt $5$ $6$ only'),
    });
    expect(oldGlibc).toMatchObject({ scheme: 'sha512crypt', guestCrypt: 'libcrypt-no-yescrypt' });
  });

  it('without any setting, follows the hashes in shadow, then the crypt library', () => {
    expect(policyOf({ '/etc/shadow': 'root:$y$j9T$salt$hash:1::::::\n' })).toMatchObject({
      scheme: 'yescrypt',
      reason: '/etc/shadow already holds yescrypt hashes',
    });
    expect(policyOf({ '/usr/lib64/libcrypt.so.2': libcryptFile })).toMatchObject({
      scheme: 'yescrypt',
      reason: "the guest's libxcrypt has yescrypt",
    });
    expect(policyOf({})).toMatchObject({ scheme: 'sha512crypt', guestCrypt: 'unknown' });
  });

  it('finds libcrypt through merged-/usr links, as on Debian 12', () => {
    expect(detectGuestCrypt(memoryTree(debian12(libcryptFile).files))).toBe('libxcrypt-yescrypt');
  });

  it('survives PAM include loops and odd lines', () => {
    const files = {
      '/etc/pam.d/passwd': 'password include a\n',
      '/etc/pam.d/a': 'password substack passwd\n@include\nbroken\n',
    };
    expect(policyOf(files).scheme).toBe('sha512crypt');
    // Option names that are also names of object properties mean nothing.
    const odd = policyOf({
      '/etc/pam.d/passwd': 'password required pam_unix.so constructor __proto__ toString\n',
      '/etc/login.defs': 'ENCRYPT_METHOD constructor\n',
    });
    expect(odd).toMatchObject({ scheme: 'sha512crypt', notes: [] });
    expect(parsePamLine('-password   optional\tpam_gnome_keyring.so use_authtok # c')).toEqual({
      type: 'password',
      control: 'optional',
      module: 'pam_gnome_keyring.so',
      args: ['use_authtok'],
    });
    expect(
      parsePamLine('password [success=1 default=ignore] /lib/security/pam_unix.so sha512'),
    ).toMatchObject({
      control: '[success=1 default=ignore]',
      module: '/lib/security/pam_unix.so',
    });
  });

  it('reads login.defs as shadow-utils does', () => {
    expect(
      parseLoginDefs(
        '# c\n  ENCRYPT_METHOD   "SHA512"  \nA\nB value # not a comment\n#X 1\nENCRYPT_METHOD YESCRYPT\n',
      ),
    ).toEqual({ ENCRYPT_METHOD: 'YESCRYPT', B: 'value # not a comment' });
  });
});
