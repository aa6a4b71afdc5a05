/**
 * The recovery flow in the app, through the real engine adapter over the fake kernel: the "mounted"
 * filesystem is a real directory holding a guest's root, laid out where the session mounts the map.
 * The system is recognised and shown, accounts are listed without a hash, the two password entries
 * must match, and a confirmed reset writes shadow (one line changed, a hash an independent
 * implementation verifies) with its shadow- backup, and nothing else.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDmBackend } from '../../src/engine/backends/dm.js';
import { createTuiEngine } from '../../src/tui/engine.js';
import { FakeMachine } from '../support/fake-machine.js';
import { opensslSha512 } from '../support/independent.js';
import type { MemoryTreeSpec } from '../support/memory-tree.js';
import { writeTree } from '../support/write-tree.js';
import { expectFits, keys, startApp } from './helpers.js';
import { sampleImage } from './images.js';

const IMAGE = '/img/disk.img';
const DAY = 20_000; // 2024-10-04
const OLD_HASH =
  '$6$KJs3IPVNeZXpliOt$fO8iqBABhQYa93iAKcjQkEkM0x4DZnnpTRG7nPBgDweOrqCfgPzaSTIr6deZjeEsSSrKixMHeFOg73IJmQt/40';
const lines = (...text: string[]) => `${text.join('\n')}\n`;

/** A Rocky 9.4 root: SELinux enforcing, login.defs asking for yescrypt, a locked and an expired account. */
const ROCKY: MemoryTreeSpec = {
  '/etc/os-release': lines(
    'NAME="Rocky Linux"',
    'VERSION_ID="9.4"',
    'ID=rocky',
    'PRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"',
  ),
  '/etc/hostname': 'rocky-vm\n',
  '/etc/selinux/config': lines('SELINUX=enforcing', 'SELINUXTYPE=targeted'),
  '/etc/login.defs': lines('ENCRYPT_METHOD YESCRYPT'),
  '/etc/passwd': lines(
    'root:x:0:0:root:/root:/bin/bash',
    'bin:x:1:1:bin:/bin:/sbin/nologin',
    'admin:x:1000:1000:Admin:/home/admin:/bin/bash',
    'old:x:1001:1001::/home/old:/bin/bash',
  ),
  '/etc/shadow': lines(
    `root:${OLD_HASH}:19800:0:99999:7:::`,
    'bin:*:19800:0:99999:7:::',
    'admin:!!:19800:0:99999:7:::',
    `old:${OLD_HASH}:19000:0:99999:7::19500:`,
  ),
  '/bin/sh': 'stand-in\n',
  '/home/admin/notes.txt': 'keep me\n',
};

let scratch: string;
let kernel: FakeMachine;
let root: string;

beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), 'kpartx-tui-accounts-'));
  kernel = new FakeMachine({ dmMajor: 250 });
  kernel.addFile(IMAGE, sampleImage());
  // Where the session mounts loop0p1: the fake kernel's mount leaves this tree as it is.
  root = join(scratch, 'mnt', 'loop0p1');
  mkdirSync(root, { recursive: true });
});
afterEach(() => rmSync(scratch, { recursive: true, force: true }));

const engine = () =>
  createTuiEngine({
    machine: kernel,
    isRoot: true,
    mountRoot: join(scratch, 'mnt'),
    cwd: scratch,
    backend: (_kind, k) => createDmBackend(k),
    // No host libcrypt: yescrypt cannot be made, SHA-512 is, and the screen must say so.
    recovery: { crypt: () => null, today: () => DAY },
  });

/** Every file under `dir` with its checksum. */
function checksums(dir: string): Map<string, string> {
  const sums = new Map<string, string>();
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else sums.set(relative(dir, path), createHash('sha256').update(readFileSync(path)).digest('hex'));
    }
  };
  walk(dir);
  return sums;
}

async function mountedApp(readOnlyMaps = false) {
  const t = startApp(engine(), [IMAGE]);
  await t.waitFor('dos table');
  if (readOnlyMaps) await t.waitFor('read-only on');
  else await t.press('r', 'read-only off');
  await t.press('a', /Create 4 maps( read-only)?\?/);
  await t.press('y', /created and confirmed/);
  await t.press(keys.enter, 'dos table');
  await t.press('m', 'Mount read-only: yes');
  await t.press(keys.enter, 'Mounted /dev/mapper/loop0p1 (ext4, read-only, noexec)');
  return t;
}

describe('the system on a mount', () => {
  it('names a Linux root with its hostname and SELinux mode', async () => {
    writeTree(root, ROCKY);
    const t = await mountedApp();
    await t.waitFor('System: Rocky Linux 9.4 root · host rocky-vm · SELinux enforcing (targeted)');
    expect(t.frame()).toContain('a accounts');
    expectFits(t.frame());
    t.app.unmount();
  });

  it('names a Windows system, says what the app cannot do and which tool can, and keeps it read-only when hibernated', async () => {
    writeTree(root, {
      '/Windows/System32/config/SAM': Buffer.from('regf'),
      '/hiberfil.sys': Buffer.from('HIBR\0\0\0\0'),
    });
    const t = await mountedApp();
    await t.waitFor('System: Windows system · hibernated: it stays read-only');
    expect(t.frame()).toContain('does not edit');
    expect(t.frame()).toContain('chntpw');
    expect(t.frame()).not.toContain('a accounts');
    await t.press('a', /Windows system: kpartx-tui does not reset Windows passwords/);
    expectFits(t.frame());
    t.app.unmount();
  });

  it('says nothing when the filesystem holds no system', async () => {
    writeTree(root, { '/data/file.txt': 'x\n' });
    const t = await mountedApp();
    await t.waitFor('Top of the tree:');
    expect(t.frame()).not.toContain('System:');
    t.app.unmount();
  });
});

describe('accounts and a password reset', () => {
  it('lists the accounts with their state and never a hash', async () => {
    writeTree(root, ROCKY);
    const t = await mountedApp();
    await t.press('a', 'Accounts of Rocky Linux 9.4 root');
    const frame = t.frame();
    expect(frame).toMatch(/root +0 \/bin\/bash +set \(SHA-512\) +2024-03-18/);
    expect(frame).toMatch(/bin +1 \/sbin\/nologin +no password login/);
    expect(frame).toMatch(/admin +1000 \/bin\/bash +locked /);
    expect(frame).toMatch(/old +1001 .*account expire/);
    // The highlighted account in full under the list.
    expect(frame).toContain('root: password set (SHA-512); last changed 2024-03-18; nothing expires');
    expect(frame).toContain('mounted read-only: w remounts read-write');
    expect(frame).not.toContain('$6$');
    expect(frame).not.toContain('KJs3');
    expectFits(frame);
    for (const _ of [1, 2, 3]) await t.press(keys.down);
    await t.waitFor('old: password set (SHA-512); last changed 2022-01-08; account expired 2023-05-23');
    t.app.unmount();
  });

  it('refuses a read-only mount, remounts read-write, refuses two different entries, then writes one line', async () => {
    writeTree(root, ROCKY);
    const before = checksums(root);
    const shadowBefore = readFileSync(join(root, 'etc/shadow'), 'utf8');
    const t = await mountedApp();
    await t.press('a', 'Accounts of');
    await t.press(keys.enter, 'Mounted read-only: press w to remount it read-write first.');
    await t.press('w', 'is mounted read-write now');
    expect(kernel.mounts.list()[0]?.options).toBe('rw,nosuid,nodev,noexec');
    expect(t.frame()).toContain('mounted read-write');
    await t.press(keys.enter, 'New password for root (set (SHA-512))');

    // Two different entries: nothing planned, nothing written, asked again.
    await t.press('first-one', '•••••••••');
    await t.press(keys.enter);
    await t.press('other', /Again: +•••••/);
    await t.press(keys.enter, 'The two entries differ: nothing was changed');
    expect(readFileSync(join(root, 'etc/shadow'), 'utf8')).toBe(shadowBefore);
    expect(t.frame()).not.toContain('first-one');

    // Typed fast: text and Enter in one chunk, twice.
    await t.press('n3w-Secret\r');
    await t.press('n3w-Secret\r', "Reset root's password: line 1 of /etc/shadow changes");
    let frame = t.frame();
    expect(frame).toContain('before: root:$6$…(elided):19800:0:99999:7:::');
    expect(frame).toContain('after:  root:$6$…(elided):19800:0:99999:7:::');
    expect(frame).toContain('Hash: SHA-512 by built-in SHA-512 crypt');
    expect(frame).toMatch(/yescrypt cannot be made: SHA-512 crypt was\s+computed by kpartx-tui itself/);
    expect(frame).toContain('u unlock: no');
    expect(frame).not.toContain('n3w-Secret');
    expectFits(frame);
    expect(readFileSync(join(root, 'etc/shadow'), 'utf8')).toBe(shadowBefore);

    await t.press('y', "root's password is written");
    frame = t.frame();
    expect(frame).toContain(`previous file kept as ${join(root, 'etc', 'shadow-')}`);
    expect(frame).toContain('Unmount and unmap as usual');
    expectFits(frame);

    // One line changed, with a hash OpenSSL verifies; shadow- is the old file; nothing else changed.
    const shadowAfter = readFileSync(join(root, 'etc/shadow'), 'utf8').split('\n');
    const old = shadowBefore.split('\n');
    expect(shadowAfter.length).toBe(old.length);
    expect(shadowAfter.slice(1)).toEqual(old.slice(1));
    const [name, hash, ...rest] = shadowAfter[0]!.split(':');
    expect(name).toBe('root');
    expect(rest.join(':')).toBe('19800:0:99999:7:::');
    expect(hash).toMatch(/^\$6\$/);
    expect(opensslSha512('n3w-Secret', hash!)).toBe(hash);
    expect(opensslSha512('first-one', hash!)).not.toBe(hash);
    expect(readFileSync(join(root, 'etc/shadow-'), 'utf8')).toBe(shadowBefore);
    const after = checksums(root);
    for (const [path, sum] of before)
      if (path !== 'etc/shadow') expect([path, after.get(path)]).toEqual([path, sum]);
    expect([...after.keys()].sort()).toEqual([...before.keys(), 'etc/shadow-'].sort());
    expect(statSync(join(root, 'etc/shadow')).mode & 0o777).toBe(
      statSync(join(root, 'etc/shadow-')).mode & 0o777,
    );

    // Back to the list: the account's new state; then the session ends as usual.
    await t.press(keys.enter, 'Accounts of');
    expect(t.frame()).toMatch(/root +0 \/bin\/bash +set \(SHA-512\) +2024-03-18/);
    await t.press(keys.escape, 'Top of the tree:');
    await t.press('x', 'map(s) removed');
    expect(kernel.mounts.list()).toEqual([]);
    t.app.unmount();
  });

  it('unlocks and clears an expiry on request, shown before anything is written', async () => {
    writeTree(root, ROCKY);
    const t = await mountedApp();
    await t.press('w', 'is mounted read-write now');
    await t.press('a', 'Accounts of');
    await t.press(keys.down);
    await t.press(keys.down);
    await t.press(keys.down, /› old /);
    await t.press(keys.enter, 'New password for old');
    await t.press('pw-old\r');
    await t.press('pw-old\r', "Reset old's password: line 4");
    expect(t.frame()).toMatch(
      /account expired on 19500 \(2023-05-23\); it cannot log in until that is\s+cleared/,
    );
    await t.press('e', 'e clear account expiry: yes');
    expect(t.frame()).toContain('after:  old:$6$…(elided):19000:0:99999:7:::');
    expect(t.frame()).not.toMatch(/account expired on/);
    await t.press('y', "old's password is written");
    const line = readFileSync(join(root, 'etc/shadow'), 'utf8').split('\n')[3]!;
    expect(line.split(':').slice(2).join(':')).toBe('19000:0:99999:7:::');
    t.app.unmount();
  });

  it('says why a read-only map cannot be written, and keeps the mount', async () => {
    writeTree(root, ROCKY);
    const t = await mountedApp(true);
    await t.press('w', /loop0p1 is a read-only map, so it cannot be written/);
    expect(kernel.mounts.list().map((m) => m.options)).toEqual(['ro,nosuid,nodev,noexec']);
    expect(t.frame()).toContain('Mounted /dev/mapper/loop0p1 (ext4, read-only');
    expect(existsSync(join(root, 'etc/shadow-'))).toBe(false);
    t.app.unmount();
  });
});
