/**
 * The real binary in a real terminal (tmux) on a real image, loop backend: open, toggle
 * read-only, add and see the maps confirmed, mount and read, unmount and unmap, quit, and check
 * that nothing is left behind. Ink only draws live frames when CI is not set, hence CI=false.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '..');
const bin = join(repo, 'bin', 'kpartx-tui.js');
const hasTmux = spawnSync('tmux', ['-V']).status === 0;
const isRoot = process.getuid?.() === 0;
const hasLoop = existsSync('/dev/loop-control');
const built = existsSync(join(repo, 'dist', 'tui', 'main.js'));
const skipReason = !isRoot
  ? 'needs root'
  : !hasLoop
    ? 'needs /dev/loop-control'
    : !hasTmux
      ? 'needs tmux'
      : !built
        ? 'needs `npm run build` first (dist/tui/main.js)'
        : '';

const session = `kpartx-tui-e2e-${process.pid}`;
let dir = '';
let image = '';

const tmux = (...args: string[]) => execFileSync('tmux', args, { encoding: 'utf8' });
const screen = () => tmux('capture-pane', '-t', session, '-p');

async function waitForScreen(text: string | RegExp, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    last = screen();
    if (typeof text === 'string' ? last.includes(text) : text.test(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${text}; screen was:\n${last}`);
}

async function key(k: string, expected: string | RegExp): Promise<string> {
  tmux('send-keys', '-t', session, k);
  return waitForScreen(expected);
}

/** Loop devices whose backing file is the image, or a loop over one of them. */
function loopsOfImage(): string[] {
  const found: string[] = [];
  const bound = readdirSync('/sys/block').filter((name) => name.startsWith('loop'));
  const backing = (name: string) => {
    try {
      return readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8').trim();
    } catch {
      return '';
    }
  };
  const parents = bound.filter((name) => backing(name) === image);
  found.push(...parents);
  for (const name of bound) if (parents.some((p) => backing(name) === `/dev/${p}`)) found.push(name);
  return found;
}

/** /dev/mapper links to a loop stacked on the image's loop (other runs may reuse the loop names). */
function ourMapLinks(): string[] {
  if (!existsSync('/dev/mapper')) return [];
  const chain = new Set(loopsOfImage());
  return readdirSync('/dev/mapper').filter((entry) => {
    try {
      return chain.has(readlinkSync(`/dev/mapper/${entry}`).replace(/^.*\//, ''));
    } catch {
      return false;
    }
  });
}

function mountsOfLoops(loops: string[]): string[] {
  const mounts = readFileSync('/proc/self/mounts', 'utf8').split('\n');
  return mounts.filter((line) => loops.some((l) => line.startsWith(`/dev/${l} `) || line.includes(`/${l} `)));
}

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
      spawnSync('tmux', ['kill-session', '-t', session]);
      // Whatever a failed run left: unmount, unlink, detach (partition loops before the parent).
      const loops = loopsOfImage();
      for (const line of mountsOfLoops(loops)) spawnSync('umount', [line.split(' ')[1] ?? '']);
      for (const link of ourMapLinks()) rmSync(`/dev/mapper/${link}`, { force: true });
      for (const loop of loops.reverse()) spawnSync('losetup', ['-d', `/dev/${loop}`]);
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('opens, maps read-only, mounts and reads, unmounts and unmaps, quits, and leaves nothing', async () => {
      tmux(
        'new-session',
        '-d',
        '-s',
        session,
        '-x',
        '80',
        '-y',
        '24',
        '-c',
        dir,
        '-e',
        'CI=false',
        '-e',
        'TERM=xterm-256color',
        '-e',
        'SHELL=/bin/sh',
        // A tmux server started elsewhere would not pass on this run's own run directory.
        '-e',
        `KPARTX_TUI_RUN_DIR=${process.env.KPARTX_TUI_RUN_DIR ?? '/run/kpartx-tui'}`,
        `node ${bin} disk.img; echo KPARTX_TUI_EXIT=$?; sleep 120`,
      );
      await waitForScreen('gpt table', 30_000);
      await waitForScreen(/1 +2048 +34815 +32768 +16 MiB .*data .*ext4 "data"/);

      // Choose the loop backend explicitly, then read-only.
      // b cycles auto → dm → loop.
      await key('b', 'backend dm');
      await key('b', 'backend loop');
      await key('r', /loop\d+p1 +loop over \/dev\/loop\d+ offset 1048576 size 16777216 .*ro/);

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
