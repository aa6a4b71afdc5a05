/**
 * Path resolution inside a guest tree, the same cases in memory and on a real directory: links
 * are followed inside the guest only (absolute targets start at the guest's root, `..` stops
 * there), loops and oversized files end with a clear error, and nothing outside is ever read.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDirectoryTree } from '../src/recovery/directory-tree.js';
import {
  findTreePathIgnoringCase,
  listTreeDir,
  readTreeFile,
  resolveTreePath,
  TreeError,
  type TreeReader,
} from '../src/recovery/tree.js';
import { type MemoryTreeSpec, memoryTree } from './support/memory-tree.js';
import { writeTree } from './support/write-tree.js';

const scratch = mkdtempSync('/tmp/kpartx-tui-tree-');
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// A file outside the guest that links must never reach.
const outside = join(scratch, 'outside');
mkdirSync(outside);
writeFileSync(join(outside, 'secret'), 'host secret\n');

const spec: MemoryTreeSpec = {
  '/usr/lib/os-release': 'ID=debian\n',
  '/etc/os-release': { symlink: '../usr/lib/os-release' },
  '/etc/authselect/system-auth': 'auth sufficient pam_unix.so\n',
  '/etc/pam.d/system-auth': { symlink: '/etc/authselect/system-auth' },
  '/etc/host-secret': { symlink: join(outside, 'secret') },
  // The same absolute path exists inside the guest, with other content.
  [join(outside, 'secret')]: 'guest file at the same path\n',
  '/etc/host-only': { symlink: join(scratch, 'hostonly') },
  '/etc/climb': { symlink: '../../../../../../../../etc/hostname' },
  '/etc/hostname': 'guest\n',
  '/etc/loop-a': { symlink: 'loop-b' },
  '/etc/loop-b': { symlink: 'loop-a' },
  '/etc/dangling': { symlink: 'nowhere' },
  '/etc/passwd/inside': { directory: true },
  '/etc/shadow': 'root:*:19000:0:99999:7:::\n',
  '/etc/big': 'x'.repeat(5000),
  '/etc/fifo': { fifo: true },
  '/lib': { symlink: 'usr/lib' },
  '/WINDOWS/system32/Config/SAM': 'regf',
  '/etc/dots': { symlink: './././../etc/./hostname' },
};

const onDisk = join(scratch, 'root');
writeTree(onDisk, spec);

const trees: [string, TreeReader][] = [
  ['in memory', memoryTree(spec)],
  ['on a directory', openDirectoryTree(onDisk)],
];

describe.each(trees)('guest tree %s', (_name, tree) => {
  const text = (path: string) => readTreeFile(tree, path)?.toString('utf8') ?? null;

  it('follows a relative link, as /etc/os-release is on most systems', () => {
    expect(resolveTreePath(tree, '/etc/os-release')).toBe('/usr/lib/os-release');
    expect(text('/etc/os-release')).toBe('ID=debian\n');
  });

  it('reads an absolute link from the guest root, never from the host', () => {
    expect(text('/etc/pam.d/system-auth')).toBe('auth sufficient pam_unix.so\n');
    expect(text('/etc/host-secret')).toBe('guest file at the same path\n');
    // A path that exists only on the host leads nowhere inside the guest.
    writeFileSync(join(scratch, 'hostonly'), 'host only\n');
    expect(text('/etc/host-only')).toBeNull();
  });

  it('stops `..` at the guest root', () => {
    expect(resolveTreePath(tree, '/etc/climb')).toBe('/etc/hostname');
    expect(text('/../../etc/hostname')).toBe('guest\n');
    expect(text('/etc/dots')).toBe('guest\n');
  });

  it('follows a link in the middle of a path', () => {
    expect(resolveTreePath(tree, '/lib/os-release')).toBe('/usr/lib/os-release');
  });

  it('gives up on a link loop with ELOOP wording instead of spinning', () => {
    expect(() => resolveTreePath(tree, '/etc/loop-a')).toThrow(TreeError);
    expect(() => resolveTreePath(tree, '/etc/loop-a')).toThrow(/too many levels of symbolic links/);
  });

  it('finds nothing for dangling links, missing files, directories and non-files', () => {
    expect(text('/etc/dangling')).toBeNull();
    expect(text('/etc/missing')).toBeNull();
    expect(text('/etc/passwd')).toBeNull(); // a directory here
    expect(text('/etc/shadow/x')).toBeNull(); // a file used as a directory
    expect(text('/etc/fifo')).toBeNull(); // never opened, so never blocks
  });

  it('refuses a file larger than asked for, naming it', () => {
    expect(() => readTreeFile(tree, '/etc/big', 4096)).toThrow(/\/etc\/big: 5000 bytes, more than the 4096/);
    expect(readTreeFile(tree, '/etc/big', 5000)?.length).toBe(5000);
  });

  it('lists directories and matches names without case where asked', () => {
    expect(listTreeDir(tree, '/etc/pam.d')).toEqual(['system-auth']);
    expect(listTreeDir(tree, '/etc/shadow')).toEqual([]);
    expect(findTreePathIgnoringCase(tree, '/Windows/System32/config/SAM')).toBe(
      '/WINDOWS/system32/Config/SAM',
    );
    expect(findTreePathIgnoringCase(tree, '/Windows/System32/config/SYSTEM')).toBeNull();
  });
});

describe('mounted directory reader', () => {
  it('refuses a root that is not a directory, naming it', () => {
    expect(() => openDirectoryTree(join(onDisk, 'etc/shadow'))).toThrow(/etc\/shadow: not a directory/);
    expect(() => openDirectoryTree(join(scratch, 'nope'))).toThrow(/nope: cannot open the tree \(ENOENT\)/);
  });
});
