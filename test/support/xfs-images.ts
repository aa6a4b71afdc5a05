/**
 * XFS images made by the real mkfs.xfs and filled from a prototype file (`-p`: no mount, no root),
 * and `xfs_db -r` to read them back independently.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const hasXfsprogs =
  spawnSync('mkfs.xfs', ['-V']).error === undefined && spawnSync('xfs_db', ['-V']).error === undefined;

/** One file of the tree: a file from bytes, a directory, or a symlink (paths relative to the root). */
export type XfsStep =
  | { file: string; data: string | Uint8Array }
  | { dir: string }
  | { link: string; target: string };

interface Node {
  kind: 'dir' | 'file' | 'link';
  value: string;
  children: Map<string, Node>;
}

/**
 * An image at `image` of `sizeMiB`, made by `mkfs.xfs ARGS…` with `steps` as its tree (host files
 * staged in `dir`). mkfs.xfs refuses less than 300 MB outside its own test suite, whose variables
 * allow small test filesystems.
 */
export function makeXfsImage(
  dir: string,
  image: string,
  options: { sizeMiB: number; mkfsArgs?: string[]; steps: XfsStep[] },
): void {
  const root: Node = { kind: 'dir', value: '', children: new Map() };
  const at = (path: string): [Node, string] => {
    const parts = path.split('/');
    const name = parts.pop()!;
    let node = root;
    for (const part of parts) node = node.children.get(part)!;
    return [node, name];
  };
  let staged = 0;
  for (const step of options.steps) {
    if ('dir' in step) {
      const [parent, name] = at(step.dir);
      parent.children.set(name, { kind: 'dir', value: '', children: new Map() });
    } else if ('file' in step) {
      const [parent, name] = at(step.file);
      const source = join(dir, `staged-${staged++}`);
      writeFileSync(source, step.data);
      parent.children.set(name, { kind: 'file', value: source, children: new Map() });
    } else {
      const [parent, name] = at(step.link);
      parent.children.set(name, { kind: 'link', value: step.target, children: new Map() });
    }
  }
  const lines = ['bootfile', '0 0', 'd--755 0 0'];
  const emit = (node: Node): void => {
    for (const [name, child] of node.children) {
      if (child.kind === 'dir') {
        lines.push(`${name} d--755 0 0`);
        emit(child);
      } else if (child.kind === 'file') lines.push(`${name} ---644 0 0 ${child.value}`);
      else lines.push(`${name} l--777 0 0 ${child.value}`);
    }
    lines.push('$');
  };
  emit(root);
  const proto = join(dir, 'proto');
  writeFileSync(proto, `${lines.join('\n')}\n`);
  writeFileSync(image, '');
  execFileSync('truncate', ['-s', `${options.sizeMiB}M`, image]);
  execFileSync('mkfs.xfs', ['-q', '-f', ...(options.mkfsArgs ?? []), '-p', proto, image], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, TEST_DIR: dir, TEST_DEV: image, QA_CHECK_FS: '1' },
  });
}

/** What `xfs_db -r -c 'ls PATH'` lists (offset, inode, type, hash, length, name, state), without `.` and `..`. */
export function xfsDbList(image: string, path: string): string[] {
  const out = execFileSync('xfs_db', ['-r', '-c', `ls ${path}`, image], {
    encoding: 'utf8',
    maxBuffer: 16 << 20,
  });
  return out
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length >= 7)
    .map((fields) => fields.slice(5, -1).join(' '))
    .filter((name) => name !== '.' && name !== '..');
}

const ROCKY_OS_RELEASE =
  'NAME="Rocky Linux"\nVERSION="9.4 (Blue Onyx)"\nID="rocky"\nVERSION_ID="9.4"\nPRETTY_NAME="Rocky Linux 9.4 (Blue Onyx)"\n';

/** A Rocky Linux 9.4 root as RHEL-family systems lay it out, with a directory too large for one block. */
export const ROCKY_XFS_ROOT: XfsStep[] = [
  { dir: 'etc' },
  { dir: 'usr' },
  { dir: 'usr/lib' },
  { dir: 'etc/selinux' },
  { file: 'usr/lib/os-release', data: ROCKY_OS_RELEASE },
  { link: 'etc/os-release', target: '../usr/lib/os-release' },
  { file: 'etc/hostname', data: 'rocky-vm\n' },
  { file: 'etc/selinux/config', data: 'SELINUX=enforcing\nSELINUXTYPE=targeted\n' },
  { file: 'etc/shadow', data: 'root:$6$salt$hash:19700:0:99999:7:::\n' },
  { file: 'etc/passwd', data: 'root:x:0:0:root:/root:/bin/bash\n' },
  // 40 names: more than the inode holds, less than a directory block (block form).
  { dir: 'usr/lib/modules' },
  ...Array.from(
    { length: 40 },
    (_, i): XfsStep => ({ link: `usr/lib/modules/mod-${i}`, target: `../os-release` }),
  ),
  { dir: 'usr/share' },
  ...Array.from({ length: 2000 }, (_, i): XfsStep => ({ file: `usr/share/entry-${i}`, data: `file ${i}\n` })),
];

/** The data fork format xfs_db reports for the inode at `path` (local, extents, btree). */
export function xfsDbFormat(image: string, path: string): string {
  const out = execFileSync('xfs_db', ['-r', '-c', `path ${path}`, '-c', 'print core.format', image], {
    encoding: 'utf8',
  });
  return /\((\w+)\)/.exec(out)?.[1] ?? out;
}

export const canMountXfs =
  process.getuid?.() === 0 &&
  existsSync('/dev/loop-control') &&
  readFileSync('/proc/filesystems', 'utf8').includes('xfs');

/** Run `fill` on the image mounted read-write through a loop device of its own, then unmount and detach. */
export function withMountedXfs(dir: string, image: string, fill: (root: string) => void): void {
  const mountpoint = join(dir, 'mnt');
  mkdirSync(mountpoint, { recursive: true });
  const loop = execFileSync('losetup', ['--find', '--show', image], { encoding: 'utf8' }).trim();
  try {
    execFileSync('mount', ['-t', 'xfs', loop, mountpoint]);
    try {
      fill(mountpoint);
    } finally {
      execFileSync('umount', [mountpoint]);
    }
  } finally {
    execFileSync('losetup', ['-d', loop]);
  }
}

export const hasSgdisk = spawnSync('sgdisk', ['--version']).error === undefined;
/** The XFS root's first sector on the GPT disk makeXfsGptDisk makes (after a 16 MiB ESP at 2048). */
export const XFS_ROOT_START = 2048 + 32768;

/** A 48 MiB GPT disk in `dir` (sgdisk): an empty ESP and partition 2 an XFS holding `steps`. */
export function makeXfsGptDisk(dir: string, steps: XfsStep[]): string {
  const raw = join(dir, 'disk.img');
  execFileSync('truncate', ['-s', '48M', raw]);
  execFileSync('sgdisk', ['-n1:2048:+16M', '-t1:ef00', '-n2:0:+20M', '-c2:root', raw], { stdio: 'ignore' });
  const root = join(dir, 'root.fs');
  makeXfsImage(dir, root, { sizeMiB: 20, mkfsArgs: ['-L', 'rocky'], steps });
  execFileSync('dd', [
    `if=${root}`,
    `of=${raw}`,
    'bs=512',
    `seek=${XFS_ROOT_START}`,
    'conv=notrunc',
    'status=none',
  ]);
  return raw;
}

/** The Rocky root without its large directory: what the system identification reads. */
export const ROCKY_XFS_SMALL = ROCKY_XFS_ROOT.filter(
  (step) => !('file' in step) || !step.file.startsWith('usr/share/'),
);
