/**
 * Read-only on real device-mapper: dirty ext4, xfs and btrfs images (copied while mounted) mount
 * read-only through writable maps and the session without a byte of the image changing, and maps
 * over a read-only parent are read-only whatever the operand (image, /dev/loopN, a dm device).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDmBackend } from '../../src/engine/backends/dm.js';
import { createSession } from '../../src/engine/session.js';
import { createMachine } from '../../src/kernel/machine.js';
import { runCli } from '../cli-helpers.js';
import { attachParent, plan } from '../loop-helpers.js';
import {
  type DirtyType,
  helloFor,
  makeDirtyImage,
  plainReadOnlyMountWrites,
  sha256File,
} from '../support/dirty-fs.js';
import { dmAttrs, guestState, inGuest, resetGuest, sfdiskImage, sh, skipReason, workDir } from './guest.js';

const TWO_PARTS = 'label: dos\n2048,16384\n18432,16384\n';

const knows = (type: string): boolean =>
  fs
    .readFileSync('/proc/filesystems', 'utf8')
    .split('\n')
    .some((line) => line.endsWith(`\t${type}`));

describe.skipIf(!inGuest)(`read-only on real device-mapper (${skipReason})`, () => {
  const kernel = inGuest ? createMachine() : undefined!;
  const mountRoot = path.join(workDir, 'ro-mnt');

  /**
   * Unmount whatever a failed test left under the work directory (through a session, which makes a
   * map it made read-only writable again), then start from nothing.
   */
  function reset(): void {
    for (const entry of kernel.mounts.list().reverse()) {
      if (entry.target.startsWith(`${workDir}/`)) createSession(kernel, { mountRoot }).unmount(entry.target);
    }
    resetGuest();
  }
  beforeAll(() => {
    fs.mkdirSync(mountRoot, { recursive: true });
    reset();
  });
  afterEach(() => reset());
  afterAll(() => reset());

  for (const type of ['ext4', 'xfs', 'btrfs'] as DirtyType[]) {
    it(`a dirty ${type} (copied while mounted) mounts read-only on a writable map: image unchanged`, async () => {
      // Every type must be tested here: a missing module is a failure, not a skip.
      expect(knows(type)).toBe(true);
      const dirty = makeDirtyImage(workDir, `dirty-${type}`, type);
      // The image really needs a replay: an ordinary read-only mount on a writable device writes.
      expect(plainReadOnlyMountWrites(dirty)).toBe(true);
      const before = sha256File(dirty.image);

      // As the app does it: the image on a writable loop, writable maps, then a read-only mount.
      const { parent } = attachParent(kernel, dirty.image);
      const maps = plan(dirty.image, parent);
      const backend = createDmBackend(kernel);
      expect(await backend.add({ parent, maps, readOnly: false, sync: true }, () => {})).toEqual({
        failures: 0,
      });
      const device = `/dev/mapper/${maps[0]!.dmName}`;
      expect(dmAttrs()).toEqual([`${maps[0]!.dmName} -w`]);
      expect(kernel.blockDevice(device).readOnly).toBe(false);

      const session = createSession(kernel, { mountRoot });
      const mounted = session.mount({ name: maps[0]!.name, device, readOnly: true });
      expect(mounted.fstype).toBe(type);
      // BLKROGET on the map under the mount is 1.
      expect(sh('blockdev', '--getro', device).trim()).toBe('1');
      const entry = kernel.mounts.list().find((m) => m.target === mounted.mountpoint)!;
      expect(entry.options.split(',')).toEqual(expect.arrayContaining(['ro', 'nosuid', 'nodev', 'noexec']));
      expect(fs.readFileSync(path.join(mounted.mountpoint, 'hello.txt'), 'utf8')).toBe(helloFor(type));
      session.unmount(mounted.mountpoint);
      // Given back as it was: writable, its table untouched.
      expect(sh('blockdev', '--getro', device).trim()).toBe('0');
      expect(dmAttrs()).toEqual([`${maps[0]!.dmName} -w`]);

      expect(await backend.remove({ parent, force: false, sync: true }, () => {})).toEqual({ failures: 0 });
      kernel.loop.detach(parent.path);
      expect(guestState()).toEqual({ tables: [], attrs: [], uuids: [], nodes: [], loops: [] });
      expect(sha256File(dirty.image)).toBe(before);
      fs.rmSync(dirty.image);
    }, 240_000);
  }

  /**
   * `kpartx -av OPERAND` makes read-only maps: BLKROGET 1 and dm's read-only flag. The CLI's main()
   * runs in this process: a Node start per call costs seconds on the emulated CPU.
   */
  async function expectReadOnlyMaps(operand: string, names: string[]): Promise<void> {
    const add = await runCli(['-av', operand], { realBackends: true });
    expect({ status: add.status, stderr: add.stderr }).toEqual({ status: 0, stderr: '' });
    for (const name of names) {
      expect(sh('blockdev', '--getro', `/dev/mapper/${name}`).trim()).toBe('1');
    }
    expect(dmAttrs().filter((attr) => names.includes(attr.split(' ')[0]!))).toEqual(
      names.map((name) => `${name} -r`),
    );
    expect((await runCli(['-d', operand], { realBackends: true })).status).toBe(0);
  }

  it('losetup -r, then kpartx -av /dev/loopN: read-only maps', async () => {
    const loop = sh('losetup', '--show', '-f', '-r', sfdiskImage('ro-loop', 32, TWO_PARTS)).trim();
    const name = path.basename(loop);
    await expectReadOnlyMaps(loop, [`${name}p1`, `${name}p2`]);
  });

  it('blockdev --setro on a writable loop, then kpartx -av /dev/loopN: read-only maps', async () => {
    const loop = sh('losetup', '--show', '-f', sfdiskImage('setro-loop', 32, TWO_PARTS)).trim();
    sh('blockdev', '--setro', loop);
    try {
      const name = path.basename(loop);
      await expectReadOnlyMaps(loop, [`${name}p1`, `${name}p2`]);
    } finally {
      sh('blockdev', '--setrw', loop);
    }
  });

  it('losetup -r, then kpartx -av IMAGE (the loop is found): read-only maps', async () => {
    const image = sfdiskImage('ro-image', 32, TWO_PARTS);
    const loop = sh('losetup', '--show', '-f', '-r', image).trim();
    const name = path.basename(loop);
    await expectReadOnlyMaps(image, [`${name}p1`, `${name}p2`]);
  });

  it('a read-only dm device as the operand: read-only maps', async () => {
    const loop = sh('losetup', '--show', '-f', sfdiskImage('ro-dm', 32, TWO_PARTS)).trim();
    const sectors = sh('blockdev', '--getsz', loop).trim();
    const devno = fs.readFileSync(`/sys/block/${path.basename(loop)}/dev`, 'utf8').trim();
    sh(
      'dmsetup',
      'create',
      '--readonly',
      '--noudevsync',
      'rodisk',
      '--table',
      `0 ${sectors} linear ${devno} 0`,
    );
    sh('dmsetup', 'mknodes', 'rodisk');
    await expectReadOnlyMaps('/dev/mapper/rodisk', ['rodisk1', 'rodisk2']);
  });
});
