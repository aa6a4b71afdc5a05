/**
 * Accounts from passwd and shadow: every password state and scheme, aging and expiry as pam_unix
 * judges them, malformed lines tolerated, and never a hash in what is reported.
 */
import { describe, expect, it } from 'vitest';
import { dayOf, listAccounts, readAccounts } from '../src/recovery/accounts.js';
import { joinLines } from '../src/recovery/lines.js';
import { parsePasswd } from '../src/recovery/passwd.js';
import { elidePasswordField, hashScheme, passwordState } from '../src/recovery/password-state.js';
import { elideShadowLine, parseShadow } from '../src/recovery/shadow.js';
import { ALL_HASHES, alpine319, debian12, rocky94, ubuntu2204 } from './support/guest-trees.js';

/** The file again from its parsed lines: every line keeps its raw bytes. */
const rejoin = (file: { lines: readonly { raw: string }[] }): Buffer =>
  joinLines(file.lines.map((line) => line.raw));

/** Which crypt library the guest has does not matter here. */
const libcrypt = Buffer.from('\x7fELF libcrypt stand-in');
const bytes = (text: string) => Buffer.from(text, 'utf8');
const fileOf = (files: Record<string, unknown>, path: string) => bytes(files[path] as string);
const DAY = 19_900; // 2024-06-26

describe('password states', () => {
  it.each([
    ['$y$j9T$salt$hash', 'yescrypt'],
    ['$gy$j9T$salt$hash', 'gost-yescrypt'],
    ['$7$CU..../....salt$hash', 'scrypt'],
    ['$2b$12$abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQ', 'bcrypt'],
    ['$2y$10$x', 'bcrypt'],
    ['$6$salt$hash', 'sha512crypt'],
    ['$6$rounds=5000$salt$hash', 'sha512crypt'],
    ['$5$salt$hash', 'sha256crypt'],
    ['$1$salt$hash', 'md5crypt'],
    ['$sha1$40000$salt$hash', 'sha1crypt'],
    ['$md5,rounds=5$salt$hash', 'sunmd5'],
    ['abJnggxhB/yWI', 'descrypt'],
    ['_J9..CCCCXBrJUJV154M', 'bsdicrypt'],
    ['$9$new$scheme', 'unknown'],
  ])('%s is a set password in %s', (field, scheme) => {
    expect(hashScheme(field)).toBe(scheme);
    expect(passwordState(field)).toEqual({ state: 'set', scheme });
  });

  it('tells locked, no-login and empty apart', () => {
    expect(passwordState('!')).toEqual({ state: 'locked', scheme: null });
    expect(passwordState('!!')).toEqual({ state: 'locked', scheme: null });
    expect(passwordState('!$y$j9T$salt$hash')).toEqual({ state: 'locked', scheme: 'yescrypt' });
    expect(passwordState('!!$6$salt$hash')).toEqual({ state: 'locked', scheme: 'sha512crypt' });
    expect(passwordState('!*')).toEqual({ state: 'locked', scheme: null });
    expect(passwordState('*')).toEqual({ state: 'no-login' });
    expect(passwordState('*LK*')).toEqual({ state: 'no-login' });
    expect(passwordState('x')).toEqual({ state: 'no-login' });
    expect(passwordState('')).toEqual({ state: 'empty' });
  });

  it('elides the hash and salt, keeping the lock and the scheme', () => {
    expect(elidePasswordField('$y$j9T$salt$hash')).toBe('$y$…(elided)');
    expect(elidePasswordField('!$6$rounds=5000$salt$hash')).toBe('!$6$…(elided)');
    expect(elidePasswordField('abJnggxhB/yWI')).toBe('…(elided)');
    for (const plain of ['', '*', '!', '!!', '!*']) expect(elidePasswordField(plain)).toBe(plain);
    expect(elideShadowLine('root:$y$j9T$salt$hash:19700:0:99999:7:::')).toBe(
      'root:$y$…(elided):19700:0:99999:7:::',
    );
    expect(elideShadowLine('$6$stray$hash')).toBe('$6$…(elided)');
  });
});

describe('accounts', () => {
  it('lists Debian 12 accounts with uid, gid, shell, home and password state', () => {
    const { files } = debian12(libcrypt);
    const accounts = readAccounts(fileOf(files, '/etc/passwd'), fileOf(files, '/etc/shadow'), DAY);
    const byName = Object.fromEntries(accounts.map((a) => [a.name, a]));
    expect(accounts).toHaveLength(13);
    expect(byName.root).toMatchObject({
      uid: 0,
      gid: 0,
      home: '/root',
      shell: '/bin/bash',
      password: { state: 'set', scheme: 'yescrypt' },
      passwordSource: 'shadow',
      lastChange: { days: 19700, date: '2023-12-09' },
      mustChange: false,
      minDays: 0,
      maxDays: 99999,
      warnDays: 7,
      inactiveDays: null,
      accountExpires: null,
      accountExpired: false,
      passwdLine: 1,
      shadowLine: 1,
    });
    expect(byName.daemon?.password).toEqual({ state: 'no-login' });
    expect(byName['systemd-network']?.password).toEqual({ state: 'locked', scheme: null });
    expect(byName.guest?.password).toEqual({ state: 'empty' });
    expect(byName.debian?.gecos).toBe('Debian,,,');
    // chage -d 0 and an expiry date.
    expect(byName.temp).toMatchObject({
      mustChange: true,
      passwordExpired: false,
      lastChange: { days: 0, date: '1970-01-01' },
      accountExpires: { days: 19800, date: '2024-03-18' },
      accountExpired: true,
    });
  });

  it('knows passwd -l on Ubuntu, useradd `!!` on Rocky, and aging that ran out', () => {
    const ubuntu = ubuntu2204().files;
    const [ubuntuUser] = readAccounts(
      fileOf(ubuntu, '/etc/passwd'),
      fileOf(ubuntu, '/etc/shadow'),
      DAY,
    ).filter((a) => a.name === 'ubuntu');
    expect(ubuntuUser?.password).toEqual({ state: 'locked', scheme: 'yescrypt' });

    const rocky = rocky94(libcrypt).files;
    const accounts = readAccounts(fileOf(rocky, '/etc/passwd'), fileOf(rocky, '/etc/shadow'), DAY);
    const byName = Object.fromEntries(accounts.map((a) => [a.name, a]));
    expect(byName.rocky?.password).toEqual({ state: 'locked', scheme: null });
    expect(byName.root).toMatchObject({
      lastChange: null,
      password: { scheme: 'sha512crypt' },
      passwordExpires: null,
    });
    // admin: changed on day 19850, max 90, inactive 14.
    expect(byName.admin).toMatchObject({
      passwordExpires: { days: 19940 },
      passwordExpired: false,
      inactiveLocked: false,
    });
    const later = readAccounts(fileOf(rocky, '/etc/passwd'), fileOf(rocky, '/etc/shadow'), 19941);
    expect(later.find((a) => a.name === 'admin')).toMatchObject({
      passwordExpired: true,
      inactiveLocked: false,
    });
    const muchLater = readAccounts(fileOf(rocky, '/etc/passwd'), fileOf(rocky, '/etc/shadow'), 19955);
    expect(muchLater.find((a) => a.name === 'admin')).toMatchObject({
      passwordExpired: true,
      inactiveLocked: true,
    });
  });

  it('reads Alpine’s empty lastchg fields and its legacy MD5 hash', () => {
    const { files } = alpine319();
    const accounts = readAccounts(fileOf(files, '/etc/passwd'), fileOf(files, '/etc/shadow'), DAY);
    expect(accounts.find((a) => a.name === 'root')).toMatchObject({
      password: { state: 'no-login' },
      lastChange: null,
      minDays: 0,
      mustChange: false,
    });
    expect(accounts.find((a) => a.name === 'legacy')?.password).toEqual({ state: 'set', scheme: 'md5crypt' });
    expect(accounts.find((a) => a.name === 'kiosk')?.password).toEqual({ state: 'empty' });
  });

  it('follows passwd when it holds the hash itself, and notices a missing shadow line', () => {
    const passwd = bytes('old:$1$salt$hash:5:5::/:/bin/sh\nlost:x:6:6::/:/bin/sh\nnone:x:7:7::/:/bin/sh\n');
    const shadow = bytes('old:*:1:::::::\nnone:!:1::::::\n');
    const accounts = readAccounts(passwd, shadow, DAY);
    expect(accounts.map((a) => [a.name, a.passwordSource, a.password.state])).toEqual([
      ['old', 'passwd', 'set'],
      ['lost', 'missing', 'no-login'],
      ['none', 'shadow', 'locked'],
    ]);
    expect(readAccounts(passwd, null, DAY).map((a) => a.passwordSource)).toEqual([
      'passwd',
      'missing',
      'missing',
    ]);
  });

  it('keeps comments, NIS lines, blank and malformed lines, byte for byte, out of the accounts', () => {
    const passwdText =
      '# comment\nroot:x:0:0:root:/root:/bin/bash\n\n+@admins::::::\nbad:x:notanumber:0::/:/bin/sh\nshort:x:1\n';
    const shadowText =
      'root:*:1:0:99999:7:::\n# note\n\tbroken line\nroot:$6$second$entry:1::::::\nx:y:z:::::::\n';
    const passwd = parsePasswd(bytes(passwdText));
    const shadow = parseShadow(bytes(shadowText));
    expect(passwd.lines.map((l) => (l.kind === 'entry' ? 'entry' : l.why))).toEqual([
      'comment',
      'entry',
      'blank',
      'nis',
      'malformed',
      'malformed',
      'blank',
    ]);
    expect(shadow.lines.map((l) => (l.kind === 'entry' ? 'entry' : l.why))).toEqual([
      'entry',
      'comment',
      'malformed',
      'entry',
      'malformed',
      'blank',
    ]);
    expect(rejoin(passwd).toString()).toBe(passwdText);
    expect(rejoin(shadow).toString()).toBe(shadowText);
    // The first root line is the one getspnam returns.
    expect(listAccounts(passwd, shadow, DAY)).toMatchObject([
      { name: 'root', shadowLine: 1, password: { state: 'no-login' } },
    ]);
  });

  it('keeps bytes that are not UTF-8 exactly, and shows them as text', () => {
    const raw = Buffer.concat([
      bytes('j'),
      Buffer.from([0xf6]),
      bytes('rg:x:1000:1000:J\u00f6rg:/home/j:/bin/sh\n'),
    ]);
    expect(rejoin(parsePasswd(raw)).equals(raw)).toBe(true);
    expect(listAccounts(parsePasswd(raw), null, DAY)[0]?.gecos).toBe('Jörg');
  });

  it('gives a day number beyond any date no date, instead of failing', () => {
    expect(dayOf(999_999_999_999)).toEqual({ days: 999_999_999_999, date: null });
    expect(dayOf(0).date).toBe('1970-01-01');
  });

  it('never puts a hash, a salt or a digest in the accounts it reports', () => {
    const guests = [debian12(libcrypt), ubuntu2204(), rocky94(libcrypt), alpine319()];
    for (const guest of guests) {
      const json = JSON.stringify(
        readAccounts(fileOf(guest.files, '/etc/passwd'), fileOf(guest.files, '/etc/shadow'), DAY),
      );
      for (const hash of ALL_HASHES) {
        for (const part of hash.split('$').filter((p) => p.length >= 8)) expect(json).not.toContain(part);
      }
    }
  });
});
