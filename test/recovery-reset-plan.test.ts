/**
 * Planning a reset: only the account's line changes, and in it only the fields asked for; every
 * other byte of shadow stays; the report shows the change with hashes elided; refusals name the
 * problem.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RecoveryError } from '../src/recovery/errors.js';
import { planPasswordReset } from '../src/recovery/reset-plan.js';
import { Secret } from '../src/recovery/secret.js';
import { ALL_HASHES, debian12, rocky94, ubuntu2204 } from './support/guest-trees.js';

const NEW = '$y$j9T$NEWSALTNEWSALTNE$NEWDIGESTNEWDIGESTNEWDIGESTNEWDIGESTNEWDIGE';
const newHash = new Secret(NEW);
const TODAY = 20_000; // 2024-10-04
const filesOf = (guest: { files: Record<string, unknown> }) => ({
  shadow: Buffer.from(guest.files['/etc/shadow'] as string),
  passwd: Buffer.from(guest.files['/etc/passwd'] as string),
});

/** Lines of a and b that differ, by index. */
function differingLines(a: Buffer, b: Buffer): number[] {
  const x = a.toString('latin1').split('\n');
  const y = b.toString('latin1').split('\n');
  expect(y.length).toBe(x.length);
  return x.flatMap((line, i) => (line === y[i] ? [] : [i]));
}

describe('planPasswordReset', () => {
  const debian = filesOf(debian12(Buffer.alloc(0)));

  it('replaces root’s hash and nothing else', () => {
    const plan = planPasswordReset(debian.shadow, 'root', newHash, { today: TODAY }, debian.passwd);
    const after = plan.newShadow.reveal();
    expect(differingLines(debian.shadow, after)).toEqual([0]);
    expect(after.toString().split('\n')[0]).toBe(`root:${NEW}:19700:0:99999:7:::`);
    expect(plan.oldShadow.reveal().equals(debian.shadow)).toBe(true);
    expect(plan.report).toEqual({
      user: 'root',
      line: 1,
      before: 'root:$y$…(elided):19700:0:99999:7:::',
      after: 'root:$y$…(elided):19700:0:99999:7:::',
      changes: [{ field: 'password', before: '$y$…(elided)', after: '$y$…(elided)' }],
      stillLocked: false,
      warnings: [],
    });
  });

  it('clears a forced change and an expiry date only when asked, and warns otherwise', () => {
    const kept = planPasswordReset(debian.shadow, 'temp', newHash, { today: TODAY });
    expect(kept.newShadow.reveal().toString().split('\n')[12]).toBe(`temp:${NEW}:0:0:99999:7::19800:`);
    expect(kept.report.warnings).toEqual([
      'temp must still choose a new password at the next login (last change is 0)',
      "temp's account expired on 19800 (2024-03-18); it cannot log in until that is cleared",
    ]);
    const cleared = planPasswordReset(debian.shadow, 'temp', newHash, {
      today: TODAY,
      clearForcedChange: true,
      clearAccountExpiry: true,
    });
    expect(differingLines(debian.shadow, cleared.newShadow.reveal())).toEqual([12]);
    expect(cleared.newShadow.reveal().toString().split('\n')[12]).toBe(`temp:${NEW}:20000:0:99999:7:::`);
    expect(cleared.report.changes).toEqual([
      { field: 'password', before: '$y$…(elided)', after: '$y$…(elided)' },
      { field: 'lastChange', before: '0 (1970-01-01)', after: '20000 (2024-10-04)' },
      { field: 'accountExpiry', before: '19800 (2024-03-18)', after: '(none)' },
    ]);
    expect(cleared.report.warnings).toEqual([]);
  });

  it('keeps a `!` lock unless asked to unlock', () => {
    const ubuntu = filesOf(ubuntu2204());
    const locked = planPasswordReset(ubuntu.shadow, 'ubuntu', newHash, { today: TODAY }, ubuntu.passwd);
    expect(locked.report).toMatchObject({
      before: 'ubuntu:!$y$…(elided):19800:0:99999:7:::',
      after: 'ubuntu:!$y$…(elided):19800:0:99999:7:::',
      stillLocked: true,
      warnings: ['ubuntu stays locked ("!" kept): the new password works once it is unlocked'],
    });
    const unlocked = planPasswordReset(ubuntu.shadow, 'ubuntu', newHash, { today: TODAY, unlock: true });
    expect(unlocked.report).toMatchObject({
      after: 'ubuntu:$y$…(elided):19800:0:99999:7:::',
      stillLocked: false,
    });
    expect(unlocked.report.changes).toEqual([
      { field: 'password', before: '!$y$…(elided)', after: '$y$…(elided)' },
    ]);
    const twice = planPasswordReset(Buffer.from('r:!!:1:0:99999:7:::\n'), 'r', newHash, {
      today: TODAY,
      unlock: true,
    });
    expect(twice.newShadow.reveal().toString()).toBe(`r:${NEW}:1:0:99999:7:::\n`);
  });

  it('renews a password past its maximum age on request', () => {
    const rocky = filesOf(rocky94(Buffer.alloc(0)));
    const aged = planPasswordReset(rocky.shadow, 'admin', newHash, { today: TODAY });
    expect(aged.report.warnings).toEqual([
      "admin's password is past its maximum age; the next login must change it",
    ]);
    const renewed = planPasswordReset(rocky.shadow, 'admin', newHash, {
      today: TODAY,
      clearForcedChange: true,
    });
    expect(renewed.newShadow.reveal().toString().split('\n')[5]).toBe(`admin:${NEW}:20000:0:90:7:14::`);
  });

  it('sets a password on a `*` or empty account, and on the old 5-field form', () => {
    const plan = planPasswordReset(debian.shadow, 'daemon', newHash, { today: TODAY });
    expect(plan.report.changes).toEqual([{ field: 'password', before: '*', after: '$y$…(elided)' }]);
    const empty = planPasswordReset(debian.shadow, 'guest', newHash, { today: TODAY });
    expect(empty.report.changes[0]?.before).toBe('');
    const old = planPasswordReset(Buffer.from('u:*:0:0:99999'), 'u', newHash, {
      today: TODAY,
      clearForcedChange: true,
    });
    expect(old.newShadow.reveal().toString()).toBe(`u:${NEW}:20000:0:99999`);
  });

  it('keeps CRLF line ends, comments, odd bytes and a missing last newline', () => {
    const raw = Buffer.concat([
      Buffer.from('# managed by hand\r\nroot:*:1:0:99999:7:::\r\n'),
      Buffer.from([0xff, 0xfe, 0x3a, 0x0a]),
      Buffer.from('bob:$6$x$y:1:0:99999:7:::'),
    ]);
    const plan = planPasswordReset(raw, 'bob', newHash, { today: TODAY });
    const expected = Buffer.concat([
      raw.subarray(0, raw.length - 'bob:$6$x$y:1:0:99999:7:::'.length),
      Buffer.from(`bob:${NEW}:1:0:99999:7:::`),
    ]);
    expect(plan.newShadow.reveal().equals(expected)).toBe(true);
    const crlf = planPasswordReset(raw, 'root', newHash, { today: TODAY });
    expect(crlf.newShadow.reveal().toString('latin1').split('\n')[1]).toBe(`root:${NEW}:1:0:99999:7:::\r`);
  });

  it('refuses, naming the problem, and never on a guess', () => {
    const refuse = (shadow: string, user: string, passwd: string | null = null, hash = newHash) => {
      try {
        planPasswordReset(
          Buffer.from(shadow),
          user,
          hash,
          { today: TODAY },
          passwd === null ? null : Buffer.from(passwd),
        );
      } catch (error) {
        expect(error).toBeInstanceOf(RecoveryError);
        return (error as Error).message;
      }
      throw new Error('did not refuse');
    };
    expect(refuse('root:*:1::::::\n', 'alice')).toBe('/etc/shadow: no line for alice');
    expect(refuse('root:*:1::::::\nroot:!:2::::::\n', 'root')).toBe(
      '/etc/shadow: root has 2 lines (1, 2); fix it by hand first',
    );
    expect(refuse('root:*:notanumber::::::\n', 'root')).toBe(
      "/etc/shadow line 1: root's line is malformed; not changed",
    );
    expect(refuse('root:*:1::::::\n', 'root', 'root:$1$inpasswd$x:0:0::/root:/bin/sh\n')).toMatch(
      /password field is not "x", so the system would not read shadow for it/,
    );
    expect(refuse('root:*:1::::::\n', 'root', 'other:x:0:0::/:/bin/sh\n')).toBe(
      '/etc/passwd: no account named root',
    );
    expect(refuse('root:*:1::::::\n', 'root', null, new Secret('$6$a:b$c'))).toMatch(
      /not a crypt hash that fits in a shadow field/,
    );
  });

  it('never shows a hash, old or new', () => {
    const json = JSON.stringify(planPasswordReset(debian.shadow, 'root', newHash, { today: TODAY }));
    for (const hash of [...ALL_HASHES, NEW]) {
      for (const part of hash.split('$').filter((p) => p.length >= 8)) expect(json).not.toContain(part);
    }
  });

  it('changes one line of any shadow file, whatever the other lines hold', () => {
    const other = fc
      .array(fc.constantFrom(...'abr:!*$019\r\t #'), { maxLength: 30 })
      .map((c) => c.join(''))
      .filter((line) => !line.startsWith('target:'));
    fc.assert(
      fc.property(fc.array(other, { maxLength: 15 }), fc.array(other, { maxLength: 15 }), (before, after) => {
        const shadow = Buffer.from(
          [...before, 'target:!$6$s$h:0:0:99999:7:::', ...after].join('\n'),
          'latin1',
        );
        const plan = planPasswordReset(shadow, 'target', newHash, {
          today: TODAY,
          unlock: true,
          clearForcedChange: true,
        });
        expect(differingLines(shadow, plan.newShadow.reveal())).toEqual([before.length]);
      }),
      { numRuns: 300 },
    );
  });
});
