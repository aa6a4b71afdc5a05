/**
 * `kpartx-tui mount`/`umount` for real, with loop devices on this host (the loop backend: no
 * device-mapper here): an ext4 partition mounted read-only on a read-only device, --rw writing
 * into the image, a loop that existed before surviving the umount, and failures and SIGTERM part
 * way leaving nothing behind.
 */
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BackendKind, MapBackend } from '../src/engine/backend.js';
import { loadBackend } from '../src/engine/backends/select.js';
import type { Machine } from '../src/engine/machine.js';
import { InterruptedError } from '../src/engine/signals.js';
import { mountableFilesystems } from '../src/kernel/filesystems.js';
import { createMachine } from '../src/kernel/machine.js';
import { type MountFaceDeps, mountMain, mountSource, umountMain } from '../src/mount/main.js';
import {
  buildImage,
  canUseLoop,
  cleanupLoops,
  helloText,
  loopSkipReason,
  losetupLines,
} from './loop-helpers.js';
import { erofsImage } from './support/erofs.js';

describe.skipIf(!canUseLoop)(
  `kpartx-tui mount/umount with loop devices (${canUseLoop ? 'real' : loopSkipReason})`,
  () => {
    let dir: string;
    let image: string;
    let kernel: Machine;
    let savedRunDir: string | undefined;

    const deps = (makeBackend: MountFaceDeps['makeBackend'] = loadBackend) => {
      const out = { stdout: '', stderr: '' };
      const d: MountFaceDeps = {
        machine: kernel,
        makeBackend,
        stdout: (text) => {
          out.stdout += text;
        },
        stderr: (text) => {
          out.stderr += text;
        },
      };
      return { d, out };
    };

    /** Nothing of the image is left: no loop over it, no mount under the tmp dir, no record. */
    function expectNothingLeft(): void {
      expect(losetupLines(dir)).toEqual([]);
      expect(kernel.mounts.list().filter((m) => m.target.startsWith(dir))).toEqual([]);
      const records = join(dir, 'run', 'mounts');
      expect(existsSync(records) ? readdirSync(records) : []).toEqual([]);
      const mnt = join(dir, 'run', 'mnt');
      expect(existsSync(mnt) ? readdirSync(mnt) : []).toEqual([]);
    }

    beforeAll(() => {
      dir = mkdtempSync('/tmp/kpt-mount-');
      savedRunDir = process.env.KPARTX_TUI_RUN_DIR;
      process.env.KPARTX_TUI_RUN_DIR = join(dir, 'run');
      kernel = createMachine();
      image = buildImage(dir, 'disk.img', 'dos', [
        { line: '2048,16384,83', ext4: { number: 1, start: 2048, sizeKiB: 8192 } },
        { line: '18432,16384,83' },
      ]);
    });

    afterEach(() => {
      cleanupLoops(kernel, dir);
    });

    afterAll(() => {
      cleanupLoops(kernel, dir);
      if (savedRunDir === undefined) delete process.env.KPARTX_TUI_RUN_DIR;
      else process.env.KPARTX_TUI_RUN_DIR = savedRunDir;
      rmSync(dir, { recursive: true, force: true });
    });

    it('mounts :1 read-only on a read-only device, and umount takes everything back', async () => {
      const { d, out } = deps();
      expect(await mountMain([`${image}:1`, '--json'], d)).toBe(0);
      const result = JSON.parse(out.stdout);
      expect(result).toMatchObject({ partition: 1, fstype: 'ext4', readOnly: true, backend: 'loop' });
      expect(result.mountpoint).toBe(join(dir, 'run', 'mnt', result.maps[0]));
      expect(readFileSync(join(result.mountpoint, 'hello.txt'), 'utf8')).toBe(helloText('disk.img', 1));
      expect(kernel.blockDevice(result.device).readOnly).toBe(true);
      const entry = kernel.mounts.list().find((m) => m.target === result.mountpoint)!;
      expect(entry.options.split(',')).toEqual(expect.arrayContaining(['ro', 'nosuid', 'nodev', 'noexec']));
      // The image's loop, and the partition's loop over it (the loop backend's map).
      expect(
        kernel.loop
          .list()
          .filter((l) => l.backingFile === image)
          .map((l) => l.path),
      ).toEqual([result.loop]);
      expect(kernel.loop.list().filter((l) => l.backingFile === result.loop)).toHaveLength(1);
      const umount = deps();
      expect(await umountMain([result.mountpoint, '--json'], umount.d)).toBe(0);
      expect(JSON.parse(umount.out.stdout)).toMatchObject({ maps: result.maps, loop: result.loop });
      expectNothingLeft();
    });

    it('without :N mounts the only mountable partition and prints its mountpoint', async () => {
      const { d, out } = deps();
      expect(await mountMain([image], d)).toBe(0);
      const mountpoint = out.stdout.trim();
      expect(readFileSync(join(mountpoint, 'hello.txt'), 'utf8')).toBe(helloText('disk.img', 1));
      expect(await umountMain([image], deps().d)).toBe(0);
      expectNothingLeft();
    });

    it('--rw writes into the image, kept after umount', async () => {
      const target = join(dir, 'rw-target');
      const { d, out } = deps();
      expect(await mountMain([`${image}:1`, target, '--rw'], d)).toBe(0);
      expect(out.stdout).toBe(`${target}\n`);
      writeFileSync(join(target, 'written.txt'), 'written with --rw\n');
      expect(await umountMain([target], deps().d)).toBe(0);
      expectNothingLeft();
      // Read back from the image itself, without mounting it.
      const text = execFileSync('debugfs', ['-R', 'cat /written.txt', `${image}?offset=${2048 * 512}`], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      expect(text).toBe('written with --rw\n');
      rmSync(target, { recursive: true, force: true });
    });

    it('a map made before by kpartx -a stays, writable again, after umount', async () => {
      const add = execFileSync(
        process.execPath,
        [join(import.meta.dirname, '../bin/kpartx.js'), '-av', image],
        {
          encoding: 'utf8',
        },
      );
      expect(add).toMatch(/^add map /);
      const { d, out } = deps();
      expect(await mountMain([`${image}:1`, '--json'], d)).toBe(0);
      const result = JSON.parse(out.stdout);
      expect(result.maps).toEqual([]);
      expect(kernel.blockDevice(result.device).readOnly).toBe(true);
      expect(await umountMain([result.mountpoint], deps().d)).toBe(0);
      expect(kernel.blockDevice(result.device).readOnly).toBe(false);
      execFileSync(process.execPath, [join(import.meta.dirname, '../bin/kpartx.js'), '-d', image]);
      expectNothingLeft();
    });

    it('a loop that existed before the mount survives the umount', async () => {
      const before = kernel.loop.attach(image, { readOnly: false });
      const { d, out } = deps();
      expect(await mountMain([`${image}:1`, '--json'], d)).toBe(0);
      const result = JSON.parse(out.stdout);
      expect(result.loop).toBeNull();
      expect(await umountMain([image], deps().d)).toBe(0);
      expect(
        kernel.loop
          .list()
          .filter((l) => l.backingFile === image)
          .map((l) => l.path),
      ).toEqual([before.path]);
      expect(kernel.mounts.list().filter((m) => m.target.startsWith(dir))).toEqual([]);
      kernel.loop.detach(before.path);
      expectNothingLeft();
    });

    it('a failure part-way (partition 2 holds no filesystem) leaves nothing and says so in one line', async () => {
      const { d, out } = deps();
      expect(await mountMain([`${image}:2`], d)).toBe(1);
      expect(out.stderr.trim().split('\n')).toHaveLength(1);
      expect(out.stderr).toMatch(new RegExp(`^kpartx-tui mount: ${image}:2: .*no filesystem recognised`));
      expectNothingLeft();
      const json = deps();
      expect(await mountMain([`${image}:7`, '--json'], json.d)).toBe(1);
      expect(JSON.parse(json.out.stdout)).toEqual({
        error: `mount: ${image}: no partition 7; partitions: 1, 2`,
      });
      expectNothingLeft();
    });

    it('SIGTERM during the mount takes it back: nothing is left, exit 143', async () => {
      // The signal arrives once the map exists, before the filesystem is mounted.
      const signalling = async (kind: BackendKind, k: Machine): Promise<MapBackend> => {
        const backend = await loadBackend(kind, k);
        return {
          ...backend,
          add: async (request, emit) => {
            const result = await backend.add(request, emit);
            process.kill(process.pid, 'SIGTERM');
            return result;
          },
        };
      };
      const { d } = deps(signalling);
      const error = await mountSource(`${image}:1`, { rw: false }, d).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InterruptedError);
      expect((error as InterruptedError).exitCode).toBe(143);
      expect((error as Error).message).toMatch(/interrupted by SIGTERM; .*nothing it made is left/);
      expectNothingLeft();
    });

    describe('content the probe does not know: --type and --options', () => {
      let typed: string;
      beforeAll(() => {
        // p1 ext4, p2 EROFS: a filesystem this kernel mounts that the probe does not recognise.
        typed = buildImage(dir, 'typed.img', 'dos', [
          { line: '2048,16384,83', ext4: { number: 1, start: 2048, sizeKiB: 8192 } },
          { line: '18432,8192,83' },
        ]);
        const fd = openSync(typed, 'r+');
        writeSync(fd, erofsImage('hello.txt', 'hello from erofs\n', 8192 * 512), 0, undefined, 18432 * 512);
        closeSync(fd);
      });

      it('is refused without --type, naming the types this kernel mounts, and nothing is left', async () => {
        const { d, out } = deps();
        expect(await mountMain([`${typed}:2`], d)).toBe(1);
        const kernelTypes = kernel.mountableFilesystems();
        expect(kernelTypes).toContain('ext4');
        expect(out.stderr).toBe(
          `kpartx-tui mount: ${typed}:2: no filesystem recognised; give one with --type (this kernel mounts: ${kernelTypes.join(', ')})\n`,
        );
        expectNothingLeft();
      });

      it.skipIf(!mountableFilesystems().includes('erofs'))(
        'mounts it with --type, read-only and nosuid,nodev,noexec, and umount takes it all back',
        async () => {
          const { d, out } = deps();
          expect(await mountMain([`${typed}:2`, '--type', 'erofs', '--json'], d)).toBe(0);
          const result = JSON.parse(out.stdout);
          expect(result).toMatchObject({ partition: 2, fstype: 'erofs', readOnly: true });
          expect(readFileSync(join(result.mountpoint, 'hello.txt'), 'utf8')).toBe('hello from erofs\n');
          const entry = kernel.mounts.list().find((m) => m.target === result.mountpoint)!;
          expect(entry.fstype).toBe('erofs');
          expect(entry.options.split(',')).toEqual(
            expect.arrayContaining(['ro', 'nosuid', 'nodev', 'noexec']),
          );
          expect(await umountMain([result.mountpoint], deps().d)).toBe(0);
          expectNothingLeft();
        },
      );

      it("a wrong --type fails with the kernel's reason and leaves nothing", async () => {
        const { d, out } = deps();
        expect(await mountMain([`${typed}:2`, '--type=ext4'], d)).toBe(1);
        expect(out.stderr).toMatch(
          new RegExp(`^kpartx-tui mount: ${typed}:2: .*cannot mount .* as ext4: .+`),
        );
        expectNothingLeft();
      });

      it('--type ext4 --options on a recognised ext4 adds the options to the safe ones', async () => {
        const { d, out } = deps();
        expect(
          await mountMain(
            [`${typed}:1`, '--type', 'ext4', '--options', 'errors=continue,nosuid', '--json'],
            d,
          ),
        ).toBe(0);
        const result = JSON.parse(out.stdout);
        expect(result).toMatchObject({ fstype: 'ext4', readOnly: true });
        const entry = kernel.mounts.list().find((m) => m.target === result.mountpoint)!;
        expect(entry.options.split(',')).toEqual(expect.arrayContaining(['ro', 'nosuid', 'nodev', 'noexec']));
        expect(readFileSync(join(result.mountpoint, 'hello.txt'), 'utf8')).toBe(helloText('typed.img', 1));
        expect(await umountMain([result.mountpoint], deps().d)).toBe(0);
        expectNothingLeft();
      });

      it.skipIf(!mountableFilesystems().includes('erofs'))(
        'mounts inside another of its mounts only on a directory there, and umount says to go nested first',
        async () => {
          const first = deps();
          expect(await mountMain([`${typed}:1`], first.d)).toBe(0);
          const root = first.out.stdout.trim();
          // Nothing is created inside the mounted root.
          const refused = deps();
          expect(await mountMain([`${typed}:2`, join(root, 'boot'), '--type', 'erofs'], refused.d)).toBe(1);
          expect(refused.out.stderr).toMatch(
            /boot does not exist in the filesystem mounted on .*nothing is created/,
          );
          expect(existsSync(join(root, 'boot'))).toBe(false);
          const nested = join(root, 'lost+found');
          const second = deps();
          expect(await mountMain([`${typed}:2`, nested, '--type', 'erofs'], second.d)).toBe(0);
          expect(readFileSync(join(nested, 'hello.txt'), 'utf8')).toBe('hello from erofs\n');
          const early = deps();
          expect(await umountMain([root], early.d)).toBe(1);
          expect(early.out.stderr).toBe(
            `kpartx-tui umount: ${nested} is mounted inside ${root}: unmount it first\n`,
          );
          expect(await umountMain([nested], deps().d)).toBe(0);
          // The root's own lost+found stays.
          expect(existsSync(nested)).toBe(true);
          expect(await umountMain([root], deps().d)).toBe(0);
          expectNothingLeft();
        },
      );

      it('refuses options that undo the safe ones and types this kernel lacks, before mapping anything', async () => {
        const cases: [string[], string][] = [
          [['--options', 'exec'], '--options: option exec: it would undo noexec'],
          [['--options', 'suid'], '--options: option suid: it would undo nosuid'],
          [['--options', 'dev,uid=0'], '--options: option dev: it would undo nodev'],
          [['--options', 'rw'], '--options: option rw: it would make a read-only mount writable'],
          [['--type', 'nosuchfs'], '--type nosuchfs: this kernel cannot mount it (this kernel mounts: '],
        ];
        for (const [extra, message] of cases) {
          const { d, out } = deps();
          expect(await mountMain([`${typed}:1`, ...extra], d)).toBe(1);
          expect(out.stderr.startsWith(`kpartx-tui mount: ${message}`), out.stderr).toBe(true);
          expectNothingLeft();
        }
        const usage = deps();
        expect(await mountMain([`${typed}:1`, '--type'], usage.d)).toBe(2);
        expect(usage.out.stderr).toMatch(/^kpartx-tui mount: --type needs a filesystem type\n/);
      });
    });

    it('umount of something it did not mount is a clear error', async () => {
      const { d, out } = deps();
      expect(await umountMain([join(dir, 'nowhere')], d)).toBe(1);
      expect(out.stderr).toBe(
        `kpartx-tui umount: ${join(dir, 'nowhere')}: not mounted by kpartx-tui mount (no record of it)\n`,
      );
    });
  },
);
