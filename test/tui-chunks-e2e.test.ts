/**
 * Keys that reach the real binary together, as a fast typist's or a paste's do: tmux writes each
 * `send-keys` in one go, so `bbrrrr`, `ay` and Down Down arrive as one chunk each. Every key must
 * count. Loop backend, real image, nothing left behind. CI=false for Ink's live frames.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
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

const skipReason = appSkipReason(['sgdisk', 'mkfs.ext4']);
const session = `kpartx-tui-chunks-${process.pid}`;
const { tmux, start, screen, waitForScreen, key, kill } = tmuxPane(session, session);
let dir = '';
let image = '';

describe.skipIf(skipReason !== '')(
  `keys in one chunk, real binary in tmux (${skipReason || 'root, loop, tmux'})`,
  () => {
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'kpartx-tui-chunks-'));
      image = join(dir, 'three.img');
      execFileSync('truncate', ['-s', '16M', image]);
      execFileSync('sgdisk', ['-n1:2048:+2M', '-n2:0:+2M', '-n3:0:+2M', image], { stdio: 'ignore' });
      // Partition 1 holds ext4, for the shell round trip.
      const fs = join(dir, 'p1.ext4');
      execFileSync('mkfs.ext4', ['-q', '-F', fs, '2M'], { stdio: 'ignore' });
      execFileSync('dd', [`if=${fs}`, `of=${image}`, 'bs=512', 'seek=2048', 'conv=notrunc', 'status=none']);
      rmSync(fs);
    });

    afterAll(() => {
      kill();
      const loops = loopsOf(image);
      for (const target of mountsOfLoops(loops)) spawnSync('umount', [target]);
      for (const link of mapLinksTo(loops)) rmSync(`/dev/mapper/${link}`, { force: true });
      for (const loop of loops.reverse()) spawnSync('losetup', ['-d', `/dev/${loop}`]);
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('bbrrrr sets the loop backend read-only, ay adds, Down Down moves two rows', async () => {
      start(`node ${KPARTX_TUI_BIN} three.img; echo KPARTX_TUI_EXIT=$?; sleep 120`, {
        cwd: dir,
        env: { KPARTX_TUI_RUN_DIR: process.env.KPARTX_TUI_RUN_DIR ?? '/run/kpartx-tui' },
      });
      await waitForScreen('3 partitions', 30_000);
      // Literal keys, one write: b b (auto → dm → loop), r r r r (on → off → on → off → on).
      tmux('send-keys', '-t', session, '-l', 'bbrrrr');
      await waitForScreen(/read-only on .*backend loop/);
      tmux('send-keys', '-t', session, '-l', 'ay');
      const progress = await waitForScreen(/created and confirmed|Failed/);
      expect(progress).toContain('3 map(s) created and confirmed against the kernel.');
      await key('Enter', /● 1 /);
      await key('m', 'Mount read-only: yes');
      await waitForScreen(/❯ loop\d+p1/);
      tmux('send-keys', '-t', session, 'Down', 'Down');
      const moved = await waitForScreen(/❯ loop\d+p3/);
      expect(moved).not.toMatch(/❯ loop\d+p2/);
      // The shell round trip with a resize while the shell has the terminal: the app comes back at
      // the new size (its help line on the new last row but one), and the shell's note goes with
      // the next step.
      await key('k', /❯ loop\d+p2/);
      await key('k', /❯ loop\d+p1/);
      await key('Enter', /Mounted \/dev\/mapper\/loop\d+p1/);
      await key('s', 'Type exit to return');
      tmux('resize-window', '-t', session, '-x', '90', '-y', '40');
      tmux('send-keys', '-t', session, 'exit', 'Enter');
      await waitForScreen('Back from the shell.');
      // The help line on row 39 of 40 (the frame leaves one row spare): drawn at the new size.
      await waitForScreen(/^(?:.*\n){38}.*u unmount/);
      await key('u', 'unmounted');
      expect(screen()).not.toContain('Back from the shell');
      await key('x', /map\(s\) removed/);
      await key('Enter', /Clean: three\.img has no maps left/);
      await key('q', 'KPARTX_TUI_EXIT=0');
      expect(loopsOf(image)).toEqual([]);
    }, 120_000);
  },
);
