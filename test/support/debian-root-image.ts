/**
 * A small Debian 12-like VM disk for the password-reset tests: a GPT image whose partition 1 is an
 * ext4 root made by `mkfs.ext4 -d` from a tree with os-release, hostname, login.defs (SHA-512),
 * passwd and shadow (root with a known SHA-512 hash, a locked user). Read back without mounting
 * through debugfs.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Partition 1 starts at sector 2048. */
export const ROOT_OFFSET = 2048 * 512;
export const OLD_ROOT_HASH =
  '$6$KJs3IPVNeZXpliOt$fO8iqBABhQYa93iAKcjQkEkM0x4DZnnpTRG7nPBgDweOrqCfgPzaSTIr6deZjeEsSSrKixMHeFOg73IJmQt/40';
export const DEBIAN_PASSWD =
  'root:x:0:0:root:/root:/bin/bash\ndebian:x:1000:1000:Debian:/home/debian:/bin/bash\n';
export const DEBIAN_SHADOW = `root:${OLD_ROOT_HASH}:19800:0:99999:7:::\ndebian:!:19800:0:99999:7:::\n`;

const has = (tool: string, ...args: string[]) => spawnSync(tool, args).error === undefined;

/** The tools making and reading the image need, missing ones named ('' when all are there). */
export function debianRootToolsMissing(): string {
  const missing = [
    ['debugfs', '-V'],
    ['sgdisk', '--version'],
    ['openssl', 'version'],
    ['mkfs.ext4', '-V'],
  ].filter(([tool, ...args]) => !has(tool!, ...args));
  return missing.map(([tool]) => tool).join(', ');
}

/** Make `<dir>/vm.img` (40 MiB, GPT, partition 1 = 24 MiB ext4 labelled root); returns its path. */
export function makeDebianRootImage(dir: string): string {
  const image = join(dir, 'vm.img');
  execFileSync('truncate', ['-s', '40M', image]);
  execFileSync('sgdisk', ['-n1:2048:+24M', '-c1:root', image], { stdio: 'ignore' });
  const tree = join(dir, 'tree');
  const files: Record<string, string> = {
    'etc/os-release':
      'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n',
    'etc/hostname': 'bookworm-vm\n',
    'etc/login.defs': 'ENCRYPT_METHOD SHA512\n',
    'etc/passwd': DEBIAN_PASSWD,
    'etc/shadow': DEBIAN_SHADOW,
    'bin/sh': 'stand-in\n',
  };
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(tree, path)), { recursive: true });
    writeFileSync(join(tree, path), text);
  }
  chmodSync(join(tree, 'etc/shadow'), 0o640);
  execFileSync(
    'mkfs.ext4',
    ['-q', '-F', '-L', 'root', '-d', tree, '-E', `offset=${ROOT_OFFSET}`, image, '24M'],
    {
      stdio: 'ignore',
    },
  );
  rmSync(tree, { recursive: true });
  return image;
}

/** A file of the root filesystem as debugfs reads it (no mount). */
export const debugfsCat = (image: string, path: string): string =>
  execFileSync('debugfs', ['-R', `cat ${path}`, `${image}?offset=${ROOT_OFFSET}`], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
