/**
 * Crash recovery with the real binary, real loop devices and a real mount: the app is killed with
 * SIGKILL while a partition is mounted, which leaves the mount, the partition maps and the image's
 * loop behind. A new app opened in the same directory finds them when the image is opened, shows
 * them on the layout and in the source list, and takes everything down after one confirmation.
 * Nothing is left afterwards. Ink only draws live frames when CI is not set, hence CI=false; the
 * run directory (locks, mountpoints) is the test's own.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
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

const session = `kpartx-tui-recovery-${process.pid}`;
let dir = '';
let image = '';
let runDir = '';

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

/** The app in a fresh 160x30 tmux session, as the session's own process (so its pid is the pane's). */
function startApp(args: string): void {
  tmux(
    'new-session',
    '-d',
    '-s',
    session,
    '-x',
    '160',
    '-y',
    '30',
    '-c',
    dir,
    '-e',
    'CI=false',
    '-e',
    'TERM=xterm-256color',
    '-e',
    `KPARTX_TUI_RUN_DIR=${runDir}`,
    `exec node ${bin} ${args}`,
  );
}

const backingFile = (name: string): string => {
  try {
    return readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8').trim();
  } catch {
    return '';
  }
};

/** The image's loop and the partition loops over it. */
function loopsOfImage(): string[] {
  const bound = readdirSync('/sys/block').filter((name) => name.startsWith('loop'));
  const parents = bound.filter((name) => backingFile(name) === image);
  return [...parents, ...bound.filter((name) => parents.some((p) => backingFile(name) === `/dev/${p}`))];
}

function mapLinksTo(loops: string[]): string[] {
  if (!existsSync('/dev/mapper')) return [];
  return readdirSync('/dev/mapper').filter((entry) => {
    try {
      return loops.includes(readlinkSync(`/dev/mapper/${entry}`).replace(/^.*\//, ''));
    } catch {
      return false;
    }
  });
}

const mountsUnder = (path: string): string[] =>
  readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((target) => target.startsWith(`${path}/`));

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
    spawnSync('tmux', ['kill-session', '-t', session]);
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
    spawnSync('tmux', ['kill-session', '-t', session]);

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
