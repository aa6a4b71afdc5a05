/**
 * A password reset through the real app in a real terminal: an ext4 root filesystem made by
 * mkfs.ext4 -d from a Debian 12 tree (os-release, passwd, shadow), on a real loop device. In tmux
 * the image is mapped, the root mounted (read-only, then read-write on request), root's password
 * typed twice and written after the confirmation, then unmounted and unmapped, and the app left.
 * Afterwards debugfs reads the image: shadow has the one changed line with a hash OpenSSL verifies,
 * shadow- is the old file, passwd is unchanged, e2fsck finds it clean; no loop or mount remains.
 * Ink only draws live frames when CI is not set, hence CI=false.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEBIAN_PASSWD,
  DEBIAN_SHADOW,
  debianRootToolsMissing,
  debugfsCat as debugfsRead,
  makeDebianRootImage,
  OLD_ROOT_HASH,
  ROOT_OFFSET,
} from './support/debian-root-image.js';
import { opensslSha512 } from './support/independent.js';
import {
  appSkipReason,
  KPARTX_TUI_BIN,
  loopsOfImage,
  mapLinksTo,
  mountsUnder,
  tmuxPane,
} from './support/tmux-app.js';

const missingTools = debianRootToolsMissing();
const skipReason = appSkipReason() || (missingTools ? `needs ${missingTools}` : '');
const session = `kpartx-tui-passwd-${process.pid}`;
const { tmux, start, waitForScreen, key: keyThen, kill } = tmuxPane(session, session);
let dir = '';
let image = '';
let runDir = '';

/** A key (or, literally, a text) sent to the app, then the screen once it shows `expected`. */
async function key(k: string, expected: string | RegExp, literal = false): Promise<string> {
  if (!literal) return keyThen(k, expected);
  tmux('send-keys', '-t', session, '-l', k);
  return waitForScreen(expected);
}

const debugfsCat = (path: string): string => debugfsRead(image, path);

describe.skipIf(skipReason !== '')(`password reset in the app (${skipReason || 'root, loop, tmux'})`, () => {
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kpartx-tui-passwd-'));
    runDir = join(dir, 'run');
    image = makeDebianRootImage(dir);
  });

  afterAll(() => {
    kill();
    // Whatever a failed run left: unmount, unlink, detach (partition loops before the image's).
    for (const target of mountsUnder(dir).reverse()) spawnSync('umount', [target]);
    const loops = loopsOfImage(image);
    for (const link of mapLinksTo(loops)) rmSync(`/dev/mapper/${link}`, { force: true });
    for (const loop of loops.reverse()) spawnSync('losetup', ['-d', `/dev/${loop}`]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('recognises the root, resets root password after the confirmation, and leaves only that line changed', async () => {
    start(`exec node ${KPARTX_TUI_BIN} vm.img`, { cwd: dir, env: { KPARTX_TUI_RUN_DIR: runDir } });
    await waitForScreen('gpt table', 30_000);
    // Direct mode: the password is written to the image.
    await key('r', 'read-only off');
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
    expect(readFileSync(join(mountpoint, 'etc/shadow'), 'utf8')).toBe(DEBIAN_SHADOW);
    expect(existsSync(join(mountpoint, 'etc/shadow-'))).toBe(false);
    const done = await key('y', "root's password is written");
    expect(done).toContain('Only that line of /etc/shadow changed');
    await key('Enter', 'Accounts of');
    await key('Escape', 'Top of the tree:');
    await key('x', /map\(s\) removed/);
    await key('Enter', 'Clean: vm.img has no maps left');
    tmux('send-keys', '-t', session, 'q');
    const deadline = Date.now() + 10_000;
    while (
      spawnSync('tmux', ['-L', session, 'has-session', '-t', session]).status === 0 &&
      Date.now() < deadline
    )
      await new Promise((r) => setTimeout(r, 50));

    // Nothing is left on the host.
    expect(loopsOfImage(image)).toEqual([]);
    expect(mountsUnder(dir)).toEqual([]);

    // The image, read without mounting it.
    const shadow = debugfsCat('/etc/shadow').split('\n');
    const [name, hash, ...rest] = shadow[0]!.split(':');
    expect(name).toBe('root');
    expect(rest.join(':')).toBe('19800:0:99999:7:::');
    expect(hash).not.toBe(OLD_ROOT_HASH);
    expect(opensslSha512('Sup3r-Secret', hash!)).toBe(hash);
    expect(shadow.slice(1).join('\n')).toBe(DEBIAN_SHADOW.split('\n').slice(1).join('\n'));
    expect(debugfsCat('/etc/shadow-')).toBe(DEBIAN_SHADOW);
    expect(debugfsCat('/etc/passwd')).toBe(DEBIAN_PASSWD);
    const fsck = spawnSync('e2fsck', ['-fn', `${image}?offset=${ROOT_OFFSET}`], { encoding: 'utf8' });
    expect(fsck.status, fsck.stdout + fsck.stderr).toBe(0);
  }, 120_000);
});
