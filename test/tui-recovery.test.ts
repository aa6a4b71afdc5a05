/**
 * Crash recovery with the real binary, real loop devices and a real mount: the app is killed with
 * SIGKILL while a partition is mounted, which leaves the mount, the partition maps and the image's
 * loop behind. A new app opened in the same directory finds them when the image is opened, shows
 * them on the layout and in the source list, and takes everything down after one confirmation.
 * Nothing is left afterwards. Ink only draws live frames when CI is not set, hence CI=false; the
 * run directory (locks, mountpoints) is the test's own.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appSkipReason,
  KPARTX_TUI_BIN,
  loopsOfImage as loopsOf,
  mapLinksTo,
  mountsUnder,
  tmuxPane,
} from './support/tmux-app.js';

const skipReason = appSkipReason();

const session = `kpartx-tui-recovery-${process.pid}`;
let dir = '';
let image = '';
let runDir = '';

const { tmux, start, waitForScreen, key, kill } = tmuxPane(session);

/** The app in a fresh 160x30 tmux session, as the session's own process (so its pid is the pane's). */
function startApp(args: string): void {
  start(`exec node ${KPARTX_TUI_BIN} ${args}`, {
    cwd: dir,
    columns: 160,
    env: { KPARTX_TUI_RUN_DIR: runDir },
  });
}

const loopsOfImage = (): string[] => loopsOf(image);

describe.skipIf(skipReason !== '')(`crash recovery in the app (${skipReason || 'root, loop, tmux'})`, () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kpartx-tui-recovery-'));
    runDir = join(dir, 'run');
    image = join(dir, 'disk.img');
    execFileSync('truncate', ['-s', '48M', image]);
    execFileSync('sgdisk', ['-n1:2048:+16M', '-c1:data', '-n2:0:+8M', '-c2:spare', image], {
      stdio: 'ignore',
    });
    const content = join(dir, 'content');
    mkdirSync(content);
    writeFileSync(join(content, 'hello.txt'), 'hello\n');
    execFileSync(
      'mkfs.ext4',
      ['-q', '-F', '-L', 'data', '-d', content, '-E', `offset=${2048 * 512}`, image, '16M'],
      {
        stdio: 'ignore',
      },
    );
  });

  afterAll(() => {
    kill();
    // Whatever a failed run left: unmount, unlink, detach (partition loops before the image's).
    for (const target of mountsUnder(dir).reverse()) spawnSync('umount', [target]);
    const loops = loopsOfImage();
    for (const link of mapLinksTo(loops)) rmSync(`/dev/mapper/${link}`, { force: true });
    for (const loop of loops.reverse()) spawnSync('losetup', ['-d', `/dev/${loop}`]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('after a SIGKILL while mounted, the next app shows what was left and takes it all down', async () => {
    // The run that gets killed: loop backend, both partitions mapped, p1 mounted.
    startApp('disk.img');
    await waitForScreen('gpt table', 30_000);
    await key('b', 'backend dm');
    await key('b', 'backend loop');
    await key('r', 'read-only off');
    await key('a', 'Create 2 maps?');
    await key('y', '2 map(s) created and confirmed against the kernel.');
    await key('Enter', /● 1 /);
    await key('m', 'Mount read-only: yes');
    const mounted = await key('Enter', /Mounted \/dev\/mapper\/loop\d+p1 \(ext4, read-only, noexec\)/);
    const mountpoint = /on (\/\S+)/.exec(mounted)?.[1] ?? '';
    expect(mountpoint).toBe(`${runDir}/mnt/${/Mounted \/dev\/mapper\/(loop\d+p1)/.exec(mounted)?.[1]}`);
    const pid = Number(tmux('display-message', '-p', '-t', session, '#{pane_pid}').trim());
    process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    kill();

    // What the killed run left.
    const loops = loopsOfImage();
    expect(loops).toHaveLength(3);
    // Other runs on this machine may reuse the names once ours are gone: a link is ours by inode.
    const links = mapLinksTo(loops).map((name) => ({ name, ino: lstatSync(`/dev/mapper/${name}`).ino }));
    expect(links).toHaveLength(2);
    expect(mountsUnder(runDir)).toEqual([mountpoint]);
    const imageLoop = `/dev/${loops[0]}`;

    // A new app: the list, then the image, which shows what was left.
    startApp('');
    await waitForScreen('disk.img');
    const layout = await key('Enter', 'gpt table');
    const left = await waitForScreen('Left from an earlier run (x cleans up): 2 maps, 1 mounted on');
    expect(left).toContain(`2 maps, 1 mounted on ${mountpoint}`);
    expect(layout).toContain('x clean');
    const list = await key('Escape', /disk\.img .*earlier run left: 2 maps, 1 mounted/);
    expect(list).toMatch(/disk\.img +image/);

    await key('Enter', 'Left from an earlier run');
    const confirm = await key('x', `Unmount 1, remove 2 maps, release ${imageLoop}?`);
    expect(confirm).toContain(`unmount ${mountpoint}`);
    expect(confirm).toContain(`release ${imageLoop} (attached by kpartx-tui)`);
    const done = await key('y', /1 unmounted, 2 maps removed, loop released\.|kept:/);
    expect(done).toContain('1 unmounted, 2 maps removed, loop released.');
    expect(done).toContain(`${mountpoint} unmounted`);
    expect(done).toContain(`${imageLoop} released`);

    // Nothing is left: no mount, no map link, no loop, no mountpoint.
    expect(mountsUnder(dir)).toEqual([]);
    const ours = ({ name, ino }: { name: string; ino: number }) =>
      lstatSync(`/dev/mapper/${name}`, { throwIfNoEntry: false })?.ino === ino;
    expect(links.filter(ours)).toEqual([]);
    expect(loopsOfImage()).toEqual([]);
    expect(existsSync(mountpoint)).toBe(false);
    const back = await key('Enter', 'gpt table');
    expect(back).not.toContain('earlier run');
  }, 120_000);
});
