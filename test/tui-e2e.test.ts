/**
 * The real binary in a real terminal (tmux) on a real image, loop backend: open, toggle
 * read-only, add and see the maps confirmed, mount and read, unmount and unmap, quit, and check
 * that nothing is left behind. Ink only draws live frames when CI is not set, hence CI=false.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appSkipReason,
  KPARTX_TUI_BIN,
  loopsOfImage as loopsOf,
  mapLinksTo,
  mountsOfLoops,
  tmuxPane,
} from './support/tmux-app.js';

const skipReason = appSkipReason();
const session = `kpartx-tui-e2e-${process.pid}`;
const { start, waitForScreen, key, kill } = tmuxPane(session);
let dir = '';
let image = '';

const loopsOfImage = (): string[] => loopsOf(image);
const ourMapLinks = (): string[] => mapLinksTo(loopsOfImage());

describe.skipIf(skipReason !== '')(
  `kpartx-tui end to end in tmux (${skipReason || 'root, loop, tmux'})`,
  () => {
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'kpartx-tui-e2e-'));
      image = join(dir, 'disk.img');
      // A GPT image: partition 1 holds an ext4 filesystem with a known file, partition 2 is empty.
      execFileSync('truncate', ['-s', '48M', image]);
      execFileSync('sgdisk', ['-n1:2048:+16M', '-c1:data', '-n2:0:+8M', '-c2:spare', image], {
        stdio: 'ignore',
      });
      const content = join(dir, 'content');
      mkdirSync(content);
      writeFileSync(join(content, 'hello.txt'), 'hello from partition 1\n');
      const fs = join(dir, 'p1.ext4');
      execFileSync('mkfs.ext4', ['-q', '-F', '-L', 'data', '-d', content, fs, '16M'], { stdio: 'ignore' });
      execFileSync('dd', [`if=${fs}`, `of=${image}`, 'bs=512', 'seek=2048', 'conv=notrunc', 'status=none']);
      rmSync(fs);
    });

    afterAll(() => {
      kill();
      // Whatever a failed run left: unmount, unlink, detach (partition loops before the parent).
      const loops = loopsOfImage();
      for (const target of mountsOfLoops(loops)) spawnSync('umount', [target]);
      for (const link of ourMapLinks()) rmSync(`/dev/mapper/${link}`, { force: true });
      for (const loop of loops.reverse()) spawnSync('losetup', ['-d', `/dev/${loop}`]);
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('opens, maps read-only, mounts and reads, unmounts and unmaps, quits, and leaves nothing', async () => {
      start(`node ${KPARTX_TUI_BIN} disk.img; echo KPARTX_TUI_EXIT=$?; sleep 120`, {
        cwd: dir,
        columns: 80,
        rows: 24,
        // A tmux server started elsewhere would not pass on this run's own run directory.
        env: { SHELL: '/bin/sh', KPARTX_TUI_RUN_DIR: process.env.KPARTX_TUI_RUN_DIR ?? '/run/kpartx-tui' },
      });
      await waitForScreen('gpt table', 30_000);
      await waitForScreen(/1 +2048 +34815 +32768 +16 MiB .*data .*ext4 "data"/);

      // Choose the loop backend explicitly; read-only is the default write mode.
      // b cycles auto → dm → loop.
      await key('b', 'backend dm');
      await key('b', 'backend loop');
      await waitForScreen(/loop\d+p1 +loop over \/dev\/loop\d+ offset 1048576 size 16777216 .*ro/);

      await key('a', 'Create 2 maps read-only?');
      const progress = await key('y', /created and confirmed|Failed/);
      expect(progress).toContain('2 map(s) created and confirmed against the kernel.');
      expect(progress).toMatch(/✓ loop\d+p1 +\/dev\/mapper\/loop\d+p1 7:\d+/);
      expect(progress).toMatch(/read back: offset 1048576 size 16777216 ro · node present/);
      const loops = loopsOfImage();
      expect(loops.length).toBe(3);

      await key('Enter', /● 1 /);
      await key('m', 'Mount read-only: yes');
      const mounted = await key('Enter', /Mounted \/dev\/mapper\/loop\d+p1 \(ext4, read-only, noexec\)/);
      expect(mounted).toContain('hello.txt');
      const mountpoint = /on (\/\S+)/.exec(mounted)?.[1] ?? '';
      expect(readFileSync(join(mountpoint, 'hello.txt'), 'utf8')).toBe('hello from partition 1\n');
      const options = readFileSync('/proc/self/mounts', 'utf8')
        .split('\n')
        .find((line) => line.split(' ')[1] === mountpoint)
        ?.split(' ')[3]
        ?.split(',');
      expect(options).toEqual(expect.arrayContaining(['ro', 'nosuid', 'nodev', 'noexec']));

      await key('x', /map\(s\) removed/);
      await key('Enter', /Clean: disk\.img has no maps left/);
      await key('q', 'KPARTX_TUI_EXIT=0');

      expect(loopsOfImage()).toEqual([]);
      expect(ourMapLinks()).toEqual([]);
      const mountsNow = readFileSync('/proc/self/mounts', 'utf8')
        .split('\n')
        .map((line) => line.split(' ')[1]);
      expect(mountsNow).not.toContain(mountpoint);
      expect(existsSync(mountpoint)).toBe(false);
    }, 120_000);
  },
);
