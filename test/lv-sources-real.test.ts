/**
 * `kpartx-tui mount IMAGE:VG/LV` for real with loop devices on this host (the loop backend: no
 * device-mapper here), where the PVs are not partitions of one image: a data disk `pvcreate`d
 * whole (the LV becomes a loop over the image's own loop, at lvm2's offset), and a VG `pool` with
 * one PV on partition 1 of `a.img` and one on the whole of `b.img`, mounted with `--with`. The VGs
 * are made by lvm2 itself (metadata only, `--driverloaded n`), each ext4 written into its LV's
 * extents where lvm2's report puts them; every mount is read back, and umount leaves no loop,
 * link, mount or record.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadBackend } from '../src/engine/backends/select.js';
import type { Machine } from '../src/engine/machine.js';
import { LV_LOOP_MARKER } from '../src/engine/stack/lv-map.js';
import { runMaps } from '../src/engine/workflow/map-run.js';
import { createMachine } from '../src/kernel/machine.js';
import { type MountFaceDeps, mountMain, mountSource, umountMain } from '../src/mount/main.js';
import { passwdMain } from '../src/mount/passwd.js';
import { cleanupLoops, losetupLines } from './loop-helpers.js';
import { canUseLvm2, type Lvm2Sandbox, lvm2Sandbox, lvm2SkipReason } from './lvm2-helpers.js';

const P1_START = 2048;

describe.skipIf(!canUseLvm2)(
  `kpartx-tui mount: whole-disk PVs and --with (${canUseLvm2 ? 'real' : lvm2SkipReason})`,
  () => {
    let lvm: Lvm2Sandbox;
    let kernel: Machine;
    let savedRunDir: string | undefined;
    let data: string;
    let a: string;
    let b: string;

    const deps = () => {
      const out = { stdout: '', stderr: '' };
      const d: MountFaceDeps = {
        machine: kernel,
        makeBackend: loadBackend,
        stdout: (text) => {
          out.stdout += text;
        },
        stderr: (text) => {
          out.stderr += text;
        },
      };
      return { d, out };
    };

    /** Attach `image` (from `offset` bytes) to a loop lvm2 may write, run `body`, detach. */
    function withLoopsAt<T>(images: [string, number][], body: (loops: string[]) => T): T {
      const loops: string[] = [];
      try {
        for (const [image, offset] of images) {
          const loop = execFileSync('losetup', ['-f', '--show', '-o', String(offset), image], {
            encoding: 'utf8',
          }).trim();
          loops.push(loop);
          execFileSync('blockdev', ['--setrw', loop]);
        }
        return body(loops);
      } finally {
        for (const loop of loops) execFileSync('losetup', ['-d', loop]);
      }
    }

    /** An ext4 holding `files` (path → text), written into LV `vg/lv`'s single run on its image. */
    function ext4IntoLv(
      loops: string[],
      images: [string, number][],
      vgLv: string,
      sizeMiB: number,
      files: Record<string, string>,
    ): void {
      const [seg] = lvm.report('lvs', 'seg_pe_ranges', ['--segments', vgLv], loops);
      const [, device, first] = /^(.*):(\d+)-\d+$/.exec(seg!.seg_pe_ranges!)!;
      const index = loops.indexOf(device!);
      const [pv] = lvm.report('pvs', 'pe_start', [device!], loops);
      const [vg] = lvm.report('vgs', 'vg_extent_size', [vgLv.split('/')[0]!], loops);
      const [image, offset] = images[index]!;
      const at = offset + (Number(pv!.pe_start) + Number(first) * Number(vg!.vg_extent_size)) * 512;
      const content = join(lvm.dir, `${vgLv.replace('/', '-')}-content`);
      for (const [path, text] of Object.entries(files)) {
        mkdirSync(join(content, path, '..'), { recursive: true });
        writeFileSync(join(content, path), text);
      }
      execFileSync('mkfs.ext4', ['-q', '-F', '-d', content, '-E', `offset=${at}`, image, `${sizeMiB}M`]);
    }

    /** The backing file a loop finally reads (through loops over loops). */
    function fileUnder(loop: string): string | undefined {
      const all = kernel.loop.list();
      let at = all.find((l) => l.path === loop);
      for (let depth = 0; at && depth < 4; depth++) {
        const next = all.find((l) => l.path === at!.backingFile);
        if (!next) return at.backingFile;
        at = next;
      }
      return undefined;
    }

    /** LV loops over our images (whatever they sit on) first, then what cleanupLoops knows. */
    function cleanup(): void {
      for (const loop of kernel.loop.list().filter((l) => l.name?.startsWith(LV_LOOP_MARKER))) {
        if (!fileUnder(loop.path)?.startsWith(`${lvm.dir}/`)) continue;
        for (const m of kernel.mounts.list().reverse())
          if (m.devno.major === loop.devno.major && m.devno.minor === loop.devno.minor)
            kernel.mounts.unmount(m.target);
        execFileSync('losetup', ['-d', loop.path]);
      }
      for (const name of existsSync('/dev/mapper') ? readdirSync('/dev/mapper') : []) {
        if (
          /-(data-files|pool-(first|second))$/.test(name) &&
          lstatSync(`/dev/mapper/${name}`).isSymbolicLink()
        )
          rmSync(`/dev/mapper/${name}`);
      }
      cleanupLoops(kernel, lvm.dir);
    }

    function expectNothingLeft(): void {
      expect(losetupLines(lvm.dir)).toEqual([]);
      expect(kernel.loop.list().filter((l) => l.name?.startsWith(LV_LOOP_MARKER))).toEqual([]);
      expect(kernel.mounts.list().filter((m) => m.target.startsWith(lvm.dir))).toEqual([]);
      const records = join(lvm.dir, 'run', 'mounts');
      expect(existsSync(records) ? readdirSync(records) : []).toEqual([]);
    }

    beforeAll(() => {
      lvm = lvm2Sandbox();
      savedRunDir = process.env.KPARTX_TUI_RUN_DIR;
      process.env.KPARTX_TUI_RUN_DIR = join(lvm.dir, 'run');
      kernel = createMachine();
      // A data disk: the PV is the whole image, no partition table.
      data = join(lvm.dir, 'data.img');
      execFileSync('truncate', ['-s', '32M', data]);
      withLoopsAt([[data, 0]], (loops) => {
        const run = (command: string, ...args: string[]) => lvm.run(command, args, loops);
        run('pvcreate', '-q', loops[0]!);
        run('vgcreate', '-q', 'data', loops[0]!);
        run('lvcreate', '-q', '-an', '-Zn', '-L', '4m', '-n', 'spare', 'data');
        run('lvcreate', '-q', '-an', '-Zn', '-L', '12m', '-n', 'files', 'data');
        ext4IntoLv(loops, [[data, 0]], 'data/files', 12, {
          'hello.txt': 'files LV of a whole-disk PV\n',
          'etc/os-release': 'NAME="Rocky Linux"\nVERSION_ID="9.3"\nID=rocky\nPRETTY_NAME="Rocky Linux 9.3"\n',
          'etc/passwd': 'root:x:0:0:root:/root:/bin/bash\n',
          'etc/shadow': 'root:!!:19000:0:99999:7:::\n',
        });
      });
      // A VG over two images: partition 1 of a.img, and the whole of b.img.
      a = join(lvm.dir, 'a.img');
      b = join(lvm.dir, 'b.img');
      execFileSync('truncate', ['-s', '24M', a]);
      execFileSync('truncate', ['-s', '24M', b]);
      execFileSync('sfdisk', ['-q', a], { input: `label: dos\n${P1_START},,8e\n` });
      const images: [string, number][] = [
        [a, P1_START * 512],
        [b, 0],
      ];
      withLoopsAt(images, (loops) => {
        const run = (command: string, ...args: string[]) => lvm.run(command, args, loops);
        run('pvcreate', '-q', ...loops);
        run('vgcreate', '-q', 'pool', ...loops);
        run('lvcreate', '-q', '-an', '-Zn', '-L', '8m', '-n', 'first', 'pool', loops[0]!);
        run('lvcreate', '-q', '-an', '-Zn', '-L', '8m', '-n', 'second', 'pool', loops[1]!);
        ext4IntoLv(loops, images, 'pool/first', 8, { 'hello.txt': 'first, on a.img partition 1\n' });
        ext4IntoLv(loops, images, 'pool/second', 8, { 'hello.txt': 'second, on the whole of b.img\n' });
      });
    }, 120_000);

    afterEach(() => cleanup());

    afterAll(() => {
      cleanup();
      if (savedRunDir === undefined) delete process.env.KPARTX_TUI_RUN_DIR;
      else process.env.KPARTX_TUI_RUN_DIR = savedRunDir;
      lvm?.cleanup();
    });

    it('mounts an LV of a whole-disk PV through a loop over the image`s loop, and umount takes it back', async () => {
      const { d, out } = deps();
      expect(await mountMain([`${data}:data/files`, '--json'], d)).toBe(0);
      const said = JSON.parse(out.stdout);
      expect(said).toMatchObject({
        fstype: 'ext4',
        readOnly: true,
        backend: 'loop',
        partition: null,
        maps: [],
      });
      // Named after the image's loop, never the bare `data-files` the host's lvm2 would use.
      expect(said.device).toMatch(/^\/dev\/mapper\/loop\d+-data-files$/);
      expect(readFileSync(join(said.mountpoint, 'hello.txt'), 'utf8')).toBe('files LV of a whole-disk PV\n');
      const lvLoop = kernel.loop.list().find((l) => l.name?.startsWith(LV_LOOP_MARKER))!;
      expect(lvLoop.backingFile).toBe(said.loop);
      expect(lvLoop.sizeLimit).toBe(12 * 1024 * 1024);
      expect(lvLoop.offset).toBeGreaterThan(4 * 1024 * 1024); // past pe_start and `spare`
      expect(await umountMain([data], deps().d)).toBe(0);
      expect(existsSync(said.device)).toBe(false);
      expectNothingLeft();
    });

    it('kpartx-tui passwd IMAGE:VG/LV --list reads the system in a whole-disk PV`s LV', async () => {
      const { d, out } = deps();
      expect(
        await passwdMain([`${data}:data/files`, '--list', '--json'], { ...d, readPassword: async () => '' }),
      ).toBe(0);
      expect(JSON.parse(out.stdout).system.label).toContain('Rocky Linux 9.3');
      expectNothingLeft();
    });

    it('kpartx -d on the image removes the LV loop sitting on its own loop, then releases that loop', async () => {
      const record = await mountSource(`${data}:data/files`, { rw: false }, deps().d);
      kernel.mounts.unmount(record.mountpoint);
      rmSync(record.mountpoint, { recursive: true, force: true });
      const removed: string[] = [];
      const outcome = await runMaps(
        { operand: data, action: 'delete', readOnly: false, sync: true, backend: 'loop' },
        { machine: kernel, makeBackend: loadBackend },
        (event) => {
          if (event.type === 'removed') removed.push(event.name);
        },
      );
      expect(outcome.failures).toBe(0);
      expect(removed).toEqual([expect.stringMatching(/^loop\d+-data-files$/)]);
      rmSync(join(lvm.dir, 'run', 'mounts'), { recursive: true, force: true });
      expectNothingLeft();
    });

    it('--with: an LV on the whole-disk PV of the second image, and one on a partition of the first', async () => {
      const one = deps();
      expect(await mountMain([`${a}:pool/second`, '--with', b, '--json'], one.d)).toBe(0);
      const second = JSON.parse(one.out.stdout);
      expect(readFileSync(join(second.mountpoint, 'hello.txt'), 'utf8')).toBe(
        'second, on the whole of b.img\n',
      );
      expect(second.with).toEqual([{ source: b, maps: [], loop: expect.stringMatching(/^\/dev\/loop\d+$/) }]);
      expect(second.device).toBe(`/dev/mapper/${second.with[0].loop.slice(5)}-pool-second`);
      // umount by the --with image takes back both images' loops.
      expect(await umountMain([b], deps().d)).toBe(0);
      expectNothingLeft();

      const two = deps();
      expect(await mountMain([`${b}:pool/first`, '--with', a, '--json'], two.d)).toBe(0);
      const first = JSON.parse(two.out.stdout);
      expect(readFileSync(join(first.mountpoint, 'hello.txt'), 'utf8')).toBe('first, on a.img partition 1\n');
      expect(first.with).toEqual([
        { source: a, maps: [expect.stringMatching(/^loop\d+p1$/)], loop: expect.any(String) },
      ]);
      expect(first.device).toBe(`/dev/mapper/${first.with[0].maps[0]}-pool-first`);
      expect(await umountMain([first.mountpoint], deps().d)).toBe(0);
      expectNothingLeft();
    });

    it('without --with, the PV on the other image is named with the --with to add', async () => {
      const { d, out } = deps();
      expect(await mountMain([`${a}:pool/second`], d)).toBe(1);
      expect(out.stderr).toMatch(
        /needs PV pv1 \(UUID [\w-]+, last seen on \/dev\/loop\d+\), which is not on /,
      );
      expect(out.stderr).toContain('give the image that holds it with --with IMAGE');
      expectNothingLeft();
    });
  },
);
