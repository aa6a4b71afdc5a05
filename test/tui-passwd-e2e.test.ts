/**
 * A password reset through the real app in a real terminal: an ext4 root filesystem made by
 * mkfs.ext4 -d from a Debian 12 tree (os-release, passwd, shadow), on a real loop device. In tmux
 * the image is mapped, the root mounted (read-only, then read-write on request), root's password
 * typed twice and written after the confirmation, then unmounted and unmapped, and the app left.
 * Afterwards debugfs reads the image: shadow has the one changed line with a hash OpenSSL verifies,
 * shadow- is the old file, passwd is unchanged, e2fsck finds it clean; no loop or mount remains.
 * Ink only draws live frames when CI is not set, hence CI=false.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { opensslSha512 } from './support/independent.js';

const repo = resolve(import.meta.dirname, '..');
const bin = join(repo, 'bin', 'kpartx-tui.js');
const has = (tool: string, ...args: string[]) => spawnSync(tool, args).error === undefined;
const isRoot = process.getuid?.() === 0;
const skipReason = !isRoot
  ? 'needs root'
  : !existsSync('/dev/loop-control')
    ? 'needs /dev/loop-control'
    : !has('tmux', '-V') || !has('debugfs', '-V') || !has('sgdisk', '--version') || !has('openssl', 'version')
      ? 'needs tmux, debugfs, sgdisk and openssl'
      : !existsSync(join(repo, 'dist', 'tui', 'main.js'))
        ? 'needs `npm run build` first (dist/tui/main.js)'
        : '';

const session = `kpartx-tui-passwd-${process.pid}`;
const OFFSET = 2048 * 512;
const OLD_HASH =
  '$6$KJs3IPVNeZXpliOt$fO8iqBABhQYa93iAKcjQkEkM0x4DZnnpTRG7nPBgDweOrqCfgPzaSTIr6deZjeEsSSrKixMHeFOg73IJmQt/40';
const PASSWD = 'root:x:0:0:root:/root:/bin/bash\ndebian:x:1000:1000:Debian:/home/debian:/bin/bash\n';
const SHADOW = `root:${OLD_HASH}:19800:0:99999:7:::\ndebian:!:19800:0:99999:7:::\n`;
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

async function key(k: string, expected: string | RegExp, literal = false): Promise<string> {
  tmux('send-keys', '-t', session, ...(literal ? ['-l', k] : [k]));
  return waitForScreen(expected);
}

/** A file of the image's ext4 as debugfs reads it (no mount). */
const debugfsCat = (path: string): string =>
  execFileSync('debugfs', ['-R', `cat ${path}`, `${image}?offset=${OFFSET}`], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });

const backingFile = (name: string): string => {
  try {
    return readFileSync(`/sys/block/${name}/loop/backing_file`, 'utf8').trim();
  } catch {
    return '';
  }
};

/** The image's loop and the partition loops over it. */
function loopsOfImage(): string[] {
  const all = readdirSync('/sys/block').filter((name) => name.startsWith('loop'));
  const parents = all.filter((name) => backingFile(name) === image);
  return [...parents, ...all.filter((name) => parents.some((p) => backingFile(name) === `/dev/${p}`))];
}

const mountsUnder = (path: string): string[] =>
  readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((target) => target.startsWith(`${path}/`));

describe.skipIf(skipReason !== '')(`password reset in the app (${skipReason || 'root, loop, tmux'})`, () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kpartx-tui-passwd-'));
    runDir = join(dir, 'run');
    image = join(dir, 'vm.img');
    execFileSync('truncate', ['-s', '40M', image]);
    execFileSync('sgdisk', ['-n1:2048:+24M', '-c1:root', image], { stdio: 'ignore' });
    const tree = join(dir, 'tree');
    const files: Record<string, string> = {
      'etc/os-release':
        'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n',
      'etc/hostname': 'bookworm-vm\n',
      'etc/login.defs': 'ENCRYPT_METHOD SHA512\n',
      'etc/passwd': PASSWD,
      'etc/shadow': SHADOW,
      'bin/sh': 'stand-in\n',
    };
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(tree, path)), { recursive: true });
      writeFileSync(join(tree, path), text);
    }
    chmodSync(join(tree, 'etc/shadow'), 0o640);
    execFileSync(
      'mkfs.ext4',
      ['-q', '-F', '-L', 'root', '-d', tree, '-E', `offset=${OFFSET}`, image, '24M'],
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
    if (existsSync('/dev/mapper'))
      for (const entry of readdirSync('/dev/mapper'))
        if (
          /^loop\d+p1$/.test(entry) &&
          loops.some((l) => readlinkOrEmpty(`/dev/mapper/${entry}`).endsWith(l))
        )
          rmSync(`/dev/mapper/${entry}`, { force: true });
    for (const loop of loops.reverse()) spawnSync('losetup', ['-d', `/dev/${loop}`]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('recognises the root, resets root password after the confirmation, and leaves only that line changed', async () => {
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
      `KPARTX_TUI_RUN_DIR=${runDir}`,
      `exec node ${bin} vm.img`,
    );
    await waitForScreen('gpt table', 30_000);
    await key('a', 'Create 1 map?');
    await key('y', '1 map(s) created and confirmed');
    await key('Enter', 'gpt table');
    await key('m', 'Mount read-only: yes');
    const mounted = await key('Enter', 'System: Debian GNU/Linux 12 root · host bookworm-vm');
    expect(mounted).toMatch(/Mounted \/dev\/mapper\/loop\d+p1 \(ext4, read-only, noexec\)/);
    const mountpoint = /^ +on (\/\S+)/m.exec(mounted)?.[1] ?? '';
    expect(mountpoint.startsWith(join(runDir, 'mnt'))).toBe(true);

    const accounts = await key('a', 'Accounts of Debian GNU/Linux 12 root · mounted read-only');
    expect(accounts).toMatch(/root +0 \/bin\/bash +set \(SHA-512\)/);
    expect(accounts).toMatch(/debian +1000 \/bin\/bash +locked/);
    expect(accounts).not.toContain('$6$');
    await key('Enter', 'Mounted read-only: press w to remount it read-write first.');
    await key('w', 'is mounted read-write now');
    await key('Enter', 'New password for root');
    await key('Sup3r-Secret', '••••••••••••', true);
    await key('Enter', 'Enter check');
    await key('Sup3r-Secret', /Again: +••••••••••••/, true);
    const confirm = await key('Enter', "Reset root's password: line 1 of /etc/shadow changes");
    expect(confirm).toContain('before: root:$6$…(elided):19800:0:99999:7:::');
    expect(confirm).toMatch(/Hash: SHA-512 by /);
    expect(confirm).not.toContain('Sup3r-Secret');
    // Nothing written before y.
    expect(readFileSync(join(mountpoint, 'etc/shadow'), 'utf8')).toBe(SHADOW);
    expect(existsSync(join(mountpoint, 'etc/shadow-'))).toBe(false);
    const done = await key('y', "root's password is written");
    expect(done).toContain('Only that line of /etc/shadow changed');
    await key('Enter', 'Accounts of');
    await key('Escape', 'Top of the tree:');
    await key('x', /map\(s\) removed/);
    await key('Enter', 'Clean: vm.img has no maps left');
    tmux('send-keys', '-t', session, 'q');
    const deadline = Date.now() + 10_000;
    while (spawnSync('tmux', ['has-session', '-t', session]).status === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));

    // Nothing is left on the host.
    expect(loopsOfImage()).toEqual([]);
    expect(mountsUnder(dir)).toEqual([]);

    // The image, read without mounting it.
    const shadow = debugfsCat('/etc/shadow').split('\n');
    const [name, hash, ...rest] = shadow[0]!.split(':');
    expect(name).toBe('root');
    expect(rest.join(':')).toBe('19800:0:99999:7:::');
    expect(hash).not.toBe(OLD_HASH);
    expect(opensslSha512('Sup3r-Secret', hash!)).toBe(hash);
    expect(shadow.slice(1).join('\n')).toBe(SHADOW.split('\n').slice(1).join('\n'));
    expect(debugfsCat('/etc/shadow-')).toBe(SHADOW);
    expect(debugfsCat('/etc/passwd')).toBe(PASSWD);
    const fsck = spawnSync('e2fsck', ['-fn', `${image}?offset=${OFFSET}`], { encoding: 'utf8' });
    expect(fsck.status, fsck.stdout + fsck.stderr).toBe(0);
  }, 120_000);
});

function readlinkOrEmpty(path: string): string {
  try {
    return execFileSync('readlink', [path], { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}
