/**
 * Whether this kernel can mount a filesystem type: built in or loaded (/proc/filesystems), or a
 * module it can load (/lib/modules/<release>/kernel/fs/…/<type>.ko*, or a `fs-<type>` alias in
 * modules.alias, which is what the kernel asks modprobe for). Asked before a mount is tried, so
 * the app can say so rather than fail after trying; mountableFilesystems lists the types a user
 * may name for content the probe does not recognise.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { lazyBuiltin } from '../io/builtin.js';

// Asked only when a filesystem's module is looked for, which `kpartx -l` never does.
const os = lazyBuiltin<typeof import('node:os')>('node:os');

/** Lines of /proc/filesystems: `nodev\tproc`, `\text4`. */
function procFilesystems(): { type: string; nodev: boolean }[] | undefined {
  try {
    return readFileSync('/proc/filesystems', 'utf8')
      .split('\n')
      .map((line) => ({ type: line.trim().split(/\s+/).pop() ?? '', nodev: line.startsWith('nodev') }))
      .filter((entry) => entry.type !== '');
  } catch {
    return undefined;
  }
}

/** Types in /proc/filesystems (`nodev` ones included: they are never asked for). */
function registered(): Set<string> | undefined {
  const lines = procFilesystems();
  return lines ? new Set(lines.map((entry) => entry.type)) : undefined;
}

const modulesDir = () => `/lib/modules/${os().release()}`;

/** Module names (without .ko, .ko.xz, .ko.zst…) under the running kernel's fs/ directory. */
function loadable(root = `${modulesDir()}/kernel/fs`): Set<string> | undefined {
  const names = new Set<string>();
  try {
    for (const entry of readdirSync(root, { recursive: true, encoding: 'utf8' })) {
      const name = entry.split('/').pop() ?? '';
      const match = /^(.+?)\.ko(?:\.\w+)?$/.exec(name);
      if (match?.[1]) names.add(match[1].replaceAll('-', '_'));
    }
  } catch {
    return undefined;
  }
  return names;
}

/** `alias fs-iso9660 isofs`: types a module provides under another name. */
function aliased(file = `${modulesDir()}/modules.alias`): Set<string> | undefined {
  try {
    const types = new Set<string>();
    for (const match of readFileSync(file, 'utf8').matchAll(/^alias fs-(\S+) \S+$/gm)) types.add(match[1]!);
    return types;
  } catch {
    return undefined;
  }
}

/** true: it can be mounted here; false: neither registered nor loadable; undefined: cannot tell. */
export function filesystemSupported(fstype: string): boolean | undefined {
  const known = registered();
  if (known?.has(fstype)) return true;
  const modules = loadable();
  if (modules?.has(fstype.replaceAll('-', '_'))) return true;
  const aliases = aliased();
  if (aliases?.has(fstype)) return true;
  return known === undefined && modules === undefined && aliases === undefined ? undefined : false;
}

/**
 * Filesystems Linux mounts from a block device. A loadable module counts only when it is one of
 * these: fs/ also holds helpers (jbd2, mbcache, nls_*) and network or virtual filesystems.
 */
const BLOCK_FILESYSTEMS = new Set([
  'adfs',
  'affs',
  'befs',
  'bfs',
  'btrfs',
  'cramfs',
  'efs',
  'erofs',
  'exfat',
  'ext2',
  'ext3',
  'ext4',
  'f2fs',
  'gfs2',
  'hfs',
  'hfsplus',
  'hpfs',
  'iso9660',
  'jfs',
  'minix',
  'msdos',
  'nilfs2',
  'ntfs',
  'ntfs3',
  'ocfs2',
  'omfs',
  'qnx4',
  'qnx6',
  'reiserfs',
  'romfs',
  'squashfs',
  'sysv',
  'udf',
  'ufs',
  'vfat',
  'xfs',
  'zonefs',
]);

/**
 * Types this kernel can mount from a block device, sorted: the ones /proc/filesystems lists
 * without `nodev` (fuseblk excepted: it needs a FUSE daemon), and the block filesystems it can
 * load as modules.
 */
export function mountableFilesystems(): string[] {
  const types = new Set<string>();
  for (const entry of procFilesystems() ?? []) {
    if (!entry.nodev && entry.type !== 'fuseblk') types.add(entry.type);
  }
  for (const name of [...(loadable() ?? []), ...(aliased() ?? [])]) {
    if (BLOCK_FILESYSTEMS.has(name)) types.add(name);
  }
  return [...types].sort();
}
