/**
 * The system on an XFS, named without mounting: a Rocky Linux root (os-release the usual relative
 * link, hostname, SELinux enforcing, shadow), a data XFS that is no root, a damaged one; and the
 * built `kpartx-tui --json` on a GPT disk whose second partition is that XFS, as a script runs it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonDocument } from '../src/cli/json.js';
import { findFilesystemSystem } from '../src/engine/stack/index.js';
import { readXfsRoot } from '../src/probe/system/xfs-root.js';
import { REPO } from './support/images.js';
import { memoryDisk } from './support/memory-disk.js';
import {
  hasSgdisk,
  hasXfsprogs,
  makeXfsGptDisk,
  makeXfsImage,
  ROCKY_XFS_SMALL,
} from './support/xfs-images.js';

const xfs = { type: 'xfs', usage: 'filesystem', mountable: true } as const;
const ROCKY = ROCKY_XFS_SMALL;

describe.skipIf(!hasXfsprogs)('a Linux root on XFS, read without mounting', () => {
  let dir: string;
  let rocky: string;
  beforeAll(() => {
    dir = mkdtempSync('/tmp/kpt-xfs-root-');
    rocky = join(dir, 'rocky.img');
    makeXfsImage(dir, rocky, { sizeMiB: 20, steps: ROCKY });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('names a Rocky Linux root through its os-release link, with hostname, SELinux and shadow', () => {
    const bytes = new Uint8Array(readFileSync(rocky));
    const read = readXfsRoot(memoryDisk(bytes));
    expect(read.ok && read.system).toMatchObject({
      label: 'Rocky Linux 9.4 root',
      osReleasePath: '/etc/os-release',
      hostname: 'rocky-vm',
      selinux: { mode: 'enforcing', policy: 'targeted' },
      warnings: [],
    });
    expect(findFilesystemSystem(memoryDisk(bytes), xfs)).toEqual({
      system: {
        kind: 'linux',
        label: 'Rocky Linux 9.4 root',
        os: 'Rocky Linux 9.4 (Blue Onyx)',
        id: 'rocky',
        version: '9.4',
        hostname: 'rocky-vm',
        selinux: 'enforcing',
        selinuxPolicy: 'targeted',
        osReleasePath: '/etc/os-release',
        shadow: true,
        warnings: [],
      },
      systemNote: null,
    });
  });

  it('a data XFS is no root; a damaged one says why; btrfs is still named only once mounted', () => {
    const data = join(dir, 'data.img');
    makeXfsImage(dir, data, {
      sizeMiB: 20,
      steps: [{ dir: 'alice' }, { file: 'alice/notes', data: 'hi\n' }],
    });
    expect(findFilesystemSystem(memoryDisk(new Uint8Array(readFileSync(data))), xfs)).toEqual({
      system: null,
      systemNote: null,
    });
    const damaged = new Uint8Array(readFileSync(rocky));
    damaged[124] = 40; // sb_agblklog
    expect(findFilesystemSystem(memoryDisk(damaged), xfs).systemNote).toBe(
      'xfs could not be read: superblock: 5120 blocks per allocation group (log 40)',
    );
    expect(findFilesystemSystem(memoryDisk(new Uint8Array(0)), { ...xfs, type: 'btrfs' }).systemNote).toMatch(
      /^btrfs is not read without mounting/,
    );
  });
});

const built =
  existsSync(join(REPO, 'dist', 'cli', 'json.js')) || existsSync(join(REPO, 'dist', 'tui', 'main.cjs'));
describe.skipIf(!hasXfsprogs || !hasSgdisk || !built)(
  'the built kpartx-tui --json on a GPT disk with an XFS root',
  () => {
    let dir: string;
    let raw: string;
    beforeAll(() => {
      dir = mkdtempSync('/tmp/kpt-xfs-gpt-');
      raw = makeXfsGptDisk(dir, ROCKY);
    }, 60_000);
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('carries the Rocky Linux system of partition 2, never a hash, and attaches nothing', () => {
      const out = execFileSync('node', [join(REPO, 'bin', 'kpartx-tui.js'), '--json', raw], {
        encoding: 'utf8',
      });
      const [source] = (JSON.parse(out) as JsonDocument).sources;
      const root = source!.partitions[1]!;
      expect(root.content?.type).toBe('xfs');
      expect(root.system).toMatchObject({
        label: 'Rocky Linux 9.4 root',
        hostname: 'rocky-vm',
        selinux: 'enforcing',
        shadow: true,
      });
      expect(root.systemNote).toBeNull();
      expect(out).not.toContain('$6$');
      expect(source!.image?.loopState).not.toBe('attached');
    });
  },
);
