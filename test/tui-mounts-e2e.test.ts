/**
 * The real binary in tmux on a real image (loop backend): a guest's root mounted, then its /boot
 * partition inside it at a mountpoint edited before mounting, then content the probe does not know
 * (EROFS) mounted as a type picked from the kernel's list; the shell opens in the root; x takes
 * them down nested first and unmaps; nothing is left (/proc/mounts, loops, /dev/mapper links).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mountableFilesystems } from '../src/kernel/filesystems.js';
import { erofsImage } from './support/erofs.js';
import {
  appSkipReason,
  KPARTX_TUI_BIN,
  loopsOfImage as loopsOf,
  mapLinksTo,
  mountsOfLoops,
  mountsUnder,
  tmuxPane,
} from './support/tmux-app.js';

const skipReason = appSkipReason(['sgdisk', 'mkfs.ext4']);
const session = `kpartx-tui-mounts-e2e-${process.pid}`;
const { tmux, waitForScreen, key, kill } = tmuxPane(session);
const erofs = mountableFilesystems().includes('erofs');
let dir = '';
let image = '';

const loopsOfImage = (): string[] => loopsOf(image);
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** An ext4 of `sizeMiB` holding `files`, written into the image at `startSector`. */
function ext4Into(
  name: string,
  startSector: number,
  sizeMiB: number,
  files: Record<string, string>,
  dirs: string[] = [],
) {
  const content = join(dir, `${name}-content`);
  for (const d of dirs) mkdirSync(join(content, d), { recursive: true });
  mkdirSync(content, { recursive: true });
  for (const [file, text] of Object.entries(files)) writeFileSync(join(content, file), text);
  const fs = join(dir, `${name}.ext4`);
  execFileSync('mkfs.ext4', ['-q', '-F', '-L', name, '-d', content, fs, `${sizeMiB}M`], { stdio: 'ignore' });
  execFileSync('dd', [
    `if=${fs}`,
    `of=${image}`,
    'bs=512',
    `seek=${startSector}`,
    'conv=notrunc',
    'status=none',
  ]);
  rmSync(fs);
}

describe.skipIf(skipReason !== '')(
  `the app's mount session with several mounts, in tmux (${skipReason || 'root, loop, tmux'})`,
  () => {
    beforeAll(() => {
      dir = mkdtempSync('/tmp/kpt-mounts-');
      image = join(dir, 'guest.img');
      execFileSync('truncate', ['-s', '40M', image]);
      execFileSync(
        'sgdisk',
        ['-n1:2048:+16M', '-c1:root', '-n2:0:+8M', '-c2:boot', '-n3:0:+4M', '-c3:ro-image', image],
        { stdio: 'ignore' },
      );
      ext4Into('root', 2048, 16, { 'os-release': 'ID=test\n' }, ['boot']);
      ext4Into('boot', 2048 + 16 * 2048, 8, { 'vmlinuz-test': 'a kernel\n' });
      const fd = openSync(image, 'r+');
      writeSync(
        fd,
        erofsImage('hello.txt', 'hello from erofs\n', 4 << 20),
        0,
        undefined,
        (2048 + 24 * 2048) * 512,
      );
      closeSync(fd);
    });

    afterAll(() => {
      kill();
      const loops = loopsOfImage();
      for (const target of mountsOfLoops(loops).reverse()) spawnSync('umount', [target]);
      for (const link of mapLinksTo(loops)) rmSync(`/dev/mapper/${link}`, { force: true });
      for (const loop of loops.reverse()) spawnSync('losetup', ['-d', `/dev/${loop}`]);
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('mounts the root, /boot inside it and an EROFS by type, and x takes all down nested first', async () => {
      const before = sha256(image);
      tmux(
        'new-session',
        '-d',
        '-s',
        session,
        '-x',
        '100',
        '-y',
        '30',
        '-c',
        dir,
        '-e',
        'CI=false',
        '-e',
        'TERM=xterm-256color',
        '-e',
        'SHELL=/bin/sh',
        '-e',
        `KPARTX_TUI_RUN_DIR=${join(dir, 'run')}`,
        `node ${KPARTX_TUI_BIN} guest.img; echo KPARTX_TUI_EXIT=$?; sleep 120`,
      );
      await waitForScreen('gpt table', 30_000);
      await waitForScreen(/ext4 "boot"/);
      await key('a', 'Create 3 maps read-only?');
      await key('y', '3 map(s) created and confirmed');
      await key('Enter', /● 1 /);

      // The root, at the default place.
      await key('m', 'Mount read-only: yes');
      const first = await key('Enter', /Mounted \/dev\/mapper\/(loop\d+p1) \(ext4, read-only, noexec\)/);
      const p1 = /Mounted \/dev\/mapper\/(loop\d+p1)/.exec(first)![1]!;
      const root = join(dir, 'run', 'mnt', p1);
      expect(first).toContain(`on ${root}`);
      expect(readFileSync(join(root, 'os-release'), 'utf8')).toBe('ID=test\n');

      // /boot inside it: the mountpoint shown, edited, then mounted.
      await key('m', `Mounted: /dev/mapper/${p1} on ${root} (ext4, read-only)`);
      const p2 = p1.replace(/1$/, '2');
      await key('Down', new RegExp(`❯ ${p2} `));
      await key('o', `Mount on: ${join(dir, 'run', 'mnt', p2)}`);
      tmux('send-keys', '-t', session, ...Array(p2.length).fill('BSpace'));
      tmux('send-keys', '-t', session, '-l', `${p1}/boot`);
      await waitForScreen(`Mount on: ${root}/boot`);
      const both = await key('Enter', `Also mounted: /dev/mapper/${p2} on ${root}/boot (ext4, read-only)`);
      expect(both).toContain(`Mounted /dev/mapper/${p1} (ext4, read-only, noexec)`);
      expect(readFileSync(join(root, 'boot', 'vmlinuz-test'), 'utf8')).toBe('a kernel\n');
      expect(mountsUnder(dir)).toEqual([root, join(root, 'boot')]);

      // Content the probe does not know: a type from the kernel's list.
      const p3 = p1.replace(/1$/, '3');
      if (erofs) {
        // The cursor stays on the map mounted last.
        await key('m', new RegExp(`Mounted: [^]*❯ ${p2} `));
        await key('Down', new RegExp(`❯ ${p3} .*\\(unknown\\)`));
        await key('Enter', 'which filesystem? This kernel mounts:');
        await waitForScreen('❯ ext4');
        const types = mountableFilesystems();
        tmux('send-keys', '-t', session, ...Array(types.indexOf('ext4') - types.indexOf('erofs')).fill('Up'));
        await waitForScreen('❯ erofs');
        await key('Enter', 'as erofs');
        await key('Enter', `Mounted /dev/mapper/${p1} (ext4, read-only, noexec)`);
        await waitForScreen(`/dev/mapper/${p3} on ${join(dir, 'run', 'mnt', p3)} (erofs, read-only)`);
        expect(readFileSync(join(dir, 'run', 'mnt', p3, 'hello.txt'), 'utf8')).toBe('hello from erofs\n');
      }

      // The shell opens in the root.
      tmux('send-keys', '-t', session, 's');
      await new Promise((r) => setTimeout(r, 1000));
      tmux('send-keys', '-t', session, '-l', `pwd > ${dir}/shell-cwd; exit`);
      await key('Enter', 'Back from the shell');
      expect(readFileSync(join(dir, 'shell-cwd'), 'utf8').trim()).toBe(root);

      await key('x', /map\(s\) removed/);
      await key('Enter', /Clean: guest\.img has no maps left/);
      await key('q', 'KPARTX_TUI_EXIT=0');

      expect(mountsUnder(dir)).toEqual([]);
      expect(loopsOfImage()).toEqual([]);
      expect(spawnSync('losetup', ['-j', image], { encoding: 'utf8' }).stdout).toBe('');
      // Read-only mounts on read-only devices: not a byte of the image changed (the root's boot/ kept).
      expect(sha256(image)).toBe(before);
    }, 180_000);
  },
);
