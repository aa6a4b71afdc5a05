/**
 * ext2/3/4 images made by the real mke2fs and filled by the real `debugfs -w` (no mount, no root):
 * the files the ext reader is checked against, and `debugfs -R` to read them back independently.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const hasE2fsprogs =
  spawnSync('mke2fs', ['-V']).error === undefined && spawnSync('debugfs', ['-V']).error === undefined;

/** One debugfs step: a file from bytes, a directory, or a symlink. */
export type ExtStep =
  | { file: string; data: string | Uint8Array }
  | { dir: string }
  | { link: string; target: string }
  /** A file written with holes: `chunks` pieces of text `gap` KiB apart, so each is an extent of its own. */
  | { sparse: string; chunks: number; gap: number };

/**
 * An image at `image` of `sizeKiB`, made by `mke2fs -t TYPE ARGS…` and filled with `steps` in one
 * debugfs run (host files are staged in `dir`).
 */
export function makeExtImage(
  dir: string,
  image: string,
  options: {
    type: 'ext2' | 'ext3' | 'ext4';
    sizeKiB: number;
    mkfsArgs?: string[];
    steps: ExtStep[];
    /** Rebuild the directories as hashed trees afterwards (`e2fsck -fD`): debugfs writes them linear. */
    indexDirectories?: boolean;
  },
): Uint8Array {
  execFileSync(
    'mke2fs',
    ['-q', '-F', '-t', options.type, ...(options.mkfsArgs ?? []), image, `${options.sizeKiB}k`],
    {
      stdio: 'ignore',
    },
  );
  fillExtImage(dir, image, options.steps);
  // e2fsck exits 1 when it changed something, as -D does.
  if (options.indexDirectories) spawnSync('e2fsck', ['-fyD', image], { stdio: 'ignore' });
  return new Uint8Array(readFileSync(image));
}

/** What debugfs itself reads at `path` (it does not follow a final symlink). */
export function debugfsCat(image: string, path: string): Buffer {
  return execFileSync('debugfs', ['-R', `cat ${path}`, image], {
    stdio: ['ignore', 'pipe', 'ignore'],
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** Names in a directory as `debugfs -R 'ls -p'` lists them, without `.` and `..`. */
export function debugfsList(image: string, path: string): string[] {
  const out = execFileSync('debugfs', ['-R', `ls -p ${path}`, image], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    maxBuffer: 64 * 1024 * 1024,
  });
  // Lines: /inode/mode/uid/gid/name/size/
  return out
    .split('\n')
    .map((line) => line.split('/'))
    .filter((f) => f.length >= 7)
    .map((f) => f[5]!)
    .filter((name) => name !== '.' && name !== '..');
}

/** The inode's extent tree depth and flags as `debugfs -R stat` reports them. */
export function debugfsStat(image: string, path: string): string {
  return execFileSync('debugfs', ['-R', `stat ${path}`, image], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
}

/** Write `steps` into the ext image at `image` in one `debugfs -w` run (host files staged in `dir`). */
export function fillExtImage(dir: string, image: string, steps: ExtStep[]): void {
  const commands: string[] = [];
  steps.forEach((step, i) => {
    if ('dir' in step) commands.push(`mkdir ${step.dir}`);
    else if ('link' in step) commands.push(`symlink ${step.link} ${step.target}`);
    else {
      const staged = join(dir, `staged-${i}`);
      if ('file' in step) writeFileSync(staged, step.data);
      else {
        // Written at offsets into an empty file, so the gaps are holes debugfs keeps as holes.
        const fd = openSync(staged, 'w');
        for (let c = 0; c < step.chunks; c++)
          writeSync(fd, Buffer.from(`chunk ${c} of ${step.sparse}\n`), 0, undefined, c * step.gap * 1024);
        closeSync(fd);
      }
      commands.push(`write ${staged} ${'file' in step ? step.file : step.sparse}`);
    }
  });
  const script = join(dir, 'debugfs-commands');
  writeFileSync(script, `${commands.join('\n')}\n`);
  execFileSync('debugfs', ['-w', '-f', script, image], { stdio: 'ignore' });
}

/** A Debian 12 root's identifying files: os-release as Debian links it, hostname, shadow. */
export const DEBIAN_ROOT: ExtStep[] = [
  { dir: 'etc' },
  { dir: 'usr' },
  { dir: 'usr/lib' },
  {
    file: 'usr/lib/os-release',
    data: 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION="12 (bookworm)"\nID=debian\n',
  },
  { link: 'etc/os-release', target: '../usr/lib/os-release' },
  { file: 'etc/hostname', data: 'bookworm-vm\n' },
  { file: 'etc/shadow', data: 'root:$6$salt$hash:19800:0:99999:7:::\n' },
];

/** A Rocky Linux 9.4 root with SELinux enforcing, as an LV holds it. */
export const ROCKY_ROOT: ExtStep[] = [
  { dir: 'etc' },
  { dir: 'etc/selinux' },
  {
    file: 'etc/os-release',
    data: 'NAME="Rocky Linux"\nVERSION="9.4 (Blue Onyx)"\nID="rocky"\nVERSION_ID="9.4"\nPRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"\n',
  },
  { file: 'etc/selinux/config', data: 'SELINUX=enforcing\nSELINUXTYPE=targeted\n' },
  { file: 'etc/hostname', data: 'rocky-vm\n' },
];
