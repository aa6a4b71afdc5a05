/**
 * The real binary in tmux on this host (loop backend: no device-mapper here) on a data disk that
 * lvm2 `pvcreate`d whole (no partition table): the mount session offers its LVs, the picked one is
 * mounted over a loop with offset and size on the image's loop (attached for it), a file is read
 * back, and leaving takes the LV loop, then the image loop down: nothing is left (losetup -a,
 * /dev/mapper, /proc/mounts).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canUseLvm2, type Lvm2Sandbox, lvm2Sandbox } from './lvm2-helpers.js';
import {
  appSkipReason,
  KPARTX_TUI_BIN,
  loopsOfImage,
  mapLinksTo,
  mountsOfLoops,
  mountsUnder,
  tmuxPane,
} from './support/tmux-app.js';

const skipReason = appSkipReason(['mkfs.ext4']) || (canUseLvm2 ? '' : 'needs lvm2');
const session = `kpartx-tui-lv-whole-e2e-${process.pid}`;
const { start, waitForScreen, key, kill } = tmuxPane(session);

describe.skipIf(skipReason !== '')(
  `a whole-disk PV's LV mounted from the app, in tmux (${skipReason || 'root, loop, tmux, lvm2'})`,
  () => {
    let lvm: Lvm2Sandbox;
    let image = '';

    beforeAll(() => {
      lvm = lvm2Sandbox();
      image = join(lvm.dir, 'data.img');
      execFileSync('truncate', ['-s', '32M', image]);
      // lvm2 writes the metadata through a loop of its own, detached before the app starts.
      const loop = execFileSync('losetup', ['-f', '--show', image], { encoding: 'utf8' }).trim();
      try {
        const run = (command: string, ...args: string[]) => lvm.run(command, args, [loop]);
        run('pvcreate', '-q', loop);
        run('vgcreate', '-q', 'data', loop);
        run('lvcreate', '-q', '-an', '-Zn', '-L', '4m', '-n', 'spare', 'data');
        run('lvcreate', '-q', '-an', '-Zn', '-L', '12m', '-n', 'files', 'data');
        // The ext4 goes where lvm2's own report puts the LV.
        const [seg] = lvm.report('lvs', 'seg_pe_ranges', ['--segments', 'data/files'], [loop]);
        const first = Number(/:(\d+)-\d+$/.exec(seg!.seg_pe_ranges!)![1]);
        const [pv] = lvm.report('pvs', 'pe_start', [loop], [loop]);
        const [vg] = lvm.report('vgs', 'vg_extent_size', ['data'], [loop]);
        const at = (Number(pv!.pe_start) + first * Number(vg!.vg_extent_size)) * 512;
        const content = join(lvm.dir, 'files-content');
        mkdirSync(content);
        writeFileSync(join(content, 'hello.txt'), 'files LV of a whole-disk PV, from the app\n');
        execFileSync('mkfs.ext4', ['-q', '-F', '-d', content, '-E', `offset=${at}`, image, '12M']);
      } finally {
        execFileSync('losetup', ['-d', loop]);
      }
    }, 120_000);

    afterAll(() => {
      kill();
      if (!lvm) return;
      const loops = loopsOfImage(image);
      for (const target of mountsOfLoops(loops).reverse()) spawnSync('umount', [target]);
      for (const link of mapLinksTo(loops)) rmSync(`/dev/mapper/${link}`, { force: true });
      for (const loop of loops.reverse()) spawnSync('losetup', ['-d', `/dev/${loop}`]);
      lvm.cleanup();
    });

    it('m offers the LVs; the one picked is mounted, read back, and leaving takes it all down', async () => {
      start(`node ${KPARTX_TUI_BIN} data.img; echo KPARTX_TUI_EXIT=$?; sleep 120`, {
        cwd: lvm.dir,
        columns: 120,
        env: { KPARTX_TUI_RUN_DIR: join(lvm.dir, 'run') },
      });
      await waitForScreen('VG data', 30_000);
      await waitForScreen('mount session (m)');
      await key('m', 'Mount read-only: yes');
      const offered = await waitForScreen(/loop\d+-data-files/);
      const name = /(loop\d+-data-files)/.exec(offered)![1]!;
      expect(offered).toMatch(/loop\d+-data-spare/);
      await key('Down', new RegExp(`❯ ${name} `));
      await key('Enter', `Mounted /dev/mapper/${name} (ext4, read-only, noexec)`);
      const mountpoint = join(lvm.dir, 'run', 'mnt', name);
      expect(readFileSync(join(mountpoint, 'hello.txt'), 'utf8')).toBe(
        'files LV of a whole-disk PV, from the app\n',
      );
      // The image's loop (attached for it, read-only) and the LV's loop over it at an offset.
      const loops = loopsOfImage(image);
      expect(loops).toHaveLength(2);
      expect(readFileSync(`/sys/block/${loops[0]}/ro`, 'utf8').trim()).toBe('1');
      expect(Number(readFileSync(`/sys/block/${loops[1]}/loop/offset`, 'utf8'))).toBeGreaterThan(0);

      const left = await key('q', 'KPARTX_TUI_EXIT=0');
      expect(left).toContain(`unmounted /dev/mapper/${name}`);
      expect(left).not.toContain('still present');
      expect(mountsUnder(lvm.dir)).toEqual([]);
      expect(loopsOfImage(image)).toEqual([]);
      expect(execFileSync('losetup', ['-a'], { encoding: 'utf8' })).not.toContain(lvm.dir);
      expect(mapLinksTo(loops)).toEqual([]);
      expect(existsSync(`/dev/mapper/${name}`)).toBe(false);
      expect(
        existsSync(join(lvm.dir, 'run', 'mounts')) ? readdirSync(join(lvm.dir, 'run', 'mounts')) : [],
      ).toEqual([]);
    }, 180_000);
  },
);
