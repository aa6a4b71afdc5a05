/**
 * Property tests of the guest-file parsers: whatever the bytes, passwd and shadow parse without
 * throwing and write back byte for byte, accounts can be listed and never show a hash, and
 * os-release parsing never throws and reads back any value written with its quoting.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseEnvAssignments, parseOsRelease } from '../src/probe/system/os-release.js';
import { listAccounts } from '../src/recovery/accounts.js';
import { parseHostname, parseSelinuxConfig } from '../src/recovery/find-system.js';
import { joinLines } from '../src/recovery/lines.js';
import { parsePasswd } from '../src/recovery/passwd.js';
import { elideShadowLine, parseShadow } from '../src/recovery/shadow.js';

/** A value quoted so that a shell (and parseEnvAssignments) reads it back exactly. */
const quoteEnvValue = (value: string): string => `"${value.replace(/["\\`$]/g, (c) => `\\${c}`)}"`;

/** The file again from its parsed lines: every line keeps its raw bytes. */
const rejoin = (file: { lines: readonly { raw: string }[] }): Buffer =>
  joinLines(file.lines.map((line) => line.raw));

const RUNS = { numRuns: 400 };

/** Fields built from the characters that matter to these formats, plus arbitrary bytes. */
const fieldChar = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...'abcxyz019$!*:.,/ #+-\r\t') },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }).map((b) => String.fromCharCode(b)) },
);
const field = fc.array(fieldChar, { maxLength: 12 }).map((chars) => chars.join(''));
const lineOf = (fields: number) =>
  fc.array(field, { minLength: 1, maxLength: fields + 2 }).map((parts) => parts.join(':'));
const fileOf = (fields: number) =>
  fc.array(lineOf(fields), { maxLength: 20 }).map((lines) => Buffer.from(lines.join('\n'), 'latin1'));

/** Any UTF-16 code unit, lone surrogates included, often one that matters to env files. (fast-check's
 * 'binary' unit costs seconds to set up.) */
const anyText = (maxLength: number) =>
  fc.string({
    unit: fc.oneof(
      fc.constantFrom(...'=\'"\\`$ #;\n\r\tAZ_'),
      fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit)),
    ),
    maxLength,
  });

const CRYPT = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const digest = fc
  .array(fc.constantFrom(...CRYPT), { minLength: 20, maxLength: 86 })
  .map((chars) => chars.join(''));

describe('passwd and shadow parsers', () => {
  it('take any bytes without throwing and give them back exactly', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), (raw) => {
        const bytes = Buffer.from(raw);
        expect(rejoin(parsePasswd(bytes)).equals(bytes)).toBe(true);
        expect(rejoin(parseShadow(bytes)).equals(bytes)).toBe(true);
        JSON.stringify(listAccounts(parsePasswd(bytes), parseShadow(bytes), 19_000));
      }),
      RUNS,
    );
  });

  it('take near-valid files (colons, locks, numbers, CRs, odd bytes) the same way', () => {
    fc.assert(
      fc.property(fileOf(7), fileOf(9), fc.integer({ min: -1, max: 10 ** 9 }), (passwd, shadow, day) => {
        const p = parsePasswd(passwd);
        const s = parseShadow(shadow);
        expect(rejoin(p).equals(passwd)).toBe(true);
        expect(rejoin(s).equals(shadow)).toBe(true);
        for (const account of listAccounts(p, s, day)) {
          expect(Number.isSafeInteger(account.uid) && account.uid >= 0).toBe(true);
          if (account.lastChange) expect(Number.isSafeInteger(account.lastChange.days)).toBe(true);
        }
      }),
      RUNS,
    );
  });

  it('never show a hash in accounts or in an elided line', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(
          '$y$j9T$',
          '$6$',
          '$6$rounds=9999$',
          '$5$',
          '$1$',
          '$2b$12$',
          '!$y$j9T$',
          '!!$6$',
          '',
        ),
        digest,
        digest,
        fc.constantFrom('', '0', '19000'),
        (prefix, salt, hash, lastChange) => {
          const secret = `${prefix}${salt}$${hash}`;
          const line = `user:${secret}:${lastChange}:0:99999:7:::`;
          const shadow = parseShadow(Buffer.from(`${line}\n`));
          const passwd = parsePasswd(Buffer.from('user:x:1000:1000::/home/user:/bin/sh\n'));
          const shown = JSON.stringify(listAccounts(passwd, shadow, 19_000)) + elideShadowLine(line);
          expect(shown).not.toContain(salt);
          expect(shown).not.toContain(hash);
        },
      ),
      RUNS,
    );
  });
});

describe('os-release parser', () => {
  it('never throws, whatever the text', () => {
    fc.assert(
      fc.property(anyText(500), (text) => {
        parseOsRelease(text);
        parseSelinuxConfig(text);
        parseHostname(text);
      }),
      RUNS,
    );
  });

  it('reads back every value written with quoteEnvValue, among other assignments', () => {
    const name = fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,12}$/);
    fc.assert(
      fc.property(fc.dictionary(name, anyText(60), { maxKeys: 8 }), (fields) => {
        const text = Object.entries(fields)
          .map(([key, value]) => `${key}=${quoteEnvValue(value)}`)
          .join('\n');
        expect(parseEnvAssignments(text)).toEqual({ ...fields });
      }),
      RUNS,
    );
  });
});
