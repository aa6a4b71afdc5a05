/**
 * The real binary in tmux on this host (loop backend: no device-mapper here), started with two
 * images lvm2 `pvcreate`d whole into one VG, the LV on b.img: a.img's mount session offers it,
 * picking it attaches both images' loops (as `kpartx-tui mount a.img:VG/LV --with b.img` does) and
 * the LV's offset loop over b.img's, a file is read back, and leaving takes the LV loop, then both
 * image loops down: nothing is left (losetup -a, /dev/mapper, /proc/mounts).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
const session = `kpartx-tui-lv-across-e2e-${process.pid}`;
const { start, waitForScreen, key, kill } = tmuxPane(session);

describe.skipIf(skipReason !== '')(
  `an LV on another of the app's sources mounted from it, in tmux (${skipReason || 'root, loop, tmux, lvm2'})`,
  () => {
    let lvm: Lvm2Sandbox;
    let a = '';
    let b = '';

    beforeAll(() => {
      lvm = lvm2Sandbox();
      a = join(lvm.dir, 'a.img');
      b = join(lvm.dir, 'b.img');
      for (const image of [a, b]) execFileSync('truncate', ['-s', '16M', image]);
      // lvm2 writes the metadata through loops of its own, detached before the app starts.
      const loops = [a, b].map((image) =>
        execFileSync('losetup', ['-f', '--show', image], { encoding: 'utf8' }).trim(),
      );
      try {
        const run = (command: string, ...args: string[]) => lvm.run(command, args, loops);
        run('pvcreate', '-q', ...loops);
        run('vgcreate', '-q', 'span', ...loops);
        run('lvcreate', '-q', '-an', '-Zn', '-L', '8m', '-n', 'files', 'span', loops[1]!);
        const [seg] = lvm.report('lvs', 'seg_pe_ranges', ['--segments', 'span/files'], loops);
        const first = Number(/:(\d+)-\d+$/.exec(seg!.seg_pe_ranges!)![1]);
        const [pv] = lvm.report('pvs', 'pe_start', [loops[1]!], loops);
        const [vg] = lvm.report('vgs', 'vg_extent_size', ['span'], loops);
        const at = (Number(pv!.pe_start) + first * Number(vg!.vg_extent_size)) * 512;
        const content = join(lvm.dir, 'files-content');
        mkdirSync(content);
        writeFileSync(join(content, 'hello.txt'), 'files LV on b.img, from a.img\n');
        execFileSync('mkfs.ext4', ['-q', '-F', '-d', content, '-E', `offset=${at}`, b, '8M']);
      } finally {
        for (const loop of loops) execFileSync('losetup', ['-d', loop]);
      }
    }, 120_000);

    afterAll(() => {
      kill();
      if (!lvm) return;
      const loops = [...loopsOfImage(a), ...loopsOfImage(b)];
      for (const target of mountsOfLoops(loops).reverse()) spawnSync('umount', [target]);
      for (const link of mapLinksTo(loops)) rmSync(`/dev/mapper/${link}`, { force: true });
      for (const loop of loops.reverse()) spawnSync('losetup', ['-d', `/dev/${loop}`]);
      lvm.cleanup();
    });

    it("a.img's session mounts the LV over b.img's loop, and leaving takes all of it down", async () => {
      start(`node ${KPARTX_TUI_BIN} a.img b.img; echo KPARTX_TUI_EXIT=$?; sleep 120`, {
        cwd: lvm.dir,
        columns: 160,
        env: { KPARTX_TUI_RUN_DIR: join(lvm.dir, 'run') },
      });
      await waitForScreen('b.img', 30_000);
      await key('Enter', 'VG span');
      await waitForScreen('mount session (m)');
      await key('m', 'LV map made on mount, with the PV on b.img');
      const offered = await key(
        'Enter',
        /Mounted \/dev\/mapper\/(loop\d+-span-files) \(ext4, read-only, noexec\)/,
      );
      const name = /Mounted \/dev\/mapper\/(loop\d+-span-files)/.exec(offered)![1]!;
      const mountpoint = join(lvm.dir, 'run', 'mnt', name);
      expect(readFileSync(join(mountpoint, 'hello.txt'), 'utf8')).toBe('files LV on b.img, from a.img\n');
      // Both images got their loop, read-only; the LV's loop sits on b.img's at an offset.
      const [aLoop] = loopsOfImage(a);
      const bLoops = loopsOfImage(b);
      expect(aLoop).toBeDefined();
      expect(bLoops).toHaveLength(2);
      for (const loop of [aLoop!, bLoops[0]!])
        expect(readFileSync(`/sys/block/${loop}/ro`, 'utf8').trim()).toBe('1');
      expect(name.startsWith(`${bLoops[0]}-`)).toBe(true);

      const left = await key('q', 'KPARTX_TUI_EXIT=0');
      expect(left).toContain(`unmounted /dev/mapper/${name}`);
      expect(left).not.toContain('still present');
      expect(mountsUnder(lvm.dir)).toEqual([]);
      expect([...loopsOfImage(a), ...loopsOfImage(b)]).toEqual([]);
      expect(execFileSync('losetup', ['-a'], { encoding: 'utf8' })).not.toContain(lvm.dir);
      expect(mapLinksTo([aLoop!, ...bLoops])).toEqual([]);
      expect(existsSync(`/dev/mapper/${name}`)).toBe(false);
    }, 180_000);
  },
);
