/**
 * Finding the system in a tree: os-release read as systemd reads it, the short label, hostname and
 * SELinux mode, for current distributions' layouts (in memory here; on real ext4 in
 * recovery-real.test.ts), and a Windows system named by its SAM hive.
 */
import { describe, expect, it } from 'vitest';
import { osReleaseLabel, parseEnvAssignments, parseOsRelease } from '../src/probe/system/os-release.js';
import {
  findSystem,
  parseHostname,
  parseSelinuxConfig,
  selinuxEnabled,
  WINDOWS_NOTICE,
} from '../src/recovery/find-system.js';
import { alpine319, debian12, fedora40, rocky94, ubuntu2204 } from './support/guest-trees.js';
import { memoryTree } from './support/memory-tree.js';

/** Which crypt library the guest has does not matter here. */
const libcrypt = Buffer.from('\x7fELF libcrypt stand-in');

describe('os-release syntax', () => {
  it('reads double, single and no quotes', () => {
    expect(parseEnvAssignments('A="Debian GNU/Linux"\nB=\'it is "quoted"\'\nC=plain\n')).toEqual({
      A: 'Debian GNU/Linux',
      B: 'it is "quoted"',
      C: 'plain',
    });
  });

  it('unescapes only $ ` " and \\ inside double quotes, keeping other backslashes', () => {
    expect(parseEnvAssignments('A="a\\"b\\\\c\\`d\\$e\\nf"').A).toBe('a"b\\c`d$e\\nf');
    expect(parseEnvAssignments("A='no \\escapes $here'").A).toBe('no \\escapes $here');
    expect(parseEnvAssignments('A=foo\\ bar\\$x').A).toBe('foo bar$x');
  });

  it('drops unquoted trailing blanks, keeps quoted ones, and joins quoted parts', () => {
    expect(parseEnvAssignments('A=foo   \nB="foo  "\nC="a"\'b\'c\n')).toEqual({
      A: 'foo',
      B: 'foo  ',
      C: 'abc',
    });
  });

  it('continues a line after a backslash-newline, in and out of quotes', () => {
    expect(parseEnvAssignments('A=foo\\\nbar\nB="x\\\ny"\n')).toEqual({ A: 'foobar', B: 'xy' });
  });

  it('skips comments, blank lines and lines that are not assignments; the last assignment wins', () => {
    const text =
      '# NAME=comment\n; also=comment\n\n   \nNAME=first\nnot an assignment\n1BAD=x\nA B=c\n=x\nNAME=second';
    expect(parseEnvAssignments(text)).toEqual({ NAME: 'second' });
  });

  it('tolerates CRLF, blanks around =, and an unterminated quote at the end', () => {
    expect(parseEnvAssignments('NAME="X"\r\nID = y\r\nV="open')).toEqual({ NAME: 'X', ID: 'y', V: 'open' });
  });

  it('picks NAME, VERSION_ID, PRETTY_NAME, ID and ID_LIKE', () => {
    const release = parseOsRelease(
      'NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.4"\n',
    );
    expect(release).toMatchObject({
      name: 'Rocky Linux',
      id: 'rocky',
      idLike: ['rhel', 'centos', 'fedora'],
      versionId: '9.4',
      prettyName: null,
    });
  });

  it('labels a root with name and version, falling back as the spec says', () => {
    expect(osReleaseLabel(parseOsRelease('NAME="Debian GNU/Linux"\nVERSION_ID="12"\n'))).toBe(
      'Debian GNU/Linux 12 root',
    );
    expect(osReleaseLabel(parseOsRelease('NAME="Arch Linux"\nPRETTY_NAME="Arch Linux"\nID=arch\n'))).toBe(
      'Arch Linux root',
    );
    expect(osReleaseLabel(parseOsRelease('PRETTY_NAME="Debian GNU/Linux trixie/sid"\n'))).toBe(
      'Debian GNU/Linux trixie/sid root',
    );
    expect(osReleaseLabel(parseOsRelease(''))).toBe('Linux root');
  });
});

describe('hostname and SELinux config', () => {
  it('takes the first hostname line that is not a comment', () => {
    expect(parseHostname('# set by cloud-init\n\n  web01  \nother\n')).toBe('web01');
    expect(parseHostname('\n# nothing\n')).toBeNull();
  });

  it('reads the SELinux mode and policy, case-insensitively for the mode', () => {
    expect(parseSelinuxConfig('SELINUX=Enforcing\nSELINUXTYPE=targeted\n')).toEqual({
      mode: 'enforcing',
      policy: 'targeted',
    });
    expect(parseSelinuxConfig('SELINUX=bogus\n')).toEqual({ mode: null, policy: null });
    expect(selinuxEnabled({ mode: 'permissive', policy: null })).toBe(true);
    expect(selinuxEnabled({ mode: 'disabled', policy: 'targeted' })).toBe(false);
    expect(selinuxEnabled(null)).toBe(false);
  });
});

describe('findSystem', () => {
  const cases = [
    [debian12(libcrypt), 'bookworm-vm', null],
    [ubuntu2204(), 'ubuntu', null],
    [rocky94(libcrypt), 'rocky9.example.com', { mode: 'enforcing', policy: 'targeted' }],
    [fedora40(), 'fedora', { mode: 'permissive', policy: 'targeted' }],
    [alpine319(), 'localhost', null],
  ] as const;

  it.each(cases)('names $name with its hostname and SELinux mode', (guest, hostname, selinux) => {
    const system = findSystem(memoryTree(guest.files));
    expect(system).toMatchObject({
      kind: 'linux',
      label: guest.expectedLabel,
      hostname,
      selinux,
      warnings: [],
    });
  });

  it('reads /usr/lib/os-release when /etc/os-release is missing', () => {
    const system = findSystem(memoryTree({ '/usr/lib/os-release': 'NAME=Gentoo\nID=gentoo\n' }));
    expect(system).toMatchObject({
      kind: 'linux',
      label: 'Gentoo root',
      osReleasePath: '/usr/lib/os-release',
    });
  });

  it('falls back to /usr/lib/os-release past an unreadable /etc/os-release, and says why', () => {
    const system = findSystem(
      memoryTree({ '/etc/os-release': 'X'.repeat(2 << 20), '/usr/lib/os-release': 'NAME=Gentoo\n' }),
    );
    expect(system).toMatchObject({ label: 'Gentoo root', osReleasePath: '/usr/lib/os-release' });
    expect(system?.kind === 'linux' && system.warnings).toEqual([
      '/etc/os-release: 2097152 bytes, more than the 1048576 this reads',
    ]);
  });

  it('recognises a root without os-release by its account files and shell', () => {
    const tree = memoryTree({
      '/etc/passwd': 'root:x:0:0::/root:/bin/sh\n',
      '/etc/shadow': 'root:*:1::::::\n',
      '/bin/sh': 'x',
    });
    expect(findSystem(tree)).toMatchObject({ kind: 'linux', label: 'Linux root', osRelease: null });
    expect(findSystem(memoryTree({ '/etc/passwd': 'root:x:0:0::/root:/bin/sh\n' }))).toBeNull();
  });

  it('finds nothing in a data filesystem', () => {
    expect(findSystem(memoryTree({ '/photos/a.jpg': 'jpg', '/etc': { directory: true } }))).toBeNull();
  });

  it('names a Windows system by its SAM hive, whatever the case of its path, and says what can do it', () => {
    const tree = memoryTree({
      '/WINDOWS/system32/config/SAM': 'regf',
      '/WINDOWS/system32/config/SYSTEM': 'regf',
      '/Program Files/x': 'x',
    });
    const system = findSystem(tree);
    expect(system).toEqual({
      kind: 'windows',
      label: 'Windows system',
      samPath: '/WINDOWS/system32/config/SAM',
      notice: WINDOWS_NOTICE,
    });
    expect(WINDOWS_NOTICE).toMatch(/chntpw/);
    expect(WINDOWS_NOTICE).toMatch(/unmaintained/);
    expect(WINDOWS_NOTICE).toMatch(/offline/);
  });

  it('does not take a Windows tree without the hive, or with a directory named SAM', () => {
    expect(findSystem(memoryTree({ '/Windows/System32/config/SYSTEM': 'regf' }))).toBeNull();
    expect(findSystem(memoryTree({ '/Windows/System32/config/SAM': { directory: true } }))).toBeNull();
  });

  it('survives link loops where it looks', () => {
    const tree = memoryTree({
      '/Windows': { symlink: 'Windows' },
      '/etc/os-release': { symlink: 'os-release' },
    });
    expect(findSystem(tree)).toBeNull();
  });
});
