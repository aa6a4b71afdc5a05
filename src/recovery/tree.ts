/**
 * A read-only view of a guest's root filesystem. Implementations answer only about exact, already
 * resolved paths and never follow a symlink themselves; resolution happens here, once, with the
 * guest's root as `/`: `..` stops at the root and an absolute link target starts again from the
 * root (as if chrooted), so no path can lead out of the guest, whatever its links say.
 */

export type EntryKind = 'file' | 'directory' | 'symlink' | 'other';

export interface TreeEntry {
  kind: EntryKind;
  size: number;
}

/** Primitives over canonical paths: absolute, `/`-separated, no `.`/`..`, no symlink before the last component. */
export interface TreeReader {
  /** What the tree is, for messages (a mountpoint, an image name). */
  readonly description: string;
  /** The entry itself (a symlink is reported as a symlink), or null when there is none. */
  lstat(path: string): TreeEntry | null;
  readlink(path: string): string;
  /** Contents of the regular file at `path`; throws TreeError when it holds more than `maxBytes`. */
  readFile(path: string, maxBytes: number): Buffer;
  /** Names in the directory at `path`. */
  list(path: string): string[];
}

export class TreeError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
    this.name = 'TreeError';
  }
}

/** Linux gives up after 40 links in one lookup (ELOOP); so do we. */
export const MAX_SYMLINKS = 40;
/** The longest link target read (PATH_MAX). */
const MAX_LINK_LENGTH = 4096;
/** Configuration files are small; a larger one is refused rather than read whole. */
export const MAX_CONFIG_BYTES = 1 << 20;
/** passwd and shadow of a large site can reach a few MB. */
export const MAX_ACCOUNT_FILE_BYTES = 32 << 20;

const components = (path: string): string[] => path.split('/').filter((c) => c !== '' && c !== '.');

/** `/a/b` for ['a','b']. */
export const joinTreePath = (parts: readonly string[]): string => `/${parts.join('/')}`;

/**
 * The canonical path `path` leads to inside the tree (every symlink followed, inside the tree), or
 * null when some component does not exist or is not a directory where one is needed.
 */
export function resolveTreePath(tree: TreeReader, path: string): string | null {
  const queue = components(path);
  const resolved: string[] = [];
  let links = 0;
  while (queue.length > 0) {
    const name = queue.shift()!;
    if (name === '..') {
      resolved.pop();
      continue;
    }
    const candidate = joinTreePath([...resolved, name]);
    const entry = tree.lstat(candidate);
    if (!entry) return null;
    if (entry.kind === 'symlink') {
      links += 1;
      if (links > MAX_SYMLINKS) throw new TreeError(path, `${path}: too many levels of symbolic links`);
      const target = tree.readlink(candidate);
      if (target.length === 0 || target.length > MAX_LINK_LENGTH) return null;
      if (target.startsWith('/')) resolved.length = 0;
      queue.unshift(...components(target));
      continue;
    }
    if (queue.length > 0 && entry.kind !== 'directory') return null;
    resolved.push(name);
  }
  return joinTreePath(resolved);
}

/** The entry `path` leads to after following links, with its canonical path. */
export function statTreePath(tree: TreeReader, path: string): (TreeEntry & { path: string }) | null {
  const resolved = resolveTreePath(tree, path);
  if (resolved === null) return null;
  const entry = tree.lstat(resolved);
  return entry ? { ...entry, path: resolved } : null;
}

/** The regular file `path` leads to, or null when there is none; TreeError when it is too large. */
export function readTreeFile(tree: TreeReader, path: string, maxBytes = MAX_CONFIG_BYTES): Buffer | null {
  const entry = statTreePath(tree, path);
  if (entry?.kind !== 'file') return null;
  if (entry.size > maxBytes) {
    throw new TreeError(path, `${path}: ${entry.size} bytes, more than the ${maxBytes} this reads`);
  }
  return tree.readFile(entry.path, maxBytes);
}

/** Names in the directory `path` leads to; empty when it is not one. */
export function listTreeDir(tree: TreeReader, path: string): string[] {
  const entry = statTreePath(tree, path);
  return entry?.kind === 'directory' ? tree.list(entry.path) : [];
}

/**
 * The canonical path matching `path` with each component compared without case (NTFS names are
 * case-insensitive to Windows but a Linux mount may keep them case-sensitive), or null.
 */
export function findTreePathIgnoringCase(tree: TreeReader, path: string): string | null {
  let current = '/';
  for (const name of components(path)) {
    const dir = statTreePath(tree, current);
    if (dir?.kind !== 'directory') return null;
    const wanted = name.toLowerCase();
    const names = tree.list(dir.path);
    const match = names.find((n) => n === name) ?? names.find((n) => n.toLowerCase() === wanted);
    if (match === undefined) return null;
    current = dir.path === '/' ? `/${match}` : `${dir.path}/${match}`;
  }
  return resolveTreePath(tree, current);
}
